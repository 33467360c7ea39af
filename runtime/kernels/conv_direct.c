/* Direct 3x3 convolution for layers with few input channels (the first layer of an image model,
 * where an implicit GEMM has K = 27 and spends its time packing): each output row is built in
 * AVX-512 registers, 8 output channels by 16 columns at a time; masked loads stand in for the
 * zero padding, so no padded copy is made. Only for a context whose ISA is AVX-512; output rows
 * go to threads, each computed the same way whatever the thread count. */
#include <immintrin.h>

#include "conv_impl.h"

enum { OB = 8, VW = 16, MAX_CIN_COUT = 48 };

/* 2-D, 3x3, stride 1, dilation 1, one group, pads of at most 1, output channels in blocks of
 * 8, rows of at least 16, and few channels: measured (bench_conv --cpu, 256x256), the direct
 * loops beat the implicit GEMM by 15-45% up to cin x cout = 48 (1x16, 2x16, 3x16, 1x32) and
 * lose by 14-40% from 96 (3x32, 3x64), where the GEMM's register tile pays off. */
int snt_k_conv_direct_applies(const snt_k_conv3 *g) {
  const snt_k_win3 *w = &g->w;
  if (g->groups != 1 || g->cin * g->cout > MAX_CIN_COUT || g->cout % OB || w->in[0] != 1 || w->k[0] != 1) return 0;
  for (int i = 1; i < 3; i++)
    if (w->k[i] != 3 || w->s[i] != 1 || w->dl[i] != 1 || w->pb[i] > 1 || w->pe[i] > 1 ||
        w->out[i] != w->in[i] + w->pb[i] + w->pe[i] - 2)
      return 0;
  return w->out[2] >= VW;
}

/* Lanes l < left whose input column col + l lies in [0, in_w). */
static __mmask16 lanes(int64_t col, int64_t in_w, int64_t left) {
  int64_t lo = col < 0 ? -col : 0, hi = in_w - col;
  if (hi > left) hi = left;
  if (hi > VW) hi = VW;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

typedef struct direct_job {
  const snt_k_conv3 *g;
  const float *x, *w;
  const snt_k_conv_epi *e;
  float *y;
} direct_job;

/* 8 output channels x 16 columns of output row h of one image, bias and ReLU (when it is the
 * whole epilogue) applied in registers. */
__attribute__((target("avx512f"))) static void block_row(const direct_job *j, const float *x, const float *w,
                                                          const float *bias, int relu, int64_t h, int64_t w0,
                                                          float *y) {
  const snt_k_win3 *g = &j->g->w;
  int64_t in_h = g->in[1], in_w = g->in[2], out_w = g->out[2], plane = g->out_size, cin = j->g->cin;
  int64_t left = out_w - w0;
  __m512 acc[OB];
  for (int o = 0; o < OB; o++) acc[o] = bias ? _mm512_set1_ps(bias[o]) : _mm512_setzero_ps();
  for (int64_t c = 0; c < cin; c++)
    for (int kh = 0; kh < 3; kh++) {
      int64_t ih = h + kh - g->pb[1];
      if (ih < 0 || ih >= in_h) continue;
      const float *row = x + (c * in_h + ih) * in_w;
      for (int kw = 0; kw < 3; kw++) {
        int64_t col = w0 + kw - g->pb[2];
        __m512 xv = _mm512_maskz_loadu_ps(lanes(col, in_w, left), row + col);
        const float *wt = w + (c * 3 + kh) * 3 + kw;
        for (int o = 0; o < OB; o++) acc[o] = _mm512_fmadd_ps(xv, _mm512_set1_ps(wt[o * cin * 9]), acc[o]);
      }
    }
  if (relu)
    for (int o = 0; o < OB; o++) acc[o] = _mm512_max_ps(acc[o], _mm512_setzero_ps());
  __mmask16 m = left >= VW ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
  for (int o = 0; o < OB; o++) _mm512_mask_storeu_ps(y + o * plane + h * out_w + w0, m, acc[o]);
}

/* Output row r = (image, h) for every output channel, then the epilogue's remainder. */
static void direct_row(const direct_job *j, int64_t r) {
  const snt_k_conv3 *g = j->g;
  int64_t out_h = g->w.out[1], out_w = g->w.out[2], n = r / out_h, h = r % out_h;
  const float *x = j->x + n * g->cin * g->w.in_size;
  float *y = j->y + n * g->cout * g->w.out_size;
  int fused = !j->e->residual && (j->e->act.kind == SNT_K_ACT_NONE || j->e->act.kind == SNT_K_ACT_RELU);
  const float *bias = fused ? j->e->bias : NULL;
  for (int64_t o = 0; o < g->cout; o += OB)
    for (int64_t w0 = 0; w0 < out_w; w0 += VW)
      block_row(j, x, j->w + o * g->cin * 9, bias ? bias + o : NULL, fused && j->e->act.kind == SNT_K_ACT_RELU, h,
                w0, y + o * g->w.out_size);
  if (fused) return;
  for (int64_t o = 0; o < g->cout; o++) {
    int64_t at = (n * g->cout + o) * g->w.out_size + h * out_w;
    snt_k_conv_epilogue_row(j->y + at, j->e->residual ? j->e->residual + at : NULL, j->e->bias ? j->e->bias[o] : 0.0f,
                            out_w, &j->e->act);
  }
}

static void direct_part(void *arg, int t, int threads) {
  const direct_job *j = arg;
  int64_t rows = j->g->batch * j->g->w.out[1];
  for (int64_t r = rows * t / threads; r < rows * (t + 1) / threads; r++) direct_row(j, r);
}

void snt_k_conv_direct(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w, const snt_k_conv_epi *e,
                       float *y) {
  direct_job j = {g, x, w, e, y};
  snt_k_ctx_parallel(ctx, direct_part, &j);
}
