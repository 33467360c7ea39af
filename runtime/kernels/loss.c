/* Softmax fused with sparse categorical cross-entropy, reduced as Keras's
 * sum_over_batch_size: the weighted sum divided by the number of samples (not by the weights).
 * The log is clamped at log(1e-7) (Keras's backend epsilon) so that a sample with p -> 0 gives
 * a finite loss; Keras also clips at 1 - 1e-7, which changes a loss by at most 1e-7 and is not
 * done here. dlogits is the exact gradient of the unclamped loss. */
#include <math.h>

#include "kernels_util.h"
#include "sinter/kernels_train.h"

static const double LOG_EPSILON = -16.11809565095832; /* log(1e-7) */

/* Softmax of one row into p (may be NULL); returns log(sum(exp(x - max))) and *max. */
static double row_softmax(const float *x, int64_t k, float *p, double *max) {
  float m = -INFINITY;
  for (int64_t j = 0; j < k; j++) m = x[j] > m ? x[j] : m;
  double s = 0.0;
  for (int64_t j = 0; j < k; j++) s += exp((double)x[j] - (double)m);
  if (p) {
    for (int64_t j = 0; j < k; j++) p[j] = (float)(exp((double)x[j] - (double)m) / s);
  }
  *max = m;
  return log(s);
}

snt_status snt_k_softmax_xent(int64_t n, int64_t classes, const float *logits, const int64_t *labels,
                              const float *weights, float *probs, float *loss, float *dlogits) {
  if (n < 0 || classes < 1) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < n; i++)
    if (labels[i] < 0 || labels[i] >= classes) return SNT_ERR_INPUT;
  double total = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const float *x = logits + i * classes;
    double m, lse = row_softmax(x, classes, probs ? probs + i * classes : NULL, &m);
    double logp = (double)x[labels[i]] - m - lse, w = weights ? (double)weights[i] : 1.0;
    total += w * -(logp > LOG_EPSILON ? logp : LOG_EPSILON);
    if (!dlogits) continue;
    float *d = dlogits + i * classes;
    double scale = w / (double)n;
    for (int64_t j = 0; j < classes; j++) {
      double p = exp((double)x[j] - m - lse);
      d[j] = (float)(scale * (p - (j == labels[i] ? 1.0 : 0.0)));
    }
  }
  *loss = n > 0 ? (float)(total / (double)n) : 0.0f;
  return SNT_OK;
}
