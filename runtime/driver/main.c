/* The command line of an executable built by sinter. Only snt_rt_main decides exit
 * codes: 0 success, 1 a problem with the user's input, 2 an internal error. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/driver/driver.h"
#include "sinter/onnx_io.h"

static void usage(FILE *f, const snt_model_info *m) {
  fprintf(f,
          "usage: %s COMMAND [ARGS] [--weights FILE.onnx] [--threads N]\n\n"
          "Model '%s' compiled by sinter: %d input%s, %d output%s, batch %lld.\n\n"
          "commands:\n"
          "  predict IMAGE...                 class and confidence per PNG or JPEG image\n"
          "          [--json] [--top K] [--save-input DIR]\n"
          "  run IN_0.pb [IN_1.pb ...] -o DIR run once on serialized ONNX tensors; writes DIR/output_<i>.pb\n"
          "  bench [--batch N] [--iters K] [--seconds S]\n"
          "                                   median latency and images per second\n"
          "  summary                          the layer table\n"
          "  info                             inputs and outputs with their types and shapes\n\n"
          "  --weights FILE.onnx              use these weights (as export-onnx writes them) instead of the built-in ones\n"
          "  --threads N                      threads for the linear algebra (default: all cores)\n",
          m->name, m->name, m->n_inputs, m->n_inputs == 1 ? "" : "s", m->n_outputs, m->n_outputs == 1 ? "" : "s",
          (long long)(m->batch * (m->instances > 1 ? m->instances : 1)));
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
  printf("threads: %d model cop%s of batch %lld\n", model.n_inst, model.n_inst == 1 ? "y" : "ies", (long long)m->batch);
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

static int cmd_run(const snt_model_info *m, const snt_rt_common *c, int argc, char **argv) {
  const char *dir = NULL;
  const char *files[64];
  int n_files = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) dir = argv[++i];
    else if (n_files < 64) files[n_files++] = argv[i];
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
  int rc = snt_rt_open(m, c, &model);
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
      fprintf(stderr, "%s: input %d ('%s') must be %s shaped as the compiled input (a smaller batch is fine); run '%s info'\n",
              files[i], i, model.in[i].name, snt_dtype_name(model.in[i].dtype), m->name);
      rc = SNT_RT_EXIT_USER;
    } else {
      /* A smaller batch runs padded with zeros; its outputs are cut back to it. */
      if (model.in[i].batched && ins[i].dims[0] < used) used = ins[i].dims[0];
      in_bufs[i] = calloc(1, snt_rt_io_bytes(&model.in[i]) + 1);
      if (!in_bufs[i]) rc = SNT_RT_EXIT_INTERNAL;
      else memcpy(in_bufs[i], ins[i].data, snt_tensor_buf_nbytes(&ins[i]));
      in_ptrs[i] = in_bufs[i];
    }
  }
  for (int i = 0; i < m->n_outputs && !rc; i++)
    if (!(outs[i] = calloc(1, snt_rt_io_bytes(&model.out[i]) + 1))) rc = SNT_RT_EXIT_INTERNAL;
  if (!rc && snt_rt_run(&model, in_ptrs, outs) != 0) rc = SNT_RT_EXIT_INTERNAL;
  for (int i = 0; i < m->n_outputs && !rc; i++) {
    const snt_model_io *io = &model.out[i];
    snt_tensor_buf t = {.dtype = io->dtype, .rank = io->rank, .data = outs[i], .name = (char *)io->name};
    memcpy(t.dims, io->dims, sizeof t.dims);
    if (io->batched) t.dims[0] = used;
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

/* Takes --weights and --threads out of argv (anywhere after the command). */
static int common_options(const snt_model_info *m, int *argc, char **argv, snt_rt_common *c) {
  int o = 0;
  for (int i = 0; i < *argc; i++) {
    if ((strcmp(argv[i], "--weights") == 0 || strcmp(argv[i], "--threads") == 0) && i + 1 >= *argc) {
      fprintf(stderr, "%s: %s needs a value\n", m->name, argv[i]);
      return SNT_RT_EXIT_USER;
    }
    if (strcmp(argv[i], "--weights") == 0) c->weights = argv[++i];
    else if (strcmp(argv[i], "--threads") == 0) {
      c->threads = atoi(argv[++i]);
      if (c->threads < 1 || c->threads > 256) {
        fprintf(stderr, "%s: --threads takes 1 to 256, got '%s'\n", m->name, argv[i]);
        return SNT_RT_EXIT_USER;
      }
    } else argv[o++] = argv[i];
  }
  *argc = o;
  return 0;
}

int snt_rt_main(int argc, char **argv, const snt_model_info *m) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout, m);
    return argc < 2 ? SNT_RT_EXIT_USER : 0;
  }
  const char *cmd = argv[1];
  int n = argc - 2;
  char **args = argv + 2;
  for (int i = 0; i < n; i++)
    if (strcmp(args[i], "--help") == 0 || strcmp(args[i], "-h") == 0) {
      usage(stdout, m);
      return 0;
    }
  snt_rt_common c = {0};
  int rc = common_options(m, &n, args, &c);
  if (rc) return rc;
  if (strcmp(cmd, "run") == 0) return cmd_run(m, &c, n, args);
  if (strcmp(cmd, "predict") == 0) return snt_rt_cmd_predict(m, &c, n, args);
  if (strcmp(cmd, "bench") == 0) return snt_rt_cmd_bench(m, &c, n, args);
  if (strcmp(cmd, "info") == 0) return cmd_info(m, &c);
  if (strcmp(cmd, "summary") == 0) {
    fputs(m->summary && m->summary[0] ? m->summary : "(no summary was compiled in)\n", stdout);
    return 0;
  }
  if (strcmp(cmd, "train") == 0 || strcmp(cmd, "evaluate") == 0 || strcmp(cmd, "export-onnx") == 0 ||
      strcmp(cmd, "data") == 0 || strcmp(cmd, "gradients") == 0) {
    fprintf(stderr, "%s: '%s' is not available: this executable was compiled for inference only (an ONNX graph, "
                    "sinter compile --no-train, or a model sinter cannot train yet)\n", m->name, cmd);
    return SNT_RT_EXIT_USER;
  }
  fprintf(stderr, "%s: unknown command '%s'\n\n", m->name, cmd);
  usage(stderr, m);
  return SNT_RT_EXIT_USER;
}
