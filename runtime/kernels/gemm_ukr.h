/* The GEMM microkernels behind gemm_core.c (private): one MR x NR tile of C from a packed A
 * strip and a packed B strip over one k-block, with the epilogue in its store. */
#ifndef SINTER_RUNTIME_KERNELS_GEMM_UKR_H
#define SINTER_RUNTIME_KERNELS_GEMM_UKR_H

#include "gemm_core.h"

/* Register tiles and blocking per ISA. kc keeps a B strip (kc x NR) in L1, mc an A block
 * (mc x kc) in L2; nc bounds the B block each thread packs. */
enum {
  SNT_K_AVX512_MR = 14, SNT_K_AVX512_NR = 32,
  SNT_K_AVX2_MR = 6, SNT_K_AVX2_NR = 16,
  SNT_K_C_MR = 4, SNT_K_C_NR = 16,
  SNT_K_MR_MAX = 16, SNT_K_NR_MAX = 32
};

/* One tile: C[0..mr)[0..nr) (the valid part of the MR x NR tile) gets
 *   v = alpha * (A strip x B strip) + (load_c ? C : 0)
 * and, when last is set, v += row_bias[i] + col_bias[j] + residual[i][j]; then RELU,
 * LEAKY_RELU or CLIP (SIGMOID and TANH are left to the driver's pass over the tile). */
typedef struct snt_k_ukr_args {
  int64_t kc;
  const float *a, *b;
  int64_t ldb; /* floats between B's k-rows: NR when packed, B's own ldb when read in place */
  float *c;
  int64_t ldc;
  int mr, nr;
  int load_c, last;
  int prefetch_b;    /* a hint: prefetch the next B strip (first pass over this one) */
  int64_t b_next;    /* floats from a B row to the same row of the next strip */
  float alpha;
  const float *row_bias, *col_bias; /* at the tile's first row / column; NULL: none */
  const float *residual;            /* at the tile's corner; NULL: none */
  int64_t ldr;
  snt_k_act act;
  /* The epilogue's tap (gemm_core.h) at the tile's corner, its scale and shift at the tile's
   * first row; NULL: none. Only the AVX-512 microkernel writes it (the driver does for the
   * others, after the tile). */
  float *tap;
  uint16_t *tap16; /* the epilogue's tap16 at the tile's corner (AVX-512 only); NULL: none */
  int64_t ldt;
  const float *tap_scale, *tap_shift;
  int tap_relu;
  int stream; /* the epilogue's hint (gemm_core.h): AVX-512 only, full 64-byte-aligned rows */
} snt_k_ukr_args;

typedef void (*snt_k_ukr_fn)(const snt_k_ukr_args *args);

void snt_k_ukr_avx512(const snt_k_ukr_args *args);
void snt_k_ukr_avx2(const snt_k_ukr_args *args);
void snt_k_ukr_c(const snt_k_ukr_args *args);

/* A strip packed from rows that run along k (gemm_pack_avx512.c): d[kk * width + ii] =
 * a[ii * lda + kk] for ii < h (h <= width), 0 up to width, kk < kcb. AVX-512 only. */
void snt_k_pack_rows_t_avx512(const float *a, int64_t lda, int h, int64_t kcb, int width, float *d);
/* The same from h row pointers (h <= width <= 32). */
void snt_k_pack_ptrs_t_avx512(const float *const *rows, int h, int64_t kcb, int width, float *d);

/* y[j] = sum_k x[k] * w[j * ldw + k] for j in [0, n) (each a dot product in a fixed order). */
typedef void (*snt_k_dot_fn)(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y);
/* y[j] = sum_k x[k] * w[k * ldw + j] for j in [0, n) (rows of w scaled and summed in k order). */
typedef void (*snt_k_axpy_fn)(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y);

void snt_k_gemv_dot_avx512(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y);
void snt_k_gemv_dot_avx2(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y);
void snt_k_gemv_dot_c(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y);
void snt_k_gemv_axpy_avx512(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y);
void snt_k_gemv_axpy_avx2(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y);
void snt_k_gemv_axpy_c(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y);

/* out[i * 4 + j] = sum_k a[i * lda + k] * b[j * ldb + k] for i < mr, j < nr (both <= 4): a tile of
 * A B' with both operands contiguous along k, for few rows of A and a transposed B (a dense
 * layer's weights) where packing B would cost more than the product. Rows past mr / nr are
 * not read. Each sum runs over k in vector lanes, then one fixed reduction order. */
enum { SNT_K_DOT_TILE = 4 };
typedef void (*snt_k_dot_tile_fn)(int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, int mr, int nr,
                                  float *out);
void snt_k_dot_tile_avx512(int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, int mr, int nr, float *out);
void snt_k_dot_tile_avx2(int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, int mr, int nr, float *out);
void snt_k_dot_tile_c(int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, int mr, int nr, float *out);

/* The scalar epilogue (C path, edges of the GEMV, k = 0): v = act(...) as in the microkernel. */
static inline float snt_k_ukr_act(float v, const snt_k_act *act) {
  switch (act->kind) {
    case SNT_K_ACT_NONE: break;
    case SNT_K_ACT_RELU: return v < 0.0f ? 0.0f : v; /* NaN passes, as numpy's max(x, 0) */
    case SNT_K_ACT_LEAKY_RELU: return v < 0.0f ? act->alpha * v : v;
    case SNT_K_ACT_CLIP: return v < act->clip_min ? act->clip_min : (v > act->clip_max ? act->clip_max : v);
    default: break; /* sigmoid, tanh and the others of act_pass.h: a separate pass */
  }
  return v;
}

#endif
