/* BF16 taps and BF16 inputs (snt_k_conv_tap.bf16, snt_k_conv_bf16_in): a pre-activation
 * ResNet's BN + ReLU written rounded to bfloat16 in the conv's store, and the next 1x1 layer
 * reading it in place. The stores' rounding (bf16_avx512.h, inline assembly) must equal the
 * intrinsic's on every class of input, lane for lane, tails included; each writer (the FP32
 * and BF16 GEMMs' stores, the transposed product's and Winograd's passes, the GEMV's pass)
 * must write exactly the float tap rounded; and a conv on the rounded input must give the bits
 * the same conv gives on the float input, which the BF16 GEMM rounds to the same values. */
#include <immintrin.h>

#include "kernels_ref.h"
#include "runtime/kernels/bf16_avx512.h"
#include "runtime/kernels/gemm_bf16.h"

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* The reference: the compiler's intrinsic for the instruction. */
__attribute__((target("avx512f,avx512bf16"))) static void round_ref(const float *src, uint16_t *dst) {
  __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(src));
  memcpy(dst, &h, 32);
}

__attribute__((target("avx512f"))) static void round_ours(const float *src, uint16_t *dst) {
  snt_k_bf16_store512(dst, _mm512_loadu_ps(src), 0xffff, 0);
}

static void test_rounding(test_state *ts) {
  static const uint32_t special[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x00400000u, 0x00800000u,
                                     0x80800000u, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                                     0xffc00001u, 0x7f800001u, 0x7fbfffffu, 0xff80ffffu, 0x3f808000u, 0x3f818000u,
                                     0x3f807fffu, 0x3f808001u, 0x3f7fffffu, 0x477fe000u, 0x7f7f8000u, 0x00ff8000u};
  enum { N = 1 << 16 };
  float *src = alloc_f(N);
  uint16_t *want = xmalloc(N * sizeof(uint16_t)), *got = xmalloc(N * sizeof(uint16_t));
  rng r = {0xbf16};
  size_t ns = sizeof special / sizeof special[0];
  for (int64_t i = 0; i < N; i++) /* the specials, then random bit patterns: every exponent, NaN payloads */
    src[i] = float_of(i < (int64_t)ns ? special[i] : (uint32_t)rng_next(&r));
  for (int64_t i = 0; i < N; i += 16) {
    round_ref(src + i, want + i);
    round_ours(src + i, got + i);
  }
  int64_t bad = 0;
  for (int64_t i = 0; i < N; i++)
    if (got[i] != want[i] && bad++ < 5)
      fprintf(stderr, "bf16 of 0x%08x: 0x%04x, vcvtneps2bf16 0x%04x\n", bits_of(src[i]), got[i], want[i]);
  CHECK(ts, bad == 0);
  /* snt_k_bf16_round_run: tails of every length */
  for (int64_t n = 1; n <= 40; n++) {
    uint16_t tail[48];
    for (int i = 0; i < 48; i++) tail[i] = 0xabcd;
    snt_k_bf16_round_run(src + 100, tail, n);
    CHECK(ts, memcmp(tail, want + 100, (size_t)n * 2) == 0 && tail[n] == 0xabcd);
  }
  free(src), free(want), free(got);
}

static snt_k_conv_desc conv_1x1(int64_t batch, int64_t cin, int64_t cout, int64_t h, int64_t w) {
  return (snt_k_conv_desc){.spatial = 2, .batch = batch, .in_channels = cin, .out_channels = cout, .groups = 1,
                           .in = {h, w}, .out = {h, w}, .kernel = {1, 1}, .stride = {1, 1}, .dilation = {1, 1}};
}

/* n floats rounded by the intrinsic (round_ref), 16 at a time through a padded copy: what
 * every writer must produce, computed apart from the code under test. */
