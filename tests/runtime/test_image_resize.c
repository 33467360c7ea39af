/* Bilinear resize = tf.image.resize(method='bilinear', antialias=False): hand-computed cases, an
 * exact identity, and agreement with a naive implementation written here from the formula in
 * double precision.
 *
 * Not compared with PyTorch's F.interpolate here: python3-torch is not installed on the machine
 * this test was written on, so that comparison is left out rather than skipped at run time. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "image_fixtures.h"

static snt_image make(int c, int h, int w, const float *values) {
  snt_image img = {.width = w, .height = h, .channels = c, .data = malloc(sizeof(float) * c * h * w)};
  memcpy(img.data, values, sizeof(float) * c * h * w);
  return img;
}

static float max_abs_diff(const float *a, const float *b, size_t n) {
  float worst = 0;
  for (size_t i = 0; i < n; i++) worst = fmaxf(worst, fabsf(a[i] - b[i]));
  return worst;
}

/* Resizes and compares with `want` (c*out_h*out_w values) within `tol`. */
static void check_resize(test_state *ts, const char *what, const snt_image *in, int out_h, int out_w,
                         const float *want, float tol) {
  snt_image out;
  snt_err e = {{0}};
  snt_status st = snt_image_resize_bilinear(in, out_h, out_w, &out, &e);
  if (st != SNT_OK) fprintf(stderr, "%s: %s\n", what, e.msg);
  CHECK_INT(ts, st, SNT_OK);
  CHECK_INT(ts, out.width, out_w);
  CHECK_INT(ts, out.height, out_h);
  CHECK_INT(ts, out.channels, in->channels);
  if (st == SNT_OK) {
    float d = max_abs_diff(out.data, want, (size_t)in->channels * out_h * out_w);
    if (d > tol) fprintf(stderr, "%s: off by %g (tolerance %g)\n", what, d, tol);
    CHECK(ts, d <= tol);
  }
  snt_image_free(&out);
}

/* The formula, naively, in double: src = (dst + 0.5) * in / out - 0.5, clamped into the image,
 * then the four neighbours weighted by their distances. */
static void naive(const snt_image *in, int out_h, int out_w, float *out) {
  for (int c = 0; c < in->channels; c++)
    for (int y = 0; y < out_h; y++)
      for (int x = 0; x < out_w; x++) {
        double sy = (y + 0.5) * in->height / out_h - 0.5, sx = (x + 0.5) * in->width / out_w - 0.5;
        sy = fmin(fmax(sy, 0.0), in->height - 1.0);
        sx = fmin(fmax(sx, 0.0), in->width - 1.0);
        int y0 = (int)floor(sy), x0 = (int)floor(sx);
        int y1 = y0 + 1 < in->height ? y0 + 1 : y0, x1 = x0 + 1 < in->width ? x0 + 1 : x0;
        double fy = sy - y0, fx = sx - x0;
        const float *p = in->data + (size_t)c * in->height * in->width;
#define AT(yy, xx) (double)p[(size_t)(yy) * in->width + (xx)]
        double v = (1 - fy) * ((1 - fx) * AT(y0, x0) + fx * AT(y0, x1)) + fy * ((1 - fx) * AT(y1, x0) + fx * AT(y1, x1));
#undef AT
        out[((size_t)c * out_h + y) * out_w + x] = (float)v;
      }
}

static void check_hand_computed(test_state *ts) {
  /* 2x2 -> 4x4: source coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1). */
  const float a[4] = {0, 10, 20, 30};
  const float a_up[16] = {0, 2.5f, 7.5f, 10,  5, 7.5f, 12.5f, 15,  15, 17.5f, 22.5f, 25,  20, 22.5f, 27.5f, 30};
  snt_image in = make(1, 2, 2, a);
  check_resize(ts, "2x2 -> 4x4", &in, 4, 4, a_up, 0);
  snt_image_free(&in);

  /* 4x4 -> 2x2: sources 0.5 and 2.5, so each output is the mean of a 2x2 block. */
  float b[16];
  for (int i = 0; i < 16; i++) b[i] = (float)i;
  const float b_down[4] = {2.5f, 4.5f, 10.5f, 12.5f};
  in = make(1, 4, 4, b);
  check_resize(ts, "4x4 -> 2x2", &in, 2, 2, b_down, 0);
  snt_image_free(&in);

  /* 3x5 -> 7x2 on v = 10 y + x, which bilinear reproduces exactly between the clamps:
   * x sources (d + 0.5) * 5/2 - 0.5 = 0.75, 3.25; y sources (d + 0.5) * 3/7 - 0.5 =
   * -2/7 (clamped to 0), 1/7, 4/7, 1, 10/7, 13/7, 16/7 (clamped to 2). Two channels, the
   * second the first plus 100, to check that planes stay apart. */
  float c[2 * 15];
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 5; x++) c[y * 5 + x] = (float)(10 * y + x), c[15 + y * 5 + x] = (float)(100 + 10 * y + x);
  const double sy[7] = {0, 1.0 / 7, 4.0 / 7, 1, 10.0 / 7, 13.0 / 7, 2}, sx[2] = {0.75, 3.25};
  float c_want[2 * 14];
  for (int ch = 0; ch < 2; ch++)
    for (int y = 0; y < 7; y++)
      for (int x = 0; x < 2; x++) c_want[ch * 14 + y * 2 + x] = (float)(100 * ch + 10 * sy[y] + sx[x]);
  in = make(2, 3, 5, c);
  check_resize(ts, "3x5 -> 7x2", &in, 7, 2, c_want, 1e-4f);  /* 3/7 is not exact in float */
  snt_image_free(&in);

  /* 1x1 -> 3x5: every output is the one pixel. 1x4 -> 1x2: the row's pair means. */
  const float one[1] = {42}, ones[15] = {42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42};
  in = make(1, 1, 1, one);
  check_resize(ts, "1x1 -> 3x5", &in, 3, 5, ones, 0);
  snt_image_free(&in);
  const float row[4] = {0, 100, 50, 250}, row_half[2] = {50, 150};
  in = make(1, 1, 4, row);
  check_resize(ts, "1x4 -> 1x2", &in, 1, 2, row_half, 0);
  snt_image_free(&in);
}

