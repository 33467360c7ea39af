/* Depthwise 2-D convolution on small maps with 16 channels in the lanes (AVX-512). A 7x7 or
 * 14x14 plane fills a row vector to 7 or 14 of its 16 lanes and every load of the plane path
 * (conv_dw_avx512.c) is masked at the borders; here 16 channels' planes are transposed once
 * into a zero-padded pixel-major block (a vector per pixel: its 16 channels), each output is 9
 * (kh x kw) plain loads and FMAs with a weight vector per tap, and the outputs go back to the
 * planes through the same transposes, where bias, residual and activation apply as the plane
 * path applies them. Each output sums its taps in the plane path's order (kernel rows, then
 * columns, from zero; padding adds exact zeros where that path skips rows), so the two give
 * the same bits for finite weights. Units of 16 channels of one image go to threads. */
#include <immintrin.h>
#include <stdint.h>

#include "act_avx512.h"
#include "act_pass.h"
#include "conv_impl.h"
#include "transpose16_avx512.h"

#define AVX512 __attribute__((target("avx512f")))

enum {
  VW = 16,
  MAX_K = 7,
  MAX_PAD_PIXELS = 400, /* the padded input block: 25 KB */
  MAX_OUT_PIXELS = 256, /* the output block: 16 KB */
  MAX_OUT_W = 16,       /* one row of outputs in registers */
};

int snt_k_conv_dw_lanes_applies(const snt_k_conv3 *g) {
  const snt_k_win3 *w = &g->w;
  if (g->cg != 1 || g->mg != 1 || g->groups < VW) return 0;
  if (w->in[0] != 1 || w->k[0] != 1 || w->out[0] != 1) return 0;
  for (int i = 1; i < 3; i++)
    if (w->k[i] > MAX_K || w->dl[i] != 1 || w->s[i] < 1 || w->s[i] > 2) return 0;
  int64_t ph = w->in[1] + w->pb[1] + w->pe[1], pw = w->in[2] + w->pb[2] + w->pe[2];
  if (ph > MAX_PAD_PIXELS || pw > MAX_PAD_PIXELS) return 0; /* bounded before the product */
  return ph * pw <= MAX_PAD_PIXELS && w->out_size <= MAX_OUT_PIXELS && w->out[2] <= MAX_OUT_W;
}

typedef struct lanes_job {
  const snt_k_conv3 *g;
  const float *x, *w;
  const snt_k_conv_epi *e;
  float *y;
} lanes_job;

