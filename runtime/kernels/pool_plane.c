/* 2-D pooling with stride 1 and dilation 1 on both axes, a whole plane per step (AVX-512). The
 * plane is copied into a padded buffer of W = pb + in + pe columns (the average's in double with
 * padding 0, the max's with padding -inf); output (o1, o2) computed at "wide" position
 * f = o1 * W + o2 then reads tap (t1, t2) at f + t1 * W + t2, a fixed offset, so the plane is one
 * 1-D stencil: 16 outputs a vector whatever the map's width (a 17-wide map wastes 2 of 19 lanes,
 * not 15 of 32), border outputs too, four vectors side by side for independent chains. The
 * columns past out[2] of each wide row are computed and dropped.
 * Inception's 3x3 stride-1 pools spent 1.8 us a 35x35 plane in pool.c's rows (the border outputs
 * window by window) against 0.24 us in ONNX Runtime.
 * The bits are pool.c's per-window code's. Average: the taps in row-major order in double from
 * 0 (a padding tap adds +0, which changes no sum), divided by the window's count, 0 for a window
 * without input. Max: the first real tap as it is, a later one only when strictly greater; from
 * -inf with maxps(v, m) that is the same value unless the first real tap is NaN, so a vector that
 * met a NaN has its outputs redone window by window. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "pool_impl.h"

enum { VW = 16, U = 4 /* vectors side by side */, MAX_TAPS = 1024 };
/* Padded planes up to 4M elements (12 MB of buffers a thread): larger ones keep pool.c's rows. */
#define MAX_PLANE ((int64_t)1 << 22)

int snt_k_pool_plane_applies(const snt_k_win3 *g) {
  if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->s[1] != 1 || g->s[2] != 1 || g->dl[1] != 1 ||
      g->dl[2] != 1 || g->k[1] > MAX_TAPS || g->k[2] > MAX_TAPS || g->k[1] * g->k[2] > MAX_TAPS || g->out[1] <= 0 ||
      g->out[2] <= 0)
    return 0;
  /* Sizes from a model file: each sum and the product checked before it is trusted. */
  int64_t h, w, cells;
  if (__builtin_add_overflow(g->pb[1], g->pe[1], &h) || __builtin_add_overflow(h, g->in[1], &h) ||
      __builtin_add_overflow(g->pb[2], g->pe[2], &w) || __builtin_add_overflow(w, g->in[2], &w) || h >= MAX_PLANE ||
      w >= MAX_PLANE || __builtin_mul_overflow(h + 1, w + U * VW, &cells) || cells > MAX_PLANE)
    return 0;
  return g->out[1] + g->k[1] - 1 <= h && g->out[2] + g->k[2] - 1 <= w;
}

/* Padded width and rows; the wide outputs, rounded up to whole groups of U vectors. */
static int64_t width(const snt_k_win3 *g) { return g->pb[2] + g->in[2] + g->pe[2]; }
static int64_t height(const snt_k_win3 *g) { return g->pb[1] + g->in[1] + g->pe[1]; }
static int64_t wide_outputs(const snt_k_win3 *g) {
  int64_t n = g->out[1] * width(g);
  return (n + U * VW - 1) / (U * VW) * (U * VW);
}

/* Per thread: the padded plane (reads reach wide_outputs - 1 + the last tap's offset) and the
 * wide outputs; shared: the average's divisors, one per wide output. */
static int64_t plane_elems(const snt_k_win3 *g) {
  int64_t reach = wide_outputs(g) + (g->k[1] - 1) * width(g) + g->k[2] - 1, all = height(g) * width(g);
  return (reach > all ? reach : all) + 8;
}
size_t snt_k_pool_plane_bytes(const snt_k_win3 *g) {
  return (size_t)(plane_elems(g) + wide_outputs(g)) * sizeof(double) + 64;
}
size_t snt_k_pool_plane_count_bytes(const snt_k_win3 *g) { return (size_t)wide_outputs(g) * sizeof(double); }

/* The divisor of each wide output (snt_k_window_count; a dropped column or row: 1): row 0 first
 * holds the columns' factors, then the rows are filled from the last, row 0 itself last. */
