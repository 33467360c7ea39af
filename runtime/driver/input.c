/* A decoded image as the model's input: resized bilinearly to the input's size, then
 * (x * scale - mean[c]) / std[c], channels first unless the model was compiled --nhwc. */
#include "runtime/driver/driver.h"

int snt_rt_image_channels(const snt_model_info *info) {
  const snt_model_io *in = &info->inputs[0];
  return (int)in->dims[info->pre.nhwc ? 3 : 1];
}

/* A 1-channel model uses the first mean and deviation; a 4-channel model's alpha gets scale alone. */
static float normalise(const snt_model_pre *p, int c, float x) {
  return c < 3 ? (x * p->scale - p->mean[c]) / p->std[c] : x * p->scale;
}

int snt_rt_image_input(const snt_model_info *info, const snt_image *img, float *dst, snt_err *e) {
  const snt_model_io *in = &info->inputs[0];
  bool nhwc = info->pre.nhwc;
  int h = (int)in->dims[nhwc ? 1 : 2], w = (int)in->dims[nhwc ? 2 : 3], ch = snt_rt_image_channels(info);
  if (img->channels != ch)
    return snt_err_set(e, SNT_ERR_INPUT, "the image has %d channels; the model takes %d", img->channels, ch), -1;
  snt_image sized = {0};
  if (snt_image_resize_bilinear(img, h, w, &sized, e) != SNT_OK) return -1;
  size_t plane = (size_t)h * (size_t)w;
  for (int c = 0; c < ch; c++)
    for (size_t i = 0; i < plane; i++) {
      float v = normalise(&info->pre, c, sized.data[(size_t)c * plane + i]);
      dst[nhwc ? i * (size_t)ch + (size_t)c : (size_t)c * plane + i] = v;
    }
  snt_image_free(&sized);
  return 0;
}