static void round_all(const float *src, uint16_t *dst, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    float in[16] = {0};
    uint16_t out[16];
    memcpy(in, src + i, (size_t)(n - i < 16 ? n - i : 16) * sizeof(float));
    round_ref(in, out);
    memcpy(dst + i, out, (size_t)(n - i < 16 ? n - i : 16) * sizeof(uint16_t));
  }
}

/* One conv with a residual and a tap, float tap then BF16 tap on the same context: y the same
 * bits, the BF16 tap the float tap rounded, on the path `want`. */
static void check_tap16(test_state *ts, snt_k_ctx *ctx, const snt_k_conv_desc *d, const char *want) {
  rng r = {0x7a16 + (uint64_t)d->in_channels * 131 + (uint64_t)d->out[1]};
  int64_t ch = d->out_channels, plane = d->out[0] * d->out[1], yn = d->batch * ch * plane;
  int64_t xn = d->batch * d->in_channels * d->in[0] * d->in[1], wn = ch * d->in_channels * d->kernel[0] * d->kernel[1];
  float *x = alloc_f(xn), *w = alloc_f(wn), *res = alloc_f(yn), *y0 = alloc_nan(yn), *y1 = alloc_nan(yn);
  float *t = alloc_nan(yn), *t16 = alloc_nan(yn), *scale = alloc_f(ch), *shift = alloc_f(ch);
  uint16_t *want16 = xmalloc((size_t)yn * 2);
  rng_fill(&r, x, xn), rng_fill(&r, w, wn), rng_fill(&r, res, yn), rng_fill(&r, scale, ch), rng_fill(&r, shift, ch);
  CHECK_STR(ts, snt_k_conv_kernel(ctx, d), want);
  for (int relu = 0; relu < 2; relu++) {
    snt_k_conv_tap tf = {scale, shift, t, relu, 0}, tb = {scale, shift, t16, relu, 1};
    CHECK_INT(ts, snt_k_conv_tapped(ctx, d, x, w, NULL, NULL, res, y0, &tf, NULL), SNT_OK);
    CHECK_INT(ts, snt_k_conv_tapped(ctx, d, x, w, NULL, NULL, res, y1, &tb, NULL), SNT_OK);
    CHECK(ts, memcmp(y0, y1, sizeof(float) * (size_t)yn) == 0);
    round_all(t, want16, yn);
    const uint16_t *got = (const uint16_t *)t16;
    int64_t bad = 0;
    for (int64_t i = 0; i < yn; i++)
      if (got[i] != want16[i] && bad++ < 3)
        fprintf(stderr, "%s relu %d: tap16[%lld] 0x%04x, rounded tap 0x%04x (%g)\n", want, relu, (long long)i, got[i],
                want16[i], (double)t[i]);
    CHECK(ts, bad == 0);
    /* nothing written past the BF16 tap's half of the buffer */
    int untouched = 1;
    for (int64_t i = (yn + 1) / 2; i < yn; i++) untouched = untouched && isnan(t16[i]);
    CHECK(ts, untouched);
  }
  free(x), free(w), free(res), free(y0), free(y1), free(t), free(t16), free(scale), free(shift), free(want16);
}

