/* scatter_nd (ONNX ScatterND, opsets 11, 13, 16 with reduction none/add/mul, 18 with max/min): a copy of x where
 * the slices named by INT64 coordinate tuples (the indices' last axis) are replaced by (or
 * combined with) the slices of updates. Constant indices are checked at compile time. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/scatter_util.h"
#include "sinter/kernels_scatter.h"

static const char *const reductions[] = {"none", "add", "mul", "max", "min", NULL};
static const snt_arg_spec args[] = {{"reduction", SNT_ARG_SYMBOL, "none", reductions}, {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *ix = snt_in(g, n, 1), *u = snt_in(g, n, 2);
  if (ix->dtype != SNT_I64) return snt_node_error(g, n, d, "its indices must be INT64");
  if (u->dtype != x->dtype) return snt_node_error(g, n, d, "updates must have the data's type");
  if (x->rank < 1 || ix->rank < 1) return snt_node_error(g, n, d, "the data and the indices must have rank 1 or more");
  int64_t k = ix->dims[ix->rank - 1], want[SNT_MAX_RANK];
  if (k < 1 || k > x->rank)
    return snt_node_error(g, n, d, "the indices' last dim %lld is not within 1..%d", (long long)k, x->rank);
  /* updates: the indices' dims but the last, then the data's dims past the k indexed */
  int r = 0;
  for (int a = 0; a < ix->rank - 1; a++) want[r++] = ix->dims[a];
  for (int a = (int)k; a < x->rank && r < SNT_MAX_RANK; a++) want[r++] = x->dims[a];
  if (u->rank != r || memcmp(u->dims, want, sizeof(int64_t) * (size_t)r) != 0 || ix->rank - 1 + x->rank - k > SNT_MAX_RANK)
    return snt_node_error(g, n, d, "updates must have the indices' dims but the last, then the data's past the first %lld",
                          (long long)k);
  if (snt_scatter_red(n) < 0) return snt_node_error(g, n, d, "reduction '%s' is not supported", snt_node_string(n, "reduction", ""));
  snt_status st = snt_check_const_tuples(g, n, d, ix, (int)k, x->dims);
  if (st) return st;
  snt_set_output(g, node, 0, x->dtype, x->rank, x->dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *ix = &e->g->tensors[n->in[1]];
  int64_t k = ix->dims[ix->rank - 1], n_idx = snt_tensor_numel(ix) / (k ? k : 1);
  snt_emit_line(e, "{");
  snt_emit_line(e, "static const int64_t xd[] = %s;", snt_emit_dims(e, n->in[0]));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_scatter_nd(%d, %d, %d, xd, %d, %s, %s, %s, %s, %s))) return snt_k_st_;", (int)x->dtype,
                snt_scatter_red(n), x->rank, (int)k, snt_emit_i64(e, n_idx), snt_emit_ptr(e, n->in[1]),
                snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[2]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

const snt_op snt_op_scatter_nd = {
    .name = "scatter_nd", .type_name = "ScatterND", .default_layer = "scatter_nd",
    .doc = "x with the slices named by INT64 coordinate tuples replaced by (or added to, multiplied by) updates",
    .min_inputs = 3, .max_inputs = 3, .args = args, .infer = infer, .onnx_type = "ScatterND",
    .onnx_import = snt_scatter_import_red, .onnx_upto = 18, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {3, 3, 1, 1},
    .types = {.t = SNT_TY_ALL, .t_slots = 5u, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE "; add and mul wrap integers"},
    .no_export = "it has no DSL form, and sinter export-onnx writes DSL models only"};
