/* Convolution: im2col + sgemm, a direct sgemm for 1x1 stride-1 unpadded kernels, and direct
 * loops for depthwise kernels (where a GEMM would degenerate to a matrix-vector product). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kernels_util.h"

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

static void add_bias_residual(float *restrict y, const float *restrict r, float b, int64_t n) {
  if (r) {
    for (int64_t i = 0; i < n; i++) y[i] += r[i] + b;
  } else if (b != 0.0f) {
    for (int64_t i = 0; i < n; i++) y[i] += b;
  }
}

static void apply_act(float *restrict y, int64_t n, const snt_k_act *act) {
  switch (act->kind) {
    case SNT_K_ACT_NONE: break;
    case SNT_K_ACT_RELU: /* written so that NaN passes through, as numpy's max(x, 0) */
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
      add_bias_residual(y + off, residual ? residual + off : NULL, bias ? bias[c] : 0.0f, inner);
      apply_act(y + off, inner, act);
    }
  }
}

static int is_pointwise(const snt_k_conv3 *g) {
  for (int i = 0; i < 3; i++) {
    if (g->w.k[i] != 1 || g->w.s[i] != 1 || g->w.pb[i] || g->w.pe[i] || g->w.out[i] != g->w.in[i]) return 0;
  }
  return 1;
}

/* Depthwise (one input channel per group) runs direct loops and needs no scratch. */
static int is_depthwise(const snt_k_conv3 *g) { return g->cg == 1 && !is_pointwise(g); }

size_t snt_k_conv_scratch_bytes(const snt_k_conv_desc *d) {
  snt_k_conv3 g;
  if (snt_k_conv3_init(d, &g) != SNT_OK || is_pointwise(&g) || is_depthwise(&g)) return 0;
  /* Checked: SIZE_MAX (refused by the compiler's memory cap) instead of a wrapped size. */
  int64_t n;
  size_t bytes;
  if (__builtin_mul_overflow(g.cg, g.w.k_size, &n) || __builtin_mul_overflow(n, g.w.out_size, &n) ||
      __builtin_mul_overflow((size_t)n, sizeof(float), &bytes))
    return SIZE_MAX;
  return bytes;
}

/* One row of im2col: dst[o] = src[o * step + start], zero where that falls outside [0, n_in). */
static void gather_row(float *restrict dst, const float *restrict src, int64_t start, int64_t step,
                       int64_t n_out, int64_t n_in) {
  int64_t lo, hi;
  snt_k_valid_range(start, step, n_out, n_in, &lo, &hi);
  for (int64_t o = 0; o < lo; o++) dst[o] = 0.0f;
  if (step == 1) {
    memcpy(dst + lo, src + lo + start, (size_t)(hi - lo) * sizeof(float));
  } else {
    for (int64_t o = lo; o < hi; o++) dst[o] = src[o * step + start];
  }
  for (int64_t o = hi; o < n_out; o++) dst[o] = 0.0f;
}

/* col[(c, kd, kh, kw), (od, oh, ow)] for the cg channels of one group of one image. */
static void im2col(const snt_k_conv3 *g, const float *x, float *col) {
  const int64_t *k = g->w.k, *o = g->w.out, *in = g->w.in;
  for (int64_t c = 0; c < g->cg; c++) {
    const float *xc = x + c * g->w.in_size;
    for (int64_t kd = 0; kd < k[0]; kd++)
      for (int64_t kh = 0; kh < k[1]; kh++)
        for (int64_t kw = 0; kw < k[2]; kw++) {
          float *row = col + (((c * k[0] + kd) * k[1] + kh) * k[2] + kw) * g->w.out_size;
          for (int64_t od = 0; od < o[0]; od++) {
            int64_t id = od * g->w.s[0] - g->w.pb[0] + kd * g->w.dl[0];
            for (int64_t oh = 0; oh < o[1]; oh++) {
              int64_t ih = oh * g->w.s[1] - g->w.pb[1] + kh * g->w.dl[1];
              float *dst = row + (od * o[1] + oh) * o[2];
              if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1]) {
                memset(dst, 0, (size_t)o[2] * sizeof(float));
                continue;
              }
              gather_row(dst, xc + (id * in[1] + ih) * in[2], kw * g->w.dl[2] - g->w.pb[2], g->w.s[2],
                         o[2], in[2]);
            }
          }
        }
  }
}

