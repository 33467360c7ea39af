/* Resize against a double-precision transcription of ONNX's reference implementation
 * (onnx/backend/test/case/node/resize.py: interpolate_nd), which made the conformance data:
 * it interpolates axis by axis, picks neighbours as the n nearest indexes of an edge-padded
 * array, and uses scale * in as the resized length. Covered: every case of ONNX's resize tests,
 * random shapes and modes, and hand-computed outputs from ONNX's docs. */
#include "kernels_ref.h"
#include "sinter/kernels.h"

/* ---- reference ---------------------------------------------------------------------- */

/* The n indexes among [0, limit) nearest to x, ties to the smaller, in ascending order. */
static void nearest_idxes(double x, int n, int64_t limit, int64_t *out) {
  int taken[64] = {0};
  for (int k = 0; k < n; k++) {
    int64_t best = -1;
    for (int64_t i = 0; i < limit; i++) {
      if (taken[i]) continue;
      if (best < 0 || fabs(x - (double)i) < fabs(x - (double)best)) best = i;
    }
    taken[best] = 1;
  }
  for (int64_t i = 0, k = 0; i < limit; i++)
    if (taken[i]) out[k++] = i;
}

static int ref_coeffs(const snt_k_resize_desc *d, double ratio, double *c) {
  int integer = ratio == floor(ratio);
  switch (d->mode) {
    case SNT_K_RESIZE_NEAREST: {
      int right = 0;
      if (integer) right = 1;
      else if (d->nearest == SNT_K_NEAREST_ROUND_PREFER_FLOOR) right = ratio > 0.5;
      else if (d->nearest == SNT_K_NEAREST_ROUND_PREFER_CEIL) right = ratio >= 0.5;
      else right = d->nearest == SNT_K_NEAREST_CEIL;
      c[0] = !right, c[1] = right;
      return 2;
    }
    case SNT_K_RESIZE_LINEAR:
      c[0] = 1 - ratio, c[1] = ratio;
      return 2;
    case SNT_K_RESIZE_CUBIC: {
      double A = d->cubic_coeff_a, r = ratio;
      c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
      c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
      c[2] = ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1;
      c[3] = ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A;
      return 4;
    }
  }
  return 0;
}

/* interpolate_1d_with_x: the value at output index x of one axis, from that axis' values. */
static double ref_interp_1d(const snt_k_resize_desc *d, int axis, const double *vals, int64_t x) {
  int64_t in = d->in[axis];
  float len = d->scales[axis] * (float)in; /* numpy: float32 scale times an int */
  float r0 = d->roi[axis], r1 = d->roi[axis + d->rank];
  double xo = 0;
  switch (d->coord) {
    case SNT_K_COORD_ALIGN_CORNERS: xo = len == 1.0f ? 0.0 : (double)(x * (in - 1)) / (double)(len - 1.0f); break;
    case SNT_K_COORD_ASYMMETRIC: xo = (double)x / d->scales[axis]; break;
    case SNT_K_COORD_TF_CROP_AND_RESIZE:
      if (len == 1.0f) xo = (float)((r1 - r0) * (float)(in - 1) / 2.0f);
      else xo = (double)x * (float)(r1 - r0) * (double)(in - 1) / (double)(len - 1.0f);
      xo += (float)(r0 * (float)(in - 1));
      if (xo < 0 || xo > (double)(in - 1)) return d->extrapolation_value;
      break;
    case SNT_K_COORD_PYTORCH_HALF_PIXEL: xo = len == 1.0f ? -0.5 : ((double)x + 0.5) / d->scales[axis] - 0.5; break;
    case SNT_K_COORD_HALF_PIXEL: xo = ((double)x + 0.5) / d->scales[axis] - 0.5; break;
    case SNT_K_COORD_TF_HALF_PIXEL_FOR_NN: xo = ((double)x + 0.5) / d->scales[axis]; break; /* opset 11 */
    case SNT_K_COORD_HALF_PIXEL_SYMMETRIC: { /* opset 19: about the centre when out != scale * in */
      float out_w = d->scales[axis] * (float)in, adj = (float)d->out[axis] / out_w;
      xo = (float)((float)in / 2.0f * (1.0f - adj) + ((float)x + 0.5f) / d->scales[axis] - 0.5f);
      break;
    }
  }
  double ratio = xo == floor(xo) ? 1.0 : xo - floor(xo), c[4];
  int n = ref_coeffs(d, ratio, c), pad = (n + 1) / 2;
  int64_t idx[4];
  nearest_idxes(xo + pad, n, in + 2 * pad, idx);
  double sum = 0, out = 0;
  for (int k = 0; k < n; k++) {
    idx[k] -= pad;
    if (d->exclude_outside && (idx[k] < 0 || idx[k] >= in)) c[k] = 0;
    sum += c[k];
  }
  for (int k = 0; k < n; k++) {
    int64_t i = idx[k] < 0 ? 0 : idx[k] >= in ? in - 1 : idx[k]; /* np.pad(mode='edge') */
    out += (d->exclude_outside ? c[k] / sum : c[k]) * vals[i];
  }
  return out;
}

