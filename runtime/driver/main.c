/* The command line of an executable built by sinter. Only snt_rt_main decides exit
 * codes: 0 success, 1 a problem with the user's input, 2 an internal error. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/driver/driver.h"
#include "sinter/onnx_io.h"

int snt_rt_usage(FILE *f, const snt_model_info *m) {
  fprintf(f,
          "usage: %s COMMAND [ARGS] [--weights FILE.onnx] [--threads N]\n\n"
          "Model '%s' compiled by sinter: %d input%s, %d output%s, batch %lld.\n\n"
          "commands:\n"
          "  predict IMAGE|DIR...             class and confidence per PNG, JPEG or DICOM image\n"
          "          [--json] [--top K] [--save-input DIR] [--max-pixels N] [--window C,W]\n"
          "                                   an image whose input or output is not finite is 'invalid';\n"
          "                                   a folder: every file under it (sorted, hidden ones skipped)\n"
          "  run IN_0.pb [IN_1.pb ...] -o DIR run once on serialized ONNX tensors; writes DIR/output_<i>.pb\n"
          "  bench [--batch N] [--iters K] [--seconds S] [--profile]  (iters 1 to 10000, seconds 0.01 to 86400)\n"
          "                                   median latency and images per second; --profile: each node's\n"
          "                                   time, GFLOP/s and kernel, against the machine's FMA peak\n"
          "  serve [--host ADDR] [--port N] [--max-wait-ms MS] [--no-batch] [--max-body BYTES]\n"
          "        [--timeout-ms MS] [--max-connections N] [--max-pixels N]\n"
          "                                   an HTTP server: POST /v1/predict, GET /v1/model, /v1/health and a\n"
          "                                   web page at /; binds 127.0.0.1:8080 by default (docs/serving.md)\n"
          "  summary                          the layer table\n"
          "  info                             inputs and outputs with their types and shapes\n\n"
          "  --weights FILE.onnx              use these weights (as export-onnx writes them) instead of the built-in ones\n"
          "  --threads N                      threads for the linear algebra, 1 to 256 (default: all cores)\n"
          "  --precision fp32|bf16            inference products in float32 or on bfloat16 operands (AVX512_BF16)\n"
          "                                   with float32 sums (default: as compiled, sinter compile --precision)\n"
          "  --max-pixels N                   predict: the largest image (width x height) decoded\n"
          "  --window C,W                     commands that read images: the VOI window of DICOM images\n"
          "                                   (center C, width W >= 1), instead of the file's own\n\n"
          "Options take --name VALUE or --name=VALUE; -- ends them. Exit status: 0 success, 1 a bad\n"
          "argument or input, 2 an internal error (named on stderr), 130 interrupted.\n",
          m->name, m->name, m->n_inputs, m->n_inputs == 1 ? "" : "s", m->n_outputs, m->n_outputs == 1 ? "" : "s",
          (long long)(m->batch * (m->instances > 1 ? m->instances : 1)));
  return 0;
}

static void print_io(const char *what, const snt_model_io *io) {
  printf("%s %s: %s [", what, io->name, snt_dtype_name(io->dtype));
  for (int k = 0; k < io->rank; k++) printf("%s%lld", k ? ", " : "", (long long)io->dims[k]);
  printf("]\n");
}

static int cmd_info(const snt_model_info *m, const snt_rt_common *c) {
  snt_rt_model model;
  int rc = snt_rt_open(m, c, &model);
  if (rc) return rc;
  for (int i = 0; i < m->n_inputs; i++) print_io("input", &model.in[i]);
  for (int i = 0; i < m->n_outputs; i++) print_io("output", &model.out[i]);
  for (int i = 0; i < m->n_labels; i++) printf("label %d: %s\n", i, m->labels[i]);
  printf("threads: %d model cop%s, %d slice%s of batch %lld\n", model.n_copies, model.n_copies == 1 ? "y" : "ies",
         model.n_inst, model.n_inst == 1 ? "" : "s", (long long)m->batch);
  printf("batch: %s\n", !m->run_n ? "every run computes the whole batch"
                        : m->batch_scalable ? "a run of n samples computes n"
                                            : "every run computes the whole batch (an op mixes samples: see summary)");
  snt_rt_close(&model);
  return 0;
}

/* A tensor fits input io when all dims agree, except a smaller first (batch) dim. */
static bool fits(const snt_tensor_buf *t, const snt_model_io *io) {
  /* ONNX 1.12's test data holds BFLOAT16 values in UINT16 tensors: the same bits. */
  bool bf16 = t->dtype == SNT_U16 && io->dtype == SNT_BF16;
  if ((t->dtype != io->dtype && !bf16) || t->rank != io->rank) return false;
  for (int k = 0; k < t->rank; k++) {
    bool batch = k == 0 && io->batched;
    if (batch ? t->dims[0] > io->dims[0] || t->dims[0] < 1 : t->dims[k] != io->dims[k]) return false;
  }
  return true;
}

