/* The interior of pooling rows (pool_impl.h), 16 outputs a step on AVX-512, 8 on AVX2, one in C.
 * Stride 2 loads the floats a tap spans (masked, never past them) and keeps the even ones. Each
 * output takes its taps in the per-window code's order (max: v > m ? v : m is maxps(v, m)), and
 * averages widen to double before adding, so every path gives the per-window code's bits. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "pool_impl.h"

/* Where tap row (t0, t1) of output 0's window starts (its tap kw = 0, maybe before the row). */
static inline const float *tap_row(const snt_k_pool_row *r, int64_t t0, int64_t t1) {
  const snt_k_win3 *g = r->g;
  int64_t i0 = r->w0.start + t0 * g->dl[0], i1 = r->w1.start + t1 * g->dl[1];
  return r->xp + (i0 * g->in[1] + i1) * g->in[2] - g->pb[2];
}

/* Whether count is a power of two (1 / count exact, so x * (1 / count) == x / count). */
static inline int pow2_count(double count) {
  int e;
  return count > 0 && frexp(count, &e) == 0.5;
}

/* The tap rows of the block at output o after the first (t0 = lo0, t1 = lo1), which the caller
 * has taken: BODY runs with `row` at each. A macro, so that each ISA's loads stay inline. */
#define FOR_TAP_ROWS(r, row, BODY)                                                        \
  for (int64_t t0 = (r)->w0.lo; t0 < (r)->w0.hi; t0++)                                    \
    for (int64_t t1 = (r)->w1.lo; t1 < (r)->w1.hi; t1++) {                                \
      if (t0 == (r)->w0.lo && t1 == (r)->w1.lo) continue; /* the caller's first row */    \
      const float *row = tap_row(r, t0, t1) + o * s;                                      \
      BODY                                                                                \
    }

/* ---- AVX-512 ---- */

/* Load masks of a block of n outputs: stride 1 reads n floats; stride 2 the 2n - 1 one tap spans
 * (lo, hi), or the 2n a pair of taps kw, kw + 1 spans (lo2, hi2). */
typedef struct mask16 {
  __mmask16 one, lo, hi, lo2, hi2;
} mask16;

static inline __mmask16 first_bits(int64_t n) {
  return (__mmask16)(n >= 16 ? 0xffffu : n <= 0 ? 0u : (1u << n) - 1);
}

static inline mask16 mask16_for(int64_t n) {
  mask16 m = {first_bits(n), first_bits(2 * n - 1), first_bits(2 * n - 17), first_bits(2 * n), first_bits(2 * n - 16)};
  return m;
}

__attribute__((target("avx512f"))) static inline __m512 load16(const float *p, int64_t s, mask16 m) {
  if (s == 1) return _mm512_maskz_loadu_ps(m.one, p);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m.lo, p), even, _mm512_maskz_loadu_ps(m.hi, p + 16));
}

/* Stride 2: the 16 outputs' values at tap p (*e) and at tap p + 1 (*o), from one masked load of
 * the floats the two taps span, split into even and odd ones. */
__attribute__((target("avx512f"))) static inline void tap_pair16(const float *p, mask16 mk, __m512 *e, __m512 *o) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __m512 a = _mm512_maskz_loadu_ps(mk.lo2, p), b = _mm512_maskz_loadu_ps(mk.hi2, p + 16);
  *e = _mm512_permutex2var_ps(a, even, b);
  *o = _mm512_permutex2var_ps(a, odd, b);
}

/* The max of m and the k taps of one row from p on, in order (first: m starts at the first tap).
 * Stride 2 loads the floats of two taps once and takes the even and the odd ones. */
__attribute__((target("avx512f"))) static inline __m512 row_max16(const float *p, int64_t s, int64_t k, mask16 mk,
                                                                      __m512 m, int first) {
  int64_t kw = 0;
  if (s == 2)
    for (__m512 e, o; kw + 1 < k; kw += 2) {
      tap_pair16(p + kw, mk, &e, &o);
      m = first && kw == 0 ? e : _mm512_max_ps(e, m); /* v > m ? v : m */
      m = _mm512_max_ps(o, m);
    }
  for (; kw < k; kw++) {
    __m512 v = load16(p + kw, s, mk);
    m = first && kw == 0 ? v : _mm512_max_ps(v, m);
  }
  return m;
}