/* Accumulates one kernel tap of a depthwise conv into the output plane yp. */
static void depthwise_tap(const snt_k_conv3 *g, const float *xp, float wv, int64_t kd,
                          int64_t kh, int64_t kw, float *yp) {
  const int64_t *o = g->w.out, *in = g->w.in;
  int64_t start = kw * g->w.dl[2] - g->w.pb[2], step = g->w.s[2], lo, hi;
  snt_k_valid_range(start, step, o[2], in[2], &lo, &hi);
  for (int64_t od = 0; od < o[0]; od++) {
    int64_t id = od * g->w.s[0] - g->w.pb[0] + kd * g->w.dl[0];
    if (id < 0 || id >= in[0]) continue;
    for (int64_t oh = 0; oh < o[1]; oh++) {
      int64_t ih = oh * g->w.s[1] - g->w.pb[1] + kh * g->w.dl[1];
      if (ih < 0 || ih >= in[1]) continue;
      float *restrict yr = yp + (od * o[1] + oh) * o[2];
      const float *restrict xr = xp + (id * in[1] + ih) * in[2];
      if (step == 1) {
        for (int64_t ow = lo; ow < hi; ow++) yr[ow] += wv * xr[ow + start];
      } else {
        for (int64_t ow = lo; ow < hi; ow++) yr[ow] += wv * xr[ow * step + start];
      }
    }
  }
}

static void conv_depthwise(const snt_k_conv3 *g, const float *x, const float *w, float *y) {
  for (int64_t n = 0; n < g->batch; n++) {
    for (int64_t oc = 0; oc < g->cout; oc++) {
      const float *xp = x + (n * g->cin + oc / g->mg) * g->w.in_size;
      const float *wp = w + oc * g->w.k_size;
      float *yp = y + (n * g->cout + oc) * g->w.out_size;
      memset(yp, 0, (size_t)g->w.out_size * sizeof(float));
      for (int64_t kd = 0; kd < g->w.k[0]; kd++)
        for (int64_t kh = 0; kh < g->w.k[1]; kh++)
          for (int64_t kw = 0; kw < g->w.k[2]; kw++)
            depthwise_tap(g, xp, wp[(kd * g->w.k[1] + kh) * g->w.k[2] + kw], kd, kh, kw, yp);
    }
  }
}

static snt_status conv_gemm(const snt_k_conv3 *g, const float *x, const float *w, float *y,
                            float *col) {
  int64_t kdim = g->cg * g->w.k_size, p = g->w.out_size;
  if (!snt_k_fits_int(kdim) || !snt_k_fits_int(p) || !snt_k_fits_int(g->mg)) return SNT_ERR_INPUT;
  int pointwise = is_pointwise(g);
  for (int64_t n = 0; n < g->batch; n++) {
    for (int64_t grp = 0; grp < g->groups; grp++) {
      const float *xg = x + (n * g->cin + grp * g->cg) * g->w.in_size;
      const float *b = xg;
      if (!pointwise) {
        im2col(g, xg, col);
        b = col;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->mg, (int)p, (int)kdim, 1.0f,
                  w + grp * g->mg * kdim, (int)kdim, b, (int)p, 0.0f,
                  y + (n * g->cout + grp * g->mg) * p, (int)p);
    }
  }
  return SNT_OK;
}

snt_status snt_k_conv(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w, const float *bias,
                      const float *residual, float *y, void *scratch) {
  (void)ctx; /* the GEMM below is still OpenBLAS's, which keeps its own threads */
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  if (g.batch == 0 || g.w.out_size == 0) return SNT_OK;
  size_t scratch_floats = snt_k_conv_scratch_bytes(d) / sizeof(float);
  if (is_depthwise(&g)) {
    conv_depthwise(&g, x, w, y);
  } else if (scratch && snt_k_conv_direct_fits(&g, scratch_floats)) {
    /* Bias and ReLU happen in registers; other epilogues run after. */
    int fused = !residual && (d->act.kind == SNT_K_ACT_NONE || d->act.kind == SNT_K_ACT_RELU);
    snt_k_conv_direct(&g, x, w, fused ? bias : NULL, fused && d->act.kind == SNT_K_ACT_RELU, y, scratch);
    if (fused) return SNT_OK;
  } else {
    st = conv_gemm(&g, x, w, y, scratch);
    if (st != SNT_OK) return st;
  }
  snt_k_epilogue(g.batch, g.cout, g.w.out_size, bias, residual, &d->act, y);
  return SNT_OK;
}
