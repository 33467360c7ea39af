/* argmax, argmin, top_k and gather_elements: ops that pick elements by index along an axis
 * (INT64 indices out for the first three, in for the last). */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"
#include "sinter/kernels_shape.h"

extern const snt_op snt_op_argmin;

static const snt_arg_spec arg_args[] = {{"axis", SNT_ARG_INT, "0", NULL}, {"keepdims", SNT_ARG_BOOL, "true", NULL},
                                        {"select_last_index", SNT_ARG_BOOL, "false", NULL}, {0}};
static const snt_arg_spec topk_args[] = {{"k", SNT_ARG_INT, NULL, NULL}, {"axis", SNT_ARG_INT, "-1", NULL},
                                         {"largest", SNT_ARG_BOOL, "true", NULL}, {"sorted", SNT_ARG_BOOL, "true", NULL}, {0}};
static const snt_arg_spec ge_args[] = {{"axis", SNT_ARG_INT, "0", NULL}, {0}};

/* The normalised axis attribute, or an error naming it. */
static snt_status get_axis(snt_graph *g, snt_node *n, snt_diag *d, int rank, int64_t def, int64_t *axis) {
  int64_t a = snt_node_int(n, "axis", def);
  *axis = a < 0 ? a + rank : a;
  if (*axis < 0 || *axis >= rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)a, rank);
  return SNT_OK;
}

/* x as [outer, len, inner] around the axis. */
static void around(const snt_tensor *x, int64_t axis, int64_t *outer, int64_t *inner) {
  *outer = 1, *inner = 1;
  for (int i = 0; i < axis; i++) *outer *= x->dims[i];
  for (int i = (int)axis + 1; i < x->rank; i++) *inner *= x->dims[i];
}

static snt_status arg_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t axis, dims[SNT_MAX_RANK];
  snt_status st = get_axis(g, n, d, x->rank, 0, &axis);
  if (st) return st;
  if (x->dims[axis] == 0) return snt_node_error(g, n, d, "the axis %lld has no elements", (long long)axis);
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (i != axis) dims[r++] = x->dims[i];
    else if (snt_node_int(n, "keepdims", 1)) dims[r++] = 1;
  snt_set_output(g, node, 0, SNT_I64, r, dims);
  return SNT_OK;
}

static snt_status arg_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t axis = snt_node_int(n, "axis", 0), outer, inner;
  if (axis < 0) axis += x->rank;
  around(x, axis, &outer, &inner);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_arg(%d, %d, %s, %s, %s, %s, %s))) return snt_k_st_;", n->op == &snt_op_argmin,
                snt_node_int(n, "select_last_index", 0) != 0, snt_emit_i64(e, outer), snt_emit_i64(e, x->dims[axis]),
                snt_emit_i64(e, inner), snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

static const snt_attr_range arg_ranges[] = {{"keepdims", 0, 1}, {"select_last_index", 0, 1}, {0}};

#define ARG_OP(id, onnx, what)                                                                                    \
  const snt_op snt_op_##id = {                                                                                   \
      .name = #id, .type_name = onnx, .default_layer = #id,                                                      \
      .doc = "the INT64 index of the " what " along an axis: " #id "(x, axis=0, keepdims=true)", .min_inputs = 1, \
      .max_inputs = 1, .args = arg_args, .infer = arg_infer, .onnx_type = onnx, .emit = arg_emit,                 \
      .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {1, 1, 1, 1}, .onnx_ranges = arg_ranges,                            \
      .types = {.t = SNT_TY(SNT_F32), .note = "float32"}, .no_export = SNT_NO_EXPORT_YET};
ARG_OP(argmax, "ArgMax", "largest value")
ARG_OP(argmin, "ArgMin", "smallest value")

/* ---- top_k: k is an attribute in opset 1, a constant input from 10 ---- */

static snt_status topk_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t axis, k = snt_node_int(n, "k", -1), dims[SNT_MAX_RANK];
  int c = 0;
  snt_status st = get_axis(g, n, d, x->rank, -1, &axis);
  if (st) return st;
  int r = snt_const_ints(g, n, 1, &k, &c, 1);
  if (r < 0 || (r > 0 && c != 1)) return snt_node_error(g, n, d, "its k must be a constant INT64 of one value");
  if (k < 0 || k > x->dims[axis]) return snt_node_error(g, n, d, "k = %lld is not within 0..%lld", (long long)k, (long long)x->dims[axis]);
  for (int i = 0; i < x->rank; i++) dims[i] = i == axis ? k : x->dims[i];
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  if (n->n_out > 1) snt_set_output(g, node, 1, SNT_I64, x->rank, dims);
  return snt_node_set_int(n, "_k", k);
}

