/* sinter run and sinter onnx-test: an ONNX model through the real compile path. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compiler/build.h"
#include "compiler/cli/cli.h"
#include "compiler/onnx/import.h"
#include "compiler/passes/passes.h"
#include "sinter/file.h"
#include "sinter/onnx_io.h"
#include "support/util.h"

/* The graph inputs that are not initializers, in order: what the input files feed. */
static int runtime_inputs(const Onnx__ModelProto *m, const char **names, int max) {
  const Onnx__GraphProto *g = m->graph;
  int n = 0;
  for (size_t i = 0; i < g->n_input && n < max; i++) {
    bool init = false;
    for (size_t k = 0; k < g->n_initializer && !init; k++) init = strcmp(g->initializer[k]->name, g->input[i]->name) == 0;
    if (!init) names[n++] = g->input[i]->name;
  }
  return n;
}

/* "FLOAT (1, N, 4)": a declared graph input (symbolic dims by name) or a file's tensor. */
static void describe(char *buf, size_t size, int dtype, int rank, const Onnx__TensorShapeProto *sh, const int64_t *dims) {
  const char *tn = snt_dtype_name((snt_dtype)dtype);
  size_t o = (size_t)snprintf(buf, size, "%s (", tn ? tn : "?");
  for (int k = 0; k < rank && o < size; k++) {
    const Onnx__TensorShapeProto__Dimension *dm = sh ? sh->dim[k] : NULL;
    if (dm && dm->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
      o += (size_t)snprintf(buf + o, size - o, "%s%s", k ? ", " : "", dm->dim_param && dm->dim_param[0] ? dm->dim_param : "?");
    else
      o += (size_t)snprintf(buf + o, size - o, "%s%lld", k ? ", " : "", (long long)(dm ? dm->dim_value : dims[k]));
  }
  if (o < size) snprintf(buf + o, size - o, ")");
}

/* An input file must hold the declared type and shape (symbolic dims take any size). */
static bool input_fits(const Onnx__ModelProto *m, const char *model, const char *file, const char *name,
                       const snt_tensor_buf *b) {
  const Onnx__ValueInfoProto *vi = NULL;
  for (size_t i = 0; i < m->graph->n_input && !vi; i++)
    if (strcmp(m->graph->input[i]->name, name) == 0) vi = m->graph->input[i];
  const Onnx__TypeProto__Tensor *tt = vi && vi->type ? vi->type->tensor_type : NULL;
  if (!tt) return true; /* the importer names what is wrong with the declaration */
  const Onnx__TensorShapeProto *sh = tt->shape;
  /* onnx 1.12's test data holds BFLOAT16 inputs in UINT16 tensors: the same bits. */
  bool bf16_bits = tt->elem_type == SNT_BF16 && b->dtype == SNT_U16;
  bool ok = (tt->elem_type == (int32_t)b->dtype || bf16_bits) && (!sh || sh->n_dim == (size_t)b->rank);
  for (size_t k = 0; ok && sh && k < sh->n_dim; k++)
    ok = sh->dim[k]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || sh->dim[k]->dim_value == b->dims[k];
  if (ok) return true;
  char want[512], got[512];
  describe(want, sizeof want, tt->elem_type, sh ? (int)sh->n_dim : 0, sh, NULL);
  if (!sh) snprintf(want, sizeof want, "%s", snt_dtype_name((snt_dtype)tt->elem_type) ? snt_dtype_name((snt_dtype)tt->elem_type) : "?");
  describe(got, sizeof got, b->dtype, b->rank, NULL, b->dims);
  fprintf(stderr, "sinter: error: %s: graph input '%s' of %s is %s; the file holds %s\n", file, name, model, want, got);
  return false;
}

static int spawn_wait(char **argv) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(127);
  }
  snt_file_cleanup_child(pid, false); /* a signal stops it before its executable is removed */
  int status;
  pid_t w = waitpid(pid, &status, 0);
  snt_file_cleanup_child(0, false);
  if (w != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Compiles `model` with the given input files, runs it, writes out_dir/output_<i>.pb.
 * Returns an exit code; messages go to stderr. */
static int run_model(const char *model, char **files, int n_files, const char *out_dir, uint64_t max_memory) {
  snt_diag *d = snt_diag_create();
  Onnx__ModelProto *m = NULL;
  snt_err e;
  snt_tensor_buf given[64] = {0};
  snt_graph *g = NULL;
  int rc = SNT_EXIT_USER;
  char *exe = NULL; /* a registered temporary: removed on signals too (sinter/file.h) */
  if (snt_onnx_load_model(model, &m, &e) != SNT_OK) {
    fprintf(stderr, "sinter: error: %s\n", e.msg);
    goto done;
  }
  const char *names[64];
  int n_names = runtime_inputs(m, names, 64);
  if (n_files != n_names) {
    fprintf(stderr, "sinter: error: %s has %d input%s, got %d file%s\n", model, n_names, n_names == 1 ? "" : "s",
            n_files, n_files == 1 ? "" : "s");
    goto done;
  }
  for (int i = 0; i < n_files; i++) {
    if (snt_onnx_read_tensor_file(files[i], &given[i], &e) != SNT_OK) {
      fprintf(stderr, "sinter: error: %s\n", e.msg);
      goto done;
    }
    free(given[i].name);
    given[i].name = snt_strdup(names[i]);
    if (!input_fits(m, model, files[i], names[i], &given[i])) goto done;
  }
  snt_onnx_import_opts io = {.batch = n_files ? 0 : 1, .given = given, .n_given = n_files};
  if (snt_onnx_import(d, m, model, &io, &g) != SNT_OK) goto done;
  g->max_memory = max_memory;
  if (snt_passes_inference(g, d) != SNT_OK) goto done;
  if (snt_file_tmpfile_create(NULL, "-run", &exe, NULL, &e) != SNT_OK) {
    fprintf(stderr, "sinter: error: %s\n", e.msg);
    rc = SNT_EXIT_INTERNAL;
    goto done;
  }
  snt_build_opts bo = {.output = exe};
  if (snt_build_executable(g, &bo, d) != SNT_OK) {
    rc = SNT_EXIT_INTERNAL;
    goto done;
  }
  /* Inputs folded into constants at compile time are not passed again. */
  char *argv[70] = {exe, "run"};
  int a = 2;
  for (int i = 0; i < g->n_inputs; i++)
    for (int k = 0; k < n_files; k++)
      if (strcmp(g->tensors[g->inputs[i]].name, names[k]) == 0) argv[a++] = files[k];
  argv[a++] = "-o";
  argv[a++] = (char *)out_dir;
  argv[a] = NULL;
  int st = spawn_wait(argv);
  rc = st == 0 ? SNT_EXIT_OK : st == 1 ? SNT_EXIT_USER : SNT_EXIT_INTERNAL;
  if (st != 0) fprintf(stderr, "sinter: error: the compiled model exited with status %d\n", st);
done:
  snt_diag_print(d, stderr);
  if (snt_diag_error_count(d) && rc == SNT_EXIT_OK) rc = SNT_EXIT_USER;
  snt_file_tmpfile_remove(exe);
  snt_ir_destroy(g);
  for (int i = 0; i < 64; i++) snt_tensor_buf_free(&given[i]);
  snt_onnx_free_model(m);
  snt_diag_destroy(d);
  return rc;
}

int snt_cmd_run(int argc, char **argv) {
  const char *out = NULL;
  int64_t max_memory = 0; /* --max-memory BYTES: the planned arena's cap; 0 = the machine's memory */
  const snt_opt table[] = {
      {.name = "out", 'o', SNT_OPT_STRING, &out, "DIR", "the folder for output_<i>.pb (required)"},
      {.name = "max-memory", 0, SNT_OPT_INT, &max_memory, "BYTES", "the most memory the planned arena may take",
       .imin = 1, .imax = INT64_MAX},
      {NULL}};
  const snt_opt *const tables[] = {table, NULL};
  char **pos = malloc(sizeof(char *) * ((size_t)argc + 1));
  int n_pos = 0;
  snt_err e;
  snt_opt_result r = pos ? snt_opt_parse(tables, argc, argv, pos, 65, &n_pos, &e) : SNT_OPT_ERROR;
  if (!pos) snt_err_set(&e, SNT_ERR_NOMEM, "out of memory (%zu bytes for the arguments)", sizeof(char *) * ((size_t)argc + 1));
  if (r == SNT_OPT_HELP) {
    printf("usage: sinter run MODEL.onnx IN_0.pb [IN_1.pb ...] -o DIR [--max-memory BYTES]\n\n"
           "Compiles the model through the real path (generated C, the system compiler), runs it once on\n"
           "the serialized ONNX tensors given for its inputs (in graph order) and writes DIR/output_<i>.pb.\n"
           "Inputs that determine shapes (a Reshape's shape, Resize's scales, axes, pads) are compiled in.\n\n");
    snt_opt_print_help(stdout, tables);
    free(pos);
    return 0;
  }
  if (r) {
    free(pos);
    return pos ? snt_opt_fail("sinter run", &e) : (fprintf(stderr, "sinter run: %s\n", e.msg), SNT_EXIT_INTERNAL);
  }
  if (!n_pos || !out) {
    free(pos);
    fprintf(stderr, "sinter run: needs MODEL.onnx, its input files and -o DIR\nrun 'sinter run --help' for usage\n");
    return SNT_EXIT_USER;
  }
  if (mkdir(out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "sinter run: cannot create %s: %s\n", out, strerror(errno));
    free(pos);
    return SNT_EXIT_USER;
  }
  int rc = run_model(pos[0], pos + 1, n_pos - 1, out, (uint64_t)max_memory);
  free(pos);
  return rc;
}

/* ---- onnx-test ---- */

static bool is_case(const char *dir) {
  char *p = snt_format("%s/model.onnx", dir);
  struct stat s;
  bool ok = p && stat(p, &s) == 0;
  free(p);
  return ok;
}

/* Natural order: input_10.pb after input_9.pb. */
static int cmp_natural(const void *pa, const void *pb) {
  const char *a = *(char *const *)pa, *b = *(char *const *)pb;
  while (*a && *b) {
    if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
      char *ea, *eb;
      unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);
      if (x != y) return x < y ? -1 : 1;
      a = ea, b = eb;
    } else if (*a != *b) {
      return (unsigned char)*a - (unsigned char)*b;
    } else {
      a++, b++;
    }
  }
  return (unsigned char)*a - (unsigned char)*b;
}

