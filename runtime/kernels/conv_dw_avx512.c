/* Depthwise 2-D convolution on AVX-512 for kernels up to 7x7, strides 1-2, dilation 1. Output
 * rows go in blocks of ROWS and columns in groups of one or two 16-float vectors; each input row
 * the block needs is loaded once per kernel column and feeds every output row of the block it
 * reaches, the sums staying in registers (each input load serves up to ROWS FMAs instead of one).
 * Padding is masks on the loads, so the input is read where it lies, without copies; stride 2
 * along the width loads 32 consecutive columns and splits the even and odd ones with a permute
 * each. 3x3 kernels get fully unrolled instances. Bias, residual and activation apply before
 * the one store. Planes go to threads; every output sums its taps in the same order (kernel
 * rows, then columns), whatever the blocking or the thread count. */
#include <immintrin.h>
#include <stdint.h>

#include "act_avx512.h"
#include "act_pass.h"
#include "conv_impl.h"

#define AVX512 __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline))

enum { MAX_K = 7, VW = 16, ROWS = 4, MAX_U = 2 };

int snt_k_conv_dw_fast_applies(const snt_k_conv3 *g) {
  const snt_k_win3 *w = &g->w;
  if (!(g->cg == 1 && g->groups > 1) || w->in[0] != 1 || w->k[0] != 1 || w->out[0] != 1) return 0;
  for (int i = 1; i < 3; i++)
    if (w->k[i] > MAX_K || w->dl[i] != 1 || w->s[i] < 1 || w->s[i] > 2) return 0;
  return 1;
}

/* One output plane's operands. */
typedef struct dw_plane {
  const snt_k_win3 *w;
  const float *x, *wk, *r; /* input plane, its kh x kw weights, residual plane (or NULL) */
  const float *next_x;     /* where the next plane's input is likely to be (prefetched) */
  float *y;
  float b;
  const snt_k_act *act;
} dw_plane;

/* Lanes i with 0 <= start + i < limit. */
INLINE __mmask16 range_mask(int64_t start, int64_t limit) {
  int64_t lo = start < 0 ? -start : 0, hi = limit - start;
  if (hi > VW) hi = VW;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* A masked load at row[off], off possibly outside the row: only masked-off lanes lie outside
 * (they neither fault nor read), and the address is formed as an integer so that no pointer
 * outside the input is ever made. */
AVX512 INLINE __m512 load_at(__mmask16 m, const float *row, int64_t off) {
  return _mm512_maskz_loadu_ps(m, (const void *)((uintptr_t)row + (uintptr_t)off * sizeof(float)));
}

/* The load masks of one column group: per load t (kernel column t for stride 1, columns 2t and
 * 2t + 1 for stride 2), vector u and half (stride 2 loads two vectors). */
typedef struct dw_masks {
  __mmask16 m[MAX_K][MAX_U][2];
} dw_masks;

/* Input row xr's contribution to the block's accumulators: i is its index among the rows the
 * block spans, so it is kernel row i - r * sh of output row r. */
AVX512 INLINE void in_row(const dw_plane *p, const dw_masks *mk, const float *xr, int64_t x0, int64_t i, int64_t sh,
                          int64_t kh, int64_t kw, int U, int SW, __m512 acc[ROWS][MAX_U]) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const int64_t loads = SW == 1 ? kw : (kw + 1) / 2; /* kw: a constant when KW is */
#pragma GCC unroll 7
  for (int64_t t = 0; t < loads; t++) {
    __m512 v[MAX_U][2];
#pragma GCC unroll 2
    for (int u = 0; u < U; u++) {
      if (SW == 1) {
        v[u][0] = load_at(mk->m[t][u][0], xr, x0 + u * VW + t);
      } else {
        __m512 lo = load_at(mk->m[t][u][0], xr, x0 + 2 * u * VW + 2 * t);
        __m512 hi = load_at(mk->m[t][u][1], xr, x0 + 2 * u * VW + 2 * t + VW);
        v[u][0] = _mm512_permutex2var_ps(lo, even, hi);
        v[u][1] = _mm512_permutex2var_ps(lo, odd, hi);
      }
    }
#pragma GCC unroll 2
    for (int par = 0; par < SW; par++) {
      int64_t c = SW * t + par; /* kernel column */
      if (c >= kw) break;
#pragma GCC unroll 4
      for (int r = 0; r < ROWS; r++) {
        int64_t kr = i - r * sh;
        if (kr < 0 || kr >= kh) continue;
        __m512 wv = _mm512_set1_ps(p->wk[kr * kw + c]);
#pragma GCC unroll 2
        for (int u = 0; u < U; u++) acc[r][u] = _mm512_fmadd_ps(wv, v[u][par], acc[r][u]);
      }
    }
  }
}

