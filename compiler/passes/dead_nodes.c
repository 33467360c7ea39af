/* Removes nodes whose outputs nobody reads; the rest of the pipeline then never sees them. */
#include <stdlib.h>

#include "compiler/passes/passes.h"

snt_status snt_pass_dead_nodes(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    bool used = false;
    for (int o = 0; o < g->nodes[i].n_out && !used; o++) {
      int t = g->nodes[i].out[o];
      used = snt_ir_is_output(g, t);
      for (int r = i + 1; r < g->n_nodes && !used; r++)
        for (int k = 0; k < g->nodes[r].n_in && !used; k++) used = !dead[r] && g->nodes[r].in[k] == t;
    }
    if (!used) dead[i] = true, (*changed)++;
  }
  snt_status st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
