/* Issue 10: the batch_rows rules ops share (compiler/codegen/batch.c asks them). */
#include "compiler/ops/common.h"

bool snt_rows_slots(const snt_graph *g, const snt_node *n, const bool *rows, unsigned slots) {
  (void)g;
  if (n->n_in < 1 || n->in[0] < 0 || !rows[n->in[0]]) return false;
  for (int k = 1; k < n->n_in; k++)
    if (n->in[k] >= 0 && rows[n->in[k]] && !(k < 32 && (slots >> k) & 1u)) return false;
  return true;
}

bool snt_rows_first(const snt_graph *g, const snt_node *n, const bool *rows) { return snt_rows_slots(g, n, rows, 1u); }

/* Broadcasting aligns dims from the right: a batched input lines up with the output's dim 0
 * only when it has the output's rank. */
bool snt_rows_elementwise(const snt_graph *g, const snt_node *n, const bool *rows) {
  int r = g->tensors[n->out[0]].rank;
  for (int k = 0; k < n->n_in; k++)
    if (n->in[k] >= 0 && rows[n->in[k]] && g->tensors[n->in[k]].rank != r) return false;
  return true;
}

const char *snt_emit_dims_rows(snt_emit *e, int tensor) {
  const snt_tensor *t = &e->g->tensors[tensor];
  if (!snt_emit_rows_dyn(e, tensor)) return snt_emit_dims(e, tensor);
  snt_strbuf b = {0};
  snt_sb_puts(&b, "{n");
  for (int i = 1; i < t->rank; i++) snt_sb_printf(&b, ", %lld", (long long)t->dims[i]);
  snt_sb_puts(&b, "}");
  const char *r = b.failed ? "{0}" : snt_format_keep(e, "%s", b.data);
  snt_sb_free(&b);
  return r;
}
