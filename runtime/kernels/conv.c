/* Convolution on sinter's own GEMM: per image and group, y[mg][P] = W_g[mg][cg*k] x B, where B
 * is the image's im2col, never built whole: conv_pack.c packs its strips straight from the
 * image as the GEMM asks for them, and bias, residual and activation happen in the GEMM's
 * store. 1x1 stride-1 unpadded convs hand the image itself to the GEMM as B. Depthwise convs
 * (one input channel per group) run direct loops (conv_depthwise.c), few-channel 3x3 convs the
 * direct AVX-512 loops of conv_direct.c. */
#include <math.h>
#include <string.h>

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

/* One row of the epilogue; the activations are written so that NaN passes through, as numpy's. */
void snt_k_conv_epilogue_row(float *restrict y, const float *restrict r, float b, int64_t n, const snt_k_act *act) {
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
    case SNT_K_ACT_SIGMOID:
      for (int64_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-y[i]));
      break;
    case SNT_K_ACT_TANH:
      for (int64_t i = 0; i < n; i++) y[i] = tanhf(y[i]);
      break;
    case SNT_K_ACT_CLIP: {
      float lo = act->clip_min, hi = act->clip_max;
      for (int64_t i = 0; i < n; i++) y[i] = y[i] < lo ? lo : (y[i] > hi ? hi : y[i]);
      break;
    }
  }
}

void snt_k_epilogue(int64_t batch, int64_t channels, int64_t inner, const float *bias,
                    const float *residual, const snt_k_act *act, float *y) {
  for (int64_t n = 0; n < batch; n++) {
    for (int64_t c = 0; c < channels; c++) {
      int64_t off = (n * channels + c) * inner;
      snt_k_conv_epilogue_row(y + off, residual ? residual + off : NULL, bias ? bias[c] : 0.0f, inner, act);
    }
  }
}

static int is_pointwise(const snt_k_conv3 *g) {
  for (int i = 0; i < 3; i++) {
    if (g->w.k[i] != 1 || g->w.s[i] != 1 || g->w.pb[i] || g->w.pe[i] || g->w.out[i] != g->w.in[i]) return 0;
  }
  return 1;
}

typedef enum conv_path { PATH_IMPLICIT, PATH_1X1, PATH_DEPTHWISE, PATH_DIRECT3X3 } conv_path;

/* Depthwise (one input channel per group) runs direct loops: as a GEMM it would have K = k. */
static conv_path choose(const snt_k_conv3 *g, snt_k_isa isa) {
  if (isa == SNT_K_ISA_AVX512 && snt_k_conv_direct_applies(g)) return PATH_DIRECT3X3;
  if (g->cg == 1 && g->groups > 1) return PATH_DEPTHWISE;
  return is_pointwise(g) ? PATH_1X1 : PATH_IMPLICIT;
}

const char *snt_k_conv_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d) {
  static const char *const names[4][3] = {
      {"gemm-c-implicit", "gemm-avx2-implicit", "gemm-avx512-implicit"},
      {"gemm-c-1x1", "gemm-avx2-1x1", "gemm-avx512-1x1"},
      {"depthwise-c", "depthwise-avx2", "depthwise-avx512"},
      {"direct3x3-avx512", "direct3x3-avx512", "direct3x3-avx512"},
  };
  snt_k_conv3 g;
  if (snt_k_conv3_init(d, &g) != SNT_OK) return "invalid";
  snt_k_isa isa = snt_k_ctx_isa(ctx);
  return names[choose(&g, isa)][isa];
}

/* Every path takes its working memory from ctx (the GEMM's packing buffers) or needs none. */
size_t snt_k_conv_scratch_bytes(const snt_k_conv_desc *d) {
  (void)d;
  return 0;
}

/* Weights packed for the GEMM once per call when several images share them (else each image's
 * GEMM would pack them again): one region per group in ctx's scratch slot 1. NULL (each GEMM
 * packs for itself) for one image, without ctx, or when the buffer cannot be had. */
