/* snt_k_conv_expand_dw (a 1x1 conv and the depthwise conv that reads it, in bands of rows) on
 * the ISA path SINTER_ISA selects: bit for bit the 1x1 product on the GEMM then snt_k_conv's
 * depthwise path, on 1, 2 and 3 threads, weights packed at load and per call; and within float
 * rounding of a double-precision chain written from the definition. Shapes: several bands and
 * a band of one row, strides 1 to 3, 3x3 to 7x7, one-sided and oversized pads (bands that read
 * no input row), dilation and stride 3 (the generic depthwise loops), multiplier 2, an
 * expansion wider than the GEMM reads B in place (530 channels), a residual, every activation
 * kind on either side; bad geometry refused. */
#include "gemm_core.h"
#include "kernels_ref.h"

typedef struct ed_case {
  const char *name;
  int64_t batch, cin, mid, mult, h, w;
  int64_t k[2], s[2], dl[2], pb[2], pe[2];
  int residual;
} ed_case;

static const ed_case cases[] = {
    {"EfficientNet-like 16 -> 96, 3x3 stride 2", 1, 16, 96, 1, 37, 41, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 0},
    {"32 -> 32, 3x3 stride 1, batch 2", 2, 32, 32, 1, 30, 50, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 0},
    {"multiplier 2, 5x5", 3, 8, 6, 2, 23, 19, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, 0},
    {"7x7 stride 2, one-sided pads", 1, 5, 20, 1, 29, 33, {7, 7}, {2, 2}, {1, 1}, {3, 0}, {0, 3}, 1},
    {"dilation 2 (generic loops)", 1, 4, 12, 1, 17, 26, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}, 0},
    {"stride 3 (generic loops)", 2, 6, 10, 1, 20, 22, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
    {"pads past the kernel", 1, 3, 4, 1, 5, 6, {3, 3}, {1, 2}, {1, 1}, {3, 3}, {3, 3}, 0},
    {"one-row bands", 1, 3, 600, 1, 5, 120, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 0},
    {"530 channels (B packed)", 1, 20, 530, 1, 6, 9, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, 1},
    {"strides 1/2, 5x3", 2, 7, 24, 1, 19, 35, {5, 3}, {1, 2}, {1, 1}, {2, 1}, {2, 1}, 0},
};

static const snt_k_act acts[] = {
    {SNT_K_ACT_NONE, 0, 0, 0, 0},         {SNT_K_ACT_SILU, 0, 0, 0, 0},
    {SNT_K_ACT_CLIP, 0, 0.0f, 6.0f, 0},   {SNT_K_ACT_RELU, 0, 0, 0, 0},
    {SNT_K_ACT_HARD_SWISH, 1.0f / 6, 0, 0, 0.5f},
};
enum { N_ACTS = (int)(sizeof acts / sizeof acts[0]) };

typedef struct ed_descs {
  snt_k_conv_desc pw, dw;
} ed_descs;

static ed_descs descs_of(const ed_case *c) {
  ed_descs d = {{.spatial = 2, .batch = c->batch, .in_channels = c->cin, .out_channels = c->mid, .groups = 1},
                {.spatial = 2, .batch = c->batch, .in_channels = c->mid, .out_channels = c->mid * c->mult,
                 .groups = c->mid}};
  int64_t in[2] = {c->h, c->w};
  for (int a = 0; a < 2; a++) {
    d.pw.in[a] = d.pw.out[a] = d.dw.in[a] = in[a];
    d.pw.kernel[a] = d.pw.stride[a] = d.pw.dilation[a] = 1;
    d.dw.kernel[a] = c->k[a], d.dw.stride[a] = c->s[a], d.dw.dilation[a] = c->dl[a];
    d.dw.pad_begin[a] = c->pb[a], d.dw.pad_end[a] = c->pe[a];
    d.dw.out[a] = (in[a] + c->pb[a] + c->pe[a] - ((c->k[a] - 1) * c->dl[a] + 1)) / c->s[a] + 1;
  }
  return d;
}

typedef struct ed_bufs {
  int64_t nx, nm, ny, hw, ohw;
  float *x, *w1, *b1, *w2, *b2, *res, *mid, *want, *got, *packed;
} ed_bufs;

