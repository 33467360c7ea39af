/* Bilinear resizing as TF's ResizeBilinear with half_pixel_centers=True (tf.image.resize's
 * default). The per-column and per-row taps follow TF's compute_interpolation_weights and the
 * blend follows its compute_lerp, all in float, so results match TF's CPU kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

typedef struct tap {
  int lo, hi;  /* the two source indices, already clamped to [0, in_size - 1] */
  float w;     /* weight of hi; lo gets 1 - w through the lerp */
} tap;

static void compute_taps(int in_size, int out_size, tap *taps) {
  const float scale = (float)in_size / (float)out_size;
  for (int i = 0; i < out_size; i++) {
    const float src = ((float)i + 0.5f) * scale - 0.5f;
    const float lo = floorf(src);
    /* Left of the first centre src < 0: lo = -1 clamps to 0 and hi = ceil(src) = 0, so the
     * edge pixel is repeated, as in TF and PyTorch. */
    taps[i].lo = lo < 0 ? 0 : (int)lo;
    int hi = (int)ceilf(src);
    taps[i].hi = hi > in_size - 1 ? in_size - 1 : hi;
    taps[i].w = src - lo;
  }
}

snt_status snt_image_resize_bilinear(const snt_image *in, int out_h, int out_w, snt_image *out,
                                     snt_err *e) {
  if (!in || !out || !in->data)
    return snt_err_set(e, SNT_ERR_INTERNAL, "resize: %s is NULL", !in ? "the input" : !out ? "out" : "the input's data");
  if (in == out)
    return snt_err_set(e, SNT_ERR_INTERNAL, "resize: the output must be a different snt_image from the input");
  *out = (snt_image){0};
  snt_status st = snt_image__check_dims("resize input", in->width, in->height, e);
  if (st != SNT_OK) return st;
  st = snt_image__check_dims("resize output", out_w, out_h, e);
  if (st != SNT_OK) return st;
  if (in->channels < 1 || in->channels > 1024)
    return snt_err_set(e, SNT_ERR_INPUT, "resize: the input has %d channels", in->channels);

  const int in_h = in->height, in_w = in->width, ch = in->channels;
  const size_t in_plane = (size_t)in_h * in_w, out_plane = (size_t)out_h * out_w;
  float *data = malloc((size_t)ch * out_plane * sizeof *data);
  if (!data)
    return snt_err_set(e, SNT_ERR_NOMEM, "resize: out of memory for %d x %dx%d", ch, out_h, out_w);
  if (in_h == out_h && in_w == out_w) {
    memcpy(data, in->data, (size_t)ch * in_plane * sizeof *data);
    *out = (snt_image){.width = out_w, .height = out_h, .channels = ch, .data = data};
    return SNT_OK;
  }

  tap *xt = malloc((size_t)out_w * sizeof *xt), *yt = malloc((size_t)out_h * sizeof *yt);
  float *rows = malloc((size_t)in_h * out_w * sizeof *rows);  /* input rows resized along x */
  unsigned char *used = calloc((size_t)in_h, 1);               /* rows some output row reads */
  if (!xt || !yt || !rows || !used) {
    free(xt), free(yt), free(rows), free(used), free(data);
    return snt_err_set(e, SNT_ERR_NOMEM, "resize: out of memory for %dx%d -> %dx%d", in_h, in_w, out_h, out_w);
  }
  compute_taps(in_w, out_w, xt);
  compute_taps(in_h, out_h, yt);
  for (int y = 0; y < out_h; y++) used[yt[y].lo] = used[yt[y].hi] = 1;

  for (int c = 0; c < ch; c++) {
    const float *src = in->data + (size_t)c * in_plane;
    float *dst = data + (size_t)c * out_plane;
    /* Along x first, only for the rows that are read: TF's `top` and `bottom` values. */
    for (int y = 0; y < in_h; y++) {
      if (!used[y]) continue;
      const float *s = src + (size_t)y * in_w;
      float *r = rows + (size_t)y * out_w;
      for (int x = 0; x < out_w; x++) {
        const float a = s[xt[x].lo], b = s[xt[x].hi];
        r[x] = a + (b - a) * xt[x].w;
      }
    }
    for (int y = 0; y < out_h; y++) {
      const float *top = rows + (size_t)yt[y].lo * out_w, *bottom = rows + (size_t)yt[y].hi * out_w;
      const float w = yt[y].w;
      float *d = dst + (size_t)y * out_w;
      for (int x = 0; x < out_w; x++) d[x] = top[x] + (bottom[x] - top[x]) * w;
    }
  }
  free(xt), free(yt), free(rows), free(used);
  *out = (snt_image){.width = out_w, .height = out_h, .channels = ch, .data = data};
  return SNT_OK;
}
