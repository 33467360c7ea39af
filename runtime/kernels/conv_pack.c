/* Implicit im2col (see conv_impl.h): each B strip is gathered straight from the image, one
 * output-row run at a time, so no im2col matrix of the whole image is ever written. Two
 * sources: a zero-padded copy of the image (what conv.c makes when ctx gives it the memory),
 * where every run is a plain copy at one offset per row of B; and the image itself, where each
 * run checks its bounds. Both are written per ISA: AVX-512 (stride 2 a two-register permute,
 * larger strides a gather; masked loads stand in for the padding), AVX2 (8 lanes), portable C. */
#include <immintrin.h>
#include <string.h>

#include "conv_impl.h"

/* Columns of one strip handled per pass: bounds the runs array whatever the strip width. */
enum { PIECE_COLS = 64 };

/* A run of columns along one output row: image img, output position (od, oh, ow), len columns,
 * written at column `at` of the strip. */
typedef struct run {
  int64_t img, od, oh, ow, len, at;
} run;

/* Splits columns [j, j + len) (len <= PIECE_COLS) into runs along output rows. */
static int split_runs(const snt_k_win3 *w, int64_t j, int64_t len, int64_t at, run *r) {
  int64_t img = j / w->out_size, q = j % w->out_size;
  int64_t ow = q % w->out[2], rest = q / w->out[2];
  int64_t oh = rest % w->out[1], od = rest / w->out[1];
  int n = 0;
  while (len > 0) {
    int64_t l = w->out[2] - ow < len ? w->out[2] - ow : len;
    r[n++] = (run){img, od, oh, ow, l, at};
    at += l;
    len -= l;
    ow = 0;
    if (++oh == w->out[1]) oh = 0, od++;
    if (od == w->out[0]) od = 0, img++;
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
  ATTR static void NAME##_runs(const snt_k_win3 *w, const float *x, int64_t img_stride, int64_t k0, int64_t kc,    \
                               const run *r, int n_runs, int nr, float *dst) {                                    \
    tap t = tap_of(w, k0);                                                                                        \
    for (int64_t kk = 0; kk < kc; kk++, tap_next(w, &t)) {                                                        \
      float *row = dst + kk * nr;                                                                                 \
      for (int i = 0; i < n_runs; i++) {                                                                          \
        int64_t id = r[i].od * w->s[0] - w->pb[0] + t.kd * w->dl[0];                                              \
        int64_t ih = r[i].oh * w->s[1] - w->pb[1] + t.kh * w->dl[1];                                              \
        const float *xr = NULL, *xc = x + r[i].img * img_stride + t.c * w->in_size;                               \
        if (id >= 0 && id < w->in[0] && ih >= 0 && ih < w->in[1]) xr = xc + (id * w->in[1] + ih) * w->in[2];     \
        RUN(row + r[i].at, xr, r[i].ow * w->s[2] - w->pb[2] + t.kw * w->dl[2], w->s[2], r[i].len, w->in[2]);      \
      }                                                                                                           \
    }                                                                                                             \
  }                                                                                                               \
  ATTR static void NAME(const snt_k_conv_src *cs, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr,        \
                        float *dst) {                                                                             \
    run runs[PIECE_COLS];                                                                                         \
    for (int64_t s0 = 0; s0 < nc; s0 += nr) {                                                                     \
      float *strip = dst + s0 * kc; /* strip s0 / nr starts at (s0 / nr) * kc * nr */                             \
      int64_t width = nc - s0 < nr ? nc - s0 : nr;                                                                \
      for (int64_t c0 = 0; c0 < width; c0 += PIECE_COLS) {                                                        \
        int64_t len = width - c0 < PIECE_COLS ? width - c0 : PIECE_COLS;                                          \
        int n = split_runs(cs->w, n0 + s0 + c0, len, c0, runs);                                                   \
        NAME##_runs(cs->w, cs->x, cs->img_stride, k0, kc, runs, n, nr, strip);                                    \
      }                                                                                                           \
      for (int64_t kk = 0; width < nr && kk < kc; kk++)                                                           \
        memset(strip + kk * nr + width, 0, (size_t)(nr - width) * sizeof(float));                                 \
    }                                                                                                             \
  }

/* ---- padded images: no bounds to check ------------------------------------------------ */

enum { PAD_SLACK = 64 }; /* floats the copies below may read past a run's last element */

void snt_k_conv_padded_geometry(const snt_k_win3 *w, snt_k_win3 *wp) {
  *wp = *w;
  for (int a = 0; a < 3; a++) {
    wp->in[a] = w->in[a] + w->pb[a] + w->pe[a];
    wp->pb[a] = wp->pe[a] = 0;
  }
  wp->in_size = snt_k_prod(wp->in, 3);
}

size_t snt_k_conv_padded_floats(const snt_k_win3 *wp, int64_t channels) {
  int64_t n;
  if (__builtin_mul_overflow(wp->in[0], wp->in[1], &n) || __builtin_mul_overflow(n, wp->in[2], &n) ||
      __builtin_mul_overflow(n, channels, &n) || __builtin_add_overflow(n, (int64_t)PAD_SLACK, &n) ||
      (uint64_t)n > SIZE_MAX / sizeof(float))
    return SIZE_MAX;
  return (size_t)n;
}

/* Where padded row (d, h) of wp takes its values in an unpadded plane of w: the row's offset,
 * or -1 for a border row (all zero). */
static int64_t source_row(const snt_k_win3 *w, int64_t d, int64_t h) {
  int64_t sd = d - w->pb[0], sh = h - w->pb[1];
  return sd < 0 || sd >= w->in[0] || sh < 0 || sh >= w->in[1] ? -1 : (sd * w->in[1] + sh) * w->in[2];
}

void snt_k_conv_pad_image(const snt_k_win3 *w, const snt_k_win3 *wp, int64_t channels, const float *x, float *xp) {
  size_t row = (size_t)wp->in[2] * sizeof(float), left = (size_t)w->pb[2] * sizeof(float);
  size_t right = (size_t)w->pe[2] * sizeof(float), inner = (size_t)w->in[2] * sizeof(float);
  for (int64_t c = 0; c < channels; c++)
    for (int64_t d = 0; d < wp->in[0]; d++)
      for (int64_t h = 0; h < wp->in[1]; h++) {
        char *dst = (char *)(xp + c * wp->in_size + (d * wp->in[1] + h) * wp->in[2]);
        int64_t at = source_row(w, d, h);
        if (at < 0) {
          memset(dst, 0, row);
          continue;
        }
        memset(dst, 0, left);
        memcpy(dst + left, x + c * w->in_size + at, inner);
        memset(dst + left + inner, 0, right);
      }
}

/* One padded row of a pair plane: channel rows lo, hi (NULL: zero) of w->in[2] floats, rounded
 * to bfloat16 (nearest even) and interleaved, with the row's pads zero. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void pair_row(const snt_k_win3 *w, const float *lo,
                                                                          const float *hi, uint32_t *dst) {
  static const uint16_t order[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                     8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  __m512i idx = _mm512_loadu_si512(order);
  for (int64_t i = 0; i < w->pb[2]; i++) *dst++ = 0;
  for (int64_t c = 0; c < w->in[2]; c += 16) {
    __mmask16 m = lanes16(0, w->in[2] - c);
    __m512 a = _mm512_maskz_loadu_ps(m, lo + c), b = hi ? _mm512_maskz_loadu_ps(m, hi + c) : _mm512_setzero_ps();
    _mm512_mask_storeu_epi32(dst + c, m, _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(b, a)));
  }
  dst += w->in[2];
  for (int64_t i = 0; i < w->pe[2]; i++) *dst++ = 0;
}

void snt_k_conv_pad_pairs(const snt_k_win3 *w, const snt_k_win3 *wp, int64_t channels, int64_t q0, int64_t q1,
                          const float *x, uint32_t *xp) {
  int64_t pairs = (channels + 1) / 2;
  for (int64_t q = q0; q < q1; q++) {
    int64_t img = q / pairs, c = 2 * (q % pairs);
    const float *lo = x + (img * channels + c) * w->in_size, *hi = c + 1 < channels ? lo + w->in_size : NULL;
    for (int64_t d = 0; d < wp->in[0]; d++)
      for (int64_t h = 0; h < wp->in[1]; h++) {
        uint32_t *dst = xp + q * wp->in_size + (d * wp->in[1] + h) * wp->in[2];
        int64_t at = source_row(w, d, h);
        if (at < 0) memset(dst, 0, (size_t)wp->in[2] * sizeof(uint32_t));
        else pair_row(w, lo + at, hi ? hi + at : NULL, dst);
      }
  }
}

/* dst[i] = src[i * step] for i < len; the vector versions read up to PAD_SLACK floats past. */
static inline void copy_c(float *restrict dst, const float *restrict src, int64_t step, int64_t len) {
  if (step == 1) {
    for (int64_t i = 0; i < len; i++) dst[i] = src[i];
  } else {
    for (int64_t i = 0; i < len; i++) dst[i] = src[i * step];
  }
}

__attribute__((target("avx512f"))) static inline void copy_avx512(float *dst, const float *src, int64_t step,
                                                                    int64_t len) {
  int64_t i = 0;
  if (step == 1) {
    for (; i + 16 <= len; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (i < len) _mm512_mask_storeu_ps(dst + i, lanes16(0, len - i), _mm512_loadu_ps(src + i));
  } else if (step == 2) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (; i < len; i += 16) {
      __m512 v = _mm512_permutex2var_ps(_mm512_loadu_ps(src + 2 * i), even, _mm512_loadu_ps(src + 2 * i + 16));
      if (i + 16 <= len) _mm512_storeu_ps(dst + i, v);
      else _mm512_mask_storeu_ps(dst + i, lanes16(0, len - i), v);
    }
  } else {
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_epi32((int)step));
    for (; i < len; i += 16) {
      __mmask16 m = lanes16(0, len - i);
      _mm512_mask_storeu_ps(dst + i, m, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, src + i * step, 4));
    }
  }
}

