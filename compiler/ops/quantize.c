/* QuantizeLinear and DequantizeLinear (opsets 10, 13, 19, 21): per-tensor (10 on), per-axis
 * (13 on, `axis`) and blocked (21, `block_size`) scales and zero points; 8- and 16-bit integer
 * types (int4 and float8 are not sinter types and are refused as types). The QDQ form of
 * quantized models runs through these and float kernels. runtime/kernels/quantize.c computes. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{"axis", SNT_ARG_INT, "1", NULL}, {"block_size", SNT_ARG_INT, "0", NULL}, {0}};

static bool quant_int(snt_dtype t) { return t == SNT_U8 || t == SNT_I8 || t == SNT_U16 || t == SNT_I16; }

/* The scale's layout against x (per tensor, per axis or blocked), or an error naming the shapes. */
static snt_status layout(const snt_graph *g, const snt_node *n, snt_diag *d, snt_k_quant *q) {
  const snt_tensor *x = &g->tensors[n->in[0]], *s = &g->tensors[n->in[1]];
  const snt_tensor *zp = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
  int64_t axis = snt_node_int(n, "axis", 1), block = snt_node_int(n, "block_size", 0);
  if (s->dtype != SNT_F32) return snt_node_error(g, n, d, "the scale is %s: sinter takes FLOAT scales", snt_dtype_name(s->dtype));
  if (block < 0) return snt_node_error(g, n, d, "block_size %lld is negative", (long long)block);
  *q = (snt_k_quant){.mode = SNT_K_QUANT_TENSOR, .outer = 1, .axis_len = snt_tensor_numel(x), .inner = 1, .block = block};
  bool scalar = s->rank == 0 || (s->rank == 1 && s->dims[0] == 1 && block == 0);
  if (!scalar) {
    if (axis < -x->rank || axis >= x->rank)
      return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
    if (axis < 0) axis += x->rank;
    q->outer = 1, q->inner = 1, q->axis_len = x->dims[axis];
    for (int i = 0; i < x->rank; i++) {
      if (i < axis) q->outer *= x->dims[i];
      if (i > axis) q->inner *= x->dims[i];
    }
    bool ok = block == 0 ? s->rank == 1 && s->dims[0] == x->dims[axis] : s->rank == x->rank;
    for (int i = 0; block && ok && i < x->rank; i++)
      ok = s->dims[i] == (i == axis ? (x->dims[i] + block - 1) / block : x->dims[i]);
    if (!ok) {
      char xs[SNT_MAX_RANK * 24 + 8], ss[SNT_MAX_RANK * 24 + 8];
      snt_shape_str(xs, sizeof xs, x, 0), snt_shape_str(ss, sizeof ss, s, 0);
      return snt_node_error(g, n, d, "the scale has shape %s, expected a scalar, (%lld) per axis %lld%s of the input %s", ss,
                            (long long)x->dims[axis], (long long)axis, block ? " or x's shape with that axis in blocks" : "", xs);
    }
    q->mode = block ? SNT_K_QUANT_BLOCKED : SNT_K_QUANT_AXIS;
  }
  if (zp && (zp->rank != s->rank || snt_tensor_numel(zp) != snt_tensor_numel(s)))
    return snt_node_error(g, n, d, "the zero point's shape differs from the scale's");
  return SNT_OK;
}

static snt_status q_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_k_quant q;
  snt_status st = layout(g, n, d, &q);
  if (st) return st;
  const snt_tensor *x = snt_in(g, n, 0), *zp = snt_in_opt(g, n, 2);
  int64_t want = snt_node_int(n, "output_dtype", 0);
  snt_dtype t = zp ? zp->dtype : want ? (snt_dtype)want : SNT_U8;
  if (zp && want && want != (int64_t)zp->dtype)
    return snt_node_error(g, n, d, "output_dtype %lld differs from the zero point's type %s", (long long)want, snt_dtype_name(zp->dtype));
  if (!quant_int(t)) return snt_node_error(g, n, d, "output_dtype %lld is not UINT8, INT8, UINT16 or INT16", (long long)want);
  snt_set_output(g, node, 0, t, x->rank, x->dims);
  return SNT_OK;
}

static snt_status dq_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_k_quant q;
  snt_status st = layout(g, n, d, &q);
  if (st) return st;
  const snt_tensor *x = snt_in(g, n, 0), *zp = snt_in_opt(g, n, 2);
  if (x->dtype == SNT_I32 && zp) {
    for (int64_t i = 0; zp->data && i < snt_tensor_numel(zp); i++)
      if (((const int32_t *)zp->data)[i] != 0) return snt_node_error(g, n, d, "an INT32 input takes a zero point of 0");
  }
  snt_set_output(g, node, 0, SNT_F32, x->rank, x->dims);
  return SNT_OK;
}

/* Opset 10 has per-tensor scales only. */
static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *s = snt_in(g, n, 1);
  if (opset < 13 && !(s->rank == 0 || (s->rank == 1 && s->dims[0] == 1)))
    return snt_node_error(g, n, d, "%s-10 takes a scalar scale (per-axis scales from opset 13)", n->op->onnx_type);
  return SNT_OK;
}