static snt_status topk_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t axis = snt_node_int(n, "axis", -1), outer, inner;
  if (axis < 0) axis += x->rank;
  around(x, axis, &outer, &inner);
  /* Both outputs are written; ONNX always has both, sinter may find the indices unused. */
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_topk(%s, %s, %s, %s, %d, %s, %s, %s))) return snt_k_st_;", snt_emit_i64(e, outer),
                snt_emit_i64(e, x->dims[axis]), snt_emit_i64(e, inner), snt_emit_i64(e, snt_node_int(n, "_k", 0)),
                snt_node_int(n, "largest", 1) != 0, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]),
                snt_emit_ptr(e, n->out[1]));
  return SNT_OK;
}

static snt_status topk_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (opset < 10 && (n->n_in > 1 || !snt_node_attr(n, "k"))) return snt_node_error(g, n, d, "TopK-1 takes k as an attribute");
  if (opset >= 10 && (n->n_in < 2 || snt_node_attr(n, "k"))) return snt_node_error(g, n, d, "TopK-%d takes k as an input", opset);
  if (n->n_out != 2) return snt_node_error(g, n, d, "TopK has two outputs, values and indices");
  return SNT_OK;
}

static const snt_attr_range topk_ranges[] = {{"largest", 0, 1}, {"sorted", 0, 1}, {0}};

const snt_op snt_op_top_k = {
    .name = "top_k", .type_name = "TopK", .default_layer = "top_k",
    .doc = "the k largest (or smallest) values along an axis and their INT64 indices, ties by the lower index",
    .min_inputs = 1, .max_inputs = 1, .args = topk_args, .infer = topk_infer, .onnx_type = "TopK",
    .onnx_import = topk_import, .onnx_const_inputs = 1u << 1, .emit = topk_emit,
    .no_dsl = "it has two outputs, which the DSL cannot name", .onnx_arity = {1, 2, 2, 2}, .onnx_ranges = topk_ranges,
    .types = {.t = SNT_TY(SNT_F32), .t_f32 = SNT_TY(SNT_F16) | SNT_TY(SNT_F64), .other = SNT_TY(SNT_I64), .note = SNT_NOTE_KERNEL},
    .no_export = SNT_NO_EXPORT_YET};

/* ---- gather_elements ---- */

static snt_status ge_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *ix = snt_in(g, n, 1);
  int64_t axis;
  snt_status st = get_axis(g, n, d, x->rank, 0, &axis);
  if (st) return st;
  if (ix->dtype != SNT_I64 && ix->dtype != SNT_I32) return snt_node_error(g, n, d, "indices must be INT32 or INT64");
  if (ix->rank != x->rank) return snt_node_error(g, n, d, "indices have rank %d, the data %d", ix->rank, x->rank);
  for (int a = 0; a < x->rank; a++) /* the other coordinates index x as they are */
    if (a != axis && ix->dims[a] > x->dims[a])
      return snt_node_error(g, n, d, "indices have %lld along axis %d, the data only %lld", (long long)ix->dims[a], a, (long long)x->dims[a]);
  snt_set_output(g, node, 0, x->dtype, ix->rank, ix->dims);
  return SNT_OK;
}

static snt_status ge_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *ix = &e->g->tensors[n->in[1]];
  int64_t axis = snt_node_int(n, "axis", 0);
  if (axis < 0) axis += x->rank;
  snt_emit_line(e, "{");
  snt_emit_line(e, "static const int64_t xd[] = %s, id[] = %s;", snt_emit_dims(e, n->in[0]), snt_emit_dims(e, n->in[1]));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_gather_elements(%zu, %d, xd, id, %d, %s, %d, %s, %s))) return snt_k_st_;",
                snt_dtype_size(x->dtype), x->rank, (int)axis, snt_emit_ptr(e, n->in[0]), (int)ix->dtype,
                snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status ge_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0), *ix = snt_in(g, n, 1);
  int64_t axis = snt_node_int(n, "axis", 0);
  if (axis < 0) axis += x->rank;
  return snt_k_gather_elements(snt_dtype_size(x->dtype), x->rank, x->dims, ix->dims, (int)axis, x->data, ix->dtype,
                               ix->data, y);
}

const snt_op snt_op_gather_elements = {
    .name = "gather_elements", .type_name = "GatherElements", .default_layer = "gather_elements",
    .doc = "elements of x picked along an axis by an index tensor of the same rank: gather_elements(x, indices, axis=0)",
    .min_inputs = 2, .max_inputs = 2, .args = ge_args, .infer = ge_infer, .onnx_type = "GatherElements", .emit = ge_emit,
    .fold = ge_fold, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 2, 1, 1},
    .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I32) | SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE},
    .no_export = SNT_NO_EXPORT_YET};
