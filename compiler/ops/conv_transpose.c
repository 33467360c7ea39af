/* conv_transpose (ONNX ConvTranspose): the gradient of a convolution, 1 to 3 spatial
 * dims, with groups, dilation, output_padding and output_shape / auto_pad rules. */
#include <string.h>

#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/window.h"
#include "sinter/kernels.h"

/* The DSL's form; pads are ONNX's [top, left, bottom, right] (cropped from the full output),
 * output_padding adds rows and columns at the end. */
static const snt_arg_spec args[] = {
    {"filters", SNT_ARG_INT, NULL, NULL},      {"kernel", SNT_ARG_INT2, NULL, NULL},
    {"stride", SNT_ARG_INT2, "1", NULL},       {"pads", SNT_ARG_INTS, "[]", NULL},
    {"output_padding", SNT_ARG_INT2, "0", NULL}, {"dilation", SNT_ARG_INT2, "1", NULL},
    {"groups", SNT_ARG_INT, "1", NULL},        {"bias", SNT_ARG_BOOL, "true", NULL},
    {0}};

typedef struct geom {
  int sp;
  int64_t k[SNT_MAX_SPATIAL], s[SNT_MAX_SPATIAL], dil[SNT_MAX_SPATIAL], pb[SNT_MAX_SPATIAL], pe[SNT_MAX_SPATIAL];
  int64_t out[SNT_MAX_SPATIAL];
} geom;

/* An INTS attribute of `count` values, or `def` for each when absent; another length is an error. */
static snt_status ints_or(snt_graph *g, const snt_node *n, snt_diag *d, const char *name, int count, int64_t def,
                          int64_t *out) {
  int c = 0;
  const int64_t *v = snt_node_ints(n, name, &c);
  if (v && c == 0) v = NULL; /* the DSL's empty default */
  if (v && c != count) return snt_node_error(g, n, d, "%s has %d values, expected %d", name, c, count);
  for (int i = 0; i < count; i++) out[i] = v ? v[i] : def;
  return SNT_OK;
}

/* ONNX's rules: out = s (in - 1) + output_padding + eff_k - pads; with output_shape or a
 * SAME auto_pad the pads follow from the wanted size. */
static snt_status geometry(snt_graph *g, const snt_node *n, snt_diag *d, geom *o) {
  const snt_tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
  int sp = x->rank - 2;
  if (sp < 1 || sp > SNT_MAX_SPATIAL || w->rank != x->rank)
    return snt_node_error(g, n, d, "expects N, C and 1 to 3 spatial dims, with a weight of the same rank");
  o->sp = sp;
  int64_t op[SNT_MAX_SPATIAL], pads[2 * SNT_MAX_SPATIAL] = {0}, want[SNT_MAX_SPATIAL];
  snt_status st = ints_or(g, n, d, "stride", sp, 1, o->s);
  if (!st) st = ints_or(g, n, d, "dilation", sp, 1, o->dil);
  if (!st) st = ints_or(g, n, d, "output_padding", sp, 0, op);
  if (!st) st = ints_or(g, n, d, "pads", 2 * sp, 0, pads);
  if (st) return st;
  int c = 0;
  const int64_t *osh = snt_node_ints(n, "output_shape", &c);
  if (osh && c != sp && c != sp + 2)
    return snt_node_error(g, n, d, "output_shape has %d values, expected %d (or %d with N and C)", c, sp, sp + 2);
  const char *ap = snt_node_string(n, "auto_pad", "NOTSET");
  for (int i = 0; i < sp; i++) {
    o->k[i] = w->dims[2 + i];
    int64_t eff = (o->k[i] - 1) * o->dil[i] + 1, full = o->s[i] * (x->dims[2 + i] - 1) + op[i] + eff;
    bool same = strncmp(ap, "SAME", 4) == 0;
    if (osh || same) {
      want[i] = osh ? osh[c == sp ? i : c - sp + i] : x->dims[2 + i] * o->s[i];
      int64_t total = full - want[i];
      if (total < 0) total = 0;
      bool upper = strcmp(ap, "SAME_UPPER") == 0;
      pads[i] = upper ? total / 2 : total - total / 2;
      pads[sp + i] = total - pads[i];
    }
    o->pb[i] = pads[i];
    o->pe[i] = pads[sp + i];
    /* An output_shape larger than the full result acts as extra output padding. */
    o->out[i] = osh ? want[i] : full - o->pb[i] - o->pe[i];
    if (o->out[i] < 1) return snt_node_error(g, n, d, "the output would be empty along spatial axis %d", i);
  }
  return SNT_OK;
}

