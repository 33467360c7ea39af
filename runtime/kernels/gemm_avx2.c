/* The AVX2+FMA GEMM path: a 6 x 16 register tile (12 ymm accumulators), masked loads and
 * stores at the edges, the epilogue in registers. Compiled for avx2,fma per function. */
#include <immintrin.h>

#include "gemm_ukr.h"

#define AVX2 __attribute__((target("avx2,fma")))

enum { MR = SNT_K_AVX2_MR, NR = SNT_K_AVX2_NR };

/* Lanes [0, count) set. */
AVX2 static inline __m256i lane_mask(int count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AVX2 static inline __m256 act_vec(__m256 v, const snt_k_act *act) {
  switch (act->kind) {
    case SNT_K_ACT_RELU: return _mm256_max_ps(_mm256_setzero_ps(), v); /* NaN passes */
    case SNT_K_ACT_LEAKY_RELU: {
      __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
      return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(act->alpha)), neg);
    }
    case SNT_K_ACT_CLIP:
      return _mm256_min_ps(_mm256_set1_ps(act->clip_max), _mm256_max_ps(_mm256_set1_ps(act->clip_min), v));
    default: return v;
  }
}

/* One k step of the tile: two B vectors, MR broadcasts of A, 2 MR FMAs. */
AVX2 static inline __attribute__((always_inline)) void step(const float *a, const float *b, __m256 *c0, __m256 *c1) {
  __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    __m256 ai = _mm256_broadcast_ss(a + i);
    c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
    c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
  }
}

AVX2 void snt_k_ukr_avx2(const snt_k_ukr_args *p) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    c0[i] = _mm256_setzero_ps();
    c1[i] = _mm256_setzero_ps();
    _mm_prefetch((const char *)(p->c + i * p->ldc), _MM_HINT_T0);
  }
  const float *a = p->a, *b = p->b;
  const int64_t ldb = p->ldb;
  if (p->prefetch_b) { /* first use of this B strip: fetch the next strip's rows meanwhile */
    for (int64_t k = 0; k < p->kc; k++, a += MR, b += ldb) {
      _mm_prefetch((const char *)(b + p->b_next), _MM_HINT_T0);
      step(a, b, c0, c1);
    }
  } else {
#pragma GCC unroll 2
    for (int64_t k = 0; k < p->kc; k++, a += MR, b += ldb) step(a, b, c0, c1);
  }
  __m256i m0 = lane_mask(p->nr), m1 = lane_mask(p->nr - 8);
  __m256 alpha = _mm256_set1_ps(p->alpha);
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    if (i >= p->mr) break;
    float *c = p->c + i * p->ldc;
    __m256 v0 = _mm256_mul_ps(c0[i], alpha), v1 = _mm256_mul_ps(c1[i], alpha);
    if (p->load_c) {
      v0 = _mm256_add_ps(v0, _mm256_maskload_ps(c, m0));
      v1 = _mm256_add_ps(v1, _mm256_maskload_ps(c + 8, m1));
    }
    if (p->last) {
      if (p->row_bias) {
        __m256 rb = _mm256_set1_ps(p->row_bias[i]);
        v0 = _mm256_add_ps(v0, rb);
        v1 = _mm256_add_ps(v1, rb);
      }
      if (p->col_bias) {
        v0 = _mm256_add_ps(v0, _mm256_maskload_ps(p->col_bias, m0));
        v1 = _mm256_add_ps(v1, _mm256_maskload_ps(p->col_bias + 8, m1));
      }
      if (p->residual) {
        const float *r = p->residual + i * p->ldr;
        v0 = _mm256_add_ps(v0, _mm256_maskload_ps(r, m0));
        v1 = _mm256_add_ps(v1, _mm256_maskload_ps(r + 8, m1));
      }
      v0 = act_vec(v0, &p->act);
      v1 = act_vec(v1, &p->act);
    }
    _mm256_maskstore_ps(c, m0, v0);
    _mm256_maskstore_ps(c + 8, m1, v1);
  }
}

AVX2 static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

