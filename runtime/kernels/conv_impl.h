/* Implicit im2col: the B-panel packer that feeds convolution to sinter's GEMM (private to
 * runtime/kernels/). B is the im2col matrix of one group of one image, never built whole:
 * row k = (c, kd, kh, kw) of the group's cg channels, column j = (od, oh, ow) of the output;
 * B[k][j] = x[c][od*s0 - pb0 + kd*dl0][oh*s1 - pb1 + kh*dl1][ow*s2 - pb2 + kw*dl2], 0 in padding. */
#ifndef SINTER_RUNTIME_KERNELS_CONV_IMPL_H
#define SINTER_RUNTIME_KERNELS_CONV_IMPL_H

#include "gemm_core.h"
#include "kernels_util.h"

/* What the packer reads: the geometry and the group's first input channel of one image. When
 * `padded` is set, x is a zero-padded copy (snt_k_conv_pad_image) and w its geometry
 * (snt_k_conv_padded_geometry): every tap is inside, so the packers copy without bounds checks.
 * Columns past the image's w->out_size are the next images', img_stride floats apart in x. */
typedef struct snt_k_conv_src {
  const snt_k_win3 *w;
  const float *x;
  int padded;
  int64_t img_stride;
} snt_k_conv_src;

/* The geometry of an image padded on every side by w's pads (wp's pads are 0, its in[] the
 * padded sizes); the floats of `channels` padded planes plus the slack the packers read past
 * the last element (SIZE_MAX on overflow); and x's channels written as padded planes into xp
 * (every float of the planes: borders zeroed, interiors copied; not the slack after them). */
void snt_k_conv_padded_geometry(const snt_k_win3 *w, snt_k_win3 *wp);
size_t snt_k_conv_padded_floats(const snt_k_win3 *wp, int64_t channels);
void snt_k_conv_pad_image(const snt_k_win3 *w, const snt_k_win3 *wp, int64_t channels, const float *x, float *xp);

/* For the BF16 GEMM's channel pairs (snt_k_gemm_call.pair_taps): pair planes [q0, q1) of
 * images of `channels` planes in x (plane q: image q / pairs, channels 2 (q % pairs) and the
 * next), each a zero-padded plane of wp's geometry in xp whose 32-bit words hold the two
 * channels' values rounded to bfloat16 (low half the even channel; a channel past the last is
 * 0). The packers then copy them as they copy floats. Needs AVX512_BF16. */
void snt_k_conv_pad_pairs(const snt_k_win3 *w, const snt_k_win3 *wp, int64_t channels, int64_t q0, int64_t q1,
                          const float *x, uint32_t *xp);

/* snt_k_pack_b_fn's (gemm_core.h) over an snt_k_conv_src: write B[k0..k0+kc)[n0..n0+nc) in
 * strips of nr columns, zero past nc, as gemm_core.h lays them out; one per ISA, the same
 * output bit for bit (they only copy). */
void snt_k_conv_pack_b_avx512(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst);
void snt_k_conv_pack_b_avx2(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst);
void snt_k_conv_pack_b_c(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst);
snt_k_pack_b_fn snt_k_conv_pack_b_for(snt_k_isa isa);

/* What a conv runs besides the GEMM: its bias, residual (both may be NULL), activation and
 * tap (NULL, or a path that writes it in its store: the GEMM's and conv_t's; for the others
 * snt_k_conv_tapped makes a pass after the conv). */
typedef struct snt_k_conv_epi {
  const float *bias, *residual;
  snt_k_act act;
  const snt_k_conv_tap *tap;
  /* The direct path only (snt_k_conv_pool2): the 2x2 stride-2 max pool of the output goes
   * here, and y is not written. */
  float *pool2;
  /* The direct path only (snt_k_conv_maxpool): the max pool `pool` (padding holding *pool_fill,
   * or -inf when NULL) of the output goes to pooled, and y is not written. */
  const snt_k_pool_desc *pool;
  const float *pool_fill;
  float *pooled;
} snt_k_conv_epi;

/* The tap as a pass over a finished y of `batch` images, `channels` planes of `plane` floats. */
void snt_k_conv_tap_pass(const snt_k_conv_tap *tap, int64_t batch, int64_t channels, int64_t plane, const float *y);

/* Epilogue of conv (activations on isa's path): y = act(y + bias[c] + residual) over [batch, channels, inner]. */
void snt_k_epilogue(snt_k_isa isa, int64_t batch, int64_t channels, int64_t inner, const float *bias,
                    const float *residual, const snt_k_act *act, float *y);
/* y[i] = act(y[i] + b + r[i]) over one output row (r may be NULL). */
void snt_k_conv_epilogue_row(snt_k_isa isa, float *y, const float *r, float b, int64_t n, const snt_k_act *act);

