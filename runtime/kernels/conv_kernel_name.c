/* The path snt_k_conv takes for a layer, named for `EXE bench --profile`: it mirrors the
 * choice in conv.c (depthwise loops, the direct 3x3 AVX-512 kernel, a 1x1 GEMM, im2col + GEMM).
 * A first version: the convolution kernels' own file replaces it when their choice changes. */
#include "kernels_util.h"

static int pointwise(const snt_k_conv3 *g) {
  for (int i = 0; i < 3; i++)
    if (g->w.k[i] != 1 || g->w.s[i] != 1 || g->w.pb[i] || g->w.pe[i] || g->w.out[i] != g->w.in[i]) return 0;
  return 1;
}

const char *snt_k_conv_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d) {
  (void)ctx;
  snt_k_conv3 g;
  if (snt_k_conv3_init(d, &g) != SNT_OK) return "conv-invalid";
  if (g.cg == 1 && !pointwise(&g)) return "conv-depthwise-c";
  if (snt_k_conv_direct_fits(&g, snt_k_conv_scratch_bytes(d) / sizeof(float))) return "conv-direct3x3-avx512";
  return pointwise(&g) ? "conv-1x1-openblas" : "conv-im2col-openblas";
}
