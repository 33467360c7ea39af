/* The fused activations on one AVX-512 vector, shared by the stores of the GEMM microkernel,
 * the direct, depthwise, Winograd and small-map convolutions and by the activation pass
 * (act_pass.c), so that every path computes them alike; it inlines into callers whose target
 * includes AVX-512F. snt_k_act_vec512 is the cheap ones (relu, leaky relu, clip: others pass
 * unchanged, for a caller that runs act_pass.h's pass after); snt_k_act_all512 is every kind,
 * with act_pass.c's formulas (Cephes' expf and tanhf). */
#ifndef SNT_KERNELS_ACT_AVX512_H
#define SNT_KERNELS_ACT_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "sinter/kernels.h"

#define SNT_AVX512_INLINE __attribute__((target("avx512f"), always_inline, unused)) static inline

/* relu / leaky / clip (sigmoid and tanh: the caller's pass; anything else unchanged). NaN
 * passes relu. */
__attribute__((target("avx512f"))) static inline __m512 snt_k_act_vec512(__m512 v, const snt_k_act *act) {
  switch (act->kind) {
    case SNT_K_ACT_RELU: return _mm512_max_ps(_mm512_setzero_ps(), v);
    case SNT_K_ACT_LEAKY_RELU: {
      __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(act->alpha));
    }
    case SNT_K_ACT_CLIP:
      return _mm512_min_ps(_mm512_set1_ps(act->clip_max), _mm512_max_ps(_mm512_set1_ps(act->clip_min), v));
    default: return v;
  }
}

static const float __attribute__((unused)) SNT_K_LOG2E = 1.44269504088896341f, SNT_K_LN2_HI = 0.693359375f, SNT_K_LN2_LO = -2.12194440e-4f;
static const float __attribute__((unused)) SNT_K_EXP_LO = -104.0f, SNT_K_EXP_HI = 89.0f;
static const float __attribute__((unused)) SNT_K_EP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
static const float __attribute__((unused)) SNT_K_TP[5] = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f, 1.33314422036e-1f,
                            -3.33332819422e-1f};
static const float __attribute__((unused)) SNT_K_TANH_SMALL = 0.625f;
/* mish(x) = x * tanh(log(1 + e^x)) = x * n / (n + 2) with n = e^x (e^x + 2): one exp and no
 * cancellation; past 20, tanh(softplus(x)) is 1 in float (and n would overflow). */
static const float __attribute__((unused)) SNT_K_MISH_BIG = 20.0f;
/* erf(x) = x P(x^2) below |x| = 0.5 and 1 - erfc(|x|) above, with erfc(a) = exp(Q(a - 0.5)), a
 * clamped to 4 (erf is 1 in float from 3.92 on): least-squares fits (relative error on [0, 0.5],
 * of log erfc on [0.5, 4]), within 2.5 ulp of erf. GELU's 1 + erf(u) for u <= -0.5 is erfc(|u|)
 * itself, so it keeps its precision where erf is near -1; past u = -4 it is 0. */
static const float __attribute__((unused)) SNT_K_ERF_SPLIT = 0.5f, SNT_K_ERF_BIG = 4.0f;
static const float __attribute__((unused)) SNT_K_ERF_P[6] = {-7.706670357e-04f, 5.201225063e-03f, -2.686333771e-02f,
                                                            1.128377601e-01f, -3.761263860e-01f, 1.128379167e+00f};
static const float __attribute__((unused)) SNT_K_ERF_Q[11] = {
    -1.403611960e-07f, 2.681496932e-06f, -2.055923046e-05f, 6.487550547e-05f, 1.396850477e-04f, -2.610422822e-03f,
    1.582564191e-02f,  -6.714365892e-02f, -7.630317142e-01f, -1.832707351e+00f, -7.350111061e-01f};
static const float __attribute__((unused)) SNT_K_SQRT1_2 = 0.70710678118654752f;

SNT_AVX512_INLINE __m512 snt_k_clamp16(__m512 v, float lo, float hi) {
  return _mm512_max_ps(_mm512_set1_ps(lo), _mm512_min_ps(_mm512_set1_ps(hi), v));
}

