/* The training kernels' vectorised paths against naive references, with each ISA path forced in
 * turn (SINTER_ISA, set here before each context is made) and on 1 and 2 threads:
 *   - convolution filter and data gradients (both GEMM orientations of the filter gradient, image
 *     chunks, the implicit filter gradient of stride-1 convs on large maps, the direct one of
 *     first layers on AVX-512, the data gradient
 *     as a flipped forward conv on small maps, groups, stride, one-sided pads) within 1e-4 of
 *     a double reference of the terms' size, and bit-identical whatever the thread count;
 *   - max pooling backward on tiling windows (2x2 and others, planes with columns and rows in no
 *     window, ties) and on overlapping ones inside the plane (3x3/2, 2x4/(1, 3)) equal to the
 *     first-maximum rule exactly;
 *   - BatchNorm training forward and backward (channels in blocks, small and large planes) within
 *     1e-4 of a double reference, bit-identical on 1 and 2 threads, and its frozen form's backward;
 *   - Adam's step (vector body, tail, two threads) equal to the scalar float formula exactly. */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels_ref.h"
#include "runtime/kernels/gemm_core.h" /* snt_k_ctx_isa */
#include "sinter/kernels_train.h"

static const char *const ISAS[] = {"c", "avx2", "avx512"};

/* ---- convolution gradients ------------------------------------------------------------ */

typedef struct conv_case {
  const char *what;
  int64_t batch, cin, cout, groups, h, w, k, s, pb, pe;
} conv_case;

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe) { return (in + pb + pe - k) / s + 1; }

/* dw and dx from the definition, in double, and the sizes of their summed terms. */
static void conv_reference(const conv_case *c, const float *x, const float *w, const float *dy, double *dw,
                           double *dws, double *dx, double *dxs) {
  int64_t oh = out_size(c->h, c->k, c->s, c->pb, c->pe), ow = out_size(c->w, c->k, c->s, c->pb, c->pe);
  int64_t cg = c->cin / c->groups, mg = c->cout / c->groups, nw = c->cout * cg * c->k * c->k;
  int64_t nx = c->batch * c->cin * c->h * c->w;
  for (int64_t i = 0; i < nw; i++) dw[i] = dws[i] = 0;
  for (int64_t i = 0; i < nx; i++) dx[i] = dxs[i] = 0;
  for (int64_t n = 0; n < c->batch; n++)
    for (int64_t m = 0; m < c->cout; m++)
      for (int64_t ci = 0; ci < cg; ci++)
        for (int64_t kh = 0; kh < c->k; kh++)
          for (int64_t kw = 0; kw < c->k; kw++)
            for (int64_t y = 0; y < oh; y++)
              for (int64_t xx = 0; xx < ow; xx++) {
                int64_t ih = y * c->s - c->pb + kh, iw = xx * c->s - c->pb + kw;
                if (ih < 0 || ih >= c->h || iw < 0 || iw >= c->w) continue;
                int64_t cin = m / mg * cg + ci;
                int64_t xi = ((n * c->cin + cin) * c->h + ih) * c->w + iw;
                int64_t wi = ((m * cg + ci) * c->k + kh) * c->k + kw;
                double g = dy[((n * c->cout + m) * oh + y) * ow + xx];
                dw[wi] += g * x[xi], dws[wi] += fabs(g * x[xi]);
                dx[xi] += g * w[wi], dxs[xi] += fabs(g * w[wi]);
              }
}

static snt_k_conv_desc desc_of(const conv_case *c) {
  int64_t oh = out_size(c->h, c->k, c->s, c->pb, c->pe), ow = out_size(c->w, c->k, c->s, c->pb, c->pe);
  snt_k_conv_desc d = {2, c->batch, c->cin, c->cout, c->groups, {c->h, c->w, 0}, {oh, ow, 0}, {c->k, c->k, 0},
                       {c->s, c->s, 0}, {1, 1, 0}, {c->pb, c->pb, 0}, {c->pe, c->pe, 0}, {0, 0, 0, 0, 0}};
  return d;
}

