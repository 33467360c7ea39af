/* Strided copies (Slice, Split, Expand, Tile), ArgMax/ArgMin, TopK, GatherElements and the
 * Reduce ops that snt_k_reduce does not cover. */
#include <string.h>

#include "kernels_util.h"
#include "sinter/kernels_shape.h"

snt_status snt_k_strided(size_t es, int rank, const int64_t *dims, const int64_t *strides, int64_t offset,
                         const void *x, void *y) {
  if (rank < 0 || rank > 2 * SNT_MAX_RANK || es == 0 || es > 16) return SNT_ERR_INPUT;
  int64_t total = snt_k_prod(dims, rank);
  if (total <= 0) return SNT_OK;
  if (rank == 0) {
    memcpy(y, (const char *)x + offset * (int64_t)es, es);
    return SNT_OK;
  }
  int64_t last = dims[rank - 1], st = strides[rank - 1], idx[2 * SNT_MAX_RANK] = {0}, off = offset;
  char *dst = y;
  const char *src = x;
  for (int64_t t = 0; t < total / last; t++) {
    if (st == 1) {
      memcpy(dst, src + off * (int64_t)es, (size_t)last * es);
    } else {
      for (int64_t j = 0; j < last; j++) memcpy(dst + j * (int64_t)es, src + (off + j * st) * (int64_t)es, es);
    }
    dst += last * (int64_t)es;
    for (int a = rank - 2; a >= 0; a--) { /* odometer over the outer axes */
      off += strides[a];
      if (++idx[a] < dims[a]) break;
      off -= strides[a] * dims[a];
      idx[a] = 0;
    }
  }
  return SNT_OK;
}

snt_status snt_k_arg(int is_min, int select_last, int64_t outer, int64_t len, int64_t inner, const float *x,
                     int64_t *y) {
  if (len <= 0) return SNT_ERR_INPUT;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const float *p = x + o * len * inner + i;
      int64_t best = 0;
      for (int64_t j = 1; j < len; j++) {
        float v = p[j * inner], b = p[best * inner];
        int better = is_min ? v < b : v > b;
        if (better || (select_last && v == b)) best = j;
      }
      y[o * inner + i] = best;
    }
  return SNT_OK;
}

/* The reduced offsets of one output element: an odometer over the reduced axes. */
typedef struct red_axes {
  int n;
  int64_t len[SNT_MAX_RANK], stride[SNT_MAX_RANK];
} red_axes;

static float reduce_one(snt_k_reduce2_kind k, const red_axes *r, const float *x, int64_t count) {
  float m = 0.0f, acc = k == SNT_K_REDUCE_PROD ? 1.0f : 0.0f;
  for (int pass = k == SNT_K_REDUCE_LOG_SUM_EXP ? 0 : 1; pass < 2; pass++) {
    int64_t idx[SNT_MAX_RANK] = {0}, off = 0;
    if (pass == 0) m = -INFINITY;
    for (int64_t t = 0; t < count; t++) {
      float v = x[off];
      switch (k) {
        case SNT_K_REDUCE_PROD: acc *= v; break;
        case SNT_K_REDUCE_L1: acc += fabsf(v); break;
        case SNT_K_REDUCE_L2:
        case SNT_K_REDUCE_SUM_SQUARE: acc += v * v; break;
        case SNT_K_REDUCE_LOG_SUM: acc += v; break;
        case SNT_K_REDUCE_LOG_SUM_EXP:
          if (pass == 0) m = v > m ? v : m;
          else acc += expf(v - m);
          break;
      }
      for (int a = r->n - 1; a >= 0; a--) {
        off += r->stride[a];
        if (++idx[a] < r->len[a]) break;
        off -= r->stride[a] * r->len[a];
        idx[a] = 0;
      }
    }
  }
  switch (k) {
    case SNT_K_REDUCE_L2: return sqrtf(acc);
    case SNT_K_REDUCE_LOG_SUM: return logf(acc);
    case SNT_K_REDUCE_LOG_SUM_EXP: return isinf(m) ? m : m + logf(acc);
    default: return acc;
  }
}