void snt_k_pool_plane_counts(const snt_k_win3 *g, int include_pad, double *count) {
  int64_t w = width(g), n = wide_outputs(g);
  snt_k_window none = {0, 0, 1, 1};
  for (int64_t o2 = 0; o2 < w; o2++) {
    snt_k_window c[3] = {none, none, o2 < g->out[2] ? snt_k_axis_window(g, 2, o2) : none};
    count[o2] = (double)snt_k_window_count(c, include_pad);
  }
  for (int64_t o1 = (n - 1) / w; o1 >= 0; o1--) {
    snt_k_window r[3] = {none, o1 < g->out[1] ? snt_k_axis_window(g, 1, o1) : none, none};
    double rows = (double)snt_k_window_count(r, include_pad);
    for (int64_t o2 = w - 1; o2 >= 0; o2--)
      if (o1 * w + o2 < n) count[o1 * w + o2] = o1 < g->out[1] && o2 < g->out[2] ? rows * count[o2] : 1.0;
  }
}

/* The padding of the buffer, once a call: every plane writes only the input's place. */
static void fill_padding(const snt_k_win3 *g, int max, void *buf) {
  int64_t n = plane_elems(g);
  if (max) {
    float *r = buf;
    for (int64_t c = 0; c < n; c++) r[c] = -INFINITY;
  } else {
    memset(buf, 0, (size_t)n * sizeof(double));
  }
}

__attribute__((target("avx512f"))) static void pad_plane(const snt_k_win3 *g, int max, const float *xp, void *buf) {
  int64_t w = width(g), in2 = g->in[2];
  for (int64_t i = 0; i < g->in[1]; i++) {
    const float *x = xp + i * in2;
    int64_t at = (i + g->pb[1]) * w + g->pb[2], c = 0;
    if (max) {
      float *d = (float *)buf + at;
      for (; c + VW <= in2; c += VW) _mm512_storeu_ps(d + c, _mm512_loadu_ps(x + c));
      __mmask16 k = (__mmask16)((1u << (in2 - c)) - 1);
      _mm512_mask_storeu_ps(d + c, k, _mm512_maskz_loadu_ps(k, x + c));
    } else {
      double *d = (double *)buf + at;
      for (; c + 8 <= in2; c += 8) _mm512_storeu_pd(d + c, _mm512_cvtps_pd(_mm256_loadu_ps(x + c)));
      __mmask8 k = (__mmask8)((1u << (in2 - c)) - 1);
      _mm512_mask_storeu_pd(d + c, k, _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(k, x + c))));
    }
  }
}

/* out[2] floats of each wide row to y's rows. */
__attribute__((target("avx512f"))) static void store_rows(const snt_k_win3 *g, const float *wide, float *y) {
  int64_t w = width(g), n = g->out[2];
  for (int64_t o1 = 0; o1 < g->out[1]; o1++) {
    const float *s = wide + o1 * w;
    float *d = y + o1 * n;
    int64_t c = 0;
    for (; c + VW <= n; c += VW) _mm512_storeu_ps(d + c, _mm512_loadu_ps(s + c));
    if (c < n) {
      __mmask16 k = (__mmask16)((1u << (n - c)) - 1);
      _mm512_mask_storeu_ps(d + c, k, _mm512_maskz_loadu_ps(k, s + c));
    }
  }
}

/* Wide outputs [f, f + 64) of the average. */
__attribute__((target("avx512f"))) static inline void avg_group(const double *b, const int32_t *off, int64_t taps,
                                                                const double *count, int64_t f, float *out) {
  __m512d s[2 * U];
  for (int u = 0; u < 2 * U; u++) s[u] = _mm512_setzero_pd();
  const double *p = b + f;
  for (int64_t t = 0; t < taps; t++) {
    const double *q = p + off[t];
#pragma GCC unroll 8
    for (int u = 0; u < 2 * U; u++) s[u] = _mm512_add_pd(s[u], _mm512_loadu_pd(q + 8 * u));
  }
#pragma GCC unroll 8
  for (int u = 0; u < 2 * U; u++) {
    __m512d c = _mm512_loadu_pd(count + f + 8 * u);
    __mmask8 nz = _mm512_cmp_pd_mask(c, _mm512_setzero_pd(), _CMP_GT_OQ); /* no input: 0 */
    _mm256_storeu_ps(out + f + 8 * u, _mm512_cvtpd_ps(_mm512_maskz_div_pd(nz, s[u], c)));
  }
}

