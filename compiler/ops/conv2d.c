/* conv2d: convolution over NCHW with 1 to 3 spatial dims (the DSL writes 2-D), groups,
 * dilation, Keras or ONNX padding, and a fused bias and activation. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compiler/autodiff.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/conv2d.h"
#include "compiler/ops/window.h"
#include "sinter/kernels_train.h"

static const snt_arg_spec args[] = {
    {"filters", SNT_ARG_INT, NULL, NULL},
    {"kernel", SNT_ARG_INT2, NULL, NULL},
    {"stride", SNT_ARG_INT2, "1", NULL},
    {"padding", SNT_ARG_PADDING, "valid", NULL},
    {"dilation", SNT_ARG_INT2, "1", NULL},
    {"groups", SNT_ARG_INT, "1", NULL},
    {"bias", SNT_ARG_BOOL, "true", NULL},
    {"activation", SNT_ARG_SYMBOL, "none", snt_activation_symbols},
    {"l2", SNT_ARG_FLOAT, "0", NULL},
    {0}};

/* Filters, groups and kernel size, checked against the input's channels. */
static snt_status read_attrs(snt_graph *g, int node, snt_diag *d, int64_t *filters, int64_t *groups, int64_t *k) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  if (x->rank < 3 || x->rank > 5) {
    char s[128];
    snt_shape_str(s, sizeof s, x, 1);
    return snt_node_error(g, n, d, "expects a 3-D input (channels, height, width), got shape %s", s);
  }
  int sp = x->rank - 2, cnt = 0;
  const int64_t *kv = snt_node_ints(n, "kernel", &cnt);
  if (!kv || (cnt != sp && cnt != 1)) return snt_node_error(g, n, d, "kernel must have %d sizes", sp);
  for (int i = 0; i < sp; i++) k[i] = cnt == 1 ? kv[0] : kv[i];
  *filters = snt_node_int(n, "filters", 0);
  *groups = snt_node_int(n, "groups", 1);
  if (*filters < 1) return snt_node_error(g, n, d, "filters must be positive, got %lld", (long long)*filters);
  if (*groups < 1) return snt_node_error(g, n, d, "groups must be positive, got %lld", (long long)*groups);
  double l2 = snt_node_float(n, "l2", 0);
  if (!(l2 >= 0)) return snt_node_error(g, n, d, "l2 must not be negative, got %g", l2);
  int64_t c = x->dims[1];
  if (c % *groups || *filters % *groups)
    return snt_node_error(g, n, d, "groups (%lld) must divide the input channels (%lld) and the filters (%lld)",
                          (long long)*groups, (long long)c, (long long)*filters);
  return SNT_OK;
}

static snt_status params(snt_graph *g, int node, snt_diag *d) {
  int64_t filters, groups, k[SNT_MAX_SPATIAL];
  snt_status st = read_attrs(g, node, d, &filters, &groups, k);
  if (st) return st;
  snt_tensor *x = snt_in(g, &g->nodes[node], 0);
  int64_t kdims[2 + SNT_MAX_SPATIAL] = {filters, x->dims[1] / groups};
  for (int i = 0; i < x->rank - 2; i++) kdims[2 + i] = k[i];
  if (snt_ir_add_param(g, node, "kernel", x->rank, kdims, true) < 0) return SNT_ERR_NOMEM;
  if (snt_node_int(&g->nodes[node], "bias", 1) && snt_ir_add_param(g, node, "bias", 1, &filters, true) < 0)
    return SNT_ERR_NOMEM;
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  int64_t filters, groups, k[SNT_MAX_SPATIAL];
  snt_status st = read_attrs(g, node, d, &filters, &groups, k);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *w = snt_in_opt(g, n, 1), *b = snt_in_opt(g, n, 2);
  if (w) {
    bool ok = w->rank == x->rank && w->dims[0] == filters && w->dims[1] == x->dims[1] / groups;
    for (int i = 0; ok && i < x->rank - 2; i++) ok = w->dims[2 + i] == k[i];
    if (!ok) {
      char s[128];
      snt_shape_str(s, sizeof s, w, 0);
      return snt_node_error(g, n, d, "kernel has shape %s, want (%lld, %lld, kernel sizes)", s, (long long)filters,
                            (long long)(x->dims[1] / groups));
    }
  }
  if (b && (b->rank != 1 || b->dims[0] != filters))
    return snt_node_error(g, n, d, "bias must have %lld values", (long long)filters);
  snt_window win;
  if ((st = snt_window_resolve(g, node, d, k, "kernel", &win))) return st;
  int64_t dims[SNT_MAX_RANK] = {x->dims[0], filters};
  for (int i = 0; i < win.spatial; i++) dims[2 + i] = win.out[i];
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return SNT_OK;
}