static void check_identity(test_state *ts) {
  const int c = 3, h = 7, w = 9;
  float v[3 * 7 * 9];
  for (int i = 0; i < c * h * w; i++) v[i] = (float)((i * 7919) % 256) + 0.125f * (i % 8);
  snt_image in = make(c, h, w, v), out;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_image_resize_bilinear(&in, h, w, &out, &e), SNT_OK);
  CHECK(ts, out.data && out.data != in.data && memcmp(out.data, v, sizeof v) == 0);
  snt_image_free(&out);
  snt_image_free(&in);
}

/* Against the naive double version on random pixels. The kernel works in float like TF, whose
 * scale in/out is rounded to float: a source coordinate can be off by about in_size * 2^-23
 * (< 4e-4 px below 3000 px), and with neighbours up to 255 apart that moves a value by < 0.1;
 * 0.05 covers the sizes used here (largest 640 px: 640 * 2^-23 * 255 ~ 0.02). A wrong
 * half-pixel offset or a missing clamp is off by whole levels. */
static void check_against_naive(test_state *ts) {
  static const int sizes[][4] = {
      {299, 299, 224, 224}, {256, 256, 224, 224}, {256, 256, 299, 299}, {5, 3, 17, 11},
      {31, 17, 7, 40},      {1, 9, 4, 3},         {9, 1, 2, 8},         {640, 480, 224, 224},
      {2, 2, 1, 1},         {3, 7, 3, 8},
  };
  uint32_t state = 12345;
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    int ih = sizes[k][0], iw = sizes[k][1], oh = sizes[k][2], ow = sizes[k][3], c = k % 2 ? 1 : 3;
    float *v = malloc(sizeof(float) * c * ih * iw), *want = malloc(sizeof(float) * c * oh * ow);
    for (int i = 0; i < c * ih * iw; i++) {
      state = state * 1664525u + 1013904223u;
      v[i] = (float)(state >> 24);
    }
    snt_image in = {.width = iw, .height = ih, .channels = c, .data = v};
    naive(&in, oh, ow, want);
    char what[64];
    snprintf(what, sizeof what, "%dx%d -> %dx%d (%d ch) vs naive", ih, iw, oh, ow, c);
    check_resize(ts, what, &in, oh, ow, want, 0.05f);
    free(v);
    free(want);
  }
}

/* A real X-ray, when the shared data is there: 299x299 -> 224x224 against the naive version. */
static void check_real(test_state *ts) {
  char path[1024];
  snprintf(path, sizeof path, "%s/data/cxr-native/Normal/images", SINTER_SHARED_DIR);
  int count = 0;
  char **names = fx_list_dir(path, ".png", &count);
  if (count == 0) {
    fprintf(stderr, "note: %s is not there; no real image resized\n", path);
    return;
  }
  char file[1200];
  snprintf(file, sizeof file, "%s/%s", path, names[0]);
  fx_free_list(names, count);
  snt_image img;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_image_load(file, &img, &e), SNT_OK);
  if (!img.data) return;
  float *want = malloc(sizeof(float) * 3 * 224 * 224);
  naive(&img, 224, 224, want);
  check_resize(ts, file, &img, 224, 224, want, 0.05f);
  free(want);
  snt_image_free(&img);
}

static void check_errors(test_state *ts) {
  float v[4] = {1, 2, 3, 4};
  snt_image in = {.width = 2, .height = 2, .channels = 1, .data = v}, out;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_image_resize_bilinear(&in, 0, 5, &out, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "resize output") && strstr(e.msg, "5x0"));
  CHECK(ts, out.data == NULL);
  CHECK_INT(ts, snt_image_resize_bilinear(&in, 40000, 5, &out, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "more than 32768") != NULL);
  CHECK_INT(ts, snt_image_resize_bilinear(&in, 20000, 20000, &out, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "2^28") != NULL);
  CHECK_INT(ts, snt_image_resize_bilinear(&in, 2, 2, &in, &e), SNT_ERR_INTERNAL);
  CHECK(ts, in.data == v);  /* refusing the alias left the input alone */
  CHECK_INT(ts, snt_image_resize_bilinear(NULL, 2, 2, &out, &e), SNT_ERR_INTERNAL);
  snt_image empty = {0};
  CHECK_INT(ts, snt_image_resize_bilinear(&empty, 2, 2, &out, NULL), SNT_ERR_INTERNAL);
  snt_image no_channels = {.width = 2, .height = 2, .channels = 0, .data = v};
  CHECK_INT(ts, snt_image_resize_bilinear(&no_channels, 2, 2, &out, &e), SNT_ERR_INPUT);
}

int main(void) {
  test_state ts = {0};
  check_hand_computed(&ts);
  check_identity(&ts);
  check_against_naive(&ts);
  check_real(&ts);
  check_errors(&ts);
  return test_report("test_image_resize", &ts);
}
