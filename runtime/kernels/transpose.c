/* Transpose of any element size. Axes of size 1 are dropped and axes that stay adjacent are
 * merged first, so that most permutations become a copy of contiguous rows or a small rank. */
#include <string.h>

#include "kernels_util.h"

/* The output's dims and the input strides along them, after merging. Returns the rank. */
static int coalesce(int rank, const int64_t *in_dims, const int *perm, int64_t *od, int64_t *st) {
  int64_t in_stride[SNT_MAX_RANK];
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    in_stride[i] = s;
    s *= in_dims[i];
  }
  int r = 0;
  for (int i = 0; i < rank; i++) {
    int64_t dim = in_dims[perm[i]], stride = in_stride[perm[i]];
    if (dim == 1) continue;
    if (r > 0 && st[r - 1] == stride * dim) { /* the previous axis continues this one */
      od[r - 1] *= dim;
      st[r - 1] = stride;
      continue;
    }
    od[r] = dim;
    st[r] = stride;
    r++;
  }
  return r;
}

/* dst[i] = src[i * stride] for n elements of the given size. */
static void strided_copy(char *restrict dst, const char *restrict src, int64_t n, int64_t stride,
                         size_t es) {
  switch (es) {
    case 1: for (int64_t i = 0; i < n; i++) dst[i] = src[i * stride]; break;
    case 2: {
      uint16_t *d = (uint16_t *)dst;
      const uint16_t *s = (const uint16_t *)src;
      for (int64_t i = 0; i < n; i++) d[i] = s[i * stride];
      break;
    }
    case 4: {
      uint32_t *d = (uint32_t *)dst;
      const uint32_t *s = (const uint32_t *)src;
      for (int64_t i = 0; i < n; i++) d[i] = s[i * stride];
      break;
    }
    case 8: {
      uint64_t *d = (uint64_t *)dst;
      const uint64_t *s = (const uint64_t *)src;
      for (int64_t i = 0; i < n; i++) d[i] = s[i * stride];
      break;
    }
    default:
      for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * es, src + (size_t)(i * stride) * es, es);
  }
}

enum { TILE = 16 };

#define TILE_LOOP(T)                                                                    \
  do {                                                                                  \
    T *d = (T *)dst;                                                                    \
    const T *s = (const T *)src;                                                        \
    for (int64_t i = 0; i < ni; i++)                                                    \
      for (int64_t j = 0; j < nj; j++) d[i * dst_stride + j] = s[i + j * src_stride];   \
  } while (0)

/* dst[i * dst_stride + j] = src[i + j * src_stride] over a tile of ni x nj elements. */
static void copy_tile(char *restrict dst, const char *restrict src, int64_t ni, int64_t nj,
                      int64_t dst_stride, int64_t src_stride, size_t es) {
  switch (es) {
    case 1: TILE_LOOP(uint8_t); break;
    case 2: TILE_LOOP(uint16_t); break;
    case 4: TILE_LOOP(uint32_t); break;
    case 8: TILE_LOOP(uint64_t); break;
    default:
      for (int64_t i = 0; i < ni; i++)
        for (int64_t j = 0; j < nj; j++)
          memcpy(dst + (size_t)(i * dst_stride + j) * es, src + (size_t)(i + j * src_stride) * es, es);
  }
}

/* When x's contiguous axis is output axis c, not the last one: copy the (c, last) planes in
 * tiles, so that both the reads and the writes stay within a few cache lines. */
static void transpose_tiled(int r, const int64_t *od, const int64_t *st, int c, const char *src,
                            char *dst, size_t es) {
  int64_t ost[SNT_MAX_RANK], s = 1, idx[SNT_MAX_RANK] = {0}, in_off = 0, out_off = 0;
  for (int i = r - 1; i >= 0; i--) ost[i] = s, s *= od[i];
  int64_t ni = od[c], nj = od[r - 1], planes = s / (ni * nj);
  for (int64_t p = 0; p < planes; p++) {
    for (int64_t i0 = 0; i0 < ni; i0 += TILE)
      for (int64_t j0 = 0; j0 < nj; j0 += TILE)
        copy_tile(dst + (size_t)(out_off + i0 * ost[c] + j0) * es,
                  src + (size_t)(in_off + i0 + j0 * st[r - 1]) * es, ni - i0 < TILE ? ni - i0 : TILE,
                  nj - j0 < TILE ? nj - j0 : TILE, ost[c], st[r - 1], es);
    for (int i = r - 2; i >= 0; i--) { /* odometer over the axes outside the plane */
      if (i == c) continue;
      in_off += st[i], out_off += ost[i];
      if (++idx[i] < od[i]) break;
      in_off -= st[i] * od[i], out_off -= ost[i] * od[i];
      idx[i] = 0;
    }
  }
}

static int is_permutation(int rank, const int *perm) {
  int seen[SNT_MAX_RANK] = {0};
  for (int i = 0; i < rank; i++) {
    if (perm[i] < 0 || perm[i] >= rank || seen[perm[i]]) return 0;
    seen[perm[i]] = 1;
  }
  return 1;
}

snt_status snt_k_transpose(size_t elem_size, int rank, const int64_t *in_dims, const int *perm,
                           const void *x, void *y) {
  if (rank < 0 || rank > SNT_MAX_RANK || elem_size == 0 || !is_permutation(rank, perm))
    return SNT_ERR_INPUT;
  int64_t total = snt_k_prod(in_dims, rank), od[SNT_MAX_RANK], st[SNT_MAX_RANK];
  if (total == 0) return SNT_OK;
  int r = coalesce(rank, in_dims, perm, od, st);
  if (r == 0 || (r == 1 && st[0] == 1)) {
    memcpy(y, x, (size_t)total * elem_size);
    return SNT_OK;
  }
  for (int c = 0; c < r - 1; c++) {
    if (st[c] == 1) {
      transpose_tiled(r, od, st, c, x, y, elem_size);
      return SNT_OK;
    }
  }
  int64_t idx[SNT_MAX_RANK] = {0}, off = 0, row = od[r - 1], rows = total / row;
  const char *src = x;
  char *dst = y;
  for (int64_t t = 0; t < rows; t++) {
    strided_copy(dst + (size_t)(t * row) * elem_size, src + (size_t)off * elem_size, row, st[r - 1],
                 elem_size);
    for (int i = r - 2; i >= 0; i--) { /* odometer over the outer output axes */
      off += st[i];
      if (++idx[i] < od[i]) break;
      off -= st[i] * od[i];
      idx[i] = 0;
    }
  }
  return SNT_OK;
}
