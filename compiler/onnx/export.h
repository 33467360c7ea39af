/* ONNX export: an IR graph with all parameter values to an inference ModelProto file.
 * Each op writes its own nodes through the small builder below (its onnx_export rule). */
#ifndef SINTER_COMPILER_ONNX_EXPORT_H
#define SINTER_COMPILER_ONNX_EXPORT_H

#include "compiler/ir.h"

typedef struct snt_onnx_export snt_onnx_export;

/* The ONNX name of an IR tensor. */
const char *snt_ox_name(snt_onnx_export *x, int tensor);
/* The opset the file declares. */
int snt_ox_opset(const snt_onnx_export *x);
/* Reports that node has no form at this opset (why says what it needs); returns the error. */
snt_status snt_ox_refuse(snt_onnx_export *x, int node, const char *why);
/* A fresh name for an intermediate value. */
const char *snt_ox_temp(snt_onnx_export *x, const char *base);
/* Adds a node; returns its handle for the attribute setters, or -1 when out of memory. */
int snt_ox_node(snt_onnx_export *x, const char *op_type, const char *name, int n_in, const char *const *ins,
                const char *out);
void snt_ox_attr_int(snt_onnx_export *x, int node, const char *name, int64_t v);
void snt_ox_attr_ints(snt_onnx_export *x, int node, const char *name, int n, const int64_t *v);
void snt_ox_attr_float(snt_onnx_export *x, int node, const char *name, float v);
void snt_ox_attr_string(snt_onnx_export *x, int node, const char *name, const char *v);
/* Adds a constant initializer; returns its name. */
const char *snt_ox_const(snt_onnx_export *x, const char *base, snt_dtype dtype, int rank, const int64_t *dims,
                         const void *data);

typedef struct snt_onnx_export_opts {
  int opset;        /* 13 by default */
} snt_onnx_export_opts;

/* Writes g (parameters loaded) to path: ir_version 8, a symbolic batch "N", labels in
 * metadata_props, producer sinter. */
snt_status snt_onnx_export_file(const snt_graph *g, const char *path, const snt_onnx_export_opts *o, snt_diag *d);

#endif