/* exp(x) for x already within [SNT_K_EXP_LO, SNT_K_EXP_HI] (or NaN): Cephes' reduction by
 * ln 2, its polynomial, and the power of two applied with scalef. */
SNT_AVX512_INLINE __m512 snt_k_exp16_in_range(__m512 x) {
  __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(SNT_K_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(SNT_K_LN2_HI), x);
  r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(SNT_K_LN2_LO), r);
  __m512 p = _mm512_set1_ps(SNT_K_EP[0]);
  for (int i = 1; i < 6; i++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(SNT_K_EP[i]));
  __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(y, fx);
}

SNT_AVX512_INLINE __m512 snt_k_exp16(__m512 x) { return snt_k_exp16_in_range(snt_k_clamp16(x, SNT_K_EXP_LO, SNT_K_EXP_HI)); }

/* exp(x) for x <= 0 or NaN (sigmoid's exp(-|v|)): no upper clamp, which such x never reach;
 * max(lo, x) keeps a NaN x. */
SNT_AVX512_INLINE __m512 snt_k_exp16_nonpos(__m512 x) {
  return snt_k_exp16_in_range(_mm512_max_ps(_mm512_set1_ps(SNT_K_EXP_LO), x));
}

/* -|v| in one operation: the sign bit set. */
SNT_AVX512_INLINE __m512 snt_k_neg_abs16(__m512 v) {
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u)));
}

/* 1 / d for d in [1, 2^64]: the 14-bit estimate and one Newton step (rounding aside, 2^-27). */
SNT_AVX512_INLINE __m512 snt_k_recip16(__m512 d) {
  __m512 r = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}

/* With e = exp(-|v|) in (0, 1]: 1 / (1 + e) for v >= 0, e / (1 + e) below, so that neither
 * overflows and the small results keep their precision (down into the subnormals). */
SNT_AVX512_INLINE __m512 snt_k_sigmoid16(__m512 v) {
  __m512 e = snt_k_exp16_nonpos(snt_k_neg_abs16(v));
  __m512 r = snt_k_recip16(_mm512_add_ps(_mm512_set1_ps(1.0f), e));
  __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(r, neg, r, e);
}

SNT_AVX512_INLINE __m512 snt_k_tanh16(__m512 x) {
  __m512 ax = _mm512_abs_ps(x), z = _mm512_mul_ps(x, x), p = _mm512_set1_ps(SNT_K_TP[0]);
  for (int i = 1; i < 5; i++) p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(SNT_K_TP[i]));
  __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
  /* 1 - 2 / (exp(2|x|) + 1) = 1 - 2 e / (1 + e) with e = exp(-2|x|) in (0, 1] */
  __m512 e = snt_k_exp16(_mm512_mul_ps(_mm512_set1_ps(-2.0f), ax));
  __m512 q = _mm512_mul_ps(e, snt_k_recip16(_mm512_add_ps(_mm512_set1_ps(1.0f), e)));
  __m512 big = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), q, _mm512_set1_ps(1.0f));
  big = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(big), /* x's sign */
                                            _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
  __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(SNT_K_TANH_SMALL), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(is_small, big, small);
}

SNT_AVX512_INLINE __m512 snt_k_hard_sigmoid16(__m512 v, const snt_k_act *a) {
  __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(a->alpha), _mm512_set1_ps(a->beta));
  return _mm512_max_ps(_mm512_setzero_ps(), _mm512_min_ps(_mm512_set1_ps(1.0f), t));
}

SNT_AVX512_INLINE __m512 snt_k_mish16(__m512 v) {
  __m512 e = snt_k_exp16(_mm512_min_ps(_mm512_set1_ps(SNT_K_MISH_BIG), v));
  __m512 n = _mm512_mul_ps(e, _mm512_add_ps(e, _mm512_set1_ps(2.0f)));
  __m512 r = _mm512_mul_ps(v, _mm512_mul_ps(n, snt_k_recip16(_mm512_add_ps(n, _mm512_set1_ps(2.0f)))));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_set1_ps(SNT_K_MISH_BIG), _CMP_GT_OQ), r, v);
}