enum { PACKED_W_SLOT = 1 };

static const float *pack_weights(snt_k_ctx *ctx, snt_k_isa isa, const snt_k_conv3 *g, const float *w,
                                 size_t *group_floats) {
  int64_t kdim = g->cg * g->w.k_size;
  size_t per = snt_k_gemm_packed_a_bytes(isa, g->mg, kdim), total;
  if (g->batch < 2 || !ctx || __builtin_mul_overflow(per, (size_t)g->groups, &total)) return NULL;
  float *dst = snt_k_ctx_scratch(ctx, PACKED_W_SLOT, 0, total);
  if (!dst) return NULL;
  *group_floats = per / sizeof(float);
  for (int64_t grp = 0; grp < g->groups; grp++)
    snt_k_gemm_pack_a(isa, w + grp * g->mg * kdim, kdim, 0, g->mg, kdim, dst + (size_t)grp * *group_floats);
  return dst;
}

/* Per image and group, one GEMM on ctx's threads, which splits it along N = P (or M when P is
 * short), so one image uses every core and results do not depend on the thread count. Images
 * are not dealt to threads: the GEMM runs on ctx's team and cannot run inside a job of it. */
static snt_status conv_gemm(snt_k_ctx *ctx, snt_k_isa isa, const snt_k_conv3 *g, const float *x, const float *w,
                            const snt_k_conv_epi *e, float *y) {
  int64_t kdim = g->cg * g->w.k_size, p = g->w.out_size;
  int pointwise = is_pointwise(g);
  size_t group_floats = 0;
  /* A BF16 context rounds and caches the weights itself, once for the model's life. */
  int bf16 = snt_k_ctx_bf16(ctx) != NULL;
  const float *packed = bf16 ? NULL : pack_weights(ctx, isa, g, w, &group_floats);
  for (int64_t n = 0; n < g->batch; n++) {
    for (int64_t grp = 0; grp < g->groups; grp++) {
      const float *xg = x + (n * g->cin + grp * g->cg) * g->w.in_size;
      int64_t yoff = (n * g->cout + grp * g->mg) * p;
      snt_k_conv_src src = {&g->w, xg};
      snt_k_gemm_call c = {
          .m = g->mg, .n = p, .k = kdim, .a = w + grp * g->mg * kdim, .lda = kdim,
          .packed_a = packed ? packed + (size_t)grp * group_floats : NULL,
          .c = y + yoff, .ldc = p,
          .epi = {.alpha = 1.0f, .row_bias = e->bias ? e->bias + grp * g->mg : NULL,
                  .residual = e->residual ? e->residual + yoff : NULL, .ldr = p, .act = e->act},
          .a_constant = 1};
      if (pointwise) {
        c.b = xg;
        c.ldb = p;
      } else {
        c.pack_b = snt_k_conv_pack_b_for(isa);
        c.pack_b_src = &src;
      }
      snt_status st = snt_k_gemm_run(ctx, &c);
      if (st != SNT_OK) return st;
    }
  }
  return SNT_OK;
}

snt_status snt_k_conv(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w, const float *bias,
                      const float *residual, float *y, void *scratch) {
  (void)scratch;
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  if (g.batch == 0 || g.w.out_size == 0) return SNT_OK;
  snt_k_conv_epi e = {bias, residual, d->act};
  snt_k_isa isa = snt_k_ctx_isa(ctx);
  switch (choose(&g, isa)) {
    case PATH_DIRECT3X3: snt_k_conv_direct(ctx, &g, x, w, &e, y); return SNT_OK;
    case PATH_DEPTHWISE: snt_k_conv_depthwise(ctx, isa, &g, x, w, &e, y); return SNT_OK;
    case PATH_1X1:
    case PATH_IMPLICIT: break;
  }
  return conv_gemm(ctx, isa, &g, x, w, &e, y);
}
