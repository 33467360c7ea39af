/* Conv weights packed once by the generated code (at the first run after create or
 * set_weights): a model given new weights, including new values in the same blob set again,
 * computes exactly what a fresh instance given those weights computes, and not the old result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simple_cnn.h"

static int run(simple_cnn *m, const float *x, float *y) {
  const void *ins[1] = {x};
  void *outs[1] = {y};
  return simple_cnn_run(m, ins, outs);
}

/* A fresh instance's output with blob as its weights. */
static int fresh(const unsigned char *blob, const float *x, float *y) {
  simple_cnn *m = simple_cnn_create();
  if (!m) return 1;
  simple_cnn_info.set_weights(m, blob);
  int rc = run(m, x, y);
  simple_cnn_destroy(m);
  return rc;
}

/* Scales every convolution kernel (rank-4 parameter) of blob in place. */
static void scale_kernels(unsigned char *blob, float by) {
  for (int p = 0; p < simple_cnn_info.n_params; p++) {
    const snt_model_param *q = &simple_cnn_info.params[p];
    if (q->rank != 4) continue;
    float *w = (float *)(blob + q->offset);
    size_t n = (size_t)(q->dims[0] * q->dims[1] * q->dims[2] * q->dims[3]);
    for (size_t i = 0; i < n; i++) w[i] *= by;
  }
}

static int differ(const char *what, const float *a, const float *b, size_t n, int want_equal) {
  int equal = memcmp(a, b, n * sizeof(float)) == 0;
  if (equal == want_equal) return 0;
  fprintf(stderr, "packed_weights: %s: outputs %s\n", what, equal ? "equal, expected a change" : "differ");
  return 1;
}

int main(void) {
  const snt_model_io *io = &simple_cnn_info.inputs[0], *oo = &simple_cnn_info.outputs[0];
  size_t nx = 1, ny = 1;
  for (int i = 0; i < io->rank; i++) nx *= (size_t)io->dims[i];
  for (int i = 0; i < oo->rank; i++) ny *= (size_t)oo->dims[i];
  float *x = malloc(nx * sizeof(float)), *y[5];
  unsigned char *blob = malloc(simple_cnn_info.weights_bytes);
  for (int i = 0; i < 5; i++) y[i] = malloc(ny * sizeof(float));
  simple_cnn *m = simple_cnn_create();
  if (!x || !blob || !y[0] || !y[1] || !y[2] || !y[3] || !y[4] || !m || !simple_cnn_info.weights) return 2;
  for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
  memcpy(blob, simple_cnn_info.weights, simple_cnn_info.weights_bytes);
  scale_kernels(blob, -0.5f);
  int rc = run(m, x, y[0]);                   /* embedded weights */
  simple_cnn_info.set_weights(m, blob);       /* another blob */
  rc |= run(m, x, y[1]) | fresh(blob, x, y[2]);
  scale_kernels(blob, 3.0f);                  /* new values, the same blob set again */
  simple_cnn_info.set_weights(m, blob);
  rc |= run(m, x, y[3]) | fresh(blob, x, y[4]);
  if (rc) return fprintf(stderr, "packed_weights: a run failed\n"), 1;
  int bad = differ("embedded vs other blob", y[0], y[1], ny, 0);
  bad |= differ("other blob vs a fresh instance", y[1], y[2], ny, 1);
  bad |= differ("blob set again vs before", y[1], y[3], ny, 0);
  bad |= differ("blob set again vs a fresh instance", y[3], y[4], ny, 1);
  rc = run(m, x, y[1]); /* a second run reuses the packing */
  bad |= rc || differ("second run", y[1], y[3], ny, 1);
  simple_cnn_destroy(m);
  free(x), free(blob);
  for (int i = 0; i < 5; i++) free(y[i]);
  printf("packed_weights: %s\n", bad ? "FAILED" : "ok");
  return bad;
}
