/* Internal: the commands of a compiled executable. */
#ifndef SINTER_RUNTIME_DRIVER_H
#define SINTER_RUNTIME_DRIVER_H

#include <stdbool.h>

#include "sinter/model.h"

enum { SNT_RT_EXIT_USER = 1, SNT_RT_EXIT_INTERNAL = 2, SNT_RT_MAX_IO = 64 };

/* Options every command takes. */
typedef struct snt_rt_common {
  const char *weights; /* --weights FILE.onnx */
  int threads;         /* --threads N; 0 = all the model was compiled for */
} snt_rt_common;

/* An opened model: its instances (one per thread, each on its share of the batch), its
 * weights, and the inputs and outputs of the whole batch. */
typedef struct snt_rt_model {
  const snt_model_info *info;
  void *inst[64];
  int n_inst, workers;
  void *blob;           /* loaded weights, owned; NULL when embedded ones are used */
  int64_t batch;        /* the whole batch: info->batch * instances */
  snt_model_io in[SNT_RT_MAX_IO], out[SNT_RT_MAX_IO];
} snt_rt_model;

int snt_rt_open(const snt_model_info *info, const snt_rt_common *c, snt_rt_model *out);
void snt_rt_close(snt_rt_model *m);
/* Runs the whole batch: in/out are buffers shaped as m->in / m->out. 0 on success. */
int snt_rt_run(snt_rt_model *m, const void *const *in, void *const *out);
/* Bytes of a tensor. */
size_t snt_rt_io_bytes(const snt_model_io *io);

int snt_rt_cmd_predict(const snt_model_info *info, const snt_rt_common *c, int argc, char **argv);
int snt_rt_cmd_bench(const snt_model_info *info, const snt_rt_common *c, int argc, char **argv);

#endif
