/* Convolution on sinter's own GEMM: per image and group, y[mg][P] = W_g[mg][cg*k] x B, where B
 * is the image's im2col, never built whole: conv_pack.c packs its strips straight from the
 * image as the GEMM asks for them, and bias, residual and activation happen in the GEMM's
 * store. 1x1 stride-1 unpadded convs hand the image itself to the GEMM as B. Depthwise convs
 * (one input channel per group) run direct loops (conv_depthwise.c), convs with few taps or
 * stride 1 the direct AVX-512 loops of conv_small.c, small maps on AVX-512 the transposed
 * product of conv_t.c (pixels of the whole batch as rows), and 3x3 stride-1 convs of 16 and
 * more channels on AVX-512 Winograd's F(4x4, 3x3) (conv_winograd.c). */
#include <math.h>
#include <string.h>

#include "act_pass.h"
#include "conv_impl.h"
#include "gemm_bf16.h"

snt_status snt_k_conv3_init(const snt_k_conv_desc *d, snt_k_conv3 *g) {
  if (d->spatial < 1 || d->spatial > SNT_K_MAX_SPATIAL) return SNT_ERR_INPUT;
  if (d->batch < 0 || d->in_channels < 1 || d->out_channels < 1 || d->groups < 1 ||
      d->in_channels % d->groups || d->out_channels % d->groups)
    return SNT_ERR_INPUT;
  memset(g, 0, sizeof *g);
  g->batch = d->batch;
  g->cin = d->in_channels;
  g->cout = d->out_channels;
  g->groups = d->groups;
  g->cg = d->in_channels / d->groups;
  g->mg = d->out_channels / d->groups;
  return snt_k_win3_init(d->spatial, d->in, d->out, d->kernel, d->stride, d->dilation, d->pad_begin, d->pad_end,
                         &g->w);
}

snt_status snt_k_win3_init(int spatial, const int64_t *in, const int64_t *out, const int64_t *kernel,
                           const int64_t *stride, const int64_t *dilation, const int64_t *pad_begin,
                           const int64_t *pad_end, snt_k_win3 *g) {
  if (spatial < 1 || spatial > SNT_K_MAX_SPATIAL) return SNT_ERR_INPUT;
  memset(g, 0, sizeof *g);
  /* Real axes go last so that the innermost loops always run along the real last axis. */
  int off = 3 - spatial;
  for (int i = 0; i < 3; i++) g->in[i] = g->out[i] = g->k[i] = g->s[i] = g->dl[i] = 1;
  for (int i = 0; i < spatial; i++) {
    if (in[i] < 0 || out[i] < 0 || kernel[i] < 1 || stride[i] < 1 || dilation[i] < 1 || pad_begin[i] < 0 ||
        pad_end[i] < 0)
      return SNT_ERR_INPUT;
    g->in[off + i] = in[i];
    g->out[off + i] = out[i];
    g->k[off + i] = kernel[i];
    g->s[off + i] = stride[i];
    g->dl[off + i] = dilation[i];
    g->pb[off + i] = pad_begin[i];
    g->pe[off + i] = pad_end[i];
  }
  g->in_size = snt_k_prod(g->in, 3);
  g->out_size = snt_k_prod(g->out, 3);
  g->k_size = snt_k_prod(g->k, 3);
  return SNT_OK;
}

/* One row of the epilogue; relu, leaky relu and clip are written so that NaN passes through,
 * as numpy's, the others are act_pass.h's. */
void snt_k_conv_epilogue_row(snt_k_isa isa, float *restrict y, const float *restrict r, float b, int64_t n,
                             const snt_k_act *act) {
  if (r) {
    for (int64_t i = 0; i < n; i++) y[i] += r[i] + b;
  } else if (b != 0.0f) {
    for (int64_t i = 0; i < n; i++) y[i] += b;
  }
  switch (act->kind) {
    case SNT_K_ACT_NONE: break;
    case SNT_K_ACT_RELU:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] < 0.0f ? 0.0f : y[i];
      break;
    case SNT_K_ACT_LEAKY_RELU: {
      float a = act->alpha;
      for (int64_t i = 0; i < n; i++) y[i] = y[i] < 0.0f ? a * y[i] : y[i];
      break;
    }
    case SNT_K_ACT_CLIP: {
      float lo = act->clip_min, hi = act->clip_max;
      for (int64_t i = 0; i < n; i++) y[i] = y[i] < lo ? lo : (y[i] > hi ? hi : y[i]);
      break;
    }
    default: snt_k_act_pass(isa, act, y, y, n); break;
  }
}

