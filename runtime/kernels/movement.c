/* Pad, Concat and Gather for any element size. */
#include <stdbool.h>
#include <string.h>

#include "kernels_util.h"

/* The input index that output index i - pad_begin reads along an axis of n, or -1 for the
 * constant. Reflect is periodic with period 2(n-1), which is numpy's repeated mirroring. */
static int64_t pad_source(int64_t i, int64_t n, snt_k_pad_mode mode) {
  if (i >= 0 && i < n) return i;
  if (mode == SNT_K_PAD_CONSTANT) return -1;
  if (mode == SNT_K_PAD_WRAP) return (i % n + n) % n; /* ONNX Pad-19 wrap: periodic with period n */
  if (mode == SNT_K_PAD_EDGE || n == 1) return i < 0 ? 0 : n - 1;
  int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i >= n ? period - i : i;
}

/* n copies of value: one, then doubling copies of what is written (a row of 114 floats was
 * 114 memcpy calls). */
static void fill(char *dst, const void *value, int64_t n, size_t es) {
  if (n <= 0) return;
  memcpy(dst, value, es);
  size_t done = es, total = (size_t)n * es;
  while (done < total) {
    size_t c = done < total - done ? done : total - done;
    memcpy(dst + done, dst, c);
    done += c;
  }
}

/* One output row along the last axis, from input row src (NULL: all constant). */
static void pad_row(char *dst, const char *src, int64_t n, int64_t pb, int64_t pe,
                    snt_k_pad_mode mode, const void *value, size_t es) {
  if (!src) {
    fill(dst, value, pb + n + pe, es);
    return;
  }
  if (mode == SNT_K_PAD_CONSTANT) {
    fill(dst, value, pb, es);
    memcpy(dst + (size_t)pb * es, src, (size_t)n * es);
    fill(dst + (size_t)(pb + n) * es, value, pe, es);
    return;
  }
  for (int64_t i = -pb; i < 0; i++) {
    int64_t s = pad_source(i, n, mode);
    memcpy(dst + (size_t)(i + pb) * es, s < 0 ? value : src + (size_t)s * es, es);
  }
  memcpy(dst + (size_t)pb * es, src, (size_t)n * es);
  for (int64_t i = n; i < n + pe; i++) {
    int64_t s = pad_source(i, n, mode);
    memcpy(dst + (size_t)(i + pb) * es, s < 0 ? value : src + (size_t)s * es, es);
  }
}

snt_status snt_k_pad(size_t elem_size, int rank, const int64_t *in_dims, const int64_t *pads,
                     snt_k_pad_mode mode, const void *value, const void *x, void *y) {
  if (rank < 1 || rank > SNT_MAX_RANK || elem_size == 0) return SNT_ERR_INPUT;
  if (mode != SNT_K_PAD_CONSTANT && mode != SNT_K_PAD_EDGE && mode != SNT_K_PAD_REFLECT && mode != SNT_K_PAD_WRAP)
    return SNT_ERR_INPUT;
  int64_t od[SNT_MAX_RANK];
  for (int a = 0; a < rank; a++) {
    int64_t pb = pads[a], pe = pads[a + rank];
    if (pb < 0 || pe < 0 || in_dims[a] < 0) return SNT_ERR_INPUT;
    if (in_dims[a] == 0 && (pb || pe) && mode != SNT_K_PAD_CONSTANT) return SNT_ERR_INPUT;
    /* Checked: a wrapped size would make the rows below write out of bounds. */
    if (__builtin_add_overflow(in_dims[a], pb, &od[a]) || __builtin_add_overflow(od[a], pe, &od[a])) return SNT_ERR_INPUT;
  }
  int64_t out_total = 1, last = od[rank - 1];
  for (int a = 0; a < rank; a++)
    if (__builtin_mul_overflow(out_total, od[a], &out_total) ||
        __builtin_mul_overflow(out_total, (int64_t)elem_size, &(int64_t){0}))
      return SNT_ERR_INPUT;
  if (out_total == 0) return SNT_OK;
  int64_t rows = out_total / last, idx[SNT_MAX_RANK] = {0};
  for (int64_t t = 0; t < rows; t++) {
    int64_t off = 0;
    int inside = 1;
    for (int a = 0; a < rank - 1; a++) {
      int64_t s = pad_source(idx[a] - pads[a], in_dims[a], mode);
      inside = inside && s >= 0;
      off = off * in_dims[a] + (s < 0 ? 0 : s);
    }
    const char *src = inside ? (const char *)x + (size_t)(off * in_dims[rank - 1]) * elem_size : NULL;
    pad_row((char *)y + (size_t)(t * last) * elem_size, src, in_dims[rank - 1], pads[rank - 1],
            pads[2 * rank - 1], mode, value, elem_size);
    for (int a = rank - 2; a >= 0 && ++idx[a] == od[a]; a--) idx[a] = 0;
  }
  return SNT_OK;
}

