/* libFuzzer target: any bytes through the lexer, the parser and the lowering.
 * Must never crash, hang or leak, whatever the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compiler/lower.h"
#include "compiler/summary.h"
#include "dsl/dsl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  snt_diag *d = snt_diag_create();
  if (!d) return 0;
  const snt_source *src = snt_diag_add_source(d, "fuzz.nn", (const char *)data, size);
  snt_ast_file *f = NULL;
  if (src && snt_dsl_parse(d, src, &f) == SNT_OK) {
    snt_strbuf dump = {0};
    snt_ast_dump(f, &dump);
    snt_sb_free(&dump);
    snt_param_set sets[] = {{"size", "16"}};
    snt_lower_opts o = {.sets = sets, .n_sets = 0};
    snt_graph *g = NULL;
    if (snt_lower(d, f, &o, &g) == SNT_OK) {
      FILE *null = fopen("/dev/null", "w");
      if (null) {
        snt_summary_print(g, null);
        fclose(null);
      }
      snt_ir_destroy(g);
    }
  }
  FILE *null = fopen("/dev/null", "w");
  if (null) {
    snt_diag_print(d, null);
    fclose(null);
  }
  snt_ast_file_destroy(f);
  snt_diag_destroy(d);
  return 0;
}
