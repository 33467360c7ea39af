/* Pooling backward over the windows the forward uses (snt_k_axis_window, kernels_util.h): max
 * pooling routes each gradient to the element snt_k_pool picks (snt_k_window_max: the first
 * maximum in row-major window order), average pooling spreads it as the forward divides. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "gemm_core.h"
#include "kernels_util.h"
#include "sinter/kernels_train.h"

typedef snt_k_window window;

/* Adds v to every real element of the window. */
static void window_spread(const snt_k_win3 *g, float *dxp, const window w[3], float v) {
  for (int64_t t0 = w[0].lo; t0 < w[0].hi; t0++) {
    int64_t i0 = w[0].start + t0 * g->dl[0];
    for (int64_t t1 = w[1].lo; t1 < w[1].hi; t1++) {
      float *row = dxp + (i0 * g->in[1] + w[1].start + t1 * g->dl[1]) * g->in[2] + w[2].start;
      for (int64_t t2 = w[2].lo; t2 < w[2].hi; t2++) row[t2 * g->dl[2]] += v;
    }
  }
}

static void plane_backward(const snt_k_pool_desc *d, const snt_k_win3 *g, const float *xp, const float *dyp,
                           float *dxp) {
  window w[3];
  memset(dxp, 0, (size_t)g->in_size * sizeof(float));
  for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
    w[0] = snt_k_axis_window(g, 0, o0);
    for (int64_t o1 = 0; o1 < g->out[1]; o1++) {
      w[1] = snt_k_axis_window(g, 1, o1);
      for (int64_t o2 = 0; o2 < g->out[2]; o2++) {
        w[2] = snt_k_axis_window(g, 2, o2);
        float v = dyp[(o0 * g->out[1] + o1) * g->out[2] + o2];
        if (d->kind == SNT_K_POOL_MAX) {
          int64_t at;
          snt_k_window_max(g, xp, w, &at);
          if (at >= 0) dxp[at] += v;
          continue;
        }
        int64_t count = snt_k_window_count(w, d->count_include_pad);
        if (count > 0) window_spread(g, dxp, w, v / (float)count);
      }
    }
  }
}

/* Max pooling whose windows tile the plane (kernel == stride, no padding or dilation), the
 * common 2x2/2 case: one pass, no window clipping. Same first-maximum rule. */
static int is_tiling_max(const snt_k_pool_desc *d, const snt_k_win3 *g) {
  if (d->kind != SNT_K_POOL_MAX || g->k[0] != 1 || g->s[0] != 1) return 0;
  for (int a = 1; a < 3; a++) {
    if (g->k[a] != g->s[a] || g->dl[a] != 1 || g->pb[a] || g->pe[a] || g->out[a] * g->s[a] > g->in[a]) return 0;
  }
  return 1;
}

/* dx of one 2x2 window row pair: the gradient to the first maximum (a, b, c, d in row-major
 * order, ties to the earlier), zero to the other three. Branch-free, so it vectorises. */
static inline __attribute__((always_inline)) void rows_2x2(const float *restrict x0, const float *restrict x1,
                                                           const float *restrict dy, int64_t n, float *restrict d0,
                                                           float *restrict d1) {
  for (int64_t o = 0; o < n; o++) {
    float a = x0[2 * o], b = x0[2 * o + 1], c = x1[2 * o], d = x1[2 * o + 1], v = dy[o];
    float m1 = b > a ? b : a, m2 = c > m1 ? c : m1; /* the running maxima, as the forward keeps them */
    float vd = d > m2 ? v : 0.0f, r = d > m2 ? 0.0f : v; /* r: what is left for a, b, c */
    float vc = c > m1 ? r : 0.0f, r2 = c > m1 ? 0.0f : r;
    d0[2 * o] = b > a ? 0.0f : r2;
    d0[2 * o + 1] = b > a ? r2 : 0.0f;
    d1[2 * o] = vc;
    d1[2 * o + 1] = vd;
  }
}

/* Any kh x kw tiling: each window's first maximum gets the gradient, every other element 0;
 * rows and columns past the last window are zeroed. dx is written once, never cleared first. */
