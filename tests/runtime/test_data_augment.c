/* Augmentations against references written out here pixel by pixel: flips, brightness, contrast,
 * a quarter turn, an integer shift with the 'reflect' fill, zoom about the centre, the draws'
 * ranges and their determinism. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "sinter/data.h"

#define PX(img, c, y, x) ((img)->data[((size_t)(c) * (img)->height + (y)) * (img)->width + (x)])

/* A 3 x h x w image of fixed pseudo-random values in lo..hi. */
static snt_image make(int h, int w, float lo, float hi, unsigned seed) {
  snt_image img = {.width = w, .height = h, .channels = 3};
  img.data = malloc(sizeof *img.data * 3 * (size_t)h * w);
  uint32_t s = seed * 2654435761u + 7;
  for (int i = 0; i < 3 * h * w; i++) {
    s = s * 1664525u + 1013904223u;
    img.data[i] = lo + (hi - lo) * (float)(s >> 8) / (float)(1 << 24);
  }
  return img;
}

static snt_image copy(const snt_image *a) {
  snt_image b = *a;
  size_t n = sizeof *a->data * 3 * (size_t)a->height * a->width;
  b.data = malloc(n);
  memcpy(b.data, a->data, n);
  return b;
}

static snt_augment_params none(void) {
  return (snt_augment_params){.zoom = 1.0, .contrast = 1.0};
}

static void apply(test_state *ts, const snt_augment_params *p, snt_image *img) {
  snt_err e = {{0}};
  CHECK_INT(ts, snt_augment_apply(p, img, &e), SNT_OK);
}

static void check_flips(test_state *ts) {
  snt_image in = make(5, 7, 0, 255, 1), h = copy(&in), v = copy(&in);
  snt_augment_params p = none();
  p.flip_h = 1;
  apply(ts, &p, &h);
  p = none();
  p.flip_v = 1;
  apply(ts, &p, &v);
  int ok = 1;
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < 5; y++)
      for (int x = 0; x < 7; x++)
        ok &= PX(&h, c, y, x) == PX(&in, c, y, 6 - x) && PX(&v, c, y, x) == PX(&in, c, 4 - y, x);
  CHECK(ts, ok);
  snt_image_free(&in), snt_image_free(&h), snt_image_free(&v);
}

static double mean(const snt_image *img, int c) {
  double s = 0;
  for (int i = 0; i < img->height * img->width; i++) s += img->data[(size_t)c * img->height * img->width + i];
  return s / (img->height * img->width);
}

static void check_brightness(test_state *ts) {
  snt_image in = make(6, 6, 20, 230, 2), out = copy(&in);
  snt_augment_params p = none();
  p.brightness = 12.75;  /* 0.05 * 255; no pixel leaves 0..255 */
  apply(ts, &p, &out);
  for (int c = 0; c < 3; c++) CHECK(ts, fabs(mean(&out, c) - mean(&in, c) - 12.75) < 1e-4);
  p.brightness = 100;  /* now the bright pixels clip at 255, as Keras's RandomBrightness */
  apply(ts, &p, &out);
  int ok = 1, clipped = 0;
  for (int i = 0; i < 3 * 36; i++) clipped += out.data[i] == 255.0f;
  CHECK(ts, clipped > 0);
  for (int i = 0; i < 3 * 36; i++) ok &= fabsf(out.data[i] - fminf(in.data[i] + 112.75f, 255.0f)) < 1e-3f;
  CHECK(ts, ok);
  snt_image_free(&in), snt_image_free(&out);
}

static void check_contrast(test_state *ts) {
  snt_image in = make(8, 5, 100, 150, 3), out = copy(&in);
  snt_augment_params p = none();
  p.contrast = 1.5;
  apply(ts, &p, &out);
  int ok = 1;
  for (int c = 0; c < 3; c++) {
    double m = mean(&in, c);
    ok &= fabs(mean(&out, c) - m) < 1e-3;
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 5; x++) ok &= fabs((PX(&out, c, y, x) - m) - 1.5 * (PX(&in, c, y, x) - m)) < 1e-3;
  }
  CHECK(ts, ok);
  snt_image_free(&in), snt_image_free(&out);
}

/* angle pi/2 (counter-clockwise): out[y][x] = in[x][n-1-y], the transpose flipped vertically. */
static void check_quarter_turn(test_state *ts) {
  enum { N = 6 };
  snt_image in = make(N, N, 0, 255, 4), out = copy(&in);
  snt_augment_params p = none();
  p.angle = 3.14159265358979323846 / 2;
  apply(ts, &p, &out);
  double worst = 0;
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < N; y++)
      for (int x = 0; x < N; x++) {
        float transposed_flipped = PX(&in, c, x, N - 1 - y);
        worst = fmax(worst, fabs(PX(&out, c, y, x) - transposed_flipped));
      }
  CHECK(ts, worst < 1e-3);
  snt_image_free(&in), snt_image_free(&out);
}

/* dx = 2: content moves right; columns 0 and 1 reflect (d c b a | a b c d): in[1], in[0]. */
static void check_shift_reflect(test_state *ts) {
  snt_image in = make(4, 6, 0, 255, 5), out = copy(&in);
  snt_augment_params p = none();
  p.dx = 2;
  apply(ts, &p, &out);
  int ok = 1;
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < 4; y++) {
      ok &= fabsf(PX(&out, c, y, 0) - PX(&in, c, y, 1)) < 1e-4f;
      ok &= fabsf(PX(&out, c, y, 1) - PX(&in, c, y, 0)) < 1e-4f;
      for (int x = 2; x < 6; x++) ok &= fabsf(PX(&out, c, y, x) - PX(&in, c, y, x - 2)) < 1e-4f;
    }
  CHECK(ts, ok);
  snt_image_free(&in), snt_image_free(&out);
}

