/* concat: joins tensors along one axis. */
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{"axis", SNT_ARG_INT, "1", NULL}, {0}};

static int64_t norm_axis(const snt_node *n, int rank) {
  int64_t a = snt_node_int(n, "axis", 1);
  return a < 0 ? a + rank : a;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t axis = norm_axis(n, x->rank);
  if (axis < 0 || axis >= x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)snt_node_int(n, "axis", 1), x->rank);
  int64_t dims[SNT_MAX_RANK];
  for (int i = 0; i < x->rank; i++) dims[i] = x->dims[i];
  for (int k = 1; k < n->n_in; k++) {
    snt_tensor *y = snt_in(g, n, k);
    bool ok = y->rank == x->rank && y->dtype == x->dtype;
    for (int i = 0; ok && i < x->rank; i++) ok = i == axis || y->dims[i] == x->dims[i];
    if (!ok) {
      char a[128], b[128];
      snt_shape_str(a, sizeof a, x, 0);
      snt_shape_str(b, sizeof b, y, 0);
      return snt_node_error(g, n, d, "input %d %s does not fit input 1 %s along axis %lld", k + 1, b, a, (long long)axis);
    }
    dims[axis] += y->dims[axis];
  }
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t axis = norm_axis(n, x->rank), outer = 1, inner = 1, sizes[64];
  if (n->n_in > 64) return snt_node_error(e->g, n, e->d, "more than 64 inputs");
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = (int)axis + 1; i < x->rank; i++) inner *= x->dims[i];
  snt_emit_line(e, "{");
  snt_strbuf ptrs = {0};
  for (int k = 0; k < n->n_in; k++) {
    sizes[k] = e->g->tensors[n->in[k]].dims[axis];
    snt_sb_printf(&ptrs, "%s%s", k ? ", " : "", snt_emit_ptr(e, n->in[k]));
  }
  snt_emit_line(e, "const void *const xs[] = {%s};", ptrs.data);
  snt_emit_line(e, "static const int64_t sizes[] = %s;", snt_emit_ints(e, sizes, n->n_in));
  const char *outer_s = snt_emit_rows_dyn(e, n->out[0]) ? snt_format_keep(e, "n * %lldLL", (long long)(outer / x->dims[0]))
                                                         : snt_emit_i64(e, outer);
  snt_emit_line(e, "snt_k_concat(%zu, %d, xs, sizes, %s, %lld, %s);", snt_dtype_size(x->dtype), n->n_in, outer_s,
                (long long)inner, snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  snt_sb_free(&ptrs);
  return SNT_OK;
}

/* Along an axis past the batch: any input may carry it (the others have it as dim 0 too). */
static bool rows(const snt_graph *g, const snt_node *n, const bool *r) {
  (void)r;
  return norm_axis(n, g->tensors[n->in[0]].rank) > 0;
}

/* Folded with the kernel the emitted code calls. */
static snt_status fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t axis = snt_node_int(n, "axis", 1), outer = 1, inner = 1, sizes[64];
  const void *xs[64];
  if (axis < 0) axis += x->rank;
  if (n->n_in > 64) return SNT_ERR_INPUT;
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = (int)axis + 1; i < x->rank; i++) inner *= x->dims[i];
  for (int k = 0; k < n->n_in; k++) xs[k] = snt_in(g, n, k)->data, sizes[k] = snt_in(g, n, k)->dims[axis];
  snt_k_concat(snt_dtype_size(x->dtype), n->n_in, xs, sizes, outer, inner, y);
  return SNT_OK;
}

/* sinter import: tensors the model computes, joined along an axis after the batch. */
static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  int64_t axis = norm_axis(n, w->g->tensors[n->in[0]].rank);
  if (axis < 1) return snt_dsl_unsupported(w, n, "it joins along the batch axis");
  for (int k = 0; k < n->n_in; k++)
    if (snt_dsl_is_param(w->g, n, k)) return snt_dsl_unsupported(w, n, "an input is a constant, which the DSL cannot hold");
  fprintf(w->out, "  %s = concat(", snt_dsl_ident(w, n->out[0]));
  for (int k = 0; k < n->n_in; k++) fprintf(w->out, "%s, ", snt_dsl_ident(w, n->in[k]));
  fprintf(w->out, "axis = %lld, name = %s)\n", (long long)axis, snt_dsl_lit(w, n->name));
  return SNT_OK;
}

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *ins[64];
  if (n->n_in > 64) return snt_ox_refuse(x, node, "more than 64 inputs");
  for (int k = 0; k < n->n_in; k++) ins[k] = snt_ox_name(x, n->in[k]);
  int k = snt_ox_node(x, "Concat", n->name, n->n_in, ins, snt_ox_name(x, n->out[0]));
  snt_ox_attr_int(x, k, "axis", norm_axis(n, g->tensors[n->in[0]].rank));
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

const snt_op snt_op_concat = {
    .name = "concat", .type_name = "Concatenate", .default_layer = "concatenate",
    .doc = "joins tensors along an axis: concat(a, b, ..., axis=1)", .min_inputs = 1, .max_inputs = -1, .args = args,
    .infer = infer, .onnx_type = "Concat", .emit = emit, .fold = fold, .to_dsl = to_dsl, .batch_rows = rows,
    .onnx_arity = {1, -1, 1, 1}, .types = {.t = SNT_TY_ALL, .t_slots = ~0u, .note = SNT_NOTE_MOVE},
    .onnx_export = onnx_export};
