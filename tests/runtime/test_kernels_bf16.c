/* The BF16 GEMM against double-precision sums of the same operands rounded to bfloat16: the
 * only error left is float32 accumulation. Tails of the 8 x 48 tile in m and n, odd k, both
 * transposes, every epilogue, the A cache, and 1 vs 2 threads bit-identical. */
#include "kernels_ref.h"
#include "runtime/kernels/gemm_bf16.h"

typedef struct problem {
  int64_t m, n, k;
  int trans_a, trans_b;
  float *a, *b, *c, *bias_r, *bias_c, *res;
} problem;

static void make(rng *r, problem *p) {
  p->a = alloc_f(p->m * p->k), p->b = alloc_f(p->k * p->n), p->c = alloc_f(p->m * p->n);
  p->bias_r = alloc_f(p->m), p->bias_c = alloc_f(p->n), p->res = alloc_f(p->m * p->n);
  rng_fill(r, p->a, p->m * p->k), rng_fill(r, p->b, p->k * p->n), rng_fill(r, p->c, p->m * p->n);
  rng_fill(r, p->bias_r, p->m), rng_fill(r, p->bias_c, p->n), rng_fill(r, p->res, p->m * p->n);
}

static void drop(problem *p) {
  free(p->a), free(p->b), free(p->c), free(p->bias_r), free(p->bias_c), free(p->res);
}

/* Runs one call and compares every element with the double reference. */
static void check_one(test_state *ts, snt_k_ctx *ctx, snt_k_bf16_cache *cache, problem *p, const snt_k_epilogue_desc *e,
                      const char *what) {
  int64_t m = p->m, n = p->n, k = p->k;
  float *y = alloc_nan(m * n);
  if (e->accumulate) memcpy(y, p->c, sizeof(float) * (size_t)(m * n));
  snt_k_gemm_call g = {.m = m, .n = n, .k = k, .a = p->a, .lda = p->trans_a ? m : k, .trans_a = p->trans_a,
                       .b = p->b, .ldb = p->trans_b ? k : n, .trans_b = p->trans_b, .c = y, .ldc = n, .epi = *e};
  CHECK_INT(ts, snt_k_gemm_run_bf16(ctx, cache, &g), SNT_OK);
  double *want = alloc_d(m * n), *scale = alloc_d(m * n);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0, sa = 0;
      for (int64_t q = 0; q < k; q++) {
        double av = snt_k_bf16_round(p->trans_a ? p->a[q * m + i] : p->a[i * k + q]);
        double bv = snt_k_bf16_round(p->trans_b ? p->b[j * k + q] : p->b[q * n + j]);
        s += av * bv, sa += fabs(av * bv);
      }
      double v = e->alpha * s + (e->accumulate ? p->c[i * n + j] : 0) + (e->row_bias ? e->row_bias[i] : 0) +
                 (e->col_bias ? e->col_bias[j] : 0) + (e->residual ? e->residual[i * n + j] : 0);
      want[i * n + j] = ref_act(&e->act, v);
      scale[i * n + j] = fabs(e->alpha) * sa + 1e-3;
    }
  char name[200];
  snprintf(name, sizeof name, "%s m=%lld n=%lld k=%lld ta=%d tb=%d", what, (long long)m, (long long)n, (long long)k,
           p->trans_a, p->trans_b);
  check_close_arr(ts, name, y, want, scale, m * n, 2e-6 * sqrt((double)k) + 1e-6);
  free(y), free(want), free(scale);
}

static void test_shapes(test_state *ts, snt_k_ctx *ctx) {
  snt_k_bf16_cache *cache = snt_k_bf16_cache_create();
  rng r = {0xbf16bf16};
  static const int64_t ms[] = {1, 7, 8, 9, 17, 64}, ns[] = {1, 47, 48, 49, 97, 200}, ks[] = {1, 2, 3, 31, 64, 301};
  snt_k_epilogue_desc plain = {.alpha = 1};
  for (int t = 0; t < 40; t++) {
    problem p = {.m = ms[rng_int(&r, 0, 5)], .n = ns[rng_int(&r, 0, 5)], .k = ks[rng_int(&r, 0, 5)],
                 .trans_a = (int)rng_int(&r, 0, 1), .trans_b = (int)rng_int(&r, 0, 1)};
    make(&r, &p);
    check_one(ts, ctx, cache, &p, &plain, "plain");
    drop(&p);
    /* The cache keys A by address: a freed A's address may come back with other values. */
    snt_k_bf16_cache_destroy(cache);
    cache = snt_k_bf16_cache_create();
  }
  snt_k_bf16_cache_destroy(cache);
}

