/* Backward kernels against central finite differences of the forward kernels (objective
 * J = sum(r * y) with random r, evaluated in double from the float outputs), plus
 * hand-computed cases. Outputs start as NaN so that an element a kernel forgets fails.
 *
 * Steps and tolerances: conv, average pooling and padding are linear and max pooling is
 * piecewise linear with exact copies, so central differences have no truncation error at any
 * step; the steps there are large (0.25) so that float rounding of the forward (about 1e-7 of
 * the summed terms, a few dozen y elements per perturbed input) stays below 1e-5 of the
 * gradient. Nonlinear kernels (BN, softmax, loss) use 1e-2 or 1e-3 (truncation ~h^2 * f''',
 * below 1e-5 here) and a tolerance of 2e-3 of the largest gradient, 10x above the rounding
 * noise (~1e-7 * |J| / h). */
#include <stdint.h>

#include "kernels_ref.h"
#include "sinter/kernels_train.h"

/* ---- finite-difference machinery ----------------------------------------------------- */

typedef double (*objective_fn)(void *ctx);

/* g[i] = (J(p_i + h) - J(p_i - h)) / (actual step), p restored afterwards. */
static void fd_grad(float *p, int64_t n, double h, objective_fn f, void *ctx, double *g) {
  for (int64_t i = 0; i < n; i++) {
    float p0 = p[i];
    p[i] = (float)(p0 + h);
    double xp = p[i], jp = f(ctx);
    p[i] = (float)(p0 - h);
    double xm = p[i], jm = f(ctx);
    p[i] = p0;
    g[i] = (jp - jm) / (xp - xm);
  }
}

static double dot_rd(const double *r, const float *y, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += r[i] * (double)y[i];
  return s;
}

/* max_i |got_i - want_i| <= tol * max_i |want_i|: the error relative to the gradient's scale. */
static void check_grad(test_state *ts, const char *what, const float *got, const double *want, int64_t n,
                       double tol) {
  double scale = 1e-30;
  for (int64_t i = 0; i < n; i++) scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
  ts->checks++;
  for (int64_t i = 0; i < n; i++) {
    if (!(fabs((double)got[i] - want[i]) <= tol * scale)) {
      ts->failures++;
      fprintf(stderr, "%s: element %lld: got %.9g, want %.9g (scale %.3g)\n", what, (long long)i, (double)got[i],
              want[i], scale);
      return;
    }
  }
}

static double *rand_d(rng *r, int64_t n) {
  double *p = alloc_d(n);
  for (int64_t i = 0; i < n; i++) p[i] = rng_float(r);
  return p;
}

static float *rand_f(rng *r, int64_t n) {
  float *p = alloc_f(n);
  rng_fill(r, p, n);
  return p;
}

/* ---- convolution --------------------------------------------------------------------- */

typedef struct conv_ctx {
  snt_k_conv_desc d;
  float *x, *w, *b, *y;
  double *r;
  void *scratch;
  int64_t ny;
} conv_ctx;

static double conv_objective(void *p) {
  conv_ctx *c = p;
  if (snt_k_conv(NULL, &c->d, c->x, c->w, c->b, NULL, c->y, c->scratch) != SNT_OK) return NAN;
  return dot_rd(c->r, c->y, c->ny);
}

static snt_k_conv_desc conv_desc(int spatial, int64_t batch, int64_t cin, int64_t cout, int64_t groups,
                                 const int64_t *in, const int64_t *k, const int64_t *s, const int64_t *dl,
                                 const int64_t *pb, const int64_t *pe) {
  snt_k_conv_desc d;
  memset(&d, 0, sizeof d);
  d.spatial = spatial;
  d.batch = batch;
  d.in_channels = cin;
  d.out_channels = cout;
  d.groups = groups;
  for (int a = 0; a < spatial; a++) {
    d.in[a] = in[a];
    d.kernel[a] = k[a];
    d.stride[a] = s[a];
    d.dilation[a] = dl[a];
    d.pad_begin[a] = pb[a];
    d.pad_end[a] = pe[a];
    d.out[a] = (in[a] + pb[a] + pe[a] - dl[a] * (k[a] - 1) - 1) / s[a] + 1;
  }
  return d;
}

static void check_conv(test_state *ts, const char *what, snt_k_conv_desc d, uint64_t seed) {
  rng r = {seed};
  int S = d.spatial;
  int64_t nx = d.batch * d.in_channels * prod64(d.in, S), ny = d.batch * d.out_channels * prod64(d.out, S);
  int64_t nw = d.out_channels * (d.in_channels / d.groups) * prod64(d.kernel, S);
  conv_ctx c = {d, rand_f(&r, nx), rand_f(&r, nw), rand_f(&r, d.out_channels), alloc_f(ny), rand_d(&r, ny), NULL, ny};
  /* Scratch sized for the largest batch: the size must not depend on it. */
  snt_k_conv_desc big = d;
  big.batch = 32;
  size_t sb = snt_k_conv_backward_scratch_bytes(&d), sf = snt_k_conv_scratch_bytes(&d);
  CHECK(ts, sb == snt_k_conv_backward_scratch_bytes(&big));
  c.scratch = xmalloc(sb > sf ? sb : sf);
  float *dy = alloc_f(ny), *dx = alloc_nan(nx), *dw = alloc_nan(nw), *db = alloc_nan(d.out_channels);
  for (int64_t i = 0; i < ny; i++) dy[i] = (float)c.r[i];
  CHECK_INT(ts, snt_k_conv_backward_data(NULL, &d, dy, c.w, dx, c.scratch), SNT_OK);
  CHECK_INT(ts, snt_k_conv_backward_filter(NULL, &d, c.x, dy, dw, db, c.scratch), SNT_OK);
  double *gx = alloc_d(nx), *gw = alloc_d(nw), *gb = alloc_d(d.out_channels);
  fd_grad(c.x, nx, 0.25, conv_objective, &c, gx);
  fd_grad(c.w, nw, 0.25, conv_objective, &c, gw);
  fd_grad(c.b, d.out_channels, 0.25, conv_objective, &c, gb);
  char name[128];
  snprintf(name, sizeof name, "%s: dx", what);
  check_grad(ts, name, dx, gx, nx, 1e-4);
  snprintf(name, sizeof name, "%s: dw", what);
  check_grad(ts, name, dw, gw, nw, 1e-4);
  snprintf(name, sizeof name, "%s: db", what);
  check_grad(ts, name, db, gb, d.out_channels, 1e-4);
  /* db is optional; dw must not change without it. */
  float *dw2 = alloc_nan(nw);
  CHECK_INT(ts, snt_k_conv_backward_filter(NULL, &d, c.x, dy, dw2, NULL, c.scratch), SNT_OK);
  CHECK(ts, memcmp(dw, dw2, (size_t)nw * sizeof(float)) == 0);
  /* db's channels split over a team: each summed alone, so the same bits as on one thread. */
  snt_k_ctx *team = snt_k_ctx_create(3);
  float *db3 = alloc_nan(d.out_channels);
  CHECK_INT(ts, snt_k_conv_backward_filter(team, &d, c.x, dy, dw2, db3, c.scratch), SNT_OK);
  CHECK(ts, memcmp(db, db3, (size_t)d.out_channels * sizeof(float)) == 0);
  snt_k_ctx_destroy(team);
  free(db3);
  free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(c.scratch);
  free(dy), free(dx), free(dw), free(db), free(dw2), free(gx), free(gw), free(gb);
}

