/* scatter_elements (ONNX ScatterElements, opsets 11, 13, 16 with reduction none/add/mul, 18 with max/min) and
 * scatter (Scatter, opsets 9 and 10: ScatterElements without reduction; deprecated from 11): a copy of
 * x where each element of updates replaces (or is added to, multiplied into) the element at its
 * own coordinates with the axis coordinate taken from the indices (INT32 or INT64, negative
 * counting from the end). Constant indices are checked at compile time, others at run time. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/scatter_util.h"
#include "sinter/kernels_scatter.h"

extern const snt_op snt_op_scatter;

static const char *const reductions[] = {"none", "add", "mul", "max", "min", NULL};
static const snt_arg_spec args[] = {{"axis", SNT_ARG_INT, "0", NULL}, {"reduction", SNT_ARG_SYMBOL, "none", reductions}, {0}};
static const snt_arg_spec scatter_args[] = {{"axis", SNT_ARG_INT, "0", NULL}, {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *ix = snt_in(g, n, 1), *u = snt_in(g, n, 2);
  int64_t a = snt_node_int(n, "axis", 0), axis = a < 0 ? a + x->rank : a;
  if (axis < 0 || axis >= x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)a, x->rank);
  if (ix->dtype != SNT_I64 && ix->dtype != SNT_I32) return snt_node_error(g, n, d, "indices must be INT32 or INT64");
  if (u->dtype != x->dtype) return snt_node_error(g, n, d, "updates must have the data's type");
  if (ix->rank != x->rank) return snt_node_error(g, n, d, "indices have rank %d, the data %d", ix->rank, x->rank);
  if (u->rank != ix->rank || memcmp(u->dims, ix->dims, sizeof(int64_t) * (size_t)ix->rank) != 0)
    return snt_node_error(g, n, d, "updates must have the indices' shape");
  for (int k = 0; k < x->rank; k++) /* the other coordinates index x as they are */
    if (k != axis && ix->dims[k] > x->dims[k])
      return snt_node_error(g, n, d, "indices have %lld along axis %d, the data only %lld", (long long)ix->dims[k], k, (long long)x->dims[k]);
  if (snt_scatter_red(n) < 0) return snt_node_error(g, n, d, "reduction '%s' is not supported", snt_node_string(n, "reduction", ""));
  for (int64_t i = 0; ix->data && i < snt_tensor_numel(ix); i++) {
    snt_status st = snt_check_index(g, n, d, snt_index_at(ix, i), x->dims[axis], (int)axis);
    if (st) return st;
  }
  snt_set_output(g, node, 0, x->dtype, x->rank, x->dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *ix = &e->g->tensors[n->in[1]];
  int64_t axis = snt_node_int(n, "axis", 0);
  if (axis < 0) axis += x->rank;
  snt_emit_line(e, "{");
  snt_emit_line(e, "static const int64_t xd[] = %s, id[] = %s;", snt_emit_dims(e, n->in[0]), snt_emit_dims(e, n->in[1]));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_scatter_elements(%d, %d, %d, xd, id, %d, %d, %s, %s, %s, %s))) return snt_k_st_;",
                (int)x->dtype, snt_scatter_red(n), x->rank, (int)axis, (int)ix->dtype, snt_emit_ptr(e, n->in[1]),
                snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[2]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  if (g->nodes[node].op == &snt_op_scatter) /* ONNX's checker and ONNX Runtime refuse it too */
    return opset < 11 ? SNT_OK : snt_node_error(g, &g->nodes[node], d, "Scatter is deprecated from opset 11: ScatterElements replaces it");
  return snt_scatter_import_red(g, node, opset, d);
}

#define SCATTER_TYPES \
  {.t = SNT_TY_ALL, .t_slots = 5u, .other = SNT_TY(SNT_I32) | SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE "; add and mul wrap integers"}

const snt_op snt_op_scatter_elements = {
    .name = "scatter_elements", .type_name = "ScatterElements", .default_layer = "scatter_elements",
    .doc = "x with updates written (or added, multiplied, maxed, mined) along an axis at indices of updates' shape",
    .min_inputs = 3, .max_inputs = 3, .args = args, .infer = infer, .onnx_type = "ScatterElements",
    .onnx_import = onnx_import, .onnx_upto = 18, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {3, 3, 1, 1},
    .types = SCATTER_TYPES, .no_export = "it has no DSL form, and sinter export-onnx writes DSL models only"};

const snt_op snt_op_scatter = {
    .name = "scatter", .type_name = "Scatter", .default_layer = "scatter",
    .doc = "ONNX's Scatter (opsets 9 and 10, deprecated from 11): scatter_elements without reduction",
    .min_inputs = 3, .max_inputs = 3, .args = scatter_args, .infer = infer, .onnx_type = "Scatter",
    .onnx_import = onnx_import, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {3, 3, 1, 1},
    .types = SCATTER_TYPES, .no_export = "it has no DSL form, and sinter export-onnx writes DSL models only"};
