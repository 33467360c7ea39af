/* The Winograd F(4x4, 3x3) path (conv_winograd.c) against a naive double-precision convolution:
 * on AVX-512 it is called directly on awkward shapes whatever snt_k_conv would choose (odd
 * maps with tails in both directions, 1x1 and 2x2 outputs, pads 0/1/2 and one-sided, batch 3,
 * 1 to 512 input channels, 1 to 64 output channels, runs of tiles across rows and images,
 * rows of more than 16 tiles, every epilogue), with weights transformed at load and per call,
 * on 1, 2 and 3 threads bit for bit; error within 1e-4 of max|y| (y before the activation; the
 * largest is printed). On
 * every ISA (ctest forces each) snt_k_conv names and runs the path it chooses on shapes the
 * AVX-512 build takes Winograd for: the other ISAs fall back and must agree too. */
#include "conv_impl.h"
#include "kernels_ref.h"

typedef struct wcase {
  int64_t cin, cout, batch, h, w, pb[2], pe[2];
} wcase;

static const wcase cases[] = {
    {17, 15, 3, 23, 19, {1, 1}, {1, 1}},   /* odd maps: partial tiles at both ends */
    {17, 33, 1, 3, 3, {0, 0}, {0, 0}},     /* 1x1 output */
    {5, 7, 3, 1, 1, {1, 1}, {1, 1}},       /* 1x1 output from a 1x1 map, all padding around */
    {3, 9, 2, 4, 4, {0, 0}, {0, 0}},       /* 2x2 output */
    {4, 16, 1, 2, 3, {1, 0}, {1, 1}},      /* 2x2 output, one-sided pads */
    {6, 10, 3, 5, 7, {2, 2}, {2, 2}},      /* pads 2 */
    {9, 12, 2, 11, 13, {0, 2}, {2, 0}},    /* one-sided pads on both axes */
    {1, 64, 1, 16, 16, {1, 1}, {1, 1}},    /* one input channel */
    {64, 1, 2, 9, 30, {1, 1}, {1, 1}},     /* one output channel */
    {64, 64, 3, 29, 31, {1, 1}, {1, 1}},   /* runs of tiles across images, several blocks */
    {16, 24, 1, 9, 70, {1, 1}, {0, 0}},    /* rows of 18 tiles: runs split at 16 */
    {24, 16, 1, 28, 28, {1, 1}, {1, 1}},   /* 49 tiles: the last two blocks of 2 + 2 vectors */
    {20, 12, 2, 28, 28, {1, 1}, {1, 1}},   /* 98 tiles: blocks of 3, 2 and 2 vectors */
    {512, 33, 1, 14, 14, {1, 1}, {1, 1}},  /* long sums: the accuracy of F(4x4, 3x3) */
    {512, 64, 3, 8, 9, {1, 1}, {1, 1}},
};

static const snt_k_act acts[] = {{SNT_K_ACT_NONE, 0, 0, 0, 0},        {SNT_K_ACT_RELU, 0, 0, 0, 0},
                                 {SNT_K_ACT_LEAKY_RELU, 0.1f, 0, 0, 0}, {SNT_K_ACT_SIGMOID, 0, 0, 0, 0},
                                 {SNT_K_ACT_TANH, 0, 0, 0, 0},          {SNT_K_ACT_CLIP, 0, -0.5f, 0.75f, 0},
                                 {SNT_K_ACT_SILU, 0, 0, 0, 0},       {SNT_K_ACT_HARD_SWISH, 1 / 6.0f, 0, 0, 0.5f}};

static snt_k_conv_desc desc_of(const wcase *c) {
  snt_k_conv_desc d = {.spatial = 2, .batch = c->batch, .in_channels = c->cin, .out_channels = c->cout, .groups = 1,
                       .in = {c->h, c->w}, .kernel = {3, 3}, .stride = {1, 1}, .dilation = {1, 1}};
  for (int a = 0; a < 2; a++) {
    d.pad_begin[a] = c->pb[a], d.pad_end[a] = c->pe[a];
    d.out[a] = d.in[a] + c->pb[a] + c->pe[a] - 2;
  }
  return d;
}

/* y = act(conv(x, w) + b + res) in double; returns max |conv(x, w) + b + res|, the scale of
 * the result (activations such as clip would hide the error of large sums). */
