/* Element types and half-precision conversions. */
#include <math.h>

#include "check.h"
#include "sinter/dtype.h"

int main(void) {
  test_state ts = {0};
  CHECK_INT(&ts, snt_dtype_size(SNT_F32), 4);
  CHECK_INT(&ts, snt_dtype_size(SNT_I64), 8);
  CHECK_INT(&ts, snt_dtype_size(SNT_F16), 2);
  CHECK_INT(&ts, snt_dtype_size(SNT_STRING), 0);
  CHECK_STR(&ts, snt_dtype_name(SNT_F64), "DOUBLE");
  CHECK_STR(&ts, snt_dtype_ctype(SNT_BOOL), "uint8_t");
  /* Hand-computed half-precision encodings. */
  CHECK_INT(&ts, snt_f32_to_f16(1.0f), 0x3c00);
  CHECK_INT(&ts, snt_f32_to_f16(-2.0f), 0xc000);
  CHECK_INT(&ts, snt_f32_to_f16(65504.0f), 0x7bff);
  CHECK_INT(&ts, snt_f32_to_f16(1e6f), 0x7c00);
  CHECK_INT(&ts, snt_f32_to_f16(5.960464477539063e-08f), 0x0001); /* smallest subnormal */
  CHECK_INT(&ts, snt_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);     /* tie rounds to even */
  CHECK_INT(&ts, snt_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
  CHECK(&ts, snt_f16_to_f32(0x3555) == 0.333251953125f);
  CHECK(&ts, snt_f16_to_f32(0x0001) == 5.960464477539063e-08f);
  CHECK(&ts, isinf(snt_f16_to_f32(0xfc00)) && snt_f16_to_f32(0xfc00) < 0);
  CHECK(&ts, isnan(snt_f16_to_f32(0x7e00)));
  /* Every finite half survives a round trip through float. */
  int bad = 0;
  for (uint32_t h = 0; h < 0x10000; h++) {
    if (((h >> 10) & 0x1f) == 0x1f) continue;
    if (snt_f32_to_f16(snt_f16_to_f32((uint16_t)h)) != h) bad++;
  }
  CHECK_INT(&ts, bad, 0);
  CHECK_INT(&ts, snt_f32_to_bf16(1.0f), 0x3f80);
  CHECK(&ts, snt_bf16_to_f32(0x4049) == 3.140625f);
  snt_tensor_buf t = {.dtype = SNT_I16, .rank = 3, .dims = {2, 3, 4}};
  CHECK_INT(&ts, snt_tensor_buf_numel(&t), 24);
  CHECK_INT(&ts, snt_tensor_buf_nbytes(&t), 48);
  return test_report("test_dtype", &ts);
}
