/* Internal: Grad-CAM over the explain model an executable carries (sinter/explain.h).
 *
 * For image x and class c: the class score is the logit z_c (the input of the final softmax);
 * A is the chosen layer's output [K, h, w] and G = dz_c/dA from the generated backward pass;
 * alpha_k = mean over (h, w) of G_k; the map is ReLU(sum_k alpha_k A_k), divided by its maximum
 * (all zeros when the maximum is 0), then upsampled bilinearly to the picture. Used by
 * `EXE explain` and the server. */
#ifndef SINTER_RUNTIME_EXPLAIN_GRADCAM_H
#define SINTER_RUNTIME_EXPLAIN_GRADCAM_H

#include <stdint.h>

#include "sinter/error.h"
#include "sinter/image.h"
#include "sinter/explain.h"

/* An opened explainer: the explain model with the weights in use, its buffers, the layer. */
typedef struct snt_gradcam {
  const snt_model_info *info; /* the executable's model (preprocessing, labels) */
  const snt_explain_info *x;
  void *inst;
  unsigned char *blob;
  float *in, *seed; /* inputs */
  void **out;       /* outputs */
  int layer;        /* index into x->layers */
  int classes;
} snt_gradcam;

/* One image's explanation. */
typedef struct snt_gradcam_result {
  int cls;          /* the explained class */
  float *probs;     /* [classes] */
  int h, w;         /* the map before upsampling */
  float *map;       /* [h * w], 0..1 */
  float max;        /* the map's maximum before normalising */
} snt_gradcam_result;

/* The layer named `layer` (NULL: the last convolution); its index or -1 with a message that
 * lists the layers. */
int snt_gradcam_find_layer(const snt_explain_info *x, const char *layer, snt_err *e);

/* Opens the explainer with the weights `blob` (laid out as x->model's, copied). 0, or -1 with
 * a message (a model that cannot be explained says why). */
int snt_gradcam_open(snt_gradcam *g, const snt_model_info *info, const snt_explain_info *x, const unsigned char *blob,
                     int layer, int threads, snt_err *e);
void snt_gradcam_close(snt_gradcam *g);

/* Explains a decoded image (0..255, any size; resized to the model's input). cls < 0: the
 * predicted class. 0 or -1 with a message; free r with snt_gradcam_result_free. */
int snt_gradcam_run(snt_gradcam *g, const snt_image *img, int cls, snt_gradcam_result *r, snt_err *e);
void snt_gradcam_result_free(snt_gradcam_result *r);

/* The overlay picture: the image (its longer side at most max_side) under the map upsampled to
 * it in the viridis colour map, with "CLASS  P%" written on it. rgb is malloc'ed, w x h x 3. */
int snt_gradcam_overlay(const snt_image *img, const snt_gradcam_result *r, const char *caption, int max_side,
                        uint8_t **rgb, int *w, int *h, snt_err *e);

#endif
