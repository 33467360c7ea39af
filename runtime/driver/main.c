/* The command line of an executable built by sinter. Only this file's snt_rt_main
 * decides exit codes: 0 success, 1 a problem with the user's input, 2 an internal error. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/model.h"
#include "sinter/onnx_io.h"

enum { EXIT_USER = 1, EXIT_INTERNAL = 2 };

static void usage(FILE *f, const snt_model_info *m) {
  fprintf(f,
          "usage: %s COMMAND [ARGS]\n\n"
          "A model compiled by sinter (%d input%s, %d output%s, batch %lld).\n\n"
          "commands:\n"
          "  run IN_0.pb [IN_1.pb ...] -o DIR   run once on serialized ONNX tensors; writes DIR/output_<i>.pb\n"
          "  info                              the inputs and outputs with their types and shapes\n",
          m->name, m->n_inputs, m->n_inputs == 1 ? "" : "s", m->n_outputs, m->n_outputs == 1 ? "" : "s",
          (long long)m->batch);
}

static void print_io(const char *what, const snt_model_io *io) {
  printf("%s %s: %s [", what, io->name, snt_dtype_name(io->dtype));
  for (int k = 0; k < io->rank; k++) printf("%s%lld", k ? ", " : "", (long long)io->dims[k]);
  printf("]\n");
}

static int cmd_info(const snt_model_info *m) {
  for (int i = 0; i < m->n_inputs; i++) print_io("input", &m->inputs[i]);
  for (int i = 0; i < m->n_outputs; i++) print_io("output", &m->outputs[i]);
  return 0;
}

static bool same_shape(const snt_tensor_buf *t, const snt_model_io *io) {
  if (t->rank != io->rank) return false;
  for (int k = 0; k < t->rank; k++)
    if (t->dims[k] != io->dims[k]) return false;
  return true;
}

static size_t io_bytes(const snt_model_io *io) {
  size_t n = snt_dtype_size(io->dtype);
  for (int k = 0; k < io->rank; k++) n *= (size_t)io->dims[k];
  return n;
}

/* run: inputs in graph order, outputs written as output_<i>.pb. */
static int cmd_run(const snt_model_info *m, int argc, char **argv) {
  const char *dir = NULL;
  const char *files[64];
  int n_files = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) dir = argv[++i];
    else if (n_files < 64) files[n_files++] = argv[i];
  }
  if (!dir || n_files != m->n_inputs) {
    fprintf(stderr, "%s run: needs %d input file%s and -o DIR (got %d file%s%s)\n", m->name, m->n_inputs,
            m->n_inputs == 1 ? "" : "s", n_files, n_files == 1 ? "" : "s", dir ? "" : ", no -o");
    return EXIT_USER;
  }
  int rc = 0;
  snt_tensor_buf ins[64] = {0};
  void *outs[64] = {0};
  const void *in_ptrs[64];
  snt_err e;
  for (int i = 0; i < n_files && !rc; i++) {
    if (snt_onnx_read_tensor_file(files[i], &ins[i], &e) != SNT_OK) {
      fprintf(stderr, "%s\n", e.msg);
      rc = EXIT_USER;
    } else if (ins[i].dtype != m->inputs[i].dtype || !same_shape(&ins[i], &m->inputs[i])) {
      fprintf(stderr, "%s: input %d ('%s') must be %s of the compiled shape; run '%s info'\n", files[i], i,
              m->inputs[i].name, snt_dtype_name(m->inputs[i].dtype), m->name);
      rc = EXIT_USER;
    }
    in_ptrs[i] = ins[i].data;
  }
  for (int i = 0; i < m->n_outputs && !rc; i++)
    if (!(outs[i] = calloc(1, io_bytes(&m->outputs[i]) + 1))) rc = EXIT_INTERNAL;
  void *model = rc ? NULL : m->create();
  if (!rc && !model) rc = EXIT_INTERNAL;
  if (!rc && m->run(model, in_ptrs, outs) != 0) rc = EXIT_INTERNAL;
  for (int i = 0; i < m->n_outputs && !rc; i++) {
    const snt_model_io *io = &m->outputs[i];
    snt_tensor_buf t = {.dtype = io->dtype, .rank = io->rank, .data = outs[i], .name = (char *)io->name};
    memcpy(t.dims, io->dims, sizeof t.dims);
    char path[4096];
    snprintf(path, sizeof path, "%s/output_%d.pb", dir, i);
    if (snt_onnx_write_tensor_file(path, &t, &e) != SNT_OK) {
      fprintf(stderr, "%s\n", e.msg);
      rc = EXIT_USER;
    }
  }
  if (model) m->destroy(model);
  for (int i = 0; i < 64; i++) {
    snt_tensor_buf_free(&ins[i]);
    free(outs[i]);
  }
  return rc;
}

int snt_rt_main(int argc, char **argv, const snt_model_info *m) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout, m);
    return argc < 2 ? EXIT_USER : 0;
  }
  if (strcmp(argv[1], "run") == 0) return cmd_run(m, argc - 2, argv + 2);
  if (strcmp(argv[1], "info") == 0) return cmd_info(m);
  fprintf(stderr, "%s: unknown command '%s'\n", m->name, argv[1]);
  usage(stderr, m);
  return EXIT_USER;
}
