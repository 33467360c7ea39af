/* ONNX import: a ModelProto to an IR graph with every shape known. */
#ifndef SINTER_COMPILER_ONNX_IMPORT_H
#define SINTER_COMPILER_ONNX_IMPORT_H

#include "compiler/ir.h"
#include "onnx/onnx.pb-c.h"
#include "sinter/dtype.h"

typedef struct snt_onnx_import_opts {
  int64_t batch;                 /* binds a symbolic first dimension; 0 means 1 */
  /* Values of graph inputs known at compile time, by name: the ones that feed a
   * shape-determining slot become constants; the others only give their shapes. */
  const snt_tensor_buf *given;
  int n_given;
} snt_onnx_import_opts;

/* Imports `m`; `path` names the file in messages and locates external data. The graph's
 * src (for later messages about its nodes) is held by d: use the graph with d alive. */
snt_status snt_onnx_import(snt_diag *d, const Onnx__ModelProto *m, const char *path,
                           const snt_onnx_import_opts *o, snt_graph **out);
/* The checks node `np` (the index-th of its graph, opset the model's ai.onnx one) passes on its
 * own: its domain, whether sinter has the op, its attributes. An error in d names the file (src,
 * from snt_diag_add_source), node, op and opset; inputs, types and shapes are checked only by a
 * whole import. */
snt_status snt_onnx_check_node(snt_diag *d, const snt_source *src, const Onnx__NodeProto *np, int index, int opset);
/* Loads and imports a .onnx file. */
snt_status snt_onnx_import_file(snt_diag *d, const char *path, const snt_onnx_import_opts *o, snt_graph **out);

#endif
