/* Elementwise unary ops of ONNX graphs: abs, neg, exp, log, sqrt, erf, leaky_relu,
 * identity, cast, cast_like and clip. Each computes in float (double for DOUBLE, the type itself
 * for integers); "$f" in a template is the math-function suffix of that type. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/codegen/loops.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "support/util.h"

static const snt_arg_spec no_args[] = {{0}};

/* Replaces each "$f" of a template with the type's math suffix. */
static char *expand(const char *tmpl, const char *suffix) {
  snt_strbuf b = {0};
  snt_sb_puts(&b, "");
  for (const char *p = tmpl; *p; p++) {
    if (p[0] == '$' && p[1] == 'f') {
      snt_sb_puts(&b, suffix);
      p++;
    } else {
      char c[2] = {*p, 0};
      snt_sb_puts(&b, c);
    }
  }
  return b.data;
}

snt_status snt_emit_unary_expr(snt_emit *e, int node, const char *tmpl) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  char *safe = snt_int_safe_expr(x->dtype, tmpl); /* integer abs and neg wrap */
  char *expr = expand(safe ? safe : tmpl, snt_math_suffix(x->dtype));
  free(safe);
  if (!expr) return SNT_ERR_NOMEM;
  char *body = snt_format("const %s x = %s; %s;", snt_compute_ctype(x->dtype), snt_emit_load(e, n->in[0], "ix0"),
                          snt_emit_store(e, n->out[0], "io", expr));
  free(expr);
  if (!body) return SNT_ERR_NOMEM;
  snt_emit_elementwise_loop(e, n->out[0], n->in, 1, body);
  free(body);
  return SNT_OK;
}

bool snt_emit_activation_call(snt_emit *e, int node, const char *kind, double alpha, double beta) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  if (x->dtype != SNT_F32 || y->dtype != SNT_F32 || snt_tensor_numel(x) != snt_tensor_numel(y)) return false;
  snt_emit_line(e, "{");
  snt_emit_line(e, "static const snt_k_act act_desc = {.kind = %s, .alpha = (float)%s, .clip_min = 0, .clip_max = 0, "
                ".beta = (float)%s};", kind, snt_emit_f64(e, alpha), snt_emit_f64(e, beta));
  snt_emit_line(e, "snt_k_activation(m->k, &act_desc, %s, %s, %s);", snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]),
                snt_emit_numel(e, n->out[0]));
  snt_emit_line(e, "}");
  return true;
}

snt_status snt_infer_same(snt_graph *g, int node, snt_diag *d) {
  (void)d;
  snt_tensor *x = snt_in(g, &g->nodes[node], 0);
  snt_set_output(g, node, 0, x->dtype, x->rank, x->dims);
  return SNT_OK;
}

/* Neg and Abs of constants (shape arithmetic in expanded functions: LayerNormalization's
 * Neg(axis)). An integer result the type cannot hold is left to run time, which wraps. */
static snt_status sign_fold(snt_graph *g, const snt_node *n, void *y, bool neg) {
  const snt_tensor *x = snt_in(g, n, 0);
  for (int64_t i = 0; i < snt_tensor_numel(x); i++) {
    if (snt_fold_is_float(x->dtype)) {
      double v = snt_fold_get_f64(x, i);
      snt_fold_put_f64(x->dtype, y, i, neg ? -v : fabs(v));
    } else if (snt_fold_is_int(x->dtype)) {
      int64_t v = snt_fold_get_i64(x, i);
      if (v == INT64_MIN || !snt_fold_put_i64(x->dtype, y, i, neg || v < 0 ? -v : v)) return SNT_ERR_INPUT;
    } else {
      return SNT_ERR_INPUT;
    }
  }
  return SNT_OK;
}
static snt_status neg_fold(snt_graph *g, const snt_node *n, void *y) { return sign_fold(g, n, y, true); }
static snt_status abs_fold(snt_graph *g, const snt_node *n, void *y) { return sign_fold(g, n, y, false); }

/* A unary op computing expr_ of x (a template for snt_emit_unary_expr). */
#define UNARY(id, onnx, doc_, types_, note_, expr_, fold_, dsl_)                                            \
  static snt_status id##_emit(snt_emit *e, int node) { return snt_emit_unary_expr(e, node, expr_); }    \
  UNARY_OP(id, onnx, doc_, types_, note_, fold_, dsl_)