/* Sorted entries of dir whose names start with `prefix`, as full paths. */
static int list(const char *dir, const char *prefix, char ***out) {
  DIR *dp = opendir(dir);
  int n = 0, cap = 0;
  char **v = NULL;
  for (struct dirent *de; dp && (de = readdir(dp));) {
    if (strncmp(de->d_name, prefix, strlen(prefix)) != 0) continue;
    if (!SNT_GROW(v, n + 1, cap)) break;
    v[n++] = snt_format("%s/%s", dir, de->d_name);
  }
  if (dp) closedir(dp);
  if (n > 1) qsort(v, (size_t)n, sizeof *v, cmp_natural);
  *out = v;
  return n;
}

static void free_list(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

static bool close_enough(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  if (isinf(a) || isinf(b)) return a == b;
  return fabs(a - b) <= 1e-7 + 1e-3 * fabs(b);
}

static double value_at(const snt_tensor_buf *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
    case SNT_F32: return ((const float *)p)[i];
    case SNT_F64: return ((const double *)p)[i];
    case SNT_F16: return snt_f16_to_f32(((const uint16_t *)p)[i]);
    case SNT_BF16: return snt_bf16_to_f32(((const uint16_t *)p)[i]);
    case SNT_I8: return ((const int8_t *)p)[i];
    case SNT_U8: case SNT_BOOL: return ((const uint8_t *)p)[i];
    case SNT_I16: return ((const int16_t *)p)[i];
    case SNT_U16: return ((const uint16_t *)p)[i];
    case SNT_I32: return ((const int32_t *)p)[i];
    case SNT_U32: return ((const uint32_t *)p)[i];
    case SNT_I64: return (double)((const int64_t *)p)[i];
    case SNT_U64: return (double)((const uint64_t *)p)[i];
    default: return NAN;
  }
}

