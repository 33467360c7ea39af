/* Pooling's vectorised rows (pool_rows.c), private to runtime/kernels/: the outputs of one output
 * row whose windows lie inside the input along the last axis, so the taps there need no clipping. */
#ifndef SINTER_RUNTIME_KERNELS_POOL_IMPL_H
#define SINTER_RUNTIME_KERNELS_POOL_IMPL_H

#include "gemm_core.h"
#include "kernels_util.h"

/* Outputs [a, b) of `rows` consecutive rows of `planes` consecutive planes: axes 0 and 1 contribute
 * their real taps (w0, w1, not empty; row i's w1 starts i strides further on), the last axis all
 * k[2] taps. Each output is computed as pool.c's per-window code does: the max
 * starts at the first tap in row-major order and takes a later one only when strictly greater;
 * the average sums the taps in that order in double from 0 and divides by count. */
typedef struct snt_k_pool_row {
  const snt_k_win3 *g;
  const float *xp; /* the first input plane */
  snt_k_window w0, w1;
  int64_t planes, rows, a, b;
  int max;      /* else average */
  double count; /* average: the divisor */
  float *y;     /* the first output row */
} snt_k_pool_row;

/* Max pooling as snt_k_pool_ctx (fill NULL) or snt_k_maxpool_filled (the padding holds *fill),
 * the same bits, on the calling thread with isa's sweep, its batch x channels planes x_plane
 * floats apart in x and y_plane in y: for kernels that pool bands of their own output inside
 * their team's work (conv_small.c). */
snt_status snt_k_pool_local(snt_k_isa isa, const snt_k_pool_desc *d, const float *fill, const float *x,
                            int64_t x_plane, float *y, int64_t y_plane);

/* Vectorised for the last axis's stride 1 or 2 and dilation 1. */
void snt_k_pool_row_avx512(const snt_k_pool_row *r);
void snt_k_pool_row_avx2(const snt_k_pool_row *r);
/* Any stride and dilation. */
void snt_k_pool_row_c(const snt_k_pool_row *r);

/* Whole planes [p0, p1) of a 2-D pool with stride 1 and dilation 1 (pool_plane.c, AVX-512), no
 * indices, no fill: the per-window code's bits. buf: snt_k_pool_plane_bytes, 64-byte aligned,
 * the thread's own; count (average only): snt_k_pool_plane_count_bytes filled by
 * snt_k_pool_plane_counts, shared by the threads. */
int snt_k_pool_plane_applies(const snt_k_win3 *g);
size_t snt_k_pool_plane_bytes(const snt_k_win3 *g);
size_t snt_k_pool_plane_count_bytes(const snt_k_win3 *g);
void snt_k_pool_plane_counts(const snt_k_win3 *g, int include_pad, double *count);
void snt_k_pool_plane_avx512(const snt_k_win3 *g, int max, const double *count, const float *x, float *y, int64_t p0,
                             int64_t p1, void *buf);
/* A 1x1 window without padding: planes [p0, p1) as strided copies, the per-window code's bits. */
int snt_k_pool_subsample_applies(const snt_k_win3 *g);
void snt_k_pool_subsample_avx512(const snt_k_win3 *g, int max, const float *x, float *y, int64_t p0, int64_t p1);

#endif
