/* BatchNormalization for inference, folded into one multiply-add per element. */
#include <math.h>

#include "kernels_util.h"

static void scale_shift(float *y, const float *x, float a, float b, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = a * x[i] + b; /* y may equal x: no restrict */
}

void snt_k_batchnorm(int64_t batch, int64_t channels, int64_t inner, const float *x,
                     const float *scale, const float *bias, const float *mean, const float *var,
                     float epsilon, float *y) {
  for (int64_t c = 0; c < channels; c++) {
    /* Fold in double so that a and b are correctly rounded floats. */
    double a = (double)scale[c] / sqrt((double)var[c] + (double)epsilon);
    double b = (double)bias[c] - (double)mean[c] * a;
    for (int64_t n = 0; n < batch; n++) {
      int64_t off = (n * channels + c) * inner;
      scale_shift(y + off, x + off, (float)a, (float)b, inner);
    }
  }
}
