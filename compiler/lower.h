/* Lowering: evaluates a model of a parsed .nn file into an IR graph, expanding blocks
 * and loops, naming layers as Keras does, and inferring every shape. */
#ifndef SINTER_COMPILER_LOWER_H
#define SINTER_COMPILER_LOWER_H

#include "compiler/ir.h"
#include "dsl/ast.h"

/* A `--set name=value` override of a model parameter. */
typedef struct snt_param_set {
  const char *name;
  const char *value;
} snt_param_set;

typedef struct snt_lower_opts {
  const char *model;          /* which model of the file; NULL: the only one */
  const snt_param_set *sets;
  int n_sets;
  bool no_freeze;             /* ignore freeze statements and trainable = false */
  int64_t batch;              /* dim 0 of activations; 0 means 1 */
} snt_lower_opts;

snt_status snt_lower(snt_diag *d, const snt_ast_file *f, const snt_lower_opts *o, snt_graph **out);

/* Reads, parses and lowers a .nn file. The source stays registered in d for messages. */
snt_status snt_load_model(snt_diag *d, const char *path, const snt_lower_opts *o, snt_graph **out);

#endif
