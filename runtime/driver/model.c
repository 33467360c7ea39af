/* Opening a compiled model: threads, weights from an ONNX file. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/driver/driver.h"
#include "sinter/onnx_io.h"

size_t snt_rt_io_bytes(const snt_model_io *io) {
  size_t n = snt_dtype_size(io->dtype);
  for (int k = 0; k < io->rank; k++) n *= (size_t)io->dims[k];
  return n;
}

/* Copies each parameter's initializer (same name, type and shape) into a blob. */
static int load_weights(const snt_model_info *info, const char *path, void **out) {
  Onnx__ModelProto *m = NULL;
  snt_err e;
  if (snt_onnx_load_model(path, &m, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return SNT_RT_EXIT_USER;
  }
  unsigned char *blob = malloc(info->weights_bytes + 64);
  int rc = blob ? 0 : SNT_RT_EXIT_INTERNAL;
  for (int p = 0; p < info->n_params && !rc; p++) {
    const snt_model_param *mp = &info->params[p];
    const Onnx__TensorProto *tp = NULL;
    for (size_t i = 0; i < m->graph->n_initializer && !tp; i++)
      if (strcmp(m->graph->initializer[i]->name, mp->name) == 0) tp = m->graph->initializer[i];
    snt_tensor_buf t = {0};
    if (!tp) {
      fprintf(stderr, "%s: no initializer named '%s' (the model's parameters are named as `EXE export-onnx` writes them)\n", path, mp->name);
      rc = SNT_RT_EXIT_USER;
    } else if (snt_onnx_tensor_decode(tp, NULL, &t, &e) != SNT_OK) {
      fprintf(stderr, "%s\n", e.msg);
      rc = SNT_RT_EXIT_USER;
    } else if (t.dtype != mp->dtype || t.rank != mp->rank || memcmp(t.dims, mp->dims, sizeof(int64_t) * (size_t)t.rank)) {
      fprintf(stderr, "%s: initializer '%s' has another type or shape than the model's parameter\n", path, mp->name);
      rc = SNT_RT_EXIT_USER;
    } else {
      memcpy(blob + mp->offset, t.data, snt_tensor_buf_nbytes(&t));
    }
    snt_tensor_buf_free(&t);
  }
  snt_onnx_free_model(m);
  if (rc) free(blob);
  else *out = blob;
  return rc;
}

int snt_rt_open(const snt_model_info *info, const snt_rt_common *c, snt_rt_model *out) {
  memset(out, 0, sizeof *out);
  out->info = info;
  if (c->threads > 0) openblas_set_num_threads(c->threads);
  if (c->weights) {
    int rc = load_weights(info, c->weights, &out->blob);
    if (rc) return rc;
  }
  out->m = info->create();
  if (!out->m) {
    fprintf(stderr, "%s: out of memory\n", info->name);
    free(out->blob);
    return SNT_RT_EXIT_INTERNAL;
  }
  if (out->blob) info->set_weights(out->m, out->blob);
  return 0;
}

void snt_rt_close(snt_rt_model *m) {
  if (m->m) m->info->destroy(m->m);
  free(m->blob);
  memset(m, 0, sizeof *m);
}
