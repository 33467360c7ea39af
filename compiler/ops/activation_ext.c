/* Activations of ONNX graphs with float attributes (HardSigmoid, HardSwish, Selu, Elu,
 * ThresholdedRelu), Mish (opset 18), Gelu (opset 20), PRelu (a slope tensor broadcast to x) and Mean (variadic, broadcasting).
 * Opset 1's consumed_inputs attribute of HardSigmoid, Selu, Elu and PRelu is legacy and ignored. */
#include <stdlib.h>
#include <string.h>

#include "compiler/codegen/loops.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "support/util.h"

/* An expression template over x whose %1$s, %2$s, %3$s are the attributes as literals of the
 * compute type `ct` (cast from the double literal so FLOAT computes in float). */
static snt_status emit_attrs(snt_emit *e, int node, const char *tmpl) {
  const snt_node *n = &e->g->nodes[node];
  /* float32 HardSigmoid and HardSwish through snt_k_activation */
  if (n->op == &snt_op_hard_sigmoid &&
      snt_emit_activation_call(e, node, "SNT_K_ACT_HARD_SIGMOID", snt_node_float(n, "alpha", 0.2), snt_node_float(n, "beta", 0.5)))
    return SNT_OK;
  if (n->op == &snt_op_hard_swish && snt_emit_activation_call(e, node, "SNT_K_ACT_HARD_SWISH", 1 / 6.0f, 0.5))
    return SNT_OK;
  if (n->op == &snt_op_mish && snt_emit_activation_call(e, node, "SNT_K_ACT_MISH", 0, 0)) return SNT_OK;
  const char *ct = snt_compute_ctype(e->g->tensors[n->in[0]].dtype);
  const char *v[3] = {"0", "0", "0"};
  int k = 0;
  for (const snt_arg_spec *a = n->op->args; a->name && k < 3; a++, k++) {
    v[k] = snt_format_keep(e, "((%s)%s)", ct, snt_emit_f64(e, snt_node_float(n, a->name, strtod(a->def, NULL))));
    if (!v[k]) return SNT_ERR_NOMEM;
  }
  char *t = snt_format(tmpl, v[0], v[1], v[2]);
  snt_status st = t ? snt_emit_unary_expr(e, node, t) : SNT_ERR_NOMEM;
  free(t);
  return st;
}