/* Wide outputs [f, f + 64) of the max; the lanes (bit u * 16 + l) that met a NaN. */
__attribute__((target("avx512f"))) static inline uint64_t max_group(const float *b, const int32_t *off, int64_t taps,
                                                                    int64_t f, float *out) {
  __m512 m[U];
  __mmask16 nan[U];
  for (int u = 0; u < U; u++) m[u] = _mm512_set1_ps(-INFINITY), nan[u] = 0;
  const float *p = b + f;
  for (int64_t t = 0; t < taps; t++) {
    const float *q = p + off[t];
#pragma GCC unroll 4
    for (int u = 0; u < U; u++) {
      __m512 v = _mm512_loadu_ps(q + VW * u);
      nan[u] |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      m[u] = _mm512_max_ps(v, m[u]);
    }
  }
  uint64_t any = 0;
  for (int u = 0; u < U; u++) {
    _mm512_storeu_ps(out + f + VW * u, m[u]);
    any |= (uint64_t)nan[u] << (VW * u);
  }
  return any;
}

/* Output (o1, o2) of plane xp window by window: the first real tap, then strictly greater ones. */
static float max_one(const snt_k_win3 *g, const float *xp, int64_t o1, int64_t o2) {
  snt_k_window w[3] = {{0, 0, 1, 1}, snt_k_axis_window(g, 1, o1), snt_k_axis_window(g, 2, o2)};
  int64_t at;
  return snt_k_window_max(g, xp, w, &at);
}

void snt_k_pool_plane_avx512(const snt_k_win3 *g, int max, const double *count, const float *x, float *y, int64_t p0,
                             int64_t p1, void *buf) {
  int64_t w = width(g), n = wide_outputs(g), taps = g->k[1] * g->k[2];
  int32_t off[MAX_TAPS];
  for (int64_t t = 0; t < taps; t++) off[t] = (int32_t)(t / g->k[2] * w + t % g->k[2]);
  double *padded = buf;
  float *wide = (float *)(padded + plane_elems(g));
  if (p0 < p1) fill_padding(g, max, padded);
  for (int64_t p = p0; p < p1; p++) {
    const float *xp = x + p * g->in_size;
    float *yp = y + p * g->out_size;
    pad_plane(g, max, xp, padded);
    for (int64_t f = 0; f < n; f += U * VW) {
      if (!max) {
        avg_group(padded, off, taps, count, f, wide);
        continue;
      }
      uint64_t nan = max_group((const float *)padded, off, taps, f, wide);
      for (; nan; nan &= nan - 1) { /* a NaN first real tap keeps its NaN: redo the lane */
        int64_t at = f + __builtin_ctzll(nan), o1 = at / w, o2 = at % w;
        if (o1 < g->out[1] && o2 < g->out[2]) wide[at] = max_one(g, xp, o1, o2);
      }
    }
    store_rows(g, wide, yp);
  }
}

/* ---- a 1x1 window: a strided copy (ResNet-V2's and ResNet-D's stride-2 shortcut pools) ------- */

int snt_k_pool_subsample_applies(const snt_k_win3 *g) {
  int64_t last;
  for (int a = 0; a < 3; a++)
    if (g->k[a] != 1 || g->pb[a] || g->pe[a] || g->out[a] <= 0 || __builtin_mul_overflow(g->out[a] - 1, g->s[a], &last) ||
        last >= g->in[a])
      return 0;
  return 1;
}

/* One output row from the input row r of `room` floats (stride s along it); avg adds +0 as the
 * per-window sum does (from 0, so -0 becomes +0). */
__attribute__((target("avx512f"))) static void subsample_row(const float *r, int64_t room, int64_t s, int64_t n, int avg,
                                                             float *y) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512 zero = _mm512_setzero_ps();
  int64_t o = 0;
  if (s == 1 || s == 2) {
    for (; o + VW <= n && (o + VW) * s <= room; o += VW) {
      __m512 v = s == 1 ? _mm512_loadu_ps(r + o)
                        : _mm512_permutex2var_ps(_mm512_loadu_ps(r + 2 * o), even, _mm512_loadu_ps(r + 2 * o + VW));
      _mm512_storeu_ps(y + o, avg ? _mm512_add_ps(v, zero) : v);
    }
  }
  for (; o < n; o++) y[o] = avg ? r[o * s] + 0.0f : r[o * s];
}

void snt_k_pool_subsample_avx512(const snt_k_win3 *g, int max, const float *x, float *y, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; p++)
    for (int64_t o0 = 0; o0 < g->out[0]; o0++)
      for (int64_t o1 = 0; o1 < g->out[1]; o1++) {
        const float *r = x + p * g->in_size + (o0 * g->s[0] * g->in[1] + o1 * g->s[1]) * g->in[2];
        subsample_row(r, g->in[2], g->s[2], g->out[2], !max, y + p * g->out_size + (o0 * g->out[1] + o1) * g->out[2]);
      }
}
