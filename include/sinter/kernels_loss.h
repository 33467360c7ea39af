/* The ONNX loss ops NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (runtime/kernels/
 * nll_loss.c); the loss of sinter's own training is in kernels_train.h. x is [n, c, d] (d: the
 * product of the dims after the classes), targets [n, d] of SNT_I32 or SNT_I64, weights (per
 * class, may be NULL) [c]. A target outside [0, c) that is not the ignored index is
 * SNT_ERR_INPUT (the run fails), checked before anything is written. */
#ifndef SINTER_KERNELS_LOSS_H
#define SINTER_KERNELS_LOSS_H

#include <stdint.h>

#include "sinter/dtype.h"
#include "sinter/status.h"

typedef enum snt_k_loss_red { SNT_K_LOSS_NONE, SNT_K_LOSS_SUM, SNT_K_LOSS_MEAN } snt_k_loss_red;

typedef struct snt_k_nll {
  snt_k_loss_red red;
  int64_t n, c, d;
  snt_dtype target_type;
  int has_ignore;   /* targets equal to ignore weigh 0 */
  int64_t ignore;
} snt_k_nll;

/* loss[i, k] = -w[t] * x[i, t, k] with t = target[i, k] (w = 1 without weights; 0 for an ignored
 * target). y: the [n, d] losses (NONE), their sum (SUM) or their sum over the sum of the weights
 * taken (MEAN; 0 / 0 is NaN, as in the ONNX reference). Sums in double. */
snt_status snt_k_nll_loss(const snt_k_nll *p, const float *x, const void *target, const float *w, float *y);
/* log_softmax of x along c into logp ([n, c, d]), then snt_k_nll_loss of logp. */
snt_status snt_k_softmax_ce_loss(const snt_k_nll *p, const float *x, const void *target, const float *w, float *logp,
                                 float *y);

#endif
