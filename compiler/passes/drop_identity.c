/* Dropout and identity do nothing at inference: their readers read the input instead. */
#include <stdlib.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

snt_status snt_pass_drop_identity(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  for (int i = 0; i < g->n_nodes; i++) {
    snt_node *n = &g->nodes[i];
    bool drop = n->op == &snt_op_dropout, id = n->op == &snt_op_identity;
    int first;
    /* A dropout whose mask is read stays (its mask is all ones, written by its code). */
    if (!(drop || id) || (n->n_out > 1 && (snt_readers(g, n->out[1], &first) || snt_ir_is_output(g, n->out[1]))))
      continue;
    snt_replace_uses(g, n->out[0], n->in[0]);
    dead[i] = true;
    (*changed)++;
  }
  snt_status st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
