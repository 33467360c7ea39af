/* one_hot (ONNX OneHot, opsets 9 and 11): a new axis of depth elements (a constant input) that
 * holds values[1] where it equals the index and values[0] elsewhere. Indices of any numeric
 * type are truncated; from opset 11 negative ones count from depth, and an index out of range
 * gives a row of values[0] (the spec's rule, no error). */
#include <math.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels_scatter.h"

static const snt_arg_spec args[] = {{"axis", SNT_ARG_INT, "-1", NULL}, {0}};

/* The constant depth (one number of any numeric type, truncated), or -1 when it is not such. */
static int64_t read_depth(const snt_tensor *t) {
  if (!t->data || snt_tensor_numel(t) != 1) return -1;
  double v;
  switch (t->dtype) {
    case SNT_F32: v = *(const float *)t->data; break;
    case SNT_F64: v = *(const double *)t->data; break;
    case SNT_F16: v = snt_f16_to_f32(*(const uint16_t *)t->data); break;
    case SNT_BF16: v = snt_bf16_to_f32(*(const uint16_t *)t->data); break;
    case SNT_I8: v = *(const int8_t *)t->data; break;
    case SNT_U8: v = *(const uint8_t *)t->data; break;
    case SNT_I16: v = *(const int16_t *)t->data; break;
    case SNT_U16: v = *(const uint16_t *)t->data; break;
    case SNT_I32: v = *(const int32_t *)t->data; break;
    case SNT_U32: v = *(const uint32_t *)t->data; break;
    case SNT_I64: return *(const int64_t *)t->data < 0 ? -1 : *(const int64_t *)t->data;
    case SNT_U64: return *(const uint64_t *)t->data > (uint64_t)INT64_MAX ? -1 : (int64_t)*(const uint64_t *)t->data;
    default: return -1;
  }
  return v >= 0 && v < 9.2e18 ? (int64_t)v : -1; /* NaN too is refused */
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *ix = snt_in(g, n, 0), *dt = snt_in(g, n, 1), *v = snt_in(g, n, 2);
  int64_t depth = read_depth(dt), a = snt_node_int(n, "axis", -1), axis = a < 0 ? a + ix->rank + 1 : a;
  if (dt->dtype == SNT_BOOL || depth < 0) return snt_node_error(g, n, d, "its depth must be a constant non-negative number");
  if (v->rank != 1 || v->dims[0] != 2) return snt_node_error(g, n, d, "its values must be a list of two, [off, on]");
  if (ix->rank + 1 > SNT_MAX_RANK) return snt_node_error(g, n, d, "the result would have rank above %d", SNT_MAX_RANK);
  if (axis < 0 || axis > ix->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)a, ix->rank + 1);
  int64_t dims[SNT_MAX_RANK];
  for (int i = 0, k = 0; i <= ix->rank; i++) dims[i] = i == axis ? depth : ix->dims[k++];
  snt_set_output(g, node, 0, v->dtype, ix->rank + 1, dims);
  snt_status st = snt_node_set_int(n, "_depth", depth);
  return st ? st : snt_node_set_int(n, "_axis", axis);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *ix = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  int64_t axis = snt_node_int(n, "_axis", 0), outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= ix->dims[i];
  for (int i = (int)axis; i < ix->rank; i++) inner *= ix->dims[i];
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_one_hot(%zu, %s, %s, %s, %d, %d, %s, %s, %s))) return snt_k_st_;",
                snt_dtype_size(y->dtype), snt_emit_i64(e, outer), snt_emit_i64(e, snt_node_int(n, "_depth", 0)),
                snt_emit_i64(e, inner), (int)snt_node_int(n, "_negative", 1), (int)ix->dtype, snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[2]), snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

/* OneHot-9 counts only [0, depth) as indices; negative ones count from depth from opset 11. */
static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  (void)d;
  return snt_node_set_int(&g->nodes[node], "_negative", opset >= 11);
}

const snt_op snt_op_one_hot = {
    .name = "one_hot", .type_name = "OneHot", .default_layer = "one_hot",
    .doc = "a new axis of depth (a constant) holding values[1] at each index, values[0] elsewhere",
    .min_inputs = 3, .max_inputs = 3, .args = args, .infer = infer, .onnx_type = "OneHot", .onnx_import = onnx_import,
    .onnx_const_inputs = 1u << 1, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {3, 3, 1, 1},
    .types = {.t = SNT_TY_NUMERIC, .note = "indices of any numeric type (truncated); depth a number; values any type"},
    .no_export = "it has no DSL form, and sinter export-onnx writes DSL models only"};
