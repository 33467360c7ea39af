/* MaxPool, AveragePool and their global forms. Window bounds are computed once per output
 * position so that the tap loops carry no padding checks. */
#include <math.h>
#include <string.h>

#include "kernels_util.h"

/* Pool geometry with 3 spatial axes; unused leading axes have size 1. */
typedef snt_k_win3 pool3;

typedef snt_k_window window;

static snt_status pool3_init(const snt_k_pool_desc *d, pool3 *g) {
  if (d->batch < 0 || d->channels < 0) return SNT_ERR_INPUT;
  return snt_k_win3_init(d->spatial, d->in, d->out, d->kernel, d->stride, d->dilation, d->pad_begin, d->pad_end, g);
}

static float window_avg(const pool3 *g, const float *xp, const window w[3], int include_pad) {
  double sum = 0.0; /* windows are short; double keeps the mean exact to float precision */
  for (int64_t t0 = w[0].lo; t0 < w[0].hi; t0++) {
    int64_t i0 = w[0].start + t0 * g->dl[0];
    for (int64_t t1 = w[1].lo; t1 < w[1].hi; t1++) {
      const float *row = xp + (i0 * g->in[1] + w[1].start + t1 * g->dl[1]) * g->in[2];
      for (int64_t t2 = w[2].lo; t2 < w[2].hi; t2++) sum += row[w[2].start + t2 * g->dl[2]];
    }
  }
  int64_t count = snt_k_window_count(w, include_pad);
  return count > 0 ? (float)(sum / (double)count) : 0.0f;
}

/* ONNX's index for storage_order 1: column-major over the spatial axes of the plane. */
static int64_t column_major(const pool3 *g, int64_t at, int spatial) {
  int64_t i2 = at % g->in[2], i1 = at / g->in[2] % g->in[1], i0 = at / g->in[2] / g->in[1];
  int64_t idx[3] = {i0, i1, i2}, r = 0;
  for (int a = 2; a >= 3 - spatial; a--) r = r * g->in[a] + idx[a];
  return r;
}

static void pool_plane(const snt_k_pool_desc *d, const pool3 *g, const float *xp, float *yp,
                       int64_t *ip, int64_t plane_base) {
  window w[3];
  for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
    w[0] = snt_k_axis_window(g, 0, o0);
    for (int64_t o1 = 0; o1 < g->out[1]; o1++) {
      w[1] = snt_k_axis_window(g, 1, o1);
      for (int64_t o2 = 0; o2 < g->out[2]; o2++) {
        w[2] = snt_k_axis_window(g, 2, o2);
        int64_t o = (o0 * g->out[1] + o1) * g->out[2] + o2, at;
        if (d->kind == SNT_K_POOL_AVG) {
          yp[o] = window_avg(g, xp, w, d->count_include_pad);
          continue;
        }
        yp[o] = snt_k_window_max(g, xp, w, &at);
        if (ip) {
          if (at >= 0 && d->storage_order) at = column_major(g, at, d->spatial);
          ip[o] = at < 0 ? -1 : plane_base + at;
        }
      }
    }
  }
}

snt_status snt_k_pool(const snt_k_pool_desc *d, const float *x, float *y, int64_t *indices) {
  pool3 g;
  snt_status st = pool3_init(d, &g);
  if (st != SNT_OK) return st;
  if (d->kind != SNT_K_POOL_MAX && d->kind != SNT_K_POOL_AVG) return SNT_ERR_INPUT;
  int64_t planes = d->batch * d->channels;
  for (int64_t p = 0; p < planes; p++) {
    pool_plane(d, &g, x + p * g.in_size, y + p * g.out_size,
               indices && d->kind == SNT_K_POOL_MAX ? indices + p * g.out_size : NULL,
               p * g.in_size);
  }
  return SNT_OK;
}

/* Sixteen partial sums: vectorisable without -ffast-math, and more accurate than one. */
static float sum_f32(const float *restrict x, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) acc[j] += x[i + j];
  float s = 0.0f;
  for (; i < n; i++) s += x[i];
  for (int j = 0; j < 16; j++) s += acc[j];
  return s;
}

static float max_f32(const float *restrict x, int64_t n) {
  float acc[16];
  for (int j = 0; j < 16; j++) acc[j] = -INFINITY;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
  float m = -INFINITY;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  for (int j = 0; j < 16; j++) m = acc[j] > m ? acc[j] : m;
  return m;
}

void snt_k_global_pool(snt_k_pool_kind kind, int64_t outer, int64_t inner, const float *x, float *y) {
  for (int64_t i = 0; i < outer; i++) {
    const float *p = x + i * inner;
    y[i] = kind == SNT_K_POOL_MAX ? max_f32(p, inner) : sum_f32(p, inner) / (float)inner;
  }
}