static void test_epilogues(test_state *ts, snt_k_ctx *ctx, snt_k_bf16_cache *cache) {
  rng r = {0xe9110};
  problem p = {.m = 19, .n = 101, .k = 45};
  make(&r, &p);
  snt_k_act acts[] = {{SNT_K_ACT_NONE, 0, 0, 0, 0}, {SNT_K_ACT_RELU, 0, 0, 0, 0}, {SNT_K_ACT_LEAKY_RELU, 0.1f, 0, 0, 0},
                      {SNT_K_ACT_CLIP, 0, -0.5f, 0.5f, 0}, {SNT_K_ACT_SIGMOID, 0, 0, 0, 0}, {SNT_K_ACT_TANH, 0, 0, 0, 0},
                      {SNT_K_ACT_SILU, 0, 0, 0, 0}, {SNT_K_ACT_HARD_SWISH, 1 / 6.0f, 0, 0, 0.5f}};
  for (int a = 0; a < 8; a++) {
    snt_k_epilogue_desc e = {.alpha = 0.5f, .accumulate = a % 2, .row_bias = p.bias_r, .col_bias = a % 3 ? p.bias_c : NULL,
                             .residual = a % 2 ? NULL : p.res, .ldr = p.n, .act = acts[a]};
    check_one(ts, ctx, cache, &p, &e, "epilogue");
  }
  drop(&p);
}

/* The same call on 1 and 2 threads (both splits of the work) gives the same bits. */
static void test_threads(test_state *ts, snt_k_bf16_cache *cache) {
  rng r = {0x7417};
  static const int64_t shapes[][3] = {{64, 3000, 75}, {512, 49, 300}, {9, 97, 33}};
  for (int s = 0; s < 3; s++) {
    problem p = {.m = shapes[s][0], .n = shapes[s][1], .k = shapes[s][2]};
    make(&r, &p);
    float *y[3];
    for (int t = 1; t <= 3; t++) {
      snt_k_ctx *ctx = snt_k_ctx_create(t);
      y[t - 1] = alloc_nan(p.m * p.n);
      snt_k_gemm_call g = {.m = p.m, .n = p.n, .k = p.k, .a = p.a, .lda = p.k, .b = p.b, .ldb = p.n, .c = y[t - 1],
                           .ldc = p.n, .epi = {.alpha = 1}};
      CHECK_INT(ts, snt_k_gemm_run_bf16(ctx, cache, &g), SNT_OK);
      snt_k_ctx_destroy(ctx);
    }
    CHECK(ts, memcmp(y[0], y[1], sizeof(float) * (size_t)(p.m * p.n)) == 0);
    CHECK(ts, memcmp(y[0], y[2], sizeof(float) * (size_t)(p.m * p.n)) == 0);
    for (int t = 0; t < 3; t++) free(y[t]);
    drop(&p);
  }
}

/* Column blocks (a convolution's images side by side): one call over 4 blocks of 21 columns
 * (vectors cross from one block into the next), blocks spaced apart in B, C, the residual and the
 * tap, against one call per block: the same bits, and nothing written between the blocks. With
 * and without streaming stores, accumulate, on 2 threads and both splits of the work. */
