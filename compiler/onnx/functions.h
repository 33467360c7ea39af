/* Model-local functions (ModelProto.functions, IR >= 8) inlined before import: the graph's
 * nodes become one flat list in which every call of a local function is replaced by the
 * function's body, its names made unique and its attribute references resolved. */
#ifndef SINTER_COMPILER_ONNX_FUNCTIONS_H
#define SINTER_COMPILER_ONNX_FUNCTIONS_H

#include "onnx/onnx.pb-c.h"
#include "sinter/diag.h"

/* Caps on what inlining may make: a file of a few calls could otherwise ask for 2^depth nodes. */
enum { SNT_FN_MAX_DEPTH = 32, SNT_FN_MAX_NODES = 100000, SNT_FN_MAX_WORK = 4000000, SNT_FN_MAX_NAME = 4096,
       SNT_FN_MAX_ATTRS = 256 };

typedef struct snt_onnx_flat_node {
  const Onnx__NodeProto *np;
  int opset; /* the ai.onnx opset the node is read at: its function's, else the model's */
  int index; /* the graph node it comes from, for names given to unnamed nodes */
} snt_onnx_flat_node;

typedef struct snt_onnx_flat {
  snt_onnx_flat_node *nodes;
  int n, cap;
  /* what the inlined nodes hold: blocks to free, attribute defaults unpacked by protobuf-c */
  void **owned;
  int n_owned, cap_owned;
  Onnx__AttributeProto **unpacked;
  int n_unpacked, cap_unpacked;
} snt_onnx_flat;

/* Flattens m's graph nodes into `out` (freed with snt_onnx_flat_free, after the last use of a
 * node). `opset` is the model's ai.onnx opset; a function importing another one is read at its
 * own, which must lie in min_opset..max_opset. Errors name the file (src), node and function. */
snt_status snt_onnx_inline_functions(snt_diag *d, const snt_source *src, const Onnx__ModelProto *m, int opset,
                                     int min_opset, int max_opset, snt_onnx_flat *out);
void snt_onnx_flat_free(snt_onnx_flat *f);

#endif
