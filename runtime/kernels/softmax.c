/* Softmax and LogSoftmax over one axis, stable by subtracting the maximum. Contiguous rows
 * (inner == 1) run row by row; otherwise a block of up to CHUNK inner columns is processed at
 * once so that the loops run along memory. */
#include <math.h>

#include "kernels_util.h"

enum { CHUNK = 64 };

static void softmax_row(const float *x, float *y, int64_t len, int log_mode) {
  float m = -INFINITY, s = 0.0f;
  for (int64_t a = 0; a < len; a++) m = x[a] > m ? x[a] : m;
  if (log_mode) {
    for (int64_t a = 0; a < len; a++) s += expf(x[a] - m);
    float shift = m + logf(s);
    for (int64_t a = 0; a < len; a++) y[a] = x[a] - shift;
    return;
  }
  for (int64_t a = 0; a < len; a++) {
    y[a] = expf(x[a] - m);
    s += y[a];
  }
  float inv = 1.0f / s;
  for (int64_t a = 0; a < len; a++) y[a] *= inv;
}

/* Columns [0, w) of a [len, inner] block, w <= CHUNK. */
static void softmax_cols(const float *x, float *y, int64_t len, int64_t inner, int64_t w,
                         int log_mode) {
  float m[CHUNK], s[CHUNK];
  for (int64_t j = 0; j < w; j++) m[j] = -INFINITY, s[j] = 0.0f;
  for (int64_t a = 0; a < len; a++)
    for (int64_t j = 0; j < w; j++) m[j] = x[a * inner + j] > m[j] ? x[a * inner + j] : m[j];
  for (int64_t a = 0; a < len; a++) {
    for (int64_t j = 0; j < w; j++) {
      float e = expf(x[a * inner + j] - m[j]);
      s[j] += e;
      if (!log_mode) y[a * inner + j] = e;
    }
  }
  if (log_mode) {
    for (int64_t j = 0; j < w; j++) m[j] += logf(s[j]);
    for (int64_t a = 0; a < len; a++)
      for (int64_t j = 0; j < w; j++) y[a * inner + j] = x[a * inner + j] - m[j];
    return;
  }
  for (int64_t j = 0; j < w; j++) s[j] = 1.0f / s[j];
  for (int64_t a = 0; a < len; a++)
    for (int64_t j = 0; j < w; j++) y[a * inner + j] *= s[j];
}

static void softmax_any(int64_t outer, int64_t len, int64_t inner, const float *x, float *y,
                        int log_mode) {
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * len * inner;
    float *yo = y + o * len * inner;
    if (inner == 1) {
      softmax_row(xo, yo, len, log_mode);
      continue;
    }
    for (int64_t j = 0; j < inner; j += CHUNK) {
      int64_t w = inner - j < CHUNK ? inner - j : CHUNK;
      softmax_cols(xo + j, yo + j, len, inner, w, log_mode);
    }
  }
}

void snt_k_softmax(int64_t outer, int64_t axis_len, int64_t inner, const float *x, float *y) {
  softmax_any(outer, axis_len, inner, x, y, 0);
}

void snt_k_log_softmax(int64_t outer, int64_t axis_len, int64_t inner, const float *x, float *y) {
  softmax_any(outer, axis_len, inner, x, y, 1);
}