static ed_bufs bufs_make(rng *r, const ed_case *c, const ed_descs *d) {
  ed_bufs B = {.hw = c->h * c->w, .ohw = d->dw.out[0] * d->dw.out[1]};
  B.nx = c->batch * c->cin * B.hw;
  B.nm = c->batch * c->mid * B.hw;
  B.ny = c->batch * d->dw.out_channels * B.ohw;
  B.x = alloc_f(B.nx), B.w1 = alloc_f(c->mid * c->cin), B.b1 = alloc_f(c->mid);
  B.w2 = alloc_f(d->dw.out_channels * c->k[0] * c->k[1]), B.b2 = alloc_f(d->dw.out_channels);
  B.res = alloc_f(B.ny), B.mid = alloc_nan(B.nm), B.want = alloc_nan(B.ny), B.got = alloc_nan(B.ny);
  rng_fill(r, B.x, B.nx), rng_fill(r, B.w1, c->mid * c->cin), rng_fill(r, B.b1, c->mid);
  rng_fill(r, B.w2, d->dw.out_channels * c->k[0] * c->k[1]), rng_fill(r, B.b2, d->dw.out_channels);
  rng_fill(r, B.res, B.ny);
  B.packed = alloc_nan((int64_t)(snt_k_conv_expand_dw_packed_bytes(&d->pw) / sizeof(float)));
  return B;
}

static void bufs_free(ed_bufs *B) {
  free(B->x), free(B->w1), free(B->b1), free(B->w2), free(B->b2), free(B->res), free(B->mid), free(B->want);
  free(B->got), free(B->packed);
}

/* The two layers apart: the 1x1 product on the blocked GEMM (A packed, as conv.c's 1x1 path
 * hands it), then snt_k_conv on the depthwise layer. */
static void reference(test_state *ts, snt_k_ctx *ctx, const ed_case *c, const ed_descs *d, ed_bufs *B) {
  snt_k_isa isa = snt_k_ctx_isa(ctx);
  float *pa = alloc_f((int64_t)(snt_k_gemm_packed_a_bytes(isa, c->mid, c->cin) / sizeof(float)));
  snt_k_gemm_pack_a(isa, B->w1, c->cin, 0, c->mid, c->cin, pa);
  for (int64_t n = 0; n < c->batch; n++) {
    snt_k_gemm_call g = {.m = c->mid, .n = B->hw, .k = c->cin, .packed_a = pa, .b = B->x + n * c->cin * B->hw,
                         .ldb = B->hw, .c = B->mid + n * c->mid * B->hw, .ldc = B->hw,
                         .epi = {.alpha = 1.0f, .row_bias = B->b1, .act = d->pw.act}};
    CHECK_INT(ts, snt_k_gemm_run(ctx, &g), SNT_OK);
  }
  CHECK_INT(ts, snt_k_conv(ctx, &d->dw, B->mid, B->w2, B->b2, c->residual ? B->res : NULL, B->want, NULL), SNT_OK);
  free(pa);
}

/* The chain in double from the definition: y within float rounding of it. */
static void check_double(test_state *ts, const ed_case *c, const ed_descs *d, const ed_bufs *B, const char *what) {
  double *mid = alloc_d(B->nm), *want = alloc_d(B->ny), *scale = alloc_d(B->ny);
  for (int64_t n = 0; n < c->batch; n++)
    for (int64_t m = 0; m < c->mid; m++)
      for (int64_t p = 0; p < B->hw; p++) {
        double acc = B->b1[m];
        for (int64_t i = 0; i < c->cin; i++) acc += (double)B->w1[m * c->cin + i] * B->x[(n * c->cin + i) * B->hw + p];
        mid[(n * c->mid + m) * B->hw + p] = ref_act(&d->pw.act, acc);
      }
  int64_t oh = d->dw.out[0], ow = d->dw.out[1], cout = d->dw.out_channels;
  for (int64_t n = 0; n < c->batch; n++)
    for (int64_t oc = 0; oc < cout; oc++)
      for (int64_t y = 0; y < oh; y++)
        for (int64_t x = 0; x < ow; x++) {
          int64_t at = (n * cout + oc) * B->ohw + y * ow + x;
          double acc = B->b2[oc], sc = fabs(B->b2[oc]);
          for (int64_t i = 0; i < c->k[0]; i++)
            for (int64_t j = 0; j < c->k[1]; j++) {
              int64_t iy = y * c->s[0] - c->pb[0] + i * c->dl[0], ix = x * c->s[1] - c->pb[1] + j * c->dl[1];
              if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
              double t = mid[(n * c->mid + oc / c->mult) * B->hw + iy * c->w + ix] * B->w2[(oc * c->k[0] + i) * c->k[1] + j];
              acc += t, sc += fabs(t);
            }
          if (c->residual) acc += B->res[at], sc += fabs(B->res[at]);
          want[at] = ref_act(&d->dw.act, acc);
          scale[at] = sc + 1e-3;
        }
  check_close_arr(ts, what, B->got, want, scale, B->ny, 2e-5);
  free(mid), free(want), free(scale);
}

