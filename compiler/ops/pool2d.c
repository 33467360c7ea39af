/* maxpool and avgpool over 1 to 3 spatial dims (the DSL writes 2-D). Keras's default
 * stride is the pool size (ONNX's is 1); 'same' average pooling divides by the number
 * of real (unpadded) pixels unless count_include_pad is set. */
#include <string.h>

#include "compiler/autodiff.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/window.h"
#include "sinter/kernels_train.h"

/* The two records this file defines (below); rules shared by both tell them apart. */
extern const snt_op snt_op_maxpool, snt_op_avgpool;

/* ceil_mode (ONNX's, PyTorch's): a last window that starts inside the padded input counts. */
static const snt_arg_spec max_args[] = {
    {"pool", SNT_ARG_INT2, "2", NULL},
    {"stride", SNT_ARG_INT2, "0", NULL}, /* 0: the pool size */
    {"padding", SNT_ARG_PADDING, "valid", NULL},
    {"ceil_mode", SNT_ARG_BOOL, "false", NULL},
    {0}};

static const snt_arg_spec avg_args[] = {
    {"pool", SNT_ARG_INT2, "2", NULL},
    {"stride", SNT_ARG_INT2, "0", NULL},
    {"padding", SNT_ARG_PADDING, "valid", NULL},
    {"count_include_pad", SNT_ARG_BOOL, "false", NULL},
    {"ceil_mode", SNT_ARG_BOOL, "false", NULL},
    {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int sp = x->rank - 2, c = 0;
  if (sp < 1 || sp > SNT_MAX_SPATIAL) {
    char s[128];
    snt_shape_str(s, sizeof s, x, 1);
    return snt_node_error(g, n, d, "expects a 3-D input (channels, height, width), got shape %s", s);
  }
  const int64_t *kv = snt_node_ints(n, "pool", &c);
  int64_t k[SNT_MAX_SPATIAL];
  if (!kv || (c != sp && c != 1)) return snt_node_error(g, n, d, "pool must have %d sizes", sp);
  for (int i = 0; i < sp; i++) {
    k[i] = kv[c == 1 ? 0 : i];
    if (k[i] < 1) return snt_node_error(g, n, d, "pool must be positive");
  }
  /* A stride of 0 (the DSL's default) means the pool size, as in Keras. */
  int cs = 0;
  const int64_t *s = snt_node_ints(n, "stride", &cs);
  if (s && cs == sp) {
    int64_t st[SNT_MAX_SPATIAL];
    for (int i = 0; i < sp; i++) st[i] = s[i] ? s[i] : k[i];
    snt_status r = snt_node_set_ints(n, "stride", sp, st);
    if (r) return r;
  }
  snt_window w;
  snt_status st = snt_window_resolve(g, node, d, k, "pool", &w);
  if (st) return st;
  int64_t dims[SNT_MAX_RANK] = {x->dims[0], x->dims[1]};
  for (int i = 0; i < sp; i++) dims[2 + i] = w.out[i];
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  if (n->n_out > 1) snt_set_output(g, node, 1, SNT_I64, x->rank, dims); /* MaxPool's Indices */
  return SNT_OK;
}

snt_status snt_pool_onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int sp = snt_in(g, n, 0)->rank - 2;
  if (!snt_node_attr(n, "kernel_shape")) return snt_node_error(g, n, d, "needs kernel_shape (opset %d)", opset);
  snt_status st = snt_window_import(g, node, d, "pool");
  if (!st && !snt_node_attr(n, "stride") && sp >= 1 && sp <= SNT_MAX_SPATIAL) { /* ONNX's default: 1 */
    int64_t ones[SNT_MAX_SPATIAL] = {1, 1, 1};
    st = snt_node_set_ints(n, "stride", sp, ones);
  }
  return st;
}

/* 2-D max pooling whose windows all lie inside the input, with a row stride above 2 (which
 * snt_k_pool_ctx does not vectorise) or rows under 16 outputs (one masked AVX-512 block each,
 * measured slower than these loops): loops with constant bounds that the compiler unrolls. */
