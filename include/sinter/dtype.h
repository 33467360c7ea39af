/* Element types and tensor buffers, shared by the compiler and the runtime. */
#ifndef SINTER_DTYPE_H
#define SINTER_DTYPE_H

#include <stddef.h>
#include <stdint.h>

enum { SNT_MAX_RANK = 8 };

/* Element types, numbered as onnx.TensorProto.DataType. */
typedef enum snt_dtype {
  SNT_UNDEFINED = 0,
  SNT_F32 = 1, SNT_U8 = 2, SNT_I8 = 3, SNT_U16 = 4, SNT_I16 = 5, SNT_I32 = 6, SNT_I64 = 7,
  SNT_STRING = 8, SNT_BOOL = 9, SNT_F16 = 10, SNT_F64 = 11, SNT_U32 = 12, SNT_U64 = 13,
  SNT_BF16 = 16
} snt_dtype;

/* Bytes per element; 0 for types sinter does not compute with (strings, undefined). */
size_t snt_dtype_size(snt_dtype t);
/* ONNX's name of the type: "FLOAT", "INT64", ...; "UNKNOWN(n)" is never returned: NULL then. */
const char *snt_dtype_name(snt_dtype t);
/* The C type that holds one element in generated code: "float", "int64_t", "uint16_t" (for FLOAT16). */
const char *snt_dtype_ctype(snt_dtype t);
/* Half and bfloat16 conversions (round to nearest even). */
float snt_f16_to_f32(uint16_t h);
uint16_t snt_f32_to_f16(float f);
uint16_t snt_f64_to_f16(double d); /* rounds once, from the double itself */
float snt_bf16_to_f32(uint16_t h);
uint16_t snt_f32_to_bf16(float f);

/* A dense tensor in memory, row-major. Whoever fills it owns `data` and `name`
 * (snt_tensor_buf_free releases both). */
typedef struct snt_tensor_buf {
  snt_dtype dtype;
  int rank;
  int64_t dims[SNT_MAX_RANK];
  void *data;
  char *name;
} snt_tensor_buf;

int64_t snt_tensor_buf_numel(const snt_tensor_buf *t);
size_t snt_tensor_buf_nbytes(const snt_tensor_buf *t);
void snt_tensor_buf_free(snt_tensor_buf *t);

#endif
