/* Depthwise convolution (one input channel per group): a GEMM would degenerate to K = k_size,
 * so each output row is built directly, tap by tap, while it sits in L1; the row loops are
 * compiled three times (AVX-512, AVX2+FMA, portable C) and the context's ISA picks one. Whole
 * planes go to threads, so every output is computed the same way whatever the thread count. */
#include "conv_impl.h"

typedef struct dw_job {
  const snt_k_conv3 *g;
  const float *x, *w;
  const snt_k_conv_epi *e;
  float *y;
  snt_k_isa isa;
} dw_job;

static inline __attribute__((always_inline)) void axpy(float *restrict y, const float *restrict x, float a,
                                                       int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static inline __attribute__((always_inline)) void axpy_strided(float *restrict y, const float *restrict x, float a,
                                                               int64_t step, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i * step];
}

/* Adds the taps (kd, kh, *) of input row xr to output row yr. */
static inline __attribute__((always_inline)) void row_taps(const snt_k_win3 *w, const float *xr, const float *wk,
                                                           float *yr) {
  for (int64_t kw = 0; kw < w->k[2]; kw++) {
    int64_t start = kw * w->dl[2] - w->pb[2], lo, hi;
    snt_k_valid_range(start, w->s[2], w->out[2], w->in[2], &lo, &hi);
    if (w->s[2] == 1) axpy(yr + lo, xr + lo + start, wk[kw], hi - lo);
    else if (hi > lo) axpy_strided(yr + lo, xr + lo * w->s[2] + start, wk[kw], w->s[2], hi - lo);
  }
}

/* Output plane p = (image, output channel) of the job. */
static inline __attribute__((always_inline)) void plane(const dw_job *j, int64_t p) {
  const snt_k_conv3 *g = j->g;
  const snt_k_win3 *w = &g->w;
  int64_t n = p / g->cout, oc = p % g->cout;
  const float *xp = j->x + (n * g->cin + oc / g->mg) * w->in_size, *wp = j->w + oc * w->k_size;
  const float *rp = j->e->residual ? j->e->residual + p * w->out_size : NULL;
  float b = j->e->bias ? j->e->bias[oc] : 0.0f, *yp = j->y + p * w->out_size;
  for (int64_t od = 0; od < w->out[0]; od++)
    for (int64_t oh = 0; oh < w->out[1]; oh++) {
      int64_t at = (od * w->out[1] + oh) * w->out[2];
      float *yr = yp + at;
      for (int64_t ow = 0; ow < w->out[2]; ow++) yr[ow] = 0.0f;
      for (int64_t kd = 0; kd < w->k[0]; kd++) {
        int64_t id = od * w->s[0] - w->pb[0] + kd * w->dl[0];
        if (id < 0 || id >= w->in[0]) continue;
        for (int64_t kh = 0; kh < w->k[1]; kh++) {
          int64_t ih = oh * w->s[1] - w->pb[1] + kh * w->dl[1];
          if (ih < 0 || ih >= w->in[1]) continue;
          row_taps(w, xp + (id * w->in[1] + ih) * w->in[2], wp + (kd * w->k[1] + kh) * w->k[2], yr);
        }
      }
      snt_k_conv_epilogue_row(j->isa, yr, rp ? rp + at : NULL, b, w->out[2], &j->e->act);
    }
}

__attribute__((target("avx512f"))) static void planes_avx512(const dw_job *j, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; p++) plane(j, p);
}

__attribute__((target("avx2,fma"))) static void planes_avx2(const dw_job *j, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; p++) plane(j, p);
}

static void planes_c(const dw_job *j, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; p++) plane(j, p);
}

static void dw_part(void *arg, int t, int threads) {
  const dw_job *j = arg;
  int64_t total = j->g->batch * j->g->cout;
  int64_t p0 = total * t / threads, p1 = total * (t + 1) / threads;
  switch (j->isa) {
    case SNT_K_ISA_AVX512: planes_avx512(j, p0, p1); break;
    case SNT_K_ISA_AVX2: planes_avx2(j, p0, p1); break;
    case SNT_K_ISA_C: planes_c(j, p0, p1); break;
  }
}

void snt_k_conv_depthwise(snt_k_ctx *ctx, snt_k_isa isa, const snt_k_conv3 *g, const float *x, const float *w,
                          const snt_k_conv_epi *e, float *y) {
  if (isa == SNT_K_ISA_AVX512 && snt_k_conv_dw_lanes_applies(g)) {
    snt_k_conv_dw_lanes(ctx, g, x, w, e, y);
    return;
  }
  if (isa == SNT_K_ISA_AVX512 && snt_k_conv_dw_fast_applies(g) && snt_k_conv_dw_fast(ctx, g, x, w, e, y)) return;
  dw_job j = {g, x, w, e, y, isa};
  snt_k_ctx_parallel(ctx, dw_part, &j);
}

/* The window of output rows [oh0, oh1) over input rows [ih0, ih0 + rows) held apart: its first
 * output row reads band row oh0 * s - pb - ih0, and rows past the band are padding (the band
 * holds every real row those outputs read). */
static void band_window(const snt_k_win3 *w, int64_t ih0, int64_t rows, int64_t oh0, int64_t oh1, snt_k_win3 *wb) {
  *wb = *w;
  wb->in[1] = rows;
  wb->out[1] = oh1 - oh0;
  wb->pb[1] = w->pb[1] + ih0 - oh0 * w->s[1];
  wb->in_size = snt_k_prod(wb->in, 3);
  wb->out_size = snt_k_prod(wb->out, 3);
}

void snt_k_conv_dw_rows(snt_k_isa isa, const snt_k_conv3 *g, int64_t oc, const float *xb, int64_t ih0, int64_t rows,
                        const float *w, const float *bias, const float *r, float *y, int64_t oh0, int64_t oh1,
                        const snt_k_act *act) {
  snt_k_conv3 gb = *g;
  band_window(&g->w, ih0, rows, oh0, oh1, &gb.w);
  int64_t at = oh0 * g->w.out[2];
  const float *wk = w + oc * g->w.k_size, *rb = r ? r + at : NULL;
  float b = bias ? bias[oc] : 0.0f, *yb = y + at;
  if (isa == SNT_K_ISA_AVX512 && snt_k_conv_dw_fast_applies(g)) {
    snt_k_conv_dw_fast_plane(&gb.w, xb, wk, rb, yb, b, act);
    return;
  }
  /* one plane of one channel: the generic loops with this channel's operands at index 0 */
  gb.batch = gb.cin = gb.cout = gb.groups = gb.cg = gb.mg = 1;
  snt_k_conv_epi e = {.bias = bias ? bias + oc : NULL, .residual = rb, .act = *act};
  dw_job j = {&gb, xb, wk, &e, yb, isa};
  dw_part(&j, 0, 1);
}
