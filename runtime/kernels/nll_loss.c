/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (the ONNX reference's definitions). */
#include <math.h>

#include "sinter/kernels.h"

static int64_t target_at(const snt_k_nll *p, const void *t, int64_t i) {
  return p->target_type == SNT_I32 ? ((const int32_t *)t)[i] : ((const int64_t *)t)[i];
}

static int ignored(const snt_k_nll *p, int64_t t) { return p->has_ignore && t == p->ignore; }

static snt_status check(const snt_k_nll *p, const void *target) {
  if (p->n < 0 || p->c < 1 || p->d < 0 || (p->target_type != SNT_I32 && p->target_type != SNT_I64)) return SNT_ERR_INPUT;
  for (int64_t i = 0; i < p->n * p->d; i++) {
    int64_t t = target_at(p, target, i);
    if (!ignored(p, t) && (t < 0 || t >= p->c)) return SNT_ERR_INPUT;
  }
  return SNT_OK;
}

snt_status snt_k_nll_loss(const snt_k_nll *p, const float *x, const void *target, const float *w, float *y) {
  snt_status st = check(p, target);
  if (st) return st;
  double sum = 0.0, weights = 0.0;
  for (int64_t i = 0; i < p->n; i++)
    for (int64_t k = 0; k < p->d; k++) {
      int64_t t = target_at(p, target, i * p->d + k);
      double wt = ignored(p, t) ? 0.0 : w ? (double)w[t] : 1.0;
      double l = wt == 0.0 ? 0.0 : -wt * (double)x[(i * p->c + t) * p->d + k];
      if (p->red == SNT_K_LOSS_NONE) y[i * p->d + k] = (float)l;
      sum += l, weights += wt;
    }
  if (p->red == SNT_K_LOSS_SUM) y[0] = (float)sum;
  if (p->red == SNT_K_LOSS_MEAN) y[0] = (float)(sum / weights);
  return SNT_OK;
}

snt_status snt_k_softmax_ce_loss(const snt_k_nll *p, const float *x, const void *target, const float *w, float *logp,
                                 float *y) {
  snt_status st = check(p, target);
  if (st) return st;
  for (int64_t i = 0; i < p->n; i++)
    for (int64_t k = 0; k < p->d; k++) {
      const float *xs = x + i * p->c * p->d + k;
      float *ls = logp + i * p->c * p->d + k;
      double mx = xs[0], s = 0.0;
      for (int64_t j = 1; j < p->c; j++) mx = xs[j * p->d] > mx ? xs[j * p->d] : mx;
      for (int64_t j = 0; j < p->c; j++) s += exp((double)xs[j * p->d] - mx);
      double lse = mx + log(s);
      for (int64_t j = 0; j < p->c; j++) ls[j * p->d] = (float)((double)xs[j * p->d] - lse);
    }
  return snt_k_nll_loss(p, logp, target, w, y);
}
