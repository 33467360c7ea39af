/* Two different compiled models, and two instances of one, in one C program: nothing
 * generated shares state, so each gives the same numbers as alone. Writes each model's
 * output for the input file as output_<name>.pb into the folder given. */
#include <stdio.h>
#include <string.h>

#include "deep_cnn.h"
#include "simple_cnn.h"
#include "sinter/onnx_io.h"

static int write(const char *dir, const char *name, const snt_model_io *io, float *data) {
  snt_tensor_buf t = {.dtype = io->dtype, .rank = io->rank, .data = data};
  memcpy(t.dims, io->dims, sizeof t.dims);
  char path[1024];
  snprintf(path, sizeof path, "%s/output_%s.pb", dir, name);
  snt_err e;
  if (snt_onnx_write_tensor_file(path, &t, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: two_models INPUT.pb OUTDIR\n");
    return 2;
  }
  snt_tensor_buf in = {0};
  snt_err e;
  if (snt_onnx_read_tensor_file(argv[1], &in, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  simple_cnn *a1 = simple_cnn_create(), *a2 = simple_cnn_create();
  deep_cnn *b = deep_cnn_create();
  float ya1[4], ya2[4], yb[4];
  const void *ins[1] = {in.data};
  void *oa1[1] = {ya1}, *oa2[1] = {ya2}, *ob[1] = {yb};
  int rc = !a1 || !a2 || !b;
  /* Interleaved on purpose: a shared buffer would show as a difference. */
  rc |= simple_cnn_run(a1, ins, oa1);
  rc |= deep_cnn_run(b, ins, ob);
  rc |= simple_cnn_run(a2, ins, oa2);
  if (!rc && memcmp(ya1, ya2, sizeof ya1) != 0) {
    fprintf(stderr, "two instances of simple_cnn disagree\n");
    rc = 1;
  }
  if (!rc) rc = write(argv[2], "simple_cnn", &simple_cnn_info.outputs[0], ya1) | write(argv[2], "deep_cnn", &deep_cnn_info.outputs[0], yb);
  simple_cnn_destroy(a1);
  simple_cnn_destroy(a2);
  deep_cnn_destroy(b);
  snt_tensor_buf_free(&in);
  return rc;
}
