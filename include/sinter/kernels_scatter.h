/* Kernels of the scatter and index ops (MaxUnpool, GatherND, ScatterElements/Scatter, ScatterND,
 * CumSum, OneHot); runtime/kernels/scatter.c. An index out of range is SNT_ERR_INPUT (the run
 * fails, as Gather's does); integer arithmetic wraps (done in unsigned). */
#ifndef SINTER_KERNELS_SCATTER_H
#define SINTER_KERNELS_SCATTER_H

#include <stddef.h>
#include <stdint.h>

#include "sinter/dtype.h"
#include "sinter/status.h"

/* How ScatterElements and ScatterND combine an update with the element it lands on. */
typedef enum snt_k_scatter_red {
  SNT_K_SCATTER_NONE, SNT_K_SCATTER_ADD, SNT_K_SCATTER_MUL, SNT_K_SCATTER_MAX, SNT_K_SCATTER_MIN
} snt_k_scatter_red;

/* MaxUnpool (the ONNX reference's rule): indices are flat offsets into a tensor of dims (rank
 * `rank`), which sits at the origin of y (y_dims, each at least dims'; zero elsewhere), and
 * y[that element] = x[i] for the x_numel elements of x. */
snt_status snt_k_max_unpool(size_t elem_size, int rank, const int64_t *dims, const int64_t *y_dims, int64_t x_numel,
                            const void *x, const int64_t *indices, void *y);

/* GatherND: x has `rank` dims; the first batch_dims of them are batch axes shared with the
 * indices, which hold n_idx tuples of k coordinates per batch (negative counts from the end);
 * each tuple picks the slice x[batch, i_0, ..., i_{k-1}, ...] into y, in order. */
snt_status snt_k_gather_nd(size_t elem_size, int rank, const int64_t *x_dims, int batch_dims, int k, int64_t n_idx,
                           const int64_t *indices, const void *x, void *y);

/* ScatterND: y = x, then for each of the n_idx tuples of k coordinates in indices, the slice of
 * y it names is replaced by (or combined with) the next slice of updates. */
snt_status snt_k_scatter_nd(snt_dtype t, snt_k_scatter_red red, int rank, const int64_t *x_dims, int k, int64_t n_idx,
                            const int64_t *indices, const void *x, const void *updates, void *y);

/* ScatterElements: y = x, then for every element of updates (dims idx_dims), the element of y at
 * its own coordinates with the axis coordinate replaced by indices[i] is replaced or combined. */
snt_status snt_k_scatter_elements(snt_dtype t, snt_k_scatter_red red, int rank, const int64_t *x_dims,
                                  const int64_t *idx_dims, int axis, snt_dtype index_type, const void *indices,
                                  const void *x, const void *updates, void *y);

/* CumSum along the middle axis of x = [outer, len, inner] (FLOAT, DOUBLE, INT32, INT64, UINT32,
 * UINT64): exclusive leaves out the element itself, reverse sums from the end. */
snt_status snt_k_cumsum(snt_dtype t, int64_t outer, int64_t len, int64_t inner, int exclusive, int reverse, const void *x,
                        void *y);

/* OneHot: y = [outer, depth, inner] of values[1] where the index (indices = [outer, inner], any
 * numeric type, truncated) equals the position along depth, values[0] elsewhere; negative
 * indices count from depth when `negative` is set, indices out of range give a row of values[0]. */
snt_status snt_k_one_hot(size_t elem_size, int64_t outer, int64_t depth, int64_t inner, int negative,
                         snt_dtype index_type, const void *indices, const void *values, void *y);

#endif