/* ONNX Conv: W is input 1 ([M, C/group, k...]), B input 2; kernel_shape is optional. */
static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *w = snt_in_opt(g, n, 1);
  if (!w || w->rank < 3) return snt_node_error(g, n, d, "needs a weight input of rank 3 to 5 (opset %d)", opset);
  snt_status st = snt_window_import(g, node, d, "kernel");
  if (!st && !snt_node_attr(n, "kernel")) st = snt_node_set_ints(n, "kernel", w->rank - 2, w->dims + 2);
  if (!st) st = snt_node_set_int(n, "filters", w->dims[0]);
  if (!st) st = snt_node_set_int(n, "groups", snt_node_int(n, "group", 1));
  if (!st) st = snt_node_set_int(n, "bias", snt_in_opt(g, n, 2) != NULL);
  return st;
}

static snt_k_act_kind act_kind(const char *a) {
  if (strcmp(a, "relu") == 0) return SNT_K_ACT_RELU;
  if (strcmp(a, "sigmoid") == 0) return SNT_K_ACT_SIGMOID;
  if (strcmp(a, "tanh") == 0) return SNT_K_ACT_TANH;
  /* the rest are fused by snt_pass_fuse_activation: Clip, x * Sigmoid(x), HardSigmoid, HardSwish, Mish */
  if (strcmp(a, "clip") == 0) return SNT_K_ACT_CLIP;
  if (strcmp(a, "silu") == 0) return SNT_K_ACT_SILU;
  if (strcmp(a, "hard_sigmoid") == 0) return SNT_K_ACT_HARD_SIGMOID;
  if (strcmp(a, "hard_swish") == 0) return SNT_K_ACT_HARD_SWISH;
  if (strcmp(a, "mish") == 0) return SNT_K_ACT_MISH;
  if (strcmp(a, "gelu") == 0) return SNT_K_ACT_GELU; /* fused into a matmul only */
  return SNT_K_ACT_NONE;
}

/* The names of a conv's activation attributes; snt_conv2d_act reads them with a prefix. */
const char *const snt_conv2d_act_attrs[SNT_CONV2D_ACT_ATTRS] = {"activation", "clip_min", "clip_max", "act_alpha",
                                                                "act_beta"};

snt_k_act snt_conv2d_act(const snt_node *n, const char *prefix) {
  char key[SNT_CONV2D_ACT_ATTRS][48];
  for (int i = 0; i < SNT_CONV2D_ACT_ATTRS; i++) snprintf(key[i], sizeof key[i], "%s%s", prefix, snt_conv2d_act_attrs[i]);
  snt_k_act a = {act_kind(snt_node_string(n, key[0], "none")), (float)snt_node_float(n, key[3], 0),
                 (float)snt_node_float(n, key[1], -INFINITY), (float)snt_node_float(n, key[2], INFINITY),
                 (float)snt_node_float(n, key[4], 0)};
  return a;
}