/* x P(x^2), erf for |x| < SNT_K_ERF_SPLIT */
SNT_AVX512_INLINE __m512 snt_k_erf_small16(__m512 x) {
  __m512 z = _mm512_mul_ps(x, x), p = _mm512_set1_ps(SNT_K_ERF_P[0]);
  for (int i = 1; i < 6; i++) p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(SNT_K_ERF_P[i]));
  return _mm512_mul_ps(x, p);
}

/* erfc(a) for a = |x| >= SNT_K_ERF_SPLIT (a clamped to SNT_K_ERF_BIG; min keeps a NaN a). */
SNT_AVX512_INLINE __m512 snt_k_erfc_big16(__m512 a) {
  __m512 t = _mm512_sub_ps(_mm512_min_ps(_mm512_set1_ps(SNT_K_ERF_BIG), a), _mm512_set1_ps(SNT_K_ERF_SPLIT));
  __m512 q = _mm512_set1_ps(SNT_K_ERF_Q[0]);
  for (int i = 1; i < 11; i++) q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(SNT_K_ERF_Q[i]));
  return snt_k_exp16(q);
}

SNT_AVX512_INLINE __m512 snt_k_erf16(__m512 x) {
  __m512 a = _mm512_abs_ps(x);
  __m512 big = _mm512_sub_ps(_mm512_set1_ps(1.0f), snt_k_erfc_big16(a));
  big = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(big), /* x's sign */
                                            _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
  __mmask16 small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(SNT_K_ERF_SPLIT), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(small, big, snt_k_erf_small16(x));
}

/* 0.5 v (1 + erf(u)), u = v / sqrt 2: 1 + erf(u) is 1 + u P(u^2) near 0, 2 - erfc(u) above,
 * erfc(|u|) below (0 past -SNT_K_ERF_BIG, so that -inf gives NaN as the formula does). */
SNT_AVX512_INLINE __m512 snt_k_gelu16(__m512 v) {
  __m512 u = _mm512_mul_ps(v, _mm512_set1_ps(SNT_K_SQRT1_2)), a = _mm512_abs_ps(u);
  __m512 e = snt_k_erfc_big16(a);
  e = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(SNT_K_ERF_BIG), _CMP_GT_OQ), e, _mm512_setzero_ps());
  __mmask16 neg = _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_LT_OQ);
  __m512 s = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(2.0f), e), e);
  __mmask16 small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(SNT_K_ERF_SPLIT), _CMP_LT_OQ);
  s = _mm512_mask_blend_ps(small, s, _mm512_add_ps(_mm512_set1_ps(1.0f), snt_k_erf_small16(u)));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), s);
}

/* kind is a constant wherever this inlines (pass16), so the switch folds away. */
SNT_AVX512_INLINE __m512 snt_k_act16(const snt_k_act *a, snt_k_act_kind kind, __m512 v) {
  switch (kind) {
    case SNT_K_ACT_NONE: return v;
    case SNT_K_ACT_RELU: return _mm512_max_ps(_mm512_setzero_ps(), v);
    case SNT_K_ACT_LEAKY_RELU:
      return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, _mm512_set1_ps(a->alpha));
    case SNT_K_ACT_CLIP:
      return _mm512_min_ps(_mm512_set1_ps(a->clip_max), _mm512_max_ps(_mm512_set1_ps(a->clip_min), v));
    case SNT_K_ACT_SIGMOID: return snt_k_sigmoid16(v);
    case SNT_K_ACT_SILU: return _mm512_mul_ps(v, snt_k_sigmoid16(v));
    case SNT_K_ACT_EXP: return snt_k_exp16(v);
    case SNT_K_ACT_TANH: return snt_k_tanh16(v);
    case SNT_K_ACT_HARD_SIGMOID: return snt_k_hard_sigmoid16(v, a);
    case SNT_K_ACT_HARD_SWISH: return _mm512_mul_ps(v, snt_k_hard_sigmoid16(v, a));
    case SNT_K_ACT_MISH: return snt_k_mish16(v);
    case SNT_K_ACT_ERF: return snt_k_erf16(v);
    case SNT_K_ACT_GELU: return snt_k_gelu16(v);
  }
  return v;
}

