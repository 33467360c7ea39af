/* JPEG decoding: grayscale, YCbCr, progressive, CMYK (Adobe-inverted and plain) and YCCK.
 *
 * Two checks per fixture:
 *  - exact: the loader must equal libjpeg's own decode of the same file with the same settings
 *    (IFAST IDCT and fancy upsampling, TF's defaults), followed for CMYK by TF's formula;
 *  - close: the decode must be within JPEG_TOLERANCE of the pixels that were encoded. The files
 *    are written at quality 100, where every quantisation step is 1, so the only losses are the
 *    rounding of DCT coefficients, of the YCbCr (or YCCK) conversion both ways and the lower
 *    precision of the IFAST IDCT; the patterns are smooth ramps, so 4:2:0 chroma subsampling
 *    loses little. libjpeg-turbo 2.1.5 measures at most 5 levels (YCbCr 4:2:0, from the
 *    subsampled chroma) and 1 to 3 for the other fixtures (run with SHOW_JPEG_ERROR=1 to see);
 *    the tolerance leaves room for other libjpeg builds while still catching a wrong colour
 *    conversion (swapped channels, a missing CMYK inversion), which is off by tens of levels. */
#include <stdlib.h>

#include "check.h"
#include "image_fixtures.h"

enum { JPEG_TOLERANCE = 8 };

/* A smooth ramp in each component (interleaved, `comps` samples a pixel, w <= 40, h <= 20). */
static unsigned char *ramp(int w, int h, int comps) {
  unsigned char *p = malloc((size_t)w * h * comps);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      const int v[4] = {30 + 4 * x, 40 + 3 * y, 200 - 2 * x - y, 60 + x + y};
      for (int c = 0; c < comps; c++) p[((size_t)y * w + x) * comps + c] = (unsigned char)v[c];
    }
  return p;
}

/* Loads `path` and checks it against libjpeg's decode (`ref`, interleaved RGB) exactly and
 * against the encoded pixels (`orig`, interleaved RGB) within JPEG_TOLERANCE. */
static void check_decoded(test_state *ts, const char *path, int w, int h, const unsigned char *ref,
                          const unsigned char *orig) {
  snt_image img;
  snt_err e = {{0}};
  snt_status st = snt_image_load(path, &img, &e);
  if (st != SNT_OK) fprintf(stderr, "%s\n", e.msg);
  CHECK_INT(ts, st, SNT_OK);
  CHECK_INT(ts, img.width, w);
  CHECK_INT(ts, img.height, h);
  CHECK_INT(ts, img.channels, 3);
  if (st == SNT_OK && img.width == w && img.height == h) {
    long at = fx_first_diff_rgb(&img, ref);
    if (at >= 0) fprintf(stderr, "%s: differs from libjpeg's decode at value %ld\n", path, at);
    CHECK_INT(ts, at, -1);
    int worst = fx_max_abs_diff_rgb(&img, orig);
    if (getenv("SHOW_JPEG_ERROR") || worst > JPEG_TOLERANCE) fprintf(stderr, "%s: %d levels from the encoded pixels\n", path, worst);
    CHECK(ts, worst <= JPEG_TOLERANCE);
  }
  snt_image_free(&img);
}

static void check_gray(test_state *ts) {
  const int w = 21, h = 13;  /* not a multiple of the 8x8 block */
  unsigned char *g = ramp(w, h, 1);
  char path[512];
  fx_tmp(path, sizeof path, "jpeg_gray.jpg");
  fx_jpeg s = {.width = w, .height = h, .components = 1, .quality = 100, .in_space = JCS_GRAYSCALE,
               .store_space = JCS_GRAYSCALE, .adobe_marker = -1, .pixels = g};
  CHECK_INT(ts, fx_write_jpeg(path, &s), 0);
  int rw = 0, rh = 0, rc = 0;
  unsigned char *ref = fx_read_jpeg_ref(path, JCS_GRAYSCALE, &rw, &rh, &rc, NULL);
  CHECK(ts, ref && rc == 1);
  if (ref && rc == 1) {
    /* Three equal channels: libjpeg's gray decode replicated, and the ramp replicated. */
    unsigned char *ref3 = malloc((size_t)w * h * 3), *orig3 = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++)
      for (int c = 0; c < 3; c++) ref3[3 * i + c] = ref[i], orig3[3 * i + c] = g[i];
    check_decoded(ts, path, w, h, ref3, orig3);
    free(ref3);
    free(orig3);
  }
  free(ref);
  free(g);
}

static void check_rgb(test_state *ts, const char *name, int progressive, J_COLOR_SPACE store) {
  const int w = 37, h = 19;  /* odd sizes: partial MCUs with 4:2:0 subsampling */
  unsigned char *p = ramp(w, h, 3);
  char path[512];
  fx_tmp(path, sizeof path, name);
  fx_jpeg s = {.width = w, .height = h, .components = 3, .quality = 100, .progressive = progressive,
               .in_space = JCS_RGB, .store_space = store, .adobe_marker = -1, .pixels = p};
  CHECK_INT(ts, fx_write_jpeg(path, &s), 0);
  int rw = 0, rh = 0, rc = 0;
  unsigned char *ref = fx_read_jpeg_ref(path, JCS_RGB, &rw, &rh, &rc, NULL);
  CHECK(ts, ref && rc == 3 && rw == w && rh == h);
  if (ref && rc == 3) check_decoded(ts, path, w, h, ref, p);
  free(ref);
  free(p);
}

