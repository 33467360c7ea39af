/* Rules GatherND, ScatterElements/Scatter and ScatterND share: constant indices checked at
 * compile time (else the kernel refuses them at run time) and the reduction attribute. */
#ifndef SINTER_COMPILER_OPS_SCATTER_UTIL_H
#define SINTER_COMPILER_OPS_SCATTER_UTIL_H

#include <string.h>

#include "compiler/op.h"
#include "sinter/kernels_scatter.h"

/* Index i of an INT32 or INT64 tensor with data. */
static inline int64_t snt_index_at(const snt_tensor *t, int64_t i) {
  return t->dtype == SNT_I64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
}

/* A constant index v along an axis of len elements: an error naming it when it is outside
 * [-len, len). */
static inline snt_status snt_check_index(snt_graph *g, snt_node *n, snt_diag *d, int64_t v, int64_t len, int axis) {
  if (v < -len || v >= len)
    return snt_node_error(g, n, d, "index %lld is out of range for axis %d of size %lld", (long long)v, axis, (long long)len);
  return SNT_OK;
}

/* Constant INT64 indices whose last axis holds tuples of k coordinates into dims[0..k). */
static inline snt_status snt_check_const_tuples(snt_graph *g, snt_node *n, snt_diag *d, const snt_tensor *ix, int k,
                                                const int64_t *dims) {
  if (!ix->data || k < 1) return SNT_OK;
  int64_t count = snt_tensor_numel(ix);
  for (int64_t i = 0; i < count; i++) {
    snt_status st = snt_check_index(g, n, d, snt_index_at(ix, i), dims[i % k], (int)(i % k));
    if (st) return st;
  }
  return SNT_OK;
}

/* The reduction attribute (ScatterElements and ScatterND from opset 16), -1 when unknown. */
static inline int snt_scatter_red(const snt_node *n) {
  const char *r = snt_node_string(n, "reduction", "none");
  return strcmp(r, "none") == 0 ? SNT_K_SCATTER_NONE
         : strcmp(r, "add") == 0 ? SNT_K_SCATTER_ADD
         : strcmp(r, "mul") == 0 ? SNT_K_SCATTER_MUL
         : strcmp(r, "max") == 0 ? SNT_K_SCATTER_MAX
         : strcmp(r, "min") == 0 ? SNT_K_SCATTER_MIN
                                 : -1;
}

/* onnx_import's check of the reduction attribute: none, add or mul, and max or min from opset 18
 * (versions before 16 have no reduction: the schema check of compiler/onnx/validate.c). */
static inline snt_status snt_scatter_import_red(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int red = snt_scatter_red(n);
  if (red < 0 || (opset < 18 && red >= SNT_K_SCATTER_MAX))
    return snt_node_error(g, n, d, "reduction '%s' is not supported at opset %d (none, add or mul; max and min from opset 18)",
                          snt_node_string(n, "reduction", ""), opset);
  return SNT_OK;
}

#endif