/* onnx 1.12's test data holds BFLOAT16 values in UINT16 tensors: the same bits. */
static bool same_type(const snt_tensor_buf *got, snt_tensor_buf *want) {
  if (got->dtype == SNT_BF16 && want->dtype == SNT_U16) want->dtype = SNT_BF16;
  return got->dtype == want->dtype;
}

/* Compares an output with the expected tensor as ONNX's backend tests do. */
static bool compare(const char *got_path, const char *want_path, char *why, size_t size) {
  snt_tensor_buf got = {0}, want = {0};
  snt_err e;
  bool ok = false;
  if (snt_onnx_read_tensor_file(want_path, &want, &e) != SNT_OK) {
    snprintf(why, size, "%s", e.msg);
  } else if (snt_onnx_read_tensor_file(got_path, &got, &e) != SNT_OK) {
    snprintf(why, size, "%s", e.msg);
  } else if (!same_type(&got, &want)) {
    snprintf(why, size, "%s: type %s, want %s", got_path, snt_dtype_name(got.dtype), snt_dtype_name(want.dtype));
  } else if (got.rank != want.rank || memcmp(got.dims, want.dims, sizeof(int64_t) * (size_t)got.rank) != 0) {
    snprintf(why, size, "%s: shape differs (rank %d, want %d)", got_path, got.rank, want.rank);
  } else {
    bool is_float = got.dtype == SNT_F32 || got.dtype == SNT_F64 || got.dtype == SNT_F16 || got.dtype == SNT_BF16;
    ok = true;
    for (int64_t i = 0; i < snt_tensor_buf_numel(&got) && ok; i++) {
      double a = value_at(&got, i), b = value_at(&want, i);
      if (is_float ? !close_enough(a, b) : a != b) {
        snprintf(why, size, "%s: element %lld is %.9g, want %.9g", got_path, (long long)i, a, b);
        ok = false;
      }
    }
  }
  snt_tensor_buf_free(&got);
  snt_tensor_buf_free(&want);
  return ok;
}

