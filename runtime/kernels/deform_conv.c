/* ONNX DeformConv (2-D) as ONNX Runtime computes it (after torchvision's deform_conv2d): per image
 * and block of output pixels, a plan of bilinear samples (one per offset group, kernel tap and
 * pixel, shared by the offset group's channels), then the sampled columns [c * kh * kw, block]
 * and, per group, y = w_g x columns through the GEMM with the bias in its store. Sample points
 * are floats computed in ONNX Runtime's order; their corners are checked as integers, so no
 * offset (NaN, 1e30, inf) reads outside the map. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gemm_core.h"
#include "kernels_util.h"

/* Columns and plan of one block: about an L2 cache; a block has at least MIN_COLS pixels so the
 * GEMM's packing of w stays small against its work. */
enum { BLOCK_BYTES = 1 << 21, MIN_COLS = 64 };

/* One bilinear sample: the top-left corner's index in the plane, the corners' weights (top-left,
 * top-right, bottom-left, bottom-right) and which of them lie inside the map (bit i: corner i). */
typedef struct dc_tap {
  int64_t base;
  float wt[4];
  unsigned inside;
} dc_tap;

/* Sizes derived from the descriptor, every product checked. */
typedef struct dc_geom {
  int64_t kk, pixels, cg, mg, kg, rows, plan_rows, block;
  size_t plan_bytes, col_bytes;
} dc_geom;

static int mul3(int64_t a, int64_t b, int64_t c, int64_t *out) {
  return !__builtin_mul_overflow(a, b, out) && !__builtin_mul_overflow(*out, c, out);
}

static snt_status geometry(const snt_k_deform_conv *p, dc_geom *g) {
  if (p->n < 0 || p->c < 1 || p->h < 0 || p->w < 0 || p->oc < 1 || p->kh < 1 || p->kw < 1 || p->out_h < 0 ||
      p->out_w < 0 || p->stride_h < 1 || p->stride_w < 1 || p->dil_h < 1 || p->dil_w < 1 || p->group < 1 ||
      p->offset_group < 1 || p->c % p->group || p->oc % p->group || p->c % p->offset_group)
    return SNT_ERR_INPUT;
  int64_t t;
  /* Every tensor's element count fits, so no index into one overflows. */
  if (!mul3(p->n, p->c, p->h, &t) || !mul3(t, p->w, 1, &t) || !mul3(p->kh, p->kw, 1, &g->kk) ||
      !mul3(p->out_h, p->out_w, 1, &g->pixels) || !mul3(p->n, p->oc, g->pixels, &t) ||
      !mul3(p->offset_group, g->kk, 2, &g->plan_rows) || !mul3(g->plan_rows, p->n, g->pixels, &t) ||
      !mul3(p->oc, p->c / p->group, g->kk, &t) || !mul3(p->c, g->kk, 1, &g->rows))
    return SNT_ERR_INPUT;
  g->plan_rows /= 2;
  g->cg = p->c / p->group, g->mg = p->oc / p->group, g->kg = g->cg * g->kk;
  /* Pad and dilation reach: the sample points' integer parts, before the float offsets. */
  if (!mul3(p->out_h, p->stride_h, 1, &t) || !mul3(p->kh, p->dil_h, 1, &t) || !mul3(p->out_w, p->stride_w, 1, &t) ||
      !mul3(p->kw, p->dil_w, 1, &t) || p->pad_top < 0 || p->pad_left < 0 || p->pad_top > INT64_MAX / 4 ||
      p->pad_left > INT64_MAX / 4)
    return SNT_ERR_INPUT;
  int64_t per_col, plan_col;
  if (!mul3(g->rows, (int64_t)sizeof(float), 1, &per_col) || !mul3(g->plan_rows, (int64_t)sizeof(dc_tap), 1, &plan_col) ||
      __builtin_add_overflow(per_col, plan_col, &per_col))
    return SNT_ERR_INPUT;
  int64_t block = BLOCK_BYTES / per_col;
  if (block < MIN_COLS) block = MIN_COLS;
  if (block > g->pixels) block = g->pixels;
  g->block = block;
  int64_t pb, cb;
  if (!mul3(plan_col, block, 1, &pb) || !mul3(g->rows, block, (int64_t)sizeof(float), &cb) || pb > INT64_MAX - 64 ||
      __builtin_add_overflow((pb + 63) / 64 * 64, cb, &t) || (uint64_t)t > SIZE_MAX)
    return SNT_ERR_INPUT;
  g->plan_bytes = (size_t)(pb + 63) / 64 * 64, g->col_bytes = (size_t)cb;
  return SNT_OK;
}

