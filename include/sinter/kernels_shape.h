/* Kernels of the shape and index ops (Slice, Split, Expand, Tile, ArgMax, TopK, the Reduce
 * family past sum/mean/max/min, GatherElements); runtime/kernels/shape_ops.c. */
#ifndef SINTER_KERNELS_SHAPE_H
#define SINTER_KERNELS_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#include "sinter/dtype.h"
#include "sinter/status.h"

/* y[i] = x[offset + sum_a idx_a * strides[a]] over y's dims (rank <= 2 * SNT_MAX_RANK; strides in
 * elements, 0 repeats, negative walks back): Slice, Split, Expand and Tile (as [rep, dim] pairs). */
snt_status snt_k_strided(size_t elem_size, int rank, const int64_t *out_dims, const int64_t *strides,
                         int64_t offset, const void *x, void *y);

/* ReverseSequence: y = x with, for each batch index b, the first lens[b] elements along the time
 * axis reversed (the rest copied). x has `rank` dims; a length outside [0, dims[time_axis]] is
 * SNT_ERR_INPUT, checked before anything is written. */
snt_status snt_k_reverse_sequence(size_t elem_size, int rank, const int64_t *dims, int batch_axis, int time_axis,
                                  const int64_t *lens, const void *x, void *y);

/* Einsum over labels 0..n_labels-1, the first n_out of them the output's: y at each output index
 * = sum over the other labels of the product of the inputs, each read with its per-label element
 * strides (0 where it lacks the label or broadcasts it; a repeated label adds its strides: the
 * diagonal). Sums in double. */
enum { SNT_K_EINSUM_MAX_IN = 8, SNT_K_EINSUM_LABELS = 64 };
typedef struct snt_k_einsum {
  int n_in, n_labels, n_out;
  int64_t size[SNT_K_EINSUM_LABELS];
  int64_t in_stride[SNT_K_EINSUM_MAX_IN][SNT_K_EINSUM_LABELS];
  int64_t out_stride[SNT_K_EINSUM_LABELS];
} snt_k_einsum;
void snt_k_einsum_run(const snt_k_einsum *p, const float *const *x, float *y);

/* Col2Im: x [n, c * prod(block), prod(out)] of sliding blocks summed back into y [n, c, image...]
 * (sp spatial dims, at most 3): block element k of column l lands at l's position * stride -
 * pad + k * dilation when that lies inside the image. */
typedef struct snt_k_col2im {
  int sp;
  int64_t n, c, image[3], block[3], out[3], stride[3], dil[3], pad[3];
} snt_k_col2im;
void snt_k_col2im_run(const snt_k_col2im *p, const float *x, float *y);

/* LpPool: y = (sum over the window of |x|^p)^(1/p) per [batch * channel] plane, the window's
 * taps outside the input adding nothing; geometry as a convolution's (1 to 3 spatial dims,
 * unused ones 1). Sums in double. */
typedef struct snt_k_lp_pool {
  int64_t planes, in[3], out[3], k[3], stride[3], dil[3], pad[3];
  double p;
} snt_k_lp_pool;
void snt_k_lp_pool_run(const snt_k_lp_pool *p, const float *x, float *y);

/* Det: the determinants of `batch` m x m matrices (LU with partial pivoting, in double);
 * SNT_ERR_NOMEM when its working copy cannot be allocated. */
snt_status snt_k_det(int64_t batch, int64_t m, const float *x, float *y);

/* ArgMax (is_min 0) / ArgMin along the middle axis of x = [outer, len, inner]; ties give the
 * first index, or the last with select_last. */
snt_status snt_k_arg(int is_min, int select_last, int64_t outer, int64_t len, int64_t inner, const float *x,
                     int64_t *y);

typedef enum snt_k_reduce2_kind {
  SNT_K_REDUCE_PROD, SNT_K_REDUCE_L1, SNT_K_REDUCE_L2, SNT_K_REDUCE_LOG_SUM, SNT_K_REDUCE_LOG_SUM_EXP,
  SNT_K_REDUCE_SUM_SQUARE
} snt_k_reduce2_kind;
/* The other ONNX reductions over the axes set in axes_mask; y holds the kept axes in order. */
snt_status snt_k_reduce2(snt_k_reduce2_kind kind, int rank, const int64_t *dims, uint32_t axes_mask, const float *x,
                         float *y);

/* TopK along the middle axis of x = [outer, len, inner]: the k largest (or smallest) in order,
 * ties by the lower index; values and indices are [outer, k, inner]. */
snt_status snt_k_topk(int64_t outer, int64_t len, int64_t inner, int64_t k, int largest, const float *x, float *values,
                      int64_t *indices);

/* GatherElements: y[i] = x[i with its axis coordinate replaced by indices[i]] (negative counts
 * from the end); y has the indices' dims. An index out of range is SNT_ERR_INPUT. */
snt_status snt_k_gather_elements(size_t elem_size, int rank, const int64_t *x_dims, const int64_t *idx_dims, int axis,
                                 const void *x, snt_dtype index_type, const void *indices, void *y);

#endif
