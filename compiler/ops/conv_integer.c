/* ConvInteger (opset 10) and QLinearConv (10): 8-bit convolutions of quantized models, summed
 * exactly in int32 (runtime/kernels/int_linear.c); QLinearConv adds its int32 bias and
 * requantizes with x_scale * w_scale / y_scale (w_scale per tensor or per output channel). The
 * window attributes are Conv's (compiler/ops/window.c). */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/window.h"
#include "sinter/kernels.h"

static const snt_arg_spec no_args[] = {{0}};

static bool int8_type(snt_dtype t) { return t == SNT_U8 || t == SNT_I8; }

/* A scale or zero point: one value, or (when `per` > 0) one per output channel. */
static bool per_ok(const snt_tensor *t, int64_t per) {
  int64_t n = snt_tensor_numel(t);
  return t->rank <= 1 && (n == 1 || (per > 0 && n == per));
}

/* The output shape from x (slot 0) and w (slot w_slot), as ONNX Conv. */
static snt_status conv_shape(snt_graph *g, int node, snt_diag *d, int w_slot, snt_dtype out_t) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0), *w = snt_in(g, n, w_slot);
  int64_t groups = snt_node_int(n, "group", 1), k[SNT_MAX_SPATIAL];
  if (x->rank < 3 || x->rank > 5 || w->rank != x->rank)
    return snt_node_error(g, n, d, "x has rank %d and w rank %d: expected [N, C, spatial...] with 1 to 3 spatial dims each",
                          x->rank, w->rank);
  if (groups < 1 || x->dims[1] % groups || w->dims[0] % groups || w->dims[1] * groups != x->dims[1])
    return snt_node_error(g, n, d, "w's shape does not fit %lld input channels in %lld groups", (long long)x->dims[1],
                          (long long)groups);
  for (int i = 0; i < x->rank - 2; i++) k[i] = w->dims[2 + i];
  int cnt = 0;
  const int64_t *ks = snt_node_ints(n, "kernel", &cnt);
  for (int i = 0; ks && i < cnt && i < x->rank - 2; i++)
    if (cnt != x->rank - 2 || ks[i] != k[i]) return snt_node_error(g, n, d, "kernel_shape differs from w's shape");
  snt_window win;
  snt_status st = snt_window_resolve(g, node, d, k, "kernel", &win);
  if (st) return st;
  int64_t dims[SNT_MAX_RANK] = {x->dims[0], w->dims[0]};
  for (int i = 0; i < win.spatial; i++) dims[2 + i] = win.out[i];
  snt_set_output(g, node, 0, out_t, x->rank, dims);
  return SNT_OK;
}

static snt_status ci_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0), *w = snt_in(g, n, 1), *xz = snt_in_opt(g, n, 2), *wz = snt_in_opt(g, n, 3);
  if (!int8_type(w->dtype)) return snt_node_error(g, n, d, "w is %s, expected UINT8 or INT8", snt_dtype_name(w->dtype));
  if (xz && (xz->dtype != x->dtype || !per_ok(xz, 0))) return snt_node_error(g, n, d, "x_zero_point must be one value of x's type");
  if (wz && (wz->dtype != w->dtype || !per_ok(wz, w->dims[0])))
    return snt_node_error(g, n, d, "w_zero_point must be one value or one per output channel, of w's type");
  return conv_shape(g, node, d, 1, SNT_I32);
}

static snt_status qc_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0), *w = snt_in(g, n, 3), *b = snt_in_opt(g, n, 8);
  const snt_tensor *xs = snt_in(g, n, 1), *xz = snt_in(g, n, 2), *ws = snt_in(g, n, 4), *wz = snt_in(g, n, 5);
  const snt_tensor *ys = snt_in(g, n, 6), *yz = snt_in(g, n, 7);
  if (!int8_type(w->dtype)) return snt_node_error(g, n, d, "w is %s, expected UINT8 or INT8", snt_dtype_name(w->dtype));
  int64_t m = w->rank > 0 ? w->dims[0] : 0;
  if (xs->dtype != SNT_F32 || ws->dtype != SNT_F32 || ys->dtype != SNT_F32 || !per_ok(xs, 0) || !per_ok(ys, 0) || !per_ok(ws, m))
    return snt_node_error(g, n, d, "the scales must be FLOAT: x_scale and y_scale one value, w_scale one or one per output channel");
  if (xz->dtype != x->dtype || !per_ok(xz, 0) || wz->dtype != w->dtype || !per_ok(wz, m) || !int8_type(yz->dtype) || !per_ok(yz, 0))
    return snt_node_error(g, n, d, "the zero points must be of their tensor's type (x, w, y), w's one or one per output channel");
  if (b && (b->dtype != SNT_I32 || b->rank != 1 || b->dims[0] != m))
    return snt_node_error(g, n, d, "B must be INT32 with one value per output channel (%lld)", (long long)m);
  return conv_shape(g, node, d, 3, yz->dtype);
}

static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  (void)opset;
  return snt_window_import(g, node, d, "kernel");
}

/* The geometry infer resolved (the pads in "resolved_pads"). */
static void desc_of(const snt_graph *g, const snt_node *n, int w_slot, snt_k_conv_desc *k) {
  const snt_tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[w_slot]], *y = &g->tensors[n->out[0]];
  int c = 0, cs = 0, cd = 0, sp = x->rank - 2;
  const int64_t *pads = snt_node_ints(n, "resolved_pads", &c), *s = snt_node_ints(n, "stride", &cs);
  const int64_t *dl = snt_node_ints(n, "dilation", &cd);
  *k = (snt_k_conv_desc){.spatial = sp, .batch = x->dims[0], .in_channels = x->dims[1], .out_channels = y->dims[1],
                         .groups = snt_node_int(n, "group", 1)};
  for (int i = 0; i < sp; i++) {
    k->in[i] = x->dims[2 + i], k->out[i] = y->dims[2 + i], k->kernel[i] = w->dims[2 + i];
    k->stride[i] = s && cs == sp ? s[i] : 1, k->dilation[i] = dl && cd == sp ? dl[i] : 1;
    k->pad_begin[i] = pads && c == 2 * sp ? pads[i] : 0, k->pad_end[i] = pads && c == 2 * sp ? pads[sp + i] : 0;
  }
}

