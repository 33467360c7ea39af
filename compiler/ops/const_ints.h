/* Reading the integer constant inputs (starts, axes, repeats, shapes, k) of the shape and
 * index ops. */
#ifndef SINTER_COMPILER_OPS_CONST_INTS_H
#define SINTER_COMPILER_OPS_CONST_INTS_H

#include "compiler/op.h"

struct snt_emit;

/* Input `slot` as up to `max` int64 values (INT32 or INT64 constants): 1 when read, 0 when the
 * input is absent, -1 when it is present but not such a constant or longer than max. */
static inline int snt_const_ints(snt_graph *g, const snt_node *n, int slot, int64_t *out, int *count, int max) {
  snt_tensor *t = snt_in_opt(g, n, slot);
  if (!t) return 0;
  if (!t->data || (t->dtype != SNT_I64 && t->dtype != SNT_I32) || snt_tensor_numel(t) > max) return -1;
  *count = (int)snt_tensor_numel(t);
  for (int i = 0; i < *count; i++) out[i] = t->dtype == SNT_I64 ? ((int64_t *)t->data)[i] : ((int32_t *)t->data)[i];
  return 1;
}

/* Row-major element strides of a tensor. */
static inline void snt_elem_strides(const snt_tensor *t, int64_t *s) {
  int64_t k = 1;
  for (int a = t->rank - 1; a >= 0; a--) s[a] = k, k *= t->dims[a];
}

/* Emits out[o] = in[i] through snt_k_strided: y's dims, element strides into x and the start
 * offset (compiler/ops/strided.c). */
snt_status snt_emit_strided(struct snt_emit *e, int in, int out, int rank, const int64_t *dims, const int64_t *strides,
                            int64_t offset);

#endif