snt_status snt_conv2d_desc(const snt_graph *g, const snt_node *n, snt_k_conv_desc *k) {
  const snt_tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
  int c = 0, ck = 0, sp = x->rank - 2;
  const int64_t *kv = snt_node_ints(n, "kernel", &ck), *pads = snt_node_ints(n, "resolved_pads", &c);
  int cs = 0, cd = 0;
  const int64_t *s = snt_node_ints(n, "stride", &cs), *dl = snt_node_ints(n, "dilation", &cd);
  memset(k, 0, sizeof *k);
  k->spatial = sp;
  k->batch = x->dims[0];
  k->in_channels = x->dims[1];
  k->out_channels = y->dims[1];
  k->groups = snt_node_int(n, "groups", 1);
  for (int i = 0; i < sp; i++) {
    k->in[i] = x->dims[2 + i];
    k->out[i] = y->dims[2 + i];
    k->kernel[i] = kv[ck == sp ? i : 0];
    k->stride[i] = s && cs == sp ? s[i] : 1;
    k->dilation[i] = dl && cd == sp ? dl[i] : 1;
    k->pad_begin[i] = pads[i];
    k->pad_end[i] = pads[sp + i];
  }
  k->act = snt_conv2d_act(n, "");
  return SNT_OK;
}

static snt_status make_desc(const snt_graph *g, const snt_node *n, snt_k_conv_desc *k) { return snt_conv2d_desc(g, n, k); }

static size_t scratch(const snt_graph *g, const snt_node *n) {
  snt_k_conv_desc k;
  make_desc(g, n, &k);
  return g->tensors[n->in[0]].dtype == SNT_F64 ? 0 : snt_k_conv_scratch_bytes(&k);
}


/* k as snt_emit_conv_desc writes it, with_act: k's activation, else none (a gradient's). */
static const char *desc_init(snt_emit *e, const snt_k_conv_desc *k, const char *batch, bool with_act) {
  snt_k_conv_desc c = *k;
  if (!with_act) c.act = (snt_k_act){0};
  return snt_emit_conv_desc(e, &c, batch);
}

/* Weights packed once (`packed` bytes of m->packed, 0 or SIZE_MAX: none): declares P, packs
 * into it at the first run after create or set_weights; the pointer to pass, "P" or "NULL". */
static const char *emit_packed(snt_emit *e, const snt_node *n, size_t packed) {
  if (!packed || packed == SIZE_MAX) return "NULL";
  snt_emit_line(e, "float *P = (float *)(m->packed + %zu);", e->packed_bytes);
  snt_emit_line(e, "if (m->packed_for != m->weights && SNT_K_FAILED(snt_k_conv_pack_weights(m->k, &d, %s, P))) return snt_k_st_;",
                snt_emit_ptr(e, n->in[1]));
  e->packed_bytes += (packed + 63) / 64 * 64;
  return "P";
}

/* The max pool snt_pass_fuse_conv_pool gave the conv (attributes mp_*): its descriptor MP over
 * d's output, the pad value MF of a folded constant pad, and the call writing out[1]. */
static void emit_conv_maxpool(snt_emit *e, const snt_node *n, const char *packed, const char *bias) {
  const snt_tensor *y = &e->g->tensors[n->out[0]], *p = &e->g->tensors[n->out[1]];
  int c = 0;
  const int64_t *k = snt_node_ints(n, "mp_kernel", &c), *s = snt_node_ints(n, "mp_stride", &c);
  const int64_t *dl = snt_node_ints(n, "mp_dilation", &c), *pads = snt_node_ints(n, "mp_pads", &c);
  snt_emit_line(e, "const snt_k_pool_desc MP = {.spatial = 2, .kind = SNT_K_POOL_MAX, .batch = d.batch, .channels = %lld, "
                   ".in = {%lld, %lld}, .out = {%lld, %lld}, .kernel = {%lld, %lld}, .stride = {%lld, %lld}, "
                   ".dilation = {%lld, %lld}, .pad_begin = {%lld, %lld}, .pad_end = {%lld, %lld}};",
                (long long)y->dims[1], (long long)y->dims[2], (long long)y->dims[3], (long long)p->dims[2],
                (long long)p->dims[3], (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1],
                (long long)dl[0], (long long)dl[1], (long long)pads[0], (long long)pads[1], (long long)pads[2],
                (long long)pads[3]);
  bool fill = snt_node_int(n, "mp_fill", 0);
  if (fill) snt_emit_line(e, "static const float MF = (float)%s;", snt_emit_f64(e, (float)snt_node_float(n, "mp_value", 0)));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_conv_maxpool(m->k, &d, &MP, %s, %s, %s, %s, %s, %s, %s))) return snt_k_st_;",
                fill ? "&MF" : "NULL", snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]), packed, bias,
                snt_emit_ptr(e, n->out[0]), snt_emit_ptr(e, n->out[1]));
}