/* snt_k_sigmoid16 of four vectors, each step of the four adjacent: alone its chain of some 20
 * dependent operations leaves the FMA pipes idle (SiLU 3.9 ns a vector in a loop, 2.9 ns four
 * at a time, this machine). The same operations in the same order as snt_k_sigmoid16 and
 * snt_k_exp16_in_range, so the same bits: change them together (test_act_pass checks). */
SNT_AVX512_INLINE void snt_k_sigmoid16x4(__m512 v[4]) {
  __m512 e[4], fx[4], r[4], p[4];
#define SNT_X4 for (int u = 0; u < 4; u++)
  SNT_X4 e[u] = _mm512_max_ps(_mm512_set1_ps(SNT_K_EXP_LO), snt_k_neg_abs16(v[u]));
  SNT_X4 fx[u] = _mm512_roundscale_ps(_mm512_mul_ps(e[u], _mm512_set1_ps(SNT_K_LOG2E)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  SNT_X4 r[u] = _mm512_fnmadd_ps(fx[u], _mm512_set1_ps(SNT_K_LN2_HI), e[u]);
  SNT_X4 r[u] = _mm512_fnmadd_ps(fx[u], _mm512_set1_ps(SNT_K_LN2_LO), r[u]);
  SNT_X4 p[u] = _mm512_set1_ps(SNT_K_EP[0]);
  for (int i = 1; i < 6; i++) SNT_X4 p[u] = _mm512_fmadd_ps(p[u], r[u], _mm512_set1_ps(SNT_K_EP[i]));
  SNT_X4 p[u] = _mm512_add_ps(_mm512_fmadd_ps(p[u], _mm512_mul_ps(r[u], r[u]), r[u]), _mm512_set1_ps(1.0f));
  SNT_X4 e[u] = _mm512_scalef_ps(p[u], fx[u]);
  SNT_X4 r[u] = snt_k_recip16(_mm512_add_ps(_mm512_set1_ps(1.0f), e[u]));
  SNT_X4 v[u] = _mm512_mask_mul_ps(r[u], _mm512_cmp_ps_mask(v[u], _mm512_setzero_ps(), _CMP_LT_OQ), r[u], e[u]);
#undef SNT_X4
}

/* snt_k_act16 of four vectors: the exp-based sigmoid and SiLU interleaved, the rest one by one. */
SNT_AVX512_INLINE void snt_k_act16x4(const snt_k_act *a, snt_k_act_kind kind, __m512 v[4]) {
  if (kind == SNT_K_ACT_SIGMOID) {
    snt_k_sigmoid16x4(v);
  } else if (kind == SNT_K_ACT_SILU) {
    __m512 s[4] = {v[0], v[1], v[2], v[3]};
    snt_k_sigmoid16x4(s);
    for (int u = 0; u < 4; u++) v[u] = _mm512_mul_ps(v[u], s[u]);
  } else {
    for (int u = 0; u < 4; u++) v[u] = snt_k_act16(a, kind, v[u]);
  }
}

/* kind on n vectors in place, four at a time: for stores that have a tile's values at hand
 * (kind a constant where the caller switches on it, act->kind otherwise). */
SNT_AVX512_INLINE void snt_k_act_vecs_kind512(const snt_k_act *act, snt_k_act_kind kind, __m512 *v, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) snt_k_act16x4(act, kind, v + i);
  for (; i < n; i++) v[i] = snt_k_act16(act, kind, v[i]);
}

SNT_AVX512_INLINE void snt_k_act_vecs512(const snt_k_act *act, __m512 *v, int n) {
  snt_k_act_vecs_kind512(act, act->kind, v, n);
}

/* Every kind, act->kind read once per call. */
__attribute__((target("avx512f"))) static inline __m512 snt_k_act_all512(__m512 v, const snt_k_act *act) {
  return snt_k_act16(act, act->kind, v);
}

#endif
