/* gather: picks slices along one axis by integer indices (read at run time). */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{"axis", SNT_ARG_INT, "0", NULL}, {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *ix = snt_in(g, n, 1);
  int64_t axis = snt_node_int(n, "axis", 0);
  if (axis < 0) axis += x->rank;
  if (axis < 0 || axis >= x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)snt_node_int(n, "axis", 0), x->rank);
  if (ix->dtype != SNT_I64 && ix->dtype != SNT_I32) return snt_node_error(g, n, d, "indices must be INT32 or INT64");
  int r = x->rank - 1 + ix->rank;
  if (r > SNT_MAX_RANK) return snt_node_error(g, n, d, "the result would have rank %d", r);
  int64_t dims[SNT_MAX_RANK];
  int k = 0;
  for (int i = 0; i < axis; i++) dims[k++] = x->dims[i];
  for (int i = 0; i < ix->rank; i++) dims[k++] = ix->dims[i];
  for (int i = (int)axis + 1; i < x->rank; i++) dims[k++] = x->dims[i];
  snt_set_output(g, node, 0, x->dtype, r, dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *ix = &e->g->tensors[n->in[1]];
  int64_t axis = snt_node_int(n, "axis", 0), outer = 1, inner = 1;
  if (axis < 0) axis += x->rank;
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = (int)axis + 1; i < x->rank; i++) inner *= x->dims[i];
  const char *outer_s = snt_emit_rows_dyn(e, n->in[0]) ? snt_format_keep(e, "n * %lldLL", (long long)(outer / x->dims[0]))
                                                        : snt_emit_i64(e, outer);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_gather(%zu, %s, %lld, %lld, %s, %d, %s, %lld, %s))) return snt_k_st_;",
                snt_dtype_size(x->dtype), outer_s, (long long)x->dims[axis], (long long)inner,
                snt_emit_ptr(e, n->in[0]), (int)ix->dtype, snt_emit_ptr(e, n->in[1]), (long long)snt_tensor_numel(ix),
                snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

/* Along an axis past the batch, with indices that do not carry it. */
static bool rows(const snt_graph *g, const snt_node *n, const bool *r) {
  int64_t axis = snt_node_int(n, "axis", 0);
  return (axis < 0 ? axis + g->tensors[n->in[0]].rank : axis) > 0 && snt_rows_first(g, n, r);
}

/* Folded with the kernel the emitted code calls. */
static snt_status fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0), *ix = snt_in(g, n, 1);
  int64_t axis = snt_node_int(n, "axis", 0), outer = 1, inner = 1;
  if (axis < 0) axis += x->rank;
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = (int)axis + 1; i < x->rank; i++) inner *= x->dims[i];
  return snt_k_gather(snt_dtype_size(x->dtype), outer, x->dims[axis], inner, x->data, ix->dtype, ix->data,
                      snt_tensor_numel(ix), y);
}

const snt_op snt_op_gather = {
    .name = "gather", .type_name = "Gather", .default_layer = "gather",
    .doc = "slices of x along an axis picked by integer indices: gather(x, indices, axis=0)", .min_inputs = 2,
    .max_inputs = 2, .args = args, .infer = infer, .onnx_type = "Gather", .emit = emit, .fold = fold, .no_dsl = SNT_NO_DSL_YET, .batch_rows = rows,
    .onnx_arity = {2, 2, 1, 1}, .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I32) | SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE},
    .no_export = SNT_NO_EXPORT_YET};