/* The record of a unary op whose emit rule is id##_emit. */
#define UNARY_OP(id, onnx, doc_, types_, note_, fold_, dsl_)                                                \
  const snt_op snt_op_##id = {.name = #id, .type_name = onnx, .default_layer = #id, .doc = doc_,      \
                              .min_inputs = 1, .max_inputs = 1, .args = no_args, .infer = snt_infer_same, \
                              .onnx_type = onnx, .onnx_export = snt_ox_unary, .emit = id##_emit, .fold = fold_, .to_dsl = dsl_, .onnx_upto = 21, \
                              .inplace = true, .batch_rows = snt_rows_elementwise, \
                              .onnx_arity = {1, 1, 1, 1}, .types = {.t = (types_), .note = note_}}
/* Types of the unary ops (emitted loops: FLOAT16/BFLOAT16 load and store through float32). */
#define UNARY_NOTE "loop in the type (FLOAT16, BFLOAT16 in float32, rounded per element)"
#define UNARY_INT_NOTE UNARY_NOTE "; integers wrap (Abs(MIN) = MIN)"

UNARY(abs, "Abs", "absolute value: abs(x)", SNT_TY_FLOATS | SNT_TY_INTS, UNARY_INT_NOTE, "(x < 0 ? -x : x)", abs_fold, snt_dsl_plain);
UNARY(neg, "Neg", "negation: neg(x)", SNT_TY_FLOATS | SNT_TY_SINTS, UNARY_INT_NOTE, "-x", neg_fold, snt_dsl_plain);
/* float32 through snt_k_activation's vectorised exp */
static snt_status exp_emit(snt_emit *e, int node) {
  return snt_emit_activation_call(e, node, "SNT_K_ACT_EXP", 0, 0) ? SNT_OK : snt_emit_unary_expr(e, node, "exp$f(x)");
}
UNARY_OP(exp, "Exp", "exponential: exp(x)", SNT_TY_FLOATS, UNARY_NOTE, NULL, snt_dsl_plain);
UNARY(log, "Log", "natural logarithm: log(x)", SNT_TY_FLOATS, UNARY_NOTE, "log$f(x)", NULL, snt_dsl_plain);
UNARY(sqrt, "Sqrt", "square root: sqrt(x)", SNT_TY_FLOATS, UNARY_NOTE, "sqrt$f(x)", NULL, snt_dsl_plain);
/* float32 through snt_k_activation's vectorised erf (within 2.5 ulp); other types through libm */
static snt_status erf_emit(snt_emit *e, int node) {
  return snt_emit_activation_call(e, node, "SNT_K_ACT_ERF", 0, 0) ? SNT_OK : snt_emit_unary_expr(e, node, "erf$f(x)");
}
UNARY_OP(erf, "Erf", "error function: erf(x)", SNT_TY_FLOATS, UNARY_NOTE, NULL, snt_dsl_plain);
UNARY(identity, "Identity", "a copy of x: identity(x)", SNT_TY_ALL, "a copy, any element type", "x", snt_fold_copy,
      snt_dsl_alias); /* the DSL reads its input */

/* ---- leaky_relu ---- */

static const snt_arg_spec leaky_args[] = {{"alpha", SNT_ARG_FLOAT, "0.01", NULL}, {0}};

static snt_status leaky_emit(snt_emit *e, int node) {
  double a = snt_node_float(&e->g->nodes[node], "alpha", 0.01);
  char *t = snt_format("(x >= 0 ? x : (float)%s * x)", snt_emit_f64(e, a));
  if (!t) return SNT_ERR_NOMEM;
  snt_status st = snt_emit_unary_expr(e, node, t);
  free(t);
  return st;
}

static snt_status leaky_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  fprintf(w->out, "  %s = leaky_relu(%s, %.9g, name = %s)\n", lhs, in, snt_node_float(n, "alpha", 0.01), snt_dsl_lit(w, n->name));
  return SNT_OK;
}

