/* One k step of the AVX-512 14 x 32 register tile, shared by the GEMM microkernel
 * (gemm_avx512.c) and the small-map convolution's (conv_t_tile.c): two B vectors, MR broadcasts
 * of A, 2 MR FMAs. Inlines into callers whose target includes AVX-512F. */
#ifndef SNT_KERNELS_UKR_AVX512_H
#define SNT_KERNELS_UKR_AVX512_H

#include <immintrin.h>

#include "gemm_ukr.h"

__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void
snt_k_ukr_step_avx512(const float *a, const float *b, __m512 *c0, __m512 *c1) {
  __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 14
  for (int i = 0; i < SNT_K_AVX512_MR; i++) {
    __m512 ai = _mm512_set1_ps(a[i]);
    c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
    c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
  }
}

#endif