/* interpolate_nd_with_x: the output at index x of the sub-tensor at data + off, axes >= axis. */
static double ref_interp_nd(const snt_k_resize_desc *d, const float *data, int64_t off, int axis,
                            const int64_t *x) {
  if (axis == d->rank) return data[off];
  int64_t stride = prod64(d->in + axis + 1, d->rank - axis - 1);
  double vals[64];
  for (int64_t i = 0; i < d->in[axis]; i++) vals[i] = ref_interp_nd(d, data, off + i * stride, axis + 1, x);
  return ref_interp_1d(d, axis, vals, x[axis]);
}

static void ref_resize(const snt_k_resize_desc *d, const float *data, double *y) {
  int64_t total = prod64(d->out, d->rank);
  for (int64_t q = 0; q < total; q++) {
    int64_t x[SNT_MAX_RANK], rem = q;
    for (int a = d->rank - 1; a >= 0; a--) x[a] = rem % d->out[a], rem /= d->out[a];
    y[q] = ref_interp_nd(d, data, 0, 0, x);
  }
}

/* ---- runner ------------------------------------------------------------------------- */

/* Linear and cubic: a few float roundings of O(1) values; nearest is exact. */
#define RESIZE_RTOL 1e-5

static float *run_resize(test_state *ts, const char *what, const snt_k_resize_desc *d,
                         const float *x) {
  int64_t ny = prod64(d->out, d->rank);
  float *y = alloc_nan(ny);
  double *want = alloc_d(ny);
  void *scratch = xmalloc(snt_k_resize_scratch_bytes(d));
  CHECK_INT(ts, snt_k_resize(d, x, y, scratch), SNT_OK);
  ref_resize(d, x, want);
  check_close_arr(ts, what, y, want, NULL, ny, RESIZE_RTOL);
  free(want), free(scratch);
  return y;
}

/* A 4-D [1, 1, h, w] descriptor; sizes (when out_h > 0) give scales out/in as ONNX does. */
static snt_k_resize_desc desc4(int64_t h, int64_t w, float sh, float sw, int64_t out_h,
                               int64_t out_w, snt_k_resize_mode mode, snt_k_resize_coord coord) {
  snt_k_resize_desc d = {.rank = 4, .in = {1, 1, h, w}, .scales = {1, 1, sh, sw}, .mode = mode,
                         .coord = coord, .cubic_coeff_a = -0.75f};
  d.out[0] = d.out[1] = 1;
  if (out_h > 0) {
    d.out[2] = out_h, d.out[3] = out_w;
    d.scales[2] = (float)out_h / (float)h, d.scales[3] = (float)out_w / (float)w;
  } else {
    d.out[2] = (int64_t)floorf(sh * (float)h), d.out[3] = (int64_t)floorf(sw * (float)w);
  }
  for (int a = 0; a < 4; a++) d.roi[a] = 0, d.roi[4 + a] = 1;
  return d;
}

/* ---- ONNX's resize test cases, with hand-checked outputs from its docs --------------- */

