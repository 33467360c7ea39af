/* The fused activations on one AVX-512 vector, shared by the stores of the GEMM microkernel,
 * the direct convolution and the small-map convolution, so that every path computes them alike;
 * it inlines into callers whose target includes AVX-512F. */
#ifndef SNT_KERNELS_ACT_AVX512_H
#define SNT_KERNELS_ACT_AVX512_H

#include <immintrin.h>

#include "sinter/kernels.h"

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

#endif
