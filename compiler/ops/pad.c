/* pad: constant (zero by default), edge, reflect or wrap padding. The DSL pads height and
 * width (Keras ZeroPadding2D); ONNX pads any axes, with pads [begin..., end...] from an
 * attribute (before opset 11) or a constant input, and the fill value from an input
 * read at run time. "pads_nd" holds the full-rank pads either way. */
#include <string.h>

#include "compiler/onnx/export.h"
#include "compiler/autodiff.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/passes/passes.h"
#include "sinter/kernels_train.h"
#include "sinter/kernels.h"

static const char *const modes[] = {"constant", "reflect", "edge", "wrap", NULL};
static const snt_arg_spec args[] = {
    {"padding", SNT_ARG_PADDING, NULL, NULL},
    {"value", SNT_ARG_FLOAT, "0", NULL},
    {"mode", SNT_ARG_SYMBOL, "constant", modes},
    {0}};

/* The DSL's [top, left, bottom, right] over the last two axes, as full-rank pads. */
static snt_status dsl_pads(snt_graph *g, snt_node *n, snt_diag *d, int rank, int64_t *full) {
  const char *mode = snt_node_string(n, "padding", "explicit");
  int cnt = 0;
  const int64_t *p = snt_node_ints(n, "pads", &cnt);
  if (strcmp(mode, "explicit") != 0 || !p || cnt != 4)
    return snt_node_error(g, n, d, "padding must be p, [ph, pw] or [top, left, bottom, right], not '%s'", mode);
  if (rank != 4) return snt_node_error(g, n, d, "expects a 3-D input (channels, height, width)");
  memset(full, 0, sizeof(int64_t) * 2 * (size_t)rank);
  full[2] = p[0], full[3] = p[1], full[rank + 2] = p[2], full[rank + 3] = p[3];
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int cnt = 0;
  int64_t full[2 * SNT_MAX_RANK];
  const int64_t *p = snt_node_ints(n, "pads_nd", &cnt);
  if (p) {
    if (cnt != 2 * x->rank) return snt_node_error(g, n, d, "pads must have %d values, got %d", 2 * x->rank, cnt);
    memcpy(full, p, sizeof(int64_t) * (size_t)cnt);
  } else {
    snt_status st = dsl_pads(g, n, d, x->rank, full);
    if (st || (st = snt_node_set_ints(n, "pads_nd", 2 * x->rank, full))) return st;
  }
  int64_t dims[SNT_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    if (full[i] < 0 || full[x->rank + i] < 0)
      return snt_node_error(g, n, d, "padding must not be negative, got %lld", (long long)(full[i] < 0 ? full[i] : full[x->rank + i]));
    if (full[i] > SNT_MAX_ATTR || full[x->rank + i] > SNT_MAX_ATTR ||
        !snt_add_ok(x->dims[i], full[i] + full[x->rank + i], &dims[i]))
      return snt_node_error(g, n, d, "padding of axis %d is too large (at most %lld per side)", i, (long long)SNT_MAX_ATTR);
  }
  snt_tensor *v = snt_in_opt(g, n, 2);
  if (v && (snt_tensor_numel(v) != 1 || v->dtype != x->dtype)) return snt_node_error(g, n, d, "constant_value must be one value of the input's type");
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return SNT_OK;
}

/* Pad-18's axes input names the axes the pads are for (the others get none). */
static snt_status axes_pads(snt_graph *g, snt_node *n, snt_diag *d, const snt_tensor *pads, int64_t *full, int opset) {
  const snt_tensor *x = snt_in(g, n, 0), *axes = snt_in_opt(g, n, 3);
  int64_t na = snt_tensor_numel(axes);
  if (axes->dtype != SNT_I64 || !axes->data || na > x->rank)
    return snt_node_error(g, n, d, "axes must be a constant of at most %d int64 values (opset %d)", x->rank, opset);
  if (!pads || !pads->data || pads->dtype != SNT_I64 || snt_tensor_numel(pads) != 2 * na)
    return snt_node_error(g, n, d, "pads must be a constant of %lld int64 values, two per axis (opset %d)", (long long)(2 * na), opset);
  bool seen[SNT_MAX_RANK] = {false};
  memset(full, 0, sizeof(int64_t) * 2 * (size_t)x->rank);
  for (int64_t i = 0; i < na; i++) {
    int64_t a = ((const int64_t *)axes->data)[i];
    if (a < -x->rank || a >= x->rank || seen[a < 0 ? a + x->rank : a])
      return snt_node_error(g, n, d, "axes value %lld is out of range or repeated for rank %d (opset %d)", (long long)a, x->rank, opset);
    a = a < 0 ? a + x->rank : a;
    seen[a] = true;
    full[a] = ((const int64_t *)pads->data)[i], full[x->rank + a] = ((const int64_t *)pads->data)[na + i];
  }
  return SNT_OK;
}

