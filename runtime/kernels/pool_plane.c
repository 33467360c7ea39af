/* 2-D pooling with stride 1 along the last axis, a whole plane per step (AVX-512). The plane is
 * first copied into a padded buffer (the average's in double, padding 0; the max's padding
 * -inf) with a padding row above, so every output vector of 16 columns, border ones too, takes
 * its taps as plain loads, and 4 output rows run side by side for independent chains. Inception's
 * 3x3 stride-1 pools spent 1.8 us a 35x35 plane in pool.c's rows (2 of 35 outputs a row, and
 * the first and last rows, window by window) against 0.24 us in ONNX Runtime; masked loads
 * instead of the buffer cost 1.7x the plain ones on Zen 5.
 * The bits are pool.c's per-window code's: the max takes a lane's first real tap as it is and a
 * later one only when strictly greater (maxps(v, m)); the average adds the taps in row-major
 * order in double from 0 (a padding tap adds +0, which changes no sum) and divides by the
 * window's count, 0 for a window without input. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "pool_impl.h"

enum { VW = 16, MAX_K = 32, R = 4 /* output rows a block */ };

int snt_k_pool_plane_applies(const snt_k_win3 *g) {
  return g->in[0] == 1 && g->out[0] == 1 && g->k[0] == 1 && g->s[2] == 1 && g->dl[1] == 1 && g->dl[2] == 1 &&
         g->k[2] <= MAX_K && g->out[2] > 0;
}

/* snt_k_axis_window for dilation 1 without its divisions: taps t with o * s - pb + t in [0, in),
 * and (count_include_pad) with o * s + t in [0, in + pb + pe). */
static inline snt_k_window unit_window(const snt_k_win3 *g, int a, int64_t o) {
  int64_t start = o * g->s[a] - g->pb[a], lo = start < 0 ? -start : 0, hi = g->in[a] - start;
  int64_t padded = g->in[a] + g->pb[a] + g->pe[a] - o * g->s[a];
  hi = hi < g->k[a] ? hi : g->k[a];
  padded = padded < g->k[a] ? padded : g->k[a];
  return (snt_k_window){start, lo, hi > lo ? hi : lo, padded > 0 ? padded : 0};
}

/* Lanes [lo, hi) of a 16-lane mask, both clamped to [0, 16]. */
static inline __mmask16 lane_range(int64_t lo, int64_t hi) {
  lo = lo < 0 ? 0 : lo > VW ? VW : lo;
  hi = hi < 0 ? 0 : hi > VW ? VW : hi;
  if (hi <= lo) return 0;
  uint32_t bits = (hi == VW ? 0xffffu : (1u << hi) - 1) & ~((1u << lo) - 1);
  return (__mmask16)bits;
}

/* The vector of output columns [o2, o2 + 16): per tap t2 the lanes whose input column
 * o2 + l - pb + t2 is in the row and whose output exists; each lane's axis-2 count. */
typedef struct col_vec {
  int64_t o2;
  __mmask16 mk[MAX_K], store;
  double count[VW];
} col_vec;

static void col_vec_init(const snt_k_win3 *g, int64_t o2, int include_pad, col_vec *c) {
  int64_t lanes = g->out[2] - o2;
  c->o2 = o2;
  c->store = lane_range(0, lanes);
  for (int64_t t2 = 0; t2 < g->k[2]; t2++) {
    int64_t first = g->pb[2] - t2 - o2, end = g->in[2] + g->pb[2] - t2 - o2;
    c->mk[t2] = lane_range(first, end < lanes ? end : lanes);
  }
  for (int l = 0; l < VW; l++) {
    snt_k_window w = unit_window(g, 2, o2 + l < g->out[2] ? o2 + l : o2);
    c->count[l] = (double)(include_pad ? w.n_padded : w.hi - w.lo);
  }
}

/* A plane's padded copy: row i (0 <= i < in[1]) of the input at rows[(i + 1) * w + pb[2] ...],
 * row 0 all padding, stride w elements (floats for max, doubles for the average). */
typedef struct padded {
  void *rows;
  int64_t w;
} padded;

static int64_t plane_width(const snt_k_win3 *g) {
  int64_t reach = (g->out[2] + VW - 1) / VW * VW + g->k[2] - 1, all = g->pb[2] + g->in[2] + g->pe[2];
  return ((reach > all ? reach : all) + 7) / 8 * 8;
}

size_t snt_k_pool_plane_bytes(const snt_k_win3 *g) {
  return (size_t)((g->in[1] + 1) * plane_width(g)) * sizeof(double);
}

__attribute__((target("avx512f"))) static void pad_plane(const snt_k_win3 *g, int max, const float *xp, padded *b) {
  int64_t w = b->w, in2 = g->in[2], pb = g->pb[2];
  if (max) {
    float *r = b->rows;
    for (int64_t c = 0; c < (g->in[1] + 1) * w; c++) r[c] = -INFINITY; /* small: once per plane */
    for (int64_t i = 0; i < g->in[1]; i++) memcpy(r + (i + 1) * w + pb, xp + i * in2, (size_t)in2 * sizeof(float));
    return;
  }
  double *r = b->rows;
  for (int64_t c = 0; c < (g->in[1] + 1) * w; c++) r[c] = 0.0;
  for (int64_t i = 0; i < g->in[1]; i++) {
    double *d = r + (i + 1) * w + pb;
    const float *x = xp + i * in2;
    int64_t c = 0;
    for (; c + 8 <= in2; c += 8) _mm512_storeu_pd(d + c, _mm512_cvtps_pd(_mm256_loadu_ps(x + c)));
    for (; c < in2; c++) d[c] = (double)x[c];
  }
}

