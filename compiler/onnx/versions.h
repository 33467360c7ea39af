/* The ONNX operator versions of opsets 18 to 21, newer than the onnx 1.12 schema sinter was
 * first written against. An op whose version there is above what its record follows
 * (snt_op.onnx_upto) is refused at import rather than read with an older version's meaning. */
#ifndef SNT_ONNX_VERSIONS_H
#define SNT_ONNX_VERSIONS_H

/* The newest version of op_type (ai.onnx) at or below opset if it is from 18 on; 0 when the
 * op has not changed since opset 17 (or is not an ai.onnx op). */
int snt_onnx_since_18(const char *op_type, int opset);
/* The opset that introduced op_type if that is 18 or later; 0 otherwise. */
int snt_onnx_introduced_18(const char *op_type);

#endif
