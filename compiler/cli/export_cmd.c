/* sinter export-onnx: a DSL model with its weights as a standard ONNX inference graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/cli/cli.h"
#include "compiler/lower.h"
#include "compiler/onnx/export.h"
#include "compiler/weights.h"
#include "support/util.h"

int snt_cmd_export_onnx(int argc, char **argv) {
  static const char prog[] = "sinter export-onnx";
  const char *model = NULL, *out = NULL, *weights = NULL;
  snt_param_set sets[SNT_OPT_MAX_REPEAT];
  snt_lower_opts lo = {0};
  snt_opt_list set_list = {0};
  bool no_freeze = false;
  const snt_opt table[] = {
      {.name = "out", 'o', SNT_OPT_STRING, &out, "OUT.onnx", "the ONNX file to write (required)"},
      {.name = "weights", 0, SNT_OPT_STRING, &weights, "W.onnx", "the parameters, mapped as sinter compile maps them"},
      {.name = "set", 0, SNT_OPT_REPEAT, &set_list, "NAME=VALUE", "a model parameter"},
      {.name = "model", 0, SNT_OPT_STRING, &lo.model, "NAME", "DSL files with several models: the one to export"},
      {.name = "no-freeze", 0, SNT_OPT_FLAG, &no_freeze, NULL, "ignore freeze statements"},
      {NULL}};
  char *pos[1];
  int n_pos = 0;
  int rc = snt_opt_parse_cmd(prog, table, argc, argv, pos, 1, &n_pos);
  if (rc < 0) {
    printf("usage: sinter export-onnx MODEL.nn [--weights W.onnx] -o OUT.onnx [--set NAME=VALUE]... [--model NAME]\n\n"
           "Writes the model as a standard ONNX inference graph (ir_version 8, opset 13, a symbolic batch\n"
           "dimension N, one output, labels in metadata_props) with its weights: from --weights (mapped as\n"
           "sinter compile maps them), else freshly initialised as Keras does.\n\n");
    snt_opt_print_help(stdout, (const snt_opt *const[]){table, NULL});
    return 0;
  }
  if (rc) return rc;
  if (!n_pos || !out) {
    fprintf(stderr, "sinter export-onnx: needs MODEL.nn and -o OUT.onnx\nrun 'sinter export-onnx --help' for usage\n");
    return SNT_EXIT_USER;
  }
  model = pos[0];
  lo.no_freeze = no_freeze;
  rc = snt_cli_sets(prog, &set_list, sets);
  if (rc) return rc;
  int n_sets = set_list.n;
  lo.sets = sets;
  lo.n_sets = n_sets;
  snt_diag *d = snt_diag_create();
  snt_graph *g = NULL;
  snt_status st = snt_load_model(d, model, &lo, &g);
  if (!st) st = weights ? snt_weights_load(g, weights, d, stderr) : snt_weights_init(g, (uint64_t)g->recipe.seed);
  if (!st && g->n_outputs != 1) st = snt_diag_error(d, NULL, (snt_loc){0}, "export-onnx writes models with one output; '%s' has %d", g->name, g->n_outputs);
  if (!st) st = snt_onnx_export_file(g, out, NULL, d);
  snt_diag_print(d, stderr);
  /* Every failure has a message: one without a diagnostic (out of memory deep inside) says what. */
  if (st != SNT_OK && (!d || snt_diag_error_count(d) == 0))
    fprintf(stderr, "sinter export-onnx: error: %s while processing %s\n", snt_status_str(st), model);
  snt_ir_destroy(g);
  snt_diag_destroy(d);
  snt_cli_sets_free(sets, n_sets);
  return st == SNT_OK ? 0 : st == SNT_ERR_INPUT || st == SNT_ERR_IO ? SNT_EXIT_USER : SNT_EXIT_INTERNAL;
}
