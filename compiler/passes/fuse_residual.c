/* add(a, conv2d(...)) becomes the convolution's fused residual: the conv kernel adds a
 * before its activation, so the sum never takes its own pass over memory. Nodes run in their
 * order, so a must be made before the conv: add(main, shortcut) with the shortcut's conv first
 * (a pre-activation ResNet's projection, as Keras writes it) fuses into the main branch's conv. */
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

snt_status snt_pass_fuse_residual(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int a = 0; a < g->n_nodes && !st; a++) {
    snt_node *add = &g->nodes[a];
    if (add->op != &snt_op_add || add->n_in != 2) continue;
    for (int side = 1; side >= 0; side--) {
      int y = add->in[side], other = add->in[1 - side], first, c = g->tensors[y].producer;
      if (c < 0 || dead[c] || y == other || snt_readers(g, y, &first) != 1 || snt_ir_is_output(g, y)) continue;
      if (g->tensors[other].producer > c) continue; /* made after the conv runs */
      snt_node *conv = &g->nodes[c];
      if (conv->op != &snt_op_conv2d || snt_node_int(conv, "residual", 0) ||
          strcmp(snt_node_string(conv, "activation", "none"), "none") != 0 ||
          !snt_same_dims(&g->tensors[y], &g->tensors[other]) || g->tensors[other].dtype != SNT_F32)
        continue;
      /* The residual rides as input 3 (after the kernel and an optional bias). */
      if (conv->n_in < 3) {
        if ((st = snt_ir_node_add_input(g, c, -1))) break;
        conv = &g->nodes[c];
      }
      if ((st = snt_ir_node_add_input(g, c, other)) || (st = snt_node_set_int(&g->nodes[c], "residual", 1))) break;
      conv = &g->nodes[c];
      int out = g->nodes[a].out[0];
      g->tensors[conv->out[0]].producer = -1;
      conv->out[0] = out;
      g->tensors[out].producer = c;
      dead[a] = true;
      (*changed)++;
      break;
    }
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