__attribute__((target("avx2,fma"))) static inline void copy_avx2(float *dst, const float *src, int64_t step,
                                                                 int64_t len) {
  int64_t i = 0;
  if (step == 1)
    for (; i + 8 <= len; i += 8) _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
  for (; i < len; i++) dst[i] = src[i * step];
}

/* The packer over a padded image: per row of B one offset, per run one copy. */
#define DEFINE_PADDED_PACKER(NAME, ATTR, COPY)                                                                    \
  ATTR static void NAME(const snt_k_conv_src *cs, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr,          \
                        float *dst) {                                                                             \
    const snt_k_win3 *w = cs->w;                                                                                  \
    run runs[PIECE_COLS];                                                                                         \
    int64_t base[PIECE_COLS];                                                                                     \
    for (int64_t s0 = 0; s0 < nc; s0 += nr) {                                                                     \
      float *strip = dst + s0 * kc;                                                                               \
      int64_t width = nc - s0 < nr ? nc - s0 : nr;                                                                \
      for (int64_t c0 = 0; c0 < width; c0 += PIECE_COLS) {                                                        \
        int64_t len = width - c0 < PIECE_COLS ? width - c0 : PIECE_COLS;                                          \
        int n = split_runs(w, n0 + s0 + c0, len, c0, runs);                                                       \
        for (int i = 0; i < n; i++)                                                                               \
          base[i] = runs[i].img * cs->img_stride +                                                                \
                    (runs[i].od * w->s[0] * w->in[1] + runs[i].oh * w->s[1]) * w->in[2] + runs[i].ow * w->s[2];   \
        tap t = tap_of(w, k0);                                                                                    \
        for (int64_t kk = 0; kk < kc; kk++, tap_next(w, &t)) {                                                    \
          const float *xt = cs->x + t.c * w->in_size + (t.kd * w->dl[0] * w->in[1] + t.kh * w->dl[1]) * w->in[2] + \
                            t.kw * w->dl[2];                                                                      \
          float *row = strip + kk * nr;                                                                           \
          for (int i = 0; i < n; i++) COPY(row + runs[i].at, xt + base[i], w->s[2], runs[i].len);                 \
        }                                                                                                         \
      }                                                                                                           \
      for (int64_t kk = 0; width < nr && kk < kc; kk++)                                                           \
        memset(strip + kk * nr + width, 0, (size_t)(nr - width) * sizeof(float));                                 \
    }                                                                                                             \
  }

