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
  const char *model = NULL, *out = NULL, *weights = NULL;
  snt_param_set sets[64];
  int n_sets = 0;
  snt_lower_opts lo = {0};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      printf("usage: sinter export-onnx MODEL.nn [--weights W.onnx] -o OUT.onnx [--set NAME=VALUE]... [--model NAME]\n\n"
             "Writes the model as a standard ONNX inference graph (ir_version 8, opset 13, a symbolic batch\n"
             "dimension N, one output, labels in metadata_props) with its weights: from --weights (mapped as\n"
             "sinter compile maps them), else freshly initialised as Keras does.\n");
      return 0;
    }
    bool takes = strcmp(a, "-o") == 0 || strcmp(a, "--weights") == 0 || strcmp(a, "--set") == 0 || strcmp(a, "--model") == 0;
    if (takes && i + 1 >= argc) {
      fprintf(stderr, "sinter export-onnx: %s needs a value\n", a);
      return SNT_EXIT_USER;
    }
    if (strcmp(a, "-o") == 0) out = argv[++i];
    else if (strcmp(a, "--weights") == 0) weights = argv[++i];
    else if (strcmp(a, "--model") == 0) lo.model = argv[++i];
    else if (strcmp(a, "--no-freeze") == 0) lo.no_freeze = true;
    else if (strcmp(a, "--set") == 0) {
      const char *kv = argv[++i], *eq = strchr(kv, '=');
      if (!eq || eq == kv || n_sets == 64) {
        fprintf(stderr, "sinter export-onnx: --set takes NAME=VALUE, got '%s'\n", kv);
        return SNT_EXIT_USER;
      }
      sets[n_sets++] = (snt_param_set){snt_strndup(kv, (size_t)(eq - kv)), eq + 1};
    } else if (a[0] == '-') {
      fprintf(stderr, "sinter export-onnx: unknown option '%s'\nrun 'sinter export-onnx --help' for usage\n", a);
      return SNT_EXIT_USER;
    } else if (!model) model = a;
    else {
      fprintf(stderr, "sinter export-onnx: takes one model, got a second: '%s'\n", a);
      return SNT_EXIT_USER;
    }
  }
  if (!model || !out) {
    fprintf(stderr, "sinter export-onnx: needs MODEL.nn and -o OUT.onnx\nrun 'sinter export-onnx --help' for usage\n");
    return SNT_EXIT_USER;
  }
  lo.sets = sets;
  lo.n_sets = n_sets;
  snt_diag *d = snt_diag_create();
  snt_graph *g = NULL;
  snt_status st = snt_load_model(d, model, &lo, &g);
  if (!st) st = weights ? snt_weights_load(g, weights, d, stderr) : snt_weights_init(g, (uint64_t)g->recipe.seed);
  if (!st && g->n_outputs != 1) st = snt_diag_error(d, NULL, (snt_loc){0}, "export-onnx writes models with one output; '%s' has %d", g->name, g->n_outputs);
  if (!st) st = snt_onnx_export_file(g, out, NULL, d);
  snt_diag_print(d, stderr);
  snt_ir_destroy(g);
  snt_diag_destroy(d);
  for (int i = 0; i < n_sets; i++) free((char *)sets[i].name);
  return st == SNT_OK ? 0 : st == SNT_ERR_INPUT || st == SNT_ERR_IO ? SNT_EXIT_USER : SNT_EXIT_INTERNAL;
}
