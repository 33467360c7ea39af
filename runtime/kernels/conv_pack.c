/* Implicit im2col (see conv_impl.h): each B strip is gathered straight from the image, one
 * output-row run at a time, so no im2col matrix of the whole image is ever written. The run
 * copies are written three times: AVX-512 (masked loads stand in for the padding, stride 2 is
 * a two-register permute, larger strides a gather), AVX2 (the same with 8 lanes), portable C. */
#include <immintrin.h>
#include <string.h>

#include "conv_impl.h"

/* Columns of one strip handled per pass: bounds the runs array whatever the strip width. */
enum { PIECE_COLS = 64 };

/* A run of columns along one output row: output position (od, oh, ow), len columns, written
 * at column `at` of the strip. */
typedef struct run {
  int64_t od, oh, ow, len, at;
} run;

/* Splits columns [j, j + len) (len <= PIECE_COLS) into runs along output rows. */
static int split_runs(const snt_k_win3 *w, int64_t j, int64_t len, int64_t at, run *r) {
  int64_t ow = j % w->out[2], rest = j / w->out[2];
  int64_t oh = rest % w->out[1], od = rest / w->out[1];
  int n = 0;
  while (len > 0) {
    int64_t l = w->out[2] - ow < len ? w->out[2] - ow : len;
    r[n++] = (run){od, oh, ow, l, at};
    at += l;
    len -= l;
    ow = 0;
    if (++oh == w->out[1]) oh = 0, od++;
  }
  return n;
}

/* dst[i] = xr[start + i * step] for i < len, 0 where that leaves [0, limit) or xr is NULL
 * (a padding row). Stride 1 is a contiguous copy. */
static inline void run_c(float *restrict dst, const float *restrict xr, int64_t start, int64_t step, int64_t len,
                          int64_t limit) {
  int64_t lo = 0, hi = 0;
  if (xr && step == 1) {
    lo = start < 0 ? (-start < len ? -start : len) : 0;
    hi = limit - start < len ? limit - start : len;
    if (hi < lo) hi = lo;
    for (int64_t i = lo; i < hi; i++) dst[i] = xr[start + i];
  } else if (xr) {
    snt_k_valid_range(start, step, len, limit, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) dst[i] = xr[start + i * step];
  }
  for (int64_t i = 0; i < lo; i++) dst[i] = 0.0f;
  for (int64_t i = hi; i < len; i++) dst[i] = 0.0f;
}

/* Lanes l in [lo, hi) of 16 (clipped). */
static inline __mmask16 lanes16(int64_t lo, int64_t hi) {
  if (lo < 0) lo = 0;
  if (hi > 16) hi = 16;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* run_c with 16-lane masked loads: lanes whose input column leaves [0, limit) load zero. */
__attribute__((target("avx512f"))) static inline void run_avx512(float *dst, const float *xr, int64_t start,
                                                                   int64_t step, int64_t len, int64_t limit) {
  for (int64_t off = 0; off < len; off += 16) {
    __mmask16 out = lanes16(0, len - off);
    int64_t s = start + off * step; /* input column of lane 0 */
    __m512 v = _mm512_setzero_ps();
    if (!xr) {
    } else if (step == 1) {
      v = _mm512_maskz_loadu_ps(lanes16(-s, limit - s) & out, xr + s);
    } else if (step == 2) {
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      int64_t n = 2 * (len - off) - 1; /* source columns the lanes read: [s, s + n) */
      __m512 a = _mm512_maskz_loadu_ps(lanes16(-s, limit - s) & lanes16(0, n), xr + s);
      __m512 b = _mm512_maskz_loadu_ps(lanes16(-s - 16, limit - s - 16) & lanes16(0, n - 16), xr + s + 16);
      v = _mm512_permutex2var_ps(a, even, b);
    } else {
      int64_t lo, hi;
      snt_k_valid_range(s, step, len - off < 16 ? len - off : 16, limit, &lo, &hi);
      __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                       _mm512_set1_epi32((int)step));
      v = _mm512_mask_i32gather_ps(v, lanes16(lo, hi), idx, xr + s, 4);
    }
    _mm512_mask_storeu_ps(dst + off, out, v);
  }
}

/* All-ones in lanes l of 8 with lo <= l < hi. */
__attribute__((target("avx2"))) static inline __m256i lanes8(int64_t lo, int64_t hi) {
  lo = lo < -1 ? -1 : lo > 8 ? 8 : lo;
  hi = hi < 0 ? 0 : hi > 9 ? 9 : hi;
  __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(iota, _mm256_set1_epi32((int)lo - 1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), iota));
}

