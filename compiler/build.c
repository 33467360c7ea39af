/* The C compiler driver. The runtime is prebuilt, so a build compiles one model file. */
#include "compiler/build.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compiler/codegen/emit.h"
#include "compiler/codegen/suite.h"
#include "compiler/plan.h"
#include "sinter/file.h"
#include "sinter_build_paths.h"
#include "support/util.h"

extern char **environ;

enum { MAX_ARGS = 64 };

typedef struct argv_buf {
  char *v[MAX_ARGS + 1];
  int n;
} argv_buf;

static void arg(argv_buf *a, const char *s) {
  if (a->n < MAX_ARGS && s) a->v[a->n++] = snt_strdup(s);
}

/* Splits $CFLAGS at spaces (no quoting, as make does for simple flags). */
static void split_args(argv_buf *a, const char *s) {
  while (s && *s) {
    while (*s == ' ') s++;
    const char *e = s;
    while (*e && *e != ' ') e++;
    if (e > s && a->n < MAX_ARGS) a->v[a->n++] = snt_strndup(s, (size_t)(e - s));
    s = e;
  }
}

/* environ with TMPDIR set to `tmpdir` (malloc'ed array; the strings but the last are
 * environ's), or NULL when out of memory. */
static char **env_with_tmpdir(const char *tmpdir, char **own) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 2, sizeof *env);
  *own = snt_format("TMPDIR=%s", tmpdir);
  if (!env || !*own) {
    free(env);
    free(*own);
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "TMPDIR=", 7) != 0) env[k++] = environ[i];
  env[k] = *own;
  return env;
}

/* Runs argv, capturing its output into *out (malloc'ed) through a pipe, with its temporary
 * files (gcc's ccXXXXXX.o) in `tmpdir`; returns its exit status or -1. A signal that ends
 * sinter stops it too. */
static int run_capture(char **argv, const char *tmpdir, char **out) {
  *out = NULL;
  char *own = NULL;
  char **env = env_with_tmpdir(tmpdir, &own);
  int fds[2];
  if (!env || pipe(fds) != 0) {
    free(env);
    free(own);
    return -1;
  }
  fcntl(fds[0], F_SETFD, FD_CLOEXEC); /* only the dup2'ed copies reach the compiler */
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  /* Its own process group, so a signal that ends sinter can stop cc, cc1, as and ld at once
   * (before its temporary files and our build folder go). */
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&at, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  free(env);
  free(own);
  close(fds[1]);
  if (rc == 0) snt_file_cleanup_child(pid, true);
  snt_strbuf log = {0};
  char buf[4096];
  for (ssize_t n; rc == 0 && ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR));)
    if (n > 0 && log.len < (1u << 20)) snt_sb_printf(&log, "%.*s", (int)n, buf); /* the first MiB is plenty */
  close(fds[0]);
  int status = -1;
  if (rc == 0) {
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    snt_file_cleanup_child(0, false);
    status = w != pid ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  if (!log.failed && log.data) *out = snt_strdup(log.data);
  snt_sb_free(&log);
  return status;
}

/* Whether the inference graph holds parameter x of the explain graph: same name and values. */
static bool holds(const snt_graph *g, const snt_tensor *x) {
  for (int k = 0; k < g->n_tensors; k++) {
    const snt_tensor *t = &g->tensors[k];
    if (t->kind == SNT_T_PARAM && strcmp(t->name, x->name) == 0)
      return t->dtype == x->dtype && t->rank == x->rank && memcmp(t->dims, x->dims, sizeof(int64_t) * (size_t)x->rank) == 0 &&
             t->data && x->data && memcmp(t->data, x->data, (size_t)snt_tensor_numel(x) * snt_dtype_size(x->dtype)) == 0;
  }
  return false;
}

/* The explain graph's parameters the inference graph lacks or changed (passes fold a rescale
 * or BatchNorm into a convolution): their bytes go to <prefix>_explain_delta.bin (embedded by
 * its .S), their table into main.c. The others are read from the inference weights by name. */