/* TF's CMYK -> RGB (jpeg_mem.cc), integer division truncating. */
static void cmyk_to_rgb(const unsigned char *cmyk, int n, int adobe, unsigned char *rgb) {
  for (int i = 0; i < n; i++) {
    int k = cmyk[4 * i + 3];
    for (int c = 0; c < 3; c++) {
      int v = cmyk[4 * i + c];
      rgb[3 * i + c] = (unsigned char)(adobe ? k * v / 255 : (255 - k) * (255 - v) / 255);
    }
  }
}

static void check_cmyk(test_state *ts, const char *name, J_COLOR_SPACE store, int adobe_marker) {
  const int w = 16, h = 11;
  unsigned char *cmyk = ramp(w, h, 4);
  char path[512];
  fx_tmp(path, sizeof path, name);
  fx_jpeg s = {.width = w, .height = h, .components = 4, .quality = 100, .in_space = JCS_CMYK,
               .store_space = store, .adobe_marker = adobe_marker, .pixels = cmyk};
  CHECK_INT(ts, fx_write_jpeg(path, &s), 0);
  int rw = 0, rh = 0, rc = 0, adobe = -1;
  unsigned char *ref = fx_read_jpeg_ref(path, JCS_CMYK, &rw, &rh, &rc, &adobe);
  CHECK(ts, ref && rc == 4);
  CHECK_INT(ts, adobe, adobe_marker != 0);  /* the fixture has the marker it was meant to have */
  if (ref && rc == 4) {
    unsigned char *ref_rgb = malloc((size_t)w * h * 3), *orig_rgb = malloc((size_t)w * h * 3);
    cmyk_to_rgb(ref, w * h, adobe, ref_rgb);
    cmyk_to_rgb(cmyk, w * h, adobe, orig_rgb);
    check_decoded(ts, path, w, h, ref_rgb, orig_rgb);
    free(ref_rgb);
    free(orig_rgb);
  }
  free(ref);
  free(cmyk);
}

/* Hand-checked CMYK values: solid 8x8 blocks survive quality 100 within a level, so the
 * conversion formula itself is visible. */
static void check_cmyk_solid(test_state *ts) {
  char path[512];
  fx_tmp(path, sizeof path, "jpeg_cmyk_solid.jpg");
  unsigned char px[8 * 8 * 4];
  for (int i = 0; i < 64; i++) px[4 * i] = 255, px[4 * i + 1] = 0, px[4 * i + 2] = 128, px[4 * i + 3] = 200;
  fx_jpeg s = {.width = 8, .height = 8, .components = 4, .quality = 100, .in_space = JCS_CMYK,
               .store_space = JCS_CMYK, .adobe_marker = 1, .pixels = px};
  CHECK_INT(ts, fx_write_jpeg(path, &s), 0);
  snt_image img;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_image_load(path, &img, &e), SNT_OK);
  if (img.data) {
    /* Adobe: R = K*C/255 = 200, G = K*M/255 = 0, B = 200*128/255 = 100. */
    CHECK(ts, img.data[0] >= 199 && img.data[0] <= 201);
    CHECK(ts, img.data[64] <= 1);
    CHECK(ts, img.data[128] >= 99 && img.data[128] <= 101);
  }
  snt_image_free(&img);
}

/* A JPEG named .png loads as a JPEG: the format is sniffed from the bytes. */
static void check_sniffing(test_state *ts) {
  char path[512];
  fx_tmp(path, sizeof path, "jpeg_named.png");
  unsigned char g[8 * 8];
  memset(g, 77, sizeof g);
  fx_jpeg s = {.width = 8, .height = 8, .components = 1, .quality = 100, .in_space = JCS_GRAYSCALE,
               .store_space = JCS_GRAYSCALE, .adobe_marker = -1, .pixels = g};
  CHECK_INT(ts, fx_write_jpeg(path, &s), 0);
  snt_image img;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_image_load(path, &img, &e), SNT_OK);
  CHECK_INT(ts, img.width, 8);
  if (img.data) CHECK(ts, img.data[0] == 77 && img.data[64] == 77 && img.data[128 + 63] == 77);
  snt_image_free(&img);
}

int main(void) {
  test_state ts = {0};
  check_gray(&ts);
  check_rgb(&ts, "jpeg_ycbcr.jpg", 0, JCS_YCbCr);
  check_rgb(&ts, "jpeg_ycbcr_progressive.jpg", 1, JCS_YCbCr);
  check_rgb(&ts, "jpeg_rgb_stored.jpg", 0, JCS_RGB);  /* Adobe transform 0: RGB stored as is */
  check_cmyk(&ts, "jpeg_cmyk_adobe.jpg", JCS_CMYK, -1);  /* libjpeg writes the Adobe marker */
  check_cmyk(&ts, "jpeg_cmyk_plain.jpg", JCS_CMYK, 0);
  check_cmyk(&ts, "jpeg_ycck.jpg", JCS_YCCK, -1);
  check_cmyk_solid(&ts);
  check_sniffing(&ts);
  return test_report("test_image_jpeg", &ts);
}