/* A reader of a BF16 tap (snt_pass_bf16_taps, "x_bf16"): the call that reads the tap's
 * bfloat16 values while the context runs BF16, as the head of an if-else whose else is the
 * float call the caller writes next. */
static void emit_bf16_in(snt_emit *e, const snt_node *n, const char *tap, bool residual) {
  if (!snt_node_int(n, "x_bf16", 0)) return;
  snt_graph *g = (snt_graph *)e->g;
  snt_emit_line(e, "if (snt_k_ctx_runs_bf16(m->k)) {");
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_conv_bf16_in(m->k, &d, (const uint16_t *)%s, %s, %s, %s, %s, %s, S))) return snt_k_st_;",
                snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]), snt_in_opt(g, n, 2) ? snt_emit_ptr(e, n->in[2]) : "NULL",
                residual ? snt_emit_ptr(e, n->in[3]) : "NULL", snt_emit_ptr(e, n->out[0]), tap);
  snt_emit_line(e, "} else");
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_k_conv_desc k;
  make_desc(e->g, n, &k);
  snt_graph *g = (snt_graph *)e->g;
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s snt_k_conv_desc d = %s;", e->step || snt_emit_rows_dyn(e, n->in[0]) ? "const" : "static const",
                desc_init(e, &k, e->step ? "n" : snt_emit_rows(e, n->in[0]), true));
  bool residual = snt_node_int(n, "residual", 0) && n->n_in > 3 && n->in[3] >= 0;
  bool f64 = g->tensors[n->in[0]].dtype == SNT_F64; /* double kernel: no scratch */
  int tap_s = snt_node_param(g, n, "tap_scale"), tap_t = snt_node_param(g, n, "tap_shift");
  /* Inference with weights from the blob: packed for the GEMM once, at the first run after
   * create or set_weights (m->packed_for), not on every run. Not for training's models, whose
   * weights change every step: a packed copy would only add to the training's memory. */
  size_t packed = f64 || e->step || e->no_pack || e->plan->places[n->in[1]].kind != SNT_PLACE_WEIGHTS ? 0 : snt_k_conv_packed_weights_bytes(&k);
  if (tap_s >= 0 && tap_t >= 0 && n->n_out > 1 && !f64) { /* the batchnorm of snt_pass_fuse_bn_tap */
    /* snt_pass_bf16_taps: the readers take the tap in bfloat16 whenever the context runs BF16 */
    snt_emit_line(e, "const snt_k_conv_tap T = {.scale = %s, .shift = %s, .out = %s, .relu = %d, .bf16 = %s};",
                  snt_emit_ptr(e, tap_s), snt_emit_ptr(e, tap_t), snt_emit_ptr(e, n->out[1]),
                  (int)snt_node_int(n, "tap_relu", 0), snt_node_int(n, "tap_bf16", 0) ? "snt_k_ctx_runs_bf16(m->k)" : "0");
    const char *pk = emit_packed(e, n, packed);
    emit_bf16_in(e, n, "&T", residual);
    snt_emit_line(e, "if (SNT_K_FAILED(snt_k_conv_tapped(m->k, &d, %s, %s, %s, %s, %s, %s, &T, S))) return snt_k_st_;",
                  snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]), pk,
                  snt_in_opt(g, n, 2) ? snt_emit_ptr(e, n->in[2]) : "NULL", residual ? snt_emit_ptr(e, n->in[3]) : "NULL",
                  snt_emit_ptr(e, n->out[0]));
  } else if (snt_node_int(n, "pool2", 0) && n->n_out > 1 && !f64) { /* snt_pass_fuse_conv_pool */
    const char *pk = emit_packed(e, n, packed);
    snt_emit_line(e, "if (SNT_K_FAILED(snt_k_conv_pool2(m->k, &d, %s, %s, %s, %s, %s, %s))) return snt_k_st_;",
                  snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]), pk,
                  snt_in_opt(g, n, 2) ? snt_emit_ptr(e, n->in[2]) : "NULL", snt_emit_ptr(e, n->out[0]),
                  snt_emit_ptr(e, n->out[1]));
  } else if (snt_node_int(n, "maxpool", 0) && n->n_out > 1 && !f64) { /* snt_pass_fuse_conv_pool */
    const char *pk = emit_packed(e, n, packed);
    emit_conv_maxpool(e, n, pk, snt_in_opt(g, n, 2) ? snt_emit_ptr(e, n->in[2]) : "NULL");
  } else if (packed && packed != SIZE_MAX) {
    emit_packed(e, n, packed);
    emit_bf16_in(e, n, "NULL", residual);
    snt_emit_line(e, "if (SNT_K_FAILED(snt_k_conv_packed(m->k, &d, %s, %s, P, %s, %s, %s, S))) return snt_k_st_;",
                  snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]), snt_in_opt(g, n, 2) ? snt_emit_ptr(e, n->in[2]) : "NULL",
                  residual ? snt_emit_ptr(e, n->in[3]) : "NULL", snt_emit_ptr(e, n->out[0]));
  } else {
    if (!f64) emit_bf16_in(e, n, "NULL", residual);
    snt_emit_line(e, "if (SNT_K_FAILED(snt_k_conv%s(%s&d, %s, %s, %s, %s, %s%s))) return snt_k_st_;", f64 ? "_f64" : "",
                  f64 ? "" : "m->k, ", snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]),
                  snt_in_opt(g, n, 2) ? snt_emit_ptr(e, n->in[2]) : "NULL", residual ? snt_emit_ptr(e, n->in[3]) : "NULL",
                  snt_emit_ptr(e, n->out[0]), f64 ? "" : ", S");
  }
  snt_emit_line(e, "}");
  if (strcmp(snt_node_string(n, "activation", "none"), "softmax") == 0) {
    const snt_tensor *y = &e->g->tensors[n->out[0]];
    snt_emit_line(e, "snt_k_softmax(%s, %lld, %lld, %s, %s);", snt_emit_rows(e, n->out[0]), (long long)y->dims[1],
                  (long long)(snt_tensor_numel(y) / y->dims[0] / y->dims[1]), snt_emit_ptr(e, n->out[0]),
                  snt_emit_ptr(e, n->out[0]));
  }
  return SNT_OK;
}