void snt_k_concat(size_t elem_size, int n, const void *const *xs, const int64_t *axis_sizes,
                  int64_t outer, int64_t inner, void *y) {
  char *dst = y;
  for (int64_t o = 0; o < outer; o++) {
    for (int i = 0; i < n; i++) {
      size_t bytes = (size_t)(axis_sizes[i] * inner) * elem_size;
      const char *src = (const char *)xs[i] + (size_t)o * bytes;
      if (src != dst) memcpy(dst, src, bytes); /* else planned in place (compiler/plan.c) */
      dst += bytes;
    }
  }
}

static int64_t index_at(snt_dtype t, const void *indices, int64_t i) {
  return t == SNT_I64 ? ((const int64_t *)indices)[i] : ((const int32_t *)indices)[i];
}

snt_status snt_k_gather(size_t elem_size, int64_t outer, int64_t axis_len, int64_t inner,
                        const void *x, snt_dtype index_type, const void *indices,
                        int64_t n_indices, void *y) {
  if (index_type != SNT_I64 && index_type != SNT_I32) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < n_indices; i++) { /* check all first: y is untouched on error */
    int64_t k = index_at(index_type, indices, i);
    if (k < -axis_len || k >= axis_len) return SNT_ERR_INPUT;
  }
  size_t row = (size_t)inner * elem_size;
  char *dst = y;
  for (int64_t o = 0; o < outer; o++) {
    const char *base = (const char *)x + (size_t)(o * axis_len) * row;
    for (int64_t i = 0; i < n_indices; i++) {
      int64_t k = index_at(index_type, indices, i);
      memcpy(dst, base + (size_t)(k < 0 ? k + axis_len : k) * row, row);
      dst += row;
    }
  }
  return SNT_OK;
}

snt_status snt_k_shift_window(size_t es, int rank, const int64_t *x_dims, const int64_t *y_dims, const int64_t *offset,
                              const void *x, void *y) {
  if (rank < 0 || rank > SNT_MAX_RANK || es == 0) return SNT_ERR_INPUT;
  int64_t total = 1, xs[SNT_MAX_RANK], idx[SNT_MAX_RANK] = {0}, k = 1;
  for (int a = rank - 1; a >= 0; a--) xs[a] = k, k *= x_dims[a], total *= y_dims[a];
  for (int64_t i = 0; i < total; i++) {
    int64_t src = 0;
    bool inside = true;
    for (int a = 0; a < rank && inside; a++) {
      int64_t v = idx[a] + offset[a];
      inside = v >= 0 && v < x_dims[a];
      src += v * xs[a];
    }
    if (inside) memcpy((char *)y + (size_t)i * es, (const char *)x + (size_t)src * es, es);
    else memset((char *)y + (size_t)i * es, 0, es);
    for (int a = rank - 1; a >= 0 && ++idx[a] == y_dims[a]; a--) idx[a] = 0;
  }
  return SNT_OK;
}
