/* Optimizer steps and the L2 penalty, elementwise in float32 as Keras 3 runs them; only the
 * bias corrections (powers of beta) are computed in double. */
#include <math.h>
#ifdef __SSE2__
#include <immintrin.h>
#endif

#include "kernels_util.h"
#include "sinter/kernels_train.h"

typedef struct adam_args {
  float *w, *m, *v;
  const float *g;
  float alpha, one_m_b1, one_m_b2, eps;
} adam_args;

static inline void adam_one(float *w, float *m, float *v, float gi, float alpha, float one_m_b1, float one_m_b2,
                            float eps) {
  float mi = *m + (gi - *m) * one_m_b1;
  float vi = *v + (gi * gi - *v) * one_m_b2;
  *m = mi;
  *v = vi;
  *w -= (mi * alpha) / (sqrtf(vi) + eps);
}

/* gcc keeps sqrtf scalar (for errno), so the x86 body is written with SSE, the baseline: the
 * same operations in the same order, no FMA, hence the same bits as the scalar loop. */
static void adam_range(void *ctx, int64_t i0, int64_t i1) {
  const adam_args *a = ctx;
  int64_t i = i0;
#ifdef __SSE2__
  __m128 al = _mm_set1_ps(a->alpha), c1 = _mm_set1_ps(a->one_m_b1), c2 = _mm_set1_ps(a->one_m_b2);
  __m128 ep = _mm_set1_ps(a->eps);
  for (; i + 4 <= i1; i += 4) {
    __m128 g = _mm_loadu_ps(a->g + i), m = _mm_loadu_ps(a->m + i), v = _mm_loadu_ps(a->v + i);
    m = _mm_add_ps(m, _mm_mul_ps(_mm_sub_ps(g, m), c1));
    v = _mm_add_ps(v, _mm_mul_ps(_mm_sub_ps(_mm_mul_ps(g, g), v), c2));
    _mm_storeu_ps(a->m + i, m);
    _mm_storeu_ps(a->v + i, v);
    __m128 step = _mm_div_ps(_mm_mul_ps(m, al), _mm_add_ps(_mm_sqrt_ps(v), ep));
    _mm_storeu_ps(a->w + i, _mm_sub_ps(_mm_loadu_ps(a->w + i), step));
  }
#endif
  for (; i < i1; i++) adam_one(a->w + i, a->m + i, a->v + i, a->g[i], a->alpha, a->one_m_b1, a->one_m_b2, a->eps);
}

/* Elementwise: large tensors split over threads (memory-bound: 28 bytes per weight). */
void snt_k_adam_step(int64_t n, float *w, const float *g, float *m, float *v, float lr, float beta1, float beta2,
                     float eps, int64_t t) {
  double b1t = pow((double)beta1, (double)t), b2t = pow((double)beta2, (double)t);
  adam_args a = {.w = w, .m = m, .v = v, .g = g, .alpha = (float)((double)lr * sqrt(1.0 - b2t) / (1.0 - b1t)),
                 .one_m_b1 = 1.0f - beta1, .one_m_b2 = 1.0f - beta2, .eps = eps};
  snt_k_parallel_for(n, 1 << 18, adam_range, &a);
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