__attribute__((target("avx512f"))) static inline void max16(const snt_k_pool_row *r, int64_t o, int64_t s, int64_t k,
                                                                mask16 mk) {
  __m512 m = row_max16(tap_row(r, r->w0.lo, r->w1.lo) + o * s, s, k, mk, _mm512_setzero_ps(), 1);
  FOR_TAP_ROWS(r, row, { m = row_max16(row, s, k, mk, m, 0); })
  _mm512_mask_storeu_ps(r->y + o, mk.one, m);
}

/* lo, hi (outputs 0-7, 8-15) += v widened to double. */
__attribute__((target("avx512f"))) static inline void add_pd16(__m512 v, __m512d *lo, __m512d *hi) {
  *lo = _mm512_add_pd(*lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
  *hi = _mm512_add_pd(*hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

/* Adds the k taps of one row from p on, in order; stride 2 splits the floats of two taps as
 * row_max16 does. */
__attribute__((target("avx512f"))) static inline void row_sum16(const float *p, int64_t s, int64_t k, mask16 mk,
                                                                    __m512d *lo, __m512d *hi) {
  int64_t kw = 0;
  if (s == 2)
    for (__m512 e, o; kw + 1 < k; kw += 2) {
      tap_pair16(p + kw, mk, &e, &o);
      add_pd16(e, lo, hi);
      add_pd16(o, lo, hi);
    }
  for (; kw < k; kw++) add_pd16(load16(p + kw, s, mk), lo, hi);
}

/* The means of the sums lo, hi as floats: divided by count, or multiplied by 1 / count when that
 * is exact (a power of two: the same bits; a division per lane made a 2x2 average pool 3x as
 * slow as the max pool). */
__attribute__((target("avx512f"))) static inline __m512 mean16(__m512d lo, __m512d hi, double count) {
  if (pow2_count(count)) {
    lo = _mm512_mul_pd(lo, _mm512_set1_pd(1.0 / count));
    hi = _mm512_mul_pd(hi, _mm512_set1_pd(1.0 / count));
  } else {
    lo = _mm512_div_pd(lo, _mm512_set1_pd(count));
    hi = _mm512_div_pd(hi, _mm512_set1_pd(count));
  }
  __m256 l = _mm512_cvtpd_ps(lo), h = _mm512_cvtpd_ps(hi);
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(l)), _mm256_castps_pd(h), 1));
}

__attribute__((target("avx512f"))) static inline void avg16(const snt_k_pool_row *r, int64_t o, int64_t s, int64_t k,
                                                                mask16 mk) {
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  for (int64_t t0 = r->w0.lo; t0 < r->w0.hi; t0++)
    for (int64_t t1 = r->w1.lo; t1 < r->w1.hi; t1++) row_sum16(tap_row(r, t0, t1) + o * s, s, k, mk, &lo, &hi);
  _mm512_mask_storeu_ps(r->y + o, mk.one, mean16(lo, hi, r->count));
}

/* Full blocks with constant masks, then the tail; S and K are constants in each copy (K 0: the
 * row's own tap count). */
#define SWEEP(r, W, S, K, BLOCK, MASKS)                                           \
  do {                                                                            \
    int64_t o = (r)->a, k_ = (K) ? (K) : (r)->g->k[2];                            \
    for (const __typeof__(MASKS(W)) full = MASKS(W); o + (W) <= (r)->b; o += (W)) \
      BLOCK(r, o, S, (K) ? (K) : k_, full);                                       \
    if (o < (r)->b) BLOCK(r, o, S, k_, MASKS((r)->b - o));                        \
  } while (0)

/* Copies for the common pools (2x2 and 3x3 stride 2, 1x1 stride 2, 3x3 stride 1). */
#define SWEEP_K(r, W, S, BLOCK, MASKS)                               \
  do {                                                               \
    switch ((r)->g->k[2]) {                                          \
      case 1: SWEEP(r, W, S, 1, BLOCK, MASKS); break;                \
      case 2: SWEEP(r, W, S, 2, BLOCK, MASKS); break;                \
      case 3: SWEEP(r, W, S, 3, BLOCK, MASKS); break;                \
      default: SWEEP(r, W, S, 0, BLOCK, MASKS); break;               \
    }                                                                \
  } while (0)