static bool emit_fast_max(snt_emit *e, const snt_node *n, const int64_t *k, const int64_t *st, const int64_t *dil,
                          const int64_t *pb, const int64_t *pe) {
  const snt_tensor *x = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  if (x->rank != 4 || n->n_out > 1 || dil[0] != 1 || dil[1] != 1 || pb[0] || pb[1] || pe[0] || pe[1]) return false;
  int64_t h = x->dims[2], w = x->dims[3], oh = y->dims[2], ow = y->dims[3];
  if (st[1] <= 2 && ow >= 16) return false;
  if ((oh - 1) * st[0] + k[0] > h || (ow - 1) * st[1] + k[1] > w) return false;
  snt_emit_line(e, "{");
  snt_emit_line(e, "const float *x = %s;", snt_emit_ptr(e, n->in[0]));
  snt_emit_line(e, "float *y = %s;", snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "for (int64_t p = 0; p < %s * %lldLL; p++) {", snt_emit_rows(e, n->in[0]), (long long)x->dims[1]);
  snt_emit_line(e, "  const float *xp = x + p * %lld;", (long long)(h * w));
  snt_emit_line(e, "  float *yp = y + p * %lld;", (long long)(oh * ow));
  snt_emit_line(e, "  for (int64_t i = 0; i < %lld; i++)", (long long)oh);
  snt_emit_line(e, "    for (int64_t j = 0; j < %lld; j++) {", (long long)ow);
  snt_emit_line(e, "      const float *r = xp + i * %lld + j * %lld;", (long long)(st[0] * w), (long long)st[1]);
  snt_emit_line(e, "      float m = r[0];");
  snt_emit_line(e, "      for (int a = 0; a < %lld; a++)", (long long)k[0]);
  snt_emit_line(e, "        for (int b = 0; b < %lld; b++) m = r[a * %lld + b] > m ? r[a * %lld + b] : m;", (long long)k[1],
                (long long)w, (long long)w);
  snt_emit_line(e, "      yp[i * %lld + j] = m;", (long long)ow);
  snt_emit_line(e, "    }");
  snt_emit_line(e, "}");
  snt_emit_line(e, "}");
  return true;
}

