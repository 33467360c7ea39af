/* BatchNormalization for inference, folded into one multiply-add per element. */
#include <immintrin.h>
#include <math.h>

#include "gemm_core.h"
#include "kernels_util.h"

/* snt_k_bn_infer rounds x * s and then adds t, as the loop generated code had before it (no
 * FMA there): keep gcc from contracting the two into one in the AVX paths. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

static void scale_shift(float *y, const float *x, float a, float b, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = a * x[i] + b; /* y may equal x: no restrict */
}

void snt_k_batchnorm(int64_t batch, int64_t channels, int64_t inner, const float *x,
                     const float *scale, const float *bias, const float *mean, const float *var,
                     float epsilon, float *y) {
  for (int64_t c = 0; c < channels; c++) {
    /* Fold in double so that a and b are correctly rounded floats. */
    double a = (double)scale[c] / sqrt((double)var[c] + (double)epsilon);
    double b = (double)bias[c] - (double)mean[c] * a;
    for (int64_t n = 0; n < batch; n++) {
      int64_t off = (n * channels + c) * inner;
      scale_shift(y + off, x + off, (float)a, (float)b, inner);
    }
  }
}

/* ---- snt_k_bn_infer: vectorised per ISA, element ranges split over the context's team ---- */

typedef struct bn_job {
  int64_t channels, inner, total;
  const float *x, *gamma, *beta, *mean, *var;
  float eps;
  int relu;
  float *y;
  snt_k_isa isa;
} bn_job;

/* x and y may alias (in place), so no restrict. v > 0 ? v : 0 sends NaN and -0 to +0, as
 * maxps(v, 0) does. */
__attribute__((target("avx512f"))) static void seg_avx512(const float *x, float *y, int64_t n, float s, float t,
                                                          int relu) {
  const __m512 vs = _mm512_set1_ps(s), vt = _mm512_set1_ps(t), z = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs), vt);
    _mm512_storeu_ps(y + i, relu ? _mm512_max_ps(v, z) : v);
  }
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs), vt);
    _mm512_mask_storeu_ps(y + i, m, relu ? _mm512_max_ps(v, z) : v);
  }
}

__attribute__((target("avx2"))) static void seg_avx2(const float *x, float *y, int64_t n, float s, float t, int relu) {
  const __m256 vs = _mm256_set1_ps(s), vt = _mm256_set1_ps(t), z = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), vt);
    _mm256_storeu_ps(y + i, relu ? _mm256_max_ps(v, z) : v);
  }
  if (i < n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)), lane);
    __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_maskload_ps(x + i, m), vs), vt);
    _mm256_maskstore_ps(y + i, m, relu ? _mm256_max_ps(v, z) : v);
  }
}

static void seg_c(const float *x, float *y, int64_t n, float s, float t, int relu) {
  if (relu) {
    for (int64_t i = 0; i < n; i++) {
      float v = x[i] * s + t;
      y[i] = v > 0 ? v : 0;
    }
  } else {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * s + t;
  }
}

/* Elements [e0, e1) of the flattened tensor, plane by plane (the channel counted along, not
 * divided out per plane: planes can be one element long). s and t as the generated loop computed
 * them: float, gamma / sqrtf(var + eps) and beta - mean * s. */
static void bn_range(const bn_job *j, int64_t e0, int64_t e1) {
  if (e0 >= e1) return;
  int64_t p = e0 / j->inner, c = p % j->channels, end = (p + 1) * j->inner;
  for (; e0 < e1; e0 = end, end += j->inner, c = c + 1 == j->channels ? 0 : c + 1) {
    int64_t n = (end < e1 ? end : e1) - e0;
    const float s = (j->gamma ? j->gamma[c] : 1.0f) / sqrtf(j->var[c] + j->eps);
    const float t = (j->beta ? j->beta[c] : 0.0f) - j->mean[c] * s;
    switch (n < 16 ? SNT_K_ISA_C : j->isa) { /* short planes: no call per plane */
      case SNT_K_ISA_AVX512: seg_avx512(j->x + e0, j->y + e0, n, s, t, j->relu); break;
      case SNT_K_ISA_AVX2: seg_avx2(j->x + e0, j->y + e0, n, s, t, j->relu); break;
      case SNT_K_ISA_C: seg_c(j->x + e0, j->y + e0, n, s, t, j->relu); break;
    }
  }
}

/* Thread t's share, cut at multiples of 16 floats so that no cache line has two writers. */
static void bn_part(void *arg, int t, int threads) {
  const bn_job *j = arg;
  int64_t e0 = j->total * t / threads / 16 * 16, e1 = t + 1 == threads ? j->total : j->total * (t + 1) / threads / 16 * 16;
  bn_range(j, e0, e1);
}

snt_status snt_k_bn_infer(snt_k_ctx *ctx, int64_t batch, int64_t channels, int64_t inner, const float *x,
                          const float *gamma, const float *beta, const float *mean, const float *var, float eps,
                          int relu, float *y) {
  if (batch < 0 || channels < 0 || inner < 0) return SNT_ERR_INPUT;
  bn_job j = {channels, inner, batch * channels * inner, x, gamma, beta, mean, var, eps, relu, y, snt_k_ctx_isa(ctx)};
  if (j.total == 0) return SNT_OK;
  /* Below 4 MB a wake-up of the team (10-20 us, more when the machine is busy) costs about what
   * the second thread saves. */
  if (j.total < (1 << 20)) bn_part(&j, 0, 1);
  else snt_k_ctx_parallel(ctx, bn_part, &j);
  return SNT_OK;
}