static double ref_conv(const snt_k_conv_desc *d, const float *x, const float *w, const float *b, const float *res,
                       double *y) {
  double top = 0;
  int64_t H = d->in[0], W = d->in[1], OH = d->out[0], OW = d->out[1], C = d->in_channels;
  for (int64_t n = 0; n < d->batch; n++)
    for (int64_t o = 0; o < d->out_channels; o++)
      for (int64_t i = 0; i < OH; i++)
        for (int64_t j = 0; j < OW; j++) {
          double acc = b ? b[o] : 0.0;
          for (int64_t c = 0; c < C; c++)
            for (int64_t kh = 0; kh < 3; kh++)
              for (int64_t kw = 0; kw < 3; kw++) {
                int64_t ih = i - d->pad_begin[0] + kh, iw = j - d->pad_begin[1] + kw;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                  acc += (double)x[((n * C + c) * H + ih) * W + iw] * w[((o * C + c) * 3 + kh) * 3 + kw];
              }
          int64_t yi = ((n * d->out_channels + o) * OH + i) * OW + j;
          if (res) acc += res[yi];
          if (fabs(acc) > top) top = fabs(acc);
          y[yi] = ref_act(&d->act, acc);
        }
  return top;
}

/* max |got - want| / top (the error of the result as a whole). */
static double rel_err(const float *got, const double *want, int64_t n, double top) {
  double most = 0;
  for (int64_t i = 0; i < n; i++) {
    double e = fabs((double)got[i] - want[i]);
    if (!(e <= most)) most = e; /* NaN propagates */
  }
  return most / (top > 0 ? top : 1);
}

typedef struct data {
  float *x, *w, *b, *res, *u, *y1, *y2;
  double *want;
  int64_t ny;
} data;

static data data_make(rng *r, const snt_k_conv_desc *d, const snt_k_conv3 *g) {
  data D;
  int64_t nx = d->batch * d->in_channels * d->in[0] * d->in[1], nw = d->out_channels * d->in_channels * 9;
  D.ny = d->batch * d->out_channels * d->out[0] * d->out[1];
  D.x = alloc_f(nx), D.w = alloc_f(nw), D.b = alloc_f(d->out_channels), D.res = alloc_f(D.ny);
  D.u = alloc_nan((int64_t)(snt_k_conv_winograd_weights_bytes(g) / sizeof(float)));
  D.y1 = alloc_f(D.ny), D.y2 = alloc_f(D.ny), D.want = alloc_d(D.ny);
  rng_fill(r, D.x, nx), rng_fill(r, D.w, nw), rng_fill(r, D.b, d->out_channels), rng_fill(r, D.res, D.ny);
  return D;
}

static void data_free(data *D) {
  free(D->x), free(D->w), free(D->b), free(D->res), free(D->u), free(D->y1), free(D->y2), free(D->want);
}

/* One case and epilogue on the path itself: weights per call on 1 thread, at load on c2's
 * threads (2, or 3: split_at's uneven shares of the block pairs). */
static void run_direct(test_state *ts, snt_k_ctx *c1, snt_k_ctx *c2, int ci, snt_k_conv_desc d, int act,
                       int use_b, int use_res, double *worst) {
  snt_k_conv3 g;
  CHECK_INT(ts, snt_k_conv3_init(&d, &g), SNT_OK);
  CHECK(ts, snt_k_conv_winograd_shape(&g));
  rng r = {0x5eed0000u + (uint64_t)ci};
  data D = data_make(&r, &d, &g);
  d.act = acts[act];
  snt_k_conv_epi e = {.bias = use_b ? D.b : NULL, .residual = use_res ? D.res : NULL, .act = d.act};
  for (int64_t i = 0; i < D.ny; i++) D.y1[i] = D.y2[i] = NAN;
  CHECK_INT(ts, snt_k_conv_winograd(c1, &g, D.x, D.w, NULL, &e, D.y1), SNT_OK);
  snt_k_conv_winograd_pack(c2, &g, D.w, D.u);
  CHECK_INT(ts, snt_k_conv_winograd(c2, &g, D.x, D.w, D.u, &e, D.y2), SNT_OK);
  ts->checks++;
  if (memcmp(D.y1, D.y2, (size_t)D.ny * sizeof(float)) != 0) {
    ts->failures++;
    fprintf(stderr, "case %d act %d: per call on 1 thread and packed on %d differ\n", ci, act, snt_k_ctx_threads(c2));
  }
  double err = rel_err(D.y1, D.want, D.ny, ref_conv(&d, D.x, D.w, e.bias, e.residual, D.want));
  if (!(err <= *worst)) *worst = err;
  ts->checks++;
  if (!(err <= 1e-4)) {
    ts->failures++;
    fprintf(stderr, "case %d (cin %lld, cout %lld) act %d: error %.3g of max|y|\n", ci, (long long)d.in_channels,
            (long long)d.out_channels, act, err);
  }
  data_free(&D);
}

