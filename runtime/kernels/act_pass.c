/* The activation pass (act_pass.h): Cephes' expf (range reduction by ln 2 in two parts, a
 * degree-5 polynomial, scaling by 2^n) and tanhf (an odd polynomial below 0.625, else
 * 1 - 2 / (exp(2|x|) + 1)) on 16, 8 or 1 lanes. exp's argument is clamped to [-104, 89], past
 * which the result is 0 or infinite in float, and the scaling by 2^n is exact into the subnormal
 * range and overflows to infinity (scalef, or two exponent-field multiplies on AVX2): no lane
 * needs libm, so large activations (an unnormalised image's first conv) cost what small ones do.
 * The clamps keep NaN (min/max return their second operand when one is NaN). */
#include "act_pass.h"

#include "act_avx512.h"

#include <immintrin.h>
#include <math.h>

#include "kernels_util.h"

#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2,fma")))

enum { VEC = 16 };

/* ---- one lane: the C path and the formulas the vectors follow ---------------------------- */

static float hard_sigmoid1(float v, const snt_k_act *a) {
  float t = a->alpha * v + a->beta;
  return t > 1.0f ? 1.0f : (t < 0.0f ? 0.0f : t); /* NaN stays NaN */
}

static float clamp1(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); } /* NaN stays */

static float exp1(float x) {
  x = clamp1(x, SNT_K_EXP_LO, SNT_K_EXP_HI);
  float fx = nearbyintf(x * SNT_K_LOG2E);
  float r = x - fx * SNT_K_LN2_HI;
  r = r - fx * SNT_K_LN2_LO;
  float p = SNT_K_EP[0];
  for (int i = 1; i < 6; i++) p = p * r + SNT_K_EP[i];
  return ldexpf(p * (r * r) + r + 1.0f, (int)(fx == fx ? fx : 0)); /* NaN: p is NaN already */
}

static float tanh1(float x) {
  float ax = fabsf(x);
  if (ax < SNT_K_TANH_SMALL) {
    float z = x * x, p = SNT_K_TP[0];
    for (int i = 1; i < 5; i++) p = p * z + SNT_K_TP[i];
    return p * z * x + x;
  }
  float e = exp1(-2.0f * ax), y = 1.0f - 2.0f * (e / (1.0f + e));
  return x < 0 ? -y : y;
}

static float mish1(float v) {
  if (v > SNT_K_MISH_BIG) return v;
  float e = exp1(v), n = e * (e + 2.0f);
  return v * (n / (n + 2.0f));
}

static float sigmoid1(float v) {
  float e = exp1(-fabsf(v)), r = 1.0f / (1.0f + e);
  return v < 0 ? e * r : r;
}

/* act_avx512.h's erf and GELU formulas */
static float erf_small1(float x) {
  float z = x * x, p = SNT_K_ERF_P[0];
  for (int i = 1; i < 6; i++) p = p * z + SNT_K_ERF_P[i];
  return x * p;
}

static float erfc_big1(float a) {
  float t = (a > SNT_K_ERF_BIG ? SNT_K_ERF_BIG : a) - SNT_K_ERF_SPLIT, q = SNT_K_ERF_Q[0]; /* NaN stays */
  for (int i = 1; i < 11; i++) q = q * t + SNT_K_ERF_Q[i];
  return exp1(q);
}

static float erf1(float x) {
  float a = fabsf(x);
  if (a < SNT_K_ERF_SPLIT) return erf_small1(x);
  return copysignf(1.0f - erfc_big1(a), x);
}

static float gelu1(float v) {
  float u = v * SNT_K_SQRT1_2, a = fabsf(u), s;
  if (a < SNT_K_ERF_SPLIT) {
    s = 1.0f + erf_small1(u);
  } else {
    float e = a > SNT_K_ERF_BIG ? 0.0f : erfc_big1(a);
    s = u < 0 ? e : 2.0f - e;
  }
  return 0.5f * v * s;
}

