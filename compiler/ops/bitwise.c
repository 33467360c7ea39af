/* Integer bit ops: BitShift (opset 11; direction LEFT or RIGHT, unsigned types) and the
 * opset 18 BitwiseAnd, BitwiseOr, BitwiseXor (broadcasting) and BitwiseNot, on every integer
 * type. A shift by the type's width or more gives 0 (C leaves it undefined). */
#include <stdio.h>
#include <string.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

static const snt_arg_spec no_args[] = {{0}};
static const char *const directions[] = {"LEFT", "RIGHT", NULL};
static const snt_arg_spec shift_args[] = {{"direction", SNT_ARG_SYMBOL, NULL, directions}, {0}};

static snt_status shift_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const char *dir = snt_node_string(n, "direction", "");
  if (strcmp(dir, "LEFT") != 0 && strcmp(dir, "RIGHT") != 0)
    return snt_node_error(g, n, d, "direction '%s' is neither LEFT nor RIGHT", dir);
  return snt_infer_broadcast(g, node, d);
}

static snt_status shift_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_dtype t = e->g->tensors[n->out[0]].dtype;
  const char *ct = snt_dtype_ctype(t);
  bool left = strcmp(snt_node_string(n, "direction", ""), "LEFT") == 0;
  char combine[160];
  snprintf(combine, sizeof combine, "(b >= %zu ? (%s)0 : (%s)((uint64_t)a %s b))", 8 * snt_dtype_size(t), ct, ct,
           left ? "<<" : ">>");
  return snt_emit_fold(e, node, combine);
}

const snt_op snt_op_bit_shift = {
    .name = "bit_shift", .type_name = "BitShift", .default_layer = "bit_shift",
    .doc = "a shifted by b bits, broadcasting (unsigned): bit_shift(a, b, direction=LEFT|RIGHT)", .min_inputs = 2,
    .max_inputs = 2, .args = shift_args, .infer = shift_infer, .onnx_type = "BitShift", .emit = shift_emit,
    .no_dsl = SNT_NO_DSL_YET, .batch_rows = snt_rows_elementwise, .onnx_arity = {2, 2, 1, 1},
    .types = {.t = SNT_TY_UINTS, .t_slots = 3u, .note = "loop in the type; a shift by the width or more gives 0"},
    .no_export = SNT_NO_EXPORT_YET};

#define BITWISE_NOTE "loop in the type"
#define BITWISE(id, onnx, combine_, doc_)                                                                      \
  static snt_status id##_emit(snt_emit *e, int node) { return snt_emit_fold(e, node, combine_); }           \
  const snt_op snt_op_##id = {.name = #id, .type_name = onnx, .default_layer = #id, .doc = doc_,          \
                              .min_inputs = 2, .max_inputs = 2, .args = no_args, .infer = snt_infer_broadcast, \
                              .onnx_type = onnx, .onnx_upto = 18, .emit = id##_emit, .no_dsl = SNT_NO_DSL_YET, \
                              .batch_rows = snt_rows_elementwise, .onnx_arity = {2, 2, 1, 1},                \
                              .types = {.t = SNT_TY_INTS, .t_slots = 3u, .note = BITWISE_NOTE},              \
                              .no_export = SNT_NO_EXPORT_YET}

BITWISE(bitwise_and, "BitwiseAnd", "(a & b)", "bitwise and of integers, broadcasting: bitwise_and(a, b)");
BITWISE(bitwise_or, "BitwiseOr", "(a | b)", "bitwise or of integers, broadcasting: bitwise_or(a, b)");
BITWISE(bitwise_xor, "BitwiseXor", "(a ^ b)", "bitwise exclusive or of integers, broadcasting: bitwise_xor(a, b)");

static snt_status not_emit(snt_emit *e, int node) { return snt_emit_unary_expr(e, node, "~x"); }

const snt_op snt_op_bitwise_not = {
    .name = "bitwise_not", .type_name = "BitwiseNot", .default_layer = "bitwise_not",
    .doc = "every bit of an integer flipped: bitwise_not(x)", .min_inputs = 1, .max_inputs = 1, .args = no_args,
    .infer = snt_infer_same, .onnx_type = "BitwiseNot", .onnx_upto = 18, .emit = not_emit, .no_dsl = SNT_NO_DSL_YET,
    .inplace = true, .batch_rows = snt_rows_elementwise, .onnx_arity = {1, 1, 1, 1},
    .types = {.t = SNT_TY_INTS, .note = BITWISE_NOTE}, .no_export = SNT_NO_EXPORT_YET};