/* training: contexts set for training (the direct path's wider bound in the flipped dx). */
static void check_conv_case(test_state *ts, const conv_case *c, uint64_t seed, int training) {
  snt_k_conv_desc d = desc_of(c);
  rng r = {seed};
  int64_t nx = c->batch * c->cin * c->h * c->w, ny = c->batch * c->cout * d.out[0] * d.out[1];
  int64_t nw = c->cout * (c->cin / c->groups) * c->k * c->k;
  float *x = alloc_f(nx), *w = alloc_f(nw), *dy = alloc_f(ny);
  rng_fill(&r, x, nx), rng_fill(&r, w, nw), rng_fill(&r, dy, ny);
  double *dw = alloc_d(nw), *dws = alloc_d(nw), *dx = alloc_d(nx), *dxs = alloc_d(nx);
  conv_reference(c, x, w, dy, dw, dws, dx, dxs);
  void *scratch = xmalloc(snt_k_conv_backward_scratch_bytes(&d));
  float *dw1 = alloc_nan(nw), *dx1 = alloc_nan(nx);
  for (size_t i = 0; i < sizeof ISAS / sizeof *ISAS; i++) {
    setenv("SINTER_ISA", ISAS[i], 1);
    for (int threads = 1; threads <= 2; threads++) {
      snt_k_ctx *ctx = snt_k_ctx_create(threads);
      if (training && ctx) {
        snt_k_ctx_set_training(ctx, 1);
        if (strcmp(ISAS[i], "avx512") == 0 && snt_k_ctx_isa(ctx) == SNT_K_ISA_AVX512) {
          CHECK_STR(ts, snt_k_conv_backward_data_kernel(ctx, &d), "conv-grad-data-flip");
          snt_k_ctx_set_training(ctx, 0); /* inference keeps the bound: the flipped conv would not run direct */
          CHECK_STR(ts, snt_k_conv_backward_data_kernel(ctx, &d), "conv-grad-data-column-avx512");
          snt_k_ctx_set_training(ctx, 1);
        }
      }
      float *gw = alloc_nan(nw), *gx = alloc_nan(nx);
      if (ctx && strcmp(ISAS[i], "avx512") == 0 && snt_k_ctx_isa(ctx) == SNT_K_ISA_AVX512) { /* the named paths */
        const char *fk = snt_k_conv_backward_filter_kernel(ctx, &d);
        if (strstr(c->what, "direct dw")) CHECK_STR(ts, fk, "conv-grad-filter-direct-avx512");
        if (strstr(c->what, "implicit dw on every ISA")) CHECK_STR(ts, fk, "conv-grad-filter-implicit-avx512");
      }
      CHECK_INT(ts, snt_k_conv_backward_filter(ctx, &d, x, dy, gw, NULL, scratch), SNT_OK);
      CHECK_INT(ts, snt_k_conv_backward_data(ctx, &d, dy, w, gx, scratch), SNT_OK);
      char name[160];
      snprintf(name, sizeof name, "%s (%s, %d threads): dw", c->what, ISAS[i], threads);
      check_close_arr(ts, name, gw, dw, dws, nw, 1e-4);
      snprintf(name, sizeof name, "%s (%s, %d threads): dx", c->what, ISAS[i], threads);
      check_close_arr(ts, name, gx, dx, dxs, nx, 1e-4);
      if (threads == 1) {
        memcpy(dw1, gw, (size_t)nw * sizeof(float));
        memcpy(dx1, gx, (size_t)nx * sizeof(float));
      } else { /* the thread count changes no bit */
        CHECK(ts, memcmp(dw1, gw, (size_t)nw * sizeof(float)) == 0);
        CHECK(ts, memcmp(dx1, gx, (size_t)nx * sizeof(float)) == 0);
      }
      free(gw), free(gx);
      snt_k_ctx_destroy(ctx);
    }
  }
  unsetenv("SINTER_ISA");
  free(x), free(w), free(dy), free(dw), free(dws), free(dx), free(dxs), free(scratch), free(dw1), free(dx1);
}