static snt_status leaky_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *in = snt_ox_name(x, n->in[0]);
  int k = snt_ox_node(x, "LeakyRelu", n->name, 1, &in, snt_ox_name(x, n->out[0]));
  snt_ox_attr_float(x, k, "alpha", (float)snt_node_float(n, "alpha", 0.01));
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

const snt_op snt_op_leaky_relu = {
    .name = "leaky_relu", .type_name = "LeakyReLU", .default_layer = "leaky_re_lu",
    .doc = "x for x >= 0, alpha * x below: leaky_relu(x, alpha=0.01)", .min_inputs = 1, .max_inputs = 1,
    .args = leaky_args, .infer = snt_infer_same, .onnx_type = "LeakyRelu", .emit = leaky_emit, .to_dsl = leaky_dsl, .inplace = true, .batch_rows = snt_rows_elementwise,
    .onnx_arity = {1, 1, 1, 1}, .types = {.t = SNT_TY_FLOATS, .note = UNARY_NOTE},
    .onnx_export = leaky_export};

/* ---- cast ---- */

static const snt_arg_spec cast_args[] = {{"to", SNT_ARG_INT, NULL, NULL}, {0}};

static snt_status cast_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_dtype to = (snt_dtype)snt_node_int(n, "to", 0);
  if (!snt_dtype_ctype(to)) return snt_node_error(g, n, d, "cannot cast to element type %d", (int)to);
  snt_tensor *x = snt_in(g, n, 0);
  if (!snt_dtype_ctype(x->dtype)) return snt_node_error(g, n, d, "cannot cast from element type %d", (int)x->dtype);
  snt_set_output(g, node, 0, to, x->rank, x->dims);
  return SNT_OK;
}


static bool is_float_type(snt_dtype t) { return t == SNT_F32 || t == SNT_F64 || t == SNT_F16 || t == SNT_BF16; }

static snt_status cast_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  const char *load = snt_emit_load(e, n->in[0], "ix0");
  char *body;
  const char *lo, *hi;
  snt_int_limits_expr(y->dtype, &lo, &hi);
  if (x->dtype == SNT_F64 && y->dtype == SNT_F16) {
    body = snt_format("%s[io] = snt_f64_to_f16(%s);", snt_emit_ptr(e, n->out[0]), load);
  } else if (is_float_type(x->dtype) && !is_float_type(y->dtype) && y->dtype != SNT_BOOL) {
    /* A float out of the integer range is undefined behaviour in C: NaN gives 0, the rest saturates. */
    const char *ct = snt_dtype_ctype(y->dtype);
    body = snt_format("const double v = %s; %s[io] = v != v ? (%s)0 : v <= (double)%s ? (%s)%s : v >= (double)%s ? (%s)%s : (%s)v;",
                      load, snt_emit_ptr(e, n->out[0]), ct, lo, ct, lo, hi, ct, hi, ct);
  } else
    body = snt_format("%s;", snt_emit_store(e, n->out[0], "io", load));
  if (!body) return SNT_ERR_NOMEM;
  snt_emit_elementwise_loop(e, n->out[0], n->in, 1, body);
  free(body);
  return SNT_OK;
}

/* Folded as its emitted C conversion; a float that does not fit the integer type (undefined
 * in C) is left to run time. */
static snt_status cast_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  snt_dtype to = snt_out(g, n, 0)->dtype, from = x->dtype;
  if (!(snt_fold_is_int(from) || snt_fold_is_float(from)) || !(snt_fold_is_int(to) || snt_fold_is_float(to))) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < snt_tensor_numel(x); i++) {
    if (snt_fold_is_int(from) && snt_fold_is_int(to) && !snt_fold_put_i64(to, y, i, snt_fold_get_i64(x, i))) return SNT_ERR_INPUT;
    if (snt_fold_is_int(from) && to == SNT_F32) ((float *)y)[i] = (float)snt_fold_get_i64(x, i); /* rounded once, as C does */
    if (snt_fold_is_int(from) && to == SNT_F64) ((double *)y)[i] = (double)snt_fold_get_i64(x, i);
    if (snt_fold_is_float(from) && snt_fold_is_float(to)) snt_fold_put_f64(to, y, i, snt_fold_get_f64(x, i));
    if (snt_fold_is_float(from) && snt_fold_is_int(to)) {
      double v = snt_fold_get_f64(x, i);
      if (!(v > -9.2e18 && v < 9.2e18) || !snt_fold_put_i64(to, y, i, (int64_t)v)) return SNT_ERR_INPUT;
    }
  }
  return SNT_OK;
}

