/* deform_conv (ONNX DeformConv-19): a convolution whose taps sample the map bilinearly at points
 * moved by per-pixel offsets, optionally scaled by a mask (Deformable ConvNets v1 and v2). Inputs
 * x [N, C, H, W], w [oC, C / group, kH, kW], offset [N, offset_group * 2 * kH * kW, oH, oW], then
 * optional B [oC] and mask [N, offset_group * kH * kW, oH, oW]; 2-D maps only (as ONNX Runtime).
 * runtime/kernels/deform_conv.c holds the sampling rules. */
#include <stdio.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{"dilations", SNT_ARG_INTS, "[]", NULL},   {"group", SNT_ARG_INT, "1", NULL},
                                    {"kernel_shape", SNT_ARG_INTS, "[]", NULL}, {"offset_group", SNT_ARG_INT, "1", NULL},
                                    {"pads", SNT_ARG_INTS, "[]", NULL},         {"strides", SNT_ARG_INTS, "[]", NULL},
                                    {0}};

enum { MSG = 640 }; /* a message with a shape string (SNT_MAX_RANK dims) and a few numbers */

/* An INTS attribute of `count` values, or `def` for each when absent; NULL, or why not. */
static const char *ints_or(const snt_node *n, const char *name, int count, int64_t def, int64_t *out, char *buf) {
  int c = 0;
  const int64_t *v = snt_node_ints(n, name, &c);
  if (v && c != count) {
    snprintf(buf, MSG, "%s has %d values, expected %d", name, c, count);
    return buf;
  }
  for (int i = 0; i < count; i++) out[i] = v ? v[i] : def;
  return NULL;
}

/* "(a, b, c, d)" of a tensor for messages. */
static const char *shape_of(const snt_tensor *t, char *buf, size_t size) {
  snt_shape_str(buf, size, t, 0);
  return buf;
}

/* An optional input must have exactly `want` (rank 4, or 1 when want[1] < 0): NULL, or why not. */
static const char *check_shape(const snt_tensor *t, const char *what, const char *form, const int64_t *want, char *buf) {
  int rank = want[1] < 0 ? 1 : 4;
  bool ok = t->rank == rank;
  for (int i = 0; ok && i < rank; i++) ok = t->dims[i] == want[i];
  if (ok) return NULL;
  char s[SNT_MAX_RANK * 24 + 8];
  if (rank == 1) snprintf(buf, MSG, "%s has shape %s, expected (%lld,)", what, shape_of(t, s, sizeof s), (long long)want[0]);
  else
    snprintf(buf, MSG, "%s has shape %s, expected %s = (%lld, %lld, %lld, %lld)", what, shape_of(t, s, sizeof s), form,
             (long long)want[0], (long long)want[1], (long long)want[2], (long long)want[3]);
  return buf;
}

/* The output size along one axis, or -1 when the dilated kernel does not fit the padded input. */
static int64_t out_size(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pb, int64_t pe) {
  int64_t eff, span;
  if (!snt_mul_ok(dil, k - 1, &eff) || !snt_add_ok(in, pb, &span) || !snt_add_ok(span, pe, &span) || span - 1 < eff)
    return -1;
  return (span - 1 - eff) / stride + 1;
}