static snt_status explain_delta(const snt_graph *g, const snt_graph *xg, const char *dir, const char *prefix, snt_strbuf *table,
                                snt_diag *d) {
  char *bin = snt_format("%s/%s_explain_delta.bin", dir, prefix), *sname = snt_format("%s/%s_explain_delta.S", dir, prefix);
  FILE *f = bin ? fopen(bin, "wb") : NULL;
  bool bad = !f || !sname;
  size_t at = 0;
  int n = 0;
  snt_sb_printf(table, "static const snt_explain_param explain_delta_[] = {\n");
  for (int i = 0; i < xg->n_tensors && !bad; i++) {
    const snt_tensor *x = &xg->tensors[i];
    /* Constants always: the inference model's table lists parameters only. */
    if (!x->data || (x->kind != SNT_T_CONST && (x->kind != SNT_T_PARAM || holds(g, x)))) continue;
    size_t bytes = (size_t)snt_tensor_numel(x) * snt_dtype_size(x->dtype);
    bad = fwrite(x->data, 1, bytes, f) != bytes;
    snt_sb_puts(table, "  {.name = ");
    snt_c_string(table, x->name);
    snt_sb_printf(table, ", .offset = %zu, .bytes = %zu},\n", at, bytes);
    at += bytes, n++;
  }
  if (!n) snt_sb_puts(table, "  {.name = NULL},\n");
  bad |= !f || fputc(0, f) == EOF; /* never an empty .incbin */
  if (f) bad |= fclose(f) != 0;
  snt_sb_printf(table, "};\nextern const unsigned char %s_explain_delta[];\n\n", prefix);
  FILE *s = !bad ? fopen(sname, "w") : NULL;
  bad |= !s || fprintf(s, "/* Generated by sinter: the explain model's own parameters. */\n  .section .rodata\n  .balign 64\n"
                          "  .global %s_explain_delta\n%s_explain_delta:\n  .incbin \"%s_explain_delta.bin\"\n"
                          "  .section .note.GNU-stack,\"\",@progbits\n", prefix, prefix, prefix) < 0;
  if (s) bad |= fclose(s) != 0;
  if (bad) snt_diag_error(d, NULL, (snt_loc){0}, "cannot write '%s': %s", bin ? bin : dir, strerror(errno));
  snt_sb_printf(table, "#define SNT_EXPLAIN_DELTA , .n_delta = %d, .delta = explain_delta_, .delta_bytes = %s_explain_delta\n", n, prefix);
  free(bin);
  free(sname);
  return bad ? SNT_ERR_IO : SNT_OK;
}

/* main.c of an inference-only executable; with an explain model (or why there is none), the
 * command line that also explains. */
static snt_status write_main(const char *dir, const char *prefix, const snt_graph *g, const snt_build_opts *o, snt_diag *d) {
  bool explain = o->explain_graph || o->explain_why;
  snt_strbuf b = {0};
  snt_status st = SNT_OK;
  snt_sb_printf(&b, "/* Generated by sinter: the executable's entry point. */\n#include \"%s.h\"\n", prefix);
  if (o->explain_graph) snt_sb_printf(&b, "#include \"%s_explain.h\"\n", prefix);
  if (explain) snt_sb_puts(&b, "#include <sinter/explain.h>\n\n");
  if (o->explain_graph) st = explain_delta(g, o->explain_graph, dir, prefix, &b, d);
  if (explain)
    snt_codegen_explain_tables(&b, o->explain_graph ? o->explain : NULL, prefix, o->explain_why,
                               o->explain_graph ? " SNT_EXPLAIN_DELTA" : NULL);
  snt_sb_printf(&b, "\nint main(int argc, char **argv) { return snt_rt_main%s(argc, argv, &%s_info%s); }\n",
                explain ? "_explain" : "", prefix, explain ? ", &explain_" : "");
  char *path = snt_format("%s/main.c", dir);
  FILE *f = !st && path && !b.failed ? fopen(path, "w") : NULL;
  bool bad = !f || fwrite(b.data, 1, b.len, f) != b.len;
  if (f) bad |= fclose(f) != 0;
  if (bad && !st) snt_diag_error(d, NULL, (snt_loc){0}, "cannot write '%s': %s", path ? path : dir, strerror(errno));
  free(path);
  snt_sb_free(&b);
  return st ? st : bad ? SNT_ERR_IO : SNT_OK;
}

/* Where the runtime is: next to an installed sinter (<prefix>/bin/../lib/sinter), else in
 * the build tree this sinter came from. */
static void runtime_paths(char *inc, char *inc2, size_t size, char *libs, size_t libs_size) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
      *slash = '\0';
      char probe[4200];
      snprintf(probe, sizeof probe, "%s/../lib/sinter/libsinterrt.a", self);
      if (access(probe, R_OK) == 0) {
        snprintf(inc, size, "-I%s/../include", self);
        snprintf(inc2, size, "-I%s/../include", self);
        snprintf(libs, libs_size, "%s/../lib/sinter/libsinterrt.a %s/../lib/sinter/libsnt_onnxpb.a %s", self, self,
                 SINTER_RT_SYSTEM_LIBS);
        return;
      }
    }
  }
  snprintf(inc, size, "-I%s", SINTER_INCLUDE_DIR);
  snprintf(inc2, size, "-I%s", SINTER_GEN_INCLUDE_DIR);
  snprintf(libs, libs_size, "%s", SINTER_RT_LIBS);
}

