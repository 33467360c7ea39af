/* ReduceSum / Mean / Max / Min over a set of axes. Adjacent axes that are both reduced or both
 * kept are merged, so the innermost loop runs over one contiguous run of x: either a kept run
 * (y[j] op= x[j], vectorisable) or a reduced run (folded to one value first). */
#include <math.h>

#include "kernels_util.h"

typedef struct runs {
  int n;
  int64_t len[SNT_MAX_RANK], in_stride[SNT_MAX_RANK], out_stride[SNT_MAX_RANK];
  int reduced[SNT_MAX_RANK];
} runs;

static void make_runs(int rank, const int64_t *dims, uint32_t mask, runs *r) {
  r->n = 0;
  for (int a = 0; a < rank; a++) {
    int red = (mask >> a) & 1u;
    if (dims[a] == 1) continue;
    if (r->n > 0 && r->reduced[r->n - 1] == red) {
      r->len[r->n - 1] *= dims[a];
      continue;
    }
    r->len[r->n] = dims[a];
    r->reduced[r->n] = red;
    r->n++;
  }
  int64_t si = 1, so = 1;
  for (int i = r->n - 1; i >= 0; i--) {
    r->in_stride[i] = si;
    r->out_stride[i] = r->reduced[i] ? 0 : so;
    si *= r->len[i];
    if (!r->reduced[i]) so *= r->len[i];
  }
}

static float identity_of(snt_k_reduce_kind k) {
  return k == SNT_K_REDUCE_MAX ? -INFINITY : k == SNT_K_REDUCE_MIN ? INFINITY : 0.0f;
}

static float combine(snt_k_reduce_kind k, float acc, float v) {
  switch (k) {
    case SNT_K_REDUCE_MAX: return v > acc ? v : acc;
    case SNT_K_REDUCE_MIN: return v < acc ? v : acc;
    default: return acc + v;
  }
}

/* A contiguous kept run: y[j] = y[j] op x[j]; one loop per kind so each vectorises. */
static void fold_kept(snt_k_reduce_kind k, float *restrict y, const float *restrict x, int64_t n) {
  switch (k) {
    case SNT_K_REDUCE_MAX:
      for (int64_t j = 0; j < n; j++) y[j] = x[j] > y[j] ? x[j] : y[j];
      break;
    case SNT_K_REDUCE_MIN:
      for (int64_t j = 0; j < n; j++) y[j] = x[j] < y[j] ? x[j] : y[j];
      break;
    default:
      for (int64_t j = 0; j < n; j++) y[j] += x[j];
  }
}

/* A contiguous reduced run folded to one value, with 32 partial results: vectors of them
 * (8 chains of 4 on the generic build) keep the adds' latency hidden, where 8 partials made one
 * chain the whole run waited on. */