static void test_col_blocks(test_state *ts, snt_k_bf16_cache *cache) {
  rng r = {0xb10c};
  enum { M = 13, CB = 21, BLOCKS = 4, K = 37, GAP = 5 };
  int64_t bs = K * CB + GAP, cs = M * CB + GAP, total_b = BLOCKS * bs, total_c = BLOCKS * cs;
  float *a = alloc_f(M * K), *b = alloc_f(total_b), *res = alloc_f(total_c), *scale = alloc_f(M), *shift = alloc_f(M);
  rng_fill(&r, a, M * K), rng_fill(&r, b, total_b), rng_fill(&r, res, total_c), rng_fill(&r, scale, M),
      rng_fill(&r, shift, M);
  snt_k_ctx *ctx = snt_k_ctx_create(2);
  for (int variant = 0; variant < 4; variant++) {
    float *got = alloc_nan(total_c), *want = alloc_nan(total_c), *tap_got = alloc_nan(total_c),
          *tap_want = alloc_nan(total_c);
    if (variant & 2) /* accumulate onto C */
      for (int64_t i = 0; i < total_c; i++) got[i] = want[i] = (float)(i % 17) * 0.25f;
    snt_k_epilogue_desc e = {.alpha = 1, .accumulate = (variant & 2) != 0, .residual = res, .ldr = CB,
                             .act = {SNT_K_ACT_RELU, 0, 0, 0, 0}, .tap = tap_got, .ldt = CB, .tap_scale = scale,
                             .tap_shift = shift, .tap_relu = 1, .stream = variant & 1};
    snt_k_gemm_call g = {.m = M, .n = BLOCKS * CB, .k = K, .a = a, .lda = K, .b = b, .ldb = CB, .c = got, .ldc = CB,
                         .epi = e, .col_block = CB, .col_stride = cs, .b_stride = bs};
    CHECK_INT(ts, snt_k_gemm_run(ctx, &g), SNT_ERR_INPUT); /* an FP32 context: the blocks are BF16's */
    CHECK_INT(ts, snt_k_gemm_run_bf16(ctx, cache, &g), SNT_OK);
    for (int blk = 0; blk < BLOCKS; blk++) {
      snt_k_gemm_call one = {.m = M, .n = CB, .k = K, .a = a, .lda = K, .b = b + blk * bs, .ldb = CB,
                             .c = want + blk * cs, .ldc = CB, .epi = e};
      one.epi.residual = res + blk * cs;
      one.epi.tap = tap_want + blk * cs;
      CHECK_INT(ts, snt_k_gemm_run_bf16(ctx, cache, &one), SNT_OK);
    }
    /* NaN stays NaN between the blocks (memcmp: both hold the same NaN bits there) */
    CHECK(ts, memcmp(got, want, sizeof(float) * (size_t)total_c) == 0);
    CHECK(ts, memcmp(tap_got, tap_want, sizeof(float) * (size_t)total_c) == 0);
    free(got), free(want), free(tap_got), free(tap_want);
  }
  snt_k_ctx_destroy(ctx);
  free(a), free(b), free(res), free(scale), free(shift);
}

/* A BF16 context whose every GEMM layer runs in BF16 (SINTER_BF16_WINOGRAD=0 at create: by
 * default a layer whose GEMM waits on memory stays in FP32). */
static snt_k_ctx *bf16_everywhere(void) {
  setenv("SINTER_BF16_WINOGRAD", "0", 1);
  snt_k_ctx *ctx = snt_k_ctx_create(2);
  unsetenv("SINTER_BF16_WINOGRAD");
  if (ctx) snt_k_ctx_set_precision(ctx, SNT_K_BF16);
  return ctx;
}

/* Which layers a default BF16 context runs in BF16: a windowed conv of K >= 256, a 1x1 conv of
 * K >= 128 and at least 128 output channels; the others keep FP32 (their GEMM waits on memory). */