/* The largest weights blob linked with SINTER_FAST_LD. */
enum { FAST_LD_MAX_BLOB = 32 << 20 };

/* What to build: the generated sources beside <prefix>.c. */
typedef struct build_parts {
  bool has_weights, train, explain, explain_weights;
} build_parts;

static snt_status compile(const char *dir, const char *prefix, const build_parts *bp, const char *output, snt_diag *d) {
  bool has_weights = bp->has_weights, train = bp->train, explain = bp->explain;
  argv_buf a = {0};
  char inc1[4400], inc2[4400], libs[16384];
  runtime_paths(inc1, inc2, sizeof inc1, libs, sizeof libs);
  const char *cc = getenv("CC");
  arg(&a, cc && *cc ? cc : "cc");
  arg(&a, "-O3"); /* the generated loops (BN, elementwise) vectorise at -O3 with gcc 12 */
  arg(&a, "-std=gnu11");
  /* A kernel called without its prototype, or with a pointer of the wrong type, is a sinter bug
   * that would compute garbage: stop the build instead. */
  arg(&a, "-Werror=implicit-function-declaration");
  arg(&a, "-Werror=incompatible-pointer-types");
  arg(&a, "-Werror=int-conversion");
  char *c1 = snt_format("%s/%s.c", dir, prefix);
  char *c2 = train ? snt_format("%s/%s_suite.c", dir, prefix) : snt_format("%s/main.c", dir);
  char *c3 = train ? snt_format("%s/%s_train.c", dir, prefix) : NULL, *c4 = train ? snt_format("%s/%s_eval.c", dir, prefix) : NULL;
  char *c5 = explain ? snt_format("%s/%s_explain.c", dir, prefix) : NULL;
  char *s1 = has_weights ? snt_format("%s/%s_weights.S", dir, prefix) : NULL;
  char *s2 = bp->explain_weights ? snt_format("%s/%s_explain_delta.S", dir, prefix) : NULL;
  char *wa = snt_format("-Wa,-I%s", dir); /* .incbin finds the blob next to the stub */
  arg(&a, inc1);
  arg(&a, inc2);
  arg(&a, wa);
  split_args(&a, SINTER_EXE_CFLAGS);
  /* gold links in a third of ld.bfd's time but holds the weights object and the output in
   * memory at once: a large blob links with the default linker, whose peak stays near the
   * blob's size (tests/files: files.rss). */
  char *blob = snt_format("%s/%s_weights.bin", dir, prefix);
  struct stat sb;
  if (SINTER_FAST_LD[0] && !(has_weights && blob && stat(blob, &sb) == 0 && sb.st_size > FAST_LD_MAX_BLOB))
    arg(&a, SINTER_FAST_LD);
  free(blob);
  split_args(&a, getenv("CFLAGS"));
  arg(&a, c1);
  arg(&a, c2);
  if (c3) arg(&a, c3);
  if (c4) arg(&a, c4);
  if (c5) arg(&a, c5);
  if (s1) arg(&a, s1);
  if (s2) arg(&a, s2);
  arg(&a, "-o");
  arg(&a, output);
  split_args(&a, libs);
  free(c1), free(c2), free(c3), free(c4), free(c5), free(s1), free(s2), free(wa);
  /* The compiler's own temporaries go to a folder of ours, registered for cleanup: a signal
   * may stop gcc's driver after it removed them but before its assembler wrote one. */
  char *cctmp = NULL, *log = NULL;
  snt_err e;
  if (snt_file_tmpdir_create(NULL, &cctmp, &e) != SNT_OK) {
    for (int i = 0; i < a.n; i++) free(a.v[i]);
    return snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  }
  int rc = run_capture(a.v, cctmp, &log);
  snt_file_tmpdir_remove(cctmp);
  snt_status st = SNT_OK;
  if (rc != 0) {
    st = snt_diag_error(d, NULL, (snt_loc){0}, "the C compiler (%s) failed with status %d building '%s':\n%s", a.v[0], rc,
                        output, log ? log : "(no output)");
  }
  free(log);
  for (int i = 0; i < a.n; i++) free(a.v[i]);
  return st;
}