static inline __attribute__((always_inline)) void plane_tiling_max(const snt_k_win3 *g, const float *xp,
                                                                   const float *dyp, float *dxp) {
  int64_t kh = g->k[1], kw = g->k[2], h = g->in[1], w = g->in[2], oh_n = g->out[1], ow_n = g->out[2];
  for (int64_t d0 = 0; d0 < g->in[0]; d0++) {
    const float *xs = xp + d0 * h * w, *dys = dyp + d0 * oh_n * ow_n;
    float *dxs = dxp + d0 * h * w;
    for (int64_t oh = 0; oh < oh_n; oh++) {
      const float *dyr = dys + oh * ow_n;
      float *dxr = dxs + oh * kh * w;
      if (kh == 2 && kw == 2) {
        rows_2x2(xs + oh * 2 * w, xs + oh * 2 * w + w, dyr, ow_n, dxr, dxr + w);
      } else {
        for (int64_t ow = 0; ow < ow_n; ow++) {
          int64_t base = oh * kh * w + ow * kw, best_at = base;
          float best = xs[base];
          for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++) {
              int64_t at = base + i * w + j;
              if (xs[at] > best) best = xs[at], best_at = at;
            }
          for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++) dxs[base + i * w + j] = base + i * w + j == best_at ? dyr[ow] : 0.0f;
        }
      }
      for (int64_t i = 0; i < kh && ow_n * kw < w; i++)
        memset(dxr + i * w + ow_n * kw, 0, (size_t)(w - ow_n * kw) * sizeof(float));
    }
    if (oh_n * kh < h) memset(dxs + oh_n * kh * w, 0, (size_t)((h - oh_n * kh) * w) * sizeof(float));
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void tiling_avx512(const snt_k_win3 *g, const float *x,
                                                                            const float *dy, float *dx, int64_t p0,
                                                                            int64_t p1) {
  for (int64_t p = p0; p < p1; p++) plane_tiling_max(g, x + p * g->in_size, dy + p * g->out_size, dx + p * g->in_size);
}

__attribute__((target("avx2,fma"))) static void tiling_avx2(const snt_k_win3 *g, const float *x, const float *dy,
                                                            float *dx, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; p++) plane_tiling_max(g, x + p * g->in_size, dy + p * g->out_size, dx + p * g->in_size);
}

static void tiling_c(const snt_k_win3 *g, const float *x, const float *dy, float *dx, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; p++) plane_tiling_max(g, x + p * g->in_size, dy + p * g->out_size, dx + p * g->in_size);
}

/* Max pooling whose windows all lie inside the plane (no padding, dilation 1, 2-D) but may
 * overlap (ResNet's 3x3/2 stem pool): each window's first maximum found by a plain scan, without
 * the generic path's per-window clipping (ResNet50V2's stem pool backward at batch 32: 172 -> 30
 * ms of CPU time with the AVX-512 stride-2 rows, 157 ms with the portable scan). */
static int is_inside_max(const snt_k_pool_desc *d, const snt_k_win3 *g) {
  if (d->kind != SNT_K_POOL_MAX || g->in[0] != 1 || g->k[0] != 1) return 0;
  for (int a = 1; a < 3; a++) {
    if (g->dl[a] != 1 || g->pb[a] || g->pe[a] || (g->out[a] - 1) * g->s[a] + g->k[a] > g->in[a]) return 0;
  }
  return 1;
}

enum { INSIDE_ROW = 256 }; /* windows of a row scanned before their gradients are added */

/* Rows of windows in two passes: the first maximum's offset of up to INSIDE_ROW windows with
 * selects (vectorisable, no mispredicted branch per element), then the adds, which stay scalar
 * as overlapping windows can pick the same element. */
static inline __attribute__((always_inline)) void plane_inside_max(const snt_k_win3 *g, const float *restrict xp,
                                                                   const float *restrict dyp, float *restrict dxp) {
  int64_t kh = g->k[1], kw = g->k[2], sh = g->s[1], sw = g->s[2], w = g->in[2];
  int32_t at[INSIDE_ROW];
  float best[INSIDE_ROW];
  memset(dxp, 0, (size_t)g->in_size * sizeof(float));
  for (int64_t oh = 0; oh < g->out[1]; oh++)
    for (int64_t o0 = 0; o0 < g->out[2]; o0 += INSIDE_ROW) {
      int64_t cnt = g->out[2] - o0 < INSIDE_ROW ? g->out[2] - o0 : INSIDE_ROW;
      const float *row = xp + oh * sh * w + o0 * sw;
      for (int64_t o = 0; o < cnt; o++) best[o] = row[o * sw], at[o] = 0;
      for (int64_t i = 0; i < kh; i++)
        for (int64_t j = i ? 0 : 1; j < kw; j++) {
          const float *r = row + i * w + j;
          int32_t off = (int32_t)(i * w + j);
          for (int64_t o = 0; o < cnt; o++) {
            float v = r[o * sw];
            int gt = v > best[o];
            best[o] = gt ? v : best[o];
            at[o] = gt ? off : at[o];
          }
        }
      float *d = dxp + oh * sh * w + o0 * sw;
      const float *dyr = dyp + oh * g->out[2] + o0;
      for (int64_t o = 0; o < cnt; o++) d[o * sw + at[o]] += dyr[o];
    }
}

