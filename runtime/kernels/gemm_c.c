/* The portable GEMM path: plain loops the compiler vectorises with whatever the build targets
 * (SSE2 on a generic x86-64 build), no intrinsics. */
#include "gemm_ukr.h"
#include "kernels_util.h"

enum { MR = SNT_K_C_MR, NR = SNT_K_C_NR, GEMV_LANES = 16, AXPY_COLS = 64 };

void snt_k_ukr_c(const snt_k_ukr_args *p) {
  float acc[MR][NR] = {{0}};
  const float *a = p->a, *b = p->b;
  const int64_t ldb = p->ldb;
  for (int64_t k = 0; k < p->kc; k++, a += MR, b += ldb) {
    for (int i = 0; i < MR; i++) {
      for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
    }
  }
  for (int i = 0; i < p->mr; i++) {
    float *c = p->c + i * p->ldc;
    float rb = p->last && p->row_bias ? p->row_bias[i] : 0.0f;
    const float *res = p->last && p->residual ? p->residual + i * p->ldr : NULL;
    for (int j = 0; j < p->nr; j++) {
      float v = p->alpha * acc[i][j];
      if (p->load_c) v += c[j];
      if (p->last) {
        v += rb;
        if (p->col_bias) v += p->col_bias[j];
        if (res) v += res[j];
        v = snt_k_ukr_act(v, &p->act);
      }
      c[j] = v;
    }
  }
}

void snt_k_gemv_dot_c(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y) {
  int64_t kv = k / GEMV_LANES * GEMV_LANES;
  for (int64_t j = 0; j < n; j++) {
    const float *wr = w + j * ldw;
    float lane[GEMV_LANES] = {0};
    for (int64_t kk = 0; kk < kv; kk += GEMV_LANES) {
      for (int l = 0; l < GEMV_LANES; l++) lane[l] += x[kk + l] * wr[kk + l];
    }
    float s = 0.0f;
    for (int l = 0; l < GEMV_LANES; l++) s += lane[l];
    for (int64_t kk = kv; kk < k; kk++) s += x[kk] * wr[kk];
    y[j] = s;
  }
}

void snt_k_gemv_axpy_c(int64_t n, int64_t k, const float *x, const float *w, int64_t ldw, float *y) {
  for (int64_t j0 = 0; j0 < n; j0 += AXPY_COLS) {
    float acc[AXPY_COLS] = {0};
    if (n - j0 >= AXPY_COLS) {
      for (int64_t kk = 0; kk < k; kk++) {
        const float *wr = w + kk * ldw + j0;
        for (int jj = 0; jj < AXPY_COLS; jj++) acc[jj] += x[kk] * wr[jj];
      }
      for (int jj = 0; jj < AXPY_COLS; jj++) y[j0 + jj] = acc[jj];
    } else {
      int w_cols = (int)(n - j0);
      for (int64_t kk = 0; kk < k; kk++) {
        const float *wr = w + kk * ldw + j0;
        for (int jj = 0; jj < w_cols; jj++) acc[jj] += x[kk] * wr[jj];
      }
      for (int jj = 0; jj < w_cols; jj++) y[j0 + jj] = acc[jj];
    }
  }
}

void snt_k_dot_tile_c(int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, int mr, int nr, float *out) {
  enum { T = SNT_K_DOT_TILE, L = 8 };
  int64_t kv = k / L * L;
  for (int i = 0; i < mr; i++) {
    const float *ar = a + i * lda;
    for (int j = 0; j < nr; j++) {
      const float *br = b + j * ldb;
      float lane[L] = {0};
      for (int64_t kk = 0; kk < kv; kk += L) {
        for (int l = 0; l < L; l++) lane[l] += ar[kk + l] * br[kk + l];
      }
      float s = 0.0f;
      for (int l = 0; l < L; l++) s += lane[l];
      for (int64_t kk = kv; kk < k; kk++) s += ar[kk] * br[kk];
      out[i * T + j] = s;
    }
  }
}
