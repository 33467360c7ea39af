/* MaxUnpool, GatherND, ScatterElements, ScatterND, CumSum and OneHot. */
#include <stdbool.h>
#include <string.h>

#include "kernels_util.h"
#include "sinter/kernels_scatter.h"

snt_status snt_k_max_unpool(size_t es, int rank, const int64_t *dims, const int64_t *y_dims, int64_t x_numel,
                            const void *x, const int64_t *indices, void *y) {
  if (es == 0 || rank < 1 || rank > SNT_MAX_RANK || x_numel < 0) return SNT_ERR_INPUT;
  int64_t total = snt_k_prod(dims, rank), ys[SNT_MAX_RANK], s = 1;
  for (int a = rank - 1; a >= 0; a--) {
    if (y_dims[a] < dims[a]) return SNT_ERR_INPUT;
    ys[a] = s, s *= y_dims[a];
  }
  memset(y, 0, (size_t)s * es);
  for (int64_t i = 0; i < x_numel; i++) {
    int64_t v = indices[i], off = 0;
    if (v < 0 || v >= total) return SNT_ERR_INPUT;
    for (int a = rank - 1; a >= 0; a--) off += (v % dims[a]) * ys[a], v /= dims[a]; /* dims' coordinates in y */
    memcpy((char *)y + off * (int64_t)es, (const char *)x + i * (int64_t)es, es);
  }
  return SNT_OK;
}

/* The element offset of one tuple of k coordinates into dims[0..k) with strides; -1 when a
 * coordinate is out of range (negative ones count from the end). */
static int64_t tuple_offset(const int64_t *t, int k, const int64_t *dims, const int64_t *strides) {
  int64_t off = 0;
  for (int j = 0; j < k; j++) {
    int64_t v = t[j] < 0 ? t[j] + dims[j] : t[j];
    if (v < 0 || v >= dims[j]) return -1;
    off += v * strides[j];
  }
  return off;
}

/* Row-major strides of dims[0..rank) and the element count. */
static int64_t strides_of(int rank, const int64_t *dims, int64_t *s) {
  int64_t k = 1;
  for (int a = rank - 1; a >= 0; a--) s[a] = k, k *= dims[a];
  return k;
}

snt_status snt_k_gather_nd(size_t es, int rank, const int64_t *x_dims, int b, int k, int64_t n_idx,
                           const int64_t *indices, const void *x, void *y) {
  if (rank < 1 || rank > SNT_MAX_RANK || b < 0 || k < 1 || b + k > rank || n_idx < 0 || es == 0) return SNT_ERR_INPUT;
  int64_t s[SNT_MAX_RANK], batches = snt_k_prod(x_dims, b);
  int64_t block = strides_of(rank - b, x_dims + b, s), slice = snt_k_prod(x_dims + b + k, rank - b - k);
  const char *src = x;
  char *dst = y;
  size_t bytes = (size_t)slice * es;
  for (int64_t bi = 0; bi < batches; bi++)
    for (int64_t i = 0; i < n_idx; i++) {
      int64_t off = tuple_offset(indices + (bi * n_idx + i) * k, k, x_dims + b, s);
      if (off < 0) return SNT_ERR_INPUT;
      memcpy(dst, src + (bi * block + off) * (int64_t)es, bytes);
      dst += bytes;
    }
  return SNT_OK;
}

/* ---- combining an update with an element ---- */

/* max and min as std::max and std::min (ONNX Runtime's): the element stays unless the update
 * compares strictly greater (smaller), so a NaN element stays and a NaN update is dropped. */
#define REDUCE(a, c)                                        \
  switch (red) {                                            \
    case SNT_K_SCATTER_ADD: a = a + c; break;               \
    case SNT_K_SCATTER_MUL: a = a * c; break;               \
    case SNT_K_SCATTER_MAX: a = a < c ? c : a; break;       \
    case SNT_K_SCATTER_MIN: a = c < a ? c : a; break;       \
    default: break;                                         \
  }

/* Integers wrap: add and mul in unsigned arithmetic at least as wide as unsigned int (narrow
 * types never promote to a signed int); max and min compare in the signed or unsigned type. */
#define COMBINE_INT(S, U, W)                                                 \
  do {                                                                       \
    S a, c;                                                                  \
    memcpy(&a, dst, sizeof a), memcpy(&c, src, sizeof c);                    \
    if (red == SNT_K_SCATTER_ADD) a = (S)(U)((W)(U)a + (W)(U)c);             \
    else if (red == SNT_K_SCATTER_MUL) a = (S)(U)((W)(U)a * (W)(U)c);        \
    else if (red == SNT_K_SCATTER_MAX) a = a < c ? c : a;                    \
    else if (red == SNT_K_SCATTER_MIN) a = c < a ? c : a;                    \
    memcpy(dst, &a, sizeof a);                                               \
  } while (0)

