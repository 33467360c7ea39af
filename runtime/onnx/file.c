/* ONNX file access over the shared file module (include/sinter/file.h). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/onnx/onnx_int.h"
#include "sinter/file.h"

snt_status snt_onnx_file_read(const char *path, uint8_t **data, size_t *len, snt_err *e) {
  return snt_file_read(path, 0, data, len, e); /* regular files only, at most the physical memory */
}

snt_status snt_onnx_file_write_atomic(const char *path, const void *data, size_t len, snt_err *e) {
  return snt_file_write_atomic(path, data, len, e);
}

snt_status snt_onnx_err_prefix(snt_err *e, snt_status st, const char *path) {
  if (!e) return st;
  char inner[sizeof e->msg];
  memcpy(inner, e->msg, sizeof inner);
  inner[sizeof inner - 1] = '\0';
  return snt_err_set(e, st, "%s: %s", path, inner);
}

/* The folder of the file's real path: external data is confined to it, so a model reached
 * through a link is confined to where it really is. A path that does not resolve (not yet
 * written) falls back to its textual folder. */
snt_status snt_onnx_dirname(const char *path, char **out, snt_err *e) {
  *out = NULL;
  if (!path) return snt_err_set(e, SNT_ERR_INPUT, "snt_onnx_dirname: no path given");
  char *real = realpath(path, NULL);
  snt_status s = snt_file_dirname(real ? real : path, out, e);
  free(real);
  return s;
}