/* The attributes and weight shape as the kernel's descriptor: NULL, or why they are refused. */
static const char *attrs(const snt_graph *g, const snt_node *n, snt_k_deform_conv *k, char *buf) {
  const snt_tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
  char s[SNT_MAX_RANK * 24 + 8];
  if (x->rank != 4) {
    snprintf(buf, MSG, "the input has rank %d: sinter computes 2-D DeformConv on [N, C, H, W] only", x->rank);
    return buf;
  }
  if (w->rank != 4) {
    snprintf(buf, MSG, "the weight has shape %s, expected (oC, C / group, kH, kW)", shape_of(w, s, sizeof s));
    return buf;
  }
  int64_t st[2], dil[2], pads[4], ks[2];
  const char *why = ints_or(n, "strides", 2, 1, st, buf);
  if (!why) why = ints_or(n, "dilations", 2, 1, dil, buf);
  if (!why) why = ints_or(n, "pads", 4, 0, pads, buf);
  if (!why) why = ints_or(n, "kernel_shape", 2, 0, ks, buf);
  if (why) return why;
  if (st[0] < 1 || st[1] < 1 || dil[0] < 1 || dil[1] < 1 || pads[0] < 0 || pads[1] < 0 || pads[2] < 0 || pads[3] < 0)
    return "strides and dilations must be positive and pads not negative";
  int nk = 0;
  if (snt_node_ints(n, "kernel_shape", &nk) && (ks[0] != w->dims[2] || ks[1] != w->dims[3])) {
    snprintf(buf, MSG, "kernel_shape (%lld, %lld) differs from the weight's kernel (%lld, %lld)", (long long)ks[0],
             (long long)ks[1], (long long)w->dims[2], (long long)w->dims[3]);
    return buf;
  }
  int64_t c = x->dims[1], oc = w->dims[0], grp = snt_node_int(n, "group", 1), og = snt_node_int(n, "offset_group", 1);
  if (grp < 1 || og < 1) return "group and offset_group must be positive";
  if (c < 1 || oc < 1) return "the input and the weight need at least one channel";
  if (c % grp || oc % grp) {
    snprintf(buf, MSG, "group %lld does not divide the input channels (%lld) and the output channels (%lld)",
             (long long)grp, (long long)c, (long long)oc);
    return buf;
  }
  if (w->dims[1] != c / grp) {
    snprintf(buf, MSG, "the weight has shape %s: %lld input channels per group, expected C / group = %lld",
             shape_of(w, s, sizeof s), (long long)w->dims[1], (long long)(c / grp));
    return buf;
  }
  if (c % og) {
    snprintf(buf, MSG, "offset_group %lld does not divide the input channels (%lld)", (long long)og, (long long)c);
    return buf;
  }
  *k = (snt_k_deform_conv){.n = x->dims[0], .c = c, .h = x->dims[2], .w = x->dims[3], .oc = oc, .kh = w->dims[2],
                           .kw = w->dims[3], .stride_h = st[0], .stride_w = st[1], .dil_h = dil[0], .dil_w = dil[1],
                           .pad_top = pads[0], .pad_left = pads[1], .group = grp, .offset_group = og};
  k->out_h = out_size(k->h, k->kh, st[0], dil[0], pads[0], pads[2]);
  k->out_w = out_size(k->w, k->kw, st[1], dil[1], pads[1], pads[3]);
  if (k->kh < 1 || k->kw < 1 || k->out_h < 1 || k->out_w < 1) {
    snprintf(buf, MSG, "the %lldx%lld kernel (dilations %lld, %lld) does not fit the %lldx%lld input padded by [%lld, %lld, %lld, %lld]",
             (long long)k->kh, (long long)k->kw, (long long)dil[0], (long long)dil[1], (long long)k->h, (long long)k->w,
             (long long)pads[0], (long long)pads[1], (long long)pads[2], (long long)pads[3]);
    return buf;
  }
  return NULL;
}

/* attrs, then the offset, bias and mask shapes. */
static const char *geometry(snt_graph *g, const snt_node *n, snt_k_deform_conv *k, char *buf) {
  const char *why = attrs(g, n, k, buf);
  if (why) return why;
  int64_t taps, og_taps;
  if (!snt_mul_ok(k->kh, k->kw, &taps) || !snt_mul_ok(taps, k->offset_group, &og_taps) || og_taps > INT64_MAX / 2)
    return "offset_group * 2 * kH * kW overflows";
  const int64_t off[4] = {k->n, 2 * og_taps, k->out_h, k->out_w}, bias[4] = {k->oc, -1};
  const int64_t mask[4] = {k->n, og_taps, k->out_h, k->out_w};
  const snt_tensor *b = snt_in_opt(g, n, 3), *m = snt_in_opt(g, n, 4);
  why = check_shape(&g->tensors[n->in[2]], "offset", "(N, offset_group * 2 * kH * kW, oH, oW)", off, buf);
  if (!why && b) why = check_shape(b, "B", NULL, bias, buf);
  if (!why && m) why = check_shape(m, "mask", "(N, offset_group * kH * kW, oH, oW)", mask, buf);
  return why;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_k_deform_conv k;
  char buf[MSG];
  const char *why = geometry(g, n, &k, buf);
  if (why) return snt_node_error(g, n, d, "%s", why);
  int64_t dims[4] = {k.n, k.oc, k.out_h, k.out_w};
  snt_set_output(g, node, 0, snt_in(g, n, 0)->dtype, 4, dims);
  return SNT_OK;
}

