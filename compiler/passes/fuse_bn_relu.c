/* batchnorm then relu (the pre-activation of ResNet v2 blocks): one pass over memory. */
#include <stdlib.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

snt_status snt_pass_fuse_bn_relu(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int r = 0; r < g->n_nodes && !st; r++) {
    if (g->nodes[r].op != &snt_op_relu) continue;
    int x = g->nodes[r].in[0], first, b = g->tensors[x].producer;
    if (b < 0 || dead[b] || g->nodes[b].op != &snt_op_batchnorm || snt_node_int(&g->nodes[b], "relu", 0) ||
        snt_readers(g, x, &first) != 1 || snt_ir_is_output(g, x))
      continue;
    if ((st = snt_node_set_int(&g->nodes[b], "relu", 1))) break;
    int y = g->nodes[r].out[0];
    g->tensors[g->nodes[b].out[0]].producer = -1;
    g->nodes[b].out[0] = y;
    g->tensors[y].producer = b;
    dead[r] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
