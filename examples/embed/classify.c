/* A program of your own that classifies images with a model compiled by sinter, through the
 * generated header (simple_cnn.h) and the installed runtime: no sinter driver involved.
 *   classify IMAGE...   prints one line per image: the file, then label=probability for every class */
#include <stdio.h>
#include <stdlib.h>

#include <sinter/image.h>

#include "simple_cnn.h"

int main(int argc, char **argv) {
  const snt_model_info *info = &simple_cnn_info;
  const snt_model_io *in = &info->inputs[0]; /* [1, 3, H, W], float, pixels 0..255 */
  int h = (int)in->dims[2], w = (int)in->dims[3];
  int classes = (int)info->outputs[0].dims[1];
  float *x = malloc(sizeof(float) * 3 * (size_t)h * (size_t)w), *probs = malloc(sizeof(float) * (size_t)classes);
  simple_cnn *m = simple_cnn_create();
  if (argc < 2 || !x || !probs || !m) {
    fprintf(stderr, argc < 2 ? "usage: classify IMAGE...\n" : "out of memory\n");
    return 1;
  }
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    snt_image img = {0}, sized = {0};
    snt_err e;
    if (snt_image_load(argv[i], &img, &e) != SNT_OK || snt_image_resize_bilinear(&img, h, w, &sized, &e) != SNT_OK) {
      fprintf(stderr, "%s\n", e.msg);
      snt_image_free(&img);
      rc = 1;
      continue;
    }
    /* DSL models rescale inside the graph (info->pre is scale 1, mean 0, std 1); imported ONNX
     * models may need (pixel * scale - mean) / std, as EXE predict applies it. */
    for (int c = 0; c < 3; c++)
      for (int p = 0; p < h * w; p++)
        x[(size_t)c * h * w + p] = (sized.data[(size_t)c * h * w + p] * info->pre.scale - info->pre.mean[c]) / info->pre.std[c];
    snt_image_free(&img);
    snt_image_free(&sized);
    const void *ins[1] = {x};
    void *outs[1] = {probs};
    if (simple_cnn_run(m, ins, outs) != 0) {
      fprintf(stderr, "%s: the model failed\n", argv[i]);
      rc = 2;
      break;
    }
    printf("%s:", argv[i]);
    for (int k = 0; k < classes; k++) printf(" %s=%.6f", k < info->n_labels ? info->labels[k] : "?", probs[k]);
    printf("\n");
  }
  simple_cnn_destroy(m);
  free(x);
  free(probs);
  return rc;
}