static void test_layer_choice(test_state *ts) {
  snt_k_ctx *ctx = snt_k_ctx_create(2);
  snt_k_ctx_set_precision(ctx, SNT_K_BF16);
  struct {
    int64_t cin, cout, hw, k, s;
    const char *want;
  } cases[] = {{256, 512, 14, 1, 1, "conv-gemm-bf16-1x1"},     {512, 128, 28, 1, 1, "conv-gemm-bf16-1x1"},
               {128, 512, 56, 1, 1, "conv-gemm-bf16-1x1"},     {64, 512, 14, 1, 1, "conv-gemm-avx512-1x1"},
               {256, 64, 56, 1, 1, "conv-gemm-avx512-1x1"},    {512, 127, 7, 1, 1, "conv-gemmt-avx512"},
               {64, 512, 56, 3, 2, "conv-gemm-bf16-implicit"}, {128, 512, 56, 1, 2, "conv-gemm-bf16-implicit"},
               {16, 512, 56, 3, 2, "conv-direct-avx512"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t o = (cases[i].hw + 2 * (cases[i].k / 2) - cases[i].k) / cases[i].s + 1, p = cases[i].k / 2;
    snt_k_conv_desc d = {.spatial = 2, .batch = 32, .in_channels = cases[i].cin, .out_channels = cases[i].cout,
                         .groups = 1, .in = {cases[i].hw, cases[i].hw}, .out = {o, o}, .kernel = {cases[i].k, cases[i].k},
                         .stride = {cases[i].s, cases[i].s}, .dilation = {1, 1}, .pad_begin = {p, p}, .pad_end = {p, p}};
    CHECK_STR(ts, snt_k_conv_kernel(ctx, &d), cases[i].want);
  }
  snt_k_ctx_destroy(ctx);
}

/* Windowed convs on a BF16 context, each with bias, a residual and ReLU: the image is rounded
 * once into padded planes of channel pairs which the packer copies (pair_source in conv.c), the
 * weights taken in (pair, tap) order. Awkward shapes: odd channel counts (a zero last pair),
 * stride 2, dilation, one-sided and uneven pads, 1x3 and 5x5 windows, maps that take the whole
 * batch as one product and maps that go image by image (56x9: 504 columns, little waste), one
 * image and two; grouped convs take the fp32 packer, rounded through L1 in pieces of 64 rows.
 * Reference: double sums of the rounded image and weights. */
typedef struct conv_case {
  int64_t batch, cin, cout, h, w, kh, kw, s, dl, pt, pl, pb, pr, groups;
} conv_case;

static void check_conv_case(test_state *ts, rng *r, const conv_case *k) {
  int64_t oh = (k->h + k->pt + k->pb - (k->kh - 1) * k->dl - 1) / k->s + 1;
  int64_t ow = (k->w + k->pl + k->pr - (k->kw - 1) * k->dl - 1) / k->s + 1;
  int64_t groups = k->groups ? k->groups : 1, cg = k->cin / groups, mg = k->cout / groups;
  snt_k_conv_desc d = {.spatial = 2, .batch = k->batch, .in_channels = k->cin, .out_channels = k->cout, .groups = groups,
                       .in = {k->h, k->w}, .out = {oh, ow}, .kernel = {k->kh, k->kw}, .stride = {k->s, k->s},
                       .dilation = {k->dl, k->dl}, .pad_begin = {k->pt, k->pl}, .pad_end = {k->pb, k->pr},
                       .act = {SNT_K_ACT_RELU, 0, 0, 0, 0}};
  int64_t xn = k->batch * k->cin * k->h * k->w, wn = k->cout * cg * k->kh * k->kw, yn = k->batch * k->cout * oh * ow;
  float *x = alloc_f(xn), *w = alloc_f(wn), *b = alloc_f(k->cout), *res = alloc_f(yn), *y = alloc_nan(yn);
  rng_fill(r, x, xn), rng_fill(r, w, wn), rng_fill(r, b, k->cout), rng_fill(r, res, yn);
  snt_k_ctx *ctx = bf16_everywhere();
  CHECK_STR(ts, snt_k_conv_kernel(ctx, &d), "conv-gemm-bf16-implicit"); /* the path under test */
  CHECK_INT(ts, snt_k_conv(ctx, &d, x, w, b, res, y, NULL), SNT_OK);
  snt_k_ctx_destroy(ctx);
  double *want = alloc_d(yn), *scale = alloc_d(yn);
  for (int64_t n = 0; n < k->batch; n++)
    for (int64_t o = 0; o < k->cout; o++)
      for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
          double sum = 0, sa = 0;
          for (int64_t c = 0; c < cg; c++)
            for (int64_t a = 0; a < k->kh; a++)
              for (int64_t e = 0; e < k->kw; e++) {
                int64_t ih = i * k->s - k->pt + a * k->dl, iw = j * k->s - k->pl + e * k->dl;
                if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w) continue;
                int64_t ci = o / mg * cg + c; /* the group's input channel */
                double v = (double)snt_k_bf16_round(x[((n * k->cin + ci) * k->h + ih) * k->w + iw]) *
                           snt_k_bf16_round(w[((o * cg + c) * k->kh + a) * k->kw + e]);
                sum += v, sa += fabs(v);
              }
          int64_t q = ((n * k->cout + o) * oh + i) * ow + j;
          double v = sum + b[o] + res[q];
          want[q] = v < 0 ? 0 : v;
          scale[q] = sa + fabs(b[o]) + fabs(res[q]) + 1e-3;
        }
  char what[96];
  snprintf(what, sizeof what, "bf16 conv %lldx%lld s%lld d%lld cin %lld", (long long)k->kh, (long long)k->kw,
           (long long)k->s, (long long)k->dl, (long long)k->cin);
  check_close_arr(ts, what, y, want, scale, yn, 2e-5);
  free(x), free(w), free(b), free(res), free(y), free(want), free(scale);
}