static inline __mmask16 low_lanes(int64_t n) {
  return n >= VW ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* Channels [c0, c0 + nc) of image n into xb: pixel (h, w) of the padded map at (h * pw + w) * 16,
 * its channels in the lanes (0 past nc and in the padding). */
AVX512 static void gather_in(const lanes_job *j, int64_t n, int64_t c0, int nc, int64_t pw, float *xb) {
  const snt_k_win3 *w = &j->g->w;
  int64_t ph = w->in[1] + w->pb[1] + w->pe[1], hw = w->in_size;
  for (int64_t h = 0; h < ph; h++) { /* the padding: whole rows above and below, columns beside */
    int inside = h >= w->pb[1] && h < w->pb[1] + w->in[1];
    for (int64_t c = 0; c < pw; c++)
      if (!inside || c < w->pb[2] || c >= w->pb[2] + w->in[2]) _mm512_store_ps(xb + (h * pw + c) * VW, _mm512_setzero_ps());
  }
  const float *x = j->x + (n * j->g->cin + c0) * hw;
  for (int64_t p0 = 0; p0 < hw; p0 += VW) {
    __mmask16 m = low_lanes(hw - p0);
    __m512 r[VW];
#pragma GCC unroll 16
    for (int c = 0; c < VW; c++) r[c] = c < nc ? _mm512_maskz_loadu_ps(m, x + c * hw + p0) : _mm512_setzero_ps();
    snt_k_transpose16(r);
    for (int i = 0; i < VW && p0 + i < hw; i++) {
      int64_t p = p0 + i, h = p / w->in[2] + w->pb[1], c = p % w->in[2] + w->pb[2];
      _mm512_store_ps(xb + (h * pw + c) * VW, r[i]);
    }
  }
}

/* Output row oh: ow outputs, each the taps in (kh, kw) order from zero, then the bias. */
AVX512 static inline __attribute__((always_inline)) void out_row(const snt_k_win3 *w, const float *xb, int64_t pw,
                                                                 const __m512 *wv, __m512 bias, int64_t oh,
                                                                 float *ob) {
  const int64_t kh = w->k[1], kw = w->k[2], sh = w->s[1], sw = w->s[2], ow = w->out[2];
  __m512 acc[MAX_OUT_W];
#pragma GCC unroll 16
  for (int q = 0; q < MAX_OUT_W; q++) acc[q] = _mm512_setzero_ps();
  for (int64_t a = 0; a < kh; a++) {
    const float *row = xb + (oh * sh + a) * pw * VW;
    for (int64_t b = 0; b < kw; b++) {
      __m512 wt = wv[a * kw + b];
      const float *px = row + b * VW;
#pragma GCC unroll 16
      for (int q = 0; q < MAX_OUT_W; q++)
        if (q < ow) acc[q] = _mm512_fmadd_ps(wt, _mm512_load_ps(px + q * sw * VW), acc[q]);
    }
  }
#pragma GCC unroll 16
  for (int q = 0; q < MAX_OUT_W; q++)
    if (q < ow) _mm512_store_ps(ob + (oh * ow + q) * VW, _mm512_add_ps(acc[q], bias));
}

/* The pixel-major outputs back to channels [c0, c0 + nc) of image n, with residual and activation. */
AVX512 static void scatter_out(const lanes_job *j, int64_t n, int64_t c0, int nc, const float *ob) {
  const snt_k_win3 *w = &j->g->w;
  const snt_k_act *act = &j->e->act;
  int64_t p = w->out_size, base = (n * j->g->cout + c0) * p;
  const int pass = snt_k_act_needs_pass(act);
  for (int64_t p0 = 0; p0 < p; p0 += VW) {
    __mmask16 m = low_lanes(p - p0);
    __m512 r[VW];
#pragma GCC unroll 16
    for (int i = 0; i < VW; i++) r[i] = p0 + i < p ? _mm512_load_ps(ob + (p0 + i) * VW) : _mm512_setzero_ps();
    snt_k_transpose16(r);
    if (j->e->residual)
      for (int c = 0; c < nc; c++) r[c] = _mm512_add_ps(r[c], _mm512_maskz_loadu_ps(m, j->e->residual + base + c * p + p0));
    if (pass) snt_k_act_vecs512(act, r, nc);
    for (int c = 0; c < nc; c++)
      _mm512_mask_storeu_ps(j->y + base + c * p + p0, m, pass ? r[c] : snt_k_act_vec512(r[c], act));
  }
}

AVX512 static void unit(const lanes_job *j, int64_t u, float *xb, float *ob) {
  const snt_k_conv3 *g = j->g;
  const snt_k_win3 *w = &g->w;
  int64_t groups = (g->cout + VW - 1) / VW, n = u / groups, c0 = u % groups * VW, ks = w->k[1] * w->k[2];
  int nc = g->cout - c0 < VW ? (int)(g->cout - c0) : VW;
  int64_t pw = w->in[2] + w->pb[2] + w->pe[2];
  __mmask16 cm = low_lanes(nc);
  __m512 wv[MAX_K * MAX_K];
  __m512i at = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                  _mm512_set1_epi32((int)ks));
  for (int64_t t = 0; t < ks; t++) /* tap t of the unit's channels, a lane each */
    wv[t] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), cm, _mm512_add_epi32(at, _mm512_set1_epi32((int)t)),
                                     j->w + c0 * ks, 4);
  __m512 bias = j->e->bias ? _mm512_maskz_loadu_ps(cm, j->e->bias + c0) : _mm512_setzero_ps();
  gather_in(j, n, c0, nc, pw, xb);
  for (int64_t oh = 0; oh < w->out[1]; oh++) out_row(w, xb, pw, wv, bias, oh, ob);
  scatter_out(j, n, c0, nc, ob);
}

static void lanes_part(void *arg, int t, int threads) {
  const lanes_job *j = arg;
  int64_t units = j->g->batch * ((j->g->cout + VW - 1) / VW);
  float xb[MAX_PAD_PIXELS * VW] __attribute__((aligned(64)));
  float ob[MAX_OUT_PIXELS * VW] __attribute__((aligned(64)));
  for (int64_t u = units * t / threads; u < units * (t + 1) / threads; u++) unit(j, u, xb, ob);
}

void snt_k_conv_dw_lanes(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w,
                         const snt_k_conv_epi *e, float *y) {
  lanes_job j = {g, x, w, e, y};
  snt_k_ctx_parallel(ctx, lanes_part, &j);
}
