/* Elementwise binary and variadic ops with numpy broadcasting: sub, mul, div, pow and
 * the variadic sum, max, min (add lives in add.c: it is also the DSL's residual add). */
#include <stdlib.h>
#include <string.h>

#include "compiler/codegen/loops.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "support/util.h"

static const snt_arg_spec no_args[] = {{0}};

snt_status snt_infer_broadcast(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int rank = 0;
  int64_t dims[SNT_MAX_RANK];
  snt_status st = snt_broadcast_shape(g, node, d, n->in, n->n_in, &rank, dims);
  if (st) return st;
  snt_set_output(g, node, 0, snt_in(g, n, 0)->dtype, rank, dims);
  return SNT_OK;
}

/* Folds the inputs left to right with `combine`, a template over `a` and `b`. */
snt_status snt_emit_fold(snt_emit *e, int node, const char *combine) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *y = &e->g->tensors[n->out[0]];
  const char *ct = snt_compute_ctype(y->dtype);
  char *safe = snt_int_safe_expr(y->dtype, combine); /* integers: no overflow or division UB */
  if (safe) combine = safe;
  snt_strbuf b = {0};
  snt_sb_printf(&b, "%s acc = %s;", ct, snt_emit_load(e, n->in[0], "ix0"));
  for (int k = 1; k < n->n_in; k++) {
    char idx[16];
    snprintf(idx, sizeof idx, "ix%d", k);
    const snt_tensor *x = &e->g->tensors[n->in[k]];
    snt_sb_printf(&b, " { const %s a = acc; const %s b = %s; acc = %s; }", ct, snt_compute_ctype(x->dtype),
                  snt_emit_load(e, n->in[k], idx), combine);
  }
  snt_sb_printf(&b, " %s;", snt_emit_store(e, n->out[0], "io", "acc"));
  free(safe);
  if (b.failed) return SNT_ERR_NOMEM;
  snt_emit_elementwise_loop(e, n->out[0], n->in, n->n_in, b.data);
  snt_sb_free(&b);
  return SNT_OK;
}

