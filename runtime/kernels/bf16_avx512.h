/* float32 -> bfloat16 with vcvtneps2bf16 / vcvtne2ps2bf16 (AVX512_BF16: round to nearest even,
 * denormals to zero, NaN quiet), the rounding of the BF16 GEMM's packers: a layer that writes
 * its output in bfloat16 (a BF16 tap) hands the next layer exactly the values that layer would
 * have rounded. Written as inline assembly so that AVX-512F code (the FP32 microkernel's store)
 * can use them without being compiled for AVX512_BF16: callers run them only where
 * snt_k_bf16_available() holds, as every BF16 tap does. */
#ifndef SNT_KERNELS_BF16_AVX512_H
#define SNT_KERNELS_BF16_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* The 16 values of v rounded, in order. */
__attribute__((target("avx512f"), always_inline, unused)) static inline __m256i snt_k_bf16_of512(__m512 v) {
  __m256i r;
  __asm__("vcvtneps2bf16 %1, %0" : "=v"(r) : "v"(v));
  return r;
}

/* lo's 16 values rounded, then hi's: one 64-byte line of bfloat16. */
__attribute__((target("avx512f"), always_inline, unused)) static inline __m512i snt_k_bf16_of512x2(__m512 lo,
                                                                                                  __m512 hi) {
  __m512i r;
  __asm__("vcvtne2ps2bf16 %2, %1, %0" : "=v"(r) : "v"(hi), "v"(lo));
  return r;
}

/* The 16 rounded values of v to dst, lanes m only; stream: a whole 32-byte-aligned vector
 * that skips the read for ownership. */
__attribute__((target("avx512f"), always_inline, unused)) static inline void snt_k_bf16_store512(uint16_t *dst,
                                                                                              __m512 v, __mmask16 m,
                                                                                              int stream) {
  __m256i h = snt_k_bf16_of512(v);
  if (stream) {
    _mm256_stream_si256((__m256i *)dst, h);
  } else if (m == 0xffff) {
    _mm256_storeu_si256((__m256i *)dst, h);
  } else { /* a tile's last columns: 16-bit masked stores need AVX512BW, which this code may not assume */
    uint16_t t[16];
    _mm256_storeu_si256((__m256i *)t, h);
    for (int i = 0; i < 16; i++)
      if (m >> i & 1) dst[i] = t[i];
  }
}

#endif