static void test_conv_grads(test_state *ts) {
  static const conv_case cases[] = {
      /* kdim 45 >= 7 outputs: the transposed filter GEMM; 37x35 planes, one image per GEMM */
      {"3x3 same, transposed dw", 3, 5, 7, 1, 37, 35, 3, 1, 1, 1},
      /* kdim 5 < 70 outputs and 70 > 64: dw in the plain orientation */
      {"1x1, more outputs than inputs", 2, 5, 70, 1, 33, 31, 1, 1, 0, 0},
      /* small planes: images side by side in chunks (a partial last chunk), groups */
      {"3x3 stride 2, one-sided pad, groups 2", 5, 6, 10, 2, 9, 11, 3, 2, 0, 1},
      {"3x3 small plane, 67 outputs", 3, 9, 67, 1, 6, 7, 3, 1, 1, 1},
      /* stride 1 and more than 512 output positions: dw summed on the padded grid with B packed
       * from the padded image (conv_grad_filter.c): no pad, pad 2, one-sided pads, groups,
       * tap counts that are no multiple of a strip (27, 75, 45 / 50 per group) */
      {"3x3 valid, 3 -> 5, implicit dw", 2, 3, 5, 1, 29, 31, 3, 1, 0, 0},
      {"5x5 pad 2, 3 -> 34, implicit dw", 2, 3, 34, 1, 27, 23, 5, 1, 2, 2},
      {"3x3 pads 0/1, groups 2, implicit dw", 3, 10, 6, 2, 26, 27, 3, 1, 0, 1},
      {"5x5 pads 2/0, 2 -> 17, implicit dw", 1, 2, 17, 1, 33, 30, 5, 1, 2, 0},
      /* the cases above take the direct path on AVX-512 (below): this one, 297 taps, does not */
      {"3x3 pad 1, 33 -> 5, implicit dw on every ISA", 2, 33, 5, 1, 24, 23, 3, 1, 1, 1},
      /* at most 288 of cin x taps, more than 512 output positions, one group: on AVX-512 dw summed
       * in registers on the input's column phases (conv_grad_direct.c); the cases above with 3
       * or 2 inputs take it too. Stride 2 with pads 3/2 (phases of unequal width), 3 -> 9 7x7 as
       * ResNet50V2's stem; 3 x 64 = 192 taps; 4 x 9 = 36 taps with 21 output rows (a partial
       * band) and output columns a multiple of 16 (no tail) */
      {"7x7 stride 2 pads 3/2, 3 -> 9, direct dw", 2, 3, 9, 1, 61, 59, 7, 2, 3, 2},
      {"8x8 valid, 3 -> 6 (192 taps), direct dw", 1, 3, 6, 1, 30, 31, 8, 1, 0, 0},
      {"3x3 pad 1, 4 -> 7, direct dw", 2, 4, 7, 1, 21, 32, 3, 1, 1, 1},
      /* up to 288 taps: 192 summed in a first pass over the image, the rest (69, a partial tap
       * block) in a second; 288 as SimpleCNN's 32 -> 64 (output channels past a block of 4) */
      {"3x3 pads 1/0, 29 -> 7 (261 taps), direct dw in two passes", 2, 29, 7, 1, 25, 23, 3, 1, 1, 0},
      {"3x3 pad 1, 32 -> 10 (288 taps), direct dw in two passes", 1, 32, 10, 1, 26, 21, 3, 1, 1, 1},
      /* stride 1, one group, at most 784 output positions: dx as a forward conv of dy with the
       * flipped weights (conv_grad_flip.c), pads dl*(k-1) - p: 2, 1/2, 0/... one-sided */
      {"3x3 pad 1, 5 -> 6, flipped dx", 3, 5, 6, 1, 7, 9, 3, 1, 1, 1},
      {"5x5 pads 2/1, 4 -> 7, flipped dx", 2, 4, 7, 1, 9, 8, 5, 1, 2, 1},
      {"3x3 valid, 3 -> 2, flipped dx", 2, 3, 2, 1, 6, 7, 3, 1, 0, 0},
      {"3x3 pads 0/2, 6 -> 5, flipped dx", 2, 6, 5, 1, 5, 6, 3, 1, 0, 2},
      /* past 28x28 the flip only where its conv runs direct (AVX-512): column dx on the others */
      {"3x3 pad 1, 8 -> 4, 40x33, flipped dx on AVX-512", 2, 8, 4, 1, 40, 33, 3, 1, 1, 1},
      /* "same" stride-1 convs on small planes: im2col copies each tap's plane as one shifted
       * block, then zeroes the columns and rows in the padding (one-sided pads: shifts 0..2; a
       * 5x5 on a 2-row or 2-column plane: taps whose rows or columns all lie in the padding) */
      {"3x3 pads 0/2, shifted im2col", 3, 4, 6, 1, 6, 9, 3, 1, 0, 2},
      {"5x5 pad 2 on 2x9, shifted im2col", 2, 3, 5, 1, 2, 9, 5, 1, 2, 2},
      {"5x5 pad 2 on 9x2, shifted im2col", 2, 3, 5, 1, 9, 2, 5, 1, 2, 2},
      /* pads beyond a tap's reach: the column path */
      {"3x3 pad 3, small plane", 1, 3, 4, 1, 5, 5, 3, 1, 3, 3},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_conv_case(ts, &cases[i], 100 + i, 0);
  /* in a training context the flipped conv runs direct up to 576 taps (40 -> 5: 360) */
  static const conv_case training = {"3x3 pads 1/0, 5 -> 40, 30x29, training: flipped dx on AVX-512", 2, 5, 40, 1, 30,
                                     29, 3, 1, 1, 0};
  check_conv_case(ts, &training, 99, 1);
}

/* ---- max pooling backward on tiling windows ----------------------------------------- */

/* The gradient to each window's first maximum in row-major order, 0 elsewhere; windows kh x kw
 * every sh, sw (overlapping when the stride is below the kernel). */
static void pool_reference(int64_t planes, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                           const float *x, const float *dy, float *dx) {
  int64_t oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1;
  for (int64_t i = 0; i < planes * h * w; i++) dx[i] = 0.0f;
  for (int64_t p = 0; p < planes; p++)
    for (int64_t a = 0; a < oh; a++)
      for (int64_t b = 0; b < ow; b++) {
        int64_t best = p * h * w + a * sh * w + b * sw;
        for (int64_t i = 0; i < kh; i++)
          for (int64_t j = 0; j < kw; j++) {
            int64_t at = p * h * w + (a * sh + i) * w + b * sw + j;
            if (x[at] > x[best]) best = at;
          }
        dx[best] += dy[(p * oh + a) * ow + b];
      }
}

static void check_pool_strided(test_state *ts, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                               int64_t sh, int64_t sw, uint64_t seed) {
  int64_t oh = (h - kh) / sh + 1, ow = (w - kw) / sw + 1, nx = n * c * h * w, ny = n * c * oh * ow;
  snt_k_pool_desc d = {2, SNT_K_POOL_MAX, 0, 0, n, c, {h, w, 0}, {oh, ow, 0}, {kh, kw, 0}, {sh, sw, 0},
                       {1, 1, 0}, {0, 0, 0}, {0, 0, 0}};
  rng r = {seed};
  float *x = alloc_f(nx), *dy = alloc_f(ny), *want = alloc_f(nx);
  /* Few distinct values, so that windows hold ties (the first one must win). */
  for (int64_t i = 0; i < nx; i++) x[i] = (float)rng_int(&r, 0, 3);
  rng_fill(&r, dy, ny);
  pool_reference(n * c, h, w, kh, kw, sh, sw, x, dy, want);
  for (size_t i = 0; i < sizeof ISAS / sizeof *ISAS; i++) {
    setenv("SINTER_ISA", ISAS[i], 1);
    float *dx = alloc_nan(nx);
    CHECK_INT(ts, snt_k_pool_backward(&d, x, dy, dx), SNT_OK);
    char name[128];
    snprintf(name, sizeof name, "max pool %lldx%lld/(%lld, %lld) over %lldx%lld (%s)", (long long)kh, (long long)kw,
             (long long)sh, (long long)sw, (long long)h, (long long)w, ISAS[i]);
    check_close_list(ts, name, dx, want, nx, 0.0);
    free(dx);
  }
  unsetenv("SINTER_ISA");
  free(x), free(dy), free(want);
}

static void check_pool_case(test_state *ts, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                            uint64_t seed) {
  check_pool_strided(ts, n, c, h, w, kh, kw, kh, kw, seed);
}

static void test_pool_tiling(test_state *ts) {
  check_pool_case(ts, 2, 3, 38, 70, 2, 2, 1);  /* 35 windows a row: vector body and tail */
  check_pool_case(ts, 3, 2, 9, 37, 2, 2, 2);   /* a row and a column in no window */
  check_pool_case(ts, 2, 2, 10, 11, 3, 3, 3);  /* 3x3/3 */
  check_pool_case(ts, 1, 3, 7, 13, 2, 3, 4);   /* 2x3/(2, 3) */
  check_pool_case(ts, 1, 1, 2, 2, 2, 2, 5);    /* one window */
  /* overlapping windows inside the plane (pool_grad.c's scan, ResNet's 3x3/2 stem pool) */
  check_pool_strided(ts, 2, 3, 15, 17, 3, 3, 2, 2, 6);  /* the last row and column in every window */
  check_pool_strided(ts, 1, 2, 16, 18, 3, 3, 2, 2, 7);  /* a row and a column in no window */
  check_pool_strided(ts, 2, 1, 9, 12, 2, 4, 1, 3, 8);   /* 2x4/(1, 3) */
  check_pool_strided(ts, 1, 2, 7, 78, 3, 3, 2, 2, 9);   /* 38 windows a row: two vectors and a tail */
  check_pool_strided(ts, 1, 1, 5, 300, 3, 2, 2, 2, 10); /* 150 windows a row, 3x2/2 */
  /* 1x1 windows (pool_grad.c's point path, ResNet50V2's strided shortcut) */
  check_pool_strided(ts, 2, 3, 14, 40, 1, 1, 2, 2, 11); /* 20 a row: a vector of 8 twice and a tail of 4 */
  check_pool_strided(ts, 1, 2, 7, 33, 1, 1, 2, 2, 12);  /* odd sizes: the last row and column are hit */
  check_pool_strided(ts, 1, 2, 8, 34, 1, 1, 2, 2, 13);  /* even sizes: the last row and column are not */
  check_pool_strided(ts, 1, 1, 10, 11, 1, 1, 3, 2, 14); /* 1x1/(3, 2) */
  check_pool_strided(ts, 1, 1, 9, 9, 1, 1, 1, 1, 15);   /* 1x1/1: dx = dy */
}

/* ---- BatchNorm training forward and backward ------------------------------------------- */

/* Batch statistics, y, and the input gradient from their definitions in double. */
static void bn_reference(int64_t nb, int64_t ch, int64_t inner, const float *x, const float *gamma, const float *beta,
                         const float *dy, int relu, double *y, double *dx, double *dg, double *db) {
  double cnt = (double)nb * (double)inner;
  for (int64_t c = 0; c < ch; c++) {
    double mu = 0, var = 0, sg = 0, sgx = 0;
    for (int64_t n = 0; n < nb; n++)
      for (int64_t i = 0; i < inner; i++) mu += x[(n * ch + c) * inner + i];
    mu /= cnt;
    for (int64_t n = 0; n < nb; n++)
      for (int64_t i = 0; i < inner; i++) var += pow(x[(n * ch + c) * inner + i] - mu, 2);
    var /= cnt;
    double is = 1.0 / sqrt(var + 1e-3);
    for (int64_t n = 0; n < nb; n++)
      for (int64_t i = 0; i < inner; i++) {
        int64_t k = (n * ch + c) * inner + i;
        double z = gamma[c] * (x[k] - mu) * is + beta[c];
        y[k] = relu && z <= 0 ? 0 : z;
        double g = relu && z <= 0 ? 0 : dy[k];
        sg += g, sgx += g * (x[k] - mu) * is;
      }
    dg[c] = sgx, db[c] = sg;
    for (int64_t n = 0; n < nb; n++)
      for (int64_t i = 0; i < inner; i++) {
        int64_t k = (n * ch + c) * inner + i;
        double g = relu && y[k] <= 0 ? 0 : dy[k], xh = (x[k] - mu) * is;
        dx[k] = gamma[c] * is * (g - sg / cnt - xh * sgx / cnt);
      }
  }
}

static double max_abs(const double *v, int64_t n) {
  double m = 1e-30;
  for (int64_t i = 0; i < n; i++) m = fabs(v[i]) > m ? fabs(v[i]) : m;
  return m;
}

/* Many small planes (channels in blocks, a partial one) and a few large ones, on 1 and 2 threads. */
static void test_bn(test_state *ts) {
  static const int64_t shapes[][3] = {{3, 600, 7}, {2, 5, 300}, {4, 70, 49}};
  for (size_t sh = 0; sh < sizeof shapes / sizeof *shapes; sh++) {
    int64_t nb = shapes[sh][0], ch = shapes[sh][1], inner = shapes[sh][2], total = nb * ch * inner;
    rng r = {40 + sh};
    float *x = alloc_f(total), *dy = alloc_f(total), *gamma = alloc_f(ch), *beta = alloc_f(ch);
    rng_fill(&r, x, total), rng_fill(&r, dy, total), rng_fill(&r, gamma, ch), rng_fill(&r, beta, ch);
    for (int64_t i = 0; i < total; i++) x[i] += 2.0f; /* a mean that matters */
    double *y = alloc_d(total), *dx = alloc_d(total), *dg = alloc_d(ch), *db = alloc_d(ch);
    float *ref[2][4] = {{0}};
    for (int relu = 0; relu < 2; relu++) {
      bn_reference(nb, ch, inner, x, gamma, beta, dy, relu, y, dx, dg, db);
      for (int threads = 1; threads <= 2; threads++) {
        openblas_set_num_threads(threads);
        float *gy = alloc_nan(total), *gx = alloc_nan(total), *gg = alloc_nan(ch), *gb = alloc_nan(ch);
        float *mean = alloc_f(ch), *var = alloc_f(ch), *is = alloc_f(ch);
        snt_k_bn_train_forward(nb, ch, inner, x, gamma, beta, 1e-3f, relu, gy, mean, var, is);
        snt_k_bn_train_backward(nb, ch, inner, x, dy, gamma, beta, mean, is, relu, gx, gg, gb);
        double sy = max_abs(y, total), sx = max_abs(dx, total), sg = max_abs(dg, ch), sb = max_abs(db, ch);
        char name[96];
        snprintf(name, sizeof name, "bn %lldx%lldx%lld relu %d, %d threads", (long long)nb, (long long)ch,
                 (long long)inner, relu, threads);
        ts->checks++;
        int ok = 1;
        for (int64_t i = 0; i < total && ok; i++) ok = fabs(gy[i] - y[i]) <= 1e-4 * sy && fabs(gx[i] - dx[i]) <= 1e-4 * sx;
        for (int64_t c = 0; c < ch && ok; c++) ok = fabs(gg[c] - dg[c]) <= 1e-4 * sg && fabs(gb[c] - db[c]) <= 1e-4 * sb;
        if (!ok) ts->failures++, fprintf(stderr, "%s: differs from the reference\n", name);
        float *got[4] = {gy, gx, gg, gb};
        int64_t len[4] = {total, total, ch, ch};
        for (int k = 0; k < 4; k++) {
          if (threads == 1) {
            ref[relu][k] = got[k];
          } else {
            CHECK(ts, memcmp(ref[relu][k], got[k], (size_t)len[k] * sizeof(float)) == 0);
            free(got[k]);
          }
        }
        free(mean), free(var), free(is);
      }
      for (int k = 0; k < 4; k++) free(ref[relu][k]);
    }
    free(x), free(dy), free(gamma), free(beta), free(y), free(dx), free(dg), free(db);
  }
}

/* The frozen (inference-form) BatchNorm backward: dy * gamma / sqrt(var + eps), masked by y > 0. */
static void test_bn_infer(test_state *ts) {
  enum { NB = 3, CH = 700, IN = 37, TOTAL = NB * CH * IN };
  rng r = {50};
  float *y = alloc_f(TOTAL), *dy = alloc_f(TOTAL), *gamma = alloc_f(CH), *var = alloc_f(CH);
  rng_fill(&r, y, TOTAL), rng_fill(&r, dy, TOTAL), rng_fill(&r, gamma, CH), rng_fill(&r, var, CH);
  for (int c = 0; c < CH; c++) var[c] = fabsf(var[c]);
  double *want = alloc_d(TOTAL);
  for (int relu = 0; relu < 2; relu++) {
    for (int64_t k = 0; k < TOTAL; k++) {
      int64_t c = k / IN % CH;
      want[k] = relu && !(y[k] > 0) ? 0 : dy[k] * gamma[c] / sqrt((double)var[c] + 1e-3);
    }
    float *one = alloc_nan(TOTAL);
    for (int threads = 1; threads <= 2; threads++) {
      openblas_set_num_threads(threads);
      float *dx = threads == 1 ? one : alloc_nan(TOTAL);
      snt_k_bn_infer_backward(NB, CH, IN, y, dy, gamma, var, 1e-3f, relu, dx);
      check_close_arr(ts, relu ? "bn infer backward + relu" : "bn infer backward", dx, want, NULL, TOTAL, 1e-6);
      if (threads == 2) {
        CHECK(ts, memcmp(one, dx, TOTAL * sizeof(float)) == 0);
        free(dx);
      }
    }
    free(one);
  }
  free(y), free(dy), free(gamma), free(var), free(want);
}

/* ---- Adam ------------------------------------------------------------------------------ */

/* Adam's vector body and its threads give the bits of the scalar float formula. */
static void test_adam(test_state *ts) {
  enum { N = (1 << 19) + 7 };
  rng r = {7};
  float *w = alloc_f(N), *g = alloc_f(N), *m = alloc_f(N), *v = alloc_f(N), *wr = alloc_f(N), *mr = alloc_f(N),
        *vr = alloc_f(N);
  rng_fill(&r, w, N), rng_fill(&r, g, N), rng_fill(&r, m, N), rng_fill(&r, v, N);
  for (int64_t i = 0; i < N; i++) v[i] = fabsf(v[i]), wr[i] = w[i], mr[i] = m[i], vr[i] = v[i];
  float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
  int64_t t = 3;
  float alpha = (float)((double)lr * sqrt(1.0 - pow(b2, (double)t)) / (1.0 - pow(b1, (double)t)));
  for (int64_t i = 0; i < N; i++) {
    mr[i] = mr[i] + (g[i] - mr[i]) * (1.0f - b1);
    vr[i] = vr[i] + (g[i] * g[i] - vr[i]) * (1.0f - b2);
    wr[i] -= (mr[i] * alpha) / (sqrtf(vr[i]) + eps);
  }
  openblas_set_num_threads(2); /* the kernels' parallel_for takes the linear algebra's count */
  snt_k_adam_step(N, w, g, m, v, lr, b1, b2, eps, t);
  CHECK(ts, memcmp(w, wr, N * sizeof(float)) == 0);
  CHECK(ts, memcmp(m, mr, N * sizeof(float)) == 0);
  CHECK(ts, memcmp(v, vr, N * sizeof(float)) == 0);
  free(w), free(g), free(m), free(v), free(wr), free(mr), free(vr);
}

int main(void) {
  test_state ts = {0, 0};
  test_conv_grads(&ts);
  test_pool_tiling(&ts);
  test_bn(&ts);
  test_bn_infer(&ts);
  test_adam(&ts);
  return test_report("test_kernels_grad_isa", &ts);
}