enum { PARTIALS = 32 };
static float fold_reduced(snt_k_reduce_kind k, const float *restrict x, int64_t n) {
  float acc[PARTIALS], r = identity_of(k);
  for (int j = 0; j < PARTIALS; j++) acc[j] = r;
  int64_t i = 0;
  switch (k) { /* one loop per kind so each vectorises */
    case SNT_K_REDUCE_MAX:
      for (; i + PARTIALS <= n; i += PARTIALS)
        for (int j = 0; j < PARTIALS; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
      break;
    case SNT_K_REDUCE_MIN:
      for (; i + PARTIALS <= n; i += PARTIALS)
        for (int j = 0; j < PARTIALS; j++) acc[j] = x[i + j] < acc[j] ? x[i + j] : acc[j];
      break;
    default:
      for (; i + PARTIALS <= n; i += PARTIALS)
        for (int j = 0; j < PARTIALS; j++) acc[j] += x[i + j];
  }
  for (; i < n; i++) r = combine(k, r, x[i]);
  for (int j = 0; j < PARTIALS; j++) r = combine(k, r, acc[j]);
  return r;
}

snt_status snt_k_reduce(snt_k_reduce_kind kind, int rank, const int64_t *dims, uint32_t axes_mask,
                        const float *x, float *y) {
  if (rank < 0 || rank > SNT_MAX_RANK || (rank < 32 && (axes_mask >> rank) != 0)) return SNT_ERR_INPUT;
  if (kind < SNT_K_REDUCE_SUM || kind > SNT_K_REDUCE_MIN) return SNT_ERR_INPUT;
  int64_t total = 1, kept = 1;
  for (int a = 0; a < rank; a++) {
    total *= dims[a];
    if (!((axes_mask >> a) & 1u)) kept *= dims[a];
  }
  for (int64_t j = 0; j < kept; j++) y[j] = identity_of(kind);
  runs r;
  make_runs(rank, dims, axes_mask, &r);
  if (total > 0 && r.n > 0) {
    int last = r.n - 1;
    int64_t n = r.len[last], rows = total / n, idx[SNT_MAX_RANK] = {0}, yo = 0;
    for (int64_t t = 0; t < rows; t++) {
      if (r.reduced[last]) {
        y[yo] = combine(kind, y[yo], fold_reduced(kind, x + t * n, n));
      } else {
        fold_kept(kind, y + yo, x + t * n, n);
      }
      for (int i = last - 1; i >= 0; i--) { /* odometer over the outer runs */
        yo += r.out_stride[i];
        if (++idx[i] < r.len[i]) break;
        yo -= r.out_stride[i] * r.len[i];
        idx[i] = 0;
      }
    }
  } else if (total > 0) {
    y[0] = x[0]; /* every axis has size 1 */
  }
  if (kind == SNT_K_REDUCE_MEAN) {
    float count = kept > 0 ? (float)(total / kept) : 0.0f;
    for (int64_t j = 0; j < kept; j++) y[j] /= count;
  }
  return SNT_OK;
}

/* Rows of x reduced each to one value (the kept axes all outside the reduced ones: a
 * squeeze-excite block's mean over H and W), rows split over the team. */
typedef struct rows_job {
  snt_k_reduce_kind kind;
  const float *x;
  float *y;
  int64_t rows, n;
} rows_job;

static void rows_part(void *arg, int t, int threads) {
  const rows_job *j = arg;
  for (int64_t r = j->rows * t / threads; r < j->rows * (t + 1) / threads; r++) {
    float v = fold_reduced(j->kind, j->x + r * j->n, j->n);
    j->y[r] = j->kind == SNT_K_REDUCE_MEAN ? v / (float)j->n : v;
  }
}

/* Below this many elements one thread reduces: a hand-off costs more. */
enum { TEAM_MIN = 32768 };

snt_status snt_k_reduce_ctx(snt_k_ctx *ctx, snt_k_reduce_kind kind, int rank, const int64_t *dims, uint32_t axes_mask,
                            const float *x, float *y) {
  if (rank < 0 || rank > SNT_MAX_RANK || (rank < 32 && (axes_mask >> rank) != 0)) return SNT_ERR_INPUT;
  if (kind < SNT_K_REDUCE_SUM || kind > SNT_K_REDUCE_MIN) return SNT_ERR_INPUT;
  runs r;
  make_runs(rank, dims, axes_mask, &r);
  int64_t total = 1;
  for (int a = 0; a < rank; a++) total *= dims[a];
  int rows_shape = (r.n == 1 && r.reduced[0]) || (r.n == 2 && !r.reduced[0] && r.reduced[1]);
  if (!rows_shape || total < TEAM_MIN || snt_k_ctx_threads(ctx) < 2)
    return snt_k_reduce(kind, rank, dims, axes_mask, x, y);
  rows_job j = {kind, x, y, r.n == 2 ? r.len[0] : 1, r.len[r.n - 1]};
  snt_k_ctx_parallel(ctx, rows_part, &j);
  return SNT_OK;
}