static float act1(const snt_k_act *a, float v) {
  switch (a->kind) {
    case SNT_K_ACT_NONE: break;
    case SNT_K_ACT_RELU: return v < 0.0f ? 0.0f : v;
    case SNT_K_ACT_LEAKY_RELU: return v < 0.0f ? a->alpha * v : v;
    case SNT_K_ACT_CLIP: return v < a->clip_min ? a->clip_min : (v > a->clip_max ? a->clip_max : v);
    case SNT_K_ACT_SIGMOID: return sigmoid1(v);
    case SNT_K_ACT_TANH: return tanh1(v);
    case SNT_K_ACT_SILU: return v * sigmoid1(v);
    case SNT_K_ACT_HARD_SIGMOID: return hard_sigmoid1(v, a);
    case SNT_K_ACT_HARD_SWISH: return v * hard_sigmoid1(v, a);
    case SNT_K_ACT_EXP: return exp1(v);
    case SNT_K_ACT_MISH: return mish1(v);
    case SNT_K_ACT_ERF: return erf1(v);
    case SNT_K_ACT_GELU: return gelu1(v);
  }
  return v;
}

void snt_k_act_pass_c(const snt_k_act *act, const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = act1(act, x[i]);
}

/* ---- AVX-512: act_avx512.h's snt_k_act16 -------------------------------------------------- */

AVX512 static inline __attribute__((always_inline)) void pass16(const snt_k_act *act, snt_k_act_kind kind,
                                                                 const float *x, float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 * VEC <= n; i += 4 * VEC) { /* four at a time: snt_k_act16x4 */
    __m512 v[4] = {_mm512_loadu_ps(x + i), _mm512_loadu_ps(x + i + VEC), _mm512_loadu_ps(x + i + 2 * VEC),
                   _mm512_loadu_ps(x + i + 3 * VEC)};
    snt_k_act16x4(act, kind, v);
    for (int u = 0; u < 4; u++) _mm512_storeu_ps(y + i + u * VEC, v[u]);
  }
  for (; i + VEC <= n; i += VEC) _mm512_storeu_ps(y + i, snt_k_act16(act, kind, _mm512_loadu_ps(x + i)));
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, snt_k_act16(act, kind, _mm512_maskz_loadu_ps(m, x + i)));
  }
}

/* One loop per kind, the kind's code inlined into it. */
#define PASS_CASES(pass)                                                            \
  switch (act->kind) {                                                             \
    case SNT_K_ACT_NONE: pass(act, SNT_K_ACT_NONE, x, y, n); break;                \
    case SNT_K_ACT_RELU: pass(act, SNT_K_ACT_RELU, x, y, n); break;                \
    case SNT_K_ACT_LEAKY_RELU: pass(act, SNT_K_ACT_LEAKY_RELU, x, y, n); break;    \
    case SNT_K_ACT_CLIP: pass(act, SNT_K_ACT_CLIP, x, y, n); break;                \
    case SNT_K_ACT_SIGMOID: pass(act, SNT_K_ACT_SIGMOID, x, y, n); break;          \
    case SNT_K_ACT_TANH: pass(act, SNT_K_ACT_TANH, x, y, n); break;                \
    case SNT_K_ACT_SILU: pass(act, SNT_K_ACT_SILU, x, y, n); break;                \
    case SNT_K_ACT_HARD_SIGMOID: pass(act, SNT_K_ACT_HARD_SIGMOID, x, y, n); break; \
    case SNT_K_ACT_HARD_SWISH: pass(act, SNT_K_ACT_HARD_SWISH, x, y, n); break;    \
    case SNT_K_ACT_EXP: pass(act, SNT_K_ACT_EXP, x, y, n); break;                  \
    case SNT_K_ACT_MISH: pass(act, SNT_K_ACT_MISH, x, y, n); break;                \
    case SNT_K_ACT_ERF: pass(act, SNT_K_ACT_ERF, x, y, n); break;                  \
    case SNT_K_ACT_GELU: pass(act, SNT_K_ACT_GELU, x, y, n); break;                \
  }

AVX512 void snt_k_act_pass_avx512(const snt_k_act *act, const float *x, float *y, int64_t n) { PASS_CASES(pass16) }

/* ---- AVX2 -------------------------------------------------------------------------------- */

AVX2 static inline __m256 clamp8(__m256 v, float lo, float hi) {
  return _mm256_max_ps(_mm256_set1_ps(lo), _mm256_min_ps(_mm256_set1_ps(hi), v));
}

/* 2^k for integer k in [-126, 127]: the exponent field alone. */
AVX2 static inline __m256 pow2_8(__m256i k) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

