/* Constant folding of shape arithmetic: a cheap, data-independent node whose value inputs
 * are all compile-time constants becomes a SNT_T_CONST tensor holding its result, so the
 * planner puts it in the weights blob and no code runs for it. Only shape-determining
 * inputs are ever bound at compile time: a node reading a graph input or a parameter (or
 * anything computed from one) is never evaluated here. Each op is evaluated as its
 * emitted code computes it (the same kernels, the same C conversions), so folding never
 * changes a number. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"
#include "compiler/plan.h"
#include "sinter/kernels.h"

/* Larger results stay computed at run time rather than bloat the weights blob. */
enum { FOLD_MAX_BYTES = 1 << 20 };

/* Computes node n's single output into y (zeroed, sized for it). SNT_ERR_INPUT means
 * "leave it to run time" (an index out of range, a division by zero, an overflow). */
typedef snt_status (*eval_fn)(snt_graph *g, const snt_node *n, void *y);

static bool is_graph_input(const snt_graph *g, int t) {
  for (int i = 0; i < g->n_inputs; i++)
    if (g->inputs[i] == t) return true;
  return false;
}

/* A value known at compile time. A graph input the importer bound to a given value is not
 * one: it was bound only to determine a shape, every other reader reads it at run time. */
static bool known(const snt_graph *g, int t) {
  return t >= 0 && g->tensors[t].kind == SNT_T_CONST && g->tensors[t].data && !is_graph_input(g, t);
}

/* ---- reading and writing elements of the number types folding handles ---- */

static bool is_int(snt_dtype t) { return t == SNT_I64 || t == SNT_I32; }
static bool is_float(snt_dtype t) { return t == SNT_F32 || t == SNT_F64; }

static int64_t get_i64(const snt_tensor *t, int64_t i) {
  return t->dtype == SNT_I64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
}

static double get_f64(const snt_tensor *t, int64_t i) {
  return t->dtype == SNT_F64 ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

/* Stores an integer; false when the type cannot hold it (C would overflow at run time). */
static bool put_i64(snt_dtype dt, void *y, int64_t i, int64_t v) {
  if (dt == SNT_I64) ((int64_t *)y)[i] = v;
  else if (v < INT32_MIN || v > INT32_MAX) return false;
  else ((int32_t *)y)[i] = (int32_t)v;
  return true;
}

static void put_f64(snt_dtype dt, void *y, int64_t i, double v) {
  if (dt == SNT_F64) ((double *)y)[i] = v;
  else ((float *)y)[i] = (float)v;
}

/* ---- the ops ---- */

/* tensor_shape reads only the static shape of its input (shape_emit writes the same dims). */
static snt_status eval_shape(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t start = snt_node_int(n, "start", 0), len = snt_out(g, n, 0)->dims[0];
  if (start < 0) start += x->rank;
  if (start < 0) start = 0;
  for (int64_t i = 0; i < len; i++) ((int64_t *)y)[i] = x->dims[start + i];
  return SNT_OK;
}

/* reshape, squeeze, unsqueeze, identity and flatten in ONNX order: the bytes unchanged. */
static snt_status eval_copy(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  /* Keras-order flatten moves elements: it is left to its kernel. */
  if (strcmp(n->op->name, "flatten") == 0 && strcmp(snt_node_string(n, "order", "chw"), "hwc") == 0 && x->rank >= 3)
    return SNT_ERR_INPUT;
  memcpy(y, x->data, snt_tensor_bytes(x));
  return SNT_OK;
}

static snt_status eval_gather(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0), *ix = snt_in(g, n, 1);
  int64_t axis = snt_node_int(n, "axis", 0), outer = 1, inner = 1;
  if (axis < 0) axis += x->rank;
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = (int)axis + 1; i < x->rank; i++) inner *= x->dims[i];
  return snt_k_gather(snt_dtype_size(x->dtype), outer, x->dims[axis], inner, x->data, ix->dtype, ix->data,
                      snt_tensor_numel(ix), y);
}

