/* The sinter command line. Only main() decides the exit code:
 * 0 success, 1 a problem with the user's input or command line, 2 an internal error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/cli/cli.h"
#include "compiler/lower.h"
#include "compiler/onnx/import.h"
#include "compiler/summary.h"
#include "sinter/version.h"
#include "support/util.h"

static const char usage[] =
    "usage: sinter COMMAND [ARGS]\n"
    "\n"
    "sinter compiles convolutional image classifiers written in its DSL (.nn files).\n"
    "\n"
    "commands:\n"
    "  check MODEL.nn     parse, lower and shape-check a model; errors as file:line:col\n"
    "  summary MODEL.nn|MODEL.onnx\n"
    "                     layer table, output shapes, FLOPs and Keras parameter counts\n"
    "  info MODEL.onnx    IR, opsets, producer, inputs and outputs, op histogram, parameters,\n"
    "                     and the nodes sinter cannot compile, with why\n"
    "  compile MODEL.nn|MODEL.onnx -o EXE\n"
    "                     build a standalone executable (predict, train, evaluate, export-onnx, ...)\n"
    "  export-onnx MODEL.nn [--weights W.onnx] -o OUT.onnx\n"
    "                     the model and its weights as a standard ONNX graph\n"
    "  import MODEL.onnx -o MODEL.nn\n"
    "                     the ONNX graph as DSL text (weights stay in the .onnx)\n"
    "  run MODEL.onnx IN_0.pb... -o DIR\n"
    "                     compile, run once, write DIR/output_<i>.pb\n"
    "  ops [--markdown]   every op: DSL name, ONNX op, Keras class, signature\n"
    "  onnx-test CASE_DIR...\n"
    "                     run ONNX backend-test cases; 'N passed, M failed'\n"
    "  synth-data -o DIR  write a small SYNTHETIC 4-class chest-X-ray-like image set\n"
    "\n"
    "options of check and summary:\n"
    "  --set NAME=VALUE   override a model parameter (repeatable), e.g. --set size=64\n"
    "  --model NAME       the model to use when a file defines several\n"
    "  --no-freeze        ignore freeze statements and trainable = false\n"
    "\n"
    "Options take --name VALUE or --name=VALUE; -- ends them. Exit status: 0 success, 1 a bad\n"
    "argument or input (the message says which), 2 an internal error (the message names it).\n"
    "\n"
    "  sinter --version   print the version\n"
    "  sinter COMMAND --help\n";

typedef struct cli_opts {
  const char *file;
  snt_param_set sets[SNT_OPT_MAX_REPEAT];
  int n_sets;
  snt_lower_opts lower;
} cli_opts;

static void command_help(const char *cmd) {
  if (strcmp(cmd, "check") == 0)
    printf("usage: sinter check MODEL.nn [--set NAME=VALUE]... [--model NAME] [--no-freeze]\n\n"
           "Parses and lowers the model, infers every shape and checks the train section.\n"
           "Prints one line on success; errors as file:line:col: error: message, exit 1.\n");
  else
    printf("usage: sinter summary MODEL.nn [--set NAME=VALUE]... [--model NAME] [--no-freeze]\n"
           "       sinter summary MODEL.onnx\n\n"
           "Prints each layer with its type, output shape (C, H, W), parameter count and\n"
           "whether it trains, then the FLOPs of one forward pass and the Total / Trainable /\n"
           "Non-trainable parameter counts as Keras reports them.\n");
}

int snt_cli_sets(const char *prog, const snt_opt_list *l, snt_param_set *out) {
  for (int i = 0; i < l->n; i++) {
    const char *kv = l->v[i], *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
      snt_cli_sets_free(out, i);
      fprintf(stderr, "%s: --set takes NAME=VALUE, got '%s'\nrun '%s --help' for usage\n", prog, kv, prog);
      return SNT_EXIT_USER;
    }
    char *name = snt_strndup(kv, (size_t)(eq - kv));
    if (!name) {
      snt_cli_sets_free(out, i);
      fprintf(stderr, "%s: out of memory (%zu bytes for a --set name)\n", prog, (size_t)(eq - kv) + 1);
      return SNT_EXIT_INTERNAL;
    }
    out[i] = (snt_param_set){name, eq + 1};
  }
  return 0;
}

void snt_cli_sets_free(snt_param_set *sets, int n) {
  for (int i = 0; i < n; i++) free((char *)sets[i].name);
}

/* Parses the arguments after the command; returns -1 when help was printed. */
static int parse_args(const char *cmd, int argc, char **argv, cli_opts *o) {
  char prog[32];
  snprintf(prog, sizeof prog, "sinter %s", cmd);
  snt_opt_list sets = {0};
  bool no_freeze = false;
  const snt_opt table[] = {
      {.name = "set", 0, SNT_OPT_REPEAT, &sets, "NAME=VALUE", "override a model parameter, e.g. --set size=64"},
      {.name = "model", 0, SNT_OPT_STRING, &o->lower.model, "NAME", "the model to use when a file defines several"},
      {.name = "no-freeze", 0, SNT_OPT_FLAG, &no_freeze, NULL, "ignore freeze statements and trainable = false"},
      {NULL}};
  char *pos[1];
  int n_pos = 0;
  int rc = snt_opt_parse_cmd(prog, table, argc, argv, pos, 1, &n_pos);
  if (rc < 0) command_help(cmd);
  if (rc) return rc;
  if (!n_pos) {
    fprintf(stderr, "%s: needs a model file (MODEL.nn)\nrun '%s --help' for usage\n", prog, prog);
    return SNT_EXIT_USER;
  }
  o->file = pos[0];
  o->lower.no_freeze = no_freeze;
  rc = snt_cli_sets(prog, &sets, o->sets);
  if (rc) return rc;
  o->n_sets = sets.n;
  o->lower.sets = o->sets;
  o->lower.n_sets = o->n_sets;
  return 0;
}

