/* The activation pass (runtime/kernels/act_pass.c) on each ISA path the CPU has, against double
 * references of the definitions: sigmoid, tanh, silu, exp, hard sigmoid, hard swish, relu, leaky
 * relu, clip, mish, erf and GELU over a fine grid of [-100, 100], the edges of the polynomial ranges, subnormal
 * results, infinities and NaN; in place and out of place, every tail length, unaligned
 * pointers, the four-vector and one-vector loops bit for bit alike; and snt_k_activation on 1 and 2 threads equal bit for bit to the single pass. */
#include <float.h>
#include <math.h>

#include "kernels_ref.h"
#include "runtime/kernels/act_pass.h"

typedef void (*pass_fn)(const snt_k_act *, const float *, float *, int64_t);

static const snt_k_act ACTS[] = {
    {SNT_K_ACT_SIGMOID, 0, 0, 0, 0},        {SNT_K_ACT_TANH, 0, 0, 0, 0},
    {SNT_K_ACT_SILU, 0, 0, 0, 0},           {SNT_K_ACT_EXP, 0, 0, 0, 0},
    {SNT_K_ACT_HARD_SIGMOID, 0.2f, 0, 0, 0.5f}, {SNT_K_ACT_HARD_SWISH, 1 / 6.0f, 0, 0, 0.5f},
    {SNT_K_ACT_RELU, 0, 0, 0, 0},           {SNT_K_ACT_LEAKY_RELU, 0.01f, 0, 0, 0},
    {SNT_K_ACT_CLIP, 0, -1.5f, 6.0f, 0},    {SNT_K_ACT_NONE, 0, 0, 0, 0},
    {SNT_K_ACT_MISH, 0, 0, 0, 0},           {SNT_K_ACT_ERF, 0, 0, 0, 0},
    {SNT_K_ACT_GELU, 0, 0, 0, 0}};
enum { N_ACTS = sizeof ACTS / sizeof ACTS[0] };

/* The inputs: the grid, then values at the ranges' edges and beyond. */
static float *inputs(int64_t *n) {
  static const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-40f, -1e-40f, 0.6249999f, 0.625f, -0.625f,
                                  43.99f, 44.0f, 44.01f, -44.5f, 86.99f, 87.0f, 87.01f, -87.0f, -87.01f, 87.5f,
                                  -87.5f, 88.0f, -88.0f, 88.01f, -88.01f, 88.7f, -88.7f, 89.0f, -89.0f, -103.0f,
                                  -104.0f, 1e10f, -1e10f, FLT_MAX, -FLT_MAX, INFINITY, -INFINITY, NAN, -NAN};
  int64_t grid = 20001, ns = (int64_t)(sizeof special / sizeof special[0]);
  float *x = malloc((size_t)(grid + ns) * sizeof(float));
  if (!x) abort();
  for (int64_t i = 0; i < grid; i++) x[i] = (float)(-100.0 + 0.01 * (double)i);
  for (int64_t i = 0; i < ns; i++) x[grid + i] = special[i];
  *n = grid + ns;
  return x;
}

/* got against the double definition: NaN for NaN, infinities (and results past FLT_MAX)
 * exactly, else within 4 units of the float spacing at `scale`, the size of the result or, for
 * the hard ones, of the terms alpha x + beta that float arithmetic rounds first. Results below
 * the normal range are within a few 2^-126: 1 / (1 + expf(100)) is 0 in float (silu: x times
 * that). */
static int ulp_close(float got, double want, double scale, double floor_) {
  if (isnan(want)) return isnan(got);
  if (isinf((float)want)) return got == (float)want;
  double ulp = fmax(fabs(scale) * 0x1p-23, floor_);
  return fabs((double)got - want) <= 4 * ulp;
}

static double scale_of(const snt_k_act *a, double x, double want) {
  double terms = fabs((double)a->alpha * x) + fabs((double)a->beta);
  if (a->kind == SNT_K_ACT_HARD_SIGMOID) return terms;
  if (a->kind == SNT_K_ACT_HARD_SWISH) return fabs(x) * terms;
  return want;
}

