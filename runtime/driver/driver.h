/* Internal: the commands of a compiled executable. */
#ifndef SINTER_RUNTIME_DRIVER_H
#define SINTER_RUNTIME_DRIVER_H

#include <stdbool.h>
#include <stdio.h>

#include "sinter/error.h"
#include "sinter/exit.h"
#include "sinter/image.h"
#include "sinter/model.h"
#include "sinter/opts.h"

/* The exit codes are sinter/exit.h's; these names stay for the code that uses them. */
enum { SNT_RT_EXIT_USER = SNT_EXIT_USER, SNT_RT_EXIT_INTERNAL = SNT_EXIT_INTERNAL, SNT_RT_MAX_IO = 64 };

struct snt_explain_info;
/* Fills blob (laid out as x->model's parameters) from the file --weights names (NULL: the
 * built-in weights); 0 or an exit code after printing why. */
typedef int (*snt_rt_explain_weights_fn)(void *ctx, const struct snt_explain_info *x, const char *weights,
                                         unsigned char *blob);
/* Where an executable's explain model and its weights come from (sinter/explain.h). */
typedef struct snt_rt_explain_src {
  const struct snt_explain_info *x;
  snt_rt_explain_weights_fn weights;
  void *ctx;
} snt_rt_explain_src;

/* The name of class k for people: its label, else "class k" written into buf. */
const char *snt_rt_label(const snt_model_info *info, int k, char *buf, size_t size);

/* Options every command takes. */
typedef struct snt_rt_common {
  const char *weights; /* --weights FILE.onnx */
  int threads;         /* --threads N; 0 = all the model was compiled for */
  int64_t max_pixels;  /* --max-pixels N: the largest image the image-reading commands decode; 0 = default */
  int64_t threads_arg; /* --threads as parsed */
  const char *precision_arg; /* --precision fp32|bf16 as given */
  int precision;             /* 0: as compiled; else SNT_RT_FP32 or SNT_RT_BF16 */
  const snt_rt_explain_src *explain; /* NULL: the executable cannot explain (serve's /v1/explain) */
  double window_arg[2];      /* --window C,W as parsed (the commands that read images) */
  snt_image_window window;   /* set when --window was given: the VOI window of DICOM images */
} snt_rt_common;

enum { SNT_RT_MAX_THREADS = 256, SNT_RT_FP32 = 1, SNT_RT_BF16 = 2 };

/* Whether the model's products run in bfloat16 (--precision, else as compiled). */
static inline int snt_rt_bf16(const snt_model_info *info, const snt_rt_common *c) {
  return c->precision ? c->precision == SNT_RT_BF16 : info->bf16;
}

/* Parses argv against the command's own options (may be NULL) and the common ones (plus
 * --window C,W for the commands that read images: predict, train, evaluate, data, explain, serve).
 * Returns 0, -1 when --help was asked for (the caller prints it), or an exit code after
 * printing why. Positional arguments go to pos (may be argv). */
int snt_rt_parse(const char *model, const char *cmd, const snt_opt *own, snt_rt_common *c, int argc, char **argv,
                 char **pos, int max_pos, int *n_pos);

/* calloc that names what failed: "MODEL: cannot allocate N bytes for WHAT" on stderr, NULL.
 * The environment variable SINTER_FAIL_ALLOC_OVER=BYTES makes requests above BYTES fail, so
 * tests can reach these paths. */
void *snt_rt_alloc(const char *model, size_t bytes, const char *what);

/* A node name on one line to f, padded to width: control bytes as \xNN, a backslash doubled
 * (names are untrusted and may hold any byte); at most 200 bytes, then "...". */
void snt_rt_fprint_name(FILE *f, const char *s, int width);

/* Says on stderr why a run or training step of inst returned status st: the node whose kernel
 * failed, its op and the reason. what: the command ("train", ...) or NULL. */
void snt_rt_report_failure(const snt_model_info *info, void *inst, int st, const char *what);

/* Counts the non-finite values of a float32 or float64 buffer (0 for other types). */
int64_t snt_rt_count_nonfinite(snt_dtype dtype, const void *data, int64_t n);