/* sinter import: the op with its float attributes, positional. */
static snt_status dsl_attrs(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  fprintf(w->out, "  %s = %s(%s", lhs, n->op->name, in);
  for (const snt_arg_spec *a = n->op->args; a->name; a++)
    fprintf(w->out, ", %.9g", snt_node_float(n, a->name, strtod(a->def, NULL)));
  fprintf(w->out, ", name = %s)\n", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

#define ACT_NOTE "loop in the type (FLOAT16, BFLOAT16 in float32, rounded per element)"
#define ACT(id, onnx, doc_, args_, tmpl_) ACT_UPTO(id, onnx, doc_, args_, tmpl_, 0, NULL, SNT_NO_EXPORT_YET)
/* upto: the newest ONNX version the op follows (compiler/onnx/versions.c); export_: its ONNX form or NULL. */
#define ACT_UPTO(id, onnx, doc_, args_, tmpl_, upto, export_, no_export_)                                  \
  static snt_status id##_emit(snt_emit *e, int node) { return emit_attrs(e, node, tmpl_); }             \
  const snt_op snt_op_##id = {.name = #id, .type_name = onnx, .default_layer = #id, .doc = doc_,      \
                              .min_inputs = 1, .max_inputs = 1, .args = args_, .infer = snt_infer_same, \
                              .onnx_type = onnx, .onnx_upto = upto, .onnx_export = export_,             \
                              .emit = id##_emit, .to_dsl = dsl_attrs, .inplace = true,                  \
                              .batch_rows = snt_rows_elementwise, .onnx_arity = {1, 1, 1, 1},             \
                              .types = {.t = SNT_TY_FLOATS, .note = ACT_NOTE}, .no_export = no_export_}

static const snt_arg_spec hard_sigmoid_args[] = {{"alpha", SNT_ARG_FLOAT, "0.2", NULL}, {"beta", SNT_ARG_FLOAT, "0.5", NULL}, {0}};
static const snt_arg_spec no_args[] = {{0}};
static const snt_arg_spec selu_args[] = {{"alpha", SNT_ARG_FLOAT, "1.67326319217681884765625", NULL},
                                         {"gamma", SNT_ARG_FLOAT, "1.05070102214813232421875", NULL}, {0}};
static const snt_arg_spec alpha1_args[] = {{"alpha", SNT_ARG_FLOAT, "1", NULL}, {0}};

ACT(hard_sigmoid, "HardSigmoid", "max(0, min(1, alpha * x + beta)): hard_sigmoid(x, alpha=0.2, beta=0.5)", hard_sigmoid_args,
    "(x != x ? x : fmax$f(0, fmin$f(1, %1$s * x + %2$s)))"); /* NaN stays NaN, as numpy's clip */
/* ONNX Runtime computes x * HardSigmoid(x) with alpha 1/6, beta 0.5. */
ACT(hard_swish, "HardSwish", "x * max(0, min(1, x / 6 + 0.5)): hard_swish(x)", no_args, "x * fmax$f(0, fmin$f(1, x * (1 / 6.0$f) + 0.5$f))");
ACT(selu, "Selu", "gamma * (x > 0 ? x : alpha * (exp(x) - 1)): selu(x, alpha=1.6733, gamma=1.0507)", selu_args,
    "(x > 0 ? %2$s * x : %2$s * (%1$s * exp$f(x) - %1$s))");
ACT(elu, "Elu", "x >= 0 ? x : alpha * (exp(x) - 1): elu(x, alpha=1)", alpha1_args, "(x >= 0 ? x : %1$s * (exp$f(x) - 1))");
ACT(thresholded_relu, "ThresholdedRelu", "x > alpha ? x : 0: thresholded_relu(x, alpha=1)", alpha1_args, "(x > %1$s ? x : 0)");

/* Below the opsets of Mish (18) and Gelu (20) the export writes their formulas as older ops,
 * node by node: op(a) or op(a, b) into a fresh value (into `out` when given), in a node named
 * after the sinter node's `name`; NULL when out of memory (also when an input is NULL). */
static const char *ox_step(struct snt_onnx_export *x, const char *name, const char *op, const char *a, const char *b,
                           const char *out) {
  const char *ins[2] = {a, b};
  bool unary = strcmp(op, "Tanh") == 0 || strcmp(op, "Erf") == 0 || strcmp(op, "Softplus") == 0;
  if (!a || (!unary && !b)) return NULL;
  if (!out) out = snt_ox_temp(x, name);
  const char *nm = snt_ox_temp(x, name);
  return out && nm && snt_ox_node(x, op, nm, unary ? 1 : 2, ins, out) >= 0 ? out : NULL;
}

/* A scalar constant of the node's FLOAT or DOUBLE type; NULL for the 16-bit types. */
static const char *ox_scalar(struct snt_onnx_export *x, snt_dtype t, double v) {
  float f = (float)v;
  if (t != SNT_F32 && t != SNT_F64) return NULL;
  return snt_ox_const(x, "c", t, 0, NULL, t == SNT_F64 ? (const void *)&v : (const void *)&f);
}

static snt_status mish_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  if (snt_ox_opset(x) >= 18) return snt_ox_unary(x, g, node);
  const snt_node *n = &g->nodes[node];
  const char *in = snt_ox_name(x, n->in[0]), *nm = n->name;
  const char *t = ox_step(x, nm, "Tanh", ox_step(x, nm, "Softplus", in, NULL, NULL), NULL, NULL);
  return t && ox_step(x, nm, "Mul", in, t, snt_ox_name(x, n->out[0])) ? SNT_OK : SNT_ERR_NOMEM;
}
/* softplus as Softplus computes it (no overflow of exp for large x); tanh(inf) is 1. */
ACT_UPTO(mish, "Mish", "x * tanh(softplus(x)): mish(x)", no_args,
         "x * tanh$f(x > 0 ? x + log1p$f(exp$f(-x)) : log1p$f(exp$f(x)))", 18, mish_export, NULL);

/* ---- gelu: 0.5 x (1 + erf(x / sqrt 2)), or with approximate = "tanh" the tanh form ---- */

