/* ONNX GridSample (opsets 16 and 20) on 2-D maps and (20) 3-D volumes, as ONNX Runtime computes
 * it: the grid's normalised (x, y[, z]) become pixel coordinates (align_corners: -1 and 1 are
 * the corner pixels' centres, else their outer edges); nearest rounds them (half to even); a
 * point outside the border is clamped (border) or reflected (reflection) into it; then the
 * interpolation reads each tap through the padding rule (zeros: 0 outside; border: the clamped
 * pixel; reflection: the reflected one). Cubic uses A = -0.75; on volumes it is the spec's
 * N-cubic (tricubic: ONNX Runtime has cubic on 2-D maps only), the same rules along z.
 * A map is a volume of depth 1 sampled at z = 0, so one path serves both. */
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

typedef struct gs_vol {
  const snt_k_grid_sample *p;
  const float *x;          /* one [d, h, w] volume */
  int64_t len[3];          /* w, h, d */
  float lo[3], hi[3];      /* the border box along x, y, z */
} gs_vol;

static int64_t clamp_i(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* One tap through the padding rule. Indices are within 6 of the box (sample's test); reflection
 * goes through float as ONNX Runtime's does, and the clamp keeps any rounding inside. */
static float voxel(const gs_vol *g, int64_t ix, int64_t iy, int64_t iz) {
  switch (g->p->pad) {
    case SNT_K_GS_ZEROS:
      if (ix < 0 || ix >= g->len[0] || iy < 0 || iy >= g->len[1] || iz < 0 || iz >= g->len[2]) return 0.0f;
      break;
    case SNT_K_GS_BORDER:
      ix = clamp_i(ix, 0, g->len[0] - 1), iy = clamp_i(iy, 0, g->len[1] - 1), iz = clamp_i(iz, 0, g->len[2] - 1);
      break;
    case SNT_K_GS_REFLECTION:
      ix = clamp_i((int64_t)reflect((float)ix, g->lo[0], g->hi[0]), 0, g->len[0] - 1);
      iy = clamp_i((int64_t)reflect((float)iy, g->lo[1], g->hi[1]), 0, g->len[1] - 1);
      iz = clamp_i((int64_t)reflect((float)iz, g->lo[2], g->hi[2]), 0, g->len[2] - 1);
      break;
  }
  return g->x[(iz * g->len[1] + iy) * g->len[0] + ix];
}

static void cubic_coeffs(float t, float c[4]) {
  const float a = -0.75f;
  float t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
  c[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
  c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  c[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
  c[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

/* The first tap along one axis and the weights of its 2 (linear) or 4 (cubic) taps, in ONNX
 * Runtime's arithmetic. */
static int64_t axis_taps(snt_k_gs_mode mode, float f, float w[4]) {
  float f0 = floorf(f);
  if (mode == SNT_K_GS_LINEAR) {
    w[0] = (f0 + 1) - f, w[1] = f - f0;
    return (int64_t)f0;
  }
  cubic_coeffs(f - f0, w);
  return (int64_t)f0 - 1;
}

/* The separable sum, x innermost, then y, then z, as ONNX Runtime nests it. A map has one
 * z tap of weight 1. */
static float interpolate(const gs_vol *g, const float f[3]) {
  int taps = g->p->mode == SNT_K_GS_LINEAR ? 2 : 4, zt = g->p->volumetric ? taps : 1;
  float w[3][4] = {{0}, {0}, {1}};
  int64_t b[3] = {0, 0, 0};
  for (int a = 0; a < (g->p->volumetric ? 3 : 2); a++) b[a] = axis_taps(g->p->mode, f[a], w[a]);
  float v = 0;
  for (int k = 0; k < zt; k++) {
    float plane = 0;
    for (int i = 0; i < taps; i++) {
      float row = 0;
      for (int j = 0; j < taps; j++) row += w[0][j] * voxel(g, b[0] + j, b[1] + i, b[2] + k);
      plane += w[1][i] * row;
    }
    v += w[2][k] * plane;
  }
  return v;
}

static float sample(const gs_vol *g, const float f[3]) {
  /* Far outside (zeros padding; the others brought the point in) every tap reads 0; NaN stays.
   * This bounds every tap index before any integer conversion. */
  for (int a = 0; a < 3; a++)
    if (!(f[a] > -4 && f[a] < (float)g->len[a] + 4)) return isnan(f[0]) || isnan(f[1]) || isnan(f[2]) ? NAN : 0.0f;
  if (g->p->mode == SNT_K_GS_NEAREST)
    return voxel(g, (int64_t)nearbyintf(f[0]), (int64_t)nearbyintf(f[1]), (int64_t)nearbyintf(f[2]));
  return interpolate(g, f);
}

/* The point's pixel coordinate along one axis, brought into the border box by the padding rule.
 * Nearest rounds first, as ONNX Runtime does: a halfway point outside reflects from its even
 * neighbour. */
static float place(const gs_vol *g, int a, float v) {
  const snt_k_grid_sample *p = g->p;
  float f = denormalize(v, g->len[a], p->align_corners);
  if (p->mode == SNT_K_GS_NEAREST) f = nearbyintf(f);
  if (p->pad == SNT_K_GS_BORDER) {
    /* Cubic clamps each tap only: 3 pixels past the border every tap reads the edge. */
    float lo = p->mode == SNT_K_GS_CUBIC ? -3.0f : 0.0f, hi = (float)g->len[a] + (p->mode == SNT_K_GS_CUBIC ? 2.0f : -1.0f);
    return f < lo ? lo : f > hi ? hi : f;
  }
  return p->pad == SNT_K_GS_REFLECTION ? reflect(f, g->lo[a], g->hi[a]) : f;
}

void snt_k_grid_sample_run(const snt_k_grid_sample *p, const float *x, const float *grid, float *y) {
  int axes = p->volumetric ? 3 : 2;
  gs_vol g = {p, x, {p->w, p->h, p->volumetric ? p->d : 1}, {0}, {0}};
  for (int a = 0; a < 3; a++) {
    g.lo[a] = p->align_corners ? 0.0f : -0.5f;
    g.hi[a] = (float)g.len[a] - (p->align_corners ? 1.0f : 0.5f);
  }
  /* The compiler checked these products (compiler/ops/grid_sample.c), empty tensors too. */
  int64_t vol = g.len[0] * g.len[1] * g.len[2], outs = (p->volumetric ? p->d_out : 1) * p->h_out * p->w_out;
  for (int64_t b = 0; b < p->n; b++)
    for (int64_t k = 0; k < outs; k++) {
      const float *gp = grid + (b * outs + k) * axes;
      float f[3] = {0, 0, 0}; /* a map samples its one plane at z = 0 */
      for (int a = 0; a < axes; a++) f[a] = place(&g, a, gp[a]);
      for (int64_t ch = 0; ch < p->c; ch++) {
        g.x = x + (b * p->c + ch) * vol;
        y[(b * p->c + ch) * outs + k] = sample(&g, f);
      }
    }
}