static void test_conv(test_state *ts) {
  {
    int64_t in[] = {7, 8}, k[] = {3, 3}, s[] = {2, 2}, dl[] = {1, 1}, pb[] = {0, 1}, pe[] = {1, 2};
    check_conv(ts, "2-D stride 2, asymmetric pads, groups 2", conv_desc(2, 2, 4, 6, 2, in, k, s, dl, pb, pe), 1);
  }
  {
    int64_t in[] = {9, 8}, k[] = {3, 2}, s[] = {1, 1}, dl[] = {2, 2}, pb[] = {2, 1}, pe[] = {1, 0};
    check_conv(ts, "2-D dilation 2", conv_desc(2, 2, 3, 4, 1, in, k, s, dl, pb, pe), 2);
  }
  { /* "same" with dilation 2: the shifted-plane im2col, taps 2 apart */
    int64_t in[] = {9, 8}, k[] = {3, 3}, s[] = {1, 1}, dl[] = {2, 2}, pb[] = {2, 2}, pe[] = {2, 2};
    check_conv(ts, "2-D dilation 2, same", conv_desc(2, 2, 3, 4, 1, in, k, s, dl, pb, pe), 10);
  }
  {
    int64_t in[] = {11}, k[] = {3}, s[] = {2}, dl[] = {1}, pb[] = {1}, pe[] = {0};
    check_conv(ts, "1-D stride 2", conv_desc(1, 3, 2, 3, 1, in, k, s, dl, pb, pe), 3);
  }
  {
    int64_t in[] = {4, 5, 5}, k[] = {2, 3, 3}, s[] = {1, 2, 1}, dl[] = {1, 1, 2}, pb[] = {1, 0, 2}, pe[] = {0, 1, 1};
    check_conv(ts, "3-D", conv_desc(3, 2, 2, 4, 2, in, k, s, dl, pb, pe), 4);
  }
  {
    int64_t in[] = {5, 6}, k[] = {3, 3}, s[] = {1, 1}, dl[] = {1, 1}, pb[] = {1, 1}, pe[] = {1, 1};
    check_conv(ts, "depthwise", conv_desc(2, 2, 3, 6, 3, in, k, s, dl, pb, pe), 5);
  }
  { /* 1x1 over 32x32: one image per sgemm, no im2col */
    int64_t in[] = {32, 32}, k[] = {1, 1}, s[] = {1, 1}, dl[] = {1, 1}, pb[] = {0, 0}, pe[] = {0, 0};
    check_conv(ts, "pointwise, large plane", conv_desc(2, 2, 3, 4, 1, in, k, s, dl, pb, pe), 6);
  }
  { /* 1x1 over 4x4: chunks of images side by side */
    int64_t in[] = {4, 4}, k[] = {1, 1}, s[] = {1, 1}, dl[] = {1, 1}, pb[] = {0, 0}, pe[] = {0, 0};
    check_conv(ts, "pointwise, small plane", conv_desc(2, 3, 3, 4, 1, in, k, s, dl, pb, pe), 7);
  }
  { /* 33x33 same: one image per sgemm through im2col */
    int64_t in[] = {33, 33}, k[] = {3, 3}, s[] = {1, 1}, dl[] = {1, 1}, pb[] = {1, 1}, pe[] = {1, 1};
    check_conv(ts, "3x3 same, large plane", conv_desc(2, 2, 2, 2, 1, in, k, s, dl, pb, pe), 8);
  }
  { /* 20x20: two images per chunk, batch 3 leaves a partial chunk */
    int64_t in[] = {20, 20}, k[] = {3, 3}, s[] = {1, 1}, dl[] = {1, 1}, pb[] = {1, 1}, pe[] = {1, 1};
    check_conv(ts, "partial chunk", conv_desc(2, 3, 2, 3, 1, in, k, s, dl, pb, pe), 9);
  }
  { /* batch 0: gradients are zero, db too */
    int64_t in[] = {4, 4}, k[] = {3, 3}, s[] = {1, 1}, dl[] = {1, 1}, pb[] = {1, 1}, pe[] = {1, 1};
    snt_k_conv_desc d = conv_desc(2, 0, 2, 3, 1, in, k, s, dl, pb, pe);
    float dw[54], db[3];
    for (int i = 0; i < 54; i++) dw[i] = NAN;
    for (int i = 0; i < 3; i++) db[i] = NAN;
    void *scratch = xmalloc(snt_k_conv_backward_scratch_bytes(&d));
    CHECK_INT(ts, snt_k_conv_backward_filter(NULL, &d, NULL, NULL, dw, db, scratch), SNT_OK);
    int zeros = 1;
    for (int i = 0; i < 54; i++) zeros = zeros && dw[i] == 0.0f;
    for (int i = 0; i < 3; i++) zeros = zeros && db[i] == 0.0f;
    CHECK(ts, zeros);
    free(scratch);
    d.groups = 4; /* 2 channels do not split into 4 groups */
    CHECK_INT(ts, snt_k_conv_backward_data(NULL, &d, NULL, NULL, NULL, NULL), SNT_ERR_INPUT);
  }
}

