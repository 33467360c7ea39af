/* MaxPool, AveragePool and their global forms. Window bounds are computed once per output
 * position so that the tap loops carry no padding checks; the outputs of a row whose windows lie
 * inside the input along the last axis go to a vectorised sweep (pool_rows.c) computing the same
 * bits, and rows are split over the context's team. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "gemm_core.h"
#include "pool_impl.h"

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

/* One output's window along each axis. */
static float window_out(const snt_k_pool_desc *d, const float *fill, const pool3 *g, const float *xp, const window w[3],
                        int64_t *ip, int64_t plane_base) {
  if (d->kind == SNT_K_POOL_AVG) return window_avg(g, xp, w, d->count_include_pad);
  int64_t at;
  float m = snt_k_window_max(g, xp, w, &at);
  if (fill && snt_k_window_padded(w) && (at < 0 || m < *fill)) m = *fill; /* a NaN input stays */
  if (ip) {
    if (at >= 0 && d->storage_order) at = column_major(g, at, d->spatial);
    *ip = at < 0 ? -1 : plane_base + at;
  }
  return m;
}

typedef struct pool_job {
  const snt_k_pool_desc *d;
  const pool3 *g;
  const float *x;
  float *y;
  int64_t *ind;
  void (*interior)(const snt_k_pool_row *r); /* NULL: every output by its window */
  int64_t a, b;   /* outputs on the last axis whose windows are inside */
  int64_t a1, b1; /* the same on axis 1 */
  const float *fill; /* max: the padding's value (NULL: none, -inf) */
} pool_job;

/* snt_k_axis_window without its divisions for a window inside the input, as most are. */
static inline window axis_window(const pool3 *g, int a, int64_t o) {
  int64_t start = o * g->s[a] - g->pb[a];
  if (start >= 0 && start + (g->k[a] - 1) * g->dl[a] < g->in[a]) return (window){start, 0, g->k[a], g->k[a]};
  return snt_k_axis_window(g, a, o);
}

/* Rows q .. q + n - 1 of the flattened (plane, o0, o1): plane p, o0, o1 .. o1 + n - 1, where n is
 * 1 or the rows' windows lie inside the input along axis 1; and the same rows of the `planes` - 1
 * planes after p when out[0] is 1. The interior of the last axis goes to one sweep; the rest window
 * by window. */
static void pool_rows(const pool_job *j, int64_t p, int64_t o0, int64_t o1, int64_t n, int64_t planes) {
  const pool3 *g = j->g;
  int64_t base = p * g->out_size + (o0 * g->out[1] + o1) * g->out[2]; /* y's offset of the first row */
  window w[3] = {axis_window(g, 0, o0), axis_window(g, 1, o1)};
  int64_t a = j->a, b = j->b;
  if (!j->interior || w[0].lo == w[0].hi || w[1].lo == w[1].hi) a = b = 0;
  /* Rows reaching into a filled padding along the outer axes: the sweep takes their inputs,
   * the pad value is taken after. */
  bool filled = j->fill && (w[0].hi - w[0].lo < w[0].n_padded || w[1].hi - w[1].lo < w[1].n_padded);
  for (int64_t pl = 0; pl < planes && (a > 0 || b < g->out[2]); pl++) {
    for (int64_t i = 0; i < n; i++) {
      int64_t at = base + i * g->out[2] + pl * g->out_size;
      int64_t *ir = j->ind ? j->ind + at : NULL;
      w[1] = axis_window(g, 1, o1 + i);
      for (int64_t o2 = 0; o2 < g->out[2]; o2++) {
        if (o2 == a && a < b) o2 = b;
        if (o2 == g->out[2]) break;
        w[2] = snt_k_axis_window(g, 2, o2);
        j->y[at + o2] = window_out(j->d, j->fill, g, j->x + (p + pl) * g->in_size, w, ir ? ir + o2 : NULL, (p + pl) * g->in_size);
      }
    }
  }
  if (a == b) return;
  w[1] = axis_window(g, 1, o1);
  w[2] = (window){0, 0, g->k[2], g->k[2]}; /* an interior window's last axis */
  snt_k_pool_row r = {g, j->x + p * g->in_size, w[0], w[1], planes, n, a, b, j->d->kind == SNT_K_POOL_MAX,
                      (double)snt_k_window_count(w, j->d->count_include_pad), j->y + base};
  j->interior(&r);
  for (int64_t pl = 0; filled && pl < planes; pl++) {
    for (int64_t i = 0; i < n; i++) {
      float *y = j->y + base + i * g->out[2] + pl * g->out_size, v = *j->fill;
      for (int64_t o = a; o < b; o++) y[o] = y[o] < v ? v : y[o]; /* NaN stays */
    }
  }
}

