/* Backward passes of the elementwise activations, softmax, dropout and constant padding, and
 * the small reductions a training step needs (dense bias gradient, gradient accumulation). */
#include <string.h>

#include "kernels_util.h"
#include "sinter/kernels_train.h"

void snt_k_act_backward(snt_k_act_kind kind, float alpha, int64_t n, const float *x, const float *y,
                        const float *dy, float *dx) {
  switch (kind) {
    case SNT_K_ACT_RELU:
      for (int64_t i = 0; i < n; i++) {
        float v = dy[i]; /* loaded unconditionally, so the select vectorises */
        dx[i] = y[i] > 0.0f ? v : 0.0f;
      }
      return;
    case SNT_K_ACT_LEAKY_RELU:
      for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : alpha * dy[i];
      return;
    case SNT_K_ACT_SIGMOID:
      for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
      return;
    case SNT_K_ACT_TANH:
      for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
      return;
    case SNT_K_ACT_NONE:
    case SNT_K_ACT_CLIP: /* Clip's bounds are not passed: callers lower it to other nodes */
    case SNT_K_ACT_SILU: /* the rest are fused for inference only, never differentiated */
    case SNT_K_ACT_HARD_SIGMOID:
    case SNT_K_ACT_HARD_SWISH:
    case SNT_K_ACT_EXP:
    case SNT_K_ACT_MISH:
    case SNT_K_ACT_ERF:
    case SNT_K_ACT_GELU:
      if (n > 0 && dx != dy) memmove(dx, dy, (size_t)n * sizeof(float));
      return;
  }
}

/* dx = y * (dy - sum_a dy*y) along the axis; the dot product runs in double. */
void snt_k_softmax_backward(int64_t outer, int64_t axis_len, int64_t inner, const float *y, const float *dy,
                            float *dx) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * axis_len * inner + j;
      double dot = 0.0;
      for (int64_t a = 0; a < axis_len; a++) dot += (double)dy[base + a * inner] * (double)y[base + a * inner];
      for (int64_t a = 0; a < axis_len; a++) {
        int64_t i = base + a * inner;
        dx[i] = (float)((double)y[i] * ((double)dy[i] - dot));
      }
    }
}

/* splitmix64's output function applied to the i-th element of the stream seeded by seed. */
static uint64_t splitmix64(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* Elements i of x are the job's first + i. */
static void dropout_from(uint64_t first, int64_t n, float rate, uint64_t seed, const float *x, float *y, uint8_t *mask) {
  float scale = 1.0f / (1.0f - rate);
  for (int64_t i = 0; i < n; i++) {
    double u = (double)(splitmix64(seed, first + (uint64_t)i) >> 11) * 0x1p-53; /* uniform in [0, 1) */
    uint8_t keep = u >= (double)rate;
    mask[i] = keep;
    y[i] = keep ? x[i] * scale : 0.0f;
  }
}

void snt_k_dropout_forward(int64_t n, float rate, uint64_t seed, const float *x, float *y, uint8_t *mask) {
  dropout_from(0, n, rate, seed, x, y, mask);
}

void snt_k_dropout_forward_ctx(const snt_k_ctx *ctx, int64_t n, int64_t per_sample, float rate, uint64_t seed,
                               const float *x, float *y, uint8_t *mask) {
  /* unsigned: the index wraps like the hash's own arithmetic, never overflows */
  dropout_from((uint64_t)snt_k_ctx_first_sample(ctx) * (uint64_t)per_sample, n, rate, seed, x, y, mask);
}

void snt_k_dropout_backward(int64_t n, float rate, const uint8_t *mask, const float *dy, float *dx) {
  float scale = 1.0f / (1.0f - rate);
  for (int64_t i = 0; i < n; i++) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

snt_status snt_k_pad_backward(int rank, const int64_t *in_dims, const int64_t *pads, const float *dy, float *dx) {
  if (rank < 1 || rank > SNT_MAX_RANK) return SNT_ERR_INPUT;
  int64_t od[SNT_MAX_RANK];
  for (int a = 0; a < rank; a++) {
    if (pads[a] < 0 || pads[a + rank] < 0 || in_dims[a] < 0) return SNT_ERR_INPUT;
    od[a] = in_dims[a] + pads[a] + pads[a + rank];
  }
  int64_t total = snt_k_prod(in_dims, rank), last = in_dims[rank - 1];
  if (total == 0) return SNT_OK;
  int64_t rows = total / last, idx[SNT_MAX_RANK] = {0};
  for (int64_t r = 0; r < rows; r++) {
    int64_t off = 0; /* the dy row that dx row r (multi-index idx) is cropped from */
    for (int a = 0; a < rank - 1; a++) off = off * od[a] + idx[a] + pads[a];
    memcpy(dx + r * last, dy + off * od[rank - 1] + pads[rank - 1], (size_t)last * sizeof(float));
    for (int a = rank - 2; a >= 0 && ++idx[a] == in_dims[a]; a--) idx[a] = 0;
  }
  return SNT_OK;
}

void snt_k_colsum(int64_t rows, int64_t cols, const float *x, float *y) {
  for (int64_t j = 0; j < cols; j++) y[j] = 0.0f;
  for (int64_t i = 0; i < rows; i++) {
    const float *restrict r = x + i * cols;
    for (int64_t j = 0; j < cols; j++) y[j] += r[j];
  }
}

void snt_k_add(int64_t n, const float *a, const float *b, float *y) {
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i]; /* no restrict: y may alias a or b */
}