/* dst = reduce(dst, src) in type t. */
static void combine_one(snt_dtype t, snt_k_scatter_red red, char *dst, const char *src) {
  switch (t) {
    case SNT_F32: {
      float a, c;
      memcpy(&a, dst, 4), memcpy(&c, src, 4);
      REDUCE(a, c);
      memcpy(dst, &a, 4);
      break;
    }
    case SNT_F64: {
      double a, c;
      memcpy(&a, dst, 8), memcpy(&c, src, 8);
      REDUCE(a, c);
      memcpy(dst, &a, 8);
      break;
    }
    case SNT_F16:
    case SNT_BF16: {
      uint16_t h;
      memcpy(&h, dst, 2);
      float a = t == SNT_F16 ? snt_f16_to_f32(h) : snt_bf16_to_f32(h), c;
      memcpy(&h, src, 2);
      c = t == SNT_F16 ? snt_f16_to_f32(h) : snt_bf16_to_f32(h);
      REDUCE(a, c);
      h = t == SNT_F16 ? snt_f32_to_f16(a) : snt_f32_to_bf16(a);
      memcpy(dst, &h, 2);
      break;
    }
    case SNT_BOOL: *dst = red == SNT_K_SCATTER_ADD || red == SNT_K_SCATTER_MAX ? (*dst || *src) : (*dst && *src); break;
    case SNT_I8: COMBINE_INT(int8_t, uint8_t, unsigned); break;
    case SNT_U8: COMBINE_INT(uint8_t, uint8_t, unsigned); break;
    case SNT_I16: COMBINE_INT(int16_t, uint16_t, unsigned); break;
    case SNT_U16: COMBINE_INT(uint16_t, uint16_t, unsigned); break;
    case SNT_I32: COMBINE_INT(int32_t, uint32_t, uint32_t); break;
    case SNT_U32: COMBINE_INT(uint32_t, uint32_t, uint32_t); break;
    case SNT_I64: COMBINE_INT(int64_t, uint64_t, uint64_t); break;
    case SNT_U64: COMBINE_INT(uint64_t, uint64_t, uint64_t); break;
    default: break;
  }
}

static void combine(snt_dtype t, snt_k_scatter_red red, size_t es, char *dst, const char *src, int64_t count) {
  if (red == SNT_K_SCATTER_NONE) {
    memcpy(dst, src, (size_t)count * es);
    return;
  }
  for (int64_t i = 0; i < count; i++) combine_one(t, red, dst + i * (int64_t)es, src + i * (int64_t)es);
}

static bool red_ok(snt_dtype t, snt_k_scatter_red red) {
  return snt_dtype_size(t) > 0 && red >= SNT_K_SCATTER_NONE && red <= SNT_K_SCATTER_MIN;
}

snt_status snt_k_scatter_nd(snt_dtype t, snt_k_scatter_red red, int rank, const int64_t *x_dims, int k, int64_t n_idx,
                            const int64_t *indices, const void *x, const void *updates, void *y) {
  if (rank < 1 || rank > SNT_MAX_RANK || k < 1 || k > rank || n_idx < 0 || !red_ok(t, red)) return SNT_ERR_INPUT;
  size_t es = snt_dtype_size(t);
  int64_t s[SNT_MAX_RANK], total = strides_of(rank, x_dims, s), slice = snt_k_prod(x_dims + k, rank - k);
  if (x != y) memcpy(y, x, (size_t)total * es);
  for (int64_t i = 0; i < n_idx; i++) {
    int64_t off = tuple_offset(indices + i * k, k, x_dims, s);
    if (off < 0) return SNT_ERR_INPUT;
    combine(t, red, es, (char *)y + off * (int64_t)es, (const char *)updates + i * slice * (int64_t)es, slice);
  }
  return SNT_OK;
}

snt_status snt_k_scatter_elements(snt_dtype t, snt_k_scatter_red red, int rank, const int64_t *x_dims,
                                  const int64_t *idx_dims, int axis, snt_dtype index_type, const void *indices,
                                  const void *x, const void *updates, void *y) {
  if (rank < 1 || rank > SNT_MAX_RANK || axis < 0 || axis >= rank || !red_ok(t, red)) return SNT_ERR_INPUT;
  if (index_type != SNT_I64 && index_type != SNT_I32) return SNT_ERR_INPUT;
  size_t es = snt_dtype_size(t);
  int64_t xs[SNT_MAX_RANK], total = strides_of(rank, x_dims, xs), count = snt_k_prod(idx_dims, rank), idx[SNT_MAX_RANK] = {0};
  for (int a = 0; a < rank; a++)
    if (a != axis && idx_dims[a] > x_dims[a]) return SNT_ERR_INPUT;
  if (x != y) memcpy(y, x, (size_t)total * es);
  for (int64_t i = 0; i < count; i++) {
    int64_t v = index_type == SNT_I64 ? ((const int64_t *)indices)[i] : ((const int32_t *)indices)[i];
    if (v < 0) v += x_dims[axis];
    if (v < 0 || v >= x_dims[axis]) return SNT_ERR_INPUT;
    int64_t off = 0;
    for (int a = 0; a < rank; a++) off += (a == axis ? v : idx[a]) * xs[a];
    combine(t, red, es, (char *)y + off * (int64_t)es, (const char *)updates + i * (int64_t)es, 1);
    for (int a = rank - 1; a >= 0 && ++idx[a] == idx_dims[a]; a--) idx[a] = 0;
  }
  return SNT_OK;
}