/* Depthwise convolution (one input channel per group, conv_depthwise.c): direct loops along
 * output rows, vectorised for isa, planes split over ctx's threads. */
void snt_k_conv_depthwise(snt_k_ctx *ctx, snt_k_isa isa, const snt_k_conv3 *g, const float *x, const float *w,
                          const snt_k_conv_epi *e, float *y);
/* Its AVX-512 path for 2-D kernels up to 7x7, strides 1-2, no dilation (conv_dw_avx512.c):
 * whether g suits it, and the convolution (1 when it ran; it needs no buffers, and ctx may be
 * NULL). */
int snt_k_conv_dw_fast_applies(const snt_k_conv3 *g);
int snt_k_conv_dw_fast(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w, const snt_k_conv_epi *e,
                       float *y);
/* Its AVX-512 path for small maps (conv_dw_lanes.c: 16 channels in the lanes, up to 7x7
 * kernels, strides 1-2, multiplier 1, outputs up to 16 wide): whether g suits it, and the
 * convolution, the same sums as snt_k_conv_dw_fast's. */
int snt_k_conv_dw_lanes_applies(const snt_k_conv3 *g);
void snt_k_conv_dw_lanes(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w,
                         const snt_k_conv_epi *e, float *y);

/* One depthwise plane on the AVX-512 path, w as snt_k_conv_dw_fast_applies accepts: y = act(conv
 * + b + r) over the plane (r may be NULL). */
void snt_k_conv_dw_fast_plane(const snt_k_win3 *w, const float *x, const float *wk, const float *r, float *y, float b,
                              const snt_k_act *act);
/* Output rows [oh0, oh1) of output channel oc of one image of depthwise conv g (2-D), from xb:
 * input rows [ih0, ih0 + rows) of the channel's input plane (row stride g->w.in[2]), which
 * must hold every real row those outputs read. w and bias are the layer's (bias may be NULL);
 * y and r (NULL: none) point at the image's plane oc. The sums are the whole-plane kernel's,
 * bit for bit. */
void snt_k_conv_dw_rows(snt_k_isa isa, const snt_k_conv3 *g, int64_t oc, const float *xb, int64_t ih0, int64_t rows,
                        const float *w, const float *bias, const float *r, float *y, int64_t oh0, int64_t oh1,
                        const snt_k_act *act);

/* Direct convolution on AVX-512 (conv_small.c): whether g suits it (bf16: the context runs its
 * GEMMs in BF16, which this FP32 path would forgo; training: the context trains, so runs no
 * Winograd and packs no weights at load, and the direct path takes more taps); the bytes and
 * the arrangement of its weights packed at load; and the convolution (packed NULL: arranged per
 * call), output rows split over ctx's threads (ctx may be NULL). */
int snt_k_conv_small_applies(const snt_k_conv3 *g, int bf16, int training);
size_t snt_k_conv_small_weights_bytes(const snt_k_conv3 *g);
void snt_k_conv_small_pack(const snt_k_conv3 *g, const float *w, float *packed);
snt_status snt_k_conv_small(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w,
                            const float *packed, const snt_k_conv_epi *e, float *y);

/* Small feature maps as the transposed product on AVX-512 (conv_t.c): whether g suits it; the
 * bytes and layout of its packed weights (W^T in 32-column strips); and the convolution
 * (packed NULL: packed per call into ctx's scratch slot 1), split over ctx's threads. */
int snt_k_conv_t_applies(const snt_k_conv3 *g);
size_t snt_k_conv_t_packed_bytes(const snt_k_conv3 *g);
void snt_k_conv_t_pack_weights(const snt_k_conv3 *g, const float *w, float *dst);
snt_status snt_k_conv_t(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w, const float *packed,
                        const snt_k_conv_epi *e, float *y);

/* Winograd F(4x4, 3x3) on AVX-512 (conv_winograd.c): whether it can compute g (3x3, stride
 * and dilation 1, one group, 2-D) and whether it is chosen for g (bf16: in a BF16 context);
 * the bytes and the making of its transformed weights (G g G^T, 36 per kernel, on ctx's
 * threads); and the convolution of any g it can compute (packed NULL: weights transformed per
 * call into ctx's scratch slot 1), split over ctx's threads (ctx required). */
int snt_k_conv_winograd_shape(const snt_k_conv3 *g);
int snt_k_conv_winograd_applies(const snt_k_conv3 *g, int bf16);
size_t snt_k_conv_winograd_weights_bytes(const snt_k_conv3 *g);
void snt_k_conv_winograd_pack(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *w, float *u);
snt_status snt_k_conv_winograd(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w,
                               const float *packed, const snt_k_conv_epi *e, float *y);

#endif