/* bench --profile: the path snt_k_conv takes for this layer, asked at run time. */
static const char *kernel_name(snt_emit *e, int node) {
  snt_k_conv_desc k;
  make_desc(e->g, &e->g->nodes[node], &k);
  if (e->g->tensors[e->g->nodes[node].in[0]].dtype == SNT_F64) return "\"conv-f64\"";
  const snt_node *n = &e->g->nodes[node];
  const char *which = snt_node_int(n, "pool2", 0) ? "_pool2" : snt_node_int(n, "maxpool", 0) ? "_maxpool" : "";
  char batch[32];
  snprintf(batch, sizeof batch, "%lldLL", (long long)k.batch);
  const char *call = snt_format_keep(e, "snt_k_conv%s_kernel(m->k, &(const snt_k_conv_desc)%s)", which, desc_init(e, &k, batch, true));
  if (snt_node_int(n, "x_bf16", 0)) /* emit_bf16_in's call: the BF16 GEMM on the tap's bfloat16 values */
    return snt_format_keep(e, "(snt_k_ctx_runs_bf16(m->k) ? \"conv-gemm-bf16-1x1-bf16in\" : %s)", call);
  return call;
}

static double flops(const snt_graph *g, const snt_node *n) {
  const snt_tensor *y = &g->tensors[n->out[0]], *x = &g->tensors[n->in[0]];
  int cnt = 0;
  const int64_t *k = snt_node_ints(n, "kernel", &cnt);
  double per_out = (double)(x->dims[1] / snt_node_int(n, "groups", 1));
  for (int i = 0; i < x->rank - 2; i++) per_out *= (double)k[i < cnt ? i : 0];
  return 2.0 * per_out * (double)(snt_tensor_numel(y) / y->dims[0]);
}

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  snt_k_conv_desc k;
  make_desc(g, n, &k);
  const char *ins[3] = {snt_ox_name(x, n->in[0]), snt_ox_name(x, n->in[1]), n->n_in > 2 ? snt_ox_name(x, n->in[2]) : NULL};
  const char *pre = snt_ox_pre_activation(x, g, n);
  int c = snt_ox_node(x, "Conv", n->name, n->n_in > 2 ? 3 : 2, ins, pre);
  int64_t pads[2 * SNT_MAX_SPATIAL];
  for (int i = 0; i < k.spatial; i++) pads[i] = k.pad_begin[i], pads[k.spatial + i] = k.pad_end[i];
  snt_ox_attr_ints(x, c, "kernel_shape", k.spatial, k.kernel);
  snt_ox_attr_ints(x, c, "strides", k.spatial, k.stride);
  snt_ox_attr_ints(x, c, "dilations", k.spatial, k.dilation);
  snt_ox_attr_ints(x, c, "pads", 2 * k.spatial, pads);
  snt_ox_attr_int(x, c, "group", k.groups);
  return c < 0 ? SNT_ERR_NOMEM : snt_ox_activation(x, g, n, pre);
}

