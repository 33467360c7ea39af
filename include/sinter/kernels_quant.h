/* ONNX QuantizeLinear and DequantizeLinear (runtime/kernels/quantize.c). x is viewed as
 * [outer, axis_len, inner]; the scale and zero point hold one value (per tensor), one per axis
 * element (per axis) or one per block of `block` consecutive axis elements ([outer,
 * ceil(axis_len / block), inner], blocked). */
#ifndef SINTER_KERNELS_QUANT_H
#define SINTER_KERNELS_QUANT_H

#include <stdint.h>

#include "sinter/dtype.h"
#include "sinter/status.h"

typedef enum snt_k_quant_mode { SNT_K_QUANT_TENSOR, SNT_K_QUANT_AXIS, SNT_K_QUANT_BLOCKED } snt_k_quant_mode;

typedef struct snt_k_quant {
  snt_k_quant_mode mode;
  int64_t outer, axis_len, inner, block;
  snt_dtype x_type; /* quantize: SNT_F32 or SNT_I32; dequantize: the integer type */
  snt_dtype q_type; /* the integer type: SNT_U8, SNT_I8, SNT_U16, SNT_I16 (SNT_I32 to dequantize) */
} snt_k_quant;

/* y = saturate(round_half_even(x / scale) + zero_point) in q_type; NaN gives the type's minimum.
 * zero_point may be NULL (0). */
snt_status snt_k_quantize_linear(const snt_k_quant *p, const void *x, const float *scale, const void *zero_point, void *y);
/* y = (x - zero_point) * scale in float. */
snt_status snt_k_dequantize_linear(const snt_k_quant *p, const void *x, const float *scale, const void *zero_point,
                                   float *y);

/* DynamicQuantizeLinear: the UINT8 scale and zero point that map [min(x, 0), max(x, 0)] onto
 * [0, 255], then x quantized with them. All-zero x gives scale 0, zero point 0 and y 0. NaN is
 * left out of the range and quantizes to 0. */
void snt_k_dynamic_quantize_linear(int64_t n, const float *x, uint8_t *y, float *scale, uint8_t *zero_point);

#endif