/* The DSL's kernel [C, filters / groups, kh, kw] (ONNX's layout) and bias. */
static snt_status params(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t filters = snt_node_int(n, "filters", 0), groups = snt_node_int(n, "groups", 1), k[SNT_MAX_SPATIAL];
  int sp = x->rank - 2;
  if (sp < 1 || sp > SNT_MAX_SPATIAL) return snt_node_error(g, n, d, "expects a 3-D input (channels, height, width)");
  if (filters < 1 || groups < 1 || filters % groups || x->dims[1] % groups)
    return snt_node_error(g, n, d, "filters (%lld) and the input channels (%lld) must be positive multiples of groups (%lld)",
                          (long long)filters, (long long)x->dims[1], (long long)groups);
  snt_status st = ints_or(g, n, d, "kernel", sp, 0, k);
  if (st) return st;
  int64_t kdims[2 + SNT_MAX_SPATIAL] = {x->dims[1], filters / groups};
  for (int i = 0; i < sp; i++) {
    if (k[i] < 1) return snt_node_error(g, n, d, "kernel sizes must be positive");
    kdims[2 + i] = k[i];
  }
  if (snt_ir_add_param(g, node, "kernel", x->rank, kdims, true) < 0) return SNT_ERR_NOMEM;
  if (snt_node_int(n, "bias", 1) && snt_ir_add_param(g, node, "bias", 1, &filters, true) < 0) return SNT_ERR_NOMEM;
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *w = snt_in_opt(g, n, 1), *b = snt_in_opt(g, n, 2);
  if (!w) return snt_node_error(g, n, d, "needs a weight input");
  int64_t groups = snt_node_int(n, "groups", 1);
  if (groups < 1 || x->dims[1] % groups || w->dims[0] != x->dims[1])
    return snt_node_error(g, n, d, "the weight's first dimension must equal the input channels, divisible by group");
  geom o;
  snt_status st = geometry(g, n, d, &o);
  if (st) return st;
  int64_t dims[SNT_MAX_RANK] = {x->dims[0], w->dims[1] * groups};
  if (b && (b->rank != 1 || b->dims[0] != dims[1])) return snt_node_error(g, n, d, "bias must have %lld values", (long long)dims[1]);
  for (int i = 0; i < o.sp; i++) dims[2 + i] = o.out[i];
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return SNT_OK;
}

static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  (void)opset, (void)d;
  snt_node *n = &g->nodes[node];
  int c = 0;
  const int64_t *v = snt_node_ints(n, "strides", &c);
  snt_status st = v ? snt_node_set_ints(n, "stride", c, v) : SNT_OK;
  if (!st && (v = snt_node_ints(n, "dilations", &c))) st = snt_node_set_ints(n, "dilation", c, v);
  if (!st) st = snt_node_set_int(n, "groups", snt_node_int(n, "group", 1));
  return st;
}

static void make_desc(const snt_graph *g, const snt_node *n, snt_k_conv_desc *k) {
  const snt_tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
  geom o;
  memset(k, 0, sizeof *k);
  if (geometry((snt_graph *)g, n, NULL, &o) != SNT_OK) return;
  k->spatial = o.sp;
  k->batch = x->dims[0];
  k->in_channels = x->dims[1];
  k->out_channels = y->dims[1];
  k->groups = snt_node_int(n, "groups", 1);
  for (int i = 0; i < o.sp; i++) {
    k->in[i] = x->dims[2 + i], k->out[i] = y->dims[2 + i], k->kernel[i] = o.k[i], k->stride[i] = o.s[i];
    k->dilation[i] = o.dil[i], k->pad_begin[i] = o.pb[i], k->pad_end[i] = o.pe[i];
  }
}

static size_t scratch(const snt_graph *g, const snt_node *n) {
  snt_k_conv_desc k;
  make_desc(g, n, &k);
  return g->tensors[n->in[0]].dtype == SNT_F64 ? 0 : snt_k_conv_transpose_scratch_bytes(&k);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_k_conv_desc k;
  make_desc(e->g, n, &k);
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s snt_k_conv_desc d = %s;", snt_emit_const(e, n->in[0]),
                snt_emit_conv_desc(e, &k, snt_emit_rows(e, n->in[0])));
  bool f64 = e->g->tensors[n->in[0]].dtype == SNT_F64; /* double kernel: no scratch */
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_conv_transpose%s(&d, %s, %s, %s, %s%s))) return snt_k_st_;", f64 ? "_f64" : "",
                snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]),
                snt_in_opt((snt_graph *)e->g, n, 2) ? snt_emit_ptr(e, n->in[2]) : "NULL", snt_emit_ptr(e, n->out[0]),
                f64 ? "" : ", S");
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* The geometry as explicit numbers: pads, and output_padding with any extra output_shape rows. */
static snt_status explicit_geometry(const snt_graph *g, const snt_node *n, geom *o, int64_t *op) {
  if (geometry((snt_graph *)g, n, NULL, o) != SNT_OK) return SNT_ERR_INTERNAL;
  const snt_tensor *x = &g->tensors[n->in[0]];
  for (int i = 0; i < o->sp; i++) {
    int64_t base = o->s[i] * (x->dims[2 + i] - 1) + (o->k[i] - 1) * o->dil[i] + 1;
    op[i] = o->out[i] - base + o->pb[i] + o->pe[i];
  }
  return SNT_OK;
}

