/* Elementwise math of ONNX graphs without attributes: rounding (Ceil, Floor, Round), Sign,
 * Reciprocal, trigonometric and hyperbolic functions, Softplus, Softsign; and the tests with a
 * BOOL result (IsNaN, IsInf, Not). Each is one line of MATH: an expression over x in the
 * type's compute type ("$f" is the math suffix), as snt_emit_unary_expr emits it. */
#include <math.h>
#include <stdlib.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "support/util.h"

static const snt_arg_spec no_args[] = {{0}};

#define MATH_NOTE "loop in the type (FLOAT16, BFLOAT16 in float32, rounded per element)"

/* Folds a float unary op as its emitted C: the function of the value in double, rounded to
 * FLOAT (exact for the rounding ops and Sign; division rounds correctly twice). */
static snt_status fold_with(snt_graph *g, const snt_node *n, void *y, double (*f)(double)) {
  const snt_tensor *x = snt_in(g, n, 0);
  if (!snt_fold_is_float(x->dtype)) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < snt_tensor_numel(x); i++) snt_fold_put_f64(x->dtype, y, i, f(snt_fold_get_f64(x, i)));
  return SNT_OK;
}

static double sign_of(double x) { return x > 0 ? 1 : x < 0 ? -1 : x; }
static double recip(double x) { return 1 / x; }
static double round_even(double x) { return nearbyint(x); }
static snt_status ceil_fold(snt_graph *g, const snt_node *n, void *y) { return fold_with(g, n, y, ceil); }
static snt_status floor_fold(snt_graph *g, const snt_node *n, void *y) { return fold_with(g, n, y, floor); }
static snt_status round_fold(snt_graph *g, const snt_node *n, void *y) { return fold_with(g, n, y, round_even); }
static snt_status reciprocal_fold(snt_graph *g, const snt_node *n, void *y) { return fold_with(g, n, y, recip); }
/* Sign also takes integers: -1, 0 or 1 in the type. */
static snt_status sign_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  if (!snt_fold_is_int(x->dtype)) return fold_with(g, n, y, sign_of);
  for (int64_t i = 0; i < snt_tensor_numel(x); i++) {
    int64_t v = snt_fold_get_i64(x, i);
    snt_fold_put_i64(x->dtype, y, i, (v > 0) - (v < 0));
  }
  return SNT_OK;
}

/* A unary op whose output has the input's type and shape. */
#define MATH(id, onnx, doc_, types_, expr_, fold_)                                                        \
  static snt_status id##_emit(snt_emit *e, int node) { return snt_emit_unary_expr(e, node, expr_); }     \
  const snt_op snt_op_##id = {.name = #id, .type_name = onnx, .default_layer = #id, .doc = doc_,       \
                              .min_inputs = 1, .max_inputs = 1, .args = no_args, .infer = snt_infer_same,  \
                              .onnx_type = onnx, .onnx_export = snt_ox_unary, .emit = id##_emit, .fold = fold_, .onnx_upto = 20, \
                              .to_dsl = snt_dsl_plain, .inplace = true, .batch_rows = snt_rows_elementwise,  \
                              .onnx_arity = {1, 1, 1, 1}, .types = {.t = (types_), .note = MATH_NOTE}}

MATH(ceil, "Ceil", "rounds up: ceil(x)", SNT_TY_FLOATS, "ceil$f(x)", ceil_fold);
MATH(floor, "Floor", "rounds down: floor(x)", SNT_TY_FLOATS, "floor$f(x)", floor_fold);
MATH(round, "Round", "rounds to the nearest integer, halves to even: round(x)", SNT_TY_FLOATS, "nearbyint$f(x)", round_fold);
MATH(sign, "Sign", "-1, 0 or 1 by the sign of x (NaN stays NaN): sign(x)", SNT_TY_FLOATS | SNT_TY_INTS,
     "(x > 0 ? 1 : x < 0 ? -1 : x)", sign_fold);