static bool run_case(const char *dir, uint64_t max_memory, char *why, size_t size) {
  char **sets = NULL;
  int n_sets = list(dir, "test_data_set_", &sets);
  char *model = snt_format("%s/model.onnx", dir);
  bool ok = n_sets > 0 && model;
  if (!n_sets) snprintf(why, size, "no test_data_set_* folder");
  for (int s = 0; s < n_sets && ok; s++) {
    char **ins = NULL, **outs = NULL;
    int n_in = list(sets[s], "input_", &ins), n_out = list(sets[s], "output_", &outs);
    char *tmp = NULL;
    snt_err e;
    if (snt_file_tmpdir_create(NULL, &tmp, &e) != SNT_OK) {
      snprintf(why, size, "%s", e.msg);
      ok = false;
    } else if (run_model(model, ins, n_in, tmp, max_memory) != 0) {
      snprintf(why, size, "compiling or running failed (messages above)");
      ok = false;
    }
    for (int i = 0; i < n_out && ok; i++) {
      char *got = snt_format("%s/output_%d.pb", tmp, i);
      ok = compare(got, outs[i], why, size);
      free(got);
    }
    snt_file_tmpdir_remove(tmp);
    free_list(ins, n_in);
    free_list(outs, n_out);
  }
  free(model);
  free_list(sets, n_sets);
  return ok;
}

int snt_cmd_onnx_test(int argc, char **argv) {
  int passed = 0, failed = 0;
  int64_t max_memory = 0; /* --max-memory BYTES: each case's planned memory cap; 0 = the machine's memory */
  const snt_opt table[] = {{.name = "max-memory", 0, SNT_OPT_INT, &max_memory, "BYTES",
                            "the most memory each case's planned model may take", .imin = 1, .imax = INT64_MAX},
                           {NULL}};
  const snt_opt *const tables[] = {table, NULL};
  char **pos = malloc(sizeof(char *) * ((size_t)argc + 1));
  int n_pos = 0;
  snt_err e;
  snt_opt_result r = pos ? snt_opt_parse(tables, argc, argv, pos, argc, &n_pos, &e) : SNT_OPT_ERROR;
  if (r == SNT_OPT_HELP) {
    printf("usage: sinter onnx-test CASE_DIR|FOLDER... [--max-memory BYTES]\n\n"
           "Runs ONNX backend-test cases (model.onnx, test_data_set_*/input_*.pb, output_*.pb) through\n"
           "`sinter run` and compares with rtol 1e-3, atol 1e-7 (exact for integers): one line per case,\n"
           "then 'N passed, M failed'. Exit status 1 if any case failed.\n");
    free(pos);
    return 0;
  }
  if (!pos) {
    fprintf(stderr, "sinter onnx-test: out of memory (%zu bytes for the arguments)\n", sizeof(char *) * ((size_t)argc + 1));
    return SNT_EXIT_INTERNAL;
  }
  if (r) {
    free(pos);
    return snt_opt_fail("sinter onnx-test", &e);
  }
  argc = n_pos;
  argv = pos;
  for (int i = 0; i < argc; i++) {
    char **cases = NULL;
    int n = 0;
    if (is_case(argv[i])) {
      cases = malloc(sizeof *cases);
      if (cases) cases[n++] = snt_strdup(argv[i]);
    } else {
      n = list(argv[i], "", &cases);
    }
    for (int k = 0; k < n; k++) {
      if (!is_case(cases[k])) continue;
      char why[2048] = "";
      bool ok = run_case(cases[k], (uint64_t)max_memory, why, sizeof why);
      printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", cases[k], ok ? "" : ": ", ok ? "" : why);
      fflush(stdout);
      ok ? passed++ : failed++;
    }
    free_list(cases, n);
  }
  printf("%d passed, %d failed\n", passed, failed);
  free(pos);
  return failed || passed == 0 ? SNT_EXIT_USER : SNT_EXIT_OK;
}
