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

snt_status snt_passes_inference(snt_graph *g, snt_diag *d) {
  /* Constants fold first, so shape arithmetic is gone before the others count readers.
   * Folding BN needs the conv's activation still free; the residual goes in before the
   * activation is fused after it. */
  snt_status (*const passes[])(snt_graph *, snt_diag *, int *) = {
      snt_pass_fold_constants, snt_pass_drop_identity, snt_pass_fold_batchnorm, snt_pass_fold_rescale,
      snt_pass_fold_pad, snt_pass_fuse_residual, snt_pass_fuse_activation, snt_pass_fuse_bn_relu, snt_pass_dead_nodes};
  for (int round = 0; round < 8; round++) {
    int changed = 0;
    for (size_t p = 0; p < sizeof passes / sizeof passes[0]; p++) {
      snt_status st = passes[p](g, d, &changed);
      if (st) return st;
    }
    if (!changed) break;
  }
  int changed = 0;
  snt_status st = snt_pass_fuse_bn_tap(g, d, &changed);
  return st ? st : snt_pass_dead_nodes(g, d, &changed);
}
