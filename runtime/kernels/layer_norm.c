/* LayerNormalization over contiguous rows (snt_k_layer_norm): a row's sum and its squared
 * deviations from the mean in double (two passes, as the emitted loop of other norms), then
 * (x - mean) * inv * scale + bias in float, the mean as a float and the rest of it (x - mean is
 * exact or one rounding: a row of 200.1 and 200.3 keeps its 0.1s). AVX-512 sums 8 doubles a step; the rows are split
 * between the threads. */
#include <immintrin.h>
#include <math.h>

#include "gemm_core.h"

typedef struct ln_job {
  const float *x, *scale, *bias;
  float *y;
  int64_t groups, members;
  double eps;
  snt_k_isa isa;
} ln_job;

static void row_c(const ln_job *j, const float *x, float *y) {
  double s = 0, v = 0;
  for (int64_t m = 0; m < j->members; m++) s += x[m];
  double mean = s / (double)j->members;
  for (int64_t m = 0; m < j->members; m++) v += ((double)x[m] - mean) * ((double)x[m] - mean);
  float fm = (float)mean, lo = (float)(mean - fm), inv = (float)(1.0 / sqrt(v / (double)j->members + j->eps));
  for (int64_t m = 0; m < j->members; m++) {
    float t = ((x[m] - fm) - lo) * inv;
    y[m] = t * (j->scale ? j->scale[m] : 1.0f) + (j->bias ? j->bias[m] : 0.0f);
  }
}

/* The first r < 8 floats at x, zeros after (never read past x + r). */
__attribute__((target("avx512f"))) static inline __m256 tail8(const float *x, int64_t r) {
  return _mm512_castps512_ps256(_mm512_maskz_loadu_ps((__mmask16)((1u << r) - 1), x));
}

__attribute__((target("avx512f"))) static void row_avx512(const ln_job *j, const float *x, float *y) {
  int64_t n = j->members, m = 0;
  __m512d s = _mm512_setzero_pd(), v = _mm512_setzero_pd();
  for (; m + 8 <= n; m += 8) s = _mm512_add_pd(s, _mm512_cvtps_pd(_mm256_loadu_ps(x + m)));
  if (m < n) s = _mm512_add_pd(s, _mm512_cvtps_pd(tail8(x + m, n - m)));
  double mean = _mm512_reduce_add_pd(s) / (double)n;
  __m512d md = _mm512_set1_pd(mean);
  for (m = 0; m + 8 <= n; m += 8) {
    __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + m)), md);
    v = _mm512_fmadd_pd(d, d, v);
  }
  if (m < n) {
    __mmask8 k = (__mmask8)((1u << (n - m)) - 1);
    __m512d d = _mm512_maskz_sub_pd(k, _mm512_cvtps_pd(tail8(x + m, n - m)), md);
    v = _mm512_fmadd_pd(d, d, v);
  }
  __m512 fm = _mm512_set1_ps((float)mean), lo = _mm512_set1_ps((float)(mean - (float)mean)), inv = _mm512_set1_ps((float)(1.0 / sqrt(_mm512_reduce_add_pd(v) / (double)n + j->eps)));
  for (m = 0; m < n; m += 16) {
    __mmask16 k = n - m >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - m)) - 1);
    __m512 t = _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + m), fm), lo), inv);
    if (j->scale) t = _mm512_mul_ps(t, _mm512_maskz_loadu_ps(k, j->scale + m));
    if (j->bias) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(k, j->bias + m));
    _mm512_mask_storeu_ps(y + m, k, t);
  }
}

static void ln_part(void *arg, int t, int threads) {
  const ln_job *j = arg;
  for (int64_t g = j->groups * t / threads; g < j->groups * (t + 1) / threads; g++) {
    const float *x = j->x + g * j->members;
    float *y = j->y + g * j->members;
    if (j->isa == SNT_K_ISA_AVX512) row_avx512(j, x, y);
    else row_c(j, x, y);
  }
}

void snt_k_layer_norm(snt_k_ctx *ctx, const float *x, const float *scale, const float *bias, float *y, int64_t groups,
                      int64_t members, double eps) {
  if (groups <= 0 || members <= 0) return;
  ln_job j = {x, scale, bias, y, groups, members, eps, snt_k_ctx_isa(ctx)};
  /* a second thread pays from some 16K elements on (as the activation pass) */
  if (groups * members < 16384 || groups < 2 || snt_k_ctx_threads(ctx) < 2) ln_part(&j, 0, 1);
  else snt_k_ctx_parallel(ctx, ln_part, &j);
}