void snt_k_epilogue(snt_k_isa isa, int64_t batch, int64_t channels, int64_t inner, const float *bias,
                    const float *residual, const snt_k_act *act, float *y) {
  for (int64_t n = 0; n < batch; n++) {
    for (int64_t c = 0; c < channels; c++) {
      int64_t off = (n * channels + c) * inner;
      snt_k_conv_epilogue_row(isa, y + off, residual ? residual + off : NULL, bias ? bias[c] : 0.0f, inner, act);
    }
  }
}

static int is_pointwise(const snt_k_conv3 *g) {
  for (int i = 0; i < 3; i++) {
    if (g->w.k[i] != 1 || g->w.s[i] != 1 || g->w.pb[i] || g->w.pe[i] || g->w.out[i] != g->w.in[i]) return 0;
  }
  return 1;
}

enum { BAND_MIN_BYTES = 1 << 20 }; /* see maxpool_in_bands */

typedef enum conv_path { PATH_IMPLICIT, PATH_1X1, PATH_DEPTHWISE, PATH_DIRECT, PATH_T, PATH_WINO } conv_path;

/* Whether a BF16 context runs this layer's GEMM in BF16. Not where the GEMM waits on memory
 * rather than on its products: a windowed conv with fewer than 256 products per output (K); a
 * 1x1 conv with K or the output channels under 128, since the BF16 GEMM packs and rounds the
 * image per call (each value serving M outputs) where the FP32 one reads it in place. Measured
 * on ResNet50V2 at batch 32, BF16 against FP32 per layer: 1x1 with K >= 128 and M >= 128 on
 * 7x7-28x28 maps 1.05-1.8x faster; K = 64 or M = 64 on 28x28 and 56x56 maps 0.75-1.1x. Such a
 * layer takes the FP32 paths, weights packed at load. SINTER_BF16_WINOGRAD=0 (tests) keeps
 * every layer in BF16. */
static int layer_bf16(snt_k_ctx *ctx, const snt_k_conv3 *g) {
  if (!snt_k_ctx_bf16(ctx)) return 0;
  if (g->x_bf16) return 1; /* its image is bfloat16 already (a BF16 tap): nothing left to round per call */
  if (!snt_k_ctx_bf16_fp32_paths(ctx)) return 1;
  if (g->w.k_size > 1) return g->cg * g->w.k_size >= 256;
  return g->cg >= 128 && g->mg >= 128;
}

/* Depthwise (one input channel per group) runs direct loops: as a GEMM it would have K = k.
 * 3x3 stride-1 convs go to Winograd first where it wins (FP32 even in a BF16 context up to
 * 128 channels, see snt_k_conv_winograd_applies), except in training; small maps on AVX-512 take the transposed
 * product (conv_t.c); a BF16 layer (layer_bf16) keeps the GEMM, which rounds the weights itself. */
static conv_path choose(snt_k_ctx *ctx, const snt_k_conv3 *g, snt_k_isa isa) {
  if (g->x_bf16) return PATH_1X1; /* snt_k_conv_bf16_in checked the shape */
  int bf16 = layer_bf16(ctx, g);
  if (isa == SNT_K_ISA_AVX512 && ctx && !snt_k_ctx_training(ctx) && (!bf16 || snt_k_ctx_bf16_fp32_paths(ctx)) &&
      snt_k_conv_winograd_applies(g, bf16))
    return PATH_WINO;
  if (isa == SNT_K_ISA_AVX512 && snt_k_conv_small_applies(g, bf16, snt_k_ctx_training(ctx))) return PATH_DIRECT;
  if (g->cg == 1 && g->groups > 1) return PATH_DEPTHWISE;
  /* a 1x1 conv of a few 1x1 maps (squeeze-excite) is a GEMV per image (conv_gemm) */
  int few_vectors = is_pointwise(g) && g->w.out_size == 1 && g->batch <= 4;
  if (isa == SNT_K_ISA_AVX512 && ctx && snt_k_conv_t_applies(g) && !bf16 && !few_vectors) return PATH_T;
  return is_pointwise(g) ? PATH_1X1 : PATH_IMPLICIT;
}

/* The path's name; pool: snt_k_conv_pool2's ("+maxpool": pooled in the store on the direct
 * path, "+maxpool-pass" after the conv on the others). */