/* ---- pooling ------------------------------------------------------------------------- */

typedef struct pool_ctx {
  snt_k_pool_desc d;
  float *x, *y;
  double *r;
  int64_t ny;
} pool_ctx;

static double pool_objective(void *p) {
  pool_ctx *c = p;
  if (snt_k_pool(&c->d, c->x, c->y, NULL) != SNT_OK) return NAN;
  return dot_rd(c->r, c->y, c->ny);
}

static snt_k_pool_desc pool_desc(snt_k_pool_kind kind, int include_pad, int spatial, const int64_t *in,
                                 const int64_t *k, const int64_t *s, const int64_t *dl, const int64_t *pb,
                                 const int64_t *pe) {
  snt_k_pool_desc d;
  memset(&d, 0, sizeof d);
  d.spatial = spatial;
  d.kind = kind;
  d.count_include_pad = include_pad;
  d.batch = 2;
  d.channels = 3;
  for (int a = 0; a < spatial; a++) {
    d.in[a] = in[a];
    d.kernel[a] = k[a];
    d.stride[a] = s[a];
    d.dilation[a] = dl[a];
    d.pad_begin[a] = pb[a];
    d.pad_end[a] = pe[a];
    d.out[a] = (in[a] + pb[a] + pe[a] - dl[a] * (k[a] - 1) - 1) / s[a] + 1;
  }
  return d;
}

static void check_pool(test_state *ts, const char *what, snt_k_pool_desc d, uint64_t seed) {
  rng r = {seed};
  int64_t nx = d.batch * d.channels * prod64(d.in, d.spatial), ny = d.batch * d.channels * prod64(d.out, d.spatial);
  pool_ctx c = {d, alloc_f(nx), alloc_f(ny), rand_d(&r, ny), ny};
  /* Distinct values 0.01 apart (a shuffled ramp): a step of 1e-3 never changes a window's maximum. */
  for (int64_t i = 0; i < nx; i++) c.x[i] = (float)i * 0.01f;
  for (int64_t i = nx - 1; i > 0; i--) {
    int64_t j = rng_int(&r, 0, i);
    float t = c.x[i];
    c.x[i] = c.x[j];
    c.x[j] = t;
  }
  float *dy = alloc_f(ny), *dx = alloc_nan(nx);
  for (int64_t i = 0; i < ny; i++) dy[i] = (float)c.r[i];
  CHECK_INT(ts, snt_k_pool_backward(&d, c.x, dy, dx), SNT_OK);
  double *g = alloc_d(nx);
  fd_grad(c.x, nx, d.kind == SNT_K_POOL_MAX ? 1e-3 : 0.25, pool_objective, &c, g);
  check_grad(ts, what, dx, g, nx, 1e-4);
  free(c.x), free(c.y), free(c.r), free(dy), free(dx), free(g);
}