static void test_case(test_state *ts, snt_k_ctx *const ctxs[3], const ed_case *c, int a) {
  rng r = {0x5eed + (uint64_t)a};
  ed_descs d = descs_of(c);
  d.pw.act = acts[a];
  d.dw.act = acts[(a + 2) % N_ACTS];
  ed_bufs B = bufs_make(&r, c, &d);
  reference(ts, ctxs[0], c, &d, &B);
  CHECK_INT(ts, snt_k_conv_expand_dw_pack(ctxs[1], &d.pw, B.w1, B.packed), SNT_OK);
  for (int t = 0; t < 4; t++) {
    for (int64_t i = 0; i < B.ny; i++) B.got[i] = NAN;
    snt_k_ctx *ctx = ctxs[t < 3 ? t : 1];
    CHECK_INT(ts, snt_k_conv_expand_dw(ctx, &d.pw, &d.dw, B.x, B.w1, t == 3 ? B.packed : NULL, B.b1, B.w2, B.b2,
                                       c->residual ? B.res : NULL, B.got),
              SNT_OK);
    ts->checks++;
    if (memcmp(B.want, B.got, (size_t)B.ny * sizeof(float)) != 0) {
      ts->failures++;
      int64_t i = 0;
      while (i < B.ny && !memcmp(&B.want[i], &B.got[i], sizeof(float))) i++;
      fprintf(stderr, "%s (acts %d/%d, %s): element %lld is %.9g, the layers apart give %.9g\n", c->name, a,
              (a + 2) % N_ACTS, t == 3 ? "packed at load" : t == 0 ? "1 thread" : t == 1 ? "2 threads" : "3 threads",
              (long long)i, (double)B.got[i], (double)B.want[i]);
    }
  }
  char what[200];
  snprintf(what, sizeof what, "%s (acts %d/%d) against double", c->name, a, (a + 2) % N_ACTS);
  check_double(ts, c, &d, &B, what);
  bufs_free(&B);
}

/* Descriptors that do not chain are refused before anything is read. */
static void test_refused(test_state *ts, snt_k_ctx *ctx) {
  ed_descs d = descs_of(&cases[0]);
  float v = 0;
  ed_descs bad = d;
  bad.pw.kernel[0] = 3; /* not a 1x1 conv */
  CHECK_INT(ts, snt_k_conv_expand_dw(ctx, &bad.pw, &bad.dw, &v, &v, NULL, NULL, &v, NULL, NULL, &v), SNT_ERR_INPUT);
  bad = d;
  bad.dw.groups = 1; /* not depthwise */
  CHECK_INT(ts, snt_k_conv_expand_dw(ctx, &bad.pw, &bad.dw, &v, &v, NULL, NULL, &v, NULL, NULL, &v), SNT_ERR_INPUT);
  bad = d;
  bad.dw.in[1] += 1; /* the depthwise input is not the 1x1 output */
  CHECK_INT(ts, snt_k_conv_expand_dw(ctx, &bad.pw, &bad.dw, &v, &v, NULL, NULL, &v, NULL, NULL, &v), SNT_ERR_INPUT);
  bad = d;
  bad.dw.in_channels = bad.dw.groups = 95;
  CHECK_INT(ts, snt_k_conv_expand_dw(ctx, &bad.pw, &bad.dw, &v, &v, NULL, NULL, &v, NULL, NULL, &v), SNT_ERR_INPUT);
  CHECK_INT(ts, snt_k_conv_expand_dw(ctx, &d.pw, &d.dw, NULL, &v, NULL, NULL, &v, NULL, NULL, &v), SNT_ERR_INPUT);
}

int main(void) {
  test_state ts = {0};
  snt_k_ctx *ctxs[3] = {snt_k_ctx_create(1), snt_k_ctx_create(2), snt_k_ctx_create(3)};
  if (!ctxs[0] || !ctxs[1] || !ctxs[2]) return 2;
  printf("isa %s\n", snt_k_isa_name(snt_k_ctx_isa(ctxs[0])));
  for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++)
    for (int a = 0; a < N_ACTS; a += i == 0 ? 1 : 2) test_case(&ts, ctxs, &cases[i], a);
  test_refused(&ts, ctxs[0]);
  for (int i = 0; i < 3; i++) snt_k_ctx_destroy(ctxs[i]);
  return test_report("test_expand_dw", &ts);
}
