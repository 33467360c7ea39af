/* Direct 3x3 convolution for layers with few input channels (the first layer of an image model,
 * where im2col + sgemm has K = 27 and spends its time packing): each output row is built in
 * AVX-512 registers, 8 output channels by 16 columns at a time, over a zero-padded copy of the
 * image. Used only when the CPU has AVX-512 (checked at run time); else the GEMM path runs. */
#include <immintrin.h>
#include <string.h>

#include "kernels_util.h"

enum { OB = 8, VW = 16, MAX_CIN = 4 };

/* 2-D, 3x3, stride 1, dilation 1, one group, pads of at most 1, few input channels, output
 * channels in blocks of 8, rows of at least 16: where the direct loops beat the GEMM. */
static int applies(const snt_k_conv3 *g) {
  const snt_k_win3 *w = &g->w;
  if (g->groups != 1 || g->cin > MAX_CIN || g->cout % OB || w->in[0] != 1 || w->k[0] != 1) return 0;
  for (int i = 1; i < 3; i++)
    if (w->k[i] != 3 || w->s[i] != 1 || w->dl[i] != 1 || w->pb[i] > 1 || w->pe[i] > 1 ||
        w->out[i] != w->in[i] + w->pb[i] + w->pe[i] - 2)
      return 0;
  return w->out[2] >= VW;
}

/* Bytes of the padded image copy (rows and columns + 2, so every 3x3 window is inside). */
static size_t padded_floats(const snt_k_conv3 *g) {
  return (size_t)(g->cin * (g->w.out[1] + 2) * (g->w.out[2] + 2));
}

int snt_k_conv_direct_fits(const snt_k_conv3 *g, size_t scratch_floats) {
  if (!applies(g) || padded_floats(g) > scratch_floats) return 0;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

/* xp[c][r + pb_h][q + pb_w] = x[c][r][q], zeros around: the 3x3 windows of every output lie inside. */
static void pad_image(const snt_k_conv3 *g, const float *x, float *xp) {
  int64_t rows = g->w.out[1] + 2, cols = g->w.out[2] + 2, h = g->w.in[1], wd = g->w.in[2];
  memset(xp, 0, padded_floats(g) * sizeof(float));
  for (int64_t c = 0; c < g->cin; c++)
    for (int64_t r = 0; r < h; r++)
      memcpy(xp + (c * rows + r + g->w.pb[1]) * cols + g->w.pb[2], x + (c * h + r) * wd, (size_t)wd * sizeof(float));
}

/* One block: 8 output channels x 16 columns of output row h, the bias and ReLU applied in
 * registers (bias NULL: none). */
__attribute__((target("avx512f"))) static void block_row(const float *xp, int64_t rows, int64_t cols, int64_t cin,
                                                          const float *w, const float *bias, int relu, int64_t h,
                                                          int64_t w0, __mmask16 m, float *y, int64_t plane,
                                                          int64_t out_w) {
  __m512 acc[OB];
  for (int j = 0; j < OB; j++) acc[j] = bias ? _mm512_set1_ps(bias[j]) : _mm512_setzero_ps();
  for (int64_t c = 0; c < cin; c++)
    for (int kh = 0; kh < 3; kh++) {
      const float *row = xp + (c * rows + h + kh) * cols + w0;
      for (int kw = 0; kw < 3; kw++) {
        __m512 xv = _mm512_maskz_loadu_ps(m, row + kw);
        const float *wt = w + (c * 3 + kh) * 3 + kw;
        for (int j = 0; j < OB; j++) acc[j] = _mm512_fmadd_ps(xv, _mm512_set1_ps(wt[j * cin * 9]), acc[j]);
      }
    }
  if (relu)
    for (int j = 0; j < OB; j++) acc[j] = _mm512_max_ps(acc[j], _mm512_setzero_ps());
  for (int j = 0; j < OB; j++) _mm512_mask_storeu_ps(y + j * plane + h * out_w + w0, m, acc[j]);
}

void snt_k_conv_direct(const snt_k_conv3 *g, const float *x, const float *w, const float *bias, int relu, float *y,
                       float *scratch) {
  int64_t out_h = g->w.out[1], out_w = g->w.out[2], plane = out_h * out_w;
  int64_t rows = out_h + 2, cols = out_w + 2;
  for (int64_t n = 0; n < g->batch; n++) {
    pad_image(g, x + n * g->cin * g->w.in_size, scratch);
    float *yn = y + n * g->cout * plane;
    for (int64_t o = 0; o < g->cout; o += OB)
      for (int64_t h = 0; h < out_h; h++)
        for (int64_t w0 = 0; w0 < out_w; w0 += VW) {
          int64_t left = out_w - w0;
          __mmask16 m = left >= VW ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
          block_row(scratch, rows, cols, g->cin, w + o * g->cin * 9, bias ? bias + o : NULL, relu, h, w0, m,
                    yn + o * plane, plane, out_w);
        }
  }
}