/* snt_k_conv on ctx's ISA: the path it names, and the result (both thread counts, packed at load). */
static void run_public(test_state *ts, snt_k_ctx *c1, snt_k_ctx *c2, int ci, snt_k_conv_desc d) {
  snt_k_conv3 g;
  CHECK_INT(ts, snt_k_conv3_init(&d, &g), SNT_OK);
  int wino = snt_k_ctx_isa(c1) == SNT_K_ISA_AVX512 && snt_k_conv_winograd_applies(&g, 0);
  const char *name = snt_k_conv_kernel(c1, &d);
  ts->checks++;
  if (wino != (strcmp(name, "conv-winograd-avx512") == 0)) {
    ts->failures++;
    fprintf(stderr, "case %d: kernel %s (winograd applies: %d)\n", ci, name, wino);
  }
  rng r = {0xab5eed00u + (uint64_t)ci};
  data D = data_make(&r, &d, &g);
  d.act = acts[1];
  size_t bytes = snt_k_conv_packed_weights_bytes(&d);
  float *packed = alloc_nan((int64_t)(bytes / sizeof(float)));
  CHECK_INT(ts, snt_k_conv_pack_weights(c2, &d, D.w, packed), SNT_OK);
  CHECK_INT(ts, snt_k_conv(c1, &d, D.x, D.w, D.b, D.res, D.y1, NULL), SNT_OK);
  CHECK_INT(ts, snt_k_conv_packed(c2, &d, D.x, D.w, bytes ? packed : NULL, D.b, D.res, D.y2, NULL), SNT_OK);
  ts->checks++;
  if (memcmp(D.y1, D.y2, (size_t)D.ny * sizeof(float)) != 0) {
    ts->failures++;
    fprintf(stderr, "case %d: snt_k_conv and snt_k_conv_packed on 2 threads differ\n", ci);
  }
  double err = rel_err(D.y1, D.want, D.ny, ref_conv(&d, D.x, D.w, D.b, D.res, D.want));
  ts->checks++;
  if (!(err <= 1e-4)) {
    ts->failures++;
    fprintf(stderr, "case %d via snt_k_conv (%s): error %.3g of max|y|\n", ci, name, err);
  }
  free(packed);
  data_free(&D);
}

int main(void) {
  test_state ts = {0};
  snt_k_ctx *c1 = snt_k_ctx_create(1), *c2 = snt_k_ctx_create(2), *c3 = snt_k_ctx_create(3);
  if (!c1 || !c2 || !c3) return 2;
  int n = (int)(sizeof cases / sizeof cases[0]);
  double worst = 0;
  if (snt_k_ctx_isa(c1) == SNT_K_ISA_AVX512) {
    for (int i = 0; i < n; i++) {
      snt_k_conv_desc d = desc_of(&cases[i]);
      int big = cases[i].cin >= 512; /* one epilogue for the slow references */
      run_direct(&ts, c1, c2, i, d, i % 8, i % 2, i % 3 != 0, &worst);
      if (!big) run_direct(&ts, c1, c3, i, d, (i + 3) % 8, 1, i % 3 == 0, &worst);
    }
    printf("winograd: largest error %.3g of max|y|\n", worst);
  }
  /* Shapes snt_k_conv takes Winograd for on AVX-512 (and the first case, which it does not). */
  static const wcase chosen[] = {{17, 15, 3, 23, 19, {1, 1}, {1, 1}}, {32, 40, 2, 12, 37, {0, 1}, {2, 1}},
                                 {16, 8, 1, 10, 10, {1, 1}, {1, 1}},  {5, 7, 1, 20, 20, {1, 1}, {1, 1}}};
  for (int i = 0; i < 4; i++) run_public(&ts, c1, c2, i, desc_of(&chosen[i]));
  snt_k_ctx_destroy(c1);
  snt_k_ctx_destroy(c2);
  snt_k_ctx_destroy(c3);
  return test_report("test_conv_winograd", &ts);
}
