/* Constant folding helpers the ops' fold rules share (snt_op.fold; the driver is
 * compiler/passes/fold_constants.c): the number types folding handles, read and written
 * as the emitted C converts them, and the arithmetic of add, sub, mul and div. */
#include <string.h>

#include "compiler/ops/common.h"

bool snt_fold_is_int(snt_dtype t) { return t == SNT_I64 || t == SNT_I32; }
bool snt_fold_is_float(snt_dtype t) { return t == SNT_F32 || t == SNT_F64; }

int64_t snt_fold_get_i64(const snt_tensor *t, int64_t i) {
  return t->dtype == SNT_I64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
}

double snt_fold_get_f64(const snt_tensor *t, int64_t i) {
  return t->dtype == SNT_F64 ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

bool snt_fold_put_i64(snt_dtype dt, void *y, int64_t i, int64_t v) {
  if (dt == SNT_I64) ((int64_t *)y)[i] = v;
  else if (v < INT32_MIN || v > INT32_MAX) return false;
  else ((int32_t *)y)[i] = (int32_t)v;
  return true;
}

void snt_fold_put_f64(snt_dtype dt, void *y, int64_t i, double v) {
  if (dt == SNT_F64) ((double *)y)[i] = v;
  else ((float *)y)[i] = (float)v;
}

/* reshape, squeeze, unsqueeze, identity (and flatten in ONNX order): the bytes unchanged. */
snt_status snt_fold_copy(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  memcpy(y, x->data, snt_tensor_bytes(x));
  return SNT_OK;
}

/* The flat index into x of output element i under numpy broadcasting. */
int64_t snt_fold_bcast_index(const snt_tensor *x, const snt_tensor *out, int64_t i) {
  int64_t idx = 0, stride = 1;
  for (int d = out->rank - 1, k = x->rank - 1; d >= 0 && k >= 0; d--, k--) {
    int64_t c = i % out->dims[d];
    i /= out->dims[d];
    if (x->dims[k] != 1) idx += c * stride;
    stride *= x->dims[k];
  }
  return idx;
}

/* One integer step of a left fold; false on overflow or division by zero, where C is
 * undefined. Division truncates, as the emitted `a / b`. */
static bool int_step(char op, int64_t a, int64_t b, int64_t *r) {
  switch (op) {
    case '+': return !__builtin_add_overflow(a, b, r);
    case '-': return !__builtin_sub_overflow(a, b, r);
    case '*': return !__builtin_mul_overflow(a, b, r);
    default:
      if (b == 0 || (a == INT64_MIN && b == -1)) return false;
      *r = a / b;
      return true;
  }
}

/* One float step: from float operands a double result rounds to the float result. */
static double float_step(char op, double a, double b) {
  return op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;
}

/* Output element i of an integer add/sub/mul/div, folded left to right as snt_emit_fold
 * does; false where the emitted C would overflow (each step in the output's type). */
static bool arith_int(snt_graph *g, const snt_node *n, char op, const snt_tensor *out, int64_t i, int64_t *v) {
  const snt_tensor *x0 = snt_in(g, n, 0);
  *v = snt_fold_get_i64(x0, snt_fold_bcast_index(x0, out, i));
  for (int k = 1; k < n->n_in; k++) {
    const snt_tensor *x = snt_in(g, n, k);
    if (!int_step(op, *v, snt_fold_get_i64(x, snt_fold_bcast_index(x, out, i)), v)) return false;
    if (out->dtype == SNT_I32 && (*v < INT32_MIN || *v > INT32_MAX)) return false;
  }
  return true;
}

static double arith_float(snt_graph *g, const snt_node *n, char op, const snt_tensor *out, int64_t i) {
  const snt_tensor *x0 = snt_in(g, n, 0);
  double v = snt_fold_get_f64(x0, snt_fold_bcast_index(x0, out, i));
  for (int k = 1; k < n->n_in; k++) {
    const snt_tensor *x = snt_in(g, n, k);
    v = float_step(op, v, snt_fold_get_f64(x, snt_fold_bcast_index(x, out, i)));
    if (out->dtype == SNT_F32) v = (float)v;
  }
  return v;
}

snt_status snt_fold_arith(snt_graph *g, const snt_node *n, void *y, char op) {
  const snt_tensor *out = snt_out(g, n, 0);
  for (int k = 0; k < n->n_in; k++)
    if (snt_in(g, n, k)->dtype != out->dtype) return SNT_ERR_INPUT;
  if (!snt_fold_is_int(out->dtype) && !snt_fold_is_float(out->dtype)) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < snt_tensor_numel(out); i++) {
    int64_t v = 0;
    if (snt_fold_is_float(out->dtype)) snt_fold_put_f64(out->dtype, y, i, arith_float(g, n, op, out, i));
    else if (!arith_int(g, n, op, out, i, &v) || !snt_fold_put_i64(out->dtype, y, i, v)) return SNT_ERR_INPUT;
  }
  return SNT_OK;
}
