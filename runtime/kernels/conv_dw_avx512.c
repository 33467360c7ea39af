/* Depthwise 2-D convolution on AVX-512 for the common shapes (strides 1-2, dilation 1, kernels
 * up to 7x7): each input plane is first copied into zero-padded "phase rows" (phase p of a row
 * holds padded columns p, p + s, p + 2s, ...), so that every tap of 16 output columns is one
 * contiguous load; the taps of an output row then sum in registers (the generic loops in
 * conv_depthwise.c add each tap into memory: one load and store per tap). Bias, residual and
 * activation apply before the one store. Planes go to threads, each computed alike whatever
 * the thread count. */
#include <immintrin.h>
#include <string.h>

#include "act_avx512.h"
#include "conv_impl.h"

#define AVX512 __attribute__((target("avx512f")))

enum { MAX_K = 7, VW = 16, UNROLL = 4, TEAM_MAX = 64, PHASE_SLOT = 3 };

typedef struct dw_geo {
  int64_t in_h, in_w, out_h, out_w, kh, kw, sh, sw, ph, pw;
  int64_t q;   /* floats per phase row: out_w + (kw - 1) / sw */
  int64_t row; /* floats per input row: sw phase rows */
} dw_geo;

int snt_k_conv_dw_fast_applies(const snt_k_conv3 *g) {
  const snt_k_win3 *w = &g->w;
  if (!(g->cg == 1 && g->groups > 1) || w->in[0] != 1 || w->k[0] != 1 || w->out[0] != 1) return 0;
  for (int i = 1; i < 3; i++)
    if (w->k[i] > MAX_K || w->dl[i] != 1 || w->s[i] < 1 || w->s[i] > 2) return 0;
  return 1;
}

static void geo_init(const snt_k_conv3 *g, dw_geo *s) {
  const snt_k_win3 *w = &g->w;
  *s = (dw_geo){w->in[1], w->in[2], w->out[1], w->out[2], w->k[1], w->k[2], w->s[1], w->s[2], w->pb[1], w->pb[2], 0, 0};
  s->q = s->out_w + (s->kw - 1) / s->sw;
  s->row = s->sw * s->q;
}

size_t snt_k_conv_dw_fast_scratch(const snt_k_conv3 *g) {
  dw_geo s;
  geo_init(g, &s);
  int64_t floats;
  if (__builtin_mul_overflow(s.in_h, s.row, &floats) || (uint64_t)floats > SIZE_MAX / sizeof(float) - 64) return SIZE_MAX;
  return (size_t)floats * sizeof(float);
}

/* Phase rows of one input plane: buf[ih * row + p * q + i] = padded column i * sw + p; the
 * columns inside the input are a strided copy, the rest zeros. */
AVX512 static void phase_plane(const dw_geo *s, const float *x, float *buf) {
  for (int64_t ih = 0; ih < s->in_h; ih++) {
    const float *xr = x + ih * s->in_w;
    for (int64_t p = 0; p < s->sw; p++) {
      float *br = buf + ih * s->row + p * s->q;
      int64_t lo, hi; /* i with 0 <= i * sw + p - pw < in_w */
      snt_k_valid_range(p - s->pw, s->sw, s->q, s->in_w, &lo, &hi);
      if (hi < lo) hi = lo;
      for (int64_t i = 0; i < lo; i++) br[i] = 0.0f;
      int64_t off = p - s->pw; /* column of i = 0 (negative in the padding) */
      if (s->sw == 1) memcpy(br + lo, xr + lo + off, (size_t)(hi - lo) * sizeof(float));
      else
        for (int64_t i = lo; i < hi; i++) br[i] = xr[i * 2 + off];
      for (int64_t i = hi; i < s->q; i++) br[i] = 0.0f;
    }
  }
}

typedef struct dw_job {
  const snt_k_conv3 *g;
  const dw_geo *s;
  const float *x, *w;
  const snt_k_conv_epi *e;
  float *y;
  float *bufs[TEAM_MAX];
} dw_job;