static const char *kernel_name(snt_k_ctx *ctx, const snt_k_conv_desc *d, int pool) {
  /* One word each (the profile table splits on blanks), "conv-" first like the other layers'. */
#define SNT_NAMES(s) {s, s "+maxpool-pass"}
  static const char *const names[6][3][2] = {
      {SNT_NAMES("conv-gemm-c-implicit"), SNT_NAMES("conv-gemm-avx2-implicit"), SNT_NAMES("conv-gemm-avx512-implicit")},
      {SNT_NAMES("conv-gemm-c-1x1"), SNT_NAMES("conv-gemm-avx2-1x1"), SNT_NAMES("conv-gemm-avx512-1x1")},
      {SNT_NAMES("conv-depthwise-c"), SNT_NAMES("conv-depthwise-avx2"), SNT_NAMES("conv-depthwise-avx512")},
      {{"conv-direct-avx512", "conv-direct-avx512+maxpool"}, {"conv-direct-avx512", "conv-direct-avx512+maxpool"},
       {"conv-direct-avx512", "conv-direct-avx512+maxpool"}},
      {SNT_NAMES("conv-gemmt-avx512"), SNT_NAMES("conv-gemmt-avx512"), SNT_NAMES("conv-gemmt-avx512")},
      {SNT_NAMES("conv-winograd-avx512"), SNT_NAMES("conv-winograd-avx512"), SNT_NAMES("conv-winograd-avx512")},
  };
#undef SNT_NAMES
  snt_k_conv3 g;
  if (snt_k_conv3_init(d, &g) != SNT_OK) return "conv-invalid";
  /* Without a context (EXE summary) a default one answers: the small-map path needs one. */
  snt_k_ctx *tmp = ctx ? NULL : snt_k_ctx_create(1);
  snt_k_isa isa = snt_k_ctx_isa(ctx ? ctx : tmp);
  conv_path path = choose(ctx ? ctx : tmp, &g, isa);
  const char *name = names[path][isa][pool != 0];
  if (path == PATH_DEPTHWISE && isa == SNT_K_ISA_AVX512 && snt_k_conv_dw_lanes_applies(&g))
    name = pool ? "conv-depthwise-lanes-avx512+maxpool-pass" : "conv-depthwise-lanes-avx512";
  /* A BF16 layer's GEMM says so (its other paths are FP32 even in a BF16 context). */
  if ((path == PATH_1X1 || path == PATH_IMPLICIT) && layer_bf16(ctx ? ctx : tmp, &g))
    name = path == PATH_1X1 ? (pool ? "conv-gemm-bf16-1x1+maxpool-pass" : "conv-gemm-bf16-1x1")
                            : (pool ? "conv-gemm-bf16-implicit+maxpool-pass" : "conv-gemm-bf16-implicit");
  snt_k_ctx_destroy(tmp);
  return name;
}

const char *snt_k_conv_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d) { return kernel_name(ctx, d, 0); }

const char *snt_k_conv_pool2_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d) { return kernel_name(ctx, d, 1); }

/* Every path takes its working memory from ctx (the GEMM's packing buffers) or needs none. */
size_t snt_k_conv_scratch_bytes(const snt_k_conv_desc *d) {
  (void)d;
  return 0;
}

/* Weights packed for the GEMM once per call (else every image's GEMM, and within it every
 * thread and every column block, packs them again: 45% of ResNet50's time at batch 1): one
 * region per group in ctx's scratch slot 1, the k-blocks dealt to ctx's threads. NULL (each
 * GEMM packs for itself) without ctx or when the buffer cannot be had. */
enum { PACKED_W_SLOT = 1 };

typedef struct pack_job {
  snt_k_isa isa;
  const snt_k_conv3 *g;
  const float *w;
  float *dst;
  size_t group_floats;
  int64_t kc, blocks; /* k-block depth, k-blocks per group */
} pack_job;

/* A k-block of the packed matrix is the whole packing of that block's columns (gemm_core.h). */
static void pack_part(void *arg, int t, int threads) {
  const pack_job *j = arg;
  int64_t kdim = j->g->cg * j->g->w.k_size, mp = (int64_t)j->group_floats / kdim, total = j->g->groups * j->blocks;
  for (int64_t b = total * t / threads; b < total * (t + 1) / threads; b++) {
    int64_t grp = b / j->blocks, k0 = b % j->blocks * j->kc, kcb = kdim - k0 < j->kc ? kdim - k0 : j->kc;
    snt_k_gemm_pack_a(j->isa, j->w + grp * j->g->mg * kdim + k0, kdim, 0, j->g->mg, kcb,
                      j->dst + (size_t)grp * j->group_floats + (size_t)(k0 * mp));
  }
}

/* Packs every group's weights into dst (group g at g * group_floats), k-blocks on ctx's threads. */
static void pack_weights_into(snt_k_ctx *ctx, snt_k_isa isa, const snt_k_conv3 *g, const float *w, float *dst) {
  int64_t kdim = g->cg * g->w.k_size;
  pack_job j = {isa, g, w, dst, snt_k_gemm_packed_a_bytes(isa, g->mg, kdim) / sizeof(float),
                snt_k_gemm_kc(isa, kdim), 0};
  j.blocks = (kdim + j.kc - 1) / j.kc;
  snt_k_ctx_parallel(ctx, pack_part, &j);
}