AVX2 static inline __m256 exp8(__m256 x) {
  x = clamp8(x, SNT_K_EXP_LO, SNT_K_EXP_HI);
  __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(SNT_K_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(SNT_K_LN2_HI), x);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(SNT_K_LN2_LO), r);
  __m256 p = _mm256_set1_ps(SNT_K_EP[0]);
  for (int i = 1; i < 6; i++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SNT_K_EP[i]));
  __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  /* fx in [-150, 129]: 2^fx as 2^h * 2^(fx - h), h = fx / 2, both factors normal, so the
   * second multiply rounds into the subnormals or overflows to infinity as scalef would
   * (a NaN lane's fx converts to INT_MIN; y is NaN there already) */
  __m256i k = _mm256_cvtps_epi32(fx), h = _mm256_srai_epi32(k, 1);
  return _mm256_mul_ps(_mm256_mul_ps(y, pow2_8(h)), pow2_8(_mm256_sub_epi32(k, h)));
}

/* snt_k_recip16's and snt_k_sigmoid16's formulas (the estimate has 12 bits here: two Newton steps). */
AVX2 static inline __m256 recip8(__m256 d) {
  __m256 r = _mm256_rcp_ps(d);
  r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(1.0f)), r);
  return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(1.0f)), r);
}

AVX2 static inline __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN)), v); }

AVX2 static inline __m256 sigmoid8(__m256 v) {
  __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), abs8(v)));
  __m256 r = recip8(_mm256_add_ps(_mm256_set1_ps(1.0f), e));
  return _mm256_blendv_ps(r, _mm256_mul_ps(r, e), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
}

AVX2 static inline __m256 tanh8(__m256 x) {
  __m256 sign = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN)));
  __m256 ax = _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN)), x);
  __m256 z = _mm256_mul_ps(x, x), p = _mm256_set1_ps(SNT_K_TP[0]);
  for (int i = 1; i < 5; i++) p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(SNT_K_TP[i]));
  __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  __m256 e = exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), ax));
  __m256 q = _mm256_mul_ps(e, recip8(_mm256_add_ps(_mm256_set1_ps(1.0f), e)));
  __m256 big = _mm256_fnmadd_ps(_mm256_set1_ps(2.0f), q, _mm256_set1_ps(1.0f));
  big = _mm256_or_ps(big, sign);
  return _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(SNT_K_TANH_SMALL), _CMP_LT_OQ));
}

AVX2 static inline __m256 hard_sigmoid8(__m256 v, const snt_k_act *a) {
  __m256 t = _mm256_fmadd_ps(v, _mm256_set1_ps(a->alpha), _mm256_set1_ps(a->beta));
  return _mm256_max_ps(_mm256_setzero_ps(), _mm256_min_ps(_mm256_set1_ps(1.0f), t));
}

AVX2 static inline __m256 mish8(__m256 v) {
  __m256 e = exp8(_mm256_min_ps(_mm256_set1_ps(SNT_K_MISH_BIG), v));
  __m256 n = _mm256_mul_ps(e, _mm256_add_ps(e, _mm256_set1_ps(2.0f)));
  __m256 r = _mm256_mul_ps(v, _mm256_mul_ps(n, recip8(_mm256_add_ps(n, _mm256_set1_ps(2.0f)))));
  return _mm256_blendv_ps(r, v, _mm256_cmp_ps(v, _mm256_set1_ps(SNT_K_MISH_BIG), _CMP_GT_OQ));
}

AVX2 static inline __m256 erf_small8(__m256 x) {
  __m256 z = _mm256_mul_ps(x, x), p = _mm256_set1_ps(SNT_K_ERF_P[0]);
  for (int i = 1; i < 6; i++) p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(SNT_K_ERF_P[i]));
  return _mm256_mul_ps(x, p);
}

AVX2 static inline __m256 erfc_big8(__m256 a) { /* min keeps a NaN a */
  __m256 t = _mm256_sub_ps(_mm256_min_ps(_mm256_set1_ps(SNT_K_ERF_BIG), a), _mm256_set1_ps(SNT_K_ERF_SPLIT));
  __m256 q = _mm256_set1_ps(SNT_K_ERF_Q[0]);
  for (int i = 1; i < 11; i++) q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(SNT_K_ERF_Q[i]));
  return exp8(q);
}

AVX2 static inline __m256 erf8(__m256 x) {
  __m256 a = abs8(x), sign = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN)));
  __m256 big = _mm256_or_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), erfc_big8(a)), sign);
  return _mm256_blendv_ps(big, erf_small8(x), _mm256_cmp_ps(a, _mm256_set1_ps(SNT_K_ERF_SPLIT), _CMP_LT_OQ));
}