static snt_status eval_concat(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t axis = snt_node_int(n, "axis", 1), outer = 1, inner = 1, sizes[64];
  const void *xs[64];
  if (axis < 0) axis += x->rank;
  if (n->n_in > 64) return SNT_ERR_INPUT;
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = (int)axis + 1; i < x->rank; i++) inner *= x->dims[i];
  for (int k = 0; k < n->n_in; k++) xs[k] = snt_in(g, n, k)->data, sizes[k] = snt_in(g, n, k)->dims[axis];
  snt_k_concat(snt_dtype_size(x->dtype), n->n_in, xs, sizes, outer, inner, y);
  return SNT_OK;
}

/* cast as its emitted C conversion; a float that does not fit the integer type (undefined
 * in C) is left to run time. */
static snt_status eval_cast(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  snt_dtype to = snt_out(g, n, 0)->dtype;
  if (!(is_int(x->dtype) || is_float(x->dtype)) || !(is_int(to) || is_float(to))) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < snt_tensor_numel(x); i++) {
    if (is_int(x->dtype) && is_int(to) && !put_i64(to, y, i, get_i64(x, i))) return SNT_ERR_INPUT;
    if (is_int(x->dtype) && to == SNT_F32) ((float *)y)[i] = (float)get_i64(x, i); /* rounded once, as C does */
    if (is_int(x->dtype) && to == SNT_F64) ((double *)y)[i] = (double)get_i64(x, i);
    if (is_float(x->dtype) && is_float(to)) put_f64(to, y, i, get_f64(x, i));
    if (is_float(x->dtype) && is_int(to)) {
      double v = get_f64(x, i);
      if (!(v > -9.2e18 && v < 9.2e18) || !put_i64(to, y, i, (int64_t)v)) return SNT_ERR_INPUT;
    }
  }
  return SNT_OK;
}

/* The flat index into x of output element i under numpy broadcasting. */
static int64_t bcast_index(const snt_tensor *x, const snt_tensor *out, int64_t i) {
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

static char arith_op(const snt_node *n) {
  const char *s = n->op->name;
  return strcmp(s, "add") == 0 ? '+' : strcmp(s, "sub") == 0 ? '-' : strcmp(s, "mul") == 0 ? '*' : '/';
}

/* Output element i of an integer add/sub/mul/div, folded left to right as snt_emit_fold
 * does; false where the emitted C would overflow (each step in the output's type). */
static bool arith_int(snt_graph *g, const snt_node *n, const snt_tensor *out, int64_t i, int64_t *v) {
  const snt_tensor *x0 = snt_in(g, n, 0);
  *v = get_i64(x0, bcast_index(x0, out, i));
  for (int k = 1; k < n->n_in; k++) {
    const snt_tensor *x = snt_in(g, n, k);
    if (!int_step(arith_op(n), *v, get_i64(x, bcast_index(x, out, i)), v)) return false;
    if (out->dtype == SNT_I32 && (*v < INT32_MIN || *v > INT32_MAX)) return false;
  }
  return true;
}

static double arith_float(snt_graph *g, const snt_node *n, const snt_tensor *out, int64_t i) {
  const snt_tensor *x0 = snt_in(g, n, 0);
  double v = get_f64(x0, bcast_index(x0, out, i));
  for (int k = 1; k < n->n_in; k++) {
    const snt_tensor *x = snt_in(g, n, k);
    v = float_step(arith_op(n), v, get_f64(x, bcast_index(x, out, i)));
    if (out->dtype == SNT_F32) v = (float)v;
  }
  return v;
}

/* add, sub, mul, div with numpy broadcasting, all inputs of the output's type. */
static snt_status eval_arith(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *out = snt_out(g, n, 0);
  for (int k = 0; k < n->n_in; k++)
    if (snt_in(g, n, k)->dtype != out->dtype) return SNT_ERR_INPUT;
  if (!is_int(out->dtype) && !is_float(out->dtype)) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < snt_tensor_numel(out); i++) {
    int64_t v = 0;
    if (is_float(out->dtype)) put_f64(out->dtype, y, i, arith_float(g, n, out, i));
    else if (!arith_int(g, n, out, i, &v) || !put_i64(out->dtype, y, i, v)) return SNT_ERR_INPUT;
  }
  return SNT_OK;
}