/* conv_transpose(x, filters, [kh, kw], stride = ..., pads = [t, l, b, r], output_padding = ...). */
static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_graph *g = w->g;
  const snt_node *n = &g->nodes[node];
  geom o;
  int64_t op[SNT_MAX_SPATIAL], pads[4];
  if (g->tensors[n->in[0]].rank != 4 || !snt_dsl_is_param(g, n, 1) || (n->n_in > 2 && n->in[2] >= 0 && !snt_dsl_is_param(g, n, 2)))
    return snt_dsl_unsupported(w, n, "2-D transposed convolutions with constant weights only");
  snt_status st = explicit_geometry(g, n, &o, op);
  if (st) return st;
  const snt_tensor *wt = &g->tensors[n->in[1]];
  int64_t groups = snt_node_int(n, "groups", 1);
  pads[0] = o.pb[0], pads[1] = o.pb[1], pads[2] = o.pe[0], pads[3] = o.pe[1];
  FILE *f = w->out;
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  fprintf(f, "  %s = conv_transpose(%s, %lld, ", lhs, in, (long long)(wt->dims[1] * groups));
  snt_dsl_ints(f, o.k, 2);
  fprintf(f, ", stride = ");
  snt_dsl_ints(f, o.s, 2);
  fprintf(f, ", pads = ");
  snt_dsl_ints(f, pads, 4);
  fprintf(f, ", output_padding = ");
  snt_dsl_ints(f, op, 2);
  fprintf(f, ", dilation = ");
  snt_dsl_ints(f, o.dil, 2);
  fprintf(f, ", groups = %lld, bias = %s, name = %s)\n", (long long)groups, n->n_in > 2 && n->in[2] >= 0 ? "true" : "false",
          snt_dsl_lit(w, n->name));
  return SNT_OK;
}

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  geom o;
  int64_t op[SNT_MAX_SPATIAL], pads[2 * SNT_MAX_SPATIAL];
  snt_status st = explicit_geometry(g, n, &o, op);
  if (st) return st;
  for (int i = 0; i < o.sp; i++) pads[i] = o.pb[i], pads[o.sp + i] = o.pe[i];
  const char *ins[3] = {snt_ox_name(x, n->in[0]), snt_ox_name(x, n->in[1]), n->n_in > 2 && n->in[2] >= 0 ? snt_ox_name(x, n->in[2]) : ""};
  int e = snt_ox_node(x, "ConvTranspose", n->name, ins[2][0] ? 3 : 2, ins, snt_ox_name(x, n->out[0]));
  if (e < 0) return SNT_ERR_NOMEM;
  snt_ox_attr_ints(x, e, "kernel_shape", o.sp, o.k);
  snt_ox_attr_ints(x, e, "strides", o.sp, o.s);
  snt_ox_attr_ints(x, e, "dilations", o.sp, o.dil);
  snt_ox_attr_ints(x, e, "pads", 2 * o.sp, pads);
  snt_ox_attr_ints(x, e, "output_padding", o.sp, op);
  snt_ox_attr_int(x, e, "group", snt_node_int(n, "groups", 1));
  return SNT_OK;
}

static const char *const roles[] = {NULL, "kernel", "bias", NULL};

/* ONNX attribute ranges (compiler/onnx/validate.c). */
static const snt_attr_range convt_ranges[] = {
    {"kernel_shape", 1, SNT_MAX_ATTR}, {"strides", 1, SNT_MAX_ATTR}, {"dilations", 1, SNT_MAX_ATTR},
    {"pads", 0, SNT_MAX_ATTR}, {"group", 1, SNT_MAX_ATTR}, {"output_padding", 0, SNT_MAX_ATTR},
    {"output_shape", 1, SNT_MAX_ATTR}, {0}};

const snt_op snt_op_conv_transpose = {
    .name = "conv_transpose", .type_name = "Conv2DTranspose", .default_layer = "conv2d_transpose",
    .doc = "transposed convolution (ONNX ConvTranspose): conv_transpose(x, filters, kernel, stride=1, pads=[], output_padding=0, dilation=1, groups=1, bias=true)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .params = params,
    .infer = infer, .onnx_type = "ConvTranspose", .onnx_import = onnx_import, .onnx_roles = roles, .emit = emit, .to_dsl = to_dsl,
    .scratch = scratch, .batch_rows = snt_rows_first, .onnx_arity = {2, 3, 1, 1}, .onnx_ranges = convt_ranges,
    .types = SNT_TYPES_LOOP_F64(7), .onnx_export = onnx_export};