/* Thread t's rows, walking (plane, o0, o1) by increments rather than dividing per row, and the
 * rows inside along axis 1 in runs; whole planes at once when every row of a 2-D plane is. */
static void pool_part(void *arg, int t, int threads) {
  const pool_job *j = arg;
  const pool3 *g = j->g;
  int64_t planes = j->d->batch * j->d->channels;
  if (g->out[0] == 1 && j->a1 == 0 && j->b1 == g->out[1]) {
    int64_t p0 = planes * t / threads, p1 = planes * (t + 1) / threads;
    if (p1 > p0 && g->out[1] > 0) pool_rows(j, p0, 0, 0, g->out[1], p1 - p0);
    return;
  }
  int64_t rows = planes * g->out[0] * g->out[1];
  int64_t q = rows * t / threads, end = rows * (t + 1) / threads;
  if (q >= end) return;
  int64_t per_plane = g->out[0] * g->out[1], p = q / per_plane, o0 = q % per_plane / g->out[1], o1 = q % g->out[1];
  while (q < end) {
    int64_t n = 1;
    if (o1 >= j->a1 && o1 < j->b1) n = (j->b1 < o1 + end - q ? j->b1 : o1 + end - q) - o1;
    pool_rows(j, p, o0, o1, n, 1);
    q += n;
    if ((o1 += n) == g->out[1]) {
      o1 = 0;
      if (++o0 == g->out[0]) o0 = 0, p++;
    }
  }
}

/* The sweep for ctx's ISA: vectors for stride 1 or 2 along the last axis, else C (indices are
 * found window by window). */
static void (*interior_for(snt_k_isa isa, const pool3 *g, int64_t *indices))(const snt_k_pool_row *) {
  if (indices) return NULL;
  if (g->dl[2] == 1 && g->s[2] <= 2) {
    switch (isa) {
      case SNT_K_ISA_AVX512: return snt_k_pool_row_avx512;
      case SNT_K_ISA_AVX2: return snt_k_pool_row_avx2;
      case SNT_K_ISA_C: break;
    }
  }
  return snt_k_pool_row_c;
}

enum { SNT_K_POOL_TEAM_MAX = 64 /* ctx.c's cap on threads */, PLANE_COUNT_SLOT = 1 };

/* Whole planes over the team (pool_plane.c), each thread with its padded-plane buffer. */
typedef struct plane_job {
  const pool3 *g;
  int max;
  const double *count;
  const float *x;
  float *y;
  int64_t planes;
  void *bufs[SNT_K_POOL_TEAM_MAX];
} plane_job;

static void plane_part(void *arg, int t, int threads) {
  const plane_job *j = arg;
  snt_k_pool_plane_avx512(j->g, j->max, j->count, j->x, j->y, j->planes * t / threads, j->planes * (t + 1) / threads,
                          j->bufs[t]);
}

static void subsample_part(void *arg, int t, int threads) {
  const plane_job *j = arg;
  snt_k_pool_subsample_avx512(j->g, j->max, j->x, j->y, j->planes * t / threads, j->planes * (t + 1) / threads);
}

/* local: on the calling thread with isa's sweep, whatever the size (ctx is NULL then), planes
 * (batch x channels) x_plane floats apart in x and y_plane in y, where the window code takes
 * in_size and out_size as those strides (no indices then: they are flat plane offsets). */
