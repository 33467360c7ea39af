/* The small-map depthwise path with 16 channels in the lanes (conv_dw_lanes.c) against the
 * plane path (conv_dw_avx512.c), plane by plane: the same bits, as both sum the taps in (kernel
 * row, column) order from zero and apply bias, residual and activation alike. 7x7 and 14x14
 * maps, 3x3, 5x5 stride 2 and 7x7 windows, one-sided pads, a partial group of channels, batch
 * 2, ReLU6 and SiLU (the four-at-a-time activation pass). */
#include "kernels_ref.h"
#include "runtime/kernels/conv_impl.h"

typedef struct dw_case {
  int64_t ch, batch, h, w, k, s, pb, pe;
  snt_k_act act;
} dw_case;

static void check(test_state *ts, const dw_case *c) {
  int64_t oh = (c->h + c->pb + c->pe - c->k) / c->s + 1, ow = (c->w + c->pb + c->pe - c->k) / c->s + 1;
  snt_k_conv_desc d = {.spatial = 2, .batch = c->batch, .in_channels = c->ch, .out_channels = c->ch, .groups = c->ch,
                       .in = {c->h, c->w}, .out = {oh, ow}, .kernel = {c->k, c->k}, .stride = {c->s, c->s},
                       .dilation = {1, 1}, .pad_begin = {c->pb, c->pb}, .pad_end = {c->pe, c->pe}, .act = c->act};
  snt_k_conv3 g;
  CHECK_INT(ts, snt_k_conv3_init(&d, &g), SNT_OK);
  CHECK(ts, snt_k_conv_dw_lanes_applies(&g));
  rng r = {0xd1a9 + (uint64_t)c->ch};
  int64_t nx = c->batch * c->ch * c->h * c->w, ny = c->batch * c->ch * oh * ow, nw = c->ch * c->k * c->k;
  float *x = alloc_f(nx), *w = alloc_f(nw), *b = alloc_f(c->ch), *res = alloc_f(ny), *y = alloc_nan(ny), *want = alloc_nan(ny);
  rng_fill(&r, x, nx), rng_fill(&r, w, nw), rng_fill(&r, b, c->ch), rng_fill(&r, res, ny);
  snt_k_ctx *ctx = snt_k_ctx_create(2);
  CHECK_STR(ts, snt_k_conv_kernel(ctx, &d), "conv-depthwise-lanes-avx512");
  CHECK_INT(ts, snt_k_conv(ctx, &d, x, w, b, res, y, NULL), SNT_OK);
  int64_t p = oh * ow;
  for (int64_t n = 0; n < c->batch; n++)
    for (int64_t ch = 0; ch < c->ch; ch++) {
      int64_t q = n * c->ch + ch;
      snt_k_conv_dw_fast_plane(&g.w, x + q * c->h * c->w, w + ch * c->k * c->k, res + q * p, want + q * p, b[ch], &c->act);
    }
  CHECK(ts, memcmp(y, want, sizeof(float) * (size_t)ny) == 0);
  snt_k_ctx_destroy(ctx);
  free(x), free(w), free(b), free(res), free(y), free(want);
}

int main(void) {
  test_state ts = {0};
  if (snt_k_isa_detect() != SNT_K_ISA_AVX512) {
    fprintf(stderr, "test_dw_lanes: no AVX-512 here (the path is AVX-512 only)\n");
    return test_report("test_dw_lanes", &ts);
  }
  const snt_k_act relu6 = {SNT_K_ACT_CLIP, 0, 0, 6, 0}, silu = {SNT_K_ACT_SILU, 0, 0, 0, 0};
  const dw_case cases[] = {{960, 1, 7, 7, 3, 1, 1, 1, relu6},  {384, 2, 14, 14, 3, 1, 1, 1, relu6},
                           {40, 2, 14, 14, 3, 2, 1, 1, silu},  {33, 1, 13, 11, 5, 2, 2, 1, silu},
                           {17, 2, 9, 12, 7, 1, 3, 3, relu6},  {20, 1, 7, 7, 5, 1, 2, 2, relu6}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check(&ts, &cases[i]);
  return test_report("test_dw_lanes", &ts);
}
