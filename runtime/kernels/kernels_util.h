/* Helpers shared by the kernel files; private to runtime/kernels/. */
#ifndef SINTER_RUNTIME_KERNELS_UTIL_H
#define SINTER_RUNTIME_KERNELS_UTIL_H

#include <limits.h>
#include <math.h>
#include <stdint.h>

#include "sinter/kernels.h"

/* gcc 12 at -O2 vectorises only loops whose trip count is a multiple of the vector width; the
 * kernels' loops are written for vectorising, so give gcc its full cost model in these files. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

/* Runs fn over [0, n) split into contiguous ranges on up to the linear algebra's thread count
 * (each range at least min_per_thread long); fn must treat indices independently. */
void snt_k_parallel_for(int64_t n, int64_t min_per_thread, void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx);

/* cblas takes int sizes (OpenBLAS without INTERFACE64). */
static inline int snt_k_fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

static inline int64_t snt_k_prod(const int64_t *d, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= d[i];
  return p;
}

/* The window positions o in [0, n) whose coordinate start + o * step lies in [0, limit):
 * [*lo, *hi). step > 0. Keeps padding checks out of inner loops. */
static inline void snt_k_valid_range(int64_t start, int64_t step, int64_t n, int64_t limit,
                                     int64_t *lo, int64_t *hi) {
  int64_t l = start >= 0 ? 0 : (-start + step - 1) / step;
  int64_t h = limit - 1 - start < 0 ? 0 : (limit - 1 - start) / step + 1;
  if (h > n) h = n;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* Conv and ConvTranspose geometry with 3 spatial axes: unused leading axes have size 1. */
/* The window geometry conv and pooling share, right-aligned into 3 spatial axes (missing
 * leading axes have size 1): sizes, kernel, stride, dilation, pads. */
typedef struct snt_k_win3 {
  int64_t in[3], out[3], k[3], s[3], dl[3], pb[3], pe[3];
  int64_t in_size, out_size, k_size;
} snt_k_win3;

/* Checks and fills the geometry from a descriptor's arrays; SNT_ERR_INPUT when invalid. */
snt_status snt_k_win3_init(int spatial, const int64_t *in, const int64_t *out, const int64_t *kernel,
                           const int64_t *stride, const int64_t *dilation, const int64_t *pad_begin,
                           const int64_t *pad_end, snt_k_win3 *w);

/* The taps of one pooling window along one axis: real ones are [lo, hi), those inside the padded
 * range number n_padded; tap t reads coordinate start + t * dilation. pool.c (forward) and
 * pool_grad.c (backward) share it, so both see the same windows. */
typedef struct snt_k_window {
  int64_t start, lo, hi, n_padded;
} snt_k_window;

static inline snt_k_window snt_k_axis_window(const snt_k_win3 *g, int a, int64_t o) {
  snt_k_window w;
  int64_t plo, phi;
  w.start = o * g->s[a] - g->pb[a];
  snt_k_valid_range(w.start, g->dl[a], g->k[a], g->in[a], &w.lo, &w.hi);
  snt_k_valid_range(o * g->s[a], g->dl[a], g->k[a], g->in[a] + g->pb[a] + g->pe[a], &plo, &phi);
  w.n_padded = phi - plo;
  return w;
}

/* Whether the window reaches into the padding along some axis. */
static inline int snt_k_window_padded(const snt_k_window w[3]) {
  return w[0].hi - w[0].lo < w[0].n_padded || w[1].hi - w[1].lo < w[1].n_padded || w[2].hi - w[2].lo < w[2].n_padded;
}

/* The window's maximum; *at gets its first position (a later element must be strictly greater)
 * as a row-major index within the plane, -1 for a window without input. */
static inline float snt_k_window_max(const snt_k_win3 *g, const float *xp, const snt_k_window w[3], int64_t *at) {
  float best = -INFINITY;
  int64_t best_at = -1;
  for (int64_t t0 = w[0].lo; t0 < w[0].hi; t0++) {
    int64_t i0 = w[0].start + t0 * g->dl[0];
    for (int64_t t1 = w[1].lo; t1 < w[1].hi; t1++) {
      int64_t row = (i0 * g->in[1] + w[1].start + t1 * g->dl[1]) * g->in[2];
      for (int64_t t2 = w[2].lo; t2 < w[2].hi; t2++) {
        int64_t i = row + w[2].start + t2 * g->dl[2];
        if (best_at < 0 || xp[i] > best) {
          best = xp[i];
          best_at = i;
        }
      }
    }
  }
  *at = best_at;
  return best;
}

/* What an average over the window divides by: its real elements, or with count_include_pad the
 * elements of the clipped padded range. */
static inline int64_t snt_k_window_count(const snt_k_window w[3], int include_pad) {
  return include_pad ? w[0].n_padded * w[1].n_padded * w[2].n_padded
                     : (w[0].hi - w[0].lo) * (w[1].hi - w[1].lo) * (w[2].hi - w[2].lo);
}

typedef struct snt_k_conv3 {
  int64_t batch, cin, cout, groups, cg, mg; /* cg, mg: input and output channels per group */
  snt_k_win3 w;
  int x_bf16; /* x holds bfloat16 values (snt_k_conv_bf16_in): the BF16 1x1 GEMM reads them as its B */
} snt_k_conv3;

/* Checks d and fills g; SNT_ERR_INPUT for a descriptor no ONNX model can produce. */
snt_status snt_k_conv3_init(const snt_k_conv_desc *d, snt_k_conv3 *g);

/* One run of n outputs' BN tap (snt_k_conv_tap): v = y * s + b, then v > 0 ? v : 0 under relu
 * (NaN to 0, as snt_k_bn_infer). The passes that write a tap after a kernel share it. */
static inline void snt_k_tap_run(const float *restrict y, float *restrict out, int64_t n, float s, float b, int relu) {
  if (relu) {
    for (int64_t i = 0; i < n; i++) {
      float v = y[i] * s + b;
      out[i] = v > 0.0f ? v : 0.0f;
    }
  } else {
    for (int64_t i = 0; i < n; i++) out[i] = y[i] * s + b;
  }
}

#endif