/* The ONNX op of the same kind with the same inputs (ops without attributes). */
snt_status snt_ox_same(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *ins[64];
  if (n->n_in > 64) return SNT_ERR_INTERNAL;
  for (int i = 0; i < n->n_in; i++) ins[i] = snt_ox_name(x, n->in[i]);
  return snt_ox_node(x, n->op->onnx_type, n->name, n->n_in, ins, snt_ox_name(x, n->out[0])) < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

static bool same_shape(const snt_tensor *a, const snt_tensor *b) {
  if (a->rank != b->rank) return false;
  for (int k = 1; k < a->rank; k++)
    if (a->dims[k] != b->dims[k]) return false;
  return true;
}

snt_status snt_dsl_arith(snt_dsl_writer *w, int node, char op) {
  const snt_graph *g = w->g;
  const snt_node *n = &g->nodes[node];
  /* c + x and c * x as x + c and x * c */
  int a = (op == '+' || op == '*') && snt_dsl_is_param(g, n, 0) && !snt_dsl_is_param(g, n, 1);
  const snt_tensor *x = &g->tensors[n->in[a]];
  FILE *f = w->out;
  const char *in = snt_dsl_ident(w, n->in[a]), *lhs = snt_dsl_ident(w, n->out[0]);
  int64_t ch = x->rank >= 2 ? x->dims[1] : 1;
  double v[4096];
  int k = ch <= 4096 && !snt_dsl_is_param(g, n, a) ? snt_dsl_channel_const(g, n->in[1 - a], x, v) : -1;
  if (k > 0) {
    for (int j = 0; j < k; j++) v[j] = op == '-' ? -v[j] : op == '/' ? 1.0 / v[j] : v[j];
    fprintf(f, "  %s = rescale(%s, ", lhs, in); /* x / c as x * (1 / c): within an ulp */
    if (op == '*' || op == '/') snt_dsl_floats(f, v, k), fprintf(f, ", 0");
    else fprintf(f, "1, "), snt_dsl_floats(f, v, k);
    fprintf(f, ", name = %s)\n", snt_dsl_lit(w, n->name));
  } else if (op == '+' && n->n_in == 2 && !snt_dsl_is_param(g, n, 0) && !snt_dsl_is_param(g, n, 1) &&
             same_shape(x, &g->tensors[n->in[1]])) {
    fprintf(f, "  %s = add(%s, %s, name = %s)\n", lhs, in, snt_dsl_ident(w, n->in[1]), snt_dsl_lit(w, n->name));
  } else if (!snt_dsl_is_param(g, n, 0) && !snt_dsl_is_param(g, n, 1)) {
    /* Two computed tensors, broadcasting (a squeeze-excite gate, x * sigmoid(x)): the DSL's
     * add is Keras's (one shape), sum broadcasts. */
    return snt_dsl_call(w, node, op == '+' ? "sum" : op == '-' ? "sub" : op == '*' ? "mul" : "div");
  } else {
    return snt_dsl_unsupported(w, n, "a constant that is not one value per channel, which the DSL cannot hold");
  }
  return SNT_OK;
}

static snt_status sub_dsl(snt_dsl_writer *w, int node) { return snt_dsl_arith(w, node, '-'); }
static snt_status mul_dsl(snt_dsl_writer *w, int node) { return snt_dsl_arith(w, node, '*'); }

/* Constant folding of sub, mul and div (fold_util.c). */
static snt_status sub_fold(snt_graph *g, const snt_node *n, void *y) { return snt_fold_arith(g, n, y, '-'); }
static snt_status mul_fold(snt_graph *g, const snt_node *n, void *y) { return snt_fold_arith(g, n, y, '*'); }
static snt_status div_fold(snt_graph *g, const snt_node *n, void *y) { return snt_fold_arith(g, n, y, '/'); }

/* An op folding its inputs left to right with combine_ over a and b (snt_emit_fold). */
#define BINARY(id, onnx, lo, hi, doc_, types_, combine_, fold_, dsl_)                                    \
  static snt_status id##_emit(snt_emit *e, int node) { return snt_emit_fold(e, node, combine_); }     \
  const snt_op snt_op_##id = {.name = #id, .type_name = onnx, .default_layer = #id, .doc = doc_,    \
                              .min_inputs = lo, .max_inputs = hi, .args = no_args,                   \
                              .infer = snt_infer_broadcast, .onnx_type = onnx, .onnx_export = snt_ox_same, \
                              .emit = id##_emit, .fold = fold_, .to_dsl = dsl_, .batch_rows = snt_rows_elementwise, .onnx_arity = {lo, hi, 1, 1}, .types = types_}
#define FOLD_NOTE "loop in the type (FLOAT16, BFLOAT16 in float32, rounded per element; integers wrap)"
#define POW_TYPES                                                                                    \
  {.t = SNT_TY_FLOATS | SNT_TY(SNT_I32) | SNT_TY(SNT_I64), .other = SNT_TY_NUMERIC,                    \
   .note = "computed in double, rounded to the type (integers: truncated, saturated to int64 first)"}
#define FOLD_TYPES(ts) {.t = (ts), .t_slots = ~0u, .note = FOLD_NOTE}
#define DIV_TYPES {.t = SNT_TY_FLOATS | SNT_TY_INTS, .t_slots = ~0u, .note = FOLD_NOTE "; x / 0 = 0, MIN / -1 = MIN"}

BINARY(sub, "Sub", 2, 2, "a - b, broadcasting: sub(a, b)", FOLD_TYPES(SNT_TY_FLOATS | SNT_TY_INTS), "a - b", sub_fold, sub_dsl);
BINARY(mul, "Mul", 2, 2, "a * b, broadcasting: mul(a, b)", FOLD_TYPES(SNT_TY_FLOATS | SNT_TY_INTS), "a * b", mul_fold, mul_dsl);
static snt_status div_dsl(snt_dsl_writer *w, int node) { return snt_dsl_arith(w, node, '/'); }

BINARY(div, "Div", 2, 2, "a / b, broadcasting (integers truncate): div(a, b)", DIV_TYPES, "a / b", div_fold, div_dsl);
/* Powers that exporters write for squares, cubes and square roots (a variance, the tanh GELU's
 * x^3, a norm's root) without libm's pow, which costs 30x more, and with pow's value:
 * x * x is exact in double for a float, so rounded once it is what the pow in double gives (for
 * a double, the correctly rounded square); a float's cube in double is x^2 exact times x rounded
 * once, as pow's correctly rounded double; sqrt is pow(x, 0.5) but at -0 and -inf (+0, +inf). */
static snt_status pow_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  bool same = x->rank == y->rank;
  for (int k = 0; same && k < x->rank; k++) same = x->dims[k] == y->dims[k];
  double p = 0;
  if ((x->dtype == SNT_F32 || x->dtype == SNT_F64) && same && snt_fixed_scalar(e->g, n->in[1], &p)) {
    if (p == 2) return snt_emit_unary_expr(e, node, "x * x");
    if (p == 3 && x->dtype == SNT_F32) return snt_emit_unary_expr(e, node, "(double)x * x * x");
    if (p == 0.5) return snt_emit_unary_expr(e, node, "(x == -INFINITY ? INFINITY : sqrt$f(x) + 0)");
  }
  return snt_emit_fold(e, node, "pow((double)a, (double)b)");
}
const snt_op snt_op_pow = {.name = "pow", .type_name = "Pow", .default_layer = "pow", .doc = "a ** b, broadcasting, in a's type: pow(a, b)",
                           .min_inputs = 2, .max_inputs = 2, .args = no_args, .infer = snt_infer_broadcast, .onnx_type = "Pow",
                           .onnx_export = snt_ox_same, .emit = pow_emit, .to_dsl = snt_dsl_plain, .batch_rows = snt_rows_elementwise,
                           .onnx_arity = {2, 2, 1, 1}, .types = POW_TYPES};
