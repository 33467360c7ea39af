/* How an image becomes one sample of a model's input: what `predict` and `serve` both do, so
 * that the server's probabilities are exactly the command line's. */
#include <stddef.h>

#include "runtime/driver/driver.h"

int snt_rt_image_channels(const snt_model_info *info) {
  const snt_model_io *in = &info->inputs[0];
  return (int)in->dims[info->pre.nhwc ? 3 : 1];
}

snt_status snt_rt_image_model_check(const snt_model_info *info, const char *cmd, snt_err *e) {
  const snt_model_io *in = &info->inputs[0];
  if (info->n_inputs != 1 || in->dtype != SNT_F32 || in->rank != 4)
    return snt_err_set(e, SNT_ERR_INPUT, "%s %s: this model does not take one image tensor", info->name, cmd);
  int ch = snt_rt_image_channels(info);
  if (ch != 1 && ch != 3 && ch != 4)
    return snt_err_set(e, SNT_ERR_INPUT,
                       "%s %s: the model's image input has %d channels; images are read as 1 (gray), 3 (RGB) or "
                       "4 (RGBA) channels", info->name, cmd, ch);
  return SNT_OK;
}

/* (x * scale - mean[c]) / std[c]. The compiled preprocessing has three means and deviations: a
 * 1-channel model uses the first; a 4-channel model's alpha gets scale alone. */
static float normalise(const snt_model_pre *p, int c, float x) {
  return c < 3 ? (x * p->scale - p->mean[c]) / p->std[c] : x * p->scale;
}

snt_status snt_rt_image_sample(const snt_model_info *info, const snt_image *img, float *dst, snt_err *e) {
  const snt_model_io *in = &info->inputs[0]; /* sample dims: the same in every instance */
  bool nhwc = info->pre.nhwc;
  int h = (int)in->dims[nhwc ? 1 : 2], w = (int)in->dims[nhwc ? 2 : 3], ch = snt_rt_image_channels(info);
  if (img->channels != ch)
    return snt_err_set(e, SNT_ERR_INTERNAL, "%s: the image has %d channels, the model takes %d", info->name,
                       img->channels, ch);
  snt_image sized = {0};
  snt_status st = snt_image_resize_bilinear(img, h, w, &sized, e);
  if (st != SNT_OK) return st;
  size_t plane = (size_t)h * (size_t)w;
  for (int c = 0; c < ch; c++)
    for (size_t i = 0; i < plane; i++) {
      float v = normalise(&info->pre, c, sized.data[(size_t)c * plane + i]);
      dst[nhwc ? i * (size_t)ch + (size_t)c : (size_t)c * plane + i] = v;
    }
  snt_image_free(&sized);
  return SNT_OK;
}
