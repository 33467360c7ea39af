/* Elementwise loops with numpy broadcasting. */
#include "compiler/codegen/loops.h"

#include <stdlib.h>
#include <string.h>

#include "support/util.h"

const char *snt_compute_ctype(snt_dtype t) {
  if (t == SNT_F32 || t == SNT_F16 || t == SNT_BF16) return "float";
  if (t == SNT_F64) return "double";
  return snt_dtype_ctype(t);
}

static bool is_signed_int(snt_dtype t) { return t == SNT_I8 || t == SNT_I16 || t == SNT_I32 || t == SNT_I64; }
static bool is_unsigned_int(snt_dtype t) { return t == SNT_U8 || t == SNT_U16 || t == SNT_U32 || t == SNT_U64 || t == SNT_BOOL; }

char *snt_int_safe_expr(snt_dtype t, const char *expr) {
  if (!is_signed_int(t) && !is_unsigned_int(t)) return NULL;
  const char *ct = snt_dtype_ctype(t);
  /* uint64_t arithmetic is defined modulo 2^64; converting back keeps the low bits (GCC and
   * Clang define the conversion to a signed type as wrapping). */
  if (strcmp(expr, "a + b") == 0 || strcmp(expr, "a - b") == 0 || strcmp(expr, "a * b") == 0)
    return snt_format("((%s)((uint64_t)a %c (uint64_t)b))", ct, expr[2]);
  if (strcmp(expr, "a / b") == 0)
    return is_signed_int(t) ? snt_format("(b == 0 ? (%s)0 : b == -1 ? (%s)(0 - (uint64_t)a) : (%s)(a / b))", ct, ct, ct)
                            : snt_format("(b == 0 ? (%s)0 : (%s)(a / b))", ct, ct);
  if (strncmp(expr, "pow(", 4) == 0) /* a double result out of range must not reach a C conversion */
    return snt_format("((%s)(int64_t)fmin(fmax(%s, -0x1p63), 0x1.fffffffffffffp62))", ct, expr);
  if (strcmp(expr, "-x") == 0) return snt_format("((%s)(0 - (uint64_t)x))", ct);
  if (strcmp(expr, "(x < 0 ? -x : x)") == 0)
    return is_signed_int(t) ? snt_format("(x < 0 ? (%s)(0 - (uint64_t)x) : x)", ct) : snt_format("x");
  return NULL;
}

const char *snt_math_suffix(snt_dtype t) { return t == SNT_F64 ? "" : "f"; }

static bool same_shape(const snt_tensor *a, const snt_tensor *b) {
  if (snt_tensor_numel(a) != snt_tensor_numel(b)) return false;
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

enum { MAX_RUN_INPUTS = 16, MIN_RUN = 16 };

/* Input x's size along output dim d (1 where x's rank does not reach). */
static int64_t dim_at(const snt_tensor *x, int R, int d) {
  int xd = d - (R - x->rank);
  return xd >= 0 ? x->dims[xd] : 1;
}

/* The first output dim s >= 1 of the longest run of trailing dims [s, R) over which every input
 * either has the output's sizes (full[k]: read contiguously) or size 1 (read once), with at
 * least MIN_RUN elements; R (an empty run, full[] unset) if there is none. Over such a run the
 * body is one flat loop the compiler vectorises (a channel scale [N, C, 1, 1] times a map
 * [N, C, H, W]: runs of H W). */
static int inner_run(const snt_graph *g, const snt_tensor *y, const int *ins, int n_ins, bool *full) {
  int R = y->rank, best = R;
  if (n_ins > MAX_RUN_INPUTS) return R;
  bool is_full[MAX_RUN_INPUTS], is_one[MAX_RUN_INPUTS];
  for (int k = 0; k < n_ins; k++) is_full[k] = is_one[k] = true;
  int64_t len = 1;
  for (int d = R - 1; d >= 1; d--) {
    bool ok = true;
    for (int k = 0; k < n_ins; k++) {
      int64_t xd = dim_at(&g->tensors[ins[k]], R, d);
      is_full[k] &= xd == y->dims[d];
      is_one[k] &= xd == 1;
      ok &= is_full[k] || is_one[k];
    }
    if (!ok) break;
    len *= y->dims[d];
    if (len >= MIN_RUN) {
      best = d;
      for (int k = 0; k < n_ins; k++) full[k] = !is_one[k];
    }
  }
  return best;
}

/* Outer loops over output dims [0, s), the body in a flat loop over the run [s, R) (one
 * iteration when s = R). */
static void emit_run_loops(snt_emit *e, int out, const int *ins, int n_ins, const char *body, int s, const bool *full) {
  const snt_tensor *y = &e->g->tensors[out];
  int R = y->rank;
  int64_t run = 1;
  for (int d = s; d < R; d++) run *= y->dims[d];
  snt_emit_line(e, "int64_t ob = 0;");
  for (int d = 0; d < s; d++)
    snt_emit_line(e, "for (int64_t i%d = 0; i%d < %s; i%d++)", d, d, d ? snt_emit_i64(e, y->dims[d]) : snt_emit_rows(e, out), d);
  snt_emit_line(e, "{");
  for (int k = 0; k < n_ins; k++) {
    const snt_tensor *x = &e->g->tensors[ins[k]];
    snt_strbuf idx = {0};
    snt_sb_puts(&idx, "0");
    int64_t stride = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
      int od = d + (R - x->rank);
      if (od < s && x->dims[d] != 1) snt_sb_printf(&idx, " + i%d * %lld", od, (long long)stride);
      stride *= x->dims[d];
    }
    snt_emit_line(e, "  const int64_t b%d = %s;", k, idx.data);
    snt_sb_free(&idx);
  }
  snt_emit_line(e, "  for (int64_t j = 0; j < %lldLL; j++) {", (long long)run);
  snt_emit_line(e, "    const int64_t io = ob + j;");
  for (int k = 0; k < n_ins; k++) snt_emit_line(e, "    const int64_t ix%d = b%d%s;", k, k, s < R && full[k] ? " + j" : "");
  snt_emit_line(e, "    %s", body);
  snt_emit_line(e, "  }");
  snt_emit_line(e, "  ob += %lldLL;", (long long)run);
  snt_emit_line(e, "}");
  snt_emit_line(e, "}");
}

void snt_emit_elementwise_loop(snt_emit *e, int out, const int *ins, int n_ins, const char *body) {
  const snt_tensor *y = &e->g->tensors[out];
  bool flat = true;
  for (int k = 0; k < n_ins; k++) {
    const snt_tensor *x = &e->g->tensors[ins[k]];
    flat &= same_shape(x, y) || snt_tensor_numel(x) == 1;
  }
  snt_emit_line(e, "{");
  if (flat) {
    snt_emit_line(e, "for (int64_t io = 0; io < %s; io++) {", snt_emit_numel(e, out));
    for (int k = 0; k < n_ins; k++)
      snt_emit_line(e, "  const int64_t ix%d = %s;", k, snt_tensor_numel(&e->g->tensors[ins[k]]) == 1 ? "0" : "io");
    snt_emit_line(e, "  %s", body);
    snt_emit_line(e, "}");
    snt_emit_line(e, "}");
    return;
  }
  /* Right-aligned broadcasting: input dim i of rank r lines up with output dim i + (R - r). */
  bool full[MAX_RUN_INPUTS] = {false};
  emit_run_loops(e, out, ins, n_ins, body, inner_run(e->g, y, ins, n_ins, full), full);
}