MATH(reciprocal, "Reciprocal", "1 / x: reciprocal(x)", SNT_TY_FLOATS, "1 / x", reciprocal_fold);
MATH(sin, "Sin", "sine: sin(x)", SNT_TY_FLOATS, "sin$f(x)", NULL);
MATH(cos, "Cos", "cosine: cos(x)", SNT_TY_FLOATS, "cos$f(x)", NULL);
MATH(tan, "Tan", "tangent: tan(x)", SNT_TY_FLOATS, "tan$f(x)", NULL);
MATH(asin, "Asin", "arcsine: asin(x)", SNT_TY_FLOATS, "asin$f(x)", NULL);
MATH(acos, "Acos", "arccosine: acos(x)", SNT_TY_FLOATS, "acos$f(x)", NULL);
MATH(atan, "Atan", "arctangent: atan(x)", SNT_TY_FLOATS, "atan$f(x)", NULL);
MATH(sinh, "Sinh", "hyperbolic sine: sinh(x)", SNT_TY_FLOATS, "sinh$f(x)", NULL);
MATH(cosh, "Cosh", "hyperbolic cosine: cosh(x)", SNT_TY_FLOATS, "cosh$f(x)", NULL);
MATH(asinh, "Asinh", "inverse hyperbolic sine: asinh(x)", SNT_TY_FLOATS, "asinh$f(x)", NULL);
MATH(acosh, "Acosh", "inverse hyperbolic cosine: acosh(x)", SNT_TY_FLOATS, "acosh$f(x)", NULL);
MATH(atanh, "Atanh", "inverse hyperbolic tangent: atanh(x)", SNT_TY_FLOATS, "atanh$f(x)", NULL);
/* log(1 + e^x) without overflow: x + log1p(e^-x) above 0. */
MATH(softplus, "Softplus", "log(1 + exp(x)): softplus(x)", SNT_TY_FLOATS, "(x > 0 ? x + log1p$f(exp$f(-x)) : log1p$f(exp$f(x)))", NULL);
MATH(softsign, "Softsign", "x / (1 + |x|): softsign(x)", SNT_TY_FLOATS, "x / (1 + fabs$f(x))", NULL);

/* ---- tests with a BOOL result ---- */

static snt_status infer_bool(snt_graph *g, int node, snt_diag *d) {
  (void)d;
  snt_tensor *x = snt_in(g, &g->nodes[node], 0);
  snt_set_output(g, node, 0, SNT_BOOL, x->rank, x->dims);
  return SNT_OK;
}

static snt_status not_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  for (int64_t i = 0; i < snt_tensor_numel(x); i++) ((uint8_t *)y)[i] = !((const uint8_t *)x->data)[i];
  return SNT_OK;
}

#define TEST(id, onnx, doc_, types_, note_, expr_, fold_, inplace_)                                       \
  static snt_status id##_emit(snt_emit *e, int node) { return snt_emit_unary_expr(e, node, expr_); }     \
  const snt_op snt_op_##id = {.name = #id, .type_name = onnx, .default_layer = #id, .doc = doc_,       \
                              .min_inputs = 1, .max_inputs = 1, .args = no_args, .infer = infer_bool,   \
                              .onnx_type = onnx, .onnx_export = snt_ox_unary, .emit = id##_emit, .fold = fold_, .onnx_upto = 20, \
                              .no_dsl = "its result is BOOL, which the DSL has no type for", .inplace = inplace_, \
                              .batch_rows = snt_rows_elementwise, .onnx_arity = {1, 1, 1, 1},              \
                              .types = {.t = (types_), .note = note_}}

TEST(isnan, "IsNaN", "true where x is NaN: isnan(x)", SNT_TY_FLOATS, "BOOL result", "isnan(x)", NULL, false);
TEST(logical_not, "Not", "logical not of a BOOL tensor: logical_not(x)", SNT_TY(SNT_BOOL), "BOOL only", "!x", not_fold, true);

/* IsInf: detect_positive and detect_negative (both 1 by default) choose the infinities. */
static const snt_arg_spec isinf_args[] = {{"detect_positive", SNT_ARG_INT, "1", NULL}, {"detect_negative", SNT_ARG_INT, "1", NULL}, {0}};
static const snt_attr_range isinf_ranges[] = {{"detect_positive", 0, 1}, {"detect_negative", 0, 1}, {0}};

static snt_status isinf_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  char *t = snt_format("(isinf(x) && (x > 0 ? %d : %d))", (int)snt_node_int(n, "detect_positive", 1),
                       (int)snt_node_int(n, "detect_negative", 1));
  snt_status st = t ? snt_emit_unary_expr(e, node, t) : SNT_ERR_NOMEM;
  free(t);
  return st;
}

const snt_op snt_op_isinf = {
    .name = "isinf", .type_name = "IsInf", .default_layer = "isinf",
    .doc = "true where x is infinite: isinf(x, detect_positive=1, detect_negative=1)", .min_inputs = 1, .max_inputs = 1,
    .args = isinf_args, .infer = infer_bool, .onnx_type = "IsInf", .onnx_upto = 20, .emit = isinf_emit,
    .no_dsl = "its result is BOOL, which the DSL has no type for", .batch_rows = snt_rows_elementwise,
    .onnx_arity = {1, 1, 1, 1}, .onnx_ranges = isinf_ranges, .types = {.t = SNT_TY_FLOATS, .note = "BOOL result"},
    .no_export = SNT_NO_EXPORT_YET};