static void test_pool(test_state *ts) {
  { /* overlapping 3x3 windows, stride 2; 8 -> 4 outputs in ceil mode (pad_end 1) */
    int64_t in[] = {8, 8}, k[] = {3, 3}, s[] = {2, 2}, dl[] = {1, 1}, pb[] = {0, 1}, pe[] = {1, 1};
    check_pool(ts, "max 3x3/2 ceil", pool_desc(SNT_K_POOL_MAX, 0, 2, in, k, s, dl, pb, pe), 11);
  }
  { /* 2x2/2 windows tile the plane (the one-pass path); the last column is in no window */
    int64_t in[] = {8, 9}, k[] = {2, 2}, s[] = {2, 2}, dl[] = {1, 1}, pb[] = {0, 0}, pe[] = {0, 0};
    check_pool(ts, "max 2x2/2 tiling", pool_desc(SNT_K_POOL_MAX, 0, 2, in, k, s, dl, pb, pe), 17);
  }
  { /* ties in tiling windows: the first element of the window, as snt_k_pool's index */
    int64_t in[] = {2, 4}, k[] = {2, 2}, s[] = {2, 2}, dl[] = {1, 1}, pb[] = {0, 0}, pe[] = {0, 0};
    snt_k_pool_desc d = pool_desc(SNT_K_POOL_MAX, 0, 2, in, k, s, dl, pb, pe);
    d.batch = d.channels = 1;
    float x[8] = {3, 3, 1, 2, 3, 3, 2, 2}, dy[2] = {1.0f, 5.0f}, dx[8], y[2];
    int64_t idx[2];
    CHECK_INT(ts, snt_k_pool(&d, x, y, idx), SNT_OK);
    CHECK_INT(ts, snt_k_pool_backward(&d, x, dy, dx), SNT_OK);
    const float want[8] = {1, 0, 0, 5, 0, 0, 0, 0};
    check_close_list(ts, "tiling max ties", dx, want, 8, 0.0);
    CHECK_INT(ts, idx[0], 0);
    CHECK_INT(ts, idx[1], 3);
  }
  {
    int64_t in[] = {9}, k[] = {2}, s[] = {1}, dl[] = {2}, pb[] = {1}, pe[] = {1};
    check_pool(ts, "max 1-D dilation 2", pool_desc(SNT_K_POOL_MAX, 0, 1, in, k, s, dl, pb, pe), 12);
  }
  {
    int64_t in[] = {3, 4, 5}, k[] = {2, 2, 3}, s[] = {1, 2, 2}, dl[] = {1, 1, 1}, pb[] = {0, 0, 1}, pe[] = {1, 1, 1};
    check_pool(ts, "max 3-D", pool_desc(SNT_K_POOL_MAX, 0, 3, in, k, s, dl, pb, pe), 13);
  }
  for (int inc = 0; inc < 2; inc++) {
    int64_t in[] = {7, 6}, k[] = {3, 2}, s[] = {2, 2}, dl[] = {1, 1}, pb[] = {1, 0}, pe[] = {2, 1};
    check_pool(ts, inc ? "avg count_include_pad" : "avg excluding pad",
               pool_desc(SNT_K_POOL_AVG, inc, 2, in, k, s, dl, pb, pe), 14 + (uint64_t)inc);
  }
  { /* ties go to the first element in row-major order, as snt_k_pool picks */
    snt_k_pool_desc d;
    int64_t in[] = {2, 3}, k[] = {2, 2}, s[] = {1, 1}, dl[] = {1, 1}, pb[] = {0, 0}, pe[] = {0, 0};
    d = pool_desc(SNT_K_POOL_MAX, 0, 2, in, k, s, dl, pb, pe);
    d.batch = d.channels = 1;
    float x[6] = {1, 2, 2, 2, 2, 0}, dy[2] = {1.0f, 10.0f}, dx[6];
    int64_t idx[2];
    float y[2];
    CHECK_INT(ts, snt_k_pool(&d, x, y, idx), SNT_OK);
    CHECK_INT(ts, snt_k_pool_backward(&d, x, dy, dx), SNT_OK);
    const float want[6] = {0, 11, 0, 0, 0, 0}; /* both windows pick x[1] first */
    check_close_list(ts, "max ties", dx, want, 6, 0.0);
    CHECK_INT(ts, idx[0], 1);
    CHECK_INT(ts, idx[1], 1);
  }
  { /* a window entirely in the padding sends nothing back */
    int64_t in[] = {4}, k[] = {2}, s[] = {2}, dl[] = {1}, pb[] = {2}, pe[] = {0};
    for (int kind = 0; kind < 2; kind++) {
      snt_k_pool_desc d = pool_desc(kind ? SNT_K_POOL_AVG : SNT_K_POOL_MAX, 0, 1, in, k, s, dl, pb, pe);
      d.batch = d.channels = 1;
      float x[4] = {4, 3, 2, 1}, dy[3] = {100, 1, 2}, dx[4];
      CHECK_INT(ts, d.out[0], 3);
      CHECK_INT(ts, snt_k_pool_backward(&d, x, dy, dx), SNT_OK);
      const float want_max[4] = {1, 0, 2, 0}, want_avg[4] = {0.5f, 0.5f, 1, 1};
      check_close_list(ts, "empty window", dx, kind ? want_avg : want_max, 4, 0.0);
    }
  }
  { /* GlobalAveragePool backward against the forward's differences */
    rng r = {16};
    float x[12], dx[12];
    double rr[4], g[12];
    for (int i = 0; i < 4; i++) rr[i] = rng_float(&r);
    rng_fill(&r, x, 12);
    float dy[4];
    for (int i = 0; i < 4; i++) dy[i] = (float)rr[i];
    snt_k_global_avg_pool_backward(4, 3, dy, dx);
    for (int i = 0; i < 12; i++) {
      float y[4], x0 = x[i];
      x[i] = x0 + 0.25f;
      snt_k_global_pool(SNT_K_POOL_AVG, 4, 3, x, y);
      double jp = 0;
      for (int j = 0; j < 4; j++) jp += rr[j] * y[j];
      x[i] = x0 - 0.25f;
      snt_k_global_pool(SNT_K_POOL_AVG, 4, 3, x, y);
      double jm = 0;
      for (int j = 0; j < 4; j++) jm += rr[j] * y[j];
      x[i] = x0;
      g[i] = (jp - jm) / 0.5;
    }
    check_grad(ts, "global avg pool", dx, g, 12, 1e-5);
  }
  { /* GlobalMaxPool backward, by hand: each plane's dy lands on its first maximum (plane 1 has a
     * tie at positions 0 and 2: position 0 gets it, as the forward's row-major scan keeps it) */
    const float x[9] = {0.5f, 2.0f, -1.0f, 3.0f, 1.0f, 3.0f, -2.0f, -5.0f, -3.0f}, dy[3] = {0.25f, -1.5f, 4.0f};
    const double want[9] = {0, 0.25, 0, -1.5, 0, 0, 4.0, 0, 0};
    float dx[9];
    snt_k_global_max_pool_backward(3, 3, x, dy, dx);
    check_grad(ts, "global max pool", dx, want, 9, 1e-7);
  }
}

/* ---- batch normalisation ------------------------------------------------------------- */

enum { BN_N = 3, BN_C = 2, BN_I = 16, BN_TOTAL = BN_N * BN_C * BN_I };

typedef struct bn_ctx {
  float x[BN_TOTAL], y[BN_TOTAL], gamma[BN_C], beta[BN_C];
  double r[BN_TOTAL];
  float eps;
  int relu;
} bn_ctx;

static double bn_objective(void *p) {
  bn_ctx *c = p;
  float mean[BN_C], var[BN_C], is[BN_C];
  snt_k_bn_train_forward(BN_N, BN_C, BN_I, c->x, c->gamma, c->beta, c->eps, c->relu, c->y, mean, var, is);
  return dot_rd(c->r, c->y, BN_TOTAL);
}

