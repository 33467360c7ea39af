/* Optimizer steps and the L2 penalty, elementwise in float32 as Keras 3 runs them; only the
 * bias corrections (powers of beta) are computed in double. */
#include <math.h>

#include "kernels_util.h"
#include "sinter/kernels_train.h"

void snt_k_adam_step(int64_t n, float *w, const float *g, float *m, float *v, float lr, float beta1, float beta2,
                     float eps, int64_t t) {
  double b1t = pow((double)beta1, (double)t), b2t = pow((double)beta2, (double)t);
  float alpha = (float)((double)lr * sqrt(1.0 - b2t) / (1.0 - b1t));
  float one_m_b1 = 1.0f - beta1, one_m_b2 = 1.0f - beta2;
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = m[i] + (gi - m[i]) * one_m_b1;
    float vi = v[i] + (gi * gi - v[i]) * one_m_b2;
    m[i] = mi;
    v[i] = vi;
    w[i] -= (mi * alpha) / (sqrtf(vi) + eps);
  }
}

void snt_k_sgd_step(int64_t n, float *w, const float *g, float *vel, float lr, float momentum, int nesterov) {
  if (momentum == 0.0f || !vel) { /* Keras skips the velocity when momentum is 0 */
    for (int64_t i = 0; i < n; i++) w[i] -= g[i] * lr;
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    float vi = vel[i] * momentum - g[i] * lr;
    vel[i] = vi;
    w[i] += nesterov ? vi * momentum - g[i] * lr : vi;
  }
}

double snt_k_l2_grad(int64_t n, const float *w, float l2, float *g) {
  double s = 0.0;
  float k = 2.0f * l2;
  for (int64_t i = 0; i < n; i++) {
    s += (double)w[i] * (double)w[i];
    g[i] += k * w[i];
  }
  return (double)l2 * s;
}
