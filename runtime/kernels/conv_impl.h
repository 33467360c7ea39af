/* Implicit im2col: the B-panel packer that feeds convolution to sinter's GEMM (private to
 * runtime/kernels/). B is the im2col matrix of one group of one image, never built whole:
 * row k = (c, kd, kh, kw) of the group's cg channels, column j = (od, oh, ow) of the output;
 * B[k][j] = x[c][od*s0 - pb0 + kd*dl0][oh*s1 - pb1 + kh*dl1][ow*s2 - pb2 + kw*dl2], 0 in padding. */
#ifndef SINTER_RUNTIME_KERNELS_CONV_IMPL_H
#define SINTER_RUNTIME_KERNELS_CONV_IMPL_H

#include "kernels_util.h"

/* What the packer reads: the geometry and the group's first input channel of one image. */
typedef struct snt_k_conv_src {
  const snt_k_win3 *w;
  const float *x;
} snt_k_conv_src;

/* An snt_k_pack_b_fn (gemm_core.h) over an snt_k_conv_src: writes B[k0..k0+kc)[n0..n0+nc) in
 * strips of nr columns, zero past nc, as gemm_core.h lays them out. */
void snt_k_conv_pack_b(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst);

#endif
