/* The training side of an executable: the tables that tell the runtime how to train a model
 * (compiler/autodiff.h made the step), its recipe and the ONNX template for checkpoints. */
#ifndef SINTER_COMPILER_CODEGEN_SUITE_H
#define SINTER_COMPILER_CODEGEN_SUITE_H

#include "compiler/autodiff.h"
#include "compiler/ir.h"
#include "support/util.h"

typedef struct snt_suite_src {
  const snt_graph *step;  /* the training step, as snt_autodiff_build left it */
  const snt_ad *ad;
  const char *prefix;     /* the inference model's C name: <prefix>_train, <prefix>_eval exist */
  const unsigned char *onnx_template;
  size_t onnx_template_bytes;
  const struct snt_explain *explain; /* <prefix>_explain exists when set */
  const char *explain_why;           /* else why not (NULL: not asked) */
} snt_suite_src;

/* Emits `static const snt_explain_info explain_` (sinter/explain.h) and its layer table: the
 * model <prefix>_explain when ex is set (its header must be included), else `why`; `more`
 * (may be NULL) is appended to the initializer (", .n_delta = ..."). */
void snt_codegen_explain_tables(snt_strbuf *b, const struct snt_explain *ex, const char *prefix, const char *why,
                                const char *more);

/* Writes <dir>/<prefix>_suite.c defining `const snt_train_info <prefix>_suite`. */
snt_status snt_codegen_suite(const snt_suite_src *s, const char *dir, snt_diag *d);

/* The ONNX inference graph of g without parameter values (they are filled in at run time):
 * *out is malloc'ed. */
snt_status snt_onnx_template(const snt_graph *g, unsigned char **out, size_t *len, snt_diag *d);

#endif