/* Links into a temporary beside the executable, then renames it over: an interrupted build
 * leaves no half-written executable, and a running one is replaced, not overwritten. */
static snt_status compile_atomic(const char *dir, const char *prefix, const build_parts *bp, const char *output,
                                 snt_diag *d) {
  snt_file_atomic a;
  snt_err e;
  if (snt_file_atomic_open(output, &a, &e) != SNT_OK) return snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  snt_status st = compile(dir, prefix, bp, a.tmp, d);
  if (st) {
    snt_file_atomic_abandon(&a);
    return st;
  }
  if (snt_file_atomic_commit(&a, &e) != SNT_OK) return snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  return SNT_OK;
}

/* Plans and writes one more model of the executable, <prefix><suffix>, whose weights the
 * runtime provides. */
static snt_status side_model(const snt_graph *g, const char *prefix, const char *suffix, bool step, const char *dir,
                             snt_diag *d) {
  char *name = snt_format("%s%s", prefix, suffix);
  snt_plan p;
  snt_status st = name ? snt_plan_build(g, d, &p) : SNT_ERR_NOMEM;
  if (!st) {
    snt_codegen_opts co = {.name = name, .step = step, .no_weights = true};
    st = snt_codegen(g, &p, &co, dir, d);
    snt_plan_free(&p);
  }
  free(name);
  return st;
}

static snt_status training_side(const snt_build_opts *o, const char *prefix, const char *dir, snt_diag *d) {
  snt_status st = side_model(o->eval, prefix, "_eval", false, dir, d);
  if (!st) st = side_model(o->train_step, prefix, "_train", true, dir, d);
  if (!st && o->explain_graph) st = side_model(o->explain_graph, prefix, "_explain", false, dir, d);
  snt_suite_src s = {o->train_step, o->ad, prefix, o->onnx_template, o->onnx_template_bytes,
                     o->explain_graph ? o->explain : NULL, o->explain_why};
  if (!st) st = snt_codegen_suite(&s, dir, d);
  return st;
}

/* Says which C names a model got when its own name could not be its C prefix. */
static void name_note(const char *name, const char *prefix, snt_diag *d) {
  snt_strbuf shown = {0};
  snt_c_comment(&shown, name);
  snt_diag_note(d, NULL, (snt_loc){0},
                "model name '%s' is not a safe C identifier; its C entry points are %s_create, %s_run, %s_destroy and %s_info (in %s.h)",
                shown.data ? shown.data : "", prefix, prefix, prefix, prefix, prefix);
  snt_sb_free(&shown);
}

snt_status snt_build_executable(const snt_graph *g, const snt_build_opts *o, snt_diag *d) {
  /* The build folder: --emit-c's, else a temporary one in $TMPDIR that is removed on every
   * exit path, signals included (sinter/file.h). */
  char *tmp = NULL;
  const char *dir = o->emit_dir;
  snt_err e;
  if (dir ? snt_file_mkdir_p(dir, &e) : snt_file_tmpdir_create(NULL, &tmp, &e))
    return snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  if (tmp) dir = tmp;
  char *prefix = snt_c_ident(g->name);
  if (prefix && o->name_note && strcmp(prefix, g->name) != 0) name_note(g->name, prefix, d);
  snt_plan p;
  snt_status st = prefix ? snt_plan_build(g, d, &p) : SNT_ERR_NOMEM;
  if (!st) {
    snt_codegen_opts co = {.name = prefix, .pre = o->pre, .summary = o->summary, .instances = o->instances,
                           .bf16 = o->bf16};
    st = snt_codegen(g, &p, &co, dir, d);
    if (!st && o->train_step) st = training_side(o, prefix, dir, d);
    /* Without a training step the explain model reads the inference model's weights by name,
     * and its own values of those that passes changed (explain_delta). */
    bool own = !o->train_step && o->explain_graph;
    if (!st && own) st = side_model(o->explain_graph, prefix, "_explain", false, dir, d);
    if (!st && !o->train_step) st = write_main(dir, prefix, g, o, d);
    build_parts bp = {.has_weights = p.weights_bytes > 0, .train = o->train_step != NULL, .explain = o->explain_graph != NULL,
                      .explain_weights = own};
    if (!st) st = compile_atomic(dir, prefix, &bp, o->output, d);
    snt_plan_free(&p);
  }
  snt_file_tmpdir_remove(tmp);
  free(prefix);
  return st;
}
