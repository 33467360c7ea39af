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
  int64_t dims[SNT_MAX_RANK];
  int batched; /* dims[0] is the batch: a run may fill fewer samples */
} snt_model_io;

/* A named parameter inside the weights blob (for loading weights at run time). */
typedef struct snt_model_param {
  const char *name;
  size_t offset;
  snt_dtype dtype;
  int rank;
  int64_t dims[SNT_MAX_RANK];
} snt_model_param;

/* How `predict` turns an image (0..255, RGB) into the input: (x * scale - mean[c]) / std[c],
 * channels first unless nhwc. DSL models rescale inside the graph: scale 1, mean 0, std 1. */
typedef struct snt_model_pre {
  float scale, mean[3], std[3];
  int nhwc;
} snt_model_pre;

/* A node of the generated run, in the order it runs (for `EXE bench --profile`). */
typedef struct snt_model_node {
  const char *name; /* the layer's name as the model file gives it (any bytes) */
  const char *op;   /* sinter's op: "conv2d", "dense", ... */
  double flops;     /* of one sample, counted as `summary` does (2 x multiply-adds); 0: not counted */
} snt_model_node;

typedef struct snt_model_info {
  const char *name;
  int64_t batch;                /* per instance; the executable runs `instances` side by side */
  int instances;                /* threads the batch is split over (sinter compile --threads) */
  int n_inputs, n_outputs;
  const snt_model_io *inputs, *outputs;
  int n_labels;
  const char *const *labels;
  snt_model_pre pre;
  const char *summary;          /* the layer table, as `sinter summary` prints it */
  int n_params;
  const snt_model_param *params;
  size_t weights_bytes;
  const unsigned char *weights; /* the embedded blob (NULL when the model has none) */
  void *(*create)(void);
  int (*run)(void *model, const void *const *inputs, void *const *outputs);
  void (*destroy)(void *model);
  /* Makes the model read its weights from `blob` (laid out as `weights`), owned by the caller. */
  void (*set_weights)(void *model, const void *blob);
  /* Threads the model's kernels use from now on (its instance starts with one). */
  void (*set_threads)(void *model, int threads);
  /* Products in bfloat16 (1) or float32 (0) from now on (EXE ... --precision). */
  void (*set_precision)(void *model, int bf16);
  int bf16; /* compiled with --precision bf16: products in bfloat16 where the CPU has AVX512_BF16 */
  size_t memory_bytes; /* what create allocates per instance: the activation arena and the scratch */
  /* Runs the first n (1 to batch) samples: batched inputs and outputs hold n rows. NULL: only run. */
  int (*run_n)(void *model, int64_t n, const void *const *inputs, void *const *outputs);
  /* 1 when run_n costs n samples; 0 when it computes the whole batch (an op not known to keep
   * samples apart: the summary names it). */
  int batch_scalable;
  /* Profiling (all NULL/0 in a model compiled without it). n_nodes entries of nodes. While
   * stamps is set, run writes snt_prof_now() to stamps[0] as it starts and to stamps[i + 1] when
   * node i is done (n_nodes + 1 doubles, owned by the caller); NULL turns it off again. */
  int n_nodes;
  const snt_model_node *nodes;
  void (*set_profile)(void *model, double *stamps);
  /* The kernel node i runs with on this instance ("gemm-avx512", ...), or NULL: its op. */
  const char *(*kernel)(void *model, int node);
  /* After a run or step that returned a status: the node (an index into nodes) whose kernel
   * failed. */
  int (*failed_node)(void *model);
} snt_model_info;

/* The command-line driver of a compiled model: `EXE run IN.pb... -o DIR`, ... */
int snt_rt_main(int argc, char **argv, const snt_model_info *info);

#endif
