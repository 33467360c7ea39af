/* Helpers for the kernel tests: a seeded random generator, allocation that fails loudly,
 * and float-versus-double comparisons that report the first mismatch of an array. */
#ifndef SINTER_TESTS_KERNELS_REF_H
#define SINTER_TESTS_KERNELS_REF_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sinter/kernels.h"

/* xorshift64*: the same numbers on every machine, so a failure can be replayed. */
typedef struct rng {
  uint64_t s;
} rng;

static inline uint64_t rng_next(rng *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 0x2545F4914F6CDD1DULL;
}

/* Uniform integer in [lo, hi]. */
static inline int64_t rng_int(rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* Uniform float in [-1, 1). */
static inline float rng_float(rng *r) {
  return (float)((double)(rng_next(r) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static inline void rng_fill(rng *r, float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = rng_float(r);
}

static inline void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static inline float *alloc_f(int64_t n) { return (float *)xmalloc((size_t)n * sizeof(float)); }
static inline double *alloc_d(int64_t n) { return (double *)xmalloc((size_t)n * sizeof(double)); }

/* Fills with NaN so that an output element a kernel forgets to write fails the comparison. */
static inline float *alloc_nan(int64_t n) {
  float *p = alloc_f(n);
  for (int64_t i = 0; i < n; i++) p[i] = NAN;
  return p;
}

/* |got - want| <= rtol * max(|want|, scale). scale is the size of the terms that were summed
 * (for example sum |x_i * w_i|): float32 sums err relative to their terms, not to a result
 * that cancels to near zero. */
static inline int close_to(float got, double want, double scale, double rtol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  double bound = fabs(want) > scale ? fabs(want) : scale;
  return fabs((double)got - want) <= rtol * bound;
}

/* Compares n values; one CHECK per array, the first mismatch printed with `what`. */
static inline void check_close_arr(test_state *ts, const char *what, const float *got,
                                   const double *want, const double *scale, int64_t n,
                                   double rtol) {
  ts->checks++;
  for (int64_t i = 0; i < n; i++) {
    double s = scale ? scale[i] : 1.0;
    if (!close_to(got[i], want[i], s, rtol)) {
      ts->failures++;
      fprintf(stderr, "%s: element %lld: got %.9g, want %.9g (scale %.3g)\n", what, (long long)i,
              (double)got[i], want[i], s);
      return;
    }
  }
}

/* Same against hand-written float expectations. */
static inline void check_close_list(test_state *ts, const char *what, const float *got,
                                    const float *want, int64_t n, double rtol) {
  ts->checks++;
  for (int64_t i = 0; i < n; i++) {
    if (!close_to(got[i], want[i], 1.0, rtol)) {
      ts->failures++;
      fprintf(stderr, "%s: element %lld: got %.9g, want %.9g\n", what, (long long)i,
              (double)got[i], (double)want[i]);
      return;
    }
  }
}

/* A fused activation from its definition; NaN passes ReLU as numpy's max(x, 0) does. */
static inline double ref_act(const snt_k_act *a, double v) {
  switch (a->kind) {
    case SNT_K_ACT_NONE: return v;
    case SNT_K_ACT_RELU: return v < 0 ? 0 : v;
    case SNT_K_ACT_LEAKY_RELU: return v < 0 ? a->alpha * v : v;
    case SNT_K_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case SNT_K_ACT_TANH: return tanh(v);
    case SNT_K_ACT_CLIP: return v < a->clip_min ? a->clip_min : (v > a->clip_max ? a->clip_max : v);
    case SNT_K_ACT_SILU: return v / (1.0 + exp(-v));
    case SNT_K_ACT_HARD_SIGMOID:
    case SNT_K_ACT_HARD_SWISH: { /* NaN stays NaN, as numpy's clip */
      double t = (double)a->alpha * v + a->beta;
      t = t > 1 ? 1 : (t < 0 ? 0 : t);
      return a->kind == SNT_K_ACT_HARD_SWISH ? v * t : t;
    }
    case SNT_K_ACT_EXP: return exp(v);
    case SNT_K_ACT_MISH: return v * tanh(v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)));
    case SNT_K_ACT_ERF: return erf(v);
    case SNT_K_ACT_GELU: return 0.5 * v * erfc(-v * 0.70710678118654752440);
  }
  return v;
}

static inline int64_t prod64(const int64_t *d, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= d[i];
  return p;
}

#endif