/* Output rows [oh0, oh0 + rows) (rows <= ROWS), columns [c0, c0 + U * 16) cut at out_w. SH,
 * SW, KH, KW: the geometry when known at compile time (0: read it from p). */
AVX512 INLINE void block(const dw_plane *p, int64_t oh0, int64_t rows, int64_t c0, int U, int SH, int SW, int KH,
                         int KW) {
  const snt_k_win3 *w = p->w;
  const int64_t in_h = w->in[1], in_w = w->in[2], out_w = w->out[2];
  const int64_t kh = KH ? KH : w->k[1], kw = KW ? KW : w->k[2], sh = SH ? SH : w->s[1];
  const int64_t x0 = SW * c0 - w->pb[2]; /* input column of the group's first output, tap 0 */
  dw_masks mk;
  for (int64_t t = 0; t < (SW == 1 ? kw : (kw + 1) / 2); t++)
    for (int u = 0; u < U; u++) {
      int64_t start = x0 + SW * u * VW + SW * t;
      mk.m[t][u][0] = range_mask(start, in_w);
      mk.m[t][u][1] = SW == 2 ? range_mask(start + VW, in_w) : 0;
    }
  /* acc is indexed by constants only (every loop over it unrolled), so it lives in registers */
  __m512 acc[ROWS][MAX_U];
#pragma GCC unroll 4
  for (int r = 0; r < ROWS; r++)
#pragma GCC unroll 2
    for (int u = 0; u < MAX_U; u++) acc[r][u] = _mm512_setzero_ps();
  const int64_t ih0 = oh0 * sh - w->pb[1];
  if (KH && SH) {
#pragma GCC unroll 16
    for (int64_t i = 0; i < (ROWS - 1) * SH + KH; i++) {
      int64_t ih = ih0 + i;
      if (ih >= 0 && ih < in_h) in_row(p, &mk, p->x + ih * in_w, x0, i, sh, kh, kw, U, SW, acc);
    }
  } else {
    for (int64_t i = 0; i < (rows - 1) * sh + kh; i++) {
      int64_t ih = ih0 + i;
      if (ih >= 0 && ih < in_h) in_row(p, &mk, p->x + ih * in_w, x0, i, sh, kh, kw, U, SW, acc);
    }
  }
  /* the block's values first, then the activation on all of them (four at a time), then stores */
  __m512 v[ROWS * MAX_U];
#pragma GCC unroll 4
  for (int r = 0; r < ROWS; r++)
#pragma GCC unroll 2
    for (int u = 0; u < U; u++) {
      int64_t at = (oh0 + r) * out_w + c0;
      __mmask16 om = range_mask(c0 + u * VW, out_w);
      v[r * U + u] = _mm512_add_ps(acc[r][u], _mm512_set1_ps(p->b));
      if (p->r && r < rows) v[r * U + u] = _mm512_add_ps(v[r * U + u], _mm512_maskz_loadu_ps(om, p->r + at + u * VW));
    }
  const int pass = snt_k_act_needs_pass(p->act); /* else the store's cheap kinds */
  if (pass) snt_k_act_vecs512(p->act, v, (int)rows * U);
#pragma GCC unroll 4
  for (int r = 0; r < ROWS; r++) {
    if (r >= rows) break;
    int64_t at = (oh0 + r) * out_w + c0;
#pragma GCC unroll 2
    for (int u = 0; u < U; u++) {
      __mmask16 om = range_mask(c0 + u * VW, out_w);
      __m512 t = pass ? v[r * U + u] : snt_k_act_vec512(v[r * U + u], p->act);
      _mm512_mask_storeu_ps(p->y + at + u * VW, om, t);
    }
  }
}

/* Asks for rows [ih0, ih1) (clipped to a plane) of the plane at x to be brought to L1 ahead of
 * use. The addresses are integers: the next plane's may lie past the input (a prefetch never
 * faults), and no such pointer is made. */
INLINE void prefetch_rows(const dw_plane *p, const float *x, int64_t ih0, int64_t ih1) {
  const snt_k_win3 *w = p->w;
  if (ih0 < 0) ih0 = 0;
  if (ih1 > w->in[1]) ih1 = w->in[1];
  for (int64_t ih = ih0; ih < ih1; ih++)
    for (int64_t c = 0; c < w->in[2]; c += VW)
      _mm_prefetch((const char *)((uintptr_t)x + (uintptr_t)(ih * w->in[2] + c) * sizeof(float)), _MM_HINT_T0);
}