/* Direct double statistics and outputs; returns the smallest |pre-ReLU value|. */
static double bn_reference(const bn_ctx *c, double *mean, double *var, double *y) {
  double m = (double)BN_N * BN_I, closest = INFINITY;
  for (int ch = 0; ch < BN_C; ch++) {
    double s = 0, q = 0;
    for (int n = 0; n < BN_N; n++)
      for (int i = 0; i < BN_I; i++) s += c->x[(n * BN_C + ch) * BN_I + i];
    mean[ch] = s / m;
    for (int n = 0; n < BN_N; n++)
      for (int i = 0; i < BN_I; i++) q += pow(c->x[(n * BN_C + ch) * BN_I + i] - mean[ch], 2);
    var[ch] = q / m;
    for (int n = 0; n < BN_N; n++)
      for (int i = 0; i < BN_I; i++) {
        int k = (n * BN_C + ch) * BN_I + i;
        double z = c->gamma[ch] * (c->x[k] - mean[ch]) / sqrt(var[ch] + c->eps) + c->beta[ch];
        closest = fabs(z) < closest ? fabs(z) : closest;
        y[k] = c->relu && z < 0 ? 0 : z;
      }
  }
  return closest;
}

/* Random inputs (offset by 3 so the mean matters) whose pre-ReLU values all keep 5e-3 away from
 * the kink, so that a 1e-3 step (which moves them by under 3e-3) never crosses it. */
static void bn_fill(bn_ctx *c, uint64_t seed, int relu) {
  double mean[BN_C], var[BN_C], y[BN_TOTAL];
  for (uint64_t attempt = 0;; attempt++) {
    rng r = {seed + 1000 * attempt};
    for (int i = 0; i < BN_TOTAL; i++) c->x[i] = 3.0f + rng_float(&r), c->r[i] = rng_float(&r);
    for (int ch = 0; ch < BN_C; ch++) c->gamma[ch] = 1.0f + 0.5f * rng_float(&r), c->beta[ch] = 0.3f * rng_float(&r);
    c->eps = 1e-3f;
    c->relu = relu;
    if (bn_reference(c, mean, var, y) > 5e-3) return;
  }
}

static void test_bn_forward(test_state *ts) {
  for (int relu = 0; relu < 2; relu++) {
    bn_ctx c;
    bn_fill(&c, 21, relu);
    double mean[BN_C], var[BN_C], yr[BN_TOTAL], is[BN_C];
    bn_reference(&c, mean, var, yr);
    for (int ch = 0; ch < BN_C; ch++) is[ch] = 1.0 / sqrt(var[ch] + c.eps);
    float m[BN_C], v[BN_C], s[BN_C];
    snt_k_bn_train_forward(BN_N, BN_C, BN_I, c.x, c.gamma, c.beta, c.eps, relu, c.y, m, v, s);
    check_close_arr(ts, "bn mean", m, mean, NULL, BN_C, 1e-6);
    check_close_arr(ts, "bn var", v, var, NULL, BN_C, 1e-5);
    check_close_arr(ts, "bn invstd", s, is, NULL, BN_C, 1e-5);
    check_close_arr(ts, "bn y", c.y, yr, NULL, BN_TOTAL, 1e-5);
  }
  { /* gamma/beta NULL: y = (x - mean) * invstd */
    bn_ctx c;
    bn_fill(&c, 22, 0);
    float m[BN_C], v[BN_C], s[BN_C];
    snt_k_bn_train_forward(BN_N, BN_C, BN_I, c.x, NULL, NULL, c.eps, 0, c.y, m, v, s);
    c.gamma[0] = c.gamma[1] = 1.0f;
    c.beta[0] = c.beta[1] = 0.0f;
    double mean[BN_C], var[BN_C], yr[BN_TOTAL];
    bn_reference(&c, mean, var, yr);
    check_close_arr(ts, "bn y (no gamma, beta)", c.y, yr, NULL, BN_TOTAL, 1e-5);
  }
}

static void test_bn_backward(test_state *ts) {
  for (int relu = 0; relu < 2; relu++) {
    bn_ctx c;
    bn_fill(&c, 31 + (uint64_t)relu, relu);
    float m[BN_C], v[BN_C], s[BN_C], dy[BN_TOTAL], dx[BN_TOTAL], dg[BN_C], dbt[BN_C];
    snt_k_bn_train_forward(BN_N, BN_C, BN_I, c.x, c.gamma, c.beta, c.eps, relu, c.y, m, v, s);
    for (int i = 0; i < BN_TOTAL; i++) dy[i] = (float)c.r[i], dx[i] = NAN;
    dg[0] = dg[1] = dbt[0] = dbt[1] = NAN;
    snt_k_bn_train_backward(BN_N, BN_C, BN_I, c.x, dy, c.gamma, c.beta, m, s, relu, dx, dg, dbt);
    double gx[BN_TOTAL], gg[BN_C], gb[BN_C];
    fd_grad(c.x, BN_TOTAL, 1e-3, bn_objective, &c, gx);
    fd_grad(c.gamma, BN_C, 1e-3, bn_objective, &c, gg);
    fd_grad(c.beta, BN_C, 1e-3, bn_objective, &c, gb);
    check_grad(ts, relu ? "bn+relu dx" : "bn dx", dx, gx, BN_TOTAL, 2e-3);
    check_grad(ts, relu ? "bn+relu dgamma" : "bn dgamma", dg, gg, BN_C, 2e-3);
    check_grad(ts, relu ? "bn+relu dbeta" : "bn dbeta", dbt, gb, BN_C, 2e-3);
    /* dx only, then dgamma/dbeta only: the same numbers */
    float dx2[BN_TOTAL], dg2[BN_C], db2[BN_C];
    snt_k_bn_train_backward(BN_N, BN_C, BN_I, c.x, dy, c.gamma, c.beta, m, s, relu, dx2, NULL, NULL);
    CHECK(ts, memcmp(dx, dx2, sizeof dx) == 0);
    snt_k_bn_train_backward(BN_N, BN_C, BN_I, c.x, dy, c.gamma, c.beta, m, s, relu, NULL, dg2, db2);
    CHECK(ts, memcmp(dg, dg2, sizeof dg) == 0 && memcmp(dbt, db2, sizeof dbt) == 0);
  }
}