static void test_writers(test_state *ts) {
  snt_k_ctx *ctx = snt_k_ctx_create(2);
  snt_k_ctx_set_precision(ctx, SNT_K_BF16);
  snt_k_conv_desc fp32_gemm = conv_1x1(2, 64, 40, 20, 21);  /* K = 64: the FP32 GEMM's store */
  snt_k_conv_desc cols = conv_1x1(2, 128, 136, 9, 11);      /* BF16, images as column blocks */
  snt_k_conv_desc image = conv_1x1(1, 130, 128, 28, 28);    /* BF16, per image, odd pair count */
  snt_k_conv_desc small = conv_1x1(1, 96, 64, 7, 7);        /* the transposed product */
  snt_k_conv_desc gemv = conv_1x1(3, 24, 20, 1, 1);         /* a GEMV per image */
  snt_k_conv_desc wino = {.spatial = 2, .batch = 2, .in_channels = 32, .out_channels = 48, .groups = 1,
                          .in = {14, 14}, .out = {14, 14}, .kernel = {3, 3}, .stride = {1, 1}, .dilation = {1, 1},
                          .pad_begin = {1, 1}, .pad_end = {1, 1}};
  check_tap16(ts, ctx, &fp32_gemm, "conv-gemm-avx512-1x1");
  check_tap16(ts, ctx, &cols, "conv-gemm-bf16-1x1");
  check_tap16(ts, ctx, &image, "conv-gemm-bf16-1x1");
  check_tap16(ts, ctx, &small, "conv-gemmt-avx512");
  check_tap16(ts, ctx, &gemv, "conv-gemm-avx512-1x1");
  check_tap16(ts, ctx, &wino, "conv-winograd-avx512");
  /* a BF16 tap needs a context that runs BF16 */
  snt_k_ctx_set_precision(ctx, SNT_K_FP32);
  float one[64 * 40] = {0}, out[64 * 40];
  snt_k_conv_desc tiny = conv_1x1(1, 4, 4, 2, 8);
  snt_k_conv_tap tb = {one, one, out, 1, 1};
  CHECK_INT(ts, snt_k_conv_tapped(ctx, &tiny, one, one, NULL, NULL, NULL, out, &tb, NULL), SNT_ERR_INPUT);
  snt_k_ctx_destroy(ctx);
}

/* snt_k_conv_bf16_in against snt_k_conv on the float input, both on a context whose every GEMM
 * layer runs in BF16: the same rounded B, so the same bits; with a residual, a bias, ReLU and a
 * tap of its own. */
static void check_in16(test_state *ts, const snt_k_conv_desc *d) {
  setenv("SINTER_BF16_WINOGRAD", "0", 1);
  snt_k_ctx *ctx = snt_k_ctx_create(2);
  unsetenv("SINTER_BF16_WINOGRAD");
  snt_k_ctx_set_precision(ctx, SNT_K_BF16);
  rng r = {0x1616 + (uint64_t)d->in_channels};
  int64_t ch = d->out_channels, plane = d->out[0] * d->out[1], yn = d->batch * ch * plane;
  int64_t xn = d->batch * d->in_channels * plane, wn = ch * d->in_channels;
  float *x = alloc_f(xn), *w = alloc_f(wn), *b = alloc_f(ch), *res = alloc_f(yn), *y0 = alloc_nan(yn);
  float *y1 = alloc_nan(yn), *t0 = alloc_nan(yn), *t1 = alloc_nan(yn), *scale = alloc_f(ch), *shift = alloc_f(ch);
  uint16_t *x16 = xmalloc((size_t)xn * 2);
  rng_fill(&r, x, xn), rng_fill(&r, w, wn), rng_fill(&r, b, ch), rng_fill(&r, res, yn);
  rng_fill(&r, scale, ch), rng_fill(&r, shift, ch);
  round_all(x, x16, xn);
  snt_k_conv_tap tap0 = {scale, shift, t0, 1, 1}, tap1 = {scale, shift, t1, 1, 1};
  CHECK_INT(ts, snt_k_conv_tapped(ctx, d, x, w, NULL, b, res, y0, &tap0, NULL), SNT_OK);
  CHECK_INT(ts, snt_k_conv_bf16_in(ctx, d, x16, w, b, res, y1, &tap1, NULL), SNT_OK);
  CHECK(ts, memcmp(y0, y1, sizeof(float) * (size_t)yn) == 0);
  CHECK(ts, memcmp(t0, t1, (size_t)yn * 2) == 0);
  /* and against double sums of the rounded operands */
  double worst = 0;
  for (int64_t n = 0; n < d->batch; n++)
    for (int64_t o = 0; o < ch; o++)
      for (int64_t p = 0; p < plane; p++) {
        double s = 0, sa = 0;
        for (int64_t c = 0; c < d->in_channels; c++) {
          double v = (double)snt_k_bf16_round(w[o * d->in_channels + c]) * snt_k_bf16_round(x[(n * d->in_channels + c) * plane + p]);
          s += v, sa += fabs(v);
        }
        int64_t q = (n * ch + o) * plane + p;
        double err = fabs(y1[q] - (s + b[o] + res[q])) / (sa + fabs(b[o]) + fabs(res[q]) + 1e-3);
        worst = err > worst || isnan(err) ? err : worst;
      }
  CHECK(ts, worst <= 2e-5);
  free(x), free(w), free(b), free(res), free(y0), free(y1), free(t0), free(t1), free(scale), free(shift), free(x16);
  snt_k_ctx_destroy(ctx);
}

