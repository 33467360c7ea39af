/* The AVX-512 GEMM path: a 14 x 32 register tile (28 zmm accumulators, so both FMA pipes stay
 * busy past the 4-cycle latency), masked stores at the edges, the epilogue in registers (every
 * activation, the exp-based ones too).
 * Compiled for avx512f per function, so the rest of the runtime stays generic. */
#include <immintrin.h>
#include <stdint.h>

#include "act_avx512.h"
#include "bf16_avx512.h"
#include "act_pass.h"
#include "ukr_avx512.h"
#include "gemm_ukr.h"

#define AVX512 __attribute__((target("avx512f")))

enum { MR = SNT_K_AVX512_MR, NR = SNT_K_AVX512_NR };

AVX512 static inline __mmask16 lane_mask(int count) {
  return count >= 16 ? (__mmask16)0xFFFF : (count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1));
}

/* The exp-based and hard activations over a finished tile, in one call after the accumulators
 * are dead: a call per vector spilled the 28 live ones each time, and here the kind's loop runs
 * over independent vectors, so that their long dependency chains overlap. */
#define ACT_LOOP(kind)                          \
  case kind:                                    \
    snt_k_act_vecs_kind512(act, kind, v, n);    \
    break
AVX512 __attribute__((noinline)) static void act_tile(__m512 *v, int n, const snt_k_act *act) {
  switch (act->kind) {
    ACT_LOOP(SNT_K_ACT_SILU);
    ACT_LOOP(SNT_K_ACT_SIGMOID);
    ACT_LOOP(SNT_K_ACT_TANH);
    ACT_LOOP(SNT_K_ACT_HARD_SWISH);
    ACT_LOOP(SNT_K_ACT_HARD_SIGMOID);
    ACT_LOOP(SNT_K_ACT_MISH);
    ACT_LOOP(SNT_K_ACT_GELU);
    ACT_LOOP(SNT_K_ACT_EXP);
    default:
      for (int i = 0; i < n; i++) v[i] = snt_k_act_all512(v[i], act);
      break;
  }
}
#undef ACT_LOOP

/* Row i of the tile before its activation: alpha, C's old value, the biases and the residual. */
AVX512 static inline __attribute__((always_inline)) void row_values(const snt_k_ukr_args *p, int i, __m512 a0,
                                                                    __m512 a1, __mmask16 m0, __mmask16 m1,
                                                                    __m512 *v0, __m512 *v1) {
  const float *c = p->c + i * p->ldc;
  __m512 alpha = _mm512_set1_ps(p->alpha);
  *v0 = _mm512_mul_ps(a0, alpha), *v1 = _mm512_mul_ps(a1, alpha);
  if (p->load_c) {
    *v0 = _mm512_add_ps(*v0, _mm512_maskz_loadu_ps(m0, c));
    *v1 = _mm512_add_ps(*v1, _mm512_maskz_loadu_ps(m1, c + 16));
  }
  if (!p->last) return;
  if (p->row_bias) {
    __m512 rb = _mm512_set1_ps(p->row_bias[i]);
    *v0 = _mm512_add_ps(*v0, rb);
    *v1 = _mm512_add_ps(*v1, rb);
  }
  if (p->col_bias) {
    *v0 = _mm512_add_ps(*v0, _mm512_maskz_loadu_ps(m0, p->col_bias));
    *v1 = _mm512_add_ps(*v1, _mm512_maskz_loadu_ps(m1, p->col_bias + 16));
  }
  if (p->residual) {
    const float *r = p->residual + i * p->ldr;
    *v0 = _mm512_add_ps(*v0, _mm512_maskz_loadu_ps(m0, r));
    *v1 = _mm512_add_ps(*v1, _mm512_maskz_loadu_ps(m1, r + 16));
  }
}

/* Row i's final values to C, and to the tap when there is one. */
AVX512 static inline __attribute__((always_inline)) void row_store(const snt_k_ukr_args *p, int i, __m512 v0,
                                                                   __m512 v1, __mmask16 m0, __mmask16 m1,
                                                                   int stream, int stream16) {
  float *c = p->c + i * p->ldc;
  if (stream) {
    _mm512_stream_ps(c, v0);
    _mm512_stream_ps(c + 16, v1);
  } else {
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
  }
  if (p->tap || p->tap16) { /* p->last is set whenever the driver gives a tap */
    __m512 s = _mm512_set1_ps(p->tap_scale[i]), b = _mm512_set1_ps(p->tap_shift[i]);
    /* snt_k_bn_infer's multiply, add, max(v, 0) (NaN to 0); the first two may become an FMA. */
    __m512 t0 = _mm512_add_ps(_mm512_mul_ps(v0, s), b), t1 = _mm512_add_ps(_mm512_mul_ps(v1, s), b);
    if (p->tap_relu) {
      t0 = _mm512_max_ps(t0, _mm512_setzero_ps());
      t1 = _mm512_max_ps(t1, _mm512_setzero_ps());
    }
    if (p->tap16 && stream16 == 2) { /* the row's 32 values: one 64-byte line */
      _mm512_stream_si512((__m512i *)(p->tap16 + i * p->ldt), snt_k_bf16_of512x2(t0, t1));
    } else if (p->tap16 && (m0 & m1) == 0xffff && !stream16) {
      _mm512_storeu_si512(p->tap16 + i * p->ldt, snt_k_bf16_of512x2(t0, t1));
    } else if (p->tap16) {
      snt_k_bf16_store512(p->tap16 + i * p->ldt, t0, m0, stream16);
      snt_k_bf16_store512(p->tap16 + i * p->ldt + 16, t1, m1, stream16);
    } else if (stream) {
      _mm512_stream_ps(p->tap + i * p->ldt, t0);
      _mm512_stream_ps(p->tap + i * p->ldt + 16, t1);
    } else {
      _mm512_mask_storeu_ps(p->tap + i * p->ldt, m0, t0);
      _mm512_mask_storeu_ps(p->tap + i * p->ldt + 16, m1, t1);
    }
  }
}