static void emit_desc(snt_emit *e, const snt_k_conv_desc *k) {
  snt_emit_line(e, "  const snt_k_conv_desc d = %s;", snt_emit_conv_desc(e, k, snt_emit_i64(e, k->batch)));
}

static const char *opt_ptr(snt_emit *e, const snt_node *n, int slot) {
  return slot < n->n_in && n->in[slot] >= 0 ? snt_emit_ptr(e, n->in[slot]) : "NULL";
}

static int64_t opt_numel(const snt_emit *e, const snt_node *n, int slot) {
  return slot < n->n_in && n->in[slot] >= 0 ? snt_tensor_numel(&e->g->tensors[n->in[slot]]) : 0;
}

static snt_status ci_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_k_conv_desc k;
  desc_of(e->g, n, 1, &k);
  snt_emit_line(e, "{");
  emit_desc(e, &k);
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_conv_integer(&d, %d, %s, (snt_k_zp){.v = %s, .n = 1}, %d, %s, "
                "(snt_k_zp){.v = %s, .n = %lldLL}, %s))) return snt_k_st_;", (int)e->g->tensors[n->in[0]].dtype,
                snt_emit_ptr(e, n->in[0]), opt_ptr(e, n, 2), (int)e->g->tensors[n->in[1]].dtype,
                snt_emit_ptr(e, n->in[1]), opt_ptr(e, n, 3), (long long)opt_numel(e, n, 3), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* The int32 sums go to scratch, then requantized into y. */
static snt_status qc_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *y = &e->g->tensors[n->out[0]];
  snt_k_conv_desc k;
  desc_of(e->g, n, 3, &k);
  int64_t planes = k.batch * k.out_channels, inner = planes > 0 ? snt_tensor_numel(y) / planes : 0;
  snt_emit_line(e, "{");
  emit_desc(e, &k);
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_conv_integer(&d, %d, %s, (snt_k_zp){.v = %s, .n = 1}, %d, %s, "
                "(snt_k_zp){.v = %s, .n = %lldLL}, (int32_t *)S))) return snt_k_st_;",
                (int)e->g->tensors[n->in[0]].dtype, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[2]),
                (int)e->g->tensors[n->in[3]].dtype, snt_emit_ptr(e, n->in[3]), snt_emit_ptr(e, n->in[5]),
                (long long)opt_numel(e, n, 5));
  snt_emit_line(e, "  const snt_k_requant r = {.outer = %lldLL, .channels = %lldLL, .inner = %lldLL, .a_scale = *%s, "
                ".y_scale = *%s, .b_scale = %s, .n_b_scale = %lldLL, .yt = %d};", (long long)k.batch,
                (long long)k.out_channels, (long long)inner, snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->in[6]),
                snt_emit_ptr(e, n->in[4]), (long long)opt_numel(e, n, 4), (int)y->dtype);
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_requantize(&r, (const int32_t *)S, %s, %s, %s))) return snt_k_st_;", opt_ptr(e, n, 8),
                snt_emit_ptr(e, n->in[7]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static size_t qc_scratch(const snt_graph *g, const snt_node *n) {
  return (size_t)snt_tensor_numel(&g->tensors[n->out[0]]) * sizeof(int32_t);
}

static const snt_attr_range ranges[] = {
    {"kernel_shape", 1, SNT_MAX_ATTR}, {"strides", 1, SNT_MAX_ATTR}, {"dilations", 1, SNT_MAX_ATTR},
    {"pads", 0, SNT_MAX_ATTR}, {"group", 1, SNT_MAX_ATTR}, {0}};

#define INT8S (SNT_TY(SNT_U8) | SNT_TY(SNT_I8))

const snt_op snt_op_conv_integer = {
    .name = "conv_integer", .type_name = "ConvInteger", .default_layer = "conv_integer",
    .doc = "convolution of 8-bit integers minus their zero points, summed in INT32", .min_inputs = 4, .max_inputs = 4,
    .args = no_args, .infer = ci_infer, .onnx_type = "ConvInteger", .onnx_import = onnx_import, .emit = ci_emit,
    .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 4, 1, 1}, .onnx_ranges = ranges,
    .types = {.t = INT8S, .t_slots = 5u, .other = INT8S, .note = "exact INT32 sums (wrapping past INT32)"},
    .no_export = SNT_NO_EXPORT_YET};

const snt_op snt_op_qlinear_conv = {
    .name = "qlinear_conv", .type_name = "QLinearConv", .default_layer = "qlinear_conv",
    .doc = "quantized convolution: INT32 sums plus bias, requantized by x_scale * w_scale / y_scale", .min_inputs = 9,
    .max_inputs = 9, .args = no_args, .infer = qc_infer, .onnx_type = "QLinearConv", .onnx_import = onnx_import,
    .emit = qc_emit, .scratch = qc_scratch, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {8, 9, 1, 1}, .onnx_ranges = ranges,
    .types = {.t = INT8S, .t_slots = 5u, .other = INT8S | SNT_TY(SNT_F32) | SNT_TY(SNT_I32),
              .note = "exact INT32 sums, float32 requantization rounded half to even (ONNX Runtime's rule)"},
    .no_export = SNT_NO_EXPORT_YET};