static const char *const gelu_modes[] = {"none", "tanh", NULL};
static const snt_arg_spec gelu_args[] = {{"approximate", SNT_ARG_SYMBOL, "none", gelu_modes}, {0}};

static bool gelu_tanh(const snt_node *n) { return strcmp(snt_node_string(n, "approximate", "none"), "tanh") == 0; }

static snt_status gelu_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const char *a = snt_node_string(n, "approximate", "none");
  if (strcmp(a, "none") != 0 && strcmp(a, "tanh") != 0)
    return snt_node_error(g, n, d, "approximate '%s' is not one of none, tanh (opset %d)", a, opset);
  return SNT_OK;
}

static snt_status gelu_emit(snt_emit *e, int node) {
  if (gelu_tanh(&e->g->nodes[node]))
    return snt_emit_unary_expr(e, node, "(0.5$f * x * (1 + tanh$f(0.79788456080286535588$f * (x + 0.044715$f * x * x * x))))");
  if (snt_emit_activation_call(e, node, "SNT_K_ACT_GELU", 0, 0)) return SNT_OK; /* float32, vectorised */
  return snt_emit_unary_expr(e, node, "(0.5$f * x * (1 + erf$f(x * 0.70710678118654752440$f)))");
}

static snt_status gelu_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  fprintf(w->out, "  %s = gelu(%s, approximate = %s, name = %s)\n", snt_dsl_ident(w, n->out[0]), snt_dsl_ident(w, n->in[0]),
          gelu_tanh(n) ? "tanh" : "none", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

/* Before opset 20: 0.5 x (1 + erf(x / sqrt 2)) or 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). */
static snt_status gelu_formula(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  snt_dtype ty = g->tensors[n->in[0]].dtype;
  if (ty != SNT_F32 && ty != SNT_F64) return snt_ox_refuse(x, node, "Gelu is opset 20's (FLOAT and DOUBLE are written as its formula)");
  const char *in = snt_ox_name(x, n->in[0]), *nm = n->name, *t;
  if (gelu_tanh(n)) {
    const char *cube = ox_step(x, nm, "Mul", ox_step(x, nm, "Mul", in, in, NULL), in, NULL);
    t = ox_step(x, nm, "Add", in, ox_step(x, nm, "Mul", cube, ox_scalar(x, ty, 0.044715), NULL), NULL);
    t = ox_step(x, nm, "Tanh", ox_step(x, nm, "Mul", t, ox_scalar(x, ty, 0.79788456080286535588), NULL), NULL, NULL);
  } else {
    t = ox_step(x, nm, "Erf", ox_step(x, nm, "Mul", in, ox_scalar(x, ty, 0.70710678118654752440), NULL), NULL, NULL);
  }
  t = ox_step(x, nm, "Mul", in, ox_step(x, nm, "Add", t, ox_scalar(x, ty, 1), NULL), NULL);
  return t && ox_step(x, nm, "Mul", t, ox_scalar(x, ty, 0.5), snt_ox_name(x, n->out[0])) ? SNT_OK : SNT_ERR_NOMEM;
}

static snt_status gelu_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  if (snt_ox_opset(x) < 20) return gelu_formula(x, g, node);
  const char *in = snt_ox_name(x, n->in[0]);
  int k = snt_ox_node(x, "Gelu", n->name, 1, &in, snt_ox_name(x, n->out[0]));
  snt_ox_attr_string(x, k, "approximate", gelu_tanh(n) ? "tanh" : "none");
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

const snt_op snt_op_gelu = {
    .name = "gelu", .type_name = "Gelu", .default_layer = "gelu",
    .doc = "0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation: gelu(x, approximate=none or tanh)", .min_inputs = 1,
    .max_inputs = 1, .args = gelu_args, .infer = snt_infer_same, .onnx_type = "Gelu", .onnx_import = gelu_import,
    .onnx_upto = 20, .onnx_export = gelu_export, .emit = gelu_emit, .to_dsl = gelu_dsl, .inplace = true,
    .batch_rows = snt_rows_elementwise, .onnx_arity = {1, 1, 1, 1}, .types = {.t = SNT_TY_FLOATS, .note = ACT_NOTE}};

/* ---- prelu: x < 0 ? slope * x : x, the slope broadcast to x's shape (unidirectional) ---- */

static snt_status prelu_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0), *s = snt_in(g, n, 1);
  bool ok = s->rank <= x->rank;
  for (int k = 0; ok && k < s->rank; k++) {
    int64_t sd = s->dims[s->rank - 1 - k], xd = x->dims[x->rank - 1 - k];
    ok = sd == 1 || sd == xd;
  }
  if (!ok) {
    char sx[128], ss[128];
    snt_shape_str(sx, sizeof sx, x, 0);
    snt_shape_str(ss, sizeof ss, s, 0);
    return snt_node_error(g, n, d, "slope shape %s does not broadcast to the input shape %s", ss, sx);
  }
  return snt_infer_same(g, node, d);
}