/* One CumSum line of `len` elements `inner` apart; S is the sum type (unsigned for integers). */
#define CUMSUM_LINE(T, S)                                                  \
  do {                                                                     \
    const T *px = (const T *)x + base;                                     \
    T *py = (T *)y + base;                                                 \
    S acc = 0;                                                             \
    for (int64_t j = 0; j < len; j++) {                                    \
      int64_t at = (reverse ? len - 1 - j : j) * inner;                    \
      S v = (S)px[at];                                                     \
      if (!exclusive) acc = (S)(acc + v);                                  \
      py[at] = (T)acc;                                                     \
      if (exclusive) acc = (S)(acc + v);                                   \
    }                                                                      \
  } while (0)

snt_status snt_k_cumsum(snt_dtype t, int64_t outer, int64_t len, int64_t inner, int exclusive, int reverse, const void *x,
                        void *y) {
  if (outer < 0 || len < 0 || inner < 0) return SNT_ERR_INPUT;
  if (t != SNT_F32 && t != SNT_F64 && t != SNT_I32 && t != SNT_I64 && t != SNT_U32 && t != SNT_U64) return SNT_ERR_INPUT;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t base = o * len * inner + i;
      switch (t) {
        case SNT_F32: CUMSUM_LINE(float, float); break;
        case SNT_F64: CUMSUM_LINE(double, double); break;
        /* int32_t from uint32_t keeps the bits (gcc defines the conversion; C11 6.3.1.3) */
        case SNT_I32: CUMSUM_LINE(int32_t, uint32_t); break;
        case SNT_U32: CUMSUM_LINE(uint32_t, uint32_t); break;
        case SNT_I64: CUMSUM_LINE(int64_t, uint64_t); break;
        default: CUMSUM_LINE(uint64_t, uint64_t); break;
      }
    }
  return SNT_OK;
}

/* Index i of a OneHot indices tensor as an int64; false when it has no such value (NaN, out of
 * int64's range), which no position along depth matches. */
static bool one_hot_index(snt_dtype t, const void *p, int64_t i, int64_t *v) {
  double f;
  switch (t) {
    case SNT_I8: *v = ((const int8_t *)p)[i]; return true;
    case SNT_U8: *v = ((const uint8_t *)p)[i]; return true;
    case SNT_I16: *v = ((const int16_t *)p)[i]; return true;
    case SNT_U16: *v = ((const uint16_t *)p)[i]; return true;
    case SNT_I32: *v = ((const int32_t *)p)[i]; return true;
    case SNT_U32: *v = ((const uint32_t *)p)[i]; return true;
    case SNT_I64: *v = ((const int64_t *)p)[i]; return true;
    case SNT_U64: {
      uint64_t u = ((const uint64_t *)p)[i];
      *v = (int64_t)(u > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : u);
      return true;
    }
    case SNT_F32: f = ((const float *)p)[i]; break;
    case SNT_F64: f = ((const double *)p)[i]; break;
    case SNT_F16: f = snt_f16_to_f32(((const uint16_t *)p)[i]); break;
    case SNT_BF16: f = snt_bf16_to_f32(((const uint16_t *)p)[i]); break;
    default: return false;
  }
  if (!(f > -9.2e18 && f < 9.2e18)) return false; /* NaN and values past int64 */
  *v = (int64_t)f;
  return true;
}

snt_status snt_k_one_hot(size_t es, int64_t outer, int64_t depth, int64_t inner, int negative, snt_dtype index_type,
                         const void *indices, const void *values, void *y) {
  if (es == 0 || outer < 0 || depth < 0 || inner < 0) return SNT_ERR_INPUT;
  const char *off = values, *on = (const char *)values + es;
  char *dst = y;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t d = 0; d < depth; d++)
      for (int64_t i = 0; i < inner; i++) {
        int64_t v = -1;
        bool ok = one_hot_index(index_type, indices, o * inner + i, &v);
        if (ok && v < 0 && negative) v += depth;
        memcpy(dst, ok && v == d ? on : off, es);
        dst += es;
      }
  return SNT_OK;
}