size_t snt_k_deform_conv_scratch_bytes(const snt_k_deform_conv *p) {
  dc_geom g;
  /* SIZE_MAX (refused by the compiler's memory cap) instead of a wrapped size. */
  if (geometry(p, &g)) return SIZE_MAX;
  return g.plan_bytes + g.col_bytes;
}

/* The sample at (y, x): outside (-1, h) x (-1, w), NaN included, nothing is read. */
static dc_tap plan_one(const snt_k_deform_conv *p, float y, float x) {
  dc_tap e = {0, {0, 0, 0, 0}, 0};
  if (!(y > -1.0f && y < (float)p->h && x > -1.0f && x < (float)p->w)) return e;
  int64_t y0 = (int64_t)floorf(y), x0 = (int64_t)floorf(x);
  float ly = y - (float)y0, lx = x - (float)x0, hy = 1.0f - ly, hx = 1.0f - lx;
  e.wt[0] = hy * hx, e.wt[1] = hy * lx, e.wt[2] = ly * hx, e.wt[3] = ly * lx;
  /* Checked against the map as integers: float rounding of h or w cannot let a corner out. */
  int r0 = y0 >= 0 && y0 < p->h, r1 = y0 + 1 >= 0 && y0 + 1 < p->h;
  int c0 = x0 >= 0 && x0 < p->w, c1 = x0 + 1 >= 0 && x0 + 1 < p->w;
  e.inside = (unsigned)(r0 && c0) | (unsigned)(r0 && c1) << 1 | (unsigned)(r1 && c0) << 2 | (unsigned)(r1 && c1) << 3;
  e.base = y0 * p->w + x0;
  return e;
}

/* The work of one image and block, split over the team by the part functions. */
typedef struct dc_job {
  const snt_k_deform_conv *p;
  const dc_geom *g;
  const float *x, *offset, *mask; /* this image's */
  int64_t p0, nb;                 /* the block: pixels [p0, p0 + nb) */
  dc_tap *plan;                   /* [plan_rows][nb] */
  float *cols;                    /* [rows][nb] */
} dc_job;

/* Plan entries [b, e) of the block, flattened over (offset group and tap, pixel): a map with few
 * taps still splits over the team. */
static void plan_part(void *arg, int t, int threads) {
  const dc_job *j = arg;
  const snt_k_deform_conv *p = j->p;
  int64_t total = j->g->plan_rows * j->nb, pixels = j->g->pixels, kk = j->g->kk;
  for (int64_t e = total * t / threads, end = total * (t + 1) / threads; e < end;) {
    int64_t r = e / j->nb, q = e % j->nb, og = r / kk, k = r % kk, i = k / p->kw, jj = k % p->kw;
    /* dy of tap k at channel 2k of its offset group, dx at 2k + 1 */
    const float *dy = j->offset + (og * 2 * kk + 2 * k) * pixels, *dx = dy + pixels;
    float base_y = (float)(i * p->dil_h - p->pad_top), base_x = (float)(jj * p->dil_w - p->pad_left);
    dc_tap *row = j->plan + r * j->nb;
    for (; q < j->nb && e < end; q++, e++) {
      int64_t px = j->p0 + q, oy = px / p->out_w, ox = px % p->out_w;
      float y = (float)(oy * p->stride_h) + base_y + dy[px], x = (float)(ox * p->stride_w) + base_x + dx[px];
      row[q] = plan_one(p, y, x);
    }
  }
}

