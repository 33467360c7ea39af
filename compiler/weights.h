/* Values for a DSL model's parameters: from an ONNX file (Keras layer names first,
 * then structure), or fresh as Keras initialises them. */
#ifndef SINTER_COMPILER_WEIGHTS_H
#define SINTER_COMPILER_WEIGHTS_H

#include <stdio.h>

#include "compiler/ir.h"

/* Fills every parameter of g from the initializers of the ONNX model at path; strict:
 * a parameter left empty, a shape that differs or a weight with no place is an error.
 * What matched is printed to log (NULL: quiet). */
snt_status snt_weights_load(snt_graph *g, const char *path, snt_diag *d, FILE *log);

/* Keras's defaults: Glorot-uniform kernels (seeded), zero biases, BN gamma 1, beta 0,
 * moving mean 0 and variance 1. Parameters that already have values are kept. */
snt_status snt_weights_init(snt_graph *g, uint64_t seed);

#endif
