/* gather_nd (ONNX GatherND, opsets 11, 12 with batch_dims, 13): slices of x picked by tuples
 * of INT64 coordinates, the last axis of the indices. Negative coordinates count from the end;
 * one out of range is refused at compile time when the indices are constant, else it fails
 * the run (as Gather's do). */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/scatter_util.h"
#include "sinter/kernels_scatter.h"

static const snt_arg_spec args[] = {{"batch_dims", SNT_ARG_INT, "0", NULL}, {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *ix = snt_in(g, n, 1);
  int64_t b = snt_node_int(n, "batch_dims", 0), dims[SNT_MAX_RANK];
  if (ix->dtype != SNT_I64) return snt_node_error(g, n, d, "its indices must be INT64");
  if (x->rank < 1 || ix->rank < 1) return snt_node_error(g, n, d, "the data and the indices must have rank 1 or more");
  if (b < 0 || b >= x->rank || b >= ix->rank)
    return snt_node_error(g, n, d, "batch_dims %lld must be below both ranks (%d and %d)", (long long)b, x->rank, ix->rank);
  int64_t k = ix->dims[ix->rank - 1];
  if (k < 1 || k > x->rank - b)
    return snt_node_error(g, n, d, "the indices' last dim %lld is not within 1..%lld", (long long)k, (long long)(x->rank - b));
  for (int a = 0; a < b; a++)
    if (x->dims[a] != ix->dims[a])
      return snt_node_error(g, n, d, "batch axis %d has %lld in the data, %lld in the indices", a, (long long)x->dims[a], (long long)ix->dims[a]);
  int r = 0;
  for (int a = 0; a < ix->rank - 1; a++) dims[r++] = ix->dims[a];
  if (r + x->rank - b - k > SNT_MAX_RANK) return snt_node_error(g, n, d, "the result would have rank above %d", SNT_MAX_RANK);
  for (int a = (int)(b + k); a < x->rank; a++) dims[r++] = x->dims[a];
  snt_status st = snt_check_const_tuples(g, n, d, ix, (int)k, x->dims + b);
  if (st) return st;
  snt_set_output(g, node, 0, x->dtype, r, dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *ix = &e->g->tensors[n->in[1]];
  int64_t b = snt_node_int(n, "batch_dims", 0), k = ix->dims[ix->rank - 1], n_idx = 1;
  for (int a = (int)b; a < ix->rank - 1; a++) n_idx *= ix->dims[a];
  snt_emit_line(e, "{");
  snt_emit_line(e, "static const int64_t xd[] = %s;", snt_emit_dims(e, n->in[0]));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_gather_nd(%zu, %d, xd, %d, %d, %s, %s, %s, %s))) return snt_k_st_;",
                snt_dtype_size(x->dtype), x->rank, (int)b, (int)k, snt_emit_i64(e, n_idx), snt_emit_ptr(e, n->in[1]),
                snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static const snt_attr_range ranges[] = {{"batch_dims", 0, SNT_MAX_RANK}, {0}};

const snt_op snt_op_gather_nd = {
    .name = "gather_nd", .type_name = "GatherND", .default_layer = "gather_nd",
    .doc = "slices of x picked by INT64 coordinate tuples (the indices' last axis), after batch_dims shared axes",
    .min_inputs = 2, .max_inputs = 2, .args = args, .infer = infer, .onnx_type = "GatherND",
    .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 2, 1, 1},
    .onnx_ranges = ranges,
    .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE}, .no_export = "it has no DSL form, and sinter export-onnx writes DSL models only"};