/* One output row: columns [0, out_w) in groups of UNROLL vectors, the last ones masked. */
AVX512 static void out_row(const dw_job *j, const float *buf, const float *wk, float b, const float *r, int64_t oh,
                           float *yr) {
  const dw_geo *s = j->s;
  const snt_k_act *act = &j->e->act;
  int fused = act->kind == SNT_K_ACT_NONE || act->kind == SNT_K_ACT_RELU || act->kind == SNT_K_ACT_LEAKY_RELU ||
              act->kind == SNT_K_ACT_CLIP;
  for (int64_t c0 = 0; c0 < s->out_w; c0 += UNROLL * VW) {
    __m512 acc[UNROLL];
    __mmask16 m[UNROLL];
    for (int u = 0; u < UNROLL; u++) {
      int64_t left = s->out_w - c0 - u * VW;
      m[u] = left >= VW ? (__mmask16)0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
      acc[u] = _mm512_setzero_ps();
    }
    for (int64_t kh = 0; kh < s->kh; kh++) {
      int64_t ih = oh * s->sh - s->ph + kh;
      if (ih < 0 || ih >= s->in_h) continue;
      const float *br = buf + ih * s->row;
      for (int64_t kw = 0; kw < s->kw; kw++) {
        const float *src = br + (kw % s->sw) * s->q + kw / s->sw + c0;
        __m512 wv = _mm512_set1_ps(wk[kh * s->kw + kw]);
        for (int u = 0; u < UNROLL; u++)
          acc[u] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m[u], src + u * VW), acc[u]);
      }
    }
    for (int u = 0; u < UNROLL && m[u]; u++) {
      __m512 v = _mm512_add_ps(acc[u], _mm512_set1_ps(b));
      if (r) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m[u], r + c0 + u * VW));
      _mm512_mask_storeu_ps(yr + c0 + u * VW, m[u], fused ? snt_k_act_vec512(v, act) : v);
    }
  }
  if (!fused) snt_k_conv_epilogue_row(yr, NULL, 0.0f, s->out_w, act); /* sigmoid, tanh */
}

AVX512 static void dw_part(void *arg, int t, int threads) {
  const dw_job *j = arg;
  const snt_k_conv3 *g = j->g;
  const dw_geo *s = j->s;
  int64_t total = g->batch * g->cout, in_plane = s->in_h * s->in_w, out_plane = s->out_h * s->out_w;
  for (int64_t p = total * t / threads; p < total * (t + 1) / threads; p++) {
    int64_t n = p / g->cout, oc = p % g->cout;
    phase_plane(s, j->x + (n * g->cin + oc / g->mg) * in_plane, j->bufs[t]);
    const float *r = j->e->residual ? j->e->residual + p * out_plane : NULL;
    float b = j->e->bias ? j->e->bias[oc] : 0.0f;
    for (int64_t oh = 0; oh < s->out_h; oh++)
      out_row(j, j->bufs[t], j->w + oc * s->kh * s->kw, b, r ? r + oh * s->out_w : NULL, oh,
              j->y + p * out_plane + oh * s->out_w);
  }
}

int snt_k_conv_dw_fast(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w, const snt_k_conv_epi *e,
                       float *y) {
  dw_geo s;
  geo_init(g, &s);
  size_t bytes = snt_k_conv_dw_fast_scratch(g);
  int threads = snt_k_ctx_threads(ctx);
  if (!ctx || bytes == SIZE_MAX || threads > TEAM_MAX) return 0;
  dw_job j = {g, &s, x, w, e, y, {0}};
  for (int t = 0; t < threads; t++)
    if (!(j.bufs[t] = snt_k_ctx_scratch(ctx, PHASE_SLOT, t, bytes))) return 0;
  snt_k_ctx_parallel(ctx, dw_part, &j);
  return 1;
}