BINARY(sum, "Sum", 1, -1, "elementwise sum of any number of tensors, broadcasting: sum(a, b, ...)", FOLD_TYPES(SNT_TY_FLOATS), "a + b", NULL, snt_dsl_plain);
BINARY(maximum, "Max", 1, -1, "elementwise maximum, broadcasting: maximum(a, b, ...)", FOLD_TYPES(SNT_TY_FLOATS | SNT_TY_INTS), "(a > b ? a : b)", NULL,
       snt_dsl_plain);
BINARY(minimum, "Min", 1, -1, "elementwise minimum, broadcasting: minimum(a, b, ...)", FOLD_TYPES(SNT_TY_FLOATS | SNT_TY_INTS), "(a < b ? a : b)", NULL,
       snt_dsl_plain);

/* ---- mod: ONNX Mod; fmod=0 (integers only) follows the divisor's sign, fmod=1 the dividend's ---- */

static const snt_arg_spec mod_args[] = {{"fmod", SNT_ARG_INT, "0", NULL}, {0}};

static bool is_int(snt_dtype t) { return snt_dtype_size(t) && t != SNT_F32 && t != SNT_F64 && t != SNT_F16 && t != SNT_BF16; }

static snt_status mod_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int64_t f = snt_node_int(n, "fmod", 0);
  if (f != 0 && f != 1) return snt_node_error(g, n, d, "fmod must be 0 or 1, got %lld", (long long)f);
  if (!f && !is_int(snt_in(g, n, 0)->dtype))
    return snt_node_error(g, n, d, "fmod=0 is for integers: %s needs fmod=1", snt_dtype_name(snt_in(g, n, 0)->dtype));
  return snt_infer_broadcast(g, node, d);
}

/* Integers: x mod 0 = 0 and MIN mod -1 = 0 (no division UB); floats: C's fmod, in double. */
static snt_status mod_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_dtype t = e->g->tensors[n->out[0]].dtype;
  if (!is_int(t)) return snt_emit_fold(e, node, "fmod((double)a, (double)b)");
  bool sgn = t == SNT_I8 || t == SNT_I16 || t == SNT_I32 || t == SNT_I64;
  const char *ct = snt_dtype_ctype(t);
  char *r = sgn ? snt_format("(b == 0 || b == -1 ? (%s)0 : (%s)(a %% b))", ct, ct) : snt_format("(b == 0 ? (%s)0 : (%s)(a %% b))", ct, ct);
  /* fmod=0 moves a remainder whose sign differs from the divisor's by one divisor. */
  char *c = r && sgn && !snt_node_int(n, "fmod", 0)
                ? snt_format("((%s)(%s) != 0 && (((%s)(%s) < 0) != (b < 0)) ? (%s)((uint64_t)(%s) + (uint64_t)b) : (%s)(%s))", ct,
                             r, ct, r, ct, r, ct, r)
                : NULL;
  snt_status st = r ? snt_emit_fold(e, node, c ? c : r) : SNT_ERR_NOMEM;
  free(r);
  free(c);
  return st;
}

const snt_op snt_op_mod = {
    .name = "mod", .type_name = "Mod", .default_layer = "mod",
    .doc = "remainder, broadcasting: mod(a, b, fmod=0) (fmod=0: the sign of b, integers only; fmod=1: the sign of a)",
    .min_inputs = 2, .max_inputs = 2, .args = mod_args, .infer = mod_infer, .onnx_type = "Mod",
    .emit = mod_emit, .no_dsl = SNT_NO_DSL_YET, .batch_rows = snt_rows_elementwise, .onnx_arity = {2, 2, 1, 1},
    .types = {.t = SNT_TY_FLOATS | SNT_TY_INTS, .t_slots = ~0u,
              .note = "integers in the type (x mod 0 = 0, MIN mod -1 = 0); floats: fmod in double, rounded to the type"},
    .no_export = SNT_NO_EXPORT_YET};
