/* snt_k_bn_infer and snt_k_pool_ctx (the vectorised, threaded inference kernels) against naive
 * float loops that compute each element the documented way, bit for bit: awkward shapes (tails of
 * 16 and 8 lanes, odd sizes, one-sided pads, ceil-mode windows, strides 1 to 3, dilation, 1-D and
 * 3-D), NaN and -0 in the inputs, each ISA forced by SINTER_ISA, on 1 and 2 threads. */
#include "kernels_ref.h"

static const char *const isas[] = {"avx512", "avx2", "c"};

static int same_bits(const float *a, const float *b, int64_t n, int64_t *at) {
  for (int64_t i = 0; i < n; i++) {
    if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      *at = i;
      return 0;
    }
  }
  return 1;
}

static void check_bits(test_state *ts, const char *what, const char *isa, int threads, const float *got,
                       const float *want, int64_t n) {
  int64_t at = -1;
  ts->checks++;
  if (!same_bits(got, want, n, &at)) {
    ts->failures++;
    fprintf(stderr, "%s (%s, %d threads): element %lld: got %.9g, want %.9g\n", what, isa, threads, (long long)at,
            (double)got[at], (double)want[at]);
  }
}

/* A few NaNs and signed zeros among uniform values, for the max's and relu's tie rules. */
static void fill_awkward(rng *r, float *x, int64_t n) {
  rng_fill(r, x, n);
  for (int64_t i = 0; i < n; i++) {
    int64_t u = rng_int(r, 0, 99);
    if (u == 0) x[i] = NAN;
    else if (u == 1) x[i] = -0.0f;
    else if (u == 2) x[i] = 0.0f;
  }
}

/* ---- BatchNormalization ---- */

typedef struct bn_case {
  int64_t batch, channels, inner;
  int relu, no_gamma, no_beta;
} bn_case;

static const bn_case bn_cases[] = {
    {1, 3, 1, 0, 0, 0},    {2, 5, 7, 1, 0, 0},     {1, 7, 17, 1, 1, 0},   {3, 4, 33, 0, 0, 1},
    {1, 64, 49, 1, 0, 0},  {2, 9, 15, 0, 1, 1},    {1, 33, 1031, 1, 0, 0}, {2, 17, 1000, 0, 0, 0},
    {3, 130, 121, 1, 0, 0}, {1, 256, 196, 1, 0, 0}, {1, 1, 70001, 1, 0, 0}, {0, 3, 5, 1, 0, 0},
    {1, 2, 600011, 1, 0, 0}, /* past the size the team takes on */
};

/* The spec: s and t in float, then x * s rounded, plus t rounded (volatile keeps them apart). */
static void ref_bn(const bn_case *c, const float *x, const float *g, const float *b, const float *mean,
                   const float *var, float eps, float *y) {
  for (int64_t p = 0; p < c->batch * c->channels; p++) {
    int64_t ch = p % c->channels;
    float s = (c->no_gamma ? 1.0f : g[ch]) / sqrtf(var[ch] + eps);
    float t = (c->no_beta ? 0.0f : b[ch]) - mean[ch] * s;
    for (int64_t i = 0; i < c->inner; i++) {
      volatile float prod = x[p * c->inner + i] * s;
      float v = prod + t;
      y[p * c->inner + i] = c->relu ? (v > 0 ? v : 0) : v;
    }
  }
}

static void test_bn(test_state *ts, snt_k_ctx *ctx[2], const char *isa) {
  rng r = {0x5eed0b01};
  for (size_t i = 0; i < sizeof bn_cases / sizeof *bn_cases; i++) {
    const bn_case *c = &bn_cases[i];
    int64_t n = c->batch * c->channels * c->inner, ch = c->channels;
    float *x = alloc_f(n), *y = alloc_nan(n), *want = alloc_f(n), *xi = alloc_f(n);
    float *g = alloc_f(ch), *b = alloc_f(ch), *mean = alloc_f(ch), *var = alloc_f(ch), eps = 1e-3f;
    fill_awkward(&r, x, n);
    rng_fill(&r, g, ch), rng_fill(&r, b, ch), rng_fill(&r, mean, ch);
    for (int64_t k = 0; k < ch; k++) var[k] = 0.6f + 0.5f * rng_float(&r);
    ref_bn(c, x, g, b, mean, var, eps, want);
    char what[120];
    snprintf(what, sizeof what, "bn %lldx%lldx%lld relu=%d", (long long)c->batch, (long long)c->channels,
             (long long)c->inner, c->relu);
    for (int t = 0; t < 2; t++) {
      for (int64_t q = 0; q < n; q++) y[q] = NAN;
      CHECK_INT(ts, snt_k_bn_infer(ctx[t], c->batch, ch, c->inner, x, c->no_gamma ? NULL : g, c->no_beta ? NULL : b,
                                   mean, var, eps, c->relu, y),
                SNT_OK);
      check_bits(ts, what, isa, t + 1, y, want, n);
      memcpy(xi, x, (size_t)n * sizeof(float)); /* in place */
      CHECK_INT(ts, snt_k_bn_infer(ctx[t], c->batch, ch, c->inner, xi, c->no_gamma ? NULL : g, c->no_beta ? NULL : b,
                                   mean, var, eps, c->relu, xi),
                SNT_OK);
      check_bits(ts, what, isa, t + 1, xi, want, n);
    }
    free(x), free(y), free(want), free(xi), free(g), free(b), free(mean), free(var);
  }
}