AVX512 void snt_k_ukr_avx512(const snt_k_ukr_args *p) {
  __m512 c0[MR], c1[MR];
  /* Streamed full tiles skip the read of C: it is written whole, not read. */
  int stream = p->stream && p->last && p->nr == NR && !p->load_c && ((uintptr_t)p->c & 63) == 0 &&
               (p->ldc & 15) == 0 && (!p->tap || (((uintptr_t)p->tap & 63) == 0 && (p->ldt & 15) == 0));
  /* A BF16 tap's row of 32 values: one streamed line when aligned (2), two streamed halves when
   * 32-byte aligned (1: measured faster than stores through the cache), else cached stores. */
  int stream16 = !stream || !p->tap16 ? 0
                 : ((uintptr_t)p->tap16 & 63) == 0 && (p->ldt & 31) == 0 ? 2
                 : ((uintptr_t)p->tap16 & 31) == 0 && (p->ldt & 15) == 0 ? 1 : 0;
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) {
    c0[i] = _mm512_setzero_ps();
    c1[i] = _mm512_setzero_ps();
    if (!stream) {
      _mm_prefetch((const char *)(p->c + i * p->ldc), _MM_HINT_T0);
      _mm_prefetch((const char *)(p->c + i * p->ldc + 16), _MM_HINT_T0);
    }
  }
  if (p->last && p->residual) { /* its rows are 14 strided streams the hardware does not follow */
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
      if (i >= p->mr) break;
      _mm_prefetch((const char *)(p->residual + i * p->ldr), _MM_HINT_T0);
      _mm_prefetch((const char *)(p->residual + i * p->ldr + 16), _MM_HINT_T0);
    }
  }
  const float *a = p->a, *b = p->b;
  const int64_t ldb = p->ldb;
  if (p->prefetch_b) { /* first use of this B strip: fetch the next strip's rows meanwhile */
    for (int64_t k = 0; k < p->kc; k++, a += MR, b += ldb) {
      _mm_prefetch((const char *)(b + p->b_next), _MM_HINT_T0);
      _mm_prefetch((const char *)(b + p->b_next + 16), _MM_HINT_T0);
      snt_k_ukr_step_avx512(a, b, c0, c1);
    }
  } else {
#pragma GCC unroll 2
    for (int64_t k = 0; k < p->kc; k++, a += MR, b += ldb) snt_k_ukr_step_avx512(a, b, c0, c1);
  }
  __mmask16 m0 = lane_mask(p->nr), m1 = lane_mask(p->nr - 16);
  if (p->last && snt_k_act_needs_pass(&p->act)) {
    __m512 t[2 * MR];
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
      if (i >= p->mr) break;
      row_values(p, i, c0[i], c1[i], m0, m1, &t[2 * i], &t[2 * i + 1]);
    }
    act_tile(t, 2 * p->mr, &p->act);
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
      if (i >= p->mr) break;
      row_store(p, i, t[2 * i], t[2 * i + 1], m0, m1, stream, stream16);
    }
    return;
  }
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) {
    if (i >= p->mr) break;
    __m512 v0, v1;
    row_values(p, i, c0[i], c1[i], m0, m1, &v0, &v1);
    if (p->last) {
      v0 = snt_k_act_vec512(v0, &p->act);
      v1 = snt_k_act_vec512(v1, &p->act);
    }
    row_store(p, i, v0, v1, m0, m1, stream, stream16);
  }
}

/* Dot products: four 16-lane partial sums, the tail masked, one fixed reduction order. */
/* Four rows at a time: x is loaded once for four rows, and four streams of w are in flight.
 * Each y[j] is the same sum in the same order as a row alone. */