/* ---- training: dx = conv_backward_data(dy, w); dw, db = conv_backward_filter(x, dy) ---- */

/* The forward node's geometry, over the n samples of the step. */
static void emit_desc(snt_emit *e, const snt_node *b) {
  snt_k_conv_desc k;
  make_desc(e->g, snt_ad_fwd(e->g, b), &k);
  snt_emit_line(e, "const snt_k_conv_desc d = %s;", desc_init(e, &k, snt_emit_batch(e), false));
}

static size_t grad_scratch(const snt_graph *g, const snt_node *n) {
  snt_k_conv_desc k;
  make_desc(g, snt_ad_fwd(g, n), &k);
  return snt_k_conv_backward_scratch_bytes(&k);
}

static snt_status emit_grad_input(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_emit_line(e, "{");
  emit_desc(e, n);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_conv_backward_data(m->k, &d, %s, %s, %s, S))) return snt_k_st_;", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status emit_grad_kernel(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_emit_line(e, "{");
  emit_desc(e, n);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_conv_backward_filter(m->k, &d, %s, %s, %s, %s, S))) return snt_k_st_;", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->out[0]), n->n_out > 1 ? snt_emit_ptr(e, n->out[1]) : "NULL");
  snt_emit_line(e, "}");
  return SNT_OK;
}

static const snt_arg_spec no_args[] = {{0}};
/* A gradient (data or kernel) costs the multiply-adds of its forward layer: profiles count it so. */
static double grad_flops(const snt_graph *g, const snt_node *b) {
  const snt_node *f = snt_ad_fwd(g, b);
  return f ? flops(g, f) : 0.0;
}
/* bench and train --profile: the path each gradient takes, asked at run time. */
static const char *grad_kernel_name(snt_emit *e, int node, const char *fn) {
  snt_k_conv_desc k;
  make_desc(e->g, snt_ad_fwd(e->g, &e->g->nodes[node]), &k);
  char batch[32];
  snprintf(batch, sizeof batch, "%lldLL", (long long)k.batch);
  return snt_format_keep(e, "%s(m->k, &(const snt_k_conv_desc)%s)", fn, desc_init(e, &k, batch, false));
}
static const char *grad_input_kernel(snt_emit *e, int node) {
  return grad_kernel_name(e, node, "snt_k_conv_backward_data_kernel");
}
static const char *grad_filter_kernel(snt_emit *e, int node) {
  return grad_kernel_name(e, node, "snt_k_conv_backward_filter_kernel");
}
static const snt_op conv2d_grad_input = {
    .name = "conv2d_grad_input", .type_name = "Conv2DGrad", .default_layer = "grad", .doc = "gradient of conv2d's input",
    .args = no_args, .emit = emit_grad_input, .scratch = grad_scratch, .flops = grad_flops,
    .kernel_name = grad_input_kernel};