/* "FLOAT (1, 3, 4)" for messages. */
static void dims_text(char *buf, size_t size, snt_dtype dtype, int rank, const int64_t *dims) {
  const char *tn = snt_dtype_name(dtype);
  size_t o = (size_t)snprintf(buf, size, "%s (", tn ? tn : "?");
  for (int k = 0; k < rank && o < size; k++) o += (size_t)snprintf(buf + o, size - o, "%s%lld", k ? ", " : "", (long long)dims[k]);
  if (o < size) snprintf(buf + o, size - o, ")");
}

/* Warns about NaN or Inf in a float tensor: the model runs, but its result says little. */
static void warn_nonfinite(const char *model, const char *what, int i, const char *name, snt_dtype dt, const void *data,
                           int64_t n) {
  int64_t bad = snt_rt_count_nonfinite(dt, data, n);
  if (bad)
    fprintf(stderr, "%s: warning: %s %d ('%s') holds %lld non-finite value%s (NaN or Inf)\n", model, what, i, name,
            (long long)bad, bad == 1 ? "" : "s");
}

static int cmd_run(const snt_model_info *m, snt_rt_common *c, int argc, char **argv) {
  const char *dir = NULL;
  const snt_opt own[] = {{.name = "out", 'o', SNT_OPT_STRING, &dir, "DIR", "the folder for output_<i>.pb"}, {NULL}};
  char *files[64];
  int n_files = 0;
  int rc = snt_rt_parse(m->name, "run", own, c, argc, argv, files, 64, &n_files);
  if (rc < 0) return snt_rt_usage(stdout, m), 0;
  if (rc) return rc;
  if (m->n_inputs > 64 || m->n_outputs > 64) {
    fprintf(stderr, "%s run: the model has %d inputs and %d outputs; run takes at most 64 of each\n", m->name, m->n_inputs,
            m->n_outputs);
    return SNT_RT_EXIT_USER;
  }
  if (m->n_inputs > 64 || m->n_outputs > 64) { /* the buffers below hold 64 */
    fprintf(stderr, "%s run: %d inputs and %d outputs: at most 64 of each\n", m->name, m->n_inputs, m->n_outputs);
    return SNT_RT_EXIT_USER;
  }
  if (!dir || n_files != m->n_inputs) {
    fprintf(stderr, "%s run: needs %d input file%s and -o DIR (got %d file%s%s)\n", m->name, m->n_inputs,
            m->n_inputs == 1 ? "" : "s", n_files, n_files == 1 ? "" : "s", dir ? "" : ", no -o");
    return SNT_RT_EXIT_USER;
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "%s: cannot create: %s\n", dir, strerror(errno));
    return SNT_RT_EXIT_USER;
  }
  snt_rt_model model = {0};
  rc = snt_rt_open(m, c, &model);
  if (rc) return rc;
  int64_t used = model.batch;
  snt_tensor_buf ins[64] = {0};
  void *in_bufs[64] = {0}, *outs[64] = {0};
  const void *in_ptrs[64];
  snt_err e;
  for (int i = 0; i < n_files && !rc; i++) {
    if (snt_onnx_read_tensor_file(files[i], &ins[i], &e) != SNT_OK) {
      fprintf(stderr, "%s\n", e.msg);
      rc = SNT_RT_EXIT_USER;
    } else if (!fits(&ins[i], &model.in[i])) {
      char want[256], got[256];
      dims_text(want, sizeof want, model.in[i].dtype, model.in[i].rank, model.in[i].dims);
      dims_text(got, sizeof got, ins[i].dtype, ins[i].rank, ins[i].dims);
      fprintf(stderr, "%s: input %d ('%s') must be %s (a smaller batch is fine), the file holds %s; run '%s info'\n",
              files[i], i, model.in[i].name, want, got, m->name);
      rc = SNT_RT_EXIT_USER;
    } else {
      /* A smaller batch runs its own samples only (snt_rt_run_n); the outputs are cut back to it. */
      if (model.in[i].batched && ins[i].dims[0] < used) used = ins[i].dims[0];
      in_bufs[i] = snt_rt_alloc(m->name, snt_rt_io_bytes(&model.in[i]) + 1, "an input tensor");
      if (!in_bufs[i]) rc = SNT_RT_EXIT_INTERNAL;
      else memcpy(in_bufs[i], ins[i].data, snt_tensor_buf_nbytes(&ins[i]));
      if (!rc) warn_nonfinite(files[i], "input", i, model.in[i].name, ins[i].dtype, ins[i].data, snt_tensor_buf_numel(&ins[i]));
      in_ptrs[i] = in_bufs[i];
    }
  }
  for (int i = 0; i < m->n_outputs && !rc; i++)
    if (!(outs[i] = snt_rt_alloc(m->name, snt_rt_io_bytes(&model.out[i]) + 1, "an output tensor"))) rc = SNT_RT_EXIT_INTERNAL;
  if (!rc && snt_rt_run_n(&model, used, in_ptrs, outs) != 0) rc = SNT_RT_EXIT_INTERNAL;
  for (int i = 0; i < m->n_outputs && !rc; i++) {
    const snt_model_io *io = &model.out[i];
    snt_tensor_buf t = {.dtype = io->dtype, .rank = io->rank, .data = outs[i], .name = (char *)io->name};
    memcpy(t.dims, io->dims, sizeof t.dims);
    if (io->batched) t.dims[0] = used;
    warn_nonfinite(m->name, "output", i, io->name, io->dtype, outs[i], snt_tensor_buf_numel(&t));
    char path[4096];
    snprintf(path, sizeof path, "%s/output_%d.pb", dir, i);
    if (snt_onnx_write_tensor_file(path, &t, &e) != SNT_OK) {
      fprintf(stderr, "%s\n", e.msg);
      rc = SNT_RT_EXIT_USER;
    }
  }
  snt_rt_close(&model);
  for (int i = 0; i < 64; i++) {
    snt_tensor_buf_free(&ins[i]);
    free(in_bufs[i]);
    free(outs[i]);
  }
  return rc;
}

