/* QuantizeLinear and DequantizeLinear as ONNX Runtime computes them: the quotient x / scale in
 * float, rounded half to even, the zero point added, then saturated to the integer type. */
#include <math.h>

#include "sinter/kernels.h"

static int64_t int_at(snt_dtype t, const void *p, int64_t i) {
  switch (t) {
    case SNT_U8: return ((const uint8_t *)p)[i];
    case SNT_I8: return ((const int8_t *)p)[i];
    case SNT_U16: return ((const uint16_t *)p)[i];
    case SNT_I16: return ((const int16_t *)p)[i];
    case SNT_I32: return ((const int32_t *)p)[i];
    default: return 0;
  }
}

static int range_of(snt_dtype t, float *lo, float *hi) {
  switch (t) {
    case SNT_U8: *lo = 0, *hi = 255; return 1;
    case SNT_I8: *lo = -128, *hi = 127; return 1;
    case SNT_U16: *lo = 0, *hi = 65535; return 1;
    case SNT_I16: *lo = -32768, *hi = 32767; return 1;
    default: return 0;
  }
}

static void put(snt_dtype t, void *p, int64_t i, float v) {
  switch (t) {
    case SNT_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case SNT_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case SNT_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case SNT_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    default: break;
  }
}

/* The scale and zero-point index of element (o, a, i). */
static int64_t param_index(const snt_k_quant *p, int64_t o, int64_t a, int64_t i) {
  switch (p->mode) {
    case SNT_K_QUANT_AXIS: return a;
    case SNT_K_QUANT_BLOCKED: {
      int64_t blocks = (p->axis_len + p->block - 1) / p->block;
      return (o * blocks + a / p->block) * p->inner + i;
    }
    default: return 0;
  }
}

static int shape_ok(const snt_k_quant *p) {
  return p->outer >= 0 && p->axis_len >= 0 && p->inner >= 0 && (p->mode != SNT_K_QUANT_BLOCKED || p->block > 0);
}

snt_status snt_k_quantize_linear(const snt_k_quant *p, const void *x, const float *scale, const void *zero_point, void *y) {
  float lo, hi;
  if (!shape_ok(p) || !range_of(p->q_type, &lo, &hi) || (p->x_type != SNT_F32 && p->x_type != SNT_I32)) return SNT_ERR_INPUT;
  int64_t k = 0;
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t a = 0; a < p->axis_len; a++)
      for (int64_t i = 0; i < p->inner; i++, k++) {
        int64_t j = param_index(p, o, a, i);
        float v = p->x_type == SNT_F32 ? ((const float *)x)[k] : (float)((const int32_t *)x)[k];
        float q = nearbyintf(v / scale[j]) + (zero_point ? (float)int_at(p->q_type, zero_point, j) : 0.0f);
        put(p->q_type, y, k, fminf(fmaxf(q, lo), hi)); /* fmaxf(NaN, lo) is lo */
      }
  return SNT_OK;
}

snt_status snt_k_dequantize_linear(const snt_k_quant *p, const void *x, const float *scale, const void *zero_point,
                                   float *y) {
  float lo, hi;
  if (!shape_ok(p) || (!range_of(p->q_type, &lo, &hi) && p->q_type != SNT_I32)) return SNT_ERR_INPUT;
  int64_t k = 0;
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t a = 0; a < p->axis_len; a++)
      for (int64_t i = 0; i < p->inner; i++, k++) {
        int64_t j = param_index(p, o, a, i);
        int64_t zp = zero_point ? int_at(p->q_type, zero_point, j) : 0;
        y[k] = (float)(int_at(p->q_type, x, k) - zp) * scale[j];
      }
  return SNT_OK;
}

void snt_k_dynamic_quantize_linear(int64_t n, const float *x, uint8_t *y, float *scale, uint8_t *zero_point) {
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  float s = (hi - lo) / 255.0f, zp = s > 0 ? nearbyintf(fminf(fmaxf(0.0f - lo / s, 0.0f), 255.0f)) : 0.0f;
  *scale = s, *zero_point = (uint8_t)zp;
  for (int64_t i = 0; i < n; i++) y[i] = s > 0 ? (uint8_t)fminf(fmaxf(nearbyintf(x[i] / s) + zp, 0.0f), 255.0f) : 0;
}
