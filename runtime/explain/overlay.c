/* The Grad-CAM overlay: the picture in gray or colour, the map in viridis over it, a caption. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/explain/gradcam.h"
#include "sinter/report.h"

/* matplotlib's viridis at 0, 1/8, ..., 1 (perceptually uniform, readable in gray print). */
static const uint8_t viridis[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},   {44, 113, 142}, {33, 144, 141},
                                      {39, 173, 129}, {92, 200, 99},  {170, 220, 50},  {253, 231, 37}};

static void colour(float v, float rgb[3]) {
  v = v < 0 ? 0 : v > 1 ? 1 : v;
  float at = v * 8;
  int i = at >= 8 ? 7 : (int)at;
  float f = at - (float)i;
  for (int c = 0; c < 3; c++) rgb[c] = (float)viridis[i][c] * (1 - f) + (float)viridis[i + 1][c] * f;
}

static uint8_t clamp8(float v) { return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f); }

/* The picture at most max_side on its longer side (the caller frees it). */
static int base_picture(const snt_image *img, int max_side, snt_image *out, snt_err *e) {
  int w = img->width, h = img->height, side = w > h ? w : h;
  if (side > max_side) {
    w = (int)((int64_t)w * max_side / side), h = (int)((int64_t)h * max_side / side);
    w = w < 1 ? 1 : w, h = h < 1 ? 1 : h;
  }
  return snt_image_resize_bilinear(img, h, w, out, e) == SNT_OK ? 0 : -1;
}

static void caption_box(snt_canvas *c, const char *caption) {
  int scale = c->width >= 512 ? 3 : c->width >= 256 ? 2 : 1, pad = 2 * scale;
  int tw = snt_text_width(caption, scale), th = snt_text_height(scale);
  snt_canvas_fill_rect(c, 0, 0, tw + 2 * pad, th + 2 * pad, (snt_rgb){0, 0, 0});
  snt_canvas_text(c, pad, pad, scale, (snt_rgb){255, 255, 255}, caption);
}

int snt_gradcam_overlay(const snt_image *img, const snt_gradcam_result *r, const char *caption, int max_side,
                        uint8_t **rgb, int *w, int *h, snt_err *e) {
  *rgb = NULL;
  snt_image pic = {0}, heat = {0};
  snt_image map = {.width = r->w, .height = r->h, .channels = 1, .data = r->map};
  if (base_picture(img, max_side, &pic, e)) return -1;
  if (snt_image_resize_bilinear(&map, pic.height, pic.width, &heat, e) != SNT_OK) return snt_image_free(&pic), -1;
  snt_canvas c = {0};
  if (snt_canvas_init(&c, pic.width, pic.height, (snt_rgb){0, 0, 0}, e) != SNT_OK) {
    snt_image_free(&pic), snt_image_free(&heat);
    return -1;
  }
  size_t plane = (size_t)pic.width * (size_t)pic.height;
  const float alpha = 0.45f; /* enough heat to read, enough picture to see the anatomy */
  for (size_t i = 0; i < plane; i++) {
    float hc[3];
    colour(heat.data[i], hc);
    for (int ch = 0; ch < 3; ch++) {
      float p = pic.data[(size_t)(pic.channels >= 3 ? ch : 0) * plane + i];
      c.px[i * 3 + (size_t)ch] = clamp8((1 - alpha) * p + alpha * hc[ch]);
    }
  }
  if (caption && *caption) caption_box(&c, caption);
  *rgb = c.px, *w = c.width, *h = c.height;
  snt_image_free(&pic), snt_image_free(&heat);
  return 0;
}