snt_status snt_k_reduce2(snt_k_reduce2_kind kind, int rank, const int64_t *dims, uint32_t mask, const float *x,
                         float *y) {
  if (rank < 0 || rank > SNT_MAX_RANK || kind < SNT_K_REDUCE_PROD || kind > SNT_K_REDUCE_SUM_SQUARE) return SNT_ERR_INPUT;
  red_axes r = {0}, kept = {0};
  int64_t stride = 1, count = 1, outs = 1;
  for (int a = rank - 1; a >= 0; a--) {
    red_axes *to = (mask >> a & 1u) ? &r : &kept;
    to->len[to->n] = dims[a], to->stride[to->n] = stride, to->n++;
    stride *= dims[a];
    if (mask >> a & 1u) count *= dims[a];
    else outs *= dims[a];
  }
  /* Both lists were filled innermost first: reverse them to outermost first. */
  red_axes *ls[2] = {&r, &kept};
  for (int l = 0; l < 2; l++)
    for (int i = 0, j = ls[l]->n - 1; i < j; i++, j--) {
      int64_t a = ls[l]->len[i], b = ls[l]->stride[i];
      ls[l]->len[i] = ls[l]->len[j], ls[l]->stride[i] = ls[l]->stride[j];
      ls[l]->len[j] = a, ls[l]->stride[j] = b;
    }
  int64_t idx[SNT_MAX_RANK] = {0}, off = 0;
  for (int64_t o = 0; o < outs; o++) {
    y[o] = reduce_one(kind, &r, x + off, count);
    for (int a = kept.n - 1; a >= 0; a--) {
      off += kept.stride[a];
      if (++idx[a] < kept.len[a]) break;
      off -= kept.stride[a] * kept.len[a];
      idx[a] = 0;
    }
  }
  return SNT_OK;
}

/* a comes before b in TopK's order: larger (smaller) first, ties by the lower index. */
static int topk_before(float a, int64_t ia, float b, int64_t ib, int largest) {
  if (a != b) return largest ? a > b : a < b;
  return ia < ib;
}

snt_status snt_k_topk(int64_t outer, int64_t len, int64_t inner, int64_t k, int largest, const float *x, float *values,
                      int64_t *indices) {
  if (k < 0 || k > len) return SNT_ERR_INPUT;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const float *p = x + o * len * inner + i;
      float *v = values + o * k * inner + i;
      int64_t *ix = indices + o * k * inner + i, n = 0; /* the n best so far, in order */
      for (int64_t j = 0; j < len && k > 0; j++) {
        float xv = p[j * inner];
        if (n == k && !topk_before(xv, j, v[(k - 1) * inner], ix[(k - 1) * inner], largest)) continue;
        int64_t at = n < k ? n++ : k - 1;
        while (at > 0 && topk_before(xv, j, v[(at - 1) * inner], ix[(at - 1) * inner], largest)) {
          v[at * inner] = v[(at - 1) * inner], ix[at * inner] = ix[(at - 1) * inner];
          at--;
        }
        v[at * inner] = xv, ix[at * inner] = j;
      }
    }
  return SNT_OK;
}

snt_status snt_k_gather_elements(size_t es, int rank, const int64_t *x_dims, const int64_t *idx_dims, int axis,
                                 const void *x, snt_dtype index_type, const void *indices, void *y) {
  if (rank < 1 || rank > SNT_MAX_RANK || axis < 0 || axis >= rank) return SNT_ERR_INPUT;
  if (index_type != SNT_I64 && index_type != SNT_I32) return SNT_ERR_INPUT;
  int64_t total = snt_k_prod(idx_dims, rank), idx[SNT_MAX_RANK] = {0}, xs[SNT_MAX_RANK], s = 1;
  for (int a = rank - 1; a >= 0; a--) {
    if (a != axis && idx_dims[a] > x_dims[a]) return SNT_ERR_INPUT;
    xs[a] = s, s *= x_dims[a];
  }
  for (int64_t t = 0; t < total; t++) {
    int64_t v = index_type == SNT_I64 ? ((const int64_t *)indices)[t] : ((const int32_t *)indices)[t];
    if (v < 0) v += x_dims[axis];
    if (v < 0 || v >= x_dims[axis]) return SNT_ERR_INPUT;
    int64_t off = 0;
    for (int a = 0; a < rank; a++) off += (a == axis ? v : idx[a]) * xs[a];
    memcpy((char *)y + t * (int64_t)es, (const char *)x + off * (int64_t)es, es);
    for (int a = rank - 1; a >= 0 && ++idx[a] == idx_dims[a]; a--) idx[a] = 0;
  }
  return SNT_OK;
}
