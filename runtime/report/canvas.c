/* An RGB canvas for the report pictures: filled and outlined rectangles, anti-aliased thick
 * lines, and PNG output through the image module's atomic writer. */
#include <math.h>
#include <stdlib.h>

#include "sinter/report.h"

snt_status snt_canvas_init(snt_canvas *c, int width, int height, snt_rgb bg, snt_err *e) {
  if (!c) return snt_err_set(e, SNT_ERR_INTERNAL, "canvas: no canvas given");
  *c = (snt_canvas){0};
  if (width < 1 || height < 1 || width > SNT_IMAGE_MAX_SIDE || height > SNT_IMAGE_MAX_SIDE)
    return snt_err_set(e, SNT_ERR_INPUT, "canvas: a %d x %d picture is not drawable", width, height);
  size_t n = (size_t)width * height;
  uint8_t *px = malloc(n * 3);
  if (!px) return snt_err_set(e, SNT_ERR_NOMEM, "canvas: out of memory for %d x %d pixels", width, height);
  for (size_t i = 0; i < n; i++) px[3 * i] = bg.r, px[3 * i + 1] = bg.g, px[3 * i + 2] = bg.b;
  *c = (snt_canvas){.width = width, .height = height, .px = px};
  return SNT_OK;
}

void snt_canvas_free(snt_canvas *c) {
  if (!c) return;
  free(c->px);
  *c = (snt_canvas){0};
}

/* Mixes col into pixel (x, y) with weight a in 0..1; the caller has clipped. */
static void blend(snt_canvas *c, int x, int y, snt_rgb col, double a) {
  uint8_t *p = c->px + ((size_t)y * c->width + x) * 3;
  const uint8_t src[3] = {col.r, col.g, col.b};
  for (int k = 0; k < 3; k++) p[k] = (uint8_t)lrint(p[k] + (src[k] - p[k]) * a);
}

void snt_canvas_fill_rect(snt_canvas *c, int x, int y, int w, int h, snt_rgb col) {
  if (!c || !c->px || w <= 0 || h <= 0) return;
  int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
  int x1 = x + w > c->width ? c->width : x + w, y1 = y + h > c->height ? c->height : y + h;
  for (int yy = y0; yy < y1; yy++)
    for (int xx = x0; xx < x1; xx++) {
      uint8_t *p = c->px + ((size_t)yy * c->width + xx) * 3;
      p[0] = col.r, p[1] = col.g, p[2] = col.b;
    }
}

void snt_canvas_rect(snt_canvas *c, int x, int y, int w, int h, int thickness, snt_rgb col) {
  int t = thickness < 1 ? 1 : thickness;
  if (2 * t >= w || 2 * t >= h) {
    snt_canvas_fill_rect(c, x, y, w, h, col);
    return;
  }
  snt_canvas_fill_rect(c, x, y, w, t, col);
  snt_canvas_fill_rect(c, x, y + h - t, w, t, col);
  snt_canvas_fill_rect(c, x, y + t, t, h - 2 * t, col);
  snt_canvas_fill_rect(c, x + w - t, y + t, t, h - 2 * t, col);
}

/* Distance from (px, py) to the segment (x0, y0)-(x1, y1). */
static double seg_dist(double px, double py, double x0, double y0, double x1, double y1) {
  double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / len2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  double ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
  return sqrt(ex * ex + ey * ey);
}

void snt_canvas_line(snt_canvas *c, double x0, double y0, double x1, double y1, double thickness,
                     snt_rgb col) {
  if (!c || !c->px || !isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) return;
  double r = (thickness > 1 ? thickness : 1) / 2;
  /* Only the bounding box of the stroke (plus a pixel of anti-aliasing) is visited. */
  int bx0 = (int)floor(fmin(x0, x1) - r - 1), bx1 = (int)ceil(fmax(x0, x1) + r + 1);
  int by0 = (int)floor(fmin(y0, y1) - r - 1), by1 = (int)ceil(fmax(y0, y1) + r + 1);
  if (bx0 < 0) bx0 = 0;
  if (by0 < 0) by0 = 0;
  if (bx1 > c->width) bx1 = c->width;
  if (by1 > c->height) by1 = c->height;
  for (int y = by0; y < by1; y++)
    for (int x = bx0; x < bx1; x++) {
      /* Coverage falls linearly over the one pixel straddling the stroke's edge. */
      double a = r + 0.5 - seg_dist(x + 0.5, y + 0.5, x0, y0, x1, y1);
      if (a > 0) blend(c, x, y, col, a > 1 ? 1 : a);
    }
}

snt_status snt_canvas_write_png(const snt_canvas *c, const char *path, snt_err *e) {
  if (!c || !c->px) return snt_err_set(e, SNT_ERR_INTERNAL, "%s: no canvas to write", path ? path : "(null)");
  return snt_image_write_png(path, c->width, c->height, 3, c->px, e);
}