static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *pads = snt_in_opt(g, n, 1);
  int64_t full[2 * SNT_MAX_RANK];
  int cnt = 2 * x->rank;
  if (snt_in_opt(g, n, 3)) {
    if (opset < 18) return snt_node_error(g, n, d, "Pad-%d takes no axes input (it has one from opset 18)", opset);
    snt_status st = axes_pads(g, n, d, pads, full, opset);
    if (st) return st;
  } else if (opset >= 11) {
    if (!pads || !pads->data || pads->dtype != SNT_I64 || snt_tensor_numel(pads) != 2 * x->rank)
      return snt_node_error(g, n, d, "pads must be a constant of %d int64 values (opset %d)", 2 * x->rank, opset);
    memcpy(full, pads->data, sizeof(int64_t) * 2 * (size_t)x->rank);
  } else {
    const int64_t *p = snt_node_ints(n, opset < 2 ? "paddings" : "pads", &cnt);
    if (!p || cnt != 2 * x->rank) return snt_node_error(g, n, d, "pads must have %d values (opset %d)", 2 * x->rank, opset);
    memcpy(full, p, sizeof(int64_t) * (size_t)cnt);
  }
  const char *mode = snt_node_string(n, "mode", "constant");
  bool wrap = opset >= 19 && strcmp(mode, "wrap") == 0;
  if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge") && !wrap)
    return snt_node_error(g, n, d, "mode '%s' is not supported (constant, reflect, edge%s are; opset %d)", mode,
                          opset >= 19 ? ", wrap" : "", opset);
  /* pads and axes have been read; only constant_value (input 2) is read at run time. */
  if (n->n_in > 1) n->in[1] = -1;
  if (n->n_in > 3) n->n_in = 3;
  return snt_node_set_ints(n, "pads_nd", cnt, full);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_graph *g = (snt_graph *)e->g;
  const snt_tensor *x = &g->tensors[n->in[0]];
  int cnt = 0;
  const int64_t *p = snt_node_ints(n, "pads_nd", &cnt);
  const char *mode = snt_node_string(n, "mode", "constant");
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s int64_t dims[] = %s, pads[] = %s;", snt_emit_const(e, n->in[0]), snt_emit_dims_rows(e, n->in[0]),
                snt_emit_ints(e, p, cnt));
  const char *value = "NULL";
  if (snt_in_opt(g, n, 2)) {
    value = snt_emit_ptr(e, n->in[2]);
  } else if (strcmp(mode, "constant") == 0) {
    snt_emit_line(e, "%s v = 0;", snt_dtype_ctype(x->dtype));
    if (x->dtype == SNT_F32 || x->dtype == SNT_F64) snt_emit_line(e, "v = %s;", snt_emit_f64(e, snt_node_float(n, "value", 0)));
    if (x->dtype == SNT_F16) snt_emit_line(e, "v = snt_f32_to_f16(%sf);", snt_emit_f64(e, (float)snt_node_float(n, "value", 0)));
    value = "&v";
  }
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_pad(%zu, %d, dims, pads, %s, %s, %s, %s))) return snt_k_st_;", snt_dtype_size(x->dtype), x->rank,
                mode[0] == 'c'   ? "SNT_K_PAD_CONSTANT"
                : mode[0] == 'e' ? "SNT_K_PAD_EDGE"
                : mode[0] == 'w' ? "SNT_K_PAD_WRAP"
                                 : "SNT_K_PAD_REFLECT", value,
                snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* No padding of the batch axis. */