/* The commands that decode image files, and so take --window. */
static bool reads_images(const char *cmd) {
  static const char *const cmds[] = {"predict", "train", "evaluate", "data", "explain", "serve", NULL};
  for (int i = 0; cmds[i]; i++)
    if (strcmp(cmd, cmds[i]) == 0) return true;
  return false;
}

int snt_rt_parse(const char *model, const char *cmd, const snt_opt *own, snt_rt_common *c, int argc, char **argv,
                 char **pos, int max_pos, int *n_pos) {
  const snt_opt common[] = {
      {.name = "weights", 0, SNT_OPT_STRING, &c->weights, "FILE.onnx", "use these weights instead of the built-in ones"},
      {.name = "threads", 0, SNT_OPT_INT, &c->threads_arg, "N", "threads", .imin = 1, .imax = SNT_RT_MAX_THREADS},
      {.name = "precision", 0, SNT_OPT_STRING, &c->precision_arg, "fp32|bf16", "the arithmetic of the products"},
      {NULL}};
  c->window_arg[1] = NAN; /* still NaN: not given (the parser takes finite numbers only) */
  const snt_opt image[] = {
      {.name = "window", 0, SNT_OPT_DOUBLES, c->window_arg, "C,W", "DICOM VOI window center and width (width >= 1)",
       .dmin = -1e300, .dmax = 1e300, .count = 2},
      {NULL}};
  const snt_opt none[] = {{NULL}};
  const snt_opt *const tables[] = {own ? own : none, common, reads_images(cmd) ? image : none, NULL};
  snt_err e;
  snt_opt_result r = snt_opt_parse(tables, argc, argv, pos, max_pos, n_pos, &e);
  if (r == SNT_OPT_HELP) return -1;
  if (r) {
    char prog[300];
    snprintf(prog, sizeof prog, "%s %s", model, cmd);
    return snt_opt_fail(prog, &e);
  }
  c->threads = (int)c->threads_arg;
  if (!isnan(c->window_arg[1]) && !(c->window_arg[1] >= 1)) {
    fprintf(stderr, "%s %s: --window: the width must be at least 1, not %g (C,W: center, width)\n", model, cmd,
            c->window_arg[1]);
    return SNT_RT_EXIT_USER;
  }
  if (!isnan(c->window_arg[1])) c->window = (snt_image_window){1, c->window_arg[0], c->window_arg[1]};
  if (c->precision_arg && strcmp(c->precision_arg, "fp32") && strcmp(c->precision_arg, "bf16")) {
    fprintf(stderr, "%s %s: --precision: '%s' is not a precision (fp32 or bf16)\n", model, cmd, c->precision_arg);
    return SNT_RT_EXIT_USER;
  }
  if (c->precision_arg) c->precision = strcmp(c->precision_arg, "bf16") == 0 ? SNT_RT_BF16 : SNT_RT_FP32;
  return 0;
}

