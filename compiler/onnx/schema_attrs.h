/* The attribute names the ONNX schema gives each ai.onnx op, per version (issue 9). The
 * importer copies a node's attributes onto the sinter node under their own names, so a name
 * outside the schema would reach the op's internal attributes (a Conv "activation"): every
 * attribute is checked against this table first. The rows are generated from the schema by
 * scripts/gen_onnx_attrs.py. */
#ifndef SNT_ONNX_SCHEMA_ATTRS_H
#define SNT_ONNX_SCHEMA_ATTRS_H

#include <stdbool.h>

typedef struct snt_onnx_attr_row {
  const char *op; /* the op_type */
  int since;      /* the version (opset) from which this row holds */
  const char *attrs; /* the attribute names, separated by single spaces */
} snt_onnx_attr_row;

/* Sorted by op, then version; ends with {0}. */
extern const snt_onnx_attr_row snt_onnx_attr_rows[];

/* The row in force for op_type at opset (the newest with since <= opset), or NULL when the op
 * has no version at or before that opset (or sinter does not import it). */
const snt_onnx_attr_row *snt_onnx_attr_row_at(const char *op_type, int opset);
/* Whether name is one of row's attributes. */
bool snt_onnx_attr_in_row(const snt_onnx_attr_row *row, const char *name);

#endif