__attribute__((target("avx512f"))) static inline void row_avx512(const snt_k_pool_row *r) {
  int64_t s = r->g->s[2];
  if (r->max && s == 1) SWEEP_K(r, 16, 1, max16, mask16_for);
  else if (r->max) SWEEP_K(r, 16, 2, max16, mask16_for);
  else if (s == 1) SWEEP_K(r, 16, 1, avg16, mask16_for);
  else SWEEP_K(r, 16, 2, avg16, mask16_for);
}

/* ---- AVX2 ---- */

typedef struct mask8 {
  __m256i one, lo, hi;
} mask8;

__attribute__((target("avx2"))) static inline __m256i lanes_below(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__attribute__((target("avx2"))) static inline mask8 mask8_for(int64_t n) {
  mask8 m = {lanes_below(n), lanes_below(2 * n - 1), lanes_below(2 * n - 1 - 8)};
  return m;
}

__attribute__((target("avx2"))) static inline __m256 load8(const float *p, int64_t s, mask8 m) {
  if (s == 1) return _mm256_maskload_ps(p, m.one);
  __m256 a = _mm256_maskload_ps(p, m.lo), b = _mm256_maskload_ps(p + 8, m.hi);
  /* a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pairs in order 0 2 1 3. */
  __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}

__attribute__((target("avx2"))) static inline void max8(const snt_k_pool_row *r, int64_t o, int64_t s, int64_t k,
                                                             mask8 mk) {
  const float *first = tap_row(r, r->w0.lo, r->w1.lo) + o * s;
  __m256 m = load8(first, s, mk);
  for (int64_t kw = 1; kw < k; kw++) m = _mm256_max_ps(load8(first + kw, s, mk), m);
  FOR_TAP_ROWS(r, row, {
    for (int64_t kw = 0; kw < k; kw++) m = _mm256_max_ps(load8(row + kw, s, mk), m);
  })
  _mm256_maskstore_ps(r->y + o, mk.one, m);
}

__attribute__((target("avx2"))) static inline void avg8(const snt_k_pool_row *r, int64_t o, int64_t s, int64_t k,
                                                             mask8 mk) {
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  for (int64_t t0 = r->w0.lo; t0 < r->w0.hi; t0++)
    for (int64_t t1 = r->w1.lo; t1 < r->w1.hi; t1++) {
      const float *row = tap_row(r, t0, t1) + o * s;
      for (int64_t kw = 0; kw < k; kw++) {
        __m256 v = load8(row + kw, s, mk);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
      }
    }
  if (pow2_count(r->count)) {
    __m256d inv = _mm256_set1_pd(1.0 / r->count);
    lo = _mm256_mul_pd(lo, inv), hi = _mm256_mul_pd(hi, inv);
  } else {
    __m256d c = _mm256_set1_pd(r->count);
    lo = _mm256_div_pd(lo, c), hi = _mm256_div_pd(hi, c);
  }
  __m256 m = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
  _mm256_maskstore_ps(r->y + o, mk.one, m);
}

__attribute__((target("avx2"))) static inline void row_avx2(const snt_k_pool_row *r) {
  int64_t s = r->g->s[2];
  if (r->max && s == 1) SWEEP_K(r, 8, 1, max8, mask8_for);
  else if (r->max) SWEEP_K(r, 8, 2, max8, mask8_for);
  else if (s == 1) SWEEP_K(r, 8, 1, avg8, mask8_for);
  else SWEEP_K(r, 8, 2, avg8, mask8_for);
}

/* ---- portable C (no AVX2, or a stride above 2 or a dilation along the row): output by output ---- */

static void row_c(const snt_k_pool_row *r) {
  const snt_k_win3 *g = r->g;
  int64_t s = g->s[2], k = g->k[2], dl = g->dl[2], step0 = g->dl[0] * g->in[1] * g->in[2], step1 = g->dl[1] * g->in[2];
  int64_t n0 = r->w0.hi - r->w0.lo, n1 = r->w1.hi - r->w1.lo;
  const float *x0 = tap_row(r, r->w0.lo, r->w1.lo);
  for (int64_t o = r->a; o < r->b; o++) {
    const float *p0 = x0 + o * s;
    if (r->max) {
      float m = p0[0]; /* the first tap again below leaves it: nothing is > itself */
      for (int64_t t0 = 0; t0 < n0; t0++)
        for (int64_t t1 = 0; t1 < n1; t1++)
          for (int64_t kw = 0; kw < k; kw++) {
            float v = p0[t0 * step0 + t1 * step1 + kw * dl];
            m = v > m ? v : m;
          }
      r->y[o] = m;
    } else {
      double sum = 0.0;
      for (int64_t t0 = 0; t0 < n0; t0++)
        for (int64_t t1 = 0; t1 < n1; t1++)
          for (int64_t kw = 0; kw < k; kw++) sum += p0[t0 * step0 + t1 * step1 + kw * dl];
      r->y[o] = (float)(sum / r->count);
    }
  }
}

/* ---- the common 2-D pools (KxK, K <= 3, stride 1 or 2 along the row): every tap a constant
 * offset from the window's first, masks made once per run ---- */

/* Whether r is such a run: one tap on axis 0, all K on axis 1, K on the last axis (so every
 * average divides by the same count). */
static int square_run(const snt_k_pool_row *r) {
  const snt_k_win3 *g = r->g;
  return r->w0.hi - r->w0.lo == 1 && r->w1.lo == 0 && r->w1.hi == g->k[1] && g->k[1] == g->k[2] &&
         g->k[2] <= 3 && g->s[2] <= 2 && g->dl[2] == 1;
}

/* Asks for the K input rows of the next output row, columns [c0, c1), ahead of use: a strided
 * pool skips rows, which the hardware prefetcher does not follow. (A prefetch past the input
 * never faults; the addresses are integers, no pointer is made.) */
static inline void prefetch_next(const float *xr, int64_t step, int64_t tap, int64_t k, int64_t c0, int64_t c1) {
  for (int64_t t = 0; t < k; t++)
    for (int64_t c = c0; c < c1; c += 16)
      _mm_prefetch((const char *)((uintptr_t)xr + (uintptr_t)(step + t * tap + c) * sizeof(float)), _MM_HINT_T0);
}

#define SQUARE_RUN(r, W, S, K, MASK, BLOCK)                                                       \
  do {                                                                                           \
    const snt_k_win3 *g = (r)->g;                                                                \
    const float *x0 = tap_row(r, (r)->w0.lo, 0);                                                \
    int64_t step = g->s[1] * g->in[2], tap = g->dl[1] * g->in[2];                                \
    const __typeof__(MASK(W)) full = MASK(W), tail = MASK(((r)->b - (r)->a) % (W));              \
    for (int64_t pl = 0; pl < (r)->planes; pl++)                                                 \
    for (int64_t i = 0; i < (r)->rows; i++) {                                                    \
      const float *xr = x0 + pl * g->in_size + i * step;                                         \
      float *yr = (r)->y + pl * g->out_size + i * g->out[2];                                     \
      prefetch_next(xr, step, tap, K, (r)->a * (S), (r)->b * (S));                               \
      int64_t o = (r)->a;                                                                        \
      for (; o + (W) <= (r)->b; o += (W)) BLOCK(xr + o * (S), tap, S, K, full, yr + o, r);        \
      if (o < (r)->b && (r)->b - (r)->a >= (W)) /* overlap the last block: no masks */            \
        BLOCK(xr + ((r)->b - (W)) * (S), tap, S, K, full, yr + (r)->b - (W), r);                  \
      else if (o < (r)->b)                                                                       \
        BLOCK(xr + o * (S), tap, S, K, tail, yr + o, r);                                         \
    }                                                                                            \
  } while (0)

#define SQUARE_CASES(r, W, MASK, BLOCK)                       \
  do {                                                        \
    switch ((r)->g->s[2] * 4 + (r)->g->k[2]) {                \
      case 5: SQUARE_RUN(r, W, 1, 1, MASK, BLOCK); break;     \
      case 6: SQUARE_RUN(r, W, 1, 2, MASK, BLOCK); break;     \
      case 7: SQUARE_RUN(r, W, 1, 3, MASK, BLOCK); break;     \
      case 9: SQUARE_RUN(r, W, 2, 1, MASK, BLOCK); break;     \
      case 10: SQUARE_RUN(r, W, 2, 2, MASK, BLOCK); break;    \
      default: SQUARE_RUN(r, W, 2, 3, MASK, BLOCK); break;    \
    }                                                         \
  } while (0)

__attribute__((target("avx512f"))) static inline void square16(const float *p, int64_t tap, int64_t s, int64_t k,
                                                                   mask16 mk, float *y, const snt_k_pool_row *r) {
  (void)r;
  __m512 m = row_max16(p, s, k, mk, _mm512_setzero_ps(), 1);
  for (int64_t t = 1; t < k; t++) m = row_max16(p + t * tap, s, k, mk, m, 0);
  _mm512_mask_storeu_ps(y, mk.one, m);
}

__attribute__((target("avx512f"))) static inline void square_avg16(const float *p, int64_t tap, int64_t s, int64_t k,
                                                                       mask16 mk, float *y, const snt_k_pool_row *r) {
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  for (int64_t t = 0; t < k; t++) row_sum16(p + t * tap, s, k, mk, &lo, &hi);
  _mm512_mask_storeu_ps(y, mk.one, mean16(lo, hi, r->count));
}

__attribute__((target("avx2"))) static inline void square8(const float *p, int64_t tap, int64_t s, int64_t k,
                                                               mask8 mk, float *y, const snt_k_pool_row *r) {
  (void)r;
  __m256 m = load8(p, s, mk);
  for (int64_t kw = 1; kw < k; kw++) m = _mm256_max_ps(load8(p + kw, s, mk), m);
  for (int64_t t = 1; t < k; t++)
    for (int64_t kw = 0; kw < k; kw++) m = _mm256_max_ps(load8(p + t * tap + kw, s, mk), m);
  _mm256_maskstore_ps(y, mk.one, m);
}

/* ---- a run of rows ---- */

/* Row i of plane pl of a run: its axis-1 window moved by i strides, its output i rows on. */
static inline snt_k_pool_row nth_row(const snt_k_pool_row *r, int64_t pl, int64_t i) {
  snt_k_pool_row n = *r;
  n.xp += pl * r->g->in_size;
  n.w1.start += i * r->g->s[1];
  n.y += pl * r->g->out_size + i * r->g->out[2];
  return n;
}

__attribute__((target("avx512f"))) void snt_k_pool_row_avx512(const snt_k_pool_row *r) {
  if (square_run(r) && r->max) {
    SQUARE_CASES(r, 16, mask16_for, square16);
    return;
  }
  if (square_run(r)) {
    SQUARE_CASES(r, 16, mask16_for, square_avg16);
    return;
  }
  for (int64_t pi = 0, pl = 0, i = 0; pi < r->planes * r->rows; pi++, i = i + 1 == r->rows ? (pl++, 0) : i + 1) {
    snt_k_pool_row n = nth_row(r, pl, i);
    row_avx512(&n);
  }
}

__attribute__((target("avx2"))) void snt_k_pool_row_avx2(const snt_k_pool_row *r) {
  if (square_run(r) && r->max) {
    SQUARE_CASES(r, 8, mask8_for, square8);
    return;
  }
  for (int64_t pi = 0, pl = 0, i = 0; pi < r->planes * r->rows; pi++, i = i + 1 == r->rows ? (pl++, 0) : i + 1) {
    snt_k_pool_row n = nth_row(r, pl, i);
    row_avx2(&n);
  }
}

void snt_k_pool_row_c(const snt_k_pool_row *r) {
  for (int64_t pi = 0, pl = 0, i = 0; pi < r->planes * r->rows; pi++, i = i + 1 == r->rows ? (pl++, 0) : i + 1) {
    snt_k_pool_row n = nth_row(r, pl, i);
    row_c(&n);
  }
}