const snt_op snt_op_cast = {
    .name = "cast", .type_name = "Cast", .default_layer = "cast",
    .doc = "element type conversion (ONNX type numbers): cast(x, to)", .min_inputs = 1, .max_inputs = 1,
    .args = cast_args, .infer = cast_infer, .onnx_type = "Cast", .onnx_upto = 21, .emit = cast_emit, .fold = cast_fold, .no_dsl = SNT_NO_DSL_YET, .batch_rows = snt_rows_elementwise,
    .onnx_arity = {1, 1, 1, 1}, .types = {.t = SNT_TY_ALL, .note = "any of these to any of these; BFLOAT16 and FLOAT16 round to nearest even"},
    .no_export = SNT_NO_EXPORT_YET};

/* ---- cast_like (opset 15): a cast to the element type of the second input, which supplies
 * only its type (its values are never read); emitted and folded as cast. ---- */

static snt_status cast_like_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *like = snt_in(g, n, 1);
  if (!snt_dtype_ctype(like->dtype)) return snt_node_error(g, n, d, "cannot cast to element type %d", (int)like->dtype);
  if (!snt_dtype_ctype(x->dtype)) return snt_node_error(g, n, d, "cannot cast from element type %d", (int)x->dtype);
  snt_set_output(g, node, 0, like->dtype, x->rank, x->dims);
  return SNT_OK;
}

const snt_op snt_op_cast_like = {
    .name = "cast_like", .type_name = "CastLike", .default_layer = "cast_like",
    .doc = "element type conversion to the type of a second tensor: cast_like(x, like)", .min_inputs = 2, .max_inputs = 2,
    .args = no_args, .infer = cast_like_infer, .onnx_type = "CastLike", .onnx_upto = 21, .emit = cast_emit, .fold = cast_fold, .no_dsl = SNT_NO_DSL_YET,
    .onnx_arity = {2, 2, 1, 1}, .types = {.t = SNT_TY_ALL, .other = SNT_TY_ALL, .note = "as cast, to the second input's type"},
    .no_export = SNT_NO_EXPORT_YET};

/* ---- clip: min and max are attributes before opset 11, optional inputs after ---- */

static const snt_arg_spec clip_args[] = {{"min", SNT_ARG_FLOAT, "-inf", NULL}, {"max", SNT_ARG_FLOAT, "inf", NULL}, {0}};

static snt_status clip_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  for (int i = 1; i < 3; i++) {
    snt_tensor *b = snt_in_opt(g, n, i);
    if (b && snt_tensor_numel(b) != 1) return snt_node_error(g, n, d, "input %d (the %s) must be a scalar", i + 1, i == 1 ? "minimum" : "maximum");
  }
  return snt_infer_same(g, node, d);
}

void snt_int_limits_expr(snt_dtype t, const char **lo, const char **hi) {
  switch (t) {
    case SNT_I8: *lo = "INT8_MIN", *hi = "INT8_MAX"; break;
    case SNT_I16: *lo = "INT16_MIN", *hi = "INT16_MAX"; break;
    case SNT_I32: *lo = "INT32_MIN", *hi = "INT32_MAX"; break;
    case SNT_I64: *lo = "INT64_MIN", *hi = "INT64_MAX"; break;
    case SNT_U8: *lo = "0", *hi = "UINT8_MAX"; break;
    case SNT_U16: *lo = "0", *hi = "UINT16_MAX"; break;
    case SNT_U32: *lo = "0", *hi = "UINT32_MAX"; break;
    case SNT_U64: *lo = "0", *hi = "UINT64_MAX"; break;
    default: *lo = "-INFINITY", *hi = "INFINITY"; break;
  }
}