static size_t scratch(const snt_graph *g, const snt_node *n) {
  snt_k_deform_conv k;
  char buf[MSG];
  if (geometry((snt_graph *)g, n, &k, buf)) return SIZE_MAX;
  return snt_k_deform_conv_scratch_bytes(&k);
}

static double flops(const snt_graph *g, const snt_node *n) {
  snt_k_deform_conv k;
  char buf[MSG];
  if (geometry((snt_graph *)g, n, &k, buf)) return 0.0;
  return 2.0 * (double)(k.c / k.group) * (double)k.kh * (double)k.kw * (double)k.oc * (double)k.out_h * (double)k.out_w;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_k_deform_conv k;
  char buf[MSG];
  if (geometry((snt_graph *)e->g, n, &k, buf)) return SNT_ERR_INTERNAL;
  const snt_tensor *b = snt_in_opt((snt_graph *)e->g, n, 3), *m = snt_in_opt((snt_graph *)e->g, n, 4);
  snt_emit_line(e, "{");
  snt_emit_line(e, "  %s snt_k_deform_conv p = {.n = %s, .c = %lldLL, .h = %lldLL, .w = %lldLL, .oc = %lldLL, "
                   ".kh = %lldLL, .kw = %lldLL, .out_h = %lldLL, .out_w = %lldLL, .stride_h = %lldLL, "
                   ".stride_w = %lldLL, .dil_h = %lldLL, .dil_w = %lldLL, .pad_top = %lldLL, .pad_left = %lldLL, "
                   ".group = %lldLL, .offset_group = %lldLL};",
                snt_emit_const(e, n->in[0]), snt_emit_rows(e, n->in[0]), (long long)k.c, (long long)k.h, (long long)k.w,
                (long long)k.oc, (long long)k.kh, (long long)k.kw, (long long)k.out_h, (long long)k.out_w,
                (long long)k.stride_h, (long long)k.stride_w, (long long)k.dil_h, (long long)k.dil_w, (long long)k.pad_top,
                (long long)k.pad_left, (long long)k.group, (long long)k.offset_group);
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_deform_conv_run(m->k, &p, %s, %s, %s, %s, %s, %s, S))) return snt_k_st_;",
                snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->in[2]),
                b ? snt_emit_ptr(e, n->in[3]) : "NULL", m ? snt_emit_ptr(e, n->in[4]) : "NULL", snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* Samples are independent: x, offset and mask carry the batch, w and B do not. */
static bool batch_rows(const snt_graph *g, const snt_node *n, const bool *rows) { return snt_rows_slots(g, n, rows, 0x15u); }

static const snt_attr_range ranges[] = {
    {"kernel_shape", 1, SNT_MAX_ATTR}, {"strides", 1, SNT_MAX_ATTR}, {"dilations", 1, SNT_MAX_ATTR},
    {"pads", 0, SNT_MAX_ATTR},         {"group", 1, SNT_MAX_ATTR},   {"offset_group", 1, SNT_MAX_ATTR}, {0}};

const snt_op snt_op_deform_conv = {
    .name = "deform_conv", .type_name = "DeformConv", .default_layer = "deform_conv",
    .doc = "deformable convolution: taps sampled bilinearly at offset points, optionally masked: "
           "deform_conv(x, w, offset, B, mask)",
    .min_inputs = 3, .max_inputs = 5, .args = args, .infer = infer, .flops = flops, .onnx_type = "DeformConv",
    .onnx_upto = 19, .onnx_weight_inputs = 0xau, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .scratch = scratch,
    .batch_rows = batch_rows, .onnx_arity = {3, 5, 1, 1}, .onnx_ranges = ranges, .types = SNT_TYPES_KERNEL(0x1fu),
    .no_export = SNT_NO_EXPORT_YET};