/* The corners inside the map, summed in ONNX Runtime's order (a corner outside adds 0). */
static inline float sample(const float *plane, int64_t w, const dc_tap *e) {
  float v0 = e->inside & 1u ? e->wt[0] * plane[e->base] : 0.0f;
  float v1 = e->inside & 2u ? e->wt[1] * plane[e->base + 1] : 0.0f;
  float v2 = e->inside & 4u ? e->wt[2] * plane[e->base + w] : 0.0f;
  float v3 = e->inside & 8u ? e->wt[3] * plane[e->base + w + 1] : 0.0f;
  return v0 + v1 + v2 + v3;
}

static void fill_part(void *arg, int t, int threads) {
  const dc_job *j = arg;
  const snt_k_deform_conv *p = j->p;
  int64_t rows = j->g->rows, kk = j->g->kk, c_per_og = p->c / p->offset_group, plane_size = p->h * p->w;
  for (int64_t r = rows * t / threads; r < rows * (t + 1) / threads; r++) {
    int64_t ch = r / kk, k = r % kk, pr = ch / c_per_og * kk + k;
    const float *plane = j->x + ch * plane_size;
    const dc_tap *row = j->plan + pr * j->nb;
    float *col = j->cols + r * j->nb;
    if (j->mask) {
      const float *m = j->mask + pr * j->g->pixels + j->p0;
      for (int64_t q = 0; q < j->nb; q++) col[q] = sample(plane, p->w, &row[q]) * m[q];
    } else {
      for (int64_t q = 0; q < j->nb; q++) col[q] = sample(plane, p->w, &row[q]);
    }
  }
}

/* y[:, p0 : p0 + nb] of one image = w_g x columns_g (+ bias) for each group. */
static snt_status multiply(snt_k_ctx *ctx, const dc_job *j, const float *w, const float *bias, float *y) {
  const dc_geom *g = j->g;
  for (int64_t grp = 0; grp < j->p->group; grp++) {
    snt_k_gemm_call call = {.m = g->mg, .n = j->nb, .k = g->kg, .a = w + grp * g->mg * g->kg, .lda = g->kg,
                            .b = j->cols + grp * g->kg * j->nb, .ldb = j->nb, .c = y + grp * g->mg * g->pixels + j->p0,
                            .ldc = g->pixels, .epi = {.alpha = 1.0f, .row_bias = bias ? bias + grp * g->mg : NULL}};
    snt_status st = snt_k_gemm_run(ctx, &call);
    if (st) return st;
  }
  return SNT_OK;
}

snt_status snt_k_deform_conv_run(snt_k_ctx *ctx, const snt_k_deform_conv *p, const float *x, const float *w,
                                 const float *offset, const float *bias, const float *mask, float *y, void *scratch) {
  dc_geom g;
  if (geometry(p, &g)) return SNT_ERR_INPUT;
  if (g.pixels == 0) return SNT_OK;
  dc_job j = {.p = p, .g = &g, .plan = scratch, .cols = (float *)((char *)scratch + g.plan_bytes)};
  /* below ~4K samples per block a second thread costs more than it saves */
  int team = snt_k_ctx_threads(ctx) > 1 && g.rows * g.block >= 4096;
  for (int64_t n = 0; n < p->n; n++) {
    j.x = x + n * p->c * p->h * p->w;
    j.offset = offset + n * 2 * g.plan_rows * g.pixels;
    j.mask = mask ? mask + n * g.plan_rows * g.pixels : NULL;
    float *yn = y + n * p->oc * g.pixels;
    for (j.p0 = 0; j.p0 < g.pixels; j.p0 += j.nb) {
      j.nb = g.pixels - j.p0 < g.block ? g.pixels - j.p0 : g.block;
      if (team) snt_k_ctx_parallel(ctx, plan_part, &j), snt_k_ctx_parallel(ctx, fill_part, &j);
      else plan_part(&j, 0, 1), fill_part(&j, 0, 1);
      snt_status st = multiply(ctx, &j, w, bias, yn);
      if (st) return st;
    }
  }
  return SNT_OK;
}