/* Planes of every length class the sums take (256-value lane blocks, shorter 16-lane blocks, a
 * scalar tail; 7x7 and 14x14 as ResNet50V2's), against the closed forms in double: statistics,
 * dx = gamma * invstd * (g - mean(g) - xhat * mean(g * xhat)), dgamma, dbeta. Finite differences
 * are too noisy at these sizes. */
static void check_plane(test_state *ts, int64_t inner, int relu, const char *what, const float *got,
                        const double *want, int64_t n, double rtol) {
  char name[96];
  snprintf(name, sizeof name, "bn planes of %lld%s: %s", (long long)inner, relu ? " +relu" : "", what);
  check_close_arr(ts, name, got, want, NULL, n, rtol);
}

static void check_bn_plane(test_state *ts, int64_t inner, int relu, uint64_t seed) {
  enum { N = 3, C = 3 };
  int64_t total = N * C * inner, m = N * inner;
  rng r = {seed};
  float *x = alloc_f(total), *dy = alloc_f(total), *y = alloc_f(total), *dx = alloc_nan(total);
  double *dxr = alloc_d(total), *yr = alloc_d(total);
  float gamma[C], beta[C], mean[C], var[C], is[C], dg[C], db[C];
  double meanr[C], varr[C], dgr[C], dbr[C];
  for (int64_t i = 0; i < total; i++) x[i] = 3.0f + rng_float(&r), dy[i] = rng_float(&r);
  for (int c = 0; c < C; c++) gamma[c] = 1.0f + 0.5f * rng_float(&r), beta[c] = 0.3f * rng_float(&r);
  snt_k_bn_train_forward(N, C, inner, x, gamma, beta, 1e-3f, relu, y, mean, var, is);
  snt_k_bn_train_backward(N, C, inner, x, dy, gamma, beta, mean, is, relu, dx, dg, db);
  for (int c = 0; c < C; c++) {
    double s = 0, q = 0, sg = 0, sgx = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < inner; i++) s += x[(n * C + c) * inner + i];
    meanr[c] = s / (double)m;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < inner; i++) q += pow(x[(n * C + c) * inner + i] - meanr[c], 2);
    varr[c] = q / (double)m;
    double isd = 1.0 / sqrt(varr[c] + 1e-3);
    for (int pass = 0; pass < 2; pass++)
      for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < inner; i++) {
          int64_t k = (n * C + c) * inner + i;
          double xh = (x[k] - meanr[c]) * isd, z = gamma[c] * xh + beta[c];
          double g = relu && !(z > 0) ? 0.0 : dy[k];
          yr[k] = relu && !(z > 0) ? 0.0 : z;
          if (pass == 0) sg += g, sgx += g * xh;
          else dxr[k] = gamma[c] * isd * (g - sg / (double)m - xh * sgx / (double)m);
        }
    dbr[c] = sg, dgr[c] = sgx;
  }
  check_plane(ts, inner, relu, "mean", mean, meanr, C, 1e-6);
  check_plane(ts, inner, relu, "var", var, varr, C, 1e-5);
  check_plane(ts, inner, relu, "y", y, yr, total, 1e-5);
  check_plane(ts, inner, relu, "dx", dx, dxr, total, 1e-4);
  check_plane(ts, inner, relu, "dgamma", dg, dgr, C, 1e-4);
  check_plane(ts, inner, relu, "dbeta", db, dbr, C, 1e-4);
  free(x), free(dy), free(y), free(dx), free(dxr), free(yr);
}

static void test_bn_planes(test_state *ts) {
  static const int64_t inners[] = {5, 49, 196, 291, 3136};
  for (size_t i = 0; i < sizeof inners / sizeof *inners; i++)
    for (int relu = 0; relu < 2; relu++) check_bn_plane(ts, inners[i], relu, 700 + 2 * i + (uint64_t)relu);
}

typedef struct bn_infer_ctx {
  float x[BN_TOTAL], y[BN_TOTAL], scale[BN_C], bias[BN_C], mean[BN_C], var[BN_C];
  double r[BN_TOTAL];
} bn_infer_ctx;

static double bn_infer_objective(void *p) {
  bn_infer_ctx *c = p;
  snt_k_batchnorm(BN_N, BN_C, BN_I, c->x, c->scale, c->bias, c->mean, c->var, 1e-3f, c->y);
  return dot_rd(c->r, c->y, BN_TOTAL);
}

static void test_bn_infer_backward(test_state *ts) {
  bn_infer_ctx c;
  rng r = {41};
  for (int i = 0; i < BN_TOTAL; i++) c.x[i] = rng_float(&r), c.r[i] = rng_float(&r);
  for (int ch = 0; ch < BN_C; ch++) {
    c.scale[ch] = 1.0f + 0.5f * rng_float(&r);
    c.bias[ch] = 0.2f * rng_float(&r);
    c.mean[ch] = 0.1f * rng_float(&r);
    c.var[ch] = 0.5f + 0.4f * rng_float(&r);
  }
  float dy[BN_TOTAL], dx[BN_TOTAL];
  double g[BN_TOTAL];
  for (int i = 0; i < BN_TOTAL; i++) dy[i] = (float)c.r[i];
  bn_infer_objective(&c);
  snt_k_bn_infer_backward(BN_N, BN_C, BN_I, c.y, dy, c.scale, c.var, 1e-3f, 0, dx);
  fd_grad(c.x, BN_TOTAL, 0.25, bn_infer_objective, &c, g);
  check_grad(ts, "bn inference dx", dx, g, BN_TOTAL, 1e-5);
  /* With relu: the same gradient where y > 0, zero elsewhere (y here is the pre-ReLU output). */
  float dxr[BN_TOTAL];
  snt_k_bn_infer_backward(BN_N, BN_C, BN_I, c.y, dy, c.scale, c.var, 1e-3f, 1, dxr);
  int ok = 1, masked = 0;
  for (int i = 0; i < BN_TOTAL; i++) {
    ok = ok && dxr[i] == (c.y[i] > 0 ? dx[i] : 0.0f);
    masked += c.y[i] <= 0;
  }
  CHECK(ts, ok && masked > 0 && masked < BN_TOTAL);
}