/* Row blocks in order, each prefetching the input rows the next one adds: a block's few loads
 * per row left the hardware prefetcher behind when the plane came from L3. */
AVX512 INLINE void plane(const dw_plane *p, int SH, int SW, int KH, int KW) {
  const snt_k_win3 *w = p->w;
  const int64_t out_h = w->out[1], out_w = w->out[2], sh = SH ? SH : w->s[1], kh = KH ? KH : w->k[1];
  for (int64_t oh0 = 0; oh0 < out_h; oh0 += ROWS) {
    int64_t rows = out_h - oh0 < ROWS ? out_h - oh0 : ROWS;
    /* the input rows block oh0 reads end before (oh0 + ROWS - 1) * sh - pb + kh */
    int64_t end = (oh0 + ROWS - 1) * sh - w->pb[1] + kh, first_end = (ROWS - 1) * sh - w->pb[1] + kh;
    if (oh0 + ROWS < out_h) prefetch_rows(p, p->x, end, end + ROWS * sh);
    else prefetch_rows(p, p->next_x, 0, first_end); /* the next plane's first block */
    for (int64_t c0 = 0; c0 < out_w; c0 += MAX_U * VW) {
      if (out_w - c0 > VW) block(p, oh0, rows, c0, 2, SH, SW, KH, KW);
      else block(p, oh0, rows, c0, 1, SH, SW, KH, KW);
    }
  }
}

/* 3x3 kernels with equal strides run the unrolled instances (a last, shorter row block computes
 * ROWS rows there and stores its own), any other kernel the general ones. */
AVX512 static void plane_3x3_s1(const dw_plane *p) { plane(p, 1, 1, 3, 3); }
AVX512 static void plane_3x3_s2(const dw_plane *p) { plane(p, 2, 2, 3, 3); }
AVX512 static void plane_s1(const dw_plane *p) { plane(p, 0, 1, 0, 0); }
AVX512 static void plane_s2(const dw_plane *p) { plane(p, 0, 2, 0, 0); }

typedef void (*plane_fn)(const dw_plane *p);

static plane_fn plane_for(const snt_k_win3 *w) {
  if (w->k[1] == 3 && w->k[2] == 3 && w->s[1] == w->s[2]) return w->s[2] == 1 ? plane_3x3_s1 : plane_3x3_s2;
  return w->s[2] == 1 ? plane_s1 : plane_s2;
}

typedef struct dw_job {
  const snt_k_conv3 *g;
  const float *x, *w;
  const snt_k_conv_epi *e;
  float *y;
  plane_fn fn;
} dw_job;

static void dw_part(void *arg, int t, int threads) {
  const dw_job *j = arg;
  const snt_k_conv3 *g = j->g;
  const snt_k_win3 *w = &g->w;
  const snt_k_act *act = &j->e->act;
  int64_t total = g->batch * g->cout;
  for (int64_t q = total * t / threads; q < total * (t + 1) / threads; q++) {
    int64_t n = q / g->cout, oc = q % g->cout;
    int64_t next = (q + 1) / g->cout * g->cin + (q + 1) % g->cout / g->mg; /* plane q + 1's input plane */
    dw_plane p = {.w = w,
                  .x = j->x + (n * g->cin + oc / g->mg) * w->in_size,
                  .wk = j->w + oc * w->k_size,
                  .r = j->e->residual ? j->e->residual + q * w->out_size : NULL,
                  .next_x = (const float *)((uintptr_t)j->x + (uintptr_t)(next * w->in_size) * sizeof(float)),
                  .y = j->y + q * w->out_size,
                  .b = j->e->bias ? j->e->bias[oc] : 0.0f,
                  .act = act};
    j->fn(&p);
  }
}

int snt_k_conv_dw_fast(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w, const snt_k_conv_epi *e,
                       float *y) {
  dw_job j = {g, x, w, e, y, plane_for(&g->w)};
  snt_k_ctx_parallel(ctx, dw_part, &j);
  return 1;
}

void snt_k_conv_dw_fast_plane(const snt_k_win3 *w, const float *x, const float *wk, const float *r, float *y, float b,
                              const snt_k_act *act) {
  dw_plane p = {.w = w, .x = x, .wk = wk, .r = r, .next_x = x, .y = y, .b = b, .act = act};
  plane_for(w)(&p);
}
