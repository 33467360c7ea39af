/* Training augmentations with Keras's semantics (RandomFlip, RandomRotation, RandomTranslation,
 * RandomZoom, RandomBrightness, RandomContrast), drawn from the counter-based generator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/data.h"

/* Draw numbers: one per option, fixed, so options do not shift each other's randomness. */
enum { D_FLIP_H, D_FLIP_V, D_ROTATE, D_SHIFT_Y, D_SHIFT_X, D_ZOOM, D_BRIGHT, D_CONTRAST };

static int contrast_on(const double c[2]) {
  return !(c[0] == 1.0 && c[1] == 1.0) && !(c[0] == 0.0 && c[1] == 0.0);
}

void snt_augment_draw(const snt_augment *o, uint64_t seed, int epoch, int64_t item, int height,
                      int width, snt_augment_params *p) {
  const double two_pi = 6.283185307179586476925286766559;
  /* The epoch folds into the seed, leaving the index for the item: key (seed, epoch, item, draw). */
  uint64_t s = snt_rng_u64(seed, SNT_RNG_STREAM_AUGMENT, (uint64_t)(int64_t)epoch, 0);
#define U(d) snt_rng_uniform(s, SNT_RNG_STREAM_AUGMENT, (uint64_t)item, (d))
#define SYM(d) (2.0 * U(d) - 1.0)
  *p = (snt_augment_params){.zoom = 1.0, .contrast = 1.0};
  p->flip_h = o->flip_horizontal && U(D_FLIP_H) < 0.5;
  p->flip_v = o->flip_vertical && U(D_FLIP_V) < 0.5;
  if (o->rotation != 0) p->angle = SYM(D_ROTATE) * o->rotation * two_pi;
  if (o->shift[0] != 0) p->dy = SYM(D_SHIFT_Y) * o->shift[0] * height;
  if (o->shift[1] != 0) p->dx = SYM(D_SHIFT_X) * o->shift[1] * width;
  if (o->zoom != 0) p->zoom = 1.0 + SYM(D_ZOOM) * o->zoom;
  if (o->brightness != 0) p->brightness = SYM(D_BRIGHT) * o->brightness * 255.0;
  if (contrast_on(o->contrast)) p->contrast = o->contrast[0] + U(D_CONTRAST) * (o->contrast[1] - o->contrast[0]);
#undef SYM
#undef U
}

static void flip_h(snt_image *img) {
  int w = img->width;
  for (long r = 0; r < (long)img->channels * img->height; r++) {
    float *row = img->data + r * w;
    for (int x = 0; x < w / 2; x++) {
      float t = row[x];
      row[x] = row[w - 1 - x];
      row[w - 1 - x] = t;
    }
  }
}

static void flip_v(snt_image *img) {
  int w = img->width, h = img->height;
  for (int c = 0; c < img->channels; c++) {
    float *plane = img->data + (size_t)c * h * w;
    for (int y = 0; y < h / 2; y++) {
      float *a = plane + (size_t)y * w, *b = plane + (size_t)(h - 1 - y) * w;
      for (int x = 0; x < w; x++) {
        float t = a[x];
        a[x] = b[x];
        b[x] = t;
      }
    }
  }
}

/* TF's fill_mode='reflect' (d c b a | a b c d | d c b a), as MapCoordinate<REFLECT> in
 * tensorflow/core/kernels/image/image_ops.h, then clamped to the image. */
static double reflect(double v, int len) {
  if (len <= 1) return 0;
  double sz2 = 2.0 * len;
  if (v < 0) {
    v += sz2 * (double)(long)(-v / sz2);
    v = v < -len ? v + sz2 : -v - 1;
  } else if (v > len - 1) {
    v -= sz2 * (double)(long)(v / sz2);
    if (v >= len) v = sz2 - v - 1;
  }
  return v < 0 ? 0 : v > len - 1 ? len - 1 : v;
}

/* Bilinear sample of one plane at (y, x), both already inside the image. */
static float sample(const float *plane, int h, int w, double y, double x) {
  int y0 = (int)floor(y), x0 = (int)floor(x);
  int y1 = y0 + 1 < h ? y0 + 1 : h - 1, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
  double fy = y - y0, fx = x - x0;
  double top = plane[(size_t)y0 * w + x0] * (1 - fx) + plane[(size_t)y0 * w + x1] * fx;
  double bot = plane[(size_t)y1 * w + x0] * (1 - fx) + plane[(size_t)y1 * w + x1] * fx;
  return (float)(top * (1 - fy) + bot * fy);
}

/* One warp for rotation, translation and zoom, in Keras's layer order (rotate, then translate,
 * then zoom). Each output pixel p samples the input at R(p * zoom about the centre - d). */
static snt_status warp(const snt_augment_params *p, snt_image *img, snt_err *e) {
  int h = img->height, w = img->width;
  size_t plane = (size_t)h * w;
  float *src = malloc(sizeof *src * plane * (size_t)img->channels);
  if (!src) return snt_err_set(e, SNT_ERR_NOMEM, "out of memory warping a %dx%d image", w, h);
  memcpy(src, img->data, sizeof *src * plane * (size_t)img->channels);
  double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0, cs = cos(p->angle), sn = sin(p->angle);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      double zx = p->zoom * (x - cx) - p->dx, zy = p->zoom * (y - cy) - p->dy;
      double ix = reflect(cs * zx - sn * zy + cx, w), iy = reflect(sn * zx + cs * zy + cy, h);
      for (int c = 0; c < img->channels; c++)
        img->data[c * plane + (size_t)y * w + x] = sample(src + c * plane, h, w, iy, ix);
    }
  }
  free(src);
  return SNT_OK;
}

static float clip255(double v) {
  return (float)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void brightness(snt_image *img, double delta) {
  size_t n = (size_t)img->channels * img->height * img->width;
  for (size_t i = 0; i < n; i++) img->data[i] = clip255(img->data[i] + delta);
}

/* tf.image.adjust_contrast: per channel, x' = (x - mean) * f + mean over the image's pixels. */
static void contrast(snt_image *img, double f) {
  size_t plane = (size_t)img->height * img->width;
  for (int c = 0; c < img->channels; c++) {
    float *v = img->data + c * plane;
    double sum = 0;
    for (size_t i = 0; i < plane; i++) sum += v[i];
    double mean = plane ? sum / (double)plane : 0;
    for (size_t i = 0; i < plane; i++) v[i] = clip255((v[i] - mean) * f + mean);
  }
}

snt_status snt_augment_apply(const snt_augment_params *p, snt_image *img, snt_err *e) {
  if (!img->data || img->width < 1 || img->height < 1)
    return snt_err_set(e, SNT_ERR_INPUT, "augment: empty image");
  if (p->flip_h) flip_h(img);
  if (p->flip_v) flip_v(img);
  if (p->angle != 0 || p->dy != 0 || p->dx != 0 || p->zoom != 1.0) {
    snt_status st = warp(p, img, e);
    if (st != SNT_OK) return st;
  }
  if (p->brightness != 0) brightness(img, p->brightness);
  if (p->contrast != 1.0) contrast(img, p->contrast);
  return SNT_OK;
}

snt_status snt_augment_image(const snt_augment *opts, uint64_t seed, int epoch, int64_t item,
                             snt_image *img, snt_err *e) {
  snt_augment_params p;
  snt_augment_draw(opts, seed, epoch, item, img->height, img->width, &p);
  return snt_augment_apply(&p, img, e);
}
