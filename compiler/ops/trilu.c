/* trilu (opset 14) and eye_like (opset 9): ops over the last two axes as matrices, row i and
 * column j, with a diagonal offset k (j - i). Trilu keeps j - i >= k (upper) or <= k (lower)
 * and zeroes the rest, in any element type; its k is an optional constant input. EyeLike
 * writes 1 on the diagonal j - i = k of a 2-D tensor shaped as its input, whose values it
 * never reads, so it always folds to a constant. */
#include <string.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"

static const snt_arg_spec trilu_args[] = {{"upper", SNT_ARG_BOOL, "true", NULL}, {0}};
static const snt_arg_spec eye_args[] = {{"dtype", SNT_ARG_INT, "0", NULL}, {"k", SNT_ARG_INT, "0", NULL}, {0}};

static snt_status trilu_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  if (x->rank < 2) return snt_node_error(g, n, d, "the input has rank %d; it needs at least 2", x->rank);
  int64_t k = 0;
  int c = 0;
  int r = snt_const_ints(g, n, 1, &k, &c, 1);
  if (r < 0 || (r > 0 && c != 1)) return snt_node_error(g, n, d, "its k must be a constant INT64 scalar");
  snt_status st = snt_node_set_int(n, "_k", k);
  return st ? st : snt_infer_same(g, node, d);
}

static snt_status trilu_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1], k = snt_node_int(n, "_k", 0);
  int64_t mats = rows != 0 && cols != 0 ? snt_tensor_numel(x) / (rows * cols) : 0;
  if (mats == 0) return SNT_OK;
  const char *ct = snt_dtype_ctype(x->dtype);
  /* k may be anywhere in int64: compare j - i (both within the caps) with it, never add. */
  snt_emit_line(e, "{");
  snt_emit_line(e, "const %s *x = (const %s *)%s;", ct, ct, snt_emit_ptr(e, n->in[0]));
  snt_emit_line(e, "%s *y = (%s *)%s;", ct, ct, snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "for (int64_t m = 0; m < %lldLL; m++)", (long long)mats);
  snt_emit_line(e, "  for (int64_t i = 0; i < %lldLL; i++)", (long long)rows);
  snt_emit_line(e, "    for (int64_t j = 0; j < %lldLL; j++) {", (long long)cols);
  snt_emit_line(e, "      const int64_t o = (m * %lldLL + i) * %lldLL + j;", (long long)rows, (long long)cols);
  snt_emit_line(e, "      y[o] = j - i %s %s ? x[o] : (%s)0;", snt_node_int(n, "upper", 1) ? ">=" : "<=", snt_emit_i64(e, k), ct);
  snt_emit_line(e, "    }");
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* A constant input (a mask built from shape arithmetic) folds: the kept elements' bytes, the
 * rest left zero (y comes zeroed; 0 is all-zero bytes in every type). */
static snt_status trilu_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1], k = snt_node_int(n, "_k", 0), total = snt_tensor_numel(x);
  bool upper = snt_node_int(n, "upper", 1) != 0;
  size_t s = snt_dtype_size(x->dtype);
  for (int64_t o = 0; rows && cols && o < total; o++) {
    int64_t j = o % cols, i = o / cols % rows;
    if (upper ? j - i >= k : j - i <= k) memcpy((unsigned char *)y + (size_t)o * s, (const unsigned char *)x->data + (size_t)o * s, s);
  }
  return SNT_OK;
}

static const snt_attr_range trilu_ranges[] = {{"upper", 0, 1}, {0}};

/* k is the optional input 1, a compile-time constant: the mask it gives is in the emitted code. */
const snt_op snt_op_trilu = {
    .name = "trilu", .type_name = "Trilu", .default_layer = "trilu",
    .doc = "the upper (j - i >= k) or lower (j - i <= k) triangle of the last two axes, the rest 0: trilu(x, upper=true)",
    .min_inputs = 1, .max_inputs = 2, .args = trilu_args, .infer = trilu_infer, .onnx_type = "Trilu", .onnx_const_inputs = 1u << 1,
    .emit = trilu_emit, .fold = trilu_fold, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {1, 2, 1, 1},
    .onnx_ranges = trilu_ranges,
    .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE}, .no_export = SNT_NO_EXPORT_YET};

