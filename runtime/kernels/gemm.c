/* Gemm and MatMul on sinter's GEMM core (gemm_core.c). Gemm's C goes into the epilogue when it
 * can (bias row, bias column, full residual); MatMul folds batches into one GEMM when only A
 * has them. */
#include <string.h>

#include "gemm_core.h"
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
  if (d->m < 0 || d->n < 0 || d->k < 0) return SNT_ERR_INPUT;
  if (c && ((d->c_rows != 1 && d->c_rows != d->m) || (d->c_cols != 1 && d->c_cols != d->n)))
    return SNT_ERR_INPUT;
  if (d->m == 0 || d->n == 0) return SNT_OK;
  snt_k_gemm_call g = {.m = d->m, .n = d->n, .k = d->k, .a = a, .lda = d->trans_a ? d->m : d->k,
                       .trans_a = d->trans_a, .b = b, .ldb = d->trans_b ? d->k : d->n, .trans_b = d->trans_b,
                       .c = y, .ldc = d->n, .epi = {.alpha = d->alpha, .act = d->act}};
  if (c && d->beta != 0.0f) {
    int row = d->c_rows == 1 && d->c_cols == d->n, col = d->c_cols == 1 && d->c_rows == d->m;
    if (c == y) { /* never read as bias or residual while y holds partial sums */
      fill_c(d, c, y);
      g.epi.accumulate = 1;
    } else if (d->beta == 1.0f && row) {
      g.epi.col_bias = c;
    } else if (d->beta == 1.0f && col) {
      g.epi.row_bias = c;
    } else if (d->beta == 1.0f && d->c_rows == d->m && d->c_cols == d->n) {
      g.epi.residual = c;
      g.epi.ldr = d->n;
    } else {
      fill_c(d, c, y);
      g.epi.accumulate = 1;
    }
  }
  return snt_k_gemm_run(ctx, &g);
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

static snt_status gemm_nn(snt_k_ctx *ctx, int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *y) {
  snt_k_gemm_call g = {.m = m, .n = n, .k = k, .a = a, .lda = k, .b = b, .ldb = n, .c = y, .ldc = n, .epi = {.alpha = 1.0f}};
  return snt_k_gemm_run(ctx, &g);
}

snt_status snt_k_matmul(snt_k_ctx *ctx, int a_rank, const int64_t *a_dims, const float *a, int b_rank,
                        const int64_t *b_dims, const float *b, float *y) {
  if (a_rank < 1 || b_rank < 1 || a_rank > SNT_MAX_RANK || b_rank > SNT_MAX_RANK)
    return SNT_ERR_INPUT;
  int64_t m = a_rank >= 2 ? a_dims[a_rank - 2] : 1, k = a_dims[a_rank - 1];
  int64_t kb = b_rank >= 2 ? b_dims[b_rank - 2] : b_dims[0], n = b_rank >= 2 ? b_dims[b_rank - 1] : 1;
  mm_batch bt;
  if (k != kb || mm_batch_init(a_rank, a_dims, b_rank, b_dims, &bt) != SNT_OK) return SNT_ERR_INPUT;
  if (bt.count == 0 || m == 0 || n == 0) return SNT_OK;
  if (k == 0) {
    memset(y, 0, (size_t)(bt.count * m * n) * sizeof(float));
    return SNT_OK;
  }
  if (bt.b_count == 1 && bt.a_count == bt.count) {
    return gemm_nn(ctx, bt.count * m, n, k, a, b, y); /* A's batches stack into the rows of one GEMM */
  }
  int64_t idx[SNT_MAX_RANK] = {0}, ao = 0, bo = 0;
  for (int64_t t = 0; t < bt.count; t++) {
    snt_status st = gemm_nn(ctx, m, n, k, a + ao * m * k, b + bo * k * n, y + t * m * n);
    if (st != SNT_OK) return st;
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
