/* relu, sigmoid or tanh right after a conv2d or dense becomes its fused activation. */
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

snt_status snt_pass_fuse_activation(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int a = 0; a < g->n_nodes && !st; a++) {
    const char *act = g->nodes[a].op->name;
    if (strcmp(act, "relu") && strcmp(act, "sigmoid") && strcmp(act, "tanh")) continue;
    int x = g->nodes[a].in[0], first, l = g->tensors[x].producer;
    if (l < 0 || dead[l] || snt_readers(g, x, &first) != 1 || snt_ir_is_output(g, x)) continue;
    snt_node *ln = &g->nodes[l];
    if ((strcmp(ln->op->name, "conv2d") && strcmp(ln->op->name, "dense")) ||
        strcmp(snt_node_string(ln, "activation", "none"), "none") != 0)
      continue;
    if ((st = snt_node_set_string(ln, "activation", act))) break;
    int y = g->nodes[a].out[0];
    g->tensors[ln->out[0]].producer = -1;
    ln->out[0] = y;
    g->tensors[y].producer = l;
    dead[a] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
