/* sinter import: an ONNX model as .nn text (the weights stay in the ONNX file). */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "sinter/file.h"
#include "compiler/cli/cli.h"
#include "compiler/onnx/import.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/passes/passes.h"

int snt_cmd_import(int argc, char **argv) {
  const char *model = NULL, *out = NULL;
  bool softmax = false;
  const snt_opt table[] = {{.name = "out", 'o', SNT_OPT_STRING, &out, "MODEL.nn", "the DSL file to write (required)"},
                           {.name = "softmax", 0, SNT_OPT_FLAG, &softmax, NULL, "a softmax after an output of logits"},
                           {NULL}};
  char *pos[1];
  int n_pos = 0;
  int rc = snt_opt_parse_cmd("sinter import", table, argc, argv, pos, 1, &n_pos);
  if (rc < 0) {
    printf("usage: sinter import MODEL.onnx -o MODEL.nn [--softmax]\n\n"
           "Writes the ONNX graph as a model in sinter's DSL, one layer per node (named as the node).\n"
           "The weights stay in the ONNX file: sinter compile MODEL.nn --weights MODEL.onnx maps them.\n"
           "Ops without a DSL form are an error naming the node. --softmax appends a softmax over the\n"
           "classes when the model's output is logits (none when it already is a softmax's).\n");
    return 0;
  }
  if (rc) return rc;
  if (n_pos) model = pos[0];
  if (!model || !out) {
    fprintf(stderr, "sinter import: needs MODEL.onnx and -o MODEL.nn\nrun 'sinter import --help' for usage\n");
    return SNT_EXIT_USER;
  }
  snt_diag *d = snt_diag_create();
  snt_graph *g = NULL;
  snt_status st = snt_onnx_import_file(d, model, NULL, &g);
  /* PyTorch's LocalResponseNorm export (a channel Pad, a 3-D pool, Pow) has the DSL form lrn. */
  int fused = 0;
  if (!st) st = snt_pass_fuse_lrn(g, d, &fused);
  bool added = false;
  if (!st && softmax) st = snt_cli_append_softmax(g, d, &added);
  if (!st && softmax && !added) snt_diag_warning(d, NULL, (snt_loc){0}, "--softmax: the output already is a softmax's; none added");
  if (!st) st = snt_cli_check_labels(g, d, "the model's labels metadata");
  char *text = NULL;
  size_t len = 0;
  FILE *mem = st ? NULL : open_memstream(&text, &len);
  if (!st && !mem) st = SNT_ERR_NOMEM;
  if (!st) st = snt_onnx_write_dsl(g, model, mem, d);
  if (mem) fclose(mem);
  if (!st) {
    snt_err e; /* atomic: an interrupted import leaves the old .nn as it was */
    if (snt_file_write_atomic(out, text, len, &e) != SNT_OK) st = snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  }
  snt_diag_print(d, stderr);
  /* Every failure has a message: one without a diagnostic (out of memory deep inside) says what. */
  if (st != SNT_OK && (!d || snt_diag_error_count(d) == 0))
    fprintf(stderr, "sinter import: error: %s while processing %s\n", snt_status_str(st), model);
  free(text);
  snt_ir_destroy(g);
  snt_diag_destroy(d);
  return st == SNT_OK ? 0 : st == SNT_ERR_INPUT || st == SNT_ERR_IO ? SNT_EXIT_USER : SNT_EXIT_INTERNAL;
}