static const float *pack_weights(snt_k_ctx *ctx, snt_k_isa isa, const snt_k_conv3 *g, const float *w) {
  size_t total;
  if (!ctx || __builtin_mul_overflow(snt_k_gemm_packed_a_bytes(isa, g->mg, g->cg * g->w.k_size), (size_t)g->groups,
                                     &total))
    return NULL;
  float *dst = snt_k_ctx_scratch(ctx, PACKED_W_SLOT, 0, total);
  if (dst) pack_weights_into(ctx, isa, g, w, dst);
  return dst;
}

/* Room for `planes` zero-padded planes side by side (floats, or bf16 channel pairs: 4 bytes a
 * position either way), for the packers, in ctx's scratch slot 2, the slack the packers read
 * past them zeroed (pad_planes writes the planes): with every tap inside, packing is plain
 * copies. NULL (the packers check bounds instead) without ctx or the memory. */
enum { PADDED_SLOT = 2 };

static void *padded_slot(snt_k_ctx *ctx, const snt_k_conv3 *g, int64_t planes, snt_k_win3 *wp) {
  snt_k_conv_padded_geometry(&g->w, wp);
  if (!ctx || planes < 0) return NULL;
  size_t words = snt_k_conv_padded_floats(wp, planes);
  if (words > SIZE_MAX / sizeof(float)) return NULL;
  float *xp = snt_k_ctx_scratch(ctx, PADDED_SLOT, 0, words * sizeof(float));
  size_t used = (size_t)planes * (size_t)wp->in_size;
  if (xp) memset(xp + used, 0, (words - used) * sizeof(float));
  return xp;
}

static float *padded_buffer(snt_k_ctx *ctx, const snt_k_conv3 *g, int64_t images, snt_k_win3 *wp) {
  int64_t planes;
  return __builtin_mul_overflow(images, g->cin, &planes) ? NULL : padded_slot(ctx, g, planes, wp);
}

typedef struct pad_job {
  const snt_k_win3 *w, *wp;
  int64_t channels, planes; /* channels an image (pairs only) */
  const float *x;
  void *dst;
  int pairs; /* snt_k_conv_pad_pairs, else snt_k_conv_pad_image */
} pad_job;

static void pad_part(void *arg, int t, int threads) {
  const pad_job *j = arg;
  int64_t p0 = j->planes * t / threads, p1 = j->planes * (t + 1) / threads;
  if (j->pairs) snt_k_conv_pad_pairs(j->w, j->wp, j->channels, p0, p1, j->x, j->dst);
  else snt_k_conv_pad_image(j->w, j->wp, p1 - p0, j->x + p0 * j->w->in_size, (float *)j->dst + p0 * j->wp->in_size);
}

/* `planes` padded planes of x (whole images) written into dst on ctx's threads: a batch's copy
 * on one thread cost as much as a 7x7 layer's products. */
static void pad_planes(snt_k_ctx *ctx, const snt_k_conv3 *g, const snt_k_win3 *wp, int64_t planes, const float *x,
                       void *dst, int pairs) {
  pad_job j = {&g->w, wp, g->cin, planes, x, dst, pairs};
  snt_k_ctx_parallel(ctx, pad_part, &j);
}

/* A BF16 windowed conv's B from `images` images of x rounded once into padded planes of channel
 * pairs (snt_k_conv_pad_pairs), which the packer copies as pair rows: the fp32 copy re-rounded
 * each value once per tap, in a pass of its own. Sets src (over wp, the pair planes' geometry)
 * and c's k, pair fields and packer; 0 (c untouched) without the memory or for grouped convs. */
static int pair_source(snt_k_ctx *ctx, snt_k_isa isa, const snt_k_conv3 *g, const float *x, int64_t images,
                       snt_k_win3 *wp, snt_k_conv_src *src, snt_k_gemm_call *c) {
  int64_t pairs = (g->cin + 1) / 2, planes;
  if (g->groups != 1 || __builtin_mul_overflow(images, pairs, &planes)) return 0;
  uint32_t *xq = padded_slot(ctx, g, planes, wp);
  if (!xq) return 0;
  pad_planes(ctx, g, wp, planes, x, xq, 1);
  *src = (snt_k_conv_src){wp, (const float *)xq, 1, pairs * wp->in_size};
  c->k = 2 * pairs * g->w.k_size;
  c->pair_taps = g->w.k_size;
  c->pair_channels = g->cin;
  c->pack_b = snt_k_conv_pack_b_for(isa);
  c->pack_b_src = src;
  return 1;
}