/* Stride 2 along the row on AVX-512: 16 windows at a time, their taps the even lanes of two
 * masked loads (never past the last element a window reads). */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void row_s2_avx512(const float *row, int64_t w,
                                                                            int64_t kh, int64_t kw, int64_t cnt,
                                                                            int32_t *at) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t o = 0; o < cnt; o += 16) {
    int64_t need = 2 * (cnt - o < 16 ? cnt - o : 16) - 1; /* elements from a tap's first one */
    __mmask16 ma = (__mmask16)((1u << (need < 16 ? need : 16)) - 1);
    __mmask16 mb = (__mmask16)(need > 16 ? (1u << (need - 16)) - 1 : 0);
    __m512 best = _mm512_setzero_ps();
    __m512i bat = _mm512_setzero_si512();
    for (int64_t i = 0; i < kh; i++)
      for (int64_t j = 0; j < kw; j++) {
        const float *r = row + i * w + j + 2 * o;
        __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(ma, r), even, _mm512_maskz_loadu_ps(mb, r + 16));
        if (i == 0 && j == 0) {
          best = v;
          continue;
        }
        __mmask16 gt = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
        best = _mm512_mask_mov_ps(best, gt, v);
        bat = _mm512_mask_mov_epi32(bat, gt, _mm512_set1_epi32((int32_t)(i * w + j)));
      }
    _mm512_storeu_si512(at + o, bat);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void inside_avx512(const snt_k_win3 *g, const float *x,
                                                                            const float *dy, float *dx, int64_t p0,
                                                                            int64_t p1) {
  if (g->s[2] != 2) {
    for (int64_t p = p0; p < p1; p++) plane_inside_max(g, x + p * g->in_size, dy + p * g->out_size, dx + p * g->in_size);
    return;
  }
  int64_t w = g->in[2], ow = g->out[2];
  int32_t at[INSIDE_ROW + 16];
  for (int64_t p = p0; p < p1; p++) {
    const float *xp = x + p * g->in_size, *dyp = dy + p * g->out_size;
    float *dxp = dx + p * g->in_size;
    memset(dxp, 0, (size_t)g->in_size * sizeof(float));
    for (int64_t oh = 0; oh < g->out[1]; oh++)
      for (int64_t o0 = 0; o0 < ow; o0 += INSIDE_ROW) {
        int64_t cnt = ow - o0 < INSIDE_ROW ? ow - o0 : INSIDE_ROW;
        row_s2_avx512(xp + oh * g->s[1] * w + o0 * 2, w, g->k[1], g->k[2], cnt, at);
        float *d = dxp + oh * g->s[1] * w + o0 * 2;
        const float *dyr = dyp + oh * ow + o0;
        for (int64_t o = 0; o < cnt; o++) d[o * 2 + at[o]] += dyr[o];
      }
  }
}

static void inside_c(const snt_k_win3 *g, const float *x, const float *dy, float *dx, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; p++) plane_inside_max(g, x + p * g->in_size, dy + p * g->out_size, dx + p * g->in_size);
}

/* Max pooling with 1x1 windows (ResNet50V2's strided shortcut, MaxPool(1, 2)): a window's one
 * element is its maximum, so dx is dy spread over the strided grid and zero elsewhere; x is never
 * read and dx is written once, in order (batch 32, 256 channels at 56x56: 40 ms with the scan of
 * the windows and a cleared dx). */
static int is_point_max(const snt_k_pool_desc *d, const snt_k_win3 *g) {
  if (d->kind != SNT_K_POOL_MAX) return 0;
  for (int a = 0; a < 3; a++)
    if (g->k[a] != 1 || g->pb[a] || g->pe[a] || (g->out[a] > 0 && (g->out[a] - 1) * g->s[a] >= g->in[a])) return 0;
  return 1;
}

/* One input row that the windows hit: dy's row at every s-th column, zeros between and after. */
static inline __attribute__((always_inline)) void point_row(const float *restrict dyr, int64_t ow, int64_t s,
                                                            int64_t w, float *restrict d) {
  for (int64_t c = 0; c < w; c++) d[c] = c % s == 0 && c / s < ow ? dyr[c / s] : 0.0f;
}

/* Stride 2 on AVX-512: 8 gradients to the even lanes of 16 columns per store. */
__attribute__((target("avx512f"))) static void point_row_s2_avx512(const float *dyr, int64_t ow, int64_t w, float *d) {
  int64_t o = 0;
  for (; o + 8 <= ow && 2 * o + 16 <= w; o += 8)
    _mm512_storeu_ps(d + 2 * o, _mm512_maskz_expand_ps(0x5555, _mm512_castps256_ps512(_mm256_loadu_ps(dyr + o))));
  point_row(dyr + o, ow - o, 2, w - 2 * o, d + 2 * o);
}