/* ---- which nodes fold ---- */

typedef struct evaluator {
  const char *op;
  eval_fn fn;
} evaluator;

static const evaluator evaluators[] = {
    {"tensor_shape", eval_shape}, {"reshape", eval_copy}, {"squeeze", eval_copy}, {"unsqueeze", eval_copy},
    {"identity", eval_copy},      {"flatten", eval_copy}, {"gather", eval_gather}, {"concat", eval_concat},
    {"cast", eval_cast},          {"add", eval_arith},    {"sub", eval_arith},     {"mul", eval_arith},
    {"div", eval_arith},
};

static eval_fn evaluator_of(const snt_op *op) {
  for (size_t i = 0; i < sizeof evaluators / sizeof evaluators[0]; i++)
    if (strcmp(evaluators[i].op, op->name) == 0) return evaluators[i].fn;
  return NULL;
}

/* Whether every input the node's values come from is known. Slots in onnx_const_inputs
 * (a reshape's shape, axes) only determined the output shape, already inferred.
 * tensor_shape reads no values, only its input's static shape, and that holds for dim 0 of
 * a batched input too: an inference executable always runs the graph at its compiled
 * batch (the driver pads a smaller batch with zeros up to it and cuts the outputs back,
 * threads split a larger one into copies compiled at g->batch: runtime/driver/main.c,
 * predict.c, model.c; `_run` is `_step` at g->batch). Only the training step takes a
 * shorter run-time batch, and its graphs do not go through this pass; even there
 * shape_emit writes the compiled dims, as folding does. */
static bool inputs_known(const snt_graph *g, const snt_node *n) {
  if (strcmp(n->op->name, "tensor_shape") == 0) return true;
  for (int k = 0; k < n->n_in; k++) {
    bool shape_only = k < 32 && (n->op->onnx_const_inputs >> k) & 1u;
    if (!shape_only && !known(g, n->in[k])) return false;
  }
  return n->n_in > 0;
}

static bool foldable(const snt_graph *g, const snt_node *n) {
  if (n->n_out != 1 || !evaluator_of(n->op) || !inputs_known(g, n)) return false;
  const snt_tensor *y = &g->tensors[n->out[0]];
  return y->kind == SNT_T_ACT && snt_dtype_size(y->dtype) > 0 && snt_tensor_bytes(y) <= FOLD_MAX_BYTES;
}

/* Evaluates node i into its output, which becomes a constant; *folded says whether it did. */
static snt_status fold_one(snt_graph *g, int i, bool *folded) {
  const snt_node *n = &g->nodes[i];
  *folded = false;
  if (!foldable(g, n)) return SNT_OK;
  snt_tensor *y = &g->tensors[n->out[0]];
  void *buf = calloc(snt_tensor_bytes(y) + 1, 1);
  if (!buf) return SNT_ERR_NOMEM;
  snt_status st = evaluator_of(n->op)(g, n, buf);
  if (st) {
    free(buf);
    return st == SNT_ERR_INPUT ? SNT_OK : st;
  }
  y->kind = SNT_T_CONST;
  y->data = buf;
  y->producer = -1;
  *folded = true;
  return SNT_OK;
}

snt_status snt_fold_node(snt_graph *g, int node, bool *folded) {
  snt_status st = fold_one(g, node, folded);
  if (st || !*folded) return st;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  dead[node] = true;
  st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}

snt_status snt_pass_fold_constants(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  /* Sweeps in graph order reach a whole chain at once when the graph is ordered; the loop
   * catches the rest. Each fold turns one more node into a constant, so it ends. */
  for (bool again = true; again && !st;) {
    again = false;
    for (int i = 0; i < g->n_nodes && !st; i++) {
      bool folded = false;
      if (!dead[i]) st = fold_one(g, i, &folded);
      if (folded) dead[i] = again = true, (*changed)++;
    }
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