/* The conv's epilogue for the GEMM over output channels [ch0, ...) at output offset yoff
 * (rows p floats apart). */
static snt_k_epilogue_desc conv_epilogue(const snt_k_conv_epi *e, int64_t ch0, int64_t yoff, int64_t p, int stream) {
  return (snt_k_epilogue_desc){
      .alpha = 1.0f, .row_bias = e->bias ? e->bias + ch0 : NULL, .residual = e->residual ? e->residual + yoff : NULL,
      .ldr = p, .act = e->act, .tap = e->tap && !e->tap->bf16 ? e->tap->out + yoff : NULL, .ldt = p,
      .tap16 = e->tap && e->tap->bf16 ? (uint16_t *)e->tap->out + yoff : NULL,
      .tap_scale = e->tap ? e->tap->scale + ch0 : NULL, .tap_shift = e->tap ? e->tap->shift + ch0 : NULL,
      .tap_relu = e->tap && e->tap->relu, .stream = stream};
}

/* A BF16 layer on a small map takes the whole batch as one product, images side by side as
 * column blocks, when one image's P columns would leave more than a tenth of its strips of the
 * GEMM's 48 columns empty (7x7: 49 of 96 computed columns are real; 14x14: 196 of 240). Measured
 * per layer on ResNet50V2 at batch 32 (EXE bench --profile, alternated): stage 4's 1x1 layers
 * 6.0 -> 5.3 ms (1024 -> 256) and 8.9 -> 8.1 ms (256 -> 1024, with residual and tap) as one
 * product; 28x28 maps (784 of 816) the same either way, and stay per image. */
static int batch_columns(const snt_k_conv3 *g) {
  int64_t p = g->w.out_size, computed = (p + 47) / 48 * 48;
  return g->groups == 1 && g->batch > 1 && p >= 16 && 10 * computed > 11 * p;
}

static snt_status conv_gemm_batch(snt_k_ctx *ctx, snt_k_isa isa, const snt_k_conv3 *g, const float *x,
                                  const float *w, const snt_k_conv_epi *e, int stream, float *y) {
  int64_t p = g->w.out_size, n;
  if (__builtin_mul_overflow(g->batch, p, &n)) return SNT_ERR_INPUT;
  snt_k_conv_src src = {&g->w, x, 0, g->cin * g->w.in_size};
  snt_k_win3 wp;
  snt_k_gemm_call c = {
      .m = g->cout, .n = n, .k = g->cin * g->w.k_size, .a = w, .lda = g->cin * g->w.k_size,
      .c = y, .ldc = p, .col_block = p, .col_stride = g->cout * p, .b_stride = g->cin * g->w.in_size,
      .epi = conv_epilogue(e, 0, 0, p, stream), .a_constant = 1};
  if (is_pointwise(g)) {
    if (g->x_bf16) c.b16 = (const uint16_t *)x;
    else c.b = x;
    c.ldb = p;
  } else if (!pair_source(ctx, isa, g, x, g->batch, &wp, &src, &c)) {
    float *xpad = padded_buffer(ctx, g, g->batch, &wp);
    if (xpad) pad_planes(ctx, g, &wp, g->batch * g->cin, x, xpad, 0); /* plain copies for the packer */
    if (xpad) src = (snt_k_conv_src){&wp, xpad, 1, g->cin * wp.in_size};
    c.pack_b = snt_k_conv_pack_b_for(isa);
    c.pack_b_src = &src;
  }
  return snt_k_gemm_run(ctx, &c);
}

/* Per image and group, one GEMM on ctx's threads, which splits it along N = P (or M when P is
 * short), so one image uses every core and results do not depend on the thread count. Images
 * are not dealt to threads: the GEMM runs on ctx's team and cannot run inside a job of it. */
