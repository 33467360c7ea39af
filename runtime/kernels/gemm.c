/* Gemm and MatMul on cblas_sgemm. MatMul folds batches into one GEMM when only A has them. */
#include <cblas.h>
#include <string.h>

#include "kernels_util.h"

/* y = beta * C broadcast to [m, n]. */
static void fill_c(const snt_k_gemm_desc *d, const float *c, float *y) {
  for (int64_t i = 0; i < d->m; i++) {
    const float *cr = c + (d->c_rows == 1 ? 0 : i * d->c_cols);
    float *yr = y + i * d->n;
    if (d->c_cols == 1) {
      for (int64_t j = 0; j < d->n; j++) yr[j] = d->beta * cr[0];
    } else {
      for (int64_t j = 0; j < d->n; j++) yr[j] = d->beta * cr[j];
    }
  }
}

snt_status snt_k_gemm(snt_k_ctx *ctx, const snt_k_gemm_desc *d, const float *a, const float *b, const float *c,
                      float *y) {
  (void)ctx; /* cblas keeps its own threads */
  if (!snt_k_fits_int(d->m) || !snt_k_fits_int(d->n) || !snt_k_fits_int(d->k)) return SNT_ERR_INPUT;
  if (c && ((d->c_rows != 1 && d->c_rows != d->m) || (d->c_cols != 1 && d->c_cols != d->n)))
    return SNT_ERR_INPUT;
  if (d->m == 0 || d->n == 0) return SNT_OK;
  float beta = 0.0f;
  if (c && d->beta != 0.0f) {
    fill_c(d, c, y);
    beta = 1.0f;
  } else if (d->k == 0) {
    memset(y, 0, (size_t)(d->m * d->n) * sizeof(float));
  }
  if (d->k == 0) return SNT_OK;
  int lda = (int)(d->trans_a ? d->m : d->k), ldb = (int)(d->trans_b ? d->k : d->n);
  cblas_sgemm(CblasRowMajor, d->trans_a ? CblasTrans : CblasNoTrans,
              d->trans_b ? CblasTrans : CblasNoTrans, (int)d->m, (int)d->n, (int)d->k, d->alpha, a,
              lda, b, ldb, beta, y, (int)d->n);
  return SNT_OK;
}

/* Broadcast batch geometry of a MatMul: the output batch dims and each operand's matrix
 * stride along them (0 where the operand is broadcast). */
typedef struct mm_batch {
  int rank;
  int64_t dims[SNT_MAX_RANK], a_stride[SNT_MAX_RANK], b_stride[SNT_MAX_RANK];
  int64_t count, a_count, b_count;
} mm_batch;

static snt_status mm_batch_init(int a_rank, const int64_t *a_dims, int b_rank,
                                const int64_t *b_dims, mm_batch *bt) {
  int ab = a_rank > 2 ? a_rank - 2 : 0, bb = b_rank > 2 ? b_rank - 2 : 0;
  bt->rank = ab > bb ? ab : bb;
  bt->count = bt->a_count = bt->b_count = 1;
  for (int i = bt->rank - 1; i >= 0; i--) {
    int ai = i - (bt->rank - ab), bi = i - (bt->rank - bb);
    int64_t ad = ai >= 0 ? a_dims[ai] : 1, bd = bi >= 0 ? b_dims[bi] : 1;
    if (ad != bd && ad != 1 && bd != 1) return SNT_ERR_INPUT;
    bt->dims[i] = ad == 1 ? bd : ad;
    bt->a_stride[i] = ad == 1 ? 0 : bt->a_count;
    bt->b_stride[i] = bd == 1 ? 0 : bt->b_count;
    bt->a_count *= ad;
    bt->b_count *= bd;
    bt->count *= bt->dims[i];
  }
  return SNT_OK;
}

static void sgemm_nn(int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *y) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a, (int)k,
              b, (int)n, 0.0f, y, (int)n);
}

snt_status snt_k_matmul(snt_k_ctx *ctx, int a_rank, const int64_t *a_dims, const float *a, int b_rank,
                        const int64_t *b_dims, const float *b, float *y) {
  (void)ctx;
  if (a_rank < 1 || b_rank < 1 || a_rank > SNT_MAX_RANK || b_rank > SNT_MAX_RANK)
    return SNT_ERR_INPUT;
  int64_t m = a_rank >= 2 ? a_dims[a_rank - 2] : 1, k = a_dims[a_rank - 1];
  int64_t kb = b_rank >= 2 ? b_dims[b_rank - 2] : b_dims[0], n = b_rank >= 2 ? b_dims[b_rank - 1] : 1;
  mm_batch bt;
  if (k != kb || mm_batch_init(a_rank, a_dims, b_rank, b_dims, &bt) != SNT_OK) return SNT_ERR_INPUT;
  if (!snt_k_fits_int(m * bt.count) || !snt_k_fits_int(n) || !snt_k_fits_int(k)) return SNT_ERR_INPUT;
  if (bt.count == 0 || m == 0 || n == 0) return SNT_OK;
  if (k == 0) {
    memset(y, 0, (size_t)(bt.count * m * n) * sizeof(float));
    return SNT_OK;
  }
  if (bt.b_count == 1 && bt.a_count == bt.count) {
    sgemm_nn(bt.count * m, n, k, a, b, y); /* A's batches stack into the rows of one GEMM */
    return SNT_OK;
  }
  int64_t idx[SNT_MAX_RANK] = {0}, ao = 0, bo = 0;
  for (int64_t t = 0; t < bt.count; t++) {
    sgemm_nn(m, n, k, a + ao * m * k, b + bo * k * n, y + t * m * n);
    for (int i = bt.rank - 1; i >= 0; i--) { /* odometer step over the batch dims */
      ao += bt.a_stride[i];
      bo += bt.b_stride[i];
      if (++idx[i] < bt.dims[i]) break;
      ao -= bt.a_stride[i] * bt.dims[i];
      bo -= bt.b_stride[i] * bt.dims[i];
      idx[i] = 0;
    }
  }
  return SNT_OK;
}