/* ---- loss ---------------------------------------------------------------------------- */

typedef struct xent_ctx {
  int64_t n, k;
  float *logits, *weights;
  int64_t *labels;
} xent_ctx;

static double xent_objective(void *p) {
  xent_ctx *c = p;
  float loss;
  if (snt_k_softmax_xent(c->n, c->k, c->logits, c->labels, c->weights, NULL, &loss, NULL) != SNT_OK) return NAN;
  return loss;
}

static void test_xent(test_state *ts) {
  { /* 2x3 by hand: -log p = log(1 + e^-1 + e^-2) = 0.407605964 for row 0 (label 2); row 1
       (logits 1, 0, -1; label 1) adds 1 to that. */
    const float logits[6] = {1, 2, 3, 1, 0, -1};
    const int64_t labels[2] = {2, 1};
    const float w[2] = {1, 2};
    float probs[6], dl[6], loss;
    CHECK_INT(ts, snt_k_softmax_xent(2, 3, logits, labels, NULL, probs, &loss, dl), SNT_OK);
    CHECK(ts, fabs(loss - 0.907605964) < 1e-6);
    const float p0[3] = {0.0900305732f, 0.244728471f, 0.665240956f};
    check_close_list(ts, "xent probs", probs, p0, 3, 1e-6);
    const float d0[3] = {0.0450152866f, 0.122364236f, -0.167379522f}; /* (p - onehot) / 2 */
    check_close_list(ts, "xent dlogits", dl, d0, 3, 1e-6);
    CHECK_INT(ts, snt_k_softmax_xent(2, 3, logits, labels, w, NULL, &loss, NULL), SNT_OK);
    CHECK(ts, fabs(loss - 1.611408947) < 1e-6); /* (1 * 0.4076 + 2 * 1.4076) / 2: divided by n */
  }
  { /* p = e^-100 clamps at 1e-7 */
    const float logits[2] = {0, 100};
    const int64_t label = 0, bad = 2, neg = -1;
    float loss;
    CHECK_INT(ts, snt_k_softmax_xent(1, 2, logits, &label, NULL, NULL, &loss, NULL), SNT_OK);
    CHECK(ts, fabs(loss - 16.1180957) < 1e-5);
    CHECK_INT(ts, snt_k_softmax_xent(1, 2, logits, &bad, NULL, NULL, &loss, NULL), SNT_ERR_INPUT);
    CHECK_INT(ts, snt_k_softmax_xent(1, 2, logits, &neg, NULL, NULL, &loss, NULL), SNT_ERR_INPUT);
  }
  for (int weighted = 0; weighted < 2; weighted++) { /* dlogits against differences of the loss */
    enum { N = 5, K = 4 };
    rng r = {51 + (uint64_t)weighted};
    float logits[N * K], w[N], dl[N * K];
    int64_t labels[N];
    for (int i = 0; i < N * K; i++) logits[i] = 2.0f * rng_float(&r);
    for (int i = 0; i < N; i++) labels[i] = rng_int(&r, 0, K - 1), w[i] = 1.5f + rng_float(&r);
    xent_ctx c = {N, K, logits, weighted ? w : NULL, labels};
    float loss;
    CHECK_INT(ts, snt_k_softmax_xent(N, K, logits, labels, c.weights, NULL, &loss, dl), SNT_OK);
    double g[N * K];
    fd_grad(logits, N * K, 1e-2, xent_objective, &c, g);
    check_grad(ts, weighted ? "xent dlogits weighted" : "xent dlogits", dl, g, N * K, 2e-3);
  }
}

/* ---- activations and softmax --------------------------------------------------------- */

static double act_ref(snt_k_act_kind kind, double alpha, double x) {
  switch (kind) {
    case SNT_K_ACT_RELU: return x > 0 ? x : 0;
    case SNT_K_ACT_LEAKY_RELU: return x > 0 ? x : alpha * x;
    case SNT_K_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case SNT_K_ACT_TANH: return tanh(x);
    default: return x;
  }
}

static void test_act(test_state *ts) {
  const snt_k_act_kind kinds[] = {SNT_K_ACT_NONE, SNT_K_ACT_RELU, SNT_K_ACT_LEAKY_RELU, SNT_K_ACT_SIGMOID,
                                  SNT_K_ACT_TANH};
  enum { N = 64 };
  for (int t = 0; t < 5; t++) {
    rng r = {61 + (uint64_t)t};
    float x[N], y[N], dy[N], dx[N];
    double g[N];
    for (int i = 0; i < N; i++) {
      x[i] = 3.0f * rng_float(&r);
      if (fabsf(x[i]) < 0.01f) x[i] = 0.5f; /* away from the kink at 0 */
      y[i] = (float)act_ref(kinds[t], 0.1, x[i]);
      dy[i] = rng_float(&r);
      /* central difference of the double reference, step 1e-4: truncation ~1e-9 */
      g[i] = dy[i] * (act_ref(kinds[t], 0.1, x[i] + 1e-4) - act_ref(kinds[t], 0.1, x[i] - 1e-4)) / 2e-4;
    }
    snt_k_act_backward(kinds[t], 0.1f, N, kinds[t] == SNT_K_ACT_LEAKY_RELU ? x : NULL,
                       kinds[t] == SNT_K_ACT_LEAKY_RELU ? NULL : y, dy, dx);
    check_grad(ts, "activation backward", dx, g, N, 1e-5);
  }
}