/* The padded row that tap row t1 of output row o1 reads (row 0, padding, when outside the
 * input or o1 is past the map), and whether it is real. */
static inline int64_t tap_row(const snt_k_win3 *g, int64_t o1, int64_t t1, int *real) {
  int64_t i = o1 * g->s[1] - g->pb[1] + t1;
  *real = o1 < g->out[1] && i >= 0 && i < g->in[1];
  return *real ? i + 1 : 0;
}

/* Output rows [q, q + R) (those below out[1]) of vector c, side by side. */
__attribute__((target("avx512f"))) static void max_block(const snt_k_win3 *g, const padded *b, int64_t q,
                                                         const col_vec *c, float *y) {
  const float *base = (const float *)b->rows + c->o2;
  __m512 m[R];
  __mmask16 taken[R];
  for (int r = 0; r < R; r++) m[r] = _mm512_set1_ps(-INFINITY), taken[r] = 0;
  for (int64_t t1 = 0; t1 < g->k[1]; t1++) {
    const float *p[R];
    __mmask16 rv[R];
    for (int r = 0; r < R; r++) {
      int real;
      p[r] = base + tap_row(g, q + r, t1, &real) * b->w;
      rv[r] = real ? (__mmask16)0xffff : 0;
    }
    for (int64_t t2 = 0; t2 < g->k[2]; t2++) {
#pragma GCC unroll 4
      for (int r = 0; r < R; r++) {
        __m512 v = _mm512_loadu_ps(p[r] + t2);
        __mmask16 mk = c->mk[t2] & rv[r];
        m[r] = _mm512_mask_mov_ps(_mm512_max_ps(v, m[r]), (__mmask16)(mk & ~taken[r]), v);
        taken[r] |= mk;
      }
    }
  }
  for (int r = 0; r < R && q + r < g->out[1]; r++) _mm512_mask_storeu_ps(y + (q + r) * g->out[2] + c->o2, c->store, m[r]);
}

__attribute__((target("avx512f"))) static void avg_block(const snt_k_win3 *g, const padded *b, int64_t q,
                                                         const col_vec *c, int include_pad, float *y) {
  const double *base = (const double *)b->rows + c->o2;
  __m512d s0[R], s1[R];
  for (int r = 0; r < R; r++) s0[r] = s1[r] = _mm512_setzero_pd();
  for (int64_t t1 = 0; t1 < g->k[1]; t1++) {
    const double *p[R];
    for (int r = 0; r < R; r++) {
      int real;
      p[r] = base + tap_row(g, q + r, t1, &real) * b->w;
    }
    for (int64_t t2 = 0; t2 < g->k[2]; t2++) {
#pragma GCC unroll 4
      for (int r = 0; r < R; r++) {
        s0[r] = _mm512_add_pd(s0[r], _mm512_loadu_pd(p[r] + t2));
        s1[r] = _mm512_add_pd(s1[r], _mm512_loadu_pd(p[r] + t2 + 8));
      }
    }
  }
  __m512d k0 = _mm512_loadu_pd(c->count), k1 = _mm512_loadu_pd(c->count + 8);
  for (int r = 0; r < R && q + r < g->out[1]; r++) {
    snt_k_window w1 = unit_window(g, 1, q + r);
    __m512d rows = _mm512_set1_pd((double)(include_pad ? w1.n_padded : w1.hi - w1.lo));
    __m512d c0 = _mm512_mul_pd(rows, k0), c1 = _mm512_mul_pd(rows, k1);
    __mmask8 nz0 = _mm512_cmp_pd_mask(c0, _mm512_setzero_pd(), _CMP_GT_OQ);
    __mmask8 nz1 = _mm512_cmp_pd_mask(c1, _mm512_setzero_pd(), _CMP_GT_OQ);
    /* a window without input is 0, as the per-window code gives */
    __m256 r0 = _mm512_cvtpd_ps(_mm512_maskz_div_pd(nz0, s0[r], c0));
    __m256 r1 = _mm512_cvtpd_ps(_mm512_maskz_div_pd(nz1, s1[r], c1));
    __m512 out = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(r0)), _mm256_castps_pd(r1), 1));
    _mm512_mask_storeu_ps(y + (q + r) * g->out[2] + c->o2, c->store, out);
  }
}

void snt_k_pool_plane_avx512(const snt_k_win3 *g, int max, int include_pad, const float *x, float *y, int64_t p0,
                             int64_t p1, void *buf) {
  col_vec c;
  padded b = {buf, plane_width(g)};
  for (int64_t p = p0; p < p1; p++) {
    pad_plane(g, max, x + p * g->in_size, &b);
    float *yp = y + p * g->out_size;
    for (int64_t o2 = 0; o2 < g->out[2]; o2 += VW) {
      col_vec_init(g, o2, include_pad, &c);
      for (int64_t q = 0; q < g->out[1]; q += R) {
        if (max) max_block(g, &b, q, &c, yp);
        else avg_block(g, &b, q, &c, include_pad, yp);
      }
    }
  }
}