/* An opened model: its slices of the batch (n_inst, info->batch samples each), the model
 * copies that run them (one per worker thread, each running its slices one after another),
 * its weights, and the inputs and outputs of the whole batch. */
typedef struct snt_rt_model {
  const snt_model_info *info;
  void *inst[64];       /* the copies: n_copies of them */
  int n_inst, workers;  /* slices; worker threads (a run uses at most that many) */
  int n_copies;
  double *prof_stamps;  /* bench --profile: [copy][n_nodes + 1], what a copy's run writes; else NULL */
  double *prof_sums;    /* [copy][n_nodes]: node seconds summed over the slices the copy ran */
  int prof_nodes;
  int threads;          /* all the threads a run may use (--threads, else the machine's) */
  int inst_threads;     /* the kernel threads each copy was last given */
  struct snt_k_ctx *pool; /* threads that run the copies (workers > 1), kept between runs */
  void *blob;           /* loaded weights, owned; NULL when embedded ones are used */
  int64_t batch;        /* the whole batch: info->batch * instances */
  int64_t bad_weights;  /* non-finite values in the weights in use; 0 when all are finite */
  const char *bad_param; /* the first parameter holding one */
  snt_model_io in[SNT_RT_MAX_IO], out[SNT_RT_MAX_IO];
} snt_rt_model;

/* A blob of info's layout (malloc'ed, *out) filled from the initializers of an ONNX file with
 * the parameters' names, types and shapes; 0, or an exit code after printing why. */
int snt_rt_load_weights(const snt_model_info *info, const char *path, void **out);

/* Copies every parameter of `to` that `from` has under the same name from src (laid out as
 * from's) into dst (laid out as to's); the others are left as they are. */
void snt_rt_copy_params(const snt_model_info *from, const unsigned char *src, const snt_model_info *to, unsigned char *dst);

int snt_rt_open(const snt_model_info *info, const snt_rt_common *c, snt_rt_model *out);
void snt_rt_close(snt_rt_model *m);
/* Runs the whole batch: in/out are buffers shaped as m->in / m->out. 0 on success; else the
 * failure was printed, naming the model and the status. */
int snt_rt_run(snt_rt_model *m, const void *const *in, void *const *out);
/* Runs the first n (1 to m->batch) samples only: batched buffers hold at least n rows, and
 * rows past n are neither read nor written. The copies with no rows do nothing; a run that
 * needs one copy gives it every thread. */
int snt_rt_run_n(snt_rt_model *m, int64_t n, const void *const *in, void *const *out);
/* Bytes of a tensor. */
size_t snt_rt_io_bytes(const snt_model_io *io);

/* snt_rt_main of an executable that can explain: serve answers /v1/explain through xs. */
int snt_rt_main_with(int argc, char **argv, const snt_model_info *m, const snt_rt_explain_src *xs);

/* The usage text of every executable (its inference commands); returns 0. */
int snt_rt_usage(FILE *f, const snt_model_info *m);

/* The channel count of the model's image input (NCHW, or NHWC when compiled with --nhwc). */
int snt_rt_image_channels(const snt_model_info *info);
/* Whether the model takes one float image tensor of 1, 3 or 4 channels; else why, naming cmd. */
snt_status snt_rt_image_model_check(const snt_model_info *info, const char *cmd, snt_err *e);
/* One decoded image (with the model's channel count) as one sample of input 0, written to dst:
 * resized bilinearly to the input's size, then the compiled normalisation. What `predict` and
 * `serve` feed the model. */
snt_status snt_rt_image_sample(const snt_model_info *info, const snt_image *img, float *dst, snt_err *e);

int snt_rt_cmd_predict(const snt_model_info *info, snt_rt_common *c, int argc, char **argv);
int snt_rt_cmd_bench(const snt_model_info *info, snt_rt_common *c, int argc, char **argv);
int snt_rt_cmd_serve(const snt_model_info *info, snt_rt_common *c, int argc, char **argv);

#endif