static snt_status conv_gemm(snt_k_ctx *ctx, snt_k_isa isa, const snt_k_conv3 *g, const float *x, const float *w,
                            const float *packed, const snt_k_conv_epi *e, float *y) {
  int64_t kdim = g->cg * g->w.k_size, p = g->w.out_size;
  int pointwise = is_pointwise(g);
  size_t group_floats = snt_k_gemm_packed_a_bytes(isa, g->mg, kdim) / sizeof(float);
  /* Outputs past the context's stream size (a batch's maps, not one image's) go out with
   * streaming stores: the next layers find them in DRAM either way, and the stores then skip
   * C's read. Not while training: its backward reads them soon after (unmeasured). */
  double out_bytes = (double)g->batch * (double)g->cout * (double)p * sizeof(float);
  int stream = ctx && out_bytes >= snt_k_ctx_stream_bytes(ctx) && !snt_k_ctx_training(ctx);
  int bf16 = layer_bf16(ctx, g);
  if (bf16 && batch_columns(g)) return conv_gemm_batch(ctx, isa, g, x, w, e, stream, y);
  /* A BF16 layer's GEMM rounds and caches the weights itself, once for the model's life; an
   * FP32 one's (packed weights) never goes to BF16. */
  /* A 1x1 conv on a 1x1 map (a squeeze-excite block's) is a matrix-vector product: the GEMV
   * path on the row-major weights beats a 14 x 32 tile with one live column. */
  int gemv = pointwise && p == 1;
  if (bf16 || gemv) packed = NULL;
  else if (!packed) packed = pack_weights(ctx, isa, g, w);
  snt_k_win3 wp;
  int pairs = bf16 && !pointwise && g->groups == 1; /* pair_source per image */
  float *xpad = pointwise || pairs ? NULL : padded_buffer(ctx, g, 1, &wp);
  for (int64_t n = 0; n < g->batch; n++) {
    if (xpad) pad_planes(ctx, g, &wp, g->cin, x + n * g->cin * g->w.in_size, xpad, 0);
    for (int64_t grp = 0; grp < g->groups; grp++) {
      int64_t xoff = (n * g->cin + grp * g->cg) * g->w.in_size;
      const float *xg = g->x_bf16 ? NULL : x + xoff;
      int64_t yoff = (n * g->cout + grp * g->mg) * p;
      snt_k_conv_src src = {&g->w, xg, 0, 0};
      if (xpad) src = (snt_k_conv_src){&wp, xpad + grp * g->cg * wp.in_size, 1, 0};
      snt_k_gemm_call c = {
          .m = g->mg, .n = p, .k = kdim, .a = w + grp * g->mg * kdim, .lda = kdim,
          .packed_a = packed ? packed + (size_t)grp * group_floats : NULL,
          .c = y + yoff, .ldc = p, .epi = conv_epilogue(e, grp * g->mg, yoff, p, stream), .a_constant = 1};
      if (pointwise) {
        if (g->x_bf16) c.b16 = (const uint16_t *)x + xoff;
        else c.b = xg;
        c.ldb = p;
      } else if (!(pairs && pair_source(ctx, isa, g, xg, 1, &wp, &src, &c))) {
        c.pack_b = snt_k_conv_pack_b_for(isa);
        c.pack_b_src = &src;
      }
      snt_status st = snt_k_gemm_run(ctx, &c);
      if (st != SNT_OK) return st;
    }
  }
  return SNT_OK;
}

void snt_k_conv_tap_pass(const snt_k_conv_tap *tap, int64_t batch, int64_t channels, int64_t plane, const float *y) {
  for (int64_t n = 0; n < batch; n++) {
    for (int64_t c = 0; c < channels; c++) {
      int64_t off = (n * channels + c) * plane;
      if (tap->bf16) snt_k_tap_run16(y + off, (uint16_t *)tap->out + off, plane, tap->scale[c], tap->shift[c], tap->relu);
      else snt_k_tap_run(y + off, tap->out + off, plane, tap->scale[c], tap->shift[c], tap->relu);
    }
  }
}

/* A BF16 tap only where the context runs BF16: its readers are BF16 layers. */
static int tap_ok(snt_k_ctx *ctx, const snt_k_conv_tap *tap) {
  return !tap || (tap->scale && tap->shift && tap->out && (!tap->bf16 || snt_k_ctx_bf16(ctx)));
}

/* The convolution, with the weights already packed for ctx's ISA (packed NULL: packed here). */
static snt_status conv_run(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w,
                           const float *packed, const float *bias, const float *residual, float *y,
                           const snt_k_conv_tap *tap, int x_bf16) {
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  if (!tap_ok(ctx, tap)) return SNT_ERR_INPUT;
  if (x_bf16 && (!is_pointwise(&g) || g.groups != 1 || !snt_k_ctx_bf16(ctx))) return SNT_ERR_INPUT;
  g.x_bf16 = x_bf16;
  if (g.batch == 0 || g.w.out_size == 0) return SNT_OK;
  snt_k_conv_epi e = {.bias = bias, .residual = residual, .act = d->act};
  snt_k_isa isa = snt_k_ctx_isa(ctx);
  switch (choose(ctx, &g, isa)) {
    case PATH_WINO: st = snt_k_conv_winograd(ctx, &g, x, w, packed, &e, y); break;
    case PATH_T: /* conv_t writes a float tap in its store; a BF16 one goes as a pass */
      if (!tap || !tap->bf16) e.tap = tap;
      st = snt_k_conv_t(ctx, &g, x, w, packed, &e, y);
      if (st != SNT_OK || e.tap) return st;
      break;
    case PATH_DIRECT: st = snt_k_conv_small(ctx, &g, x, w, packed, &e, y); break;
    case PATH_DEPTHWISE: snt_k_conv_depthwise(ctx, isa, &g, x, w, &e, y); break;
    case PATH_1X1:
    case PATH_IMPLICIT: e.tap = tap; return conv_gemm(ctx, isa, &g, x, w, packed, &e, y);
  }
  if (st == SNT_OK && tap) snt_k_conv_tap_pass(tap, g.batch, g.cout, g.w.out_size, y);
  return st;
}