static bool rows(const snt_graph *g, const snt_node *n, const bool *r) {
  int cnt = 0, rank = g->tensors[n->in[0]].rank;
  const int64_t *p = snt_node_ints(n, "pads_nd", &cnt);
  return p && cnt == 2 * rank && p[0] == 0 && p[rank] == 0 && snt_rows_first(g, n, r);
}

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  if (strcmp(snt_node_string(n, "mode", "constant"), "wrap") == 0 && snt_ox_opset(x) < 19)
    return snt_ox_refuse(x, node, "wrap padding is Pad-19's");
  int cnt = 0;
  const int64_t *p = snt_node_ints(n, "pads_nd", &cnt);
  int64_t len = cnt;
  const char *ins[3] = {snt_ox_name(x, n->in[0]), snt_ox_const(x, "pads", SNT_I64, 1, &len, p), NULL};
  float v = (float)snt_node_float(n, "value", 0);
  ins[2] = n->n_in > 2 && n->in[2] >= 0 ? snt_ox_name(x, n->in[2]) : snt_ox_const(x, "pad_value", SNT_F32, 0, NULL, &v);
  int k = snt_ox_node(x, "Pad", n->name, 3, ins, snt_ox_name(x, n->out[0]));
  snt_ox_attr_string(x, k, "mode", snt_node_string(n, "mode", "constant"));
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

/* Training (constant padding): the gradient is dy cropped back to the input. */
static snt_status emit_grad(snt_emit *e, int node) {
  const snt_node *b = &e->g->nodes[node], *n = snt_ad_fwd(e->g, b);
  int cnt = 0;
  const int64_t *p = snt_node_ints(n, "pads_nd", &cnt);
  snt_emit_line(e, "{");
  snt_emit_line(e, "static const int64_t dims[] = %s, pads[] = %s;", snt_emit_dims(e, n->in[0]), snt_emit_ints(e, p, cnt));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_pad_backward(%d, dims, pads, %s, %s))) return snt_k_st_;", e->g->tensors[n->in[0]].rank,
                snt_emit_ptr(e, b->in[0]), snt_emit_ptr(e, b->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static const snt_arg_spec no_args[] = {{0}};
static const snt_op pad_grad = {.name = "pad_grad", .type_name = "PadGrad", .default_layer = "grad",
                                .doc = "gradient of constant padding", .args = no_args, .emit = emit_grad};

static snt_status grad(snt_ad *ad, int node) {
  const snt_node *n = &ad->g->nodes[node];
  if (strcmp(snt_node_string(n, "mode", "constant"), "constant") != 0)
    return snt_node_error(ad->g, n, ad->d, "cannot be trained yet: only constant padding has a gradient rule");
  int dy = snt_ad_grad(ad, n->out[0]);
  return snt_ad_input_grad(ad, &pad_grad, node, 1, &dy);
}

/* ONNX attribute ranges (compiler/onnx/validate.c). */
static const snt_attr_range pad_ranges[] = {{"pads", 0, SNT_MAX_ATTR}, {"paddings", 0, SNT_MAX_ATTR}, {0}};

static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  int c = 0;
  const int64_t *p = snt_node_ints(n, "pads_nd", &c);
  char why[400], lrn[256];
  /* A pad of PyTorch's LocalResponseNorm that did not become lrn: say why not. */
  if (snt_lrn_unfused_why(w->g, node, lrn, sizeof lrn)) {
    snprintf(why, sizeof why, "part of PyTorch's LocalResponseNorm, written as lrn only when it is ONNX's LRN: %s", lrn);
    return snt_dsl_unsupported(w, n, why);
  }
  if (w->g->tensors[n->in[0]].rank != 4 || c != 8 || p[0] || p[1] || p[4] || p[5] || (n->n_in > 2 && n->in[2] >= 0) ||
      strcmp(snt_node_string(n, "mode", "constant"), "constant") != 0)
    return snt_dsl_unsupported(w, n, "zero padding of height and width only");
  int64_t tlbr[4] = {p[2], p[3], p[6], p[7]};
  fprintf(w->out, "  %s = pad(%s, ", lhs, in);
  snt_dsl_ints(w->out, tlbr, 4);
  fprintf(w->out, ", name = %s)\n", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

const snt_op snt_op_pad = {
    .name = "pad", .type_name = "ZeroPadding2D", .default_layer = "zero_padding2d",
    .doc = "padding of height and width: pad(x, p | [ph, pw] | [top, left, bottom, right], value=0, mode=constant)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "Pad", .onnx_import = onnx_import,
    .onnx_const_inputs = 1u << 1 | 1u << 3, .onnx_upto = 21, .onnx_export = onnx_export, .emit = emit, .to_dsl = to_dsl, .grad = grad, .batch_rows = rows,
    .onnx_arity = {1, 4, 1, 1}, .onnx_ranges = pad_ranges, .types = {.t = SNT_TY_NUMERIC, .t_slots = 5, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE}};