static void test_inputs(test_state *ts) {
  snt_k_conv_desc cases[] = {conv_1x1(2, 64, 64, 20, 21), conv_1x1(2, 256, 64, 9, 11), conv_1x1(1, 5, 24, 28, 28),
                             conv_1x1(3, 48, 20, 1, 1), conv_1x1(2, 130, 136, 14, 14)};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_in16(ts, &cases[i]);
  /* refused: a windowed conv, a strided 1x1, an FP32 context */
  snt_k_ctx *ctx = snt_k_ctx_create(1);
  snt_k_ctx_set_precision(ctx, SNT_K_BF16);
  uint16_t x16[4 * 64] = {0};
  float w[4 * 4 * 9] = {0}, y[4 * 64];
  snt_k_conv_desc k3 = {.spatial = 2, .batch = 1, .in_channels = 4, .out_channels = 4, .groups = 1, .in = {8, 8},
                        .out = {8, 8}, .kernel = {3, 3}, .stride = {1, 1}, .dilation = {1, 1}, .pad_begin = {1, 1},
                        .pad_end = {1, 1}};
  snt_k_conv_desc s2 = conv_1x1(1, 4, 4, 8, 8);
  s2.out[0] = s2.out[1] = 4, s2.stride[0] = s2.stride[1] = 2;
  snt_k_conv_desc ok = conv_1x1(1, 4, 4, 8, 8);
  CHECK_INT(ts, snt_k_conv_bf16_in(ctx, &k3, x16, w, NULL, NULL, y, NULL, NULL), SNT_ERR_INPUT);
  CHECK_INT(ts, snt_k_conv_bf16_in(ctx, &s2, x16, w, NULL, NULL, y, NULL, NULL), SNT_ERR_INPUT);
  CHECK_INT(ts, snt_k_conv_bf16_in(ctx, &ok, x16, w, NULL, NULL, y, NULL, NULL), SNT_OK);
  snt_k_ctx_set_precision(ctx, SNT_K_FP32);
  CHECK_INT(ts, snt_k_conv_bf16_in(ctx, &ok, x16, w, NULL, NULL, y, NULL, NULL), SNT_ERR_INPUT);
  snt_k_ctx_destroy(ctx);
}

int main(void) {
  test_state ts = {0};
  if (!snt_k_bf16_available()) {
    /* No AVX512_BF16 here: nothing can write or read a BF16 tap, and the calls refuse. */
    snt_k_ctx *ctx = snt_k_ctx_create(1);
    snt_k_ctx_set_precision(ctx, SNT_K_BF16);
    uint16_t x16[16] = {0};
    float w[16] = {0}, y[16];
    snt_k_conv_desc ok = conv_1x1(1, 4, 4, 2, 2);
    CHECK_INT(&ts, snt_k_conv_bf16_in(ctx, &ok, x16, w, NULL, NULL, y, NULL, NULL), SNT_ERR_INPUT);
    snt_k_ctx_destroy(ctx);
    return test_report("test_bf16_tap (no AVX512_BF16)", &ts);
  }
  test_rounding(&ts);
  test_writers(&ts);
  test_inputs(&ts);
  return test_report("test_bf16_tap", &ts);
}