AVX512 static inline __attribute__((always_inline)) void dot_rows4(int64_t k, const float *x, const float *w,
                                                                   int64_t ldw, float *y) {
  int64_t k32 = k / 32 * 32;
  const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
  int64_t kk = 0;
  for (; kk < k32; kk += 32) {
    __m512 x0 = _mm512_loadu_ps(x + kk), x1 = _mm512_loadu_ps(x + kk + 16);
    a0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w0 + kk), a0);
    b0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w1 + kk), b0);
    c0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w2 + kk), c0);
    d0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w3 + kk), d0);
    a1 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(w0 + kk + 16), a1);
    b1 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(w1 + kk + 16), b1);
    c1 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(w2 + kk + 16), c1);
    d1 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(w3 + kk + 16), d1);
  }
  for (; kk < k; kk += 16) {
    __mmask16 m = lane_mask((int)(k - kk));
    __m512 x0 = _mm512_maskz_loadu_ps(m, x + kk);
    a0 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m, w0 + kk), a0);
    b0 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m, w1 + kk), b0);
    c0 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m, w2 + kk), c0);
    d0 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m, w3 + kk), d0);
  }
  y[0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  y[1] = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
  y[2] = _mm512_reduce_add_ps(_mm512_add_ps(c0, c1));
  y[3] = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
}

AVX512 void snt_k_gemv_dot_avx512(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) dot_rows4(k, x, w + j * ldw, ldw, y + j);
  for (; j < n; j++) {
    float t[4];
    /* the last rows alone: the same sums, the missing rows read as row j again */
    dot_rows4(k, x, w + j * ldw, 0, t);
    y[j] = t[0];
  }
}

/* Rows of w scaled and summed in k order, up to 128 columns (8 accumulators) per pass; only
 * the live vectors are touched. Each y[j] is the same k-ordered sum whatever the pass width. */
AVX512 static inline __attribute__((always_inline)) void axpy_pass(int nv, int64_t cols, int64_t k, const float *x,
                                                                   const float *w, int64_t ldw, float *y) {
  __mmask16 m[8];
  __m512 s[8];
#pragma GCC unroll 8
  for (int v = 0; v < nv; v++) {
    m[v] = lane_mask((int)(cols - 16 * v > 16 ? 16 : cols - 16 * v));
    s[v] = _mm512_setzero_ps();
  }
  for (int64_t kk = 0; kk < k; kk++) {
    const float *wr = w + kk * ldw;
    __m512 xv = _mm512_set1_ps(x[kk]);
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) s[v] = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m[v], wr + 16 * v), s[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < nv; v++) _mm512_mask_storeu_ps(y + 16 * v, m[v], s[v]);
}

AVX512 void snt_k_gemv_axpy_avx512(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y) {
  for (int64_t j0 = 0; j0 < n; j0 += 128) {
    int64_t cols = n - j0 < 128 ? n - j0 : 128;
    switch ((cols + 15) / 16) {
      case 1: axpy_pass(1, cols, k, x, w + j0, ldw, y + j0); break;
      case 2: axpy_pass(2, cols, k, x, w + j0, ldw, y + j0); break;
      case 3: axpy_pass(3, cols, k, x, w + j0, ldw, y + j0); break;
      case 4: axpy_pass(4, cols, k, x, w + j0, ldw, y + j0); break;
      default: axpy_pass(8, cols, k, x, w + j0, ldw, y + j0); break;
    }
  }
}

AVX512 void snt_k_dot_tile_avx512(int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, int mr, int nr,
                                  float *out) {
  enum { T = SNT_K_DOT_TILE };
  const float *ar[T], *br[T];
  for (int i = 0; i < T; i++) { /* rows past the tile repeat row 0: read, never stored */
    ar[i] = a + (i < mr ? i : 0) * lda;
    br[i] = b + (i < nr ? i : 0) * ldb;
  }
  __m512 acc[T][T];
#pragma GCC unroll 4
  for (int i = 0; i < T; i++) {
#pragma GCC unroll 4
    for (int j = 0; j < T; j++) acc[i][j] = _mm512_setzero_ps();
  }
  int64_t kk = 0;
  for (; kk + 16 <= k; kk += 16) {
    __m512 bv[T];
#pragma GCC unroll 4
    for (int j = 0; j < T; j++) bv[j] = _mm512_loadu_ps(br[j] + kk);
#pragma GCC unroll 4
    for (int i = 0; i < T; i++) {
      __m512 av = _mm512_loadu_ps(ar[i] + kk);
#pragma GCC unroll 4
      for (int j = 0; j < T; j++) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  if (kk < k) {
    __mmask16 m = lane_mask((int)(k - kk));
    __m512 bv[T];
#pragma GCC unroll 4
    for (int j = 0; j < T; j++) bv[j] = _mm512_maskz_loadu_ps(m, br[j] + kk);
#pragma GCC unroll 4
    for (int i = 0; i < T; i++) {
      __m512 av = _mm512_maskz_loadu_ps(m, ar[i] + kk);
#pragma GCC unroll 4
      for (int j = 0; j < T; j++) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < T; i++) {
#pragma GCC unroll 4
    for (int j = 0; j < T; j++) out[i * T + j] = _mm512_reduce_add_ps(acc[i][j]);
  }
}

AVX512 void snt_k_bf16_round_run(const float *src, uint16_t *dst, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
    snt_k_bf16_store512(dst + i, _mm512_maskz_loadu_ps(m, src + i), m, 0);
  }
}