/* zoom 0.5 (in by 2x) on a 5x5 image: output (y, x) samples (1 + y/2, 1 + x/2); the centre stays. */
static void check_zoom(test_state *ts) {
  snt_image in = make(5, 5, 0, 255, 6), out = copy(&in);
  snt_augment_params p = none();
  p.zoom = 0.5;
  apply(ts, &p, &out);
  int ok = 1;
  for (int c = 0; c < 3; c++) {
    ok &= fabsf(PX(&out, c, 2, 2) - PX(&in, c, 2, 2)) < 1e-4f;
    ok &= fabsf(PX(&out, c, 0, 0) - PX(&in, c, 1, 1)) < 1e-4f;
    float mid = 0.5f * (PX(&in, c, 1, 1) + PX(&in, c, 1, 2));  /* (1, 1.5) */
    ok &= fabsf(PX(&out, c, 0, 1) - mid) < 1e-3f;
  }
  CHECK(ts, ok);
  snt_image_free(&in), snt_image_free(&out);
}

static void check_noop(test_state *ts) {
  snt_image in = make(7, 9, 0, 255, 7), out = copy(&in);
  snt_err e = {{0}};
  snt_augment off = {.contrast = {1, 1}}, zero = {0};
  CHECK_INT(ts, snt_augment_image(&off, 42, 3, 17, &out, &e), SNT_OK);
  CHECK_INT(ts, snt_augment_image(&zero, 42, 3, 18, &out, &e), SNT_OK);
  CHECK(ts, memcmp(in.data, out.data, sizeof *in.data * 3 * 63) == 0);
  snt_image_free(&in), snt_image_free(&out);
}

static int same_params(const snt_augment_params *a, const snt_augment_params *b) {
  return a->flip_h == b->flip_h && a->flip_v == b->flip_v && a->angle == b->angle && a->dy == b->dy &&
         a->dx == b->dx && a->zoom == b->zoom && a->brightness == b->brightness && a->contrast == b->contrast;
}

/* Ranges, frequencies, determinism of a key, and options not disturbing each other's draws. */
static void check_draws(test_state *ts) {
  const snt_augment all = {1, 1, 0.05, {0.9, 1.1}, 0.1, {0.2, 0.1}, 0.15};
  const double pi = 3.14159265358979323846;
  int ok = 1, flips = 0, vflips = 0, same_other_epoch = 0, n = 2000;
  for (int i = 0; i < n; i++) {
    snt_augment_params p, q, r;
    snt_augment_draw(&all, 42, 1, i, 100, 50, &p);
    snt_augment_draw(&all, 42, 1, i, 100, 50, &q);
    snt_augment_draw(&all, 42, 2, i, 100, 50, &r);
    ok &= same_params(&p, &q);
    same_other_epoch += same_params(&p, &r);
    flips += p.flip_h, vflips += p.flip_v;
    ok &= fabs(p.angle) <= 0.1 * 2 * pi && fabs(p.dy) <= 20 && fabs(p.dx) <= 5;
    ok &= p.zoom >= 0.85 && p.zoom <= 1.15 && fabs(p.brightness) <= 0.05 * 255;
    ok &= p.contrast >= 0.9 && p.contrast <= 1.1;
    snt_augment flip_only = {.flip_horizontal = 1}, flip_bright = {.flip_horizontal = 1, .brightness = 0.2};
    snt_augment_draw(&flip_only, 42, 1, i, 100, 50, &q);
    snt_augment_draw(&flip_bright, 42, 1, i, 100, 50, &r);
    ok &= q.flip_h == p.flip_h && r.flip_h == p.flip_h && q.brightness == 0 && r.brightness != 0;
  }
  CHECK(ts, ok);
  CHECK(ts, flips > 0.45 * n && flips < 0.55 * n && vflips > 0.45 * n && vflips < 0.55 * n);
  CHECK_INT(ts, same_other_epoch, 0);
  /* The same key gives the same image; another item another one. */
  snt_image a = make(16, 16, 0, 255, 8), b = copy(&a), c = copy(&a);
  snt_err e = {{0}};
  CHECK_INT(ts, snt_augment_image(&all, 7, 0, 5, &a, &e), SNT_OK);
  CHECK_INT(ts, snt_augment_image(&all, 7, 0, 5, &b, &e), SNT_OK);
  CHECK_INT(ts, snt_augment_image(&all, 7, 0, 6, &c, &e), SNT_OK);
  CHECK(ts, memcmp(a.data, b.data, sizeof *a.data * 3 * 256) == 0);
  CHECK(ts, memcmp(a.data, c.data, sizeof *a.data * 3 * 256) != 0);
  int in_range = 1;
  for (int i = 0; i < 3 * 256; i++) in_range &= a.data[i] >= 0 && a.data[i] <= 255;
  CHECK(ts, in_range);
  snt_image_free(&a), snt_image_free(&b), snt_image_free(&c);
}

int main(void) {
  test_state ts = {0};
  check_flips(&ts);
  check_brightness(&ts);
  check_contrast(&ts);
  check_quarter_turn(&ts);
  check_shift_reflect(&ts);
  check_zoom(&ts);
  check_noop(&ts);
  check_draws(&ts);
  return test_report("test_data_augment", &ts);
}
