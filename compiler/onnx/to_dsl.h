/* Writing an imported ONNX graph as .nn text (sinter import). to_dsl.c walks the graph; each
 * op's DSL form is its record's to_dsl rule (compiler/op.h), in its own file, written with
 * the helpers below. */
#ifndef SINTER_COMPILER_ONNX_TO_DSL_H
#define SINTER_COMPILER_ONNX_TO_DSL_H

#include <stdio.h>

#include "compiler/ir.h"
#include "support/util.h"

/* Writes g as a model in the DSL; an op without a DSL form is an error naming the node. */
snt_status snt_onnx_write_dsl(const snt_graph *g, const char *onnx_path, FILE *out, snt_diag *d);

/* The writer the ops' to_dsl rules write through. */
typedef struct snt_dsl_writer {
  const snt_graph *g;
  snt_diag *d;
  FILE *out;
  char **ident;   /* DSL name of each tensor, NULL until bound */
  int *alias;     /* tensors that stand for another (dropout, identity, flatten after GAP) */
  bool *hwc;      /* tensors that are an NCHW tensor transposed to NHWC (a Keras flatten follows) */
  const char *path;
  snt_strbuf lit; /* the last string literal snt_dsl_lit made */
} snt_dsl_writer;

/* The reason of an op with no DSL form that has no more particular one. */
#define SNT_NO_DSL_YET "sinter has no DSL form for it yet"

/* The tensor t stands for (following aliases). */
int snt_dsl_root(const snt_dsl_writer *w, int t);
/* A DSL identifier for tensor t's root: its name with other characters as '_', unique; stable. */
const char *snt_dsl_ident(snt_dsl_writer *w, int t);
/* Any name as a DSL string literal; valid until the next call. */
const char *snt_dsl_lit(snt_dsl_writer *w, const char *name);
/* The error for a node that cannot be written, naming the file, the node, its op and why. */
snt_status snt_dsl_unsupported(snt_dsl_writer *w, const snt_node *n, const char *why);
/* [a, b, ...]; a single float as itself, several as [x, y, ...]. */
void snt_dsl_ints(FILE *f, const int64_t *v, int n);
void snt_dsl_floats(FILE *f, const double *v, int n);
/* Whether input i of n is a parameter or constant. */
bool snt_dsl_is_param(const snt_graph *g, const snt_node *n, int i);
/* A float32 constant of one value per channel of x (or one value), broadcast as ONNX does: its
 * count, values in v; -1 otherwise. */
int snt_dsl_channel_const(const snt_graph *g, int t, const snt_tensor *x, double *v);

/* Whether tensor t is read by a node or is a graph output. */
bool snt_dsl_used(const snt_graph *g, int t);
/* Whether t is a graph output or read by a node whose op is not op (NULL: by any node). */
bool snt_dsl_used_but_by(const snt_graph *g, int t, const struct snt_op *op);

/* Rules several ops share. The output stands for the input (dropout, identity); a node whose
 * other outputs are used has no DSL form. */
snt_status snt_dsl_alias(snt_dsl_writer *w, int node);
/* `y = op(a, b, ..., name = ...)` for ops without attributes (relu, exp, maximum, ...) whose
 * inputs are all tensors the model computes (or its inputs): a constant has no DSL form. */
snt_status snt_dsl_plain(snt_dsl_writer *w, int node);
/* The same under another op name. */
snt_status snt_dsl_call(snt_dsl_writer *w, int node, const char *op);

#endif