static void test_conv(test_state *ts) {
  rng r = {0xc0de};
  static const conv_case cases[] = {
      {2, 5, 11, 13, 17, 3, 3, 2, 1, 1, 1, 1, 1, 1},  /* odd channels, stride 2, batched columns */
      {1, 7, 9, 56, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1},    /* one image: the per-image product */
      {2, 6, 17, 56, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1},   /* two images, each its own product */
      {3, 4, 8, 9, 11, 3, 3, 1, 2, 2, 2, 2, 2, 1},    /* dilation 2 */
      {2, 3, 10, 12, 10, 5, 5, 1, 1, 0, 2, 2, 0, 1},  /* 5x5, one-sided pads */
      {2, 9, 12, 7, 13, 1, 3, 1, 1, 0, 1, 0, 1, 1},   /* 1x3 */
      {2, 1, 8, 15, 15, 3, 3, 2, 1, 0, 0, 1, 1, 1},   /* one channel: a pair with a zero half */
      {2, 10, 16, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2}, /* grouped (narrow: not the direct path) */
      {1, 24, 16, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2}, /* grouped, K = 108: two pieces of 64 rows */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv_case(ts, &r, &cases[i]);
}

/* The BN tap (snt_k_conv_tapped) on a BF16 context, written by the BF16 GEMM's store: y the
 * untapped conv's bit for bit, the tap snt_k_bn_infer over y up to rounding; a 1x1 conv with a
 * residual and a 3x3 stride-2 one, each with and without the tap's ReLU. */
static void test_tap(test_state *ts) {
  rng r = {0x7a9b};
  snt_k_conv_desc ds[2] = {
      {.spatial = 2, .batch = 2, .in_channels = 24, .out_channels = 37, .groups = 1, .in = {9, 11}, .out = {9, 11},
       .kernel = {1, 1}, .stride = {1, 1}, .dilation = {1, 1}, .act = {SNT_K_ACT_NONE, 0, 0, 0, 0}},
      {.spatial = 2, .batch = 2, .in_channels = 5, .out_channels = 11, .groups = 1, .in = {13, 17}, .out = {7, 9},
       .kernel = {3, 3}, .stride = {2, 2}, .dilation = {1, 1}, .pad_begin = {1, 1}, .pad_end = {1, 1},
       .act = {SNT_K_ACT_RELU, 0, 0, 0, 0}}};
  snt_k_ctx *ctx = bf16_everywhere();
  for (int c = 0; c < 2; c++) {
    const snt_k_conv_desc *d = &ds[c];
    int64_t ch = d->out_channels, plane = d->out[0] * d->out[1];
    int64_t xn = d->batch * d->in_channels * d->in[0] * d->in[1], wn = ch * d->in_channels * d->kernel[0] * d->kernel[1];
    int64_t yn = d->batch * ch * plane;
    float *x = alloc_f(xn), *w = alloc_f(wn), *res = alloc_f(yn), *y0 = alloc_nan(yn), *y1 = alloc_nan(yn);
    float *t = alloc_nan(yn), *want = alloc_f(yn), *gamma = alloc_f(ch), *beta = alloc_f(ch), *mean = alloc_f(ch);
    float *var = alloc_f(ch), *scale = alloc_f(ch), *shift = alloc_f(ch);
    rng_fill(&r, x, xn), rng_fill(&r, w, wn), rng_fill(&r, res, yn);
    rng_fill(&r, gamma, ch), rng_fill(&r, beta, ch), rng_fill(&r, mean, ch), rng_fill(&r, var, ch);
    for (int64_t i = 0; i < ch; i++) {
      var[i] = var[i] * var[i] + 0.5f;
      scale[i] = gamma[i] / sqrtf(var[i] + 1e-3f);
      shift[i] = beta[i] - mean[i] * scale[i];
    }
    const float *rp = c == 0 ? res : NULL;
    for (int relu = 0; relu < 2; relu++) {
      snt_k_conv_tap tap = {scale, shift, t, relu, 0};
      CHECK_INT(ts, snt_k_conv(ctx, d, x, w, NULL, rp, y0, NULL), SNT_OK);
      CHECK_INT(ts, snt_k_conv_tapped(ctx, d, x, w, NULL, NULL, rp, y1, &tap, NULL), SNT_OK);
      CHECK(ts, memcmp(y0, y1, sizeof(float) * (size_t)yn) == 0);
      CHECK_INT(ts, snt_k_bn_infer(ctx, d->batch, ch, plane, y0, gamma, beta, mean, var, 1e-3f, relu, want), SNT_OK);
      double worst = 0;
      for (int64_t i = 0; i < yn; i++) {
        int64_t k = i / plane % ch;
        double err = fabs((double)t[i] - want[i]) / (fabs((double)y0[i] * scale[k]) + fabs((double)shift[k]) + 1e-30);
        worst = err > worst || isnan(err) ? err : worst;
      }
      ts->checks++;
      if (!(worst <= 1e-6)) {
        ts->failures++;
        fprintf(stderr, "bf16 tap (conv %d, relu %d): relative error %.3g\n", c, relu, worst);
      }
    }
    free(x), free(w), free(res), free(y0), free(y1), free(t), free(want);
    free(gamma), free(beta), free(mean), free(var), free(scale), free(shift);
  }
  snt_k_ctx_destroy(ctx);
}

static void test_rounding(test_state *ts) {
  CHECK(ts, snt_k_bf16_round(1.0f) == 1.0f);
  CHECK(ts, snt_k_bf16_round(1.00390625f) == 1.0f);      /* halfway 1 + 2^-8: to even (1) */
  CHECK(ts, snt_k_bf16_round(1.01171875f) == 1.015625f); /* halfway 1 + 3 * 2^-8: to even */
  CHECK(ts, snt_k_bf16_round(nextafterf(1.00390625f, 2.0f)) == 1.0078125f); /* just above halfway: up */
  CHECK(ts, isnan(snt_k_bf16_round(NAN)));
  CHECK(ts, snt_k_bf16_round(INFINITY) == INFINITY);
  CHECK(ts, snt_k_bf16_round(3.4028235e38f) == INFINITY); /* FLT_MAX rounds up past the largest bf16 */
}

int main(void) {
  test_state ts = {0};
  test_rounding(&ts);
  if (snt_k_bf16_available()) {
    snt_k_ctx *ctx = snt_k_ctx_create(2);
    snt_k_bf16_cache *cache = snt_k_bf16_cache_create();
    test_shapes(&ts, ctx);
    test_epilogues(&ts, ctx, cache);
    snt_k_bf16_cache_destroy(cache);
    cache = snt_k_bf16_cache_create();
    test_threads(&ts, cache);
    test_col_blocks(&ts, cache);
    test_conv(&ts);
    test_tap(&ts);
    test_layer_choice(&ts);
    snt_k_bf16_cache_destroy(cache);
    snt_k_ctx_destroy(ctx);
  } else {
    fprintf(stderr, "test_kernels_bf16: this CPU has no AVX512_BF16: only the rounding is tested here\n");
  }
  return test_report("test_kernels_bf16", &ts);
}
