/* Rules several ops share: same-shape and broadcast inference, elementwise emission. */
#ifndef SINTER_COMPILER_OPS_COMMON_H
#define SINTER_COMPILER_OPS_COMMON_H

#include "compiler/codegen/emit.h"
#include "compiler/op.h"

snt_status snt_infer_same(snt_graph *g, int node, snt_diag *d);
snt_status snt_infer_broadcast(snt_graph *g, int node, snt_diag *d);
/* y = tmpl(x) elementwise; "$f" in tmpl is the math suffix of x's type. */
snt_status snt_emit_unary_expr(snt_emit *e, int node, const char *tmpl);
/* y = act(x) by snt_k_activation (vectorised, on the team) when x and y are float32: `kind`
 * names the SNT_K_ACT_ enumerator. False, with nothing emitted, for the other types (the
 * caller emits its loop). */
bool snt_emit_activation_call(snt_emit *e, int node, const char *kind, double alpha, double beta);
/* The C limits of an element type as expressions (INT8_MIN ...; +-INFINITY for floats): a clip
 * without bounds, a saturating conversion (compiler/ops/elementwise.c). */
void snt_int_limits_expr(snt_dtype t, const char **lo, const char **hi);
/* y = fold of the inputs with `combine` over a and b, broadcasting. */
snt_status snt_emit_fold(snt_emit *e, int node, const char *combine);
/* out[0] = a byte copy of in[0] (ops that only change the shape). */
snt_status snt_emit_copy(snt_emit *e, int node);

/* batch_rows rules (compiler/ops/rows.c; snt_op.batch_rows). snt_rows_slots: input 0 carries the
 * batch and no input outside `slots` (bit k = input k) does; snt_rows_first: input 0 only;
 * snt_rows_elementwise: every batched input has the output's rank (broadcasting). */
bool snt_rows_slots(const snt_graph *g, const snt_node *n, const bool *rows, unsigned slots);
bool snt_rows_first(const snt_graph *g, const snt_node *n, const bool *rows);
bool snt_rows_elementwise(const snt_graph *g, const snt_node *n, const bool *rows);
/* A static or, when t's rows are run-time, an automatic C declaration ("static const" or "const"). */
static inline const char *snt_emit_const(const snt_emit *e, int t) { return snt_emit_rows_dyn(e, t) ? "const" : "static const"; }
/* t's dims as an initializer list, dim 0 as snt_emit_rows gives it: "{n, 3, 8, 8}". */
const char *snt_emit_dims_rows(snt_emit *e, int tensor);
/* k as a designated C initializer "{.spatial = 2, .batch = <batch>, ...}", its activation too
 * unless that is all zero (compiler/ops/conv_desc.c); batch is C text ("n", "4LL"). */
struct snt_k_conv_desc;
const char *snt_emit_conv_desc(snt_emit *e, const struct snt_k_conv_desc *k, const char *batch);

/* Constant folding helpers (compiler/ops/fold_util.c; snt_op.fold). Folding handles INT32 and
 * INT64, FLOAT and DOUBLE elements, converted as the emitted C converts them. */
bool snt_fold_is_int(snt_dtype t);
bool snt_fold_is_float(snt_dtype t);
int64_t snt_fold_get_i64(const snt_tensor *t, int64_t i);
/* The flat index into x of output element i under numpy broadcasting. */
int64_t snt_fold_bcast_index(const snt_tensor *x, const snt_tensor *out, int64_t i);
double snt_fold_get_f64(const snt_tensor *t, int64_t i);
/* Stores an integer; false when the type cannot hold it (C would overflow at run time). */
bool snt_fold_put_i64(snt_dtype dt, void *y, int64_t i, int64_t v);
void snt_fold_put_f64(snt_dtype dt, void *y, int64_t i, double v);
/* The fold rule of ops whose output holds the input's bytes unchanged (reshape, identity...). */
snt_status snt_fold_copy(snt_graph *g, const snt_node *n, void *y);
/* The fold rule of add, sub, mul, div (op '+', '-', '*', '/') with numpy broadcasting, all
 * inputs of the output's type; SNT_ERR_INPUT where the emitted C would overflow or divide by 0. */
snt_status snt_fold_arith(snt_graph *g, const snt_node *n, void *y, char op);

/* sinter import rule of add, sub, mul (compiler/ops/binary.c): a per-channel constant
 * operand is input preprocessing, written as rescale; add of two equal-rank activations is a
 * residual add. op is '+', '-' or '*'. */
struct snt_dsl_writer;
snt_status snt_dsl_arith(struct snt_dsl_writer *w, int node, char op);

/* Softmax, LogSoftmax and Hardmax from ONNX (compiler/ops/softmax.c): "axis" (default 1 before
 * opset 13, else -1) checked and kept as "full_axis", with "coerce_2d" before opset 13 (the
 * input flattened to 2-D at the axis). */
snt_status snt_onnx_axis_lines(snt_graph *g, int node, int opset, snt_diag *d);
/* The lines those ops work along: x split at "full_axis" into outer x len x inner (with
 * "coerce_2d", len takes every axis from it). */
void snt_axis_lines(const snt_node *n, const snt_tensor *x, int64_t *outer, int64_t *len, int64_t *inner);

/* Training helpers (compiler/ops/activation.c). */
struct snt_ad;
/* The gradient before node fwd's fused activation, given dy after it: dy itself when the node
 * has none, else a new node's output. -1 when out of memory. */
int snt_ad_act_grad(struct snt_ad *ad, int fwd, int dy);

/* ONNX export helpers (compiler/ops/export_util.c). */
struct snt_onnx_export;
/* The node's main ONNX op writes into the returned name: the output itself, or a temporary
 * that the activation `act` (none, linear, relu, sigmoid, tanh, softmax) then maps. */
const char *snt_ox_pre_activation(struct snt_onnx_export *x, const snt_graph *g, const snt_node *n);
snt_status snt_ox_activation(struct snt_onnx_export *x, const snt_graph *g, const snt_node *n, const char *from);
/* Exports a one-input op as the ONNX op of the same kind (Relu, Sigmoid, ...). */
snt_status snt_ox_unary(struct snt_onnx_export *x, const snt_graph *g, int node);
snt_status snt_ox_same(struct snt_onnx_export *x, const snt_graph *g, int node);

#endif