static snt_status emit_with(snt_emit *e, int node, const char *fn, snt_dtype q_type) {
  const snt_node *n = &e->g->nodes[node];
  snt_k_quant q;
  if (layout(e->g, n, NULL, &q)) return SNT_ERR_INTERNAL; /* infer accepted it */
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  snt_emit_line(e, "{");
  snt_emit_line(e, "  const snt_k_quant q = {.mode = %d, .outer = %lldLL, .axis_len = %lldLL, .inner = %lldLL, "
                ".block = %lldLL, .x_type = %d, .q_type = %d};", (int)q.mode, (long long)q.outer, (long long)q.axis_len,
                (long long)q.inner, (long long)q.block, (int)x->dtype, (int)q_type);
  snt_emit_line(e, "  if (SNT_K_FAILED(%s(&q, %s, %s, %s, %s))) return snt_k_st_;", fn, snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), n->n_in > 2 && n->in[2] >= 0 ? snt_emit_ptr(e, n->in[2]) : "NULL",
                snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status q_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  return emit_with(e, node, "snt_k_quantize_linear", e->g->tensors[n->out[0]].dtype);
}

static snt_status dq_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  return emit_with(e, node, "snt_k_dequantize_linear", e->g->tensors[n->in[0]].dtype);
}

#define QUANT_INTS (SNT_TY(SNT_U8) | SNT_TY(SNT_I8) | SNT_TY(SNT_U16) | SNT_TY(SNT_I16))

const snt_op snt_op_quantize_linear = {
    .name = "quantize_linear", .type_name = "QuantizeLinear", .default_layer = "quantize_linear",
    .doc = "saturate(round(x / scale) + zero_point) in an 8- or 16-bit integer type, per tensor, axis or block",
    .min_inputs = 3, .max_inputs = 3, .args = args, .infer = q_infer, .onnx_type = "QuantizeLinear",
    .onnx_import = onnx_import, .onnx_upto = 21, .emit = q_emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 3, 1, 1},
    .types = {.t = SNT_TY(SNT_F32) | SNT_TY(SNT_I32), .other = SNT_TY(SNT_F32) | QUANT_INTS,
              .note = "float32 quotient rounded half to even, saturated (ONNX Runtime's rule)"},
    .no_export = SNT_NO_EXPORT_YET};

const snt_op snt_op_dequantize_linear = {
    .name = "dequantize_linear", .type_name = "DequantizeLinear", .default_layer = "dequantize_linear",
    .doc = "(x - zero_point) * scale in FLOAT, per tensor, axis or block",
    .min_inputs = 3, .max_inputs = 3, .args = args, .infer = dq_infer, .onnx_type = "DequantizeLinear",
    .onnx_import = onnx_import, .onnx_upto = 21, .emit = dq_emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 3, 1, 1},
    .types = {.t = QUANT_INTS | SNT_TY(SNT_I32), .t_slots = 5u, .other = SNT_TY(SNT_F32),
              .note = "float32: (x - zero_point) converted, times the scale"},
    .no_export = SNT_NO_EXPORT_YET};

/* ---- DynamicQuantizeLinear (opset 11): y, y_scale, y_zero_point from x's own range ---- */

static const snt_arg_spec no_args[] = {{0}};

static snt_status dyn_infer(snt_graph *g, int node, snt_diag *d) {
  (void)d;
  const snt_tensor *x = snt_in(g, &g->nodes[node], 0);
  snt_set_output(g, node, 0, SNT_U8, x->rank, x->dims);
  if (g->nodes[node].n_out > 1) snt_set_output(g, node, 1, SNT_F32, 0, x->dims);
  if (g->nodes[node].n_out > 2) snt_set_output(g, node, 2, SNT_U8, 0, x->dims);
  return SNT_OK;
}

/* The scale and zero point go to scratch when the node does not output them. */
static snt_status dyn_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_emit_line(e, "snt_k_dynamic_quantize_linear(%lldLL, %s, %s, %s, %s);", (long long)snt_tensor_numel(&e->g->tensors[n->in[0]]),
                snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]), n->n_out > 1 ? snt_emit_ptr(e, n->out[1]) : "(float *)S",
                n->n_out > 2 ? snt_emit_ptr(e, n->out[2]) : "(uint8_t *)S + 4");
  return SNT_OK;
}

static size_t dyn_scratch(const snt_graph *g, const snt_node *n) {
  (void)g;
  return n->n_out > 2 ? 0 : 8;
}

const snt_op snt_op_dynamic_quantize_linear = {
    .name = "dynamic_quantize_linear", .type_name = "DynamicQuantizeLinear", .default_layer = "dynamic_quantize_linear",
    .doc = "x quantized to UINT8 with the scale and zero point of its own range [min(x, 0), max(x, 0)]",
    .min_inputs = 1, .max_inputs = 1, .args = no_args, .infer = dyn_infer, .onnx_type = "DynamicQuantizeLinear",
    .emit = dyn_emit, .scratch = dyn_scratch, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {1, 1, 1, 3},
    .types = {.t = SNT_TY(SNT_F32), .note = "float32 range and quotients (ONNX Runtime's rule)"},
    .no_export = SNT_NO_EXPORT_YET};
