/* The size checks every decoder applies to a header before it allocates; also compiled into
 * the DICOM plugin (runtime/image/dicom/), which has no other way to reach them. */
#include "image_internal.h"

snt_status snt_image__check_dims(const char *what, long long width, long long height, snt_err *e) {
  if (width <= 0 || height <= 0)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: image has no pixels (%lldx%lld)", what, width, height);
  if (width > SNT_IMAGE_MAX_SIDE || height > SNT_IMAGE_MAX_SIDE)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: image is %lldx%lld pixels; more than %d on a side is refused",
                       what, width, height, SNT_IMAGE_MAX_SIDE);
  if (width * height > SNT_IMAGE_MAX_PIXELS)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: image is %lldx%lld = %lld pixels; more than 2^28 is refused",
                       what, width, height, width * height);
  return SNT_OK;
}

snt_status snt_image__check_header(const char *path, long long width, long long height,
                                   const snt_image__want *w, snt_err *e) {
  snt_status st = snt_image__check_dims(path, width, height, e);
  if (st != SNT_OK) return st;
  if (width * height > w->max_pixels)
    return snt_err_set(e, SNT_ERR_INPUT,
                       "%s: image is %lldx%lld = %lld pixels, more than the cap of %lld (--max-pixels N to change it)",
                       path, width, height, width * height, w->max_pixels);
  return SNT_OK;
}