/* Integers: the product wraps (in uint64_t), never UB. */
static snt_status prelu_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_dtype t = e->g->tensors[n->out[0]].dtype;
  const char *ct = snt_compute_ctype(t);
  char *v = snt_fold_is_float(t) || t == SNT_F16 || t == SNT_BF16 ? snt_format("(a < 0 ? b * a : a)")
                                                                  : snt_format("(a < 0 ? (%s)((uint64_t)a * (uint64_t)b) : a)", ct);
  char *body = v ? snt_format("const %s a = %s; const %s b = %s; %s;", ct, snt_emit_load(e, n->in[0], "ix0"), ct,
                              snt_emit_load(e, n->in[1], "ix1"), snt_emit_store(e, n->out[0], "io", v))
                 : NULL;
  free(v);
  if (!body) return SNT_ERR_NOMEM;
  snt_emit_elementwise_loop(e, n->out[0], n->in, 2, body);
  free(body);
  return SNT_OK;
}

const snt_op snt_op_prelu = {
    .name = "prelu", .type_name = "PRelu", .default_layer = "prelu",
    .doc = "x < 0 ? slope * x : x, slope broadcast to x: prelu(x, slope)", .min_inputs = 2, .max_inputs = 2,
    .args = no_args, .infer = prelu_infer, .onnx_type = "PRelu", .onnx_export = snt_ox_same, .emit = prelu_emit,
    .no_dsl = SNT_NO_DSL_YET, .batch_rows = snt_rows_elementwise, .onnx_arity = {2, 2, 1, 1},
    .types = {.t = SNT_TY_FLOATS | SNT_TY(SNT_I32) | SNT_TY(SNT_I64) | SNT_TY(SNT_U32) | SNT_TY(SNT_U64), .t_slots = 3,
              .note = ACT_NOTE "; integers wrap"}};

/* ---- mean: the sum of the inputs (left to right, in the compute type) over their count ---- */

static snt_status mean_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const char *ct = snt_compute_ctype(e->g->tensors[n->out[0]].dtype);
  snt_strbuf b = {0};
  snt_sb_printf(&b, "%s acc = %s;", ct, snt_emit_load(e, n->in[0], "ix0"));
  for (int k = 1; k < n->n_in; k++) {
    char idx[16];
    snprintf(idx, sizeof idx, "ix%d", k);
    snt_sb_printf(&b, " acc += %s;", snt_emit_load(e, n->in[k], idx));
  }
  char cnt[32];
  snprintf(cnt, sizeof cnt, "(%s)%d", ct, n->n_in);
  char *v = snt_format("acc / %s", cnt);
  if (v) snt_sb_printf(&b, " %s;", snt_emit_store(e, n->out[0], "io", v));
  free(v);
  if (!v || b.failed) return snt_sb_free(&b), SNT_ERR_NOMEM;
  snt_emit_elementwise_loop(e, n->out[0], n->in, n->n_in, b.data);
  snt_sb_free(&b);
  return SNT_OK;
}

const snt_op snt_op_mean = {
    .name = "mean", .type_name = "Mean", .default_layer = "mean",
    .doc = "elementwise mean of any number of tensors, broadcasting: mean(a, b, ...)", .min_inputs = 1, .max_inputs = -1,
    .args = no_args, .infer = snt_infer_broadcast, .onnx_type = "Mean", .onnx_export = snt_ox_same, .emit = mean_emit,
    .no_dsl = SNT_NO_DSL_YET, .batch_rows = snt_rows_elementwise, .onnx_arity = {1, -1, 1, 1},
    .types = {.t = SNT_TY_FLOATS, .t_slots = ~0u, .note = ACT_NOTE}};