/* The batch, channels and window arrays of a snt_k_pool_desc, as designated initializer text. */
static const char *geometry(snt_emit *e, const char *batch, int64_t channels, const int64_t *in,
                            const int64_t *out, const int64_t *k, const int64_t *st, const int64_t *dil,
                            const int64_t *pb, const int64_t *pe) {
  return snt_format_keep(e, ".batch = %s, .channels = %lld, .in = %s, .out = %s, .kernel = %s, .stride = %s, "
                         ".dilation = %s, .pad_begin = %s, .pad_end = %s", batch, (long long)channels,
                         snt_emit_ints(e, in, 3), snt_emit_ints(e, out, 3), snt_emit_ints(e, k, 3),
                         snt_emit_ints(e, st, 3), snt_emit_ints(e, dil, 3), snt_emit_ints(e, pb, 3),
                         snt_emit_ints(e, pe, 3));
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  int sp = x->rank - 2, c = 0;
  const int64_t *kv = snt_node_ints(n, "pool", &c), *pads = snt_node_ints(n, "resolved_pads", &c);
  int cs = 0, cd = 0;
  const int64_t *s = snt_node_ints(n, "stride", &cs), *dl = snt_node_ints(n, "dilation", &cd);
  int64_t in[3] = {0}, out[3] = {0}, k[3] = {0}, st[3] = {0}, dil[3] = {0}, pb[3] = {0}, pe[3] = {0};
  int ck = 0;
  snt_node_ints(n, "pool", &ck);
  for (int i = 0; i < sp; i++) {
    in[i] = x->dims[2 + i], out[i] = y->dims[2 + i], k[i] = kv[ck == 1 ? 0 : i];
    st[i] = s && cs == sp ? s[i] : 1, dil[i] = dl && cd == sp ? dl[i] : 1, pb[i] = pads[i], pe[i] = pads[sp + i];
  }
  bool is_max = n->op == &snt_op_maxpool;
  bool f64 = x->dtype == SNT_F64; /* the double kernel of runtime/kernels/f64.c */
  if (f64 && snt_node_int(n, "pad_fill", 0)) return SNT_ERR_INTERNAL; /* the pass folds float32 pads only */
  if (is_max && sp == 2 && !f64 && emit_fast_max(e, n, k, st, dil, pb, pe)) return SNT_OK;
  snt_emit_line(e, "{");
  /* storage_order: MaxPool's Indices in column-major order over the spatial axes (ONNX opset 8 on). */
  snt_emit_line(e, "%s snt_k_pool_desc d = {.spatial = %d, .kind = %s, .count_include_pad = %d, .storage_order = %d, "
                "%s};", snt_emit_const(e, n->in[0]), sp, is_max ? "SNT_K_POOL_MAX" : "SNT_K_POOL_AVG",
                (int)snt_node_int(n, "count_include_pad", 0), (int)snt_node_int(n, "storage_order", 0),
                geometry(e, snt_emit_rows(e, n->in[0]), x->dims[1], in, out, k, st, dil, pb, pe));
  if (is_max && snt_node_int(n, "pad_fill", 0)) { /* a constant pad folded in (passes/fold_pad.c) */
    snt_emit_line(e, "if (SNT_K_FAILED(snt_k_maxpool_filled(m->k, &d, (float)%s, %s, %s))) return snt_k_st_;",
                  snt_emit_f64(e, (float)snt_node_float(n, "pad_value", 0)), snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
    snt_emit_line(e, "}");
    return SNT_OK;
  }
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_pool_%s&d, %s, %s, %s))) return snt_k_st_;", f64 ? "f64(" : "ctx(m->k, ", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->out[0]), n->n_out > 1 ? snt_emit_ptr(e, n->out[1]) : "NULL");
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const snt_tensor *xt = &g->tensors[n->in[0]];
  int sp = xt->rank - 2, c = 0, cs = 0, ck = 0;
  const int64_t *pads = snt_node_ints(n, "resolved_pads", &c), *s = snt_node_ints(n, "stride", &cs), *kv = snt_node_ints(n, "pool", &ck);
  int cd = 0;
  const int64_t *dl = snt_node_ints(n, "dilation", &cd);
  int64_t k[3], st[3], dil[3];
  bool dilated = false;
  for (int i = 0; i < sp; i++) {
    k[i] = kv[ck == 1 ? 0 : i], st[i] = s && cs == sp ? s[i] : 1, dil[i] = dl && cd == sp ? dl[i] : 1;
    dilated |= dil[i] != 1;
  }
  const char *in = snt_ox_name(x, n->in[0]);
  bool is_max = n->op == &snt_op_maxpool;
  if (is_max && snt_node_int(n, "pad_fill", 0)) return snt_ox_refuse(x, node, "a max pool with a folded constant pad");
  if (dilated && !is_max && snt_ox_opset(x) < 19) return snt_ox_refuse(x, node, "a dilated average pool is AveragePool-19's");
  int o = snt_ox_node(x, is_max ? "MaxPool" : "AveragePool", n->name, 1, &in, snt_ox_name(x, n->out[0]));
  snt_ox_attr_ints(x, o, "kernel_shape", sp, k);
  snt_ox_attr_ints(x, o, "strides", sp, st);
  snt_ox_attr_ints(x, o, "pads", 2 * sp, pads);
  if (dilated) snt_ox_attr_ints(x, o, "dilations", sp, dil);
  if (snt_node_int(n, "ceil_mode", 0)) snt_ox_attr_int(x, o, "ceil_mode", 1);
  if (!is_max) snt_ox_attr_int(x, o, "count_include_pad", snt_node_int(n, "count_include_pad", 0));
  return o < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

/* ---- training: dx from the forward node's windows (the max's position, or the average's share) ---- */

static snt_status emit_grad(snt_emit *e, int node) {
  const snt_node *b = &e->g->nodes[node], *n = snt_ad_fwd(e->g, b);
  const snt_tensor *x = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  int sp = x->rank - 2, c = 0, cs = 0, cd = 0, ck = 0;
  const int64_t *kv = snt_node_ints(n, "pool", &ck), *pads = snt_node_ints(n, "resolved_pads", &c);
  const int64_t *s = snt_node_ints(n, "stride", &cs), *dl = snt_node_ints(n, "dilation", &cd);
  int64_t in[3] = {0}, out[3] = {0}, k[3] = {0}, st[3] = {0}, dil[3] = {0}, pb[3] = {0}, pe[3] = {0};
  for (int i = 0; i < sp; i++) {
    in[i] = x->dims[2 + i], out[i] = y->dims[2 + i], k[i] = kv[ck == 1 ? 0 : i];
    st[i] = s && cs == sp ? s[i] : 1, dil[i] = dl && cd == sp ? dl[i] : 1, pb[i] = pads[i], pe[i] = pads[sp + i];
  }
  bool is_max = n->op == &snt_op_maxpool;
  snt_emit_line(e, "{");
  snt_emit_line(e, "const snt_k_pool_desc d = {.spatial = %d, .kind = %s, .count_include_pad = %d, .storage_order = 0, "
                "%s};", sp, is_max ? "SNT_K_POOL_MAX" : "SNT_K_POOL_AVG", (int)snt_node_int(n, "count_include_pad", 0),
                geometry(e, snt_emit_batch(e), x->dims[1], in, out, k, st, dil, pb, pe));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_pool_backward(&d, %s, %s, %s))) return snt_k_st_;", snt_emit_ptr(e, b->in[0]),
                snt_emit_ptr(e, b->in[1]), snt_emit_ptr(e, b->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static const snt_arg_spec no_args[] = {{0}};
static const snt_op pool_grad = {.name = "pool_grad", .type_name = "PoolGrad", .default_layer = "grad",
                                 .doc = "gradient of max or average pooling", .args = no_args, .emit = emit_grad};

static snt_status grad(snt_ad *ad, int node) {
  const snt_node *n = &ad->g->nodes[node];
  int ins[2] = {n->in[0], snt_ad_grad(ad, n->out[0])};
  return snt_ad_input_grad(ad, &pool_grad, node, 2, ins);
}

/* ONNX attribute ranges (compiler/onnx/validate.c). */
static const snt_attr_range max_ranges[] = {
    {"kernel_shape", 1, SNT_MAX_ATTR}, {"strides", 1, SNT_MAX_ATTR}, {"dilations", 1, SNT_MAX_ATTR},
    {"pads", 0, SNT_MAX_ATTR}, {"ceil_mode", 0, 1}, {"storage_order", 0, 1}, {0}};

/* maxpool and avgpool in the DSL (sinter import). */
static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  const char *op = n->op->name;
  FILE *f = w->out;
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  if (w->g->tensors[n->in[0]].rank != 4 || n->n_out > 1)
    return snt_dsl_unsupported(w, n, "2-D pooling without indices only");
  int c = 0, cs = 0, cd = 0;
  const int64_t *dl = snt_node_ints(n, "dilation", &cd);
  for (int i = 0; dl && i < cd; i++)
    if (dl[i] != 1) return snt_dsl_unsupported(w, n, "the DSL's pools have no dilation");
  const int64_t *k = snt_node_ints(n, "pool", &c), *p = snt_node_ints(n, "resolved_pads", &c), *s = snt_node_ints(n, "stride", &cs);
  fprintf(f, "  %s = %s(%s, ", lhs, op, in);
  snt_dsl_ints(f, k, 2);
  fprintf(f, ", stride = ");
  snt_dsl_ints(f, s, 2);
  fprintf(f, ", padding = ");
  snt_dsl_ints(f, p, 4);
  if (n->op == &snt_op_avgpool) fprintf(f, ", count_include_pad = %s", snt_node_int(n, "count_include_pad", 0) ? "true" : "false");
  if (snt_node_int(n, "ceil_mode", 0)) fprintf(f, ", ceil_mode = true");
  fprintf(f, ", name = %s)\n", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

const snt_op snt_op_maxpool = {
    .name = "maxpool", .type_name = "MaxPooling2D", .default_layer = "max_pooling2d",
    .doc = "2-D max pooling: maxpool(x, pool=2, stride=pool, padding=valid, ceil_mode=false)",
    .min_inputs = 1, .max_inputs = 1, .args = max_args, .infer = infer, .onnx_type = "MaxPool",
    .onnx_import = snt_pool_onnx_import, .onnx_export = onnx_export, .emit = emit, .to_dsl = to_dsl, .grad = grad,
    .batch_rows = snt_rows_first,
    .onnx_arity = {1, 1, 1, 2}, .onnx_ranges = max_ranges, .types = {.t = SNT_TY(SNT_F32) | SNT_TY(SNT_F64), .t_f32 = SNT_TY(SNT_F16) | SNT_TY(SNT_I8) | SNT_TY(SNT_U8),
              .note = "DOUBLE in double precision; FLOAT16, INT8, UINT8 cast to float32 (exact for INT8, UINT8) and the result back"}};

/* ONNX attribute ranges (compiler/onnx/validate.c). */
static const snt_attr_range avg_ranges[] = {
    {"kernel_shape", 1, SNT_MAX_ATTR}, {"strides", 1, SNT_MAX_ATTR}, {"dilations", 1, SNT_MAX_ATTR},
    {"pads", 0, SNT_MAX_ATTR}, {"ceil_mode", 0, 1}, {"count_include_pad", 0, 1}, {0}};

const snt_op snt_op_avgpool = {
    .name = "avgpool", .type_name = "AveragePooling2D", .default_layer = "average_pooling2d",
    .doc = "2-D average pooling: avgpool(x, pool=2, stride=pool, padding=valid, count_include_pad=false, ceil_mode=false)",
    .min_inputs = 1, .max_inputs = 1, .args = avg_args, .infer = infer, .onnx_type = "AveragePool", .onnx_upto = 19,
    .onnx_import = snt_pool_onnx_import, .onnx_export = onnx_export, .emit = emit, .to_dsl = to_dsl, .grad = grad,
    .batch_rows = snt_rows_first,
    .onnx_arity = {1, 1, 1, 1}, .onnx_ranges = avg_ranges, .types = SNT_TYPES_LOOP_F64(1)};
