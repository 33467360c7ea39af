/* One validation step at ONNX import, before any op code reads a node: the arity of the
 * op's schema (omitted optional inputs as ""), attribute ranges, and size caps. */
#ifndef SINTER_COMPILER_ONNX_VALIDATE_H
#define SINTER_COMPILER_ONNX_VALIDATE_H

#include "compiler/op.h"
#include "onnx/onnx.pb-c.h"

/* Where messages point: "PATH: error: node 'NAME' (OP_TYPE, opset N): ..."; src is the
 * model file's (empty) source, which names it. */
typedef struct snt_onnx_site {
  const snt_source *src;
  const char *node, *op_type;
  int opset;
} snt_onnx_site;

/* Checks node `np` against op's schema (compiler/op.h: onnx_arity, onnx_ranges). */
/* Names the ONNX checker and ONNX Runtime leave unchecked (a "__" prefix): ignored at import. */
bool snt_onnx_attr_internal(const char *name);
snt_status snt_onnx_validate_node(snt_diag *d, const snt_onnx_site *at, const snt_op *op, const Onnx__NodeProto *np);
/* Checks the sizes of the tensors node `node` reads and writes (after its infer). */
snt_status snt_onnx_validate_sizes(snt_diag *d, const snt_onnx_site *at, const snt_graph *g, int node);
/* Checks one graph input or initializer `t`; `what` is "graph input" or "initializer". */
snt_status snt_onnx_validate_tensor(snt_diag *d, const snt_graph *g, int t, const char *what);

/* Refuses absent strings protobuf-c leaves NULL (op_type, names, metadata keys) and a missing graph. */
snt_status snt_onnx_validate_strings(snt_diag *d, const snt_source *src, const Onnx__ModelProto *m);
/* The same for one graph (an If's branch). */
snt_status snt_onnx_validate_graph_strings(snt_diag *d, const snt_source *src, const Onnx__GraphProto *gp);

#endif
