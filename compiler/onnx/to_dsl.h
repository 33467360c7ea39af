/* Writing an imported ONNX graph as .nn text (sinter import). */
#ifndef SINTER_COMPILER_ONNX_TO_DSL_H
#define SINTER_COMPILER_ONNX_TO_DSL_H

#include <stdio.h>

#include "compiler/ir.h"

/* Writes g as a model in the DSL; an op without a DSL form is an error naming the node. */
snt_status snt_onnx_write_dsl(const snt_graph *g, const char *onnx_path, FILE *out, snt_diag *d);

#endif
