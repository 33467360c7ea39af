/* Element types at ONNX import (issue 9): each op declares the types it computes
 * (snt_op.types); anything else is refused before any pass, and types computed in float32
 * (FLOAT16, BFLOAT16, the DOUBLE of float kernels, INT8/UINT8 MaxPool) get Cast nodes around
 * the op, so no float kernel ever runs over other bytes. */
#ifndef SINTER_COMPILER_PASSES_LEGALIZE_TYPES_H
#define SINTER_COMPILER_PASSES_LEGALIZE_TYPES_H

#include "compiler/ir.h"

/* Checks the element types of node's inputs against its op's declaration: an error
 * "<path>: node '<name>' (<OpType>, opset N): op <OpType> (opset N) does not support type T
 * ..." or "... inputs ... must have one type". Call before the op's infer. */
snt_status snt_check_types(snt_graph *g, int node, int opset, const char *path, snt_diag *d);

/* Wraps the node, when its type is one of its op's t_f32 types, in Casts: inputs to FLOAT
 * (its own weights converted in place), output 0 back to the type. Call right after the
 * node's infer, while it is the last node of the graph; it may move to a later index. */
snt_status snt_legalize_node(snt_graph *g, int node, snt_diag *d);

/* "FLOAT, DOUBLE, INT8" for a mask of SNT_TY bits, in type-number order ("-" when empty). */
void snt_types_names(uint32_t mask, char *buf, size_t size);

#endif