static snt_status clip_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_graph *g = (snt_graph *)e->g;
  const snt_tensor *x = &g->tensors[n->in[0]];
  const char *ct = snt_compute_ctype(x->dtype), *lo, *hi;
  lo = snt_in_opt(g, n, 1) ? snt_emit_load(e, n->in[1], "0") : NULL;
  hi = snt_in_opt(g, n, 2) ? snt_emit_load(e, n->in[2], "0") : NULL;
  const char *tlo, *thi;
  snt_int_limits_expr(x->dtype, &tlo, &thi);
  if (!lo && snt_node_attr(n, "min")) lo = snt_emit_f64(e, snt_node_float(n, "min", 0));
  if (!hi && snt_node_attr(n, "max")) hi = snt_emit_f64(e, snt_node_float(n, "max", 0));
  char *t = snt_format("(x < lo ? lo : x > hi ? hi : x)");
  snt_emit_line(e, "{");
  snt_emit_line(e, "const %s lo = %s, hi = %s;", ct, lo ? lo : tlo, hi ? hi : thi);
  snt_status st = t ? snt_emit_unary_expr(e, node, t) : SNT_ERR_NOMEM;
  snt_emit_line(e, "}");
  free(t);
  return st;
}

/* A bound of Clip: a float32 constant input, else the attribute (min/max of opsets 1-6 or the
 * DSL); false when absent, or read at run time (*runtime). */
static bool clip_bound(const snt_graph *g, const snt_node *n, int slot, const char *name, double *v, bool *runtime) {
  const snt_tensor *b = slot < n->n_in && n->in[slot] >= 0 ? &g->tensors[n->in[slot]] : NULL;
  if (b) {
    bool known = b->kind == SNT_T_CONST && b->data && b->dtype == SNT_F32;
    if (known) *v = ((const float *)b->data)[0];
    else *runtime = true;
    return known;
  }
  if (!snt_node_attr(n, name)) return false;
  *v = snt_node_float(n, name, 0);
  return true;
}

static snt_status clip_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  double lo = 0, hi = 0;
  bool runtime = false, has_lo = clip_bound(w->g, n, 1, "min", &lo, &runtime), has_hi = clip_bound(w->g, n, 2, "max", &hi, &runtime);
  if (runtime || w->g->tensors[n->in[0]].dtype != SNT_F32)
    return snt_dsl_unsupported(w, n, "FLOAT clips with constant bounds only");
  fprintf(w->out, "  %s = clip(%s", snt_dsl_ident(w, n->out[0]), snt_dsl_ident(w, n->in[0]));
  if (has_lo) fprintf(w->out, ", min = %.9g", lo);
  if (has_hi) fprintf(w->out, ", max = %.9g", hi);
  fprintf(w->out, ", name = %s)\n", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

/* Clip-13: the bounds as float32 scalar initializers, an absent one as "". */
static snt_status clip_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  double lo = 0, hi = 0;
  bool runtime = false, has_lo = clip_bound(g, n, 1, "min", &lo, &runtime), has_hi = clip_bound(g, n, 2, "max", &hi, &runtime);
  if (runtime || g->tensors[n->in[0]].dtype != SNT_F32) return snt_ox_refuse(x, node, "FLOAT clips with constant bounds only");
  float flo = (float)lo, fhi = (float)hi;
  const char *ins[3] = {snt_ox_name(x, n->in[0]), has_lo ? snt_ox_const(x, "min", SNT_F32, 0, NULL, &flo) : "",
                        has_hi ? snt_ox_const(x, "max", SNT_F32, 0, NULL, &fhi) : ""};
  int k = snt_ox_node(x, "Clip", n->name, has_hi ? 3 : has_lo ? 2 : 1, ins, snt_ox_name(x, n->out[0]));
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

const snt_op snt_op_clip = {
    .name = "clip", .type_name = "Clip", .default_layer = "clip",
    .doc = "limits values to [min, max]: clip(x, min=-inf, max=inf)", .min_inputs = 1, .max_inputs = 3,
    .args = clip_args, .infer = clip_infer, .onnx_type = "Clip", .emit = clip_emit, .to_dsl = clip_dsl, .inplace = true, .batch_rows = snt_rows_elementwise,
    .onnx_arity = {1, 3, 1, 1}, .types = {.t = SNT_TY_FLOATS | SNT_TY_INTS, .t_slots = 7, .note = UNARY_NOTE},
    .onnx_export = clip_export};