static const snt_op conv2d_grad_kernel = {
    .name = "conv2d_grad_kernel", .type_name = "Conv2DGrad", .default_layer = "grad", .doc = "gradient of conv2d's kernel and bias",
    .args = no_args, .emit = emit_grad_kernel, .scratch = grad_scratch, .flops = grad_flops,
    .kernel_name = grad_filter_kernel};

/* y = act(conv(x) + residual): the residual's gradient is the conv output's, act' applied. */
static snt_status grad(snt_ad *ad, int node) {
  snt_status st = snt_ad_layer_grad(ad, node, &conv2d_grad_input, &conv2d_grad_kernel);
  const snt_node *n = &ad->g->nodes[node];
  if (st || !snt_node_int(n, "residual", 0) || !snt_ad_needs(ad, n->in[3])) return st;
  int dy = snt_ad_act_grad(ad, node, snt_ad_grad(ad, n->out[0]));
  return dy < 0 ? SNT_ERR_NOMEM : snt_ad_accumulate(ad, n->in[3], dy);
}

static const char *const roles[] = {NULL, "kernel", "bias", NULL};

/* Samples stay apart; the fused residual (input 3) carries the batch like x. */
static bool rows(const snt_graph *g, const snt_node *n, const bool *r) { return snt_rows_slots(g, n, r, 1u | 8u); }

/* ONNX attribute ranges (compiler/onnx/validate.c). */
static const snt_attr_range conv_ranges[] = {
    {"kernel_shape", 1, SNT_MAX_ATTR}, {"strides", 1, SNT_MAX_ATTR}, {"dilations", 1, SNT_MAX_ATTR},
    {"pads", 0, SNT_MAX_ATTR}, {"group", 1, SNT_MAX_ATTR}, {0}};

static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_graph *g = w->g;
  const snt_node *n = &g->nodes[node];
  FILE *f = w->out;
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  if (g->tensors[n->in[0]].rank != 4 || !snt_dsl_is_param(g, n, 1))
    return snt_dsl_unsupported(w, n, "2-D convolutions with constant weights only");
  int c = 0, cs = 0, cd = 0;
  const int64_t *k = snt_node_ints(n, "kernel", &c), *p = snt_node_ints(n, "resolved_pads", &c);
  const int64_t *s = snt_node_ints(n, "stride", &cs), *dl = snt_node_ints(n, "dilation", &cd);
  int64_t one[2] = {1, 1};
  fprintf(f, "  %s = conv2d(%s, %lld, ", lhs, in, (long long)snt_node_int(n, "filters", 0));
  snt_dsl_ints(f, k, 2);
  fprintf(f, ", stride = ");
  snt_dsl_ints(f, s && cs == 2 ? s : one, 2);
  fprintf(f, ", padding = ");
  snt_dsl_ints(f, p, 4);
  fprintf(f, ", dilation = ");
  snt_dsl_ints(f, dl && cd == 2 ? dl : one, 2);
  fprintf(f, ", groups = %lld, bias = %s, name = %s)\n", (long long)snt_node_int(n, "groups", 1),
          snt_dsl_is_param(g, n, 2) ? "true" : "false", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

const snt_op snt_op_conv2d = {
    .name = "conv2d", .type_name = "Conv2D", .default_layer = "conv2d",
    .doc = "2-D convolution: conv2d(x, filters, kernel, stride=1, padding=valid, dilation=1, groups=1, bias=true, activation=none, l2=0)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .params = params, .infer = infer, .flops = flops,
    .onnx_type = "Conv", .onnx_import = onnx_import, .onnx_roles = roles, .onnx_export = onnx_export, .emit = emit, .to_dsl = to_dsl, .scratch = scratch,
    .kernel_name = kernel_name, .grad = grad, .batch_rows = rows,
    .onnx_arity = {2, 3, 1, 1}, .onnx_ranges = conv_ranges, .types = SNT_TYPES_LOOP_F64(7)};