snt_status snt_k_conv(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w, const float *bias,
                      const float *residual, float *y, void *scratch) {
  (void)scratch;
  return conv_run(ctx, d, x, w, NULL, bias, residual, y, NULL, 0);
}

snt_status snt_k_conv_tapped(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w,
                             const float *packed_w, const float *bias, const float *residual, float *y,
                             const snt_k_conv_tap *tap, void *scratch) {
  (void)scratch;
  return conv_run(ctx, d, x, w, packed_w, bias, residual, y, tap, 0);
}

snt_status snt_k_conv_bf16_in(snt_k_ctx *ctx, const snt_k_conv_desc *d, const uint16_t *x, const float *w,
                              const float *bias, const float *residual, float *y, const snt_k_conv_tap *tap,
                              void *scratch) {
  (void)scratch;
  return conv_run(ctx, d, (const float *)x, w, NULL, bias, residual, y, tap, 1);
}

/* Depthwise convs never use the GEMM; every other shape may (the direct path is AVX-512 only). */
size_t snt_k_conv_packed_weights_bytes(const snt_k_conv_desc *d) {
  snt_k_conv3 g;
  if (snt_k_conv3_init(d, &g) != SNT_OK || (g.cg == 1 && g.groups > 1)) return 0;
  size_t most = 0, total;
  for (snt_k_isa isa = SNT_K_ISA_C; isa <= SNT_K_ISA_AVX512; isa++) {
    int64_t mr = snt_k_gemm_shape_of(isa).mr, rows, floats;
    if (__builtin_add_overflow(g.mg, mr - 1, &rows) || __builtin_mul_overflow(rows / mr * mr, g.cg, &floats) ||
        __builtin_mul_overflow(floats, g.w.k_size, &floats) || __builtin_mul_overflow(floats, g.groups, &floats) ||
        __builtin_mul_overflow((size_t)floats, sizeof(float), &total))
      return SIZE_MAX;
    if (total > most) most = total;
  }
  /* the direct path's, in a training context too (it takes more there) */
  total = snt_k_conv_small_applies(&g, 0, 1) ? snt_k_conv_small_weights_bytes(&g) : 0;
  if (total > most) most = total;
  if (snt_k_conv_t_applies(&g) && snt_k_conv_t_packed_bytes(&g) > most) most = snt_k_conv_t_packed_bytes(&g);
  if (snt_k_conv_winograd_applies(&g, 0) && snt_k_conv_winograd_weights_bytes(&g) > most)
    most = snt_k_conv_winograd_weights_bytes(&g);
  return most;
}

snt_status snt_k_conv_pack_weights(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *w, float *packed) {
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  if (choose(ctx, &g, snt_k_ctx_isa(ctx)) == PATH_WINO) {
    snt_k_conv_winograd_pack(ctx, &g, w, packed);
    return SNT_OK;
  }
  /* whatever the precision */
  if (snt_k_ctx_isa(ctx) == SNT_K_ISA_AVX512 && snt_k_conv_small_applies(&g, 0, snt_k_ctx_training(ctx))) {
    snt_k_conv_small_pack(&g, w, packed);
    return SNT_OK;
  }
  if (snt_k_conv_packed_weights_bytes(d) == 0 || layer_bf16(ctx, &g)) return SNT_OK; /* BF16: see conv_gemm */
  if (choose(ctx, &g, snt_k_ctx_isa(ctx)) == PATH_T) { /* the layout its path reads */
    snt_k_conv_t_pack_weights(&g, w, packed);
    return SNT_OK;
  }
  pack_weights_into(ctx, snt_k_ctx_isa(ctx), &g, w, packed);
  return SNT_OK;
}

snt_status snt_k_conv_packed(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w,
                             const float *packed_w, const float *bias, const float *residual, float *y, void *scratch) {
  (void)scratch;
  return conv_run(ctx, d, x, w, packed_w, bias, residual, y, NULL, 0);
}