static void point_planes(const snt_k_win3 *g, const float *dy, float *dx, int64_t p0, int64_t p1, int avx512) {
  int64_t w = g->in[2], ow = g->out[2];
  for (int64_t p = p0; p < p1; p++)
    for (int64_t id = 0; id < g->in[0]; id++)
      for (int64_t ih = 0; ih < g->in[1]; ih++) {
        float *d = dx + ((p * g->in[0] + id) * g->in[1] + ih) * w;
        int64_t od = id / g->s[0], oh = ih / g->s[1];
        if (id % g->s[0] || od >= g->out[0] || ih % g->s[1] || oh >= g->out[1]) {
          memset(d, 0, (size_t)w * sizeof(float));
          continue;
        }
        const float *dyr = dy + ((p * g->out[0] + od) * g->out[1] + oh) * ow;
        if (avx512 && g->s[2] == 2) point_row_s2_avx512(dyr, ow, w, d);
        else point_row(dyr, ow, g->s[2], w, d);
      }
}

typedef struct pool_args {
  const snt_k_pool_desc *d;
  const snt_k_win3 *g;
  const float *x, *dy;
  float *dx;
  int tiling, inside, point;
  snt_k_isa isa;
} pool_args;

/* Planes (sample, channel) are independent: they split over threads. */
static void backward_planes(void *ctx, int64_t p0, int64_t p1) {
  const pool_args *a = ctx;
  const snt_k_win3 *g = a->g;
  if (a->point) {
    point_planes(g, a->dy, a->dx, p0, p1, a->isa == SNT_K_ISA_AVX512);
    return;
  }
  if (a->tiling) {
    switch (a->isa) {
      case SNT_K_ISA_AVX512: tiling_avx512(g, a->x, a->dy, a->dx, p0, p1); return;
      case SNT_K_ISA_AVX2: tiling_avx2(g, a->x, a->dy, a->dx, p0, p1); return;
      case SNT_K_ISA_C: tiling_c(g, a->x, a->dy, a->dx, p0, p1); return;
    }
  }
  if (a->inside) {
    if (a->isa == SNT_K_ISA_AVX512) inside_avx512(g, a->x, a->dy, a->dx, p0, p1);
    else inside_c(g, a->x, a->dy, a->dx, p0, p1);
    return;
  }
  for (int64_t p = p0; p < p1; p++)
    plane_backward(a->d, g, a->x + p * g->in_size, a->dy + p * g->out_size, a->dx + p * g->in_size);
}

snt_status snt_k_pool_backward(const snt_k_pool_desc *d, const float *x, const float *dy, float *dx) {
  snt_k_win3 g;
  if (d->batch < 0 || d->channels < 0) return SNT_ERR_INPUT;
  if (d->kind != SNT_K_POOL_MAX && d->kind != SNT_K_POOL_AVG) return SNT_ERR_INPUT;
  snt_status st = snt_k_win3_init(d->spatial, d->in, d->out, d->kernel, d->stride, d->dilation, d->pad_begin,
                                  d->pad_end, &g);
  if (st != SNT_OK) return st;
  int point = is_point_max(d, &g), tiling = !point && is_tiling_max(d, &g) && g.out_size > 0;
  pool_args a = {d, &g, x, dy, dx, tiling, !point && !tiling && g.out_size > 0 && is_inside_max(d, &g), point,
                 snt_k_isa_detect()};
  int64_t planes = d->batch * d->channels;
  snt_k_parallel_for(planes, g.in_size >= 4096 ? 1 : planes, backward_planes, &a);
  return SNT_OK;
}

void snt_k_global_avg_pool_backward(int64_t outer, int64_t inner, const float *dy, float *dx) {
  for (int64_t i = 0; i < outer; i++) {
    float v = dy[i] / (float)inner;
    float *restrict d = dx + i * inner;
    for (int64_t j = 0; j < inner; j++) d[j] = v;
  }
}

/* GlobalMaxPool backward: each plane's gradient goes to its first maximum (the element a
 * row-major scan keeps), zero elsewhere. */
void snt_k_global_max_pool_backward(int64_t outer, int64_t inner, const float *x, const float *dy, float *dx) {
  for (int64_t i = 0; i < outer; i++) {
    const float *p = x + i * inner;
    int64_t best = 0;
    for (int64_t j = 1; j < inner; j++)
      if (p[j] > p[best]) best = j;
    float *d = dx + i * inner;
    for (int64_t j = 0; j < inner; j++) d[j] = 0.0f;
    if (inner > 0) d[best] = dy[i];
  }
}