/* The kernel each conv, dense and Gemm node runs with on this CPU (chosen at run time from its
 * features and the layer's shape; SINTER_ISA caps the ISA). */
static void print_kernels(const snt_model_info *m) {
  if (!m->kernel) return;
  int width = 4, any = 0;
  for (int i = 0; i < m->n_nodes; i++) {
    if (!m->kernel(NULL, i)) continue;
    int len = (int)strlen(m->nodes[i].name);
    if (len > width) width = len < 60 ? len : 60;
    any = 1;
  }
  if (!any) return;
  printf("\nKernels on this CPU (FP32%s):\n", m->bf16 ? "; --precision bf16 runs the GEMM convolutions and dense layers in bfloat16 where the CPU has AVX512_BF16" : "");
  for (int i = 0; i < m->n_nodes; i++) {
    const char *k = m->kernel(NULL, i);
    if (!k) continue;
    putchar(' ');
    int len = 0;
    for (const char *c = m->nodes[i].name; *c; c++, len++) putchar((unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c);
    printf("%*s  %-10s  %s\n", width > len ? width - len : 0, "", m->nodes[i].op, k);
  }
}

/* info and summary: no arguments but the common options. */
static int simple_command(const snt_model_info *m, snt_rt_common *c, const char *cmd, int argc, char **argv) {
  int n = 0;
  int rc = snt_rt_parse(m->name, cmd, NULL, c, argc, argv, NULL, 0, &n);
  if (rc < 0) return snt_rt_usage(stdout, m), 0;
  if (rc) return rc;
  if (strcmp(cmd, "info") == 0) return cmd_info(m, c);
  fputs(m->summary && m->summary[0] ? m->summary : "(no summary was compiled in)\n", stdout);
  print_kernels(m);
  return 0;
}

int snt_rt_main(int argc, char **argv, const snt_model_info *m) { return snt_rt_main_with(argc, argv, m, NULL); }

int snt_rt_main_with(int argc, char **argv, const snt_model_info *m, const snt_rt_explain_src *xs) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    snt_rt_usage(argc < 2 ? stderr : stdout, m);
    return argc < 2 ? SNT_RT_EXIT_USER : 0;
  }
  const char *cmd = argv[1];
  int n = argc - 2;
  char **args = argv + 2;
  snt_rt_common c = {.explain = xs};
  if (strcmp(cmd, "run") == 0) return cmd_run(m, &c, n, args);
  if (strcmp(cmd, "predict") == 0) return snt_rt_cmd_predict(m, &c, n, args);
  if (strcmp(cmd, "bench") == 0) return snt_rt_cmd_bench(m, &c, n, args);
  if (strcmp(cmd, "serve") == 0) return snt_rt_cmd_serve(m, &c, n, args);
  if (strcmp(cmd, "info") == 0 || strcmp(cmd, "summary") == 0) return simple_command(m, &c, cmd, n, args);
  if (strcmp(cmd, "train") == 0 || strcmp(cmd, "evaluate") == 0 || strcmp(cmd, "export-onnx") == 0 ||
      strcmp(cmd, "data") == 0 || strcmp(cmd, "gradients") == 0 || strcmp(cmd, "explain") == 0) {
    fprintf(stderr, "%s: '%s' is not available: this executable was compiled for inference only (an ONNX graph, "
                    "sinter compile --no-train, or a model sinter cannot train yet)%s\n", m->name, cmd,
            strcmp(cmd, "explain") == 0 ? "; Grad-CAM needs an explain model: a DSL model compiled without --no-train, "
                                          "or an ONNX graph compiled with --explain" : "");
    return SNT_RT_EXIT_USER;
  }
  static const char *const commands[] = {"predict", "run", "bench", "serve", "summary", "info", "train", "evaluate",
                                         "export-onnx", "data", "gradients", "explain", "help", NULL};
  const char *near = snt_opt_suggest(cmd, commands);
  if (near) fprintf(stderr, "%s: unknown command '%s'; did you mean '%s'?\n\n", m->name, cmd, near);
  else fprintf(stderr, "%s: unknown command '%s'\n\n", m->name, cmd);
  snt_rt_usage(stderr, m);
  return SNT_RT_EXIT_USER;
}