static int run_model_command(const char *cmd, int argc, char **argv) {
  cli_opts o = {0};
  int rc = parse_args(cmd, argc, argv, &o);
  if (rc == 0) {
    snt_diag *d = snt_diag_create();
    snt_graph *g = NULL;
    size_t len = strlen(o.file);
    bool onnx = len >= 5 && strcmp(o.file + len - 5, ".onnx") == 0;
    snt_status st = !d ? SNT_ERR_NOMEM
                    : !onnx ? snt_load_model(d, o.file, &o.lower, &g)
                    : o.n_sets || o.lower.model || o.lower.no_freeze
                        ? snt_diag_error(d, NULL, (snt_loc){0}, "%s: --set, --model and --no-freeze are for .nn models", o.file)
                        : snt_onnx_import_file(d, o.file, NULL, &g);
    if (d) snt_diag_print(d, stderr);
    if (st == SNT_OK && strcmp(cmd, "summary") == 0) {
      snt_summary_print(g, stdout);
    } else if (st == SNT_OK) {
      snt_param_counts c = snt_ir_count_params(g);
      char total[32];
      snt_format_thousands(total, sizeof total, c.total);
      printf("%s: ok: model %s, %d layers, %s params\n", o.file, g->name, g->n_nodes, total);
    } else if (st != SNT_ERR_INPUT && st != SNT_ERR_IO) {
      fprintf(stderr, "sinter: %s\n", snt_status_str(st));
    }
    rc = st == SNT_OK ? 0 : (st == SNT_ERR_INPUT || st == SNT_ERR_IO) ? SNT_EXIT_USER : SNT_EXIT_INTERNAL;
    snt_ir_destroy(g);
    snt_diag_destroy(d);
  }
  snt_cli_sets_free(o.sets, o.n_sets);
  return rc < 0 ? 0 : rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return SNT_EXIT_USER;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
    printf("sinter %s\n", SINTER_VERSION);
    return 0;
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  if (strcmp(cmd, "check") == 0 || strcmp(cmd, "summary") == 0) return run_model_command(cmd, argc - 2, argv + 2);
  if (strcmp(cmd, "run") == 0) return snt_cmd_run(argc - 2, argv + 2);
  if (strcmp(cmd, "ops") == 0) return snt_cmd_ops(argc - 2, argv + 2);
  if (strcmp(cmd, "import") == 0) return snt_cmd_import(argc - 2, argv + 2);
  if (strcmp(cmd, "compile") == 0) return snt_cmd_compile(argc - 2, argv + 2);
  if (strcmp(cmd, "export-onnx") == 0) return snt_cmd_export_onnx(argc - 2, argv + 2);
  if (strcmp(cmd, "onnx-test") == 0) return snt_cmd_onnx_test(argc - 2, argv + 2);
  if (strcmp(cmd, "synth-data") == 0) return snt_cmd_synth_data(argc - 2, argv + 2);
  if (strcmp(cmd, "info") == 0) return snt_cmd_info(argc - 2, argv + 2);
  static const char *const commands[] = {"check", "summary", "info", "compile", "export-onnx", "import", "run", "ops",
                                         "onnx-test", "synth-data", "help", "version", NULL};
  const char *near = snt_opt_suggest(cmd, commands);
  if (near) fprintf(stderr, "sinter: unknown command '%s'; did you mean '%s'?\n\n%s", cmd, near, usage);
  else fprintf(stderr, "sinter: unknown command '%s'\n\n%s", cmd, usage);
  return SNT_EXIT_USER;
}
