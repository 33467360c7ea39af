/* A zero pad of the spatial dims right before a conv2d (Keras's ZeroPadding2D + 'valid'
 * convolution, as in ResNet50V2) becomes the convolution's own padding: no copy. A pad of
 * nothing on every axis (PyTorch exports one before each AveragePool) is dropped. */
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

/* Whether pad node n adds nothing: its output is its input, whatever the mode and value. */
static bool pads_nothing(const snt_node *n) {
  int cnt = 0;
  const int64_t *p = snt_node_ints(n, "pads_nd", &cnt);
  if (n->op != &snt_op_pad || !p || cnt == 0) return false;
  for (int i = 0; i < cnt; i++)
    if (p[i] != 0) return false;
  return true;
}

snt_status snt_pass_fold_pad(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!pads_nothing(&g->nodes[i])) continue;
    snt_replace_uses(g, g->nodes[i].out[0], g->nodes[i].in[0]);
    dead[i] = true;
    (*changed)++;
  }
  for (int c = 0; c < g->n_nodes && !st; c++) {
    snt_node *conv = &g->nodes[c];
    if (conv->op != &snt_op_conv2d) continue;
    int x = conv->in[0], first, p = g->tensors[x].producer;
    if (p < 0 || dead[p] || snt_readers(g, x, &first) != 1 || snt_ir_is_output(g, x)) continue;
    const snt_node *pad = &g->nodes[p];
    if (pad->op != &snt_op_pad || strcmp(snt_node_string(pad, "mode", "constant"), "constant") != 0 ||
        snt_node_float(pad, "value", 0) != 0 || (pad->n_in > 2 && pad->in[2] >= 0))
      continue;
    int r = g->tensors[x].rank, cp = 0, cr = 0;
    const int64_t *pp = snt_node_ints(pad, "pads_nd", &cp), *cv = snt_node_ints(conv, "resolved_pads", &cr);
    int sp = r - 2;
    if (!pp || !cv || cp != 2 * r || cr != 2 * sp || pp[0] || pp[1] || pp[r] || pp[r + 1]) continue;
    int64_t pads[2 * SNT_MAX_RANK];
    for (int i = 0; i < sp; i++) pads[i] = cv[i] + pp[2 + i], pads[sp + i] = cv[sp + i] + pp[r + 2 + i];
    if ((st = snt_node_set_string(conv, "padding", "explicit")) || (st = snt_node_set_ints(conv, "pads", 2 * sp, pads)) ||
        (st = snt_node_set_ints(conv, "resolved_pads", 2 * sp, pads)))
      break;
    conv->in[0] = pad->in[0];
    dead[p] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
