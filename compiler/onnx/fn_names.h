/* Helpers of the function inliner (compiler/onnx/functions.c): a string-keyed hash map and
 * the checks that a local function's strings are present. */
#ifndef SINTER_COMPILER_ONNX_FN_NAMES_H
#define SINTER_COMPILER_ONNX_FN_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "onnx/onnx.pb-c.h"
#include "sinter/diag.h"

/* Keys are borrowed: they must outlive the map. */
typedef struct snt_fn_map {
  const char **keys;
  const void **vals;
  size_t cap, n;
} snt_fn_map;

/* Adds or replaces key's value. */
snt_status snt_fn_map_put(snt_fn_map *m, const char *key, const void *val);
/* Whether key is present; its value in *val when val is not NULL. */
bool snt_fn_map_get(const snt_fn_map *m, const char *key, const void **val);
void snt_fn_map_free(snt_fn_map *m);

/* protobuf-c leaves an absent string NULL: the i-th function's name, inputs, outputs,
 * attribute names and its nodes' strings must all be there before anything reads them. */
snt_status snt_fn_check_strings(snt_diag *d, const snt_source *src, const Onnx__FunctionProto *f, size_t i);

#endif