/* ---- pooling ---- */

typedef struct pool_case {
  int spatial, max, include_pad;
  int64_t batch, channels;
  int64_t in[3], k[3], s[3], dl[3], pb[3], pe[3];
  int ceil_mode;
} pool_case;

static const pool_case pool_cases[] = {
    {2, 1, 0, 1, 32, {224, 224}, {2, 2}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 0}, /* SimpleCNN's first pool */
    {2, 1, 0, 1, 5, {114, 114}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 0},  /* ResNet50V2's, after its Pad */
    {2, 1, 0, 2, 3, {56, 56}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 0},    /* ResNet50V2's shortcuts */
    {2, 1, 0, 1, 3, {37, 35}, {2, 2}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 1},
    {2, 1, 0, 2, 2, {33, 47}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 0},
    {2, 1, 0, 1, 3, {19, 40}, {3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 0}, 1},
    {2, 1, 0, 1, 2, {21, 66}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 0},
    {2, 1, 0, 1, 2, {17, 50}, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
    {2, 1, 0, 1, 2, {15, 41}, {3, 3}, {1, 2}, {2, 2}, {2, 2}, {2, 2}, 0},
    {2, 1, 0, 2, 1, {9, 4}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, 0},
    {2, 1, 0, 1, 2, {23, 45}, {2, 4}, {1, 2}, {1, 1}, {0, 1}, {1, 2}, 1},
    {2, 1, 0, 1, 2, {13, 70}, {3, 5}, {2, 2}, {1, 1}, {1, 2}, {1, 2}, 0},
    {2, 0, 0, 1, 3, {37, 35}, {2, 2}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 1},
    {2, 0, 0, 2, 2, {33, 47}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 0},
    {2, 0, 1, 2, 2, {33, 47}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1},
    {2, 0, 1, 1, 2, {21, 66}, {3, 3}, {1, 1}, {1, 1}, {1, 0}, {1, 2}, 0},
    {2, 0, 0, 1, 40, {64, 64}, {2, 2}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 0}, /* DenseNet's transitions */
    {2, 0, 0, 1, 3, {30, 41}, {2, 2}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 0},   /* stride 1: 1 / 4 as a product */
    {2, 0, 0, 2, 2, {20, 35}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 0},
    {2, 0, 1, 1, 16, {199, 197}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 0}, /* on the team */
    {2, 0, 1, 1, 2, {17, 50}, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
    {1, 1, 0, 2, 3, {77}, {3}, {2}, {1}, {1}, {1}, 0},
    {1, 0, 1, 2, 3, {130}, {4}, {1}, {1}, {2}, {1}, 0},
    {3, 1, 0, 1, 2, {5, 9, 38}, {2, 3, 3}, {1, 2, 2}, {2, 1, 1}, {0, 1, 1}, {1, 1, 1}, 0},
    {3, 0, 1, 1, 2, {5, 9, 38}, {3, 2, 2}, {2, 1, 2}, {1, 2, 1}, {1, 0, 1}, {1, 1, 0}, 1},
};

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t dl, int64_t pb, int64_t pe, int ceil_mode) {
  int64_t span = in + pb + pe - ((k - 1) * dl + 1);
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pb) out--;
  return out;
}

static snt_k_pool_desc pool_desc(const pool_case *c) {
  snt_k_pool_desc d = {.spatial = c->spatial, .kind = c->max ? SNT_K_POOL_MAX : SNT_K_POOL_AVG,
                       .count_include_pad = c->include_pad, .batch = c->batch, .channels = c->channels};
  for (int a = 0; a < c->spatial; a++) {
    d.in[a] = c->in[a], d.kernel[a] = c->k[a], d.stride[a] = c->s[a], d.dilation[a] = c->dl[a];
    d.pad_begin[a] = c->pb[a], d.pad_end[a] = c->pe[a];
    d.out[a] = out_size(c->in[a], c->k[a], c->s[a], c->dl[a], c->pb[a], c->pe[a], c->ceil_mode);
  }
  return d;
}