static void test_onnx_cases(test_state *ts) {
  float x2[4] = {1, 2, 3, 4}, x24[8] = {1, 2, 3, 4, 5, 6, 7, 8}, x4[16];
  for (int i = 0; i < 16; i++) x4[i] = (float)(i + 1);
  snt_k_resize_desc d;
  float *y;

  /* nearest */
  d = desc4(2, 2, 2, 3, 0, 0, SNT_K_RESIZE_NEAREST, SNT_K_COORD_HALF_PIXEL);
  y = run_resize(ts, "upsample_scales_nearest", &d, x2);
  static const float up_nn[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
  check_close_list(ts, "upsample_scales_nearest hand", y, up_nn, 24, 0);
  free(y);
  d = desc4(2, 4, 0.6f, 0.6f, 0, 0, SNT_K_RESIZE_NEAREST, SNT_K_COORD_HALF_PIXEL);
  y = run_resize(ts, "downsample_scales_nearest", &d, x24);
  CHECK(ts, d.out[2] == 1 && d.out[3] == 2 && y[0] == 1 && y[1] == 3);
  free(y);
  d = desc4(2, 2, 0, 0, 7, 8, SNT_K_RESIZE_NEAREST, SNT_K_COORD_HALF_PIXEL);
  free(run_resize(ts, "upsample_sizes_nearest", &d, x2));
  d = desc4(2, 4, 0, 0, 1, 3, SNT_K_RESIZE_NEAREST, SNT_K_COORD_HALF_PIXEL);
  y = run_resize(ts, "downsample_sizes_nearest", &d, x24);
  CHECK(ts, y[0] == 1 && y[1] == 2 && y[2] == 4);
  free(y);
  d = desc4(4, 4, 0, 0, 8, 8, SNT_K_RESIZE_NEAREST, SNT_K_COORD_ALIGN_CORNERS);
  d.nearest = SNT_K_NEAREST_FLOOR;
  y = run_resize(ts, "upsample_sizes_nearest_floor_align_corners", &d, x4);
  static const float floor_row0[8] = {1, 1, 1, 2, 2, 3, 3, 4};
  check_close_list(ts, "nearest floor align_corners row 0", y, floor_row0, 8, 0);
  free(y);
  d = desc4(4, 4, 0, 0, 8, 8, SNT_K_RESIZE_NEAREST, SNT_K_COORD_ASYMMETRIC);
  d.nearest = SNT_K_NEAREST_ROUND_PREFER_CEIL;
  y = run_resize(ts, "upsample_sizes_nearest_round_prefer_ceil_asymmetric", &d, x4);
  static const float ceil_row0[8] = {1, 2, 2, 3, 3, 4, 4, 4};
  check_close_list(ts, "nearest round_prefer_ceil asymmetric row 0", y, ceil_row0, 8, 0);
  free(y);
  d = desc4(4, 4, 0, 0, 8, 8, SNT_K_RESIZE_NEAREST, SNT_K_COORD_HALF_PIXEL);
  d.nearest = SNT_K_NEAREST_CEIL;
  y = run_resize(ts, "upsample_sizes_nearest_ceil_half_pixel", &d, x4);
  static const float nceil_row0[8] = {1, 2, 2, 3, 3, 4, 4, 4};
  check_close_list(ts, "nearest ceil half_pixel row 0", y, nceil_row0, 8, 0);
  free(y);

  /* linear: 2x2 -> 4x4 half_pixel: x_ori = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
   * clamped at the edges: weights (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1). */
  d = desc4(2, 2, 2, 2, 0, 0, SNT_K_RESIZE_LINEAR, SNT_K_COORD_HALF_PIXEL);
  y = run_resize(ts, "upsample_scales_linear", &d, x2);
  static const float up_lin[16] = {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f,
                                   2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4};
  check_close_list(ts, "upsample_scales_linear hand", y, up_lin, 16, 1e-6);
  free(y);
  /* align_corners: x_ori = x / 3, so thirds between the corners. */
  d = desc4(2, 2, 2, 2, 0, 0, SNT_K_RESIZE_LINEAR, SNT_K_COORD_ALIGN_CORNERS);
  y = run_resize(ts, "upsample_scales_linear_align_corners", &d, x2);
  static const float up_lin_ac[16] = {1, 4 / 3.f, 5 / 3.f, 2, 5 / 3.f, 2, 7 / 3.f, 8 / 3.f,
                                      7 / 3.f, 8 / 3.f, 3, 10 / 3.f, 3, 10 / 3.f, 11 / 3.f, 4};
  check_close_list(ts, "upsample_scales_linear_align_corners hand", y, up_lin_ac, 16, 1e-6);
  free(y);
  /* 2x4 by 0.6 -> 1x2: x_ori = (x + 0.5) / 0.6 - 0.5 = 1/3 (row), 1/3 and 2 (cols). */
  d = desc4(2, 4, 0.6f, 0.6f, 0, 0, SNT_K_RESIZE_LINEAR, SNT_K_COORD_HALF_PIXEL);
  y = run_resize(ts, "downsample_scales_linear", &d, x24);
  static const float down_lin[2] = {2.6666667f, 4.3333333f};
  check_close_list(ts, "downsample_scales_linear hand", y, down_lin, 2, 1e-6);
  free(y);
  /* align_corners with the resized length 4 * 0.6 = 2.4: x_ori = 1 * 3 / 1.4 for column 1. */
  d = desc4(2, 4, 0.6f, 0.6f, 0, 0, SNT_K_RESIZE_LINEAR, SNT_K_COORD_ALIGN_CORNERS);
  y = run_resize(ts, "downsample_scales_linear_align_corners", &d, x24);
  static const float down_lin_ac[2] = {1, 3.142857f};
  check_close_list(ts, "downsample_scales_linear_align_corners hand", y, down_lin_ac, 2, 1e-6);
  free(y);
  /* pytorch_half_pixel 4x4 -> 3x1: the width of 1 reads x_ori = -0.5 (column 0). */
  d = desc4(4, 4, 0, 0, 3, 1, SNT_K_RESIZE_LINEAR, SNT_K_COORD_PYTORCH_HALF_PIXEL);
  y = run_resize(ts, "downsample_sizes_linear_pytorch_half_pixel", &d, x4);
  static const float pt[3] = {1.6666666f, 7, 12.333333f};
  check_close_list(ts, "pytorch_half_pixel hand", y, pt, 3, 1e-6);
  free(y);
  /* tf_crop_and_resize: rows 0.4*3 + {0, 0.3, 0.6}, columns 0.6*3 + {0, 0.3, 0.6}. */
  d = desc4(4, 4, 0, 0, 3, 3, SNT_K_RESIZE_LINEAR, SNT_K_COORD_TF_CROP_AND_RESIZE);
  static const float roi1[8] = {0, 0, 0.4f, 0.6f, 1, 1, 0.6f, 0.8f};
  memcpy(d.roi, roi1, sizeof roi1);
  y = run_resize(ts, "tf_crop_and_resize", &d, x4);
  static const float crop[9] = {7.6f, 7.9f, 8.2f, 8.8f, 9.1f, 9.4f, 10, 10.3f, 10.6f};
  check_close_list(ts, "tf_crop_and_resize hand", y, crop, 9, 1e-6);
  free(y);
  static const float roi2[8] = {0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f};
  memcpy(d.roi, roi2, sizeof roi2);
  d.extrapolation_value = 10;
  y = run_resize(ts, "tf_crop_and_resize_extrapolation_value", &d, x4);
  static const float crop_ex[9] = {7.6f, 10, 10, 12.4f, 10, 10, 10, 10, 10};
  check_close_list(ts, "tf_crop_and_resize extrapolation hand", y, crop_ex, 9, 1e-6);
  free(y);

  /* cubic */
  d = desc4(4, 4, 2, 2, 0, 0, SNT_K_RESIZE_CUBIC, SNT_K_COORD_HALF_PIXEL);
  y = run_resize(ts, "upsample_scales_cubic", &d, x4);
  static const float cubic_row0[8] = {0.47265625f, 0.76953125f, 1.24609375f, 1.875f,
                                      2.28125f, 2.91015625f, 3.38671875f, 3.68359375f};
  check_close_list(ts, "upsample_scales_cubic row 0", y, cubic_row0, 8, 1e-6);
  free(y);
  d = desc4(4, 4, 2, 2, 0, 0, SNT_K_RESIZE_CUBIC, SNT_K_COORD_ALIGN_CORNERS);
  free(run_resize(ts, "upsample_scales_cubic_align_corners", &d, x4));
  d = desc4(4, 4, 0.8f, 0.8f, 0, 0, SNT_K_RESIZE_CUBIC, SNT_K_COORD_HALF_PIXEL);
  free(run_resize(ts, "downsample_scales_cubic", &d, x4));
  d = desc4(4, 4, 0.8f, 0.8f, 0, 0, SNT_K_RESIZE_CUBIC, SNT_K_COORD_ALIGN_CORNERS);
  free(run_resize(ts, "downsample_scales_cubic_align_corners", &d, x4));
  d = desc4(4, 4, 0, 0, 9, 10, SNT_K_RESIZE_CUBIC, SNT_K_COORD_HALF_PIXEL);
  free(run_resize(ts, "upsample_sizes_cubic", &d, x4));
  d = desc4(4, 4, 0, 0, 3, 3, SNT_K_RESIZE_CUBIC, SNT_K_COORD_HALF_PIXEL);
  free(run_resize(ts, "downsample_sizes_cubic", &d, x4));
  d = desc4(4, 4, 2, 2, 0, 0, SNT_K_RESIZE_CUBIC, SNT_K_COORD_HALF_PIXEL);
  d.cubic_coeff_a = -0.5f, d.exclude_outside = 1;
  free(run_resize(ts, "upsample_scales_cubic_A_n0p5_exclude_outside", &d, x4));
  d = desc4(4, 4, 0.8f, 0.8f, 0, 0, SNT_K_RESIZE_CUBIC, SNT_K_COORD_HALF_PIXEL);
  d.cubic_coeff_a = -0.5f, d.exclude_outside = 1;
  y = run_resize(ts, "downsample_scales_cubic_A_n0p5_exclude_outside", &d, x4);
  static const float cubic_ex[9] = {1.36812592f, 2.6695014f, 4.0133367f, 6.5736251f, 7.875f,
                                    9.2188353f, 11.948966f, 13.250341f, 14.594177f};
  check_close_list(ts, "downsample cubic exclude_outside (ONNX docs)", y, cubic_ex, 9, 1e-6);
  free(y);
  d = desc4(4, 4, 2, 2, 0, 0, SNT_K_RESIZE_CUBIC, SNT_K_COORD_ASYMMETRIC);
  free(run_resize(ts, "upsample_scales_cubic_asymmetric", &d, x4));
}

/* ---- random shapes and modes -------------------------------------------------------- */

static void test_random(test_state *ts) {
  rng r = {0x5eed0201};
  static const float scale_list[] = {0.5f, 0.6f, 0.75f, 0.8f, 1.5f, 1.7f, 2.0f, 2.5f, 3.0f};
  for (int i = 0, done = 0; done < 600; i++) {
    snt_k_resize_desc d = {.rank = (int)rng_int(&r, 1, 5)};
    d.mode = (snt_k_resize_mode)rng_int(&r, 0, 2);
    int64_t c = rng_int(&r, 0, 5); /* 0-4 in enum order, 5 for opset 19's half_pixel_symmetric */
    d.coord = c == 5 ? SNT_K_COORD_HALF_PIXEL_SYMMETRIC : (snt_k_resize_coord)c;
    d.nearest = (snt_k_nearest_mode)rng_int(&r, 0, 3);
    d.cubic_coeff_a = rng_int(&r, 0, 1) ? -0.75f : -0.5f;
    d.exclude_outside = (int)rng_int(&r, 0, 1);
    d.extrapolation_value = rng_float(&r);
    int ok = 1;
    for (int a = 0; a < d.rank; a++) {
      d.in[a] = rng_int(&r, 1, d.rank >= 4 ? 4 : 6);
      d.roi[a] = 0, d.roi[a + d.rank] = 1;
      int how = (int)rng_int(&r, 0, 2); /* 0: not resized, 1: by scale, 2: by size */
      if (how == 0) {
        d.out[a] = d.in[a], d.scales[a] = 1;
      } else if (how == 1) {
        d.scales[a] = scale_list[rng_int(&r, 0, 8)];
        d.out[a] = (int64_t)floorf(d.scales[a] * (float)d.in[a]);
      } else {
        d.out[a] = rng_int(&r, 1, 9);
        d.scales[a] = (float)d.out[a] / (float)d.in[a];
      }
      if (how && d.coord == SNT_K_COORD_TF_CROP_AND_RESIZE) {
        d.roi[a] = 0.1f * (float)rng_int(&r, -2, 5);
        d.roi[a + d.rank] = 0.1f * (float)rng_int(&r, 5, 13);
      }
      ok = ok && d.out[a] >= 1;
    }
    if (!ok || prod64(d.out, d.rank) > 3000) continue;
    done++;
    int64_t nx = prod64(d.in, d.rank);
    float *x = alloc_f(nx);
    rng_fill(&r, x, nx);
    char what[200];
    snprintf(what, sizeof what, "resize case %d: rank %d mode %d coord %d nearest %d A %.2f excl %d "
             "in %lld..%lld out %lld..%lld", i, d.rank, (int)d.mode, (int)d.coord, (int)d.nearest,
             (double)d.cubic_coeff_a, d.exclude_outside, (long long)d.in[0],
             (long long)d.in[d.rank - 1], (long long)d.out[0], (long long)d.out[d.rank - 1]);
    free(run_resize(ts, what, &d, x));
    free(x);
  }
}

static void test_errors(test_state *ts) {
  snt_k_resize_desc d = desc4(2, 2, 2, 2, 0, 0, SNT_K_RESIZE_LINEAR, SNT_K_COORD_HALF_PIXEL);
  float x[4] = {0}, y[16];
  d.scales[2] = 0;
  CHECK_INT(ts, snt_k_resize(&d, x, y, NULL), SNT_ERR_INPUT);
  d.scales[2] = 2, d.rank = 0;
  CHECK_INT(ts, snt_k_resize(&d, x, y, NULL), SNT_ERR_INPUT);
}

/* snt_k_resize_ctx on 2 threads: large enough maps that each pass runs on the team (a U-Net's 2x
 * bilinear upsample, shrinking, cubic, nearest, tf_crop_and_resize's extrapolation), the same bits as
 * one thread (whose values the cases above check against the reference, which is exponential in
 * the rank and holds axes of at most 64). */
static void test_team(test_state *ts) {
  snt_k_ctx *c2 = snt_k_ctx_create(2);
  rng r = {0x7ea3};
  static const struct { int64_t in[4], out[4]; snt_k_resize_mode mode; snt_k_resize_coord coord; } cs[] = {
      {{1, 32, 64, 64}, {1, 32, 128, 128}, SNT_K_RESIZE_LINEAR, SNT_K_COORD_HALF_PIXEL},
      {{2, 8, 90, 70}, {2, 8, 45, 35}, SNT_K_RESIZE_LINEAR, SNT_K_COORD_ALIGN_CORNERS},
      {{1, 16, 40, 60}, {1, 16, 100, 75}, SNT_K_RESIZE_CUBIC, SNT_K_COORD_HALF_PIXEL},
      {{3, 4, 50, 50}, {3, 4, 150, 100}, SNT_K_RESIZE_NEAREST, SNT_K_COORD_ASYMMETRIC},
      {{1, 8, 60, 80}, {1, 8, 90, 120}, SNT_K_RESIZE_LINEAR, SNT_K_COORD_TF_CROP_AND_RESIZE},
  };
  for (int i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++) {
    snt_k_resize_desc d = {.rank = 4, .mode = cs[i].mode, .coord = cs[i].coord, .cubic_coeff_a = -0.75f,
                           .extrapolation_value = -3.0f};
    for (int a = 0; a < 4; a++) {
      d.in[a] = cs[i].in[a], d.out[a] = cs[i].out[a], d.scales[a] = (float)cs[i].out[a] / (float)cs[i].in[a];
      d.roi[a] = a < 2 ? 0.0f : -0.1f, d.roi[4 + a] = a < 2 ? 1.0f : 1.2f;
    }
    int64_t nx = prod64(d.in, 4), ny = prod64(d.out, 4);
    float *x = alloc_f(nx), *got = alloc_nan(ny);
    rng_fill(&r, x, nx);
    float *one = alloc_nan(ny);
    void *scratch = xmalloc(snt_k_resize_scratch_bytes(&d));
    CHECK_INT(ts, snt_k_resize(&d, x, one, scratch), SNT_OK);
    CHECK_INT(ts, snt_k_resize_ctx(c2, &d, x, got, scratch), SNT_OK);
    ts->checks++;
    if (memcmp(one, got, (size_t)ny * sizeof(float))) {
      ts->failures++;
      fprintf(stderr, "resize team case %d: 2 threads differ from one\n", i);
    }
    free(x), free(got), free(one), free(scratch);
  }
  snt_k_ctx_destroy(c2);
}

int main(void) {
  test_state ts = {0};
  test_team(&ts);
  test_onnx_cases(&ts);
  test_random(&ts);
  test_errors(&ts);
  return test_report("test_kernels_resize", &ts);
}