/* ---- eye_like ---- */

static snt_dtype eye_type(const snt_graph *g, const snt_node *n) {
  int64_t t = snt_node_int(n, "dtype", 0);
  return t ? (snt_dtype)t : g->tensors[n->in[0]].dtype;
}

static snt_status eye_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  if (x->rank != 2) return snt_node_error(g, n, d, "the input has rank %d, not 2", x->rank);
  snt_dtype t = eye_type(g, n);
  if (!snt_dtype_ctype(t) || t == SNT_BF16) return snt_node_error(g, n, d, "dtype %d is not an element type it can write", (int)t);
  snt_set_output(g, node, 0, t, 2, x->dims);
  return SNT_OK;
}

/* The bytes of 1 in type t. */
static size_t one_bytes(snt_dtype t, unsigned char *b) {
  float f = 1;
  double v = 1;
  uint16_t h = t == SNT_F16 ? 0x3C00 : 0x3F80;
  int64_t i = 1; /* little-endian: the low bytes of 1 are 1 in every integer width */
  size_t s = snt_dtype_size(t);
  memcpy(b, t == SNT_F32 ? (void *)&f : t == SNT_F64 ? (void *)&v : t == SNT_F16 || t == SNT_BF16 ? (void *)&h : (void *)&i, s);
  return s;
}

/* The diagonal's elements lie at i * cols + (i + k) for rows i with 0 <= i + k < cols. */
static snt_status eye_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *o = snt_out(g, n, 0);
  int64_t rows = o->dims[0], cols = o->dims[1], k = snt_node_int(n, "k", 0);
  unsigned char one[8];
  size_t s = one_bytes(o->dtype, one);
  if (k <= -rows || k >= cols) return SNT_OK;
  for (int64_t i = k < 0 ? -k : 0; i < rows && i + k < cols; i++) memcpy((unsigned char *)y + (size_t)(i * cols + i + k) * s, one, s);
  return SNT_OK;
}

static const snt_attr_range eye_ranges[] = {{"dtype", 0, SNT_BF16}, {0}};

/* Folding makes it a constant before code is emitted; this is for a graph that is not folded. */
static snt_status eye_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *o = &e->g->tensors[n->out[0]];
  int64_t rows = o->dims[0], cols = o->dims[1], k = snt_node_int(n, "k", 0);
  const char *ct = snt_dtype_ctype(o->dtype);
  const char *one = o->dtype == SNT_F16 ? "0x3C00" : o->dtype == SNT_BF16 ? "0x3F80" : "1";
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s *y = (%s *)%s;", ct, ct, snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "for (int64_t i = 0; i < %lldLL * %lldLL; i++) y[i] = 0;", (long long)rows, (long long)cols);
  if (k > -rows && k < cols)
    snt_emit_line(e, "for (int64_t i = %lldLL; i < %lldLL && i + %lldLL < %lldLL; i++) y[i * %lldLL + i + %lldLL] = (%s)%s;",
                  (long long)(k < 0 ? -k : 0), (long long)rows, (long long)k, (long long)cols, (long long)cols, (long long)k, ct, one);
  snt_emit_line(e, "}");
  return SNT_OK;
}

const snt_op snt_op_eye_like = {
    .name = "eye_like", .type_name = "EyeLike", .default_layer = "eye_like",
    .doc = "a 2-D tensor shaped as x with 1 on the diagonal j - i = k: eye_like(x, dtype=x's, k=0)", .min_inputs = 1,
    .max_inputs = 1, .args = eye_args, .infer = eye_infer, .onnx_type = "EyeLike", .emit = eye_emit, .fold = eye_fold,
    .reads_shape_only = true, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {1, 1, 1, 1}, .onnx_ranges = eye_ranges,
    .types = {.t = SNT_TY_ALL & ~SNT_TY(SNT_BF16), .note = "writes any element type but BFLOAT16 (the schema's; dtype, else the input's)"}, .no_export = SNT_NO_EXPORT_YET};
