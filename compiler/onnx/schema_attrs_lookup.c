/* Lookups in the generated attribute table (compiler/onnx/schema_attrs.c). */
#include <string.h>

#include "compiler/onnx/schema_attrs.h"

const snt_onnx_attr_row *snt_onnx_attr_row_at(const char *op_type, int opset) {
  const snt_onnx_attr_row *best = NULL;
  for (const snt_onnx_attr_row *r = snt_onnx_attr_rows; r->op; r++)
    if (strcmp(r->op, op_type) == 0 && r->since <= opset && (!best || r->since > best->since)) best = r;
  return best;
}

bool snt_onnx_attr_in_row(const snt_onnx_attr_row *row, const char *name) {
  size_t n = strlen(name);
  for (const char *p = row->attrs; *p;) {
    const char *end = strchr(p, ' ');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (n && len == n && memcmp(p, name, n) == 0) return true;
    p += len + (end != NULL);
  }
  return false;
}