typedef struct softmax_ctx {
  float x[24], y[24];
  double r[24];
} softmax_ctx;

static double softmax_objective(void *p) {
  softmax_ctx *c = p;
  snt_k_softmax(2, 4, 3, c->x, c->y); /* axis of 4 in the middle, inner 3 */
  return dot_rd(c->r, c->y, 24);
}

static void test_softmax(test_state *ts) {
  softmax_ctx c;
  rng r = {71};
  for (int i = 0; i < 24; i++) c.x[i] = 2.0f * rng_float(&r), c.r[i] = rng_float(&r);
  softmax_objective(&c);
  float dy[24], dx[24];
  double g[24];
  for (int i = 0; i < 24; i++) dy[i] = (float)c.r[i];
  snt_k_softmax_backward(2, 4, 3, c.y, dy, dx);
  fd_grad(c.x, 24, 1e-2, softmax_objective, &c, g);
  check_grad(ts, "softmax backward", dx, g, 24, 2e-3);
}

/* ---- dropout, pad, colsum, add ------------------------------------------------------- */

static void test_dropout(test_state *ts) {
  enum { N = 100000 };
  float *x = alloc_f(N), *y = alloc_f(N), *y2 = alloc_f(N), *dx = alloc_f(N);
  uint8_t *mask = xmalloc(N), *mask2 = xmalloc(N), *mask3 = xmalloc(N);
  rng r = {81};
  rng_fill(&r, x, N);
  const float rates[] = {0.25f, 0.4f};
  for (int t = 0; t < 2; t++) {
    float rate = rates[t], scale = 1.0f / (1.0f - rate);
    snt_k_dropout_forward(N, rate, 1234, x, y, mask);
    int64_t kept = 0, ok = 1;
    for (int i = 0; i < N; i++) {
      kept += mask[i];
      ok = ok && (mask[i] ? y[i] == x[i] * scale : y[i] == 0.0f) && mask[i] <= 1;
    }
    CHECK(ts, ok);
    /* binomial: sd = sqrt(p(1-p)/N) < 1.6e-3; allow 5 sd */
    CHECK(ts, fabs((double)kept / N - (1.0 - rate)) < 8e-3);
    snt_k_dropout_forward(N, rate, 1234, x, y2, mask2);
    CHECK(ts, memcmp(mask, mask2, N) == 0 && memcmp(y, y2, N * sizeof(float)) == 0);
    snt_k_dropout_forward(N, rate, 1235, x, y2, mask3);
    int64_t differ = 0;
    for (int i = 0; i < N; i++) differ += mask[i] != mask3[i];
    /* independent masks differ on 2p(1-p) of the elements: 0.375 or 0.48 */
    CHECK(ts, differ > N / 3);
    snt_k_dropout_backward(N, rate, mask, x, dx); /* dy = x: dx must equal y */
    CHECK(ts, memcmp(dx, y, N * sizeof(float)) == 0);
  }
  free(x), free(y), free(y2), free(dx), free(mask), free(mask2), free(mask3);
}

static void test_pad(test_state *ts) {
  /* <pad(x), r> = <x, pad_backward(r)> for every x: pad_backward is the adjoint (a crop). */
  const int64_t dims[3] = {2, 3, 4}, pads[6] = {1, 0, 2, 0, 2, 1};
  const int64_t od[3] = {3, 5, 7};
  rng r = {91};
  float x[24], y[105], dy[105], dx[24];
  rng_fill(&r, dy, 105);
  for (int i = 0; i < 24; i++) dx[i] = NAN;
  CHECK_INT(ts, snt_k_pad_backward(3, dims, pads, dy, dx), SNT_OK);
  const float zero = 0.0f;
  int ok = 1;
  for (int i = 0; i < 24 && ok; i++) { /* x = unit vector e_i: pad(e_i) . dy must be dx[i] */
    memset(x, 0, sizeof x);
    x[i] = 1.0f;
    ok = snt_k_pad(sizeof(float), 3, dims, pads, SNT_K_PAD_CONSTANT, &zero, x, y) == SNT_OK;
    double s = 0;
    for (int j = 0; j < od[0] * od[1] * od[2]; j++) s += (double)y[j] * dy[j];
    ok = ok && s == dx[i];
  }
  CHECK(ts, ok);
  const int64_t bad[6] = {0, -1, 0, 0, 0, 0};
  CHECK_INT(ts, snt_k_pad_backward(3, dims, bad, dy, dx), SNT_ERR_INPUT);
}

static void test_colsum_add(test_state *ts) {
  const float x[6] = {1, 2, 3, 10, 20, 30};
  float y[3] = {NAN, NAN, NAN};
  snt_k_colsum(2, 3, x, y);
  const float want[3] = {11, 22, 33};
  check_close_list(ts, "colsum", y, want, 3, 0.0);
  float a[3] = {1, 2, 3};
  const float b[3] = {0.5f, -2, 4};
  snt_k_add(3, a, b, a); /* y aliases a */
  const float sum[3] = {1.5f, 0, 7};
  check_close_list(ts, "add", a, sum, 3, 0.0);
}

int main(void) {
  test_state ts = {0, 0};
  test_conv(&ts);
  test_pool(&ts);
  test_bn_forward(&ts);
  test_bn_backward(&ts);
  test_bn_planes(&ts);
  test_bn_infer_backward(&ts);
  test_xent(&ts);
  test_act(&ts);
  test_softmax(&ts);
  test_dropout(&ts);
  test_pad(&ts);
  test_colsum_add(&ts);
  return test_report("test_kernels_grad", &ts);
}