/* Per window, taps in row-major order: the max starts at the first real tap and takes a later one
 * only when strictly greater; the average sums in double from 0 and divides by the real taps, or
 * with count_include_pad by the taps inside [-pb, in + pe). */
static void ref_pool(const snt_k_pool_desc *d, const float *x, float *y) {
  int S = d->spatial;
  int64_t in_sz = prod64(d->in, S), out_sz = prod64(d->out, S), k_sz = prod64(d->kernel, S);
  for (int64_t p = 0; p < d->batch * d->channels; p++)
    for (int64_t op = 0; op < out_sz; op++) {
      int64_t o[3], k[3], n_real = 0, n_pad = 0, rest = op;
      for (int a = S - 1; a >= 0; a--) o[a] = rest % d->out[a], rest /= d->out[a];
      float best = -INFINITY;
      double sum = 0.0;
      for (int64_t kp = 0; kp < k_sz; kp++) {
        int64_t kr = kp, off = 0;
        for (int a = S - 1; a >= 0; a--) k[a] = kr % d->kernel[a], kr /= d->kernel[a];
        int real = 1, in_pad = 1;
        for (int a = 0; a < S; a++) {
          int64_t c = o[a] * d->stride[a] - d->pad_begin[a] + k[a] * d->dilation[a];
          real = real && c >= 0 && c < d->in[a];
          in_pad = in_pad && c >= -d->pad_begin[a] && c < d->in[a] + d->pad_end[a];
          off = off * d->in[a] + c;
        }
        n_pad += in_pad;
        if (!real) continue;
        float v = x[p * in_sz + off];
        if (n_real == 0 || v > best) best = v;
        sum += v;
        n_real++;
      }
      int64_t count = d->count_include_pad ? n_pad : n_real;
      y[p * out_sz + op] = d->kind == SNT_K_POOL_MAX ? best : count ? (float)(sum / (double)count) : 0.0f;
    }
}

static void test_pool(test_state *ts, snt_k_ctx *ctx[2], const char *isa) {
  rng r = {0x5eed0b02};
  for (size_t i = 0; i < sizeof pool_cases / sizeof *pool_cases; i++) {
    snt_k_pool_desc d = pool_desc(&pool_cases[i]);
    int S = d.spatial;
    int64_t nx = d.batch * d.channels * prod64(d.in, S), ny = d.batch * d.channels * prod64(d.out, S);
    float *x = alloc_f(nx), *y = alloc_f(ny), *want = alloc_f(ny);
    fill_awkward(&r, x, nx);
    ref_pool(&d, x, want);
    char what[160];
    snprintf(what, sizeof what, "pool case %zu (%s S=%d in %lldx%lld k %lld s %lld)", i, d.kind ? "avg" : "max", S,
             (long long)d.in[S > 1 ? S - 2 : 0], (long long)d.in[S - 1], (long long)d.kernel[S - 1],
             (long long)d.stride[S - 1]);
    for (int t = 0; t < 2; t++) {
      for (int64_t q = 0; q < ny; q++) y[q] = 12345.0f;
      CHECK_INT(ts, snt_k_pool_ctx(ctx[t], &d, x, y, NULL), SNT_OK);
      check_bits(ts, what, isa, t + 1, y, want, ny);
    }
    if (d.kind == SNT_K_POOL_MAX) { /* with indices: the per-window path, on the team */
      int64_t *ind = (int64_t *)xmalloc((size_t)ny * sizeof(int64_t));
      CHECK_INT(ts, snt_k_pool_ctx(ctx[1], &d, x, y, ind), SNT_OK);
      check_bits(ts, what, isa, 2, y, want, ny);
      int ok = 1;
      for (int64_t q = 0; q < ny && ok; q++) ok = ind[q] >= 0 && ind[q] < nx && memcmp(&x[ind[q]], &y[q], 4) == 0;
      CHECK(ts, ok);
      free(ind);
    }
    free(x), free(y), free(want);
  }
}

int main(void) {
  test_state ts = {0};
  for (int i = 0; i < 3; i++) {
    setenv("SINTER_ISA", isas[i], 1); /* read when a context is made */
    snt_k_ctx *ctx[2] = {snt_k_ctx_create(1), snt_k_ctx_create(2)};
    CHECK(&ts, ctx[0] && ctx[1] && snt_k_ctx_threads(ctx[1]) == 2);
    test_bn(&ts, ctx, isas[i]);
    test_pool(&ts, ctx, isas[i]);
    snt_k_ctx_destroy(ctx[0]);
    snt_k_ctx_destroy(ctx[1]);
  }
  unsetenv("SINTER_ISA");
  return test_report("test_kernels_bn_pool", &ts);
}
