/* Element types, half-precision conversions and tensor buffers. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/dtype.h"
#include "sinter/error.h"

size_t snt_dtype_size(snt_dtype t) {
  switch (t) {
    case SNT_F32: case SNT_I32: case SNT_U32: return 4;
    case SNT_U8: case SNT_I8: case SNT_BOOL: return 1;
    case SNT_U16: case SNT_I16: case SNT_F16: case SNT_BF16: return 2;
    case SNT_I64: case SNT_U64: case SNT_F64: return 8;
    default: return 0;
  }
}

const char *snt_dtype_name(snt_dtype t) {
  switch (t) {
    case SNT_F32: return "FLOAT";
    case SNT_U8: return "UINT8";
    case SNT_I8: return "INT8";
    case SNT_U16: return "UINT16";
    case SNT_I16: return "INT16";
    case SNT_I32: return "INT32";
    case SNT_I64: return "INT64";
    case SNT_STRING: return "STRING";
    case SNT_BOOL: return "BOOL";
    case SNT_F16: return "FLOAT16";
    case SNT_F64: return "DOUBLE";
    case SNT_U32: return "UINT32";
    case SNT_U64: return "UINT64";
    case SNT_BF16: return "BFLOAT16";
    default: return NULL;
  }
}

const char *snt_dtype_ctype(snt_dtype t) {
  switch (t) {
    case SNT_F32: return "float";
    case SNT_U8: return "uint8_t";
    case SNT_I8: return "int8_t";
    case SNT_U16: return "uint16_t";
    case SNT_I16: return "int16_t";
    case SNT_I32: return "int32_t";
    case SNT_I64: return "int64_t";
    case SNT_BOOL: return "uint8_t";
    case SNT_F16: return "uint16_t";
    case SNT_F64: return "double";
    case SNT_U32: return "uint32_t";
    case SNT_U64: return "uint64_t";
    case SNT_BF16: return "uint16_t";
    default: return NULL;
  }
}

float snt_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) mant <<= 1, exp--;
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t snt_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  uint32_t exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0)); /* inf, nan */
  int e = (int)exp - 127 + 15;
  if (e >= 31) return (uint16_t)(sign | 0x7c00); /* overflow to inf */
  if (e <= 0) {                                   /* subnormal or zero */
    if (e < -10) return sign;
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into the exponent: correct */
  return (uint16_t)(sign | half);
}

uint16_t snt_f64_to_f16(double d) {
  /* Going through float can round twice; pick the nearest of the neighbours instead. */
  uint16_t h = snt_f32_to_f16((float)d);
  if (d != d || (h & 0x7c00) == 0x7c00) return h;
  uint16_t best = h;
  double err = fabs((double)snt_f16_to_f32(h) - d);
  for (int delta = -1; delta <= 1; delta += 2) {
    uint16_t c = (uint16_t)(h + delta);
    if ((c & 0x7fff) >= 0x7c00 || ((c ^ h) & 0x8000)) continue;
    double ce = fabs((double)snt_f16_to_f32(c) - d);
    if (ce < err || (ce == err && !(c & 1))) best = c, err = ce;
  }
  return best;
}

float snt_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t snt_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  if (isnan(f)) return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

int64_t snt_tensor_buf_numel(const snt_tensor_buf *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) n *= t->dims[i];
  return n;
}

size_t snt_tensor_buf_nbytes(const snt_tensor_buf *t) {
  return (size_t)snt_tensor_buf_numel(t) * snt_dtype_size(t->dtype);
}

void snt_tensor_buf_free(snt_tensor_buf *t) {
  if (!t) return;
  free(t->data);
  free(t->name);
  t->data = NULL;
  t->name = NULL;
}

snt_status snt_err_set(snt_err *e, snt_status status, const char *fmt, ...) {
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
  }
  return status;
}
