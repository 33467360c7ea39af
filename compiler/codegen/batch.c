/* Issue 10: run-time batch analysis. A tensor is "rows" when its dim 0 is the batch and row i
 * depends on row i of the batched inputs only; then the code computing it may stop after the
 * first n rows. One node that cannot promise it makes the model run its whole batch. */
#include "compiler/codegen/batch.h"

#include <stdlib.h>

#include "compiler/op.h"
#include "support/util.h"

/* The generic part: every batched input is rows, every output has the batch as dim 0. */
static bool node_keeps_rows(const snt_graph *g, const snt_node *n, const bool *dep, const bool *rows) {
  if (!n->op->batch_rows) return false;
  for (int k = 0; k < n->n_in; k++)
    if (n->in[k] >= 0 && dep[n->in[k]] && !rows[n->in[k]]) return false;
  for (int k = 0; k < n->n_out; k++) {
    const snt_tensor *y = &g->tensors[n->out[k]];
    if (y->rank < 1 || y->dims[0] != g->batch) return false;
  }
  return n->op->batch_rows(g, n, rows);
}

snt_status snt_batch_scan_run(const snt_graph *g, const snt_plan *p, snt_batch_scan *s) {
  *s = (snt_batch_scan){.blocker = -1};
  size_t nt = g->n_tensors > 0 ? (size_t)g->n_tensors : 1;
  s->rows = calloc(nt, sizeof(bool));
  bool *dep = calloc(nt, sizeof(bool)); /* depends on a batched input at all */
  if (!s->rows || !dep) {
    free(dep);
    snt_batch_scan_free(s);
    return SNT_ERR_NOMEM;
  }
  for (int i = 0; i < g->n_inputs; i++) {
    const snt_tensor *t = &g->tensors[g->inputs[i]];
    dep[g->inputs[i]] = t->batched;
    s->rows[g->inputs[i]] = t->batched && t->rank >= 1 && t->dims[0] == g->batch;
  }
  s->scalable = true;
  for (int o = 0; o < p->n_order; o++) {
    const snt_node *n = &g->nodes[p->order[o]];
    bool any = false;
    for (int k = 0; k < n->n_in; k++) any |= n->in[k] >= 0 && dep[n->in[k]];
    if (!any) continue;
    bool keeps = node_keeps_rows(g, n, dep, s->rows);
    for (int k = 0; k < n->n_out; k++) dep[n->out[k]] = true, s->rows[n->out[k]] = keeps;
    if (!keeps && s->scalable) s->scalable = false, s->blocker = p->order[o];
  }
  free(dep);
  if (g->batch <= 1) s->scalable = true, s->blocker = -1; /* n can only be the whole batch */
  return SNT_OK;
}

void snt_batch_scan_free(snt_batch_scan *s) {
  free(s->rows);
  s->rows = NULL;
}

char *snt_batch_scan_note(const snt_graph *g, const snt_batch_scan *s) {
  if (s->scalable) return snt_format("Batch: a run of n samples computes n (any n up to the compiled batch).\n");
  const snt_node *n = &g->nodes[s->blocker];
  return snt_format("Batch: every run computes the whole compiled batch (rows past n are ignored): layer '%s' (%s) "
                    "is not known to keep samples apart.\n", n->name, n->op->onnx_type ? n->op->onnx_type : n->op->name);
}
