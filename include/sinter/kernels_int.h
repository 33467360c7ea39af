/* Integer convolution and matrix products of quantized ONNX models (ConvInteger,
 * MatMulInteger, QLinearConv, QLinearMatMul; runtime/kernels/int_linear.c): 8-bit operands
 * minus their zero points, summed exactly in int32, then requantized for the QLinear ops. */
#ifndef SINTER_KERNELS_INT_H
#define SINTER_KERNELS_INT_H

#include <stdint.h>

#include "sinter/dtype.h"
#include "sinter/status.h"

struct snt_k_conv_desc;

/* Zero points: NULL (0), one value (n == 1) or one per row / channel (n values). */
typedef struct snt_k_zp {
  const void *v;
  int64_t n;
} snt_k_zp;

/* y[b, oc, ...] = sum over the group's channels and the taps of (x - x_zp) * (w - w_zp[oc]);
 * taps in the padding add nothing. x and w are UINT8 or INT8; d's act is ignored. */
snt_status snt_k_conv_integer(const struct snt_k_conv_desc *d, snt_dtype xt, const void *x, snt_k_zp x_zp, snt_dtype wt,
                              const void *w, snt_k_zp w_zp, int32_t *y);

enum { SNT_K_MAX_BATCH_RANK = 6 };
typedef struct snt_k_matmul_int {
  int batch_rank;
  int64_t y_batch[SNT_K_MAX_BATCH_RANK], a_batch[SNT_K_MAX_BATCH_RANK], b_batch[SNT_K_MAX_BATCH_RANK]; /* 1: broadcast */
  int64_t m, k, n;
  snt_dtype at, bt;
} snt_k_matmul_int;
/* y[..., i, j] = sum_k (a[..., i, k] - a_zp[i]) * (b[..., k, j] - b_zp[j]), batch dims broadcast. */
snt_status snt_k_matmul_integer(const snt_k_matmul_int *p, const void *a, snt_k_zp a_zp, const void *b, snt_k_zp b_zp,
                                int32_t *y);

/* y[o, c, i] = saturate(round_half_even((acc[o, c, i] + bias[c]) * a_scale * b_scale[c] / y_scale)
 * + y_zp) in yt (UINT8 or INT8); b_scale has 1 or `channels` values, bias may be NULL. */
typedef struct snt_k_requant {
  int64_t outer, channels, inner;
  float a_scale, y_scale;
  const float *b_scale;
  int64_t n_b_scale;
  snt_dtype yt;
} snt_k_requant;
snt_status snt_k_requantize(const snt_k_requant *p, const int32_t *acc, const int32_t *bias, const void *y_zp, void *y);

#endif
