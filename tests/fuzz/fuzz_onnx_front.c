/* libFuzzer target: any bytes through the whole ONNX front end, as `sinter compile` runs it
 * up to code generation: decode, import (validation and shape inference per node), the
 * inference passes and the planner. Never codegen, never the C compiler, no files written.
 * Must never crash, hang or leak, whatever the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compiler/onnx/import.h"
#include "compiler/passes/passes.h"
#include "compiler/plan.h"
#include "sinter/onnx_io.h"

/* External data resolves inside a folder that does not exist: it must fail cleanly and
 * never read the fuzzing machine's files. */
#define FUZZ_MODEL_PATH "/nonexistent-sinter-fuzz-dir/fuzz.onnx"

/* Messages are formatted (that code runs too) and thrown away. */
static void drain(snt_diag *d) {
  FILE *null = fopen("/dev/null", "w");
  if (!null) return;
  snt_diag_print(d, null);
  fclose(null);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Onnx__ModelProto *m = NULL;
  snt_err e;
  if (snt_onnx_model_from_bytes(data, size, FUZZ_MODEL_PATH, &m, &e) != SNT_OK) return 0;
  snt_diag *d = snt_diag_create();
  if (!d) {
    snt_onnx_free_model(m);
    return 0;
  }
  snt_graph *g = NULL;
  snt_onnx_import_opts io = {.batch = 1};
  snt_status st = snt_onnx_import(d, m, FUZZ_MODEL_PATH, &io, &g);
  if (!st) st = snt_passes_inference(g, d);
  if (!st) {
    snt_plan plan = {0};
    if (snt_plan_build(g, d, &plan) == SNT_OK) snt_plan_free(&plan);
  }
  drain(d);
  snt_ir_destroy(g);
  snt_diag_destroy(d);
  snt_onnx_free_model(m);
  return 0;
}
