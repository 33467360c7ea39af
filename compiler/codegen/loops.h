/* Loop emission shared by the elementwise ops: flat loops, or nested loops with
 * broadcast (stride 0) inputs, all sizes compile-time constants. */
#ifndef SINTER_COMPILER_CODEGEN_LOOPS_H
#define SINTER_COMPILER_CODEGEN_LOOPS_H

#include "compiler/codegen/emit.h"

/* Emits a loop over every element of tensor `out`; for each input tensor ins[k] the
 * C variable `ix<k>` holds its (broadcast) index and `io` the output index. `body` is
 * emitted inside the loop as is. */
void snt_emit_elementwise_loop(snt_emit *e, int out, const int *ins, int n_ins, const char *body);

/* The C type an elementwise op computes in: float for FLOAT/FLOAT16/BFLOAT16, double for
 * DOUBLE, the element type itself for integers. */
const char *snt_compute_ctype(snt_dtype t);
/* For an integer type, the form of arithmetic expression `expr` ("a + b", "a - b", "a * b",
 * "a / b", "-x", "(x < 0 ? -x : x)", "pow(...)") without undefined behaviour: + - * and negation wrap
 * (computed in uint64_t), a / 0 = 0 and MIN / -1 = MIN. A new string, or NULL when the type is
 * not an integer or the expression needs no change (docs/onnx.md documents the results). */
char *snt_int_safe_expr(snt_dtype t, const char *expr);
/* "f" for float math functions (expf), "" for double ones. */
const char *snt_math_suffix(snt_dtype t);

#endif
