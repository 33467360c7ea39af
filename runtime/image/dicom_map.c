/* DICOM stored values to the model's 0..255 input (docs/dicom.md): modality LUT (Rescale
 * Slope/Intercept), then a VOI window, a VOI LUT or the stored bit range, then MONOCHROME1
 * inverted. Computed in double, stored as float, never rounded to whole levels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

/* PS3.3 C.11.2.1.2.1 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT) and C.11.2.1.3.1 (SIGMOID) with
 * ymin = 0, ymax = 255. */
static double window(snt_image__voi_fn fn, double c, double w, double x) {
  if (fn == SNT_VOI_SIGMOID) return 255.0 / (1.0 + exp(-4.0 * (x - c) / w));
  if (fn == SNT_VOI_LINEAR_EXACT) {
    if (x <= c - w / 2) return 0;
    if (x > c + w / 2) return 255;
    return ((x - c) / w + 0.5) * 255.0;
  }
  if (x <= c - 0.5 - (w - 1) / 2) return 0;
  if (x > c - 0.5 + (w - 1) / 2) return 255;
  return ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0;
}

/* The VOI LUT: inputs below the first mapped value take the first entry, above the last the
 * last; a non-integer input (after a fractional rescale) is rounded to the nearest entry. */
static double lut(const snt_image__dicom *d, double x) {
  double i = nearbyint(x) - (double)d->lut_first;
  long k = i <= 0 ? 0 : i >= (double)(d->lut_n - 1) ? d->lut_n - 1 : (long)i;
  return d->lut[k] * 255.0 / (double)((1L << d->lut_bits) - 1);
}

snt_status snt_image__dicom_map(const char *path, const snt_image__dicom *d, const snt_image_window *override,
                                float *out, snt_err *e) {
  const snt_image_window *win = override && override->set ? override : d->window.set ? &d->window : NULL;
  snt_image__voi_fn fn = win == &d->window ? d->voi_fn : SNT_VOI_LINEAR;
  if (win && fn == SNT_VOI_LINEAR && !(win->width >= 1))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: window width %g is below 1", path, win->width);
  /* Without a window: the stored range, through the modality LUT (both ends), onto 0..255. */
  double smin = d->is_signed ? -ldexp(1, d->bits_stored - 1) : 0;
  double smax = d->is_signed ? ldexp(1, d->bits_stored - 1) - 1 : ldexp(1, d->bits_stored) - 1;
  double a = d->slope * smin + d->intercept, b = d->slope * smax + d->intercept;
  double vmin = a < b ? a : b, span = fabs(b - a);
  size_t n = (size_t)d->width * (size_t)d->height;
  for (size_t i = 0; i < n; i++) {
    double v = d->slope * d->values[i] + d->intercept, y;
    if (win) y = window(fn, win->center, win->width, v);
    else if (d->lut) y = lut(d, v);
    else y = (v - vmin) * 255.0 / span;
    out[i] = (float)(d->monochrome1 ? 255.0 - y : y);
  }
  return SNT_OK;
}

snt_status snt_image__decode_dicom(const char *path, FILE *f, const snt_image__want *w, snt_image *out,
                                   snt_err *e) {
  snt_image__dicom d;
  snt_status st = snt_image__dicom_read(path, f, w->max_pixels, &d, e);
  if (st != SNT_OK) return st;
  size_t plane = (size_t)d.width * (size_t)d.height;
  float *data = malloc((size_t)w->channels * plane * sizeof *data);
  if (!data) {
    snt_image__dicom_free(&d);
    return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for a %dx%d image", path, d.width, d.height);
  }
  st = snt_image__dicom_map(path, &d, &w->window, data, e);
  /* Gray replicated to R, G, B; a 4th channel is opaque, as libpng adds to a gray PNG. */
  for (int c = 1; st == SNT_OK && c < w->channels; c++) {
    if (c < 3) memcpy(data + (size_t)c * plane, data, plane * sizeof *data);
    else
      for (size_t i = 0; i < plane; i++) data[(size_t)c * plane + i] = 255.0f;
  }
  if (st == SNT_OK) *out = (snt_image){.width = d.width, .height = d.height, .channels = w->channels, .data = data};
  else free(data);
  snt_image__dicom_free(&d);
  return st;
}
