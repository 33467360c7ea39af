/* Which initializer of an ONNX file fills which parameter of a model (docs/onnx.md,
 * "Weights for DSL models"). Shared by `sinter compile --weights` and the executables'
 * `train --weights / --init-from`:
 *
 * 1. Role from the consumer: Conv input 1 kernel, 2 bias; BatchNormalization 1-4 gamma,
 *    beta, moving_mean, moving_variance; Gemm 1 dense kernel ([out, in] under transB=1),
 *    2 bias; MatMul 1 an [in, out] kernel and an Add after it its bias.
 * 2. By layer name: an initializer belongs to the layer that is one of the segments of its
 *    name split at '/', '.' and ':', with the parameter's role.
 * 3. By structure (strict mode, when no name matched): the model's layers with parameters
 *    and the file's weight layers are paired in order; kinds and shapes must agree.
 * 4. Strict: every parameter filled, every weight of the file used, shapes equal.
 *
 * Nothing here prints; messages name the file as given in the options. */
#ifndef SINTER_WEIGHT_MAP_H
#define SINTER_WEIGHT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "onnx/onnx.pb-c.h"
#include "sinter/dtype.h"
#include "sinter/error.h"

/* One parameter of the model. Give them in the model's order: the parameters of a layer
 * together, layers in topological order (structure matching pairs them in this order). */
typedef struct snt_wmap_target {
  const char *name;  /* the parameter, e.g. "conv2d/kernel": exact matches and messages */
  const char *layer; /* its layer ("conv2d"); NULL: matched by exact name only */
  const char *role;  /* kernel, bias, gamma, beta, moving_mean, moving_variance */
  const char *kind;  /* the layer's op: conv2d, dense, batchnorm; NULL: from its roles
                      * (a BatchNorm role: batchnorm; kernel of rank 2: dense, else conv2d) */
  snt_dtype dtype;
  int rank;
  int64_t dims[SNT_MAX_RANK];
} snt_wmap_target;

typedef enum snt_wmap_how {
  SNT_WMAP_NONE = 0,  /* no initializer: the parameter keeps what it has */
  SNT_WMAP_EXACT,     /* an initializer with the parameter's name */
  SNT_WMAP_LAYER,     /* by layer name and role */
  SNT_WMAP_STRUCTURE, /* by layer order */
} snt_wmap_how;

/* Where target i's values come from. */
typedef struct snt_wmap_match {
  int init;       /* index into m->graph->initializer; -1 when how is SNT_WMAP_NONE */
  bool transpose; /* a dense kernel stored [out, in] (Gemm transB=1): transpose into [in, out] */
  snt_wmap_how how;
} snt_wmap_match;

typedef struct snt_wmap_opts {
  const char *path;  /* the file, for messages */
  const char *model; /* the model's name, for messages */
  /* Exact initializer names first. Strict: when every target has one, the mapping is not
   * consulted (files written by `EXE export-onnx` and `EXE train`); otherwise the whole
   * file goes through the mapping. Partial: exact names, then the mapping for the rest. */
  bool exact_first;
  /* Strict: every target filled, every weight of the file placed (structure matching
   * when no layer name matched). Partial: what is not found stays SNT_WMAP_NONE. */
  bool strict;
} snt_wmap_opts;

/* Fills out[0..n) for the n targets. Returns SNT_OK, or SNT_ERR_INPUT with the first
 * mismatch in e ("PATH: weights do not fit the model: ..."): a shape or type that differs
 * (in both modes, exact-name matches included), a name two weights could
 * fill, and in strict mode a parameter left empty or a weight with no place. *by (may be
 * NULL) tells how the mapping matched: SNT_WMAP_EXACT, SNT_WMAP_LAYER, SNT_WMAP_STRUCTURE,
 * or SNT_WMAP_NONE when nothing matched. */
snt_status snt_wmap_match_targets(const Onnx__ModelProto *m, const snt_wmap_target *targets, int n,
                                  const snt_wmap_opts *o, snt_wmap_match *out, snt_wmap_how *by, snt_err *e);

/* Copies a decoded FLOAT initializer into dst laid out as the target, transposing when the
 * match says so. The element counts must agree (SNT_ERR_INPUT otherwise, message in e). */
snt_status snt_wmap_copy_f32(const snt_tensor_buf *src, const snt_wmap_match *mt, const snt_wmap_target *t, float *dst,
                             snt_err *e);

/* Splits a parameter name "<layer>/<role>" at its last '/' into layer (written to buf, of
 * size cap) and role (a pointer into name). Returns false when the name has no '/' or the
 * layer does not fit. */
bool snt_wmap_split_name(const char *name, char *buf, size_t cap, const char **role);
/* True for the roles the mapping knows (kernel, bias, gamma, beta, moving_mean, moving_variance). */
bool snt_wmap_is_role(const char *role);

#endif
