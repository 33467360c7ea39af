/* What a model compiled by sinter tells the runtime about itself. The generated C
 * defines one `const snt_model_info <name>_info`; the runtime's command-line driver
 * (predict, run, bench, ...) works from it. */
#ifndef SINTER_MODEL_H
#define SINTER_MODEL_H

#include <stdint.h>

#include "sinter/dtype.h"

typedef struct snt_model_io {
  const char *name;
  snt_dtype dtype;
  int rank;
  int64_t dims[SNT_MAX_RANK]; /* dims[0] is the compiled batch for batched tensors */
} snt_model_io;

typedef struct snt_model_info {
  const char *name;
  int64_t batch;
  int n_inputs, n_outputs;
  const snt_model_io *inputs, *outputs;
  int n_labels;
  const char *const *labels;
  /* Input preprocessing the executable applies to images: x * scale + offset per channel. */
  void *(*create)(void);
  int (*run)(void *model, const void *const *inputs, void *const *outputs);
  void (*destroy)(void *model);
} snt_model_info;

/* The command-line driver of a compiled model: `EXE run IN.pb... -o DIR`, ... */
int snt_rt_main(int argc, char **argv, const snt_model_info *info);

#endif
