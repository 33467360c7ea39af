/* The transposing packer on AVX-512 (gemm_ukr.h): a strip whose source rows run along k (A not
 * transposed, B transposed: the filter gradient's operands, both summed along the image) is
 * gathered 16 x 16 at a time through an in-register transpose instead of one float per load.
 * It only copies, so its output is bit for bit that of the scalar packer (gemm_core.c). */
#include <immintrin.h>

#include "gemm_ukr.h"

#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline __mmask16 lanes(int64_t count) {
  return count >= 16 ? (__mmask16)0xFFFF : (count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1));
}

/* r[j] becomes column j of the 16 x 16 matrix whose rows were r[0..15]. */
AVX512 static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) { /* u[4i + q]: element q of each 4-float lane, rows 4i..4i+3 */
    __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int q = 0; q < 4; q++) { /* columns q, 4 + q, 8 + q, 12 + q */
    __m512 vlo = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88), vhi = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xDD);
    __m512 wlo = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88), whi = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xDD);
    r[q] = _mm512_shuffle_f32x4(vlo, wlo, 0x88);
    r[8 + q] = _mm512_shuffle_f32x4(vlo, wlo, 0xDD);
    r[4 + q] = _mm512_shuffle_f32x4(vhi, whi, 0x88);
    r[12 + q] = _mm512_shuffle_f32x4(vhi, whi, 0xDD);
  }
}

/* d[kk * width + ii] = rows[ii][kk] for ii < h, 0 for h <= ii < width, over kcb columns.
 * Rows past h are never read; columns past kcb neither (masked loads). */
AVX512 void snt_k_pack_ptrs_t_avx512(const float *const *rows, int h, int64_t kcb, int width, float *d) {
  for (int g0 = 0; g0 < width; g0 += 16) {
    __mmask16 out = lanes(width - g0);
    for (int64_t k0 = 0; k0 < kcb; k0 += 16) {
      __mmask16 in = lanes(kcb - k0);
      __m512 r[16];
      if (g0 + 16 <= h && kcb - k0 >= 16) { /* the body: constant trip counts, all in registers */
        for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(rows[g0 + i] + k0);
        transpose16(r);
        for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(d + (k0 + j) * width + g0, out, r[j]);
        continue;
      }
      for (int i = 0; i < 16; i++) r[i] = g0 + i < h ? _mm512_maskz_loadu_ps(in, rows[g0 + i] + k0) : _mm512_setzero_ps();
      transpose16(r);
      int64_t n = kcb - k0 < 16 ? kcb - k0 : 16;
      for (int j = 0; j < n; j++) _mm512_mask_storeu_ps(d + (k0 + j) * width + g0, out, r[j]);
    }
  }
}

void snt_k_pack_rows_t_avx512(const float *a, int64_t lda, int h, int64_t kcb, int width, float *d) {
  const float *rows[SNT_K_NR_MAX];
  for (int i = 0; i < h; i++) rows[i] = a + i * lda;
  snt_k_pack_ptrs_t_avx512(rows, h, kcb, width, d);
}