AVX2 static inline __m256 gelu8(__m256 v) {
  __m256 u = _mm256_mul_ps(v, _mm256_set1_ps(SNT_K_SQRT1_2)), a = abs8(u);
  __m256 e = _mm256_blendv_ps(erfc_big8(a), _mm256_setzero_ps(), _mm256_cmp_ps(a, _mm256_set1_ps(SNT_K_ERF_BIG), _CMP_GT_OQ));
  __m256 s = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), e), e, _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_LT_OQ));
  s = _mm256_blendv_ps(s, _mm256_add_ps(_mm256_set1_ps(1.0f), erf_small8(u)),
                       _mm256_cmp_ps(a, _mm256_set1_ps(SNT_K_ERF_SPLIT), _CMP_LT_OQ));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), s);
}

AVX2 static inline __attribute__((always_inline)) __m256 act8(const snt_k_act *a, snt_k_act_kind kind, __m256 v) {
  switch (kind) {
    case SNT_K_ACT_NONE: return v;
    case SNT_K_ACT_RELU: return _mm256_max_ps(_mm256_setzero_ps(), v);
    case SNT_K_ACT_LEAKY_RELU:
      return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(a->alpha)), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
    case SNT_K_ACT_CLIP:
      return _mm256_min_ps(_mm256_set1_ps(a->clip_max), _mm256_max_ps(_mm256_set1_ps(a->clip_min), v));
    case SNT_K_ACT_SIGMOID: return sigmoid8(v);
    case SNT_K_ACT_SILU: return _mm256_mul_ps(v, sigmoid8(v));
    case SNT_K_ACT_EXP: return exp8(v);
    case SNT_K_ACT_TANH: return tanh8(v);
    case SNT_K_ACT_HARD_SIGMOID: return hard_sigmoid8(v, a);
    case SNT_K_ACT_HARD_SWISH: return _mm256_mul_ps(v, hard_sigmoid8(v, a));
    case SNT_K_ACT_MISH: return mish8(v);
    case SNT_K_ACT_ERF: return erf8(v);
    case SNT_K_ACT_GELU: return gelu8(v);
  }
  return v;
}

AVX2 static inline __attribute__((always_inline)) void pass8(const snt_k_act *act, snt_k_act_kind kind, const float *x,
                                                             float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, act8(act, kind, _mm256_loadu_ps(x + i)));
  if (i < n) { /* the tail through a buffer: an 8-lane load past n could fault */
    float t[8] = {0};
    for (int64_t k = i; k < n; k++) t[k - i] = x[k];
    _mm256_storeu_ps(t, act8(act, kind, _mm256_loadu_ps(t)));
    for (int64_t k = i; k < n; k++) y[k] = t[k - i];
  }
}

AVX2 void snt_k_act_pass_avx2(const snt_k_act *act, const float *x, float *y, int64_t n) { PASS_CASES(pass8) }

void snt_k_act_pass(snt_k_isa isa, const snt_k_act *act, const float *x, float *y, int64_t n) {
  if (isa == SNT_K_ISA_AVX512) snt_k_act_pass_avx512(act, x, y, n);
  else if (isa == SNT_K_ISA_AVX2) snt_k_act_pass_avx2(act, x, y, n);
  else snt_k_act_pass_c(act, x, y, n);
}

/* ---- standalone nodes: snt_k_activation on the team ------------------------------------- */

typedef struct act_job {
  const snt_k_act *act;
  const float *x;
  float *y;
  int64_t n;
  snt_k_isa isa;
} act_job;

static void act_part(void *arg, int t, int threads) {
  const act_job *j = arg;
  int64_t b = j->n * t / threads / VEC * VEC, e = t + 1 == threads ? j->n : j->n * (t + 1) / threads / VEC * VEC;
  if (e > b) snt_k_act_pass(j->isa, j->act, j->x + b, j->y + b, e - b);
}

void snt_k_activation(snt_k_ctx *ctx, const snt_k_act *act, const float *x, float *y, int64_t n) {
  act_job j = {act, x, y, n, snt_k_ctx_isa(ctx)};
  /* below ~16K elements a second thread costs more than it saves */
  if (n < 16384 || snt_k_ctx_threads(ctx) < 2) act_part(&j, 0, 1);
  else snt_k_ctx_parallel(ctx, act_part, &j);
}
