/* ONNX RoiAlign as ONNX Runtime computes it (after Caffe2/Detectron): each output bin averages
 * (or takes the max of) grid_h x grid_w bilinear samples; a sample more than one pixel outside
 * the map reads 0, one within clamps to the edge. The legacy output_half_pixel mode (opset 10)
 * does not shift coordinates by half a pixel and widens rois to at least one pixel. */
#include <math.h>

#include "sinter/kernels.h"

enum { MAX_GRID = 65536 };

static float sample(const snt_k_roi_align *p, const float *plane, float y, float x, int max_mode) {
  if (!(y >= -1.0f && y <= (float)p->h && x >= -1.0f && x <= (float)p->w)) return 0.0f; /* NaN too */
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
  if (y0 >= p->h - 1) y1 = y0 = p->h - 1, y = (float)y0;
  else y1 = y0 + 1;
  if (x0 >= p->w - 1) x1 = x0 = p->w - 1, x = (float)x0;
  else x1 = x0 + 1;
  float ly = y - (float)y0, lx = x - (float)x0, hy = 1 - ly, hx = 1 - lx;
  float v1 = hy * hx * plane[y0 * p->w + x0], v2 = hy * lx * plane[y0 * p->w + x1];
  float v3 = ly * hx * plane[y1 * p->w + x0], v4 = ly * lx * plane[y1 * p->w + x1];
  if (!max_mode) return v1 + v2 + v3 + v4;
  float m = v1 > v2 ? v1 : v2, k = v3 > v4 ? v3 : v4;
  return m > k ? m : k;
}

typedef struct roi_box {
  float y0, x0, bin_h, bin_w;
  int64_t grid_h, grid_w;
} roi_box;

static snt_status box_of(const snt_k_roi_align *p, const float *r, roi_box *b) {
  for (int i = 0; i < 4; i++)
    if (!isfinite(r[i])) return SNT_ERR_INPUT;
  float off = p->half_pixel ? 0.5f : 0.0f;
  float x0 = r[0] * p->spatial_scale - off, y0 = r[1] * p->spatial_scale - off;
  float rw = r[2] * p->spatial_scale - off - x0, rh = r[3] * p->spatial_scale - off - y0;
  if (!p->half_pixel) rw = rw > 1 ? rw : 1, rh = rh > 1 ? rh : 1;
  b->y0 = y0, b->x0 = x0, b->bin_h = rh / (float)p->out_h, b->bin_w = rw / (float)p->out_w;
  double gh = p->sampling_ratio > 0 ? (double)p->sampling_ratio : ceil((double)rh / (double)p->out_h);
  double gw = p->sampling_ratio > 0 ? (double)p->sampling_ratio : ceil((double)rw / (double)p->out_w);
  if (!(gh <= MAX_GRID && gw <= MAX_GRID)) return SNT_ERR_INPUT;
  b->grid_h = gh > 0 ? (int64_t)gh : 0, b->grid_w = gw > 0 ? (int64_t)gw : 0;
  return SNT_OK;
}

snt_status snt_k_roi_align_run(const snt_k_roi_align *p, const float *x, const float *rois, const int64_t *batch, float *y) {
  roi_box b;
  for (int64_t r = 0; r < p->rois; r++)
    if (batch[r] < 0 || batch[r] >= p->n || box_of(p, rois + 4 * r, &b)) return SNT_ERR_INPUT;
  for (int64_t r = 0; r < p->rois; r++) {
    box_of(p, rois + 4 * r, &b);
    int64_t count = b.grid_h * b.grid_w;
    for (int64_t c = 0; c < p->c; c++) {
      const float *plane = x + (batch[r] * p->c + c) * p->h * p->w;
      float *yp = y + (r * p->c + c) * p->out_h * p->out_w;
      for (int64_t ph = 0; ph < p->out_h; ph++)
        for (int64_t pw = 0; pw < p->out_w; pw++) {
          float acc = 0.0f;
          int first = 1;
          for (int64_t iy = 0; iy < b.grid_h; iy++) {
            float sy = b.y0 + (float)ph * b.bin_h + ((float)iy + 0.5f) * b.bin_h / (float)b.grid_h;
            for (int64_t ix = 0; ix < b.grid_w; ix++) {
              float sx = b.x0 + (float)pw * b.bin_w + ((float)ix + 0.5f) * b.bin_w / (float)b.grid_w;
              float v = sample(p, plane, sy, sx, p->max_mode);
              if (!p->max_mode) acc += v;
              else if (first || v > acc) acc = v;
              first = 0;
            }
          }
          yp[ph * p->out_w + pw] = p->max_mode ? acc : count > 0 ? acc / (float)count : 0.0f;
        }
    }
  }
  return SNT_OK;
}
