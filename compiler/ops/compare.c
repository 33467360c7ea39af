/* Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual: numbers -> BOOL), logic on
 * BOOL (And, Or, Xor) and Where, all with numpy broadcasting. Opsets 1 to 6 of the
 * comparisons and logic ops broadcast only with broadcast=1, B aligned at `axis` (default: the
 * trailing dims): that is numpy's rule unless axis puts B elsewhere, which is refused. They
 * fold (shape arithmetic: Equal and Where pick dims of a Reshape's shape). */
#include <stdlib.h>
#include <string.h>

#include "compiler/codegen/loops.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "support/util.h"

static const snt_arg_spec no_args[] = {{0}};
#define NO_DSL "its result or inputs are BOOL, which the DSL has no type for"

static bool fold_int_like(snt_dtype t) { return snt_fold_is_int(t) || t == SNT_BOOL || t == SNT_U8; }
static int64_t get_int(const snt_tensor *t, int64_t i) {
  return t->dtype == SNT_BOOL || t->dtype == SNT_U8 ? ((const uint8_t *)t->data)[i] : snt_fold_get_i64(t, i);
}

static snt_status infer_bool(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int rank = 0;
  int64_t dims[SNT_MAX_RANK];
  snt_status st = snt_broadcast_shape(g, node, d, n->in, n->n_in, &rank, dims);
  if (!st) snt_set_output(g, node, 0, SNT_BOOL, rank, dims);
  return st;
}

/* Opsets 1-6: without broadcast=1 the shapes must agree; B placed at `axis` only as numpy would. */
static snt_status legacy_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (opset >= 7 || n->n_in != 2) return SNT_OK;
  const snt_tensor *a = snt_in(g, n, 0), *b = snt_in(g, n, 1);
  bool same = a->rank == b->rank;
  for (int k = 0; same && k < a->rank; k++) same = a->dims[k] == b->dims[k];
  if (!snt_node_int(n, "broadcast", 0) && !same)
    return snt_node_error(g, n, d, "input shapes differ and broadcast is not 1 (opset %d)", opset);
  int64_t axis = snt_node_int(n, "axis", a->rank - b->rank);
  if (axis < 0) axis += a->rank;
  if (!same && axis != a->rank - b->rank)
    return snt_node_error(g, n, d, "broadcasting B at axis %lld (not the trailing dims) is not supported", (long long)axis);
  return SNT_OK;
}

/* The two-input loop computing expr over a and b (each in its compute type) into the output. */
static snt_status emit_pair(snt_emit *e, int node, const char *expr) {
  const snt_node *n = &e->g->nodes[node];
  snt_dtype t = e->g->tensors[n->in[0]].dtype;
  const char *ct = snt_compute_ctype(t);
  char *body = snt_format("const %s a = %s; const %s b = %s; %s;", ct, snt_emit_load(e, n->in[0], "ix0"), ct,
                          snt_emit_load(e, n->in[1], "ix1"), snt_emit_store(e, n->out[0], "io", expr));
  if (!body) return SNT_ERR_NOMEM;
  snt_emit_elementwise_loop(e, n->out[0], n->in, 2, body);
  free(body);
  return SNT_OK;
}

/* One result of a comparison or logic op from the integer or float values (op: = < > l g & | ^). */
static bool holds(char op, int cmp) {
  switch (op) {
    case '=': return cmp == 0;
    case '<': return cmp < 0;
    case '>': return cmp > 0;
    case 'l': return cmp <= 0;
    default: return cmp >= 0;
  }
}

static snt_status fold_pair(snt_graph *g, const snt_node *n, void *y, char op) {
  const snt_tensor *a = snt_in(g, n, 0), *b = snt_in(g, n, 1), *out = snt_out(g, n, 0);
  bool ints = fold_int_like(a->dtype) && fold_int_like(b->dtype);
  if (!ints && !(snt_fold_is_float(a->dtype) && snt_fold_is_float(b->dtype))) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < snt_tensor_numel(out); i++) {
    int64_t ia = snt_fold_bcast_index(a, out, i), ib = snt_fold_bcast_index(b, out, i);
    bool r;
    if (op == '&' || op == '|' || op == '^') {
      bool p = get_int(a, ia) != 0, q = get_int(b, ib) != 0;
      r = op == '&' ? p && q : op == '|' ? p || q : p != q;
    } else if (ints) {
      int64_t p = get_int(a, ia), q = get_int(b, ib);
      r = holds(op, (p > q) - (p < q));
    } else {
      double p = snt_fold_get_f64(a, ia), q = snt_fold_get_f64(b, ib);
      r = p == p && q == q && holds(op, (p > q) - (p < q)); /* NaN: every test false */
    }
    ((uint8_t *)y)[i] = r;
  }
  return SNT_OK;
}

