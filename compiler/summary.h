/* The Keras-like model summary: layers, output shapes, FLOPs and parameter counts. */
#ifndef SINTER_COMPILER_SUMMARY_H
#define SINTER_COMPILER_SUMMARY_H

#include <stdio.h>

#include "compiler/ir.h"

/* Twice the multiply-adds of the conv and dense layers for one image. */
double snt_graph_flops(const snt_graph *g);

/* The same for the layers whose parameters train (not frozen). */
double snt_graph_trainable_flops(const snt_graph *g);

/* Prints the table, the FLOPs, then the Total / Trainable / Non-trainable lines. */
void snt_summary_print(const snt_graph *g, FILE *out);

#endif
