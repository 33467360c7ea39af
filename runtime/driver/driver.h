/* Internal: the commands of a compiled executable. */
#ifndef SINTER_RUNTIME_DRIVER_H
#define SINTER_RUNTIME_DRIVER_H

#include <stdbool.h>

#include "sinter/model.h"

enum { SNT_RT_EXIT_USER = 1, SNT_RT_EXIT_INTERNAL = 2 };

/* Options every command takes. */
typedef struct snt_rt_common {
  const char *weights; /* --weights FILE.onnx */
  int threads;         /* --threads N; 0 = the library default */
} snt_rt_common;

/* A created model with its weights (embedded, or loaded from --weights). */
typedef struct snt_rt_model {
  const snt_model_info *info;
  void *m;
  void *blob; /* loaded weights, owned; NULL when embedded ones are used */
} snt_rt_model;

int snt_rt_open(const snt_model_info *info, const snt_rt_common *c, snt_rt_model *out);
void snt_rt_close(snt_rt_model *m);
/* Bytes of input or output i at the compiled batch. */
size_t snt_rt_io_bytes(const snt_model_io *io);

int snt_rt_cmd_predict(const snt_model_info *info, const snt_rt_common *c, int argc, char **argv);
int snt_rt_cmd_bench(const snt_model_info *info, const snt_rt_common *c, int argc, char **argv);

#endif