/* run_c with 8-lane masked loads (stride 1) or gathers (other strides). */
__attribute__((target("avx2,fma"))) static inline void run_avx2(float *dst, const float *xr, int64_t start,
                                                                 int64_t step, int64_t len, int64_t limit) {
  for (int64_t off = 0; off < len; off += 8) {
    __m256i out = lanes8(0, len - off);
    int64_t s = start + off * step;
    __m256 v = _mm256_setzero_ps();
    if (!xr) {
    } else if (step == 1) {
      v = _mm256_maskload_ps(xr + s, _mm256_and_si256(lanes8(-s, limit - s), out));
    } else {
      int64_t lo, hi;
      snt_k_valid_range(s, step, len - off < 8 ? len - off : 8, limit, &lo, &hi);
      __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)step));
      v = _mm256_mask_i32gather_ps(v, xr + s, idx, _mm256_castsi256_ps(lanes8(lo, hi)), 4);
    }
    _mm256_maskstore_ps(dst + off, out, v);
  }
}

/* B row k as (channel, kd, kh, kw), stepped in row order without divisions. */
typedef struct tap {
  int64_t c, kd, kh, kw;
} tap;

static tap tap_of(const snt_k_win3 *w, int64_t k) {
  tap t;
  t.kw = k % w->k[2];
  k /= w->k[2];
  t.kh = k % w->k[1];
  k /= w->k[1];
  t.kd = k % w->k[0];
  t.c = k / w->k[0];
  return t;
}

static void tap_next(const snt_k_win3 *w, tap *t) {
  if (++t->kw < w->k[2]) return;
  t->kw = 0;
  if (++t->kh < w->k[1]) return;
  t->kh = 0;
  if (++t->kd < w->k[0]) return;
  t->kd = 0;
  t->c++;
}

/* Rows k0..k0+kc of the runs r[0..n_runs) into a strip (rows nr floats apart), and the packer
 * over whole strips; RUN is the ISA's run copy, ATTR its target attribute. */
#define DEFINE_PACKER(NAME, ATTR, RUN)                                                                            \
  ATTR static void NAME##_runs(const snt_k_win3 *w, const float *x, int64_t k0, int64_t kc, const run *r,          \
                               int n_runs, int nr, float *dst) {                                                  \
    tap t = tap_of(w, k0);                                                                                        \
    for (int64_t kk = 0; kk < kc; kk++, tap_next(w, &t)) {                                                        \
      float *row = dst + kk * nr;                                                                                 \
      const float *xc = x + t.c * w->in_size;                                                                     \
      for (int i = 0; i < n_runs; i++) {                                                                          \
        int64_t id = r[i].od * w->s[0] - w->pb[0] + t.kd * w->dl[0];                                              \
        int64_t ih = r[i].oh * w->s[1] - w->pb[1] + t.kh * w->dl[1];                                              \
        const float *xr = NULL;                                                                                   \
        if (id >= 0 && id < w->in[0] && ih >= 0 && ih < w->in[1]) xr = xc + (id * w->in[1] + ih) * w->in[2];     \
        RUN(row + r[i].at, xr, r[i].ow * w->s[2] - w->pb[2] + t.kw * w->dl[2], w->s[2], r[i].len, w->in[2]);      \
      }                                                                                                           \
    }                                                                                                             \
  }                                                                                                               \
  void NAME(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst) {                \
    const snt_k_conv_src *cs = src;                                                                               \
    run runs[PIECE_COLS];                                                                                         \
    for (int64_t s0 = 0; s0 < nc; s0 += nr) {                                                                     \
      float *strip = dst + s0 * kc; /* strip s0 / nr starts at (s0 / nr) * kc * nr */                             \
      int64_t width = nc - s0 < nr ? nc - s0 : nr;                                                                \
      for (int64_t c0 = 0; c0 < width; c0 += PIECE_COLS) {                                                        \
        int64_t len = width - c0 < PIECE_COLS ? width - c0 : PIECE_COLS;                                          \
        int n = split_runs(cs->w, n0 + s0 + c0, len, c0, runs);                                                   \
        NAME##_runs(cs->w, cs->x, k0, kc, runs, n, nr, strip);                                                    \
      }                                                                                                           \
      for (int64_t kk = 0; width < nr && kk < kc; kk++)                                                           \
        memset(strip + kk * nr + width, 0, (size_t)(nr - width) * sizeof(float));                                 \
    }                                                                                                             \
  }

DEFINE_PACKER(snt_k_conv_pack_b_avx512, __attribute__((target("avx512f,avx2,fma"))), run_avx512)
DEFINE_PACKER(snt_k_conv_pack_b_avx2, __attribute__((target("avx2,fma"))), run_avx2)
DEFINE_PACKER(snt_k_conv_pack_b_c, , run_c)

snt_k_pack_b_fn snt_k_conv_pack_b_for(snt_k_isa isa) {
  switch (isa) {
    case SNT_K_ISA_AVX512: return snt_k_conv_pack_b_avx512;
    case SNT_K_ISA_AVX2: return snt_k_conv_pack_b_avx2;
    case SNT_K_ISA_C: break;
  }
  return snt_k_conv_pack_b_c;
}
