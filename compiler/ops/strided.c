/* The emission shared by the ops that copy a strided view of their input (slice, split,
 * expand, tile): one snt_k_strided call with the view computed at compile time. */
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"

snt_status snt_emit_strided(snt_emit *e, int in, int out, int rank, const int64_t *dims, const int64_t *strides,
                            int64_t offset) {
  snt_emit_line(e, "{");
  snt_emit_line(e, "static const int64_t dims[] = %s, strides[] = %s;", snt_emit_ints(e, dims, rank),
                snt_emit_ints(e, strides, rank));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_strided(%zu, %d, dims, strides, %s, %s, %s))) return snt_k_st_;",
                snt_dtype_size(e->g->tensors[in].dtype), rank, snt_emit_i64(e, offset), snt_emit_ptr(e, in),
                snt_emit_ptr(e, out));
  snt_emit_line(e, "}");
  return SNT_OK;
}