DEFINE_PADDED_PACKER(padded_avx512, __attribute__((target("avx512f,avx2,fma"))), copy_avx512)
DEFINE_PADDED_PACKER(padded_avx2, __attribute__((target("avx2,fma"))), copy_avx2)
DEFINE_PADDED_PACKER(padded_c, , copy_c)

DEFINE_PACKER(checked_avx512, __attribute__((target("avx512f,avx2,fma"))), run_avx512)
DEFINE_PACKER(checked_avx2, __attribute__((target("avx2,fma"))), run_avx2)
DEFINE_PACKER(checked_c, , run_c)

void snt_k_conv_pack_b_avx512(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst) {
  const snt_k_conv_src *cs = src;
  if (cs->padded) padded_avx512(cs, k0, kc, n0, nc, nr, dst);
  else checked_avx512(cs, k0, kc, n0, nc, nr, dst);
}

void snt_k_conv_pack_b_avx2(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst) {
  const snt_k_conv_src *cs = src;
  if (cs->padded) padded_avx2(cs, k0, kc, n0, nc, nr, dst);
  else checked_avx2(cs, k0, kc, n0, nc, nr, dst);
}

void snt_k_conv_pack_b_c(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *dst) {
  const snt_k_conv_src *cs = src;
  if (cs->padded) padded_c(cs, k0, kc, n0, nc, nr, dst);
  else checked_c(cs, k0, kc, n0, nc, nr, dst);
}

snt_k_pack_b_fn snt_k_conv_pack_b_for(snt_k_isa isa) {
  switch (isa) {
    case SNT_K_ISA_AVX512: return snt_k_conv_pack_b_avx512;
    case SNT_K_ISA_AVX2: return snt_k_conv_pack_b_avx2;
    case SNT_K_ISA_C: break;
  }
  return snt_k_conv_pack_b_c;
}