static snt_status pool_run_isa(snt_k_ctx *ctx, snt_k_isa isa, int local, const snt_k_pool_desc *d, const float *fill,
                               const float *x, int64_t x_plane, float *y, int64_t y_plane, int64_t *indices) {
  pool3 g;
  snt_status st = pool3_init(d, &g);
  if (st != SNT_OK) return st;
  if (local) g.in_size = x_plane, g.out_size = y_plane, indices = NULL;
  if (d->kind != SNT_K_POOL_MAX && d->kind != SNT_K_POOL_AVG) return SNT_ERR_INPUT;
  /* Below 256K taps a hand-off to the team costs about what the second thread saves (SqueezeNet
   * b1's 128 x 27 x 27 3x3 pool, 840K taps: 0.072 ms on one thread, 0.050 on two). */
  int one = local || d->batch * d->channels * g.out_size * g.k_size < (1 << 18);
  int threads = one ? 1 : snt_k_ctx_threads(ctx);
  /* pool_plane.c's paths: AVX-512, a team's scratch, no indices, no fill value. */
  int plane = isa == SNT_K_ISA_AVX512 && ctx && !local && !fill && !(d->kind == SNT_K_POOL_MAX && indices);
  if (plane && snt_k_pool_subsample_applies(&g)) {
    plane_job pj = {&g, d->kind == SNT_K_POOL_MAX, NULL, x, y, d->batch * d->channels, {0}};
    /* A copy from memory: both threads from 128K outputs (ResNet50V2 b1's stride-2 shortcuts:
     * 256 x 56 x 56 -> 28 x 28, 200K outputs, 0.13 ms on one thread, 0.067 on two; 512 x 28 x 28
     * -> 14 x 14, 100K, 0.057 and 0.060). */
    if (d->batch * d->channels * g.out_size < (1 << 17)) subsample_part(&pj, 0, 1);
    else snt_k_ctx_parallel(ctx, subsample_part, &pj);
    return SNT_OK;
  }
  if (plane && threads <= SNT_K_POOL_TEAM_MAX && snt_k_pool_plane_applies(&g)) {
    plane_job pj = {&g, d->kind == SNT_K_POOL_MAX, NULL, x, y, d->batch * d->channels, {0}};
    if (!pj.max) {
      double *count = snt_k_ctx_scratch(ctx, PLANE_COUNT_SLOT, 0, snt_k_pool_plane_count_bytes(&g));
      if (!count) return SNT_ERR_NOMEM;
      snt_k_pool_plane_counts(&g, d->count_include_pad, count);
      pj.count = count;
    }
    for (int t = 0; t < threads; t++)
      if (!(pj.bufs[t] = snt_k_ctx_scratch(ctx, SNT_K_SCRATCH_GEMM, t, snt_k_pool_plane_bytes(&g)))) return SNT_ERR_NOMEM;
    if (threads == 1) plane_part(&pj, 0, 1);
    else snt_k_ctx_parallel(ctx, plane_part, &pj);
    return SNT_OK;
  }
  pool_job j = {d, &g, x, y, d->kind == SNT_K_POOL_MAX ? indices : NULL, NULL, 0, 0, 0, 0, fill};
  j.interior = interior_for(isa, &g, j.ind);
  /* Outputs o whose window o * s - pb + [0, (k - 1) * dl] lies in [0, in). */
  snt_k_valid_range(-g.pb[2], g.s[2], g.out[2], g.in[2] - (g.k[2] - 1) * g.dl[2], &j.a, &j.b);
  snt_k_valid_range(-g.pb[1], g.s[1], g.out[1], g.in[1] - (g.k[1] - 1) * g.dl[1], &j.a1, &j.b1);
  if (one) pool_part(&j, 0, 1);
  else snt_k_ctx_parallel(ctx, pool_part, &j);
  return SNT_OK;
}

static snt_status pool_run(snt_k_ctx *ctx, const snt_k_pool_desc *d, const float *fill, const float *x, float *y,
                           int64_t *indices) {
  return pool_run_isa(ctx, snt_k_ctx_isa(ctx), 0, d, fill, x, 0, y, 0, indices);
}

snt_status snt_k_pool_local(snt_k_isa isa, const snt_k_pool_desc *d, const float *fill, const float *x,
                            int64_t x_plane, float *y, int64_t y_plane) {
  if (d->kind != SNT_K_POOL_MAX) return SNT_ERR_INPUT;
  return pool_run_isa(NULL, isa, 1, d, fill, x, x_plane, y, y_plane, NULL);
}

snt_status snt_k_pool_ctx(snt_k_ctx *ctx, const snt_k_pool_desc *d, const float *x, float *y, int64_t *indices) {
  return pool_run(ctx, d, NULL, x, y, indices);
}

snt_status snt_k_maxpool_filled(snt_k_ctx *ctx, const snt_k_pool_desc *d, float pad_value, const float *x, float *y) {
  if (d->kind != SNT_K_POOL_MAX) return SNT_ERR_INPUT;
  return pool_run(ctx, d, &pad_value, x, y, NULL);
}

snt_status snt_k_pool(const snt_k_pool_desc *d, const float *x, float *y, int64_t *indices) {
  return snt_k_pool_ctx(NULL, d, x, y, indices);
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