#define PAIR(id, onnx, doc_, types_, note_, expr_, fc)                                                  \
  static snt_status id##_emit(snt_emit *e, int node) { return emit_pair(e, node, expr_); }             \
  static snt_status id##_fold(snt_graph *g, const snt_node *n, void *y) { return fold_pair(g, n, y, fc); } \
  const snt_op snt_op_##id = {.name = #id, .type_name = onnx, .default_layer = #id, .doc = doc_,      \
                              .min_inputs = 2, .max_inputs = 2, .args = no_args, .infer = infer_bool,   \
                              .onnx_type = onnx, .onnx_import = legacy_import, .onnx_upto = 19, .onnx_export = snt_ox_same, \
                              .emit = id##_emit, .fold = id##_fold, .no_dsl = NO_DSL,                   \
                              .batch_rows = snt_rows_elementwise, .onnx_arity = {2, 2, 1, 1},            \
                              .types = {.t = (types_), .t_slots = 3, .note = note_}}
#define CMP_NOTE "BOOL result, compared in the type (FLOAT16, BFLOAT16 as float32)"

PAIR(equal, "Equal", "a == b, broadcasting, BOOL: equal(a, b)", SNT_TY_ALL, CMP_NOTE, "a == b", '=');
PAIR(less, "Less", "a < b, broadcasting, BOOL: less(a, b)", SNT_TY_NUMERIC, CMP_NOTE, "a < b", '<');
PAIR(greater, "Greater", "a > b, broadcasting, BOOL: greater(a, b)", SNT_TY_NUMERIC, CMP_NOTE, "a > b", '>');
PAIR(less_equal, "LessOrEqual", "a <= b, broadcasting, BOOL: less_equal(a, b)", SNT_TY_NUMERIC, CMP_NOTE, "a <= b", 'l');
PAIR(greater_equal, "GreaterOrEqual", "a >= b, broadcasting, BOOL: greater_equal(a, b)", SNT_TY_NUMERIC, CMP_NOTE, "a >= b",
     'g');
PAIR(logical_and, "And", "logical and of BOOL tensors, broadcasting: logical_and(a, b)", SNT_TY(SNT_BOOL), "BOOL only", "a && b", '&');
PAIR(logical_or, "Or", "logical or of BOOL tensors, broadcasting: logical_or(a, b)", SNT_TY(SNT_BOOL), "BOOL only", "a || b", '|');
PAIR(logical_xor, "Xor", "logical xor of BOOL tensors, broadcasting: logical_xor(a, b)", SNT_TY(SNT_BOOL), "BOOL only", "(!a != !b)",
     '^');

/* ---- where: cond ? x : y, all three broadcast ---- */

static snt_status where_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int rank = 0;
  int64_t dims[SNT_MAX_RANK];
  snt_status st = snt_broadcast_shape(g, node, d, n->in, n->n_in, &rank, dims);
  if (!st) snt_set_output(g, node, 0, snt_in(g, n, 1)->dtype, rank, dims);
  return st;
}

static snt_status where_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  char *v = snt_format("(%s ? %s : %s)", snt_emit_load(e, n->in[0], "ix0"), snt_emit_load(e, n->in[1], "ix1"),
                       snt_emit_load(e, n->in[2], "ix2"));
  char *body = v ? snt_format("%s;", snt_emit_store(e, n->out[0], "io", v)) : NULL;
  free(v);
  if (!body) return SNT_ERR_NOMEM;
  snt_emit_elementwise_loop(e, n->out[0], n->in, 3, body);
  free(body);
  return SNT_OK;
}

/* Element bytes move unchanged, whatever the type. */
static snt_status where_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *c = snt_in(g, n, 0), *a = snt_in(g, n, 1), *b = snt_in(g, n, 2), *out = snt_out(g, n, 0);
  size_t sz = snt_dtype_size(out->dtype);
  if (!sz) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < snt_tensor_numel(out); i++) {
    bool pick = ((const uint8_t *)c->data)[snt_fold_bcast_index(c, out, i)] != 0;
    const snt_tensor *s = pick ? a : b;
    memcpy((char *)y + (size_t)i * sz, (const char *)s->data + (size_t)snt_fold_bcast_index(s, out, i) * sz, sz);
  }
  return SNT_OK;
}

const snt_op snt_op_where = {
    .name = "where", .type_name = "Where", .default_layer = "where",
    .doc = "cond ? x : y elementwise, all three broadcasting: where(cond, x, y)", .min_inputs = 3, .max_inputs = 3,
    .args = no_args, .infer = where_infer, .onnx_type = "Where", .onnx_export = snt_ox_same, .emit = where_emit,
    .fold = where_fold, .no_dsl = NO_DSL, .batch_rows = snt_rows_elementwise, .onnx_arity = {3, 3, 1, 1},
    .types = {.t = SNT_TY_ALL, .t_slots = 6, .other = SNT_TY(SNT_BOOL), .note = SNT_NOTE_MOVE}};