/* Whether p can pool the output of d as snt_k_conv_maxpool does: a 2-D max pool over d's output
 * map and channels whose every window starts inside it or in its leading padding (a window past
 * the end would read no output row: refused, as the compiler never fuses one). */
static int maxpool_fits(const snt_k_conv_desc *d, const snt_k_pool_desc *p) {
  snt_k_win3 w;
  if (p->spatial != 2 || p->kind != SNT_K_POOL_MAX || p->batch != d->batch || p->channels != d->out_channels)
    return 0;
  if (snt_k_win3_init(2, p->in, p->out, p->kernel, p->stride, p->dilation, p->pad_begin, p->pad_end, &w) != SNT_OK)
    return 0;
  for (int i = 0; i < 2; i++) {
    int64_t last, ext, padded;
    if (p->in[i] != d->out[i] || p->out[i] < 1 || __builtin_mul_overflow(p->out[i] - 1, p->stride[i], &last) ||
        last - p->pad_begin[i] >= p->in[i])
      return 0;
    /* every window fits the padded map (as out >= 1 implies): a band never holds more rows than the map */
    if (__builtin_mul_overflow(p->kernel[i] - 1, p->dilation[i], &ext) ||
        __builtin_add_overflow(p->in[i], p->pad_begin[i], &padded) ||
        __builtin_add_overflow(padded, p->pad_end[i], &padded) || ext >= padded)
      return 0;
  }
  return 1;
}

/* Whether the direct path pools this conv's output in bands: when the output would not stay in
 * the cores' L2 between the conv and the pool (ResNet's stem at batch 1, 3.2 MB: conv + pool 0.85
 * -> 0.76 ms; AlexNet's at batch 1, 0.77 MB: 0.53 -> 0.55 ms, the threads' bands overlapping). */
static int maxpool_in_bands(const snt_k_conv_desc *d) {
  double bytes = 4.0 * (double)d->batch * (double)d->out_channels * (double)d->out[0] * (double)d->out[1];
  return bytes >= BAND_MIN_BYTES;
}

snt_status snt_k_conv_maxpool(snt_k_ctx *ctx, const snt_k_conv_desc *d, const snt_k_pool_desc *p, const float *fill,
                              const float *x, const float *w, const float *packed_w, const float *bias, float *y,
                              float *pooled) {
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  if (d->spatial != 2 || !maxpool_fits(d, p)) return SNT_ERR_INPUT;
  if (g.batch == 0) return SNT_OK;
  if (choose(ctx, &g, snt_k_ctx_isa(ctx)) == PATH_DIRECT && maxpool_in_bands(d)) {
    snt_k_conv_epi e = {.bias = bias, .act = d->act, .pool = p, .pool_fill = fill, .pooled = pooled};
    return snt_k_conv_small(ctx, &g, x, w, packed_w, &e, y);
  }
  if ((st = conv_run(ctx, d, x, w, packed_w, bias, NULL, y, NULL, 0)) != SNT_OK) return st;
  return fill ? snt_k_maxpool_filled(ctx, p, *fill, y, pooled) : snt_k_pool_ctx(ctx, p, y, pooled, NULL);
}

const char *snt_k_conv_maxpool_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d) {
  const char *name = kernel_name(ctx, d, 1);
  return strcmp(name, "conv-direct-avx512+maxpool") == 0 && !maxpool_in_bands(d) ? "conv-direct-avx512+maxpool-pass"
                                                                                 : name;
}

snt_status snt_k_conv_pool2(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w,
                            const float *packed_w, const float *bias, float *y, float *pooled) {
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  if (d->spatial != 2 || d->out[0] < 2 || d->out[1] < 2) return SNT_ERR_INPUT;
  if (g.batch == 0) return SNT_OK;
  if (choose(ctx, &g, snt_k_ctx_isa(ctx)) == PATH_DIRECT) {
    snt_k_conv_epi e = {.bias = bias, .act = d->act, .pool2 = pooled};
    return snt_k_conv_small(ctx, &g, x, w, packed_w, &e, y);
  }
  if ((st = conv_run(ctx, d, x, w, packed_w, bias, NULL, y, NULL, 0)) != SNT_OK) return st;
  snt_k_pool_desc p = {.spatial = 2, .kind = SNT_K_POOL_MAX, .batch = d->batch, .channels = d->out_channels,
                       .in = {d->out[0], d->out[1]}, .out = {d->out[0] / 2, d->out[1] / 2}, .kernel = {2, 2},
                       .stride = {2, 2}, .dilation = {1, 1}};
  return snt_k_pool_ctx(ctx, &p, y, pooled, NULL);
}