static void check_path(test_state *ts, const char *isa, pass_fn pass, const float *x, int64_t n) {
  float *y = malloc((size_t)n * sizeof(float)), *z = malloc((size_t)n * sizeof(float));
  if (!y || !z) abort();
  for (int a = 0; a < N_ACTS; a++) {
    const snt_k_act *act = &ACTS[a];
    pass(act, x, y, n);
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
      double want = ref_act(act, (double)x[i]);
      double floor_ = 0x1p-126 * (act->kind == SNT_K_ACT_SILU ? fmax(1.0, fabs((double)x[i])) : 1.0);
      /* GELU far below 0 is x times a vanishing erfc: within |x| 2^-24 (it is 0 past x = -5.66) */
      if (act->kind == SNT_K_ACT_GELU) floor_ = fmax(floor_, fabs((double)x[i]) * 0x1p-26);
      if (ulp_close(y[i], want, scale_of(act, (double)x[i], want), floor_)) continue;
      if (bad++ < 3)
        fprintf(stderr, "%s kind %d: act(%.9g) = %.9g, want %.9g\n", isa, (int)act->kind, (double)x[i], (double)y[i],
                ref_act(act, (double)x[i]));
    }
    ts->checks++;
    ts->failures += bad > 0;
    /* in place, from an unaligned start, every tail length up to 40: the same bits */
    int same = 1;
    for (int64_t len = 1; len <= 40; len++) {
      int64_t at = n - 60 + len % 3; /* the specials */
      memcpy(z, x + at, (size_t)len * sizeof(float));
      pass(act, z, z, len);
      same &= memcmp(z, y + at, (size_t)len * sizeof(float)) == 0;
    }
    CHECK(ts, same);
    /* lengths past 64 from offsets the full pass did not share: elements it took four vectors
     * at a time come one at a time here, around -5 (where every formula's rounding shows) and
     * among the specials */
    same = 1;
    for (int64_t len = 64; len <= 140; len += 13)
      for (int64_t at = 9500 + len % 5; at < n; at = at < n - 150 ? n - 150 + len % 5 : n) {
        memcpy(z, x + at, (size_t)len * sizeof(float));
        pass(act, z, z, len);
        same &= memcmp(z, y + at, (size_t)len * sizeof(float)) == 0;
      }
    CHECK(ts, same);
  }
  free(y);
  free(z);
}

/* snt_k_activation on a team: bit-identical to one pass, large and small n. */
static void check_team(test_state *ts, const float *x, int64_t n) {
  snt_k_ctx *c1 = snt_k_ctx_create(1), *c2 = snt_k_ctx_create(2);
  float *y1 = malloc((size_t)n * sizeof(float)), *y2 = malloc((size_t)n * sizeof(float));
  if (!c1 || !c2 || !y1 || !y2) abort();
  for (int a = 0; a < N_ACTS; a++) {
    for (int64_t len = n; len > 0; len = len > 100 ? len / 7 : 0) {
      snt_k_activation(c1, &ACTS[a], x, y1, len);
      snt_k_activation(c2, &ACTS[a], x, y2, len);
      CHECK(ts, memcmp(y1, y2, (size_t)len * sizeof(float)) == 0);
    }
    memcpy(y2, x, (size_t)n * sizeof(float)); /* in place */
    snt_k_activation(c2, &ACTS[a], y2, y2, n);
    snt_k_activation(c1, &ACTS[a], x, y1, n);
    CHECK(ts, memcmp(y1, y2, (size_t)n * sizeof(float)) == 0);
  }
  free(y1);
  free(y2);
  snt_k_ctx_destroy(c1);
  snt_k_ctx_destroy(c2);
}

int main(void) {
  test_state ts = {0};
  int64_t n;
  float *x = inputs(&n);
  __builtin_cpu_init();
  check_path(&ts, "c", snt_k_act_pass_c, x, n);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) check_path(&ts, "avx2", snt_k_act_pass_avx2, x, n);
  else printf("no AVX2+FMA on this CPU: its path is not run\n");
  if (__builtin_cpu_supports("avx512f")) check_path(&ts, "avx512", snt_k_act_pass_avx512, x, n);
  else printf("no AVX-512F on this CPU: its path is not run\n");
  check_team(&ts, x, n);
  free(x);
  return test_report("act_pass", &ts);
}
