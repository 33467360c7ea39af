/* ONNX GridSample (opsets 16 and 20) on 2-D maps, as ONNX Runtime computes it: the grid's
 * normalised (x, y) become pixel coordinates (align_corners: -1 and 1 are the corner pixels'
 * centres, else their outer edges); a point outside the border is clamped (border) or reflected
 * (reflection) into it; then the interpolation reads each tap through the padding rule (zeros:
 * 0 outside; border: the clamped pixel; reflection: the reflected one). Cubic uses A = -0.75. */
#include <math.h>
#include <stdbool.h>

#include "sinter/kernels.h"

static float denormalize(float v, int64_t len, int align) {
  return align ? (v + 1) / 2 * (float)(len - 1) : ((v + 1) * (float)len - 1) / 2;
}

/* Reflects v into [lo, hi] as often as it takes (by the remainder of 2 * range: no integer
 * conversion, so any float is safe; infinity and NaN give NaN). */
static float reflect(float v, float lo, float hi) {
  float range = hi - lo;
  if (range <= 0) return lo;
  if (v >= lo && v <= hi) return v;
  double dv = v < lo ? (double)lo - v : (double)v - hi, m = fmod(dv, 2.0 * range);
  float r = (float)(m <= range ? m : m - range);
  bool same_side = m <= range; /* an even number of reflections */
  if (v < lo) return same_side ? lo + r : hi - r;
  return same_side ? hi - r : lo + r;
}

typedef struct gs_plane {
  const snt_k_grid_sample *p;
  const float *x; /* one [h, w] plane */
  float lo[2], hi[2]; /* the border: x then y */
} gs_plane;

static int64_t clamp_i(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static float pixel(const gs_plane *g, int64_t ix, int64_t iy) {
  const snt_k_grid_sample *p = g->p;
  switch (p->pad) {
    case SNT_K_GS_ZEROS:
      if (ix < 0 || ix >= p->w || iy < 0 || iy >= p->h) return 0.0f;
      break;
    case SNT_K_GS_BORDER:
      ix = clamp_i(ix, 0, p->w - 1), iy = clamp_i(iy, 0, p->h - 1);
      break;
    case SNT_K_GS_REFLECTION:
      ix = clamp_i((int64_t)reflect((float)ix, g->lo[0], g->hi[0]), 0, p->w - 1);
      iy = clamp_i((int64_t)reflect((float)iy, g->lo[1], g->hi[1]), 0, p->h - 1);
      break;
  }
  return g->x[iy * p->w + ix];
}

static void cubic_coeffs(float t, float c[4]) {
  const float a = -0.75f;
  float t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
  c[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
  c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  c[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
  c[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

static float sample(const gs_plane *g, float fx, float fy) {
  const snt_k_grid_sample *p = g->p;
  /* Far outside (zeros padding; the others brought the point in) every tap reads 0; NaN stays. */
  if (!(fx > -4 && fx < (float)p->w + 4 && fy > -4 && fy < (float)p->h + 4)) return isnan(fx) || isnan(fy) ? NAN : 0.0f;
  if (p->mode == SNT_K_GS_NEAREST) return pixel(g, (int64_t)nearbyintf(fx), (int64_t)nearbyintf(fy));
  float x0f = floorf(fx), y0f = floorf(fy);
  int64_t x0 = (int64_t)x0f, y0 = (int64_t)y0f;
  if (p->mode == SNT_K_GS_LINEAR) {
    float dx1 = fx - x0f, dx2 = 1 - dx1, dy1 = fy - y0f, dy2 = 1 - dy1;
    float p11 = pixel(g, x0, y0), p21 = pixel(g, x0 + 1, y0), p12 = pixel(g, x0, y0 + 1), p22 = pixel(g, x0 + 1, y0 + 1);
    return dy2 * (dx2 * p11 + dx1 * p21) + dy1 * (dx2 * p12 + dx1 * p22);
  }
  float cx[4], cy[4], v = 0;
  cubic_coeffs(fx - x0f, cx), cubic_coeffs(fy - y0f, cy);
  for (int i = 0; i < 4; i++) {
    float row = 0;
    for (int j = 0; j < 4; j++) row += cx[j] * pixel(g, x0 - 1 + j, y0 - 1 + i);
    v += cy[i] * row;
  }
  return v;
}

void snt_k_grid_sample_run(const snt_k_grid_sample *p, const float *x, const float *grid, float *y) {
  gs_plane g = {p, x, {0, 0}, {(float)(p->w - 1), (float)(p->h - 1)}};
  if (!p->align_corners) g.lo[0] = g.lo[1] = -0.5f, g.hi[0] = (float)p->w - 0.5f, g.hi[1] = (float)p->h - 0.5f;
  int64_t outs = p->h_out * p->w_out;
  for (int64_t b = 0; b < p->n; b++)
    for (int64_t k = 0; k < outs; k++) {
      const float *gp = grid + (b * outs + k) * 2;
      float fx = denormalize(gp[0], p->w, p->align_corners), fy = denormalize(gp[1], p->h, p->align_corners);
      if (p->pad == SNT_K_GS_BORDER) {
        /* Cubic clamps each tap only: 3 pixels past the border every tap reads the edge. */
        float lo = p->mode == SNT_K_GS_CUBIC ? -3.0f : 0.0f, d = p->mode == SNT_K_GS_CUBIC ? 2.0f : -1.0f;
        fx = fx < lo ? lo : fx > (float)p->w + d ? (float)p->w + d : fx;
        fy = fy < lo ? lo : fy > (float)p->h + d ? (float)p->h + d : fy;
      } else if (p->pad == SNT_K_GS_REFLECTION) {
        fx = reflect(fx, g.lo[0], g.hi[0]), fy = reflect(fy, g.lo[1], g.hi[1]);
      }
      for (int64_t ch = 0; ch < p->c; ch++) {
        g.x = x + (b * p->c + ch) * p->h * p->w;
        y[(b * p->c + ch) * outs + k] = sample(&g, fx, fy);
      }
    }
}