AVX2 void snt_k_gemv_dot_avx2(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y) {
  int64_t k32 = k / 32 * 32, k8 = k / 8 * 8;
  for (int64_t j = 0; j < n; j++) {
    const float *wr = w + j * ldw;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t kk = 0;
    for (; kk < k32; kk += 32) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + kk), _mm256_loadu_ps(wr + kk), s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + kk + 8), _mm256_loadu_ps(wr + kk + 8), s1);
      s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + kk + 16), _mm256_loadu_ps(wr + kk + 16), s2);
      s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + kk + 24), _mm256_loadu_ps(wr + kk + 24), s3);
    }
    for (; kk < k8; kk += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + kk), _mm256_loadu_ps(wr + kk), s0);
    if (kk < k) {
      __m256i m = lane_mask((int)(k - kk));
      s1 = _mm256_fmadd_ps(_mm256_maskload_ps(x + kk, m), _mm256_maskload_ps(wr + kk, m), s1);
    }
    y[j] = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  }
}

AVX2 void snt_k_gemv_axpy_avx2(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y) {
  for (int64_t j0 = 0; j0 < n; j0 += 64) {
    __m256i m[8];
    __m256 s[8];
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++) {
      m[v] = lane_mask((int)(n - j0 - 8 * v > 8 ? 8 : n - j0 - 8 * v));
      s[v] = _mm256_setzero_ps();
    }
    for (int64_t kk = 0; kk < k; kk++) {
      const float *wr = w + kk * ldw + j0;
      __m256 xv = _mm256_broadcast_ss(x + kk);
#pragma GCC unroll 8
      for (int v = 0; v < 8; v++) s[v] = _mm256_fmadd_ps(xv, _mm256_maskload_ps(wr + 8 * v, m[v]), s[v]);
    }
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++) _mm256_maskstore_ps(y + j0 + 8 * v, m[v], s[v]);
  }
}

/* Two rows of A at a time (8 accumulators: 16 ymm registers hold no 4 x 4 tile). */
AVX2 void snt_k_dot_tile_avx2(int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, int mr, int nr,
                              float *out) {
  enum { T = SNT_K_DOT_TILE };
  const float *br[T];
  for (int j = 0; j < T; j++) br[j] = b + (j < nr ? j : 0) * ldb; /* past nr: row 0 again, never stored */
  __m256i tail = lane_mask((int)(k % 8));
  for (int i0 = 0; i0 < mr; i0 += 2) {
    const float *a0 = a + i0 * lda, *a1 = i0 + 1 < mr ? a0 + lda : a0;
    __m256 acc0[T], acc1[T];
#pragma GCC unroll 4
    for (int j = 0; j < T; j++) acc0[j] = acc1[j] = _mm256_setzero_ps();
    int64_t kk = 0;
    for (; kk + 8 <= k; kk += 8) {
      __m256 x0 = _mm256_loadu_ps(a0 + kk), x1 = _mm256_loadu_ps(a1 + kk);
#pragma GCC unroll 4
      for (int j = 0; j < T; j++) {
        __m256 bv = _mm256_loadu_ps(br[j] + kk);
        acc0[j] = _mm256_fmadd_ps(x0, bv, acc0[j]);
        acc1[j] = _mm256_fmadd_ps(x1, bv, acc1[j]);
      }
    }
    if (kk < k) {
      __m256 x0 = _mm256_maskload_ps(a0 + kk, tail), x1 = _mm256_maskload_ps(a1 + kk, tail);
#pragma GCC unroll 4
      for (int j = 0; j < T; j++) {
        __m256 bv = _mm256_maskload_ps(br[j] + kk, tail);
        acc0[j] = _mm256_fmadd_ps(x0, bv, acc0[j]);
        acc1[j] = _mm256_fmadd_ps(x1, bv, acc1[j]);
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < T; j++) {
      out[i0 * T + j] = hsum(acc0[j]);
      if (i0 + 1 < T) out[(i0 + 1) * T + j] = hsum(acc1[j]);
    }
  }
}
