/* Kernels that training needs: backward passes of the forward kernels in sinter/kernels.h,
 * training-mode batch normalisation, the loss, dropout and the optimizers (Keras 3 formulas).
 * Layout is NCHW float32, dense row-major. `batch` is the number of samples present, which may
 * be smaller than the buffers. Every output is overwritten, never accumulated into, and no
 * kernel allocates: scratch sizes come from the ..._scratch_bytes functions. */
#ifndef SINTER_KERNELS_TRAIN_H
#define SINTER_KERNELS_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "sinter/kernels.h"

/* ---- convolution ---------------------------------------------------------------------- */

/* Scratch for both conv backward functions (d->act is ignored). It depends on the geometry and
 * not on d->batch, so one size serves every batch; 0 for an invalid descriptor. */
size_t snt_k_conv_backward_scratch_bytes(const snt_k_conv_desc *d);
/* dx = gradient of conv(x, w) with respect to x, given dy shaped like y. 1-3 spatial dims,
 * stride, dilation, asymmetric padding, groups. */
snt_status snt_k_conv_backward_data(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *dy, const float *w,
                                    float *dx, void *scratch);
/* dw = gradient with respect to w, summed over the batch; db (may be NULL) = sum of dy over
 * batch and space. */
snt_status snt_k_conv_backward_filter(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *dy,
                                      float *dw, float *db, void *scratch);

/* Short static names of the paths the two take for d on ctx (one word each, for profiles):
 * "conv-grad-data-flip" (a forward conv with flipped weights) or "conv-grad-data-column-<isa>";
 * "conv-grad-filter-direct-avx512", "conv-grad-filter-implicit-<isa>" or
 * "conv-grad-filter-column-<isa>". */
const char *snt_k_conv_backward_data_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d);
const char *snt_k_conv_backward_filter_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d);

/* ---- batch normalisation -------------------------------------------------------------- */

/* Training-mode BN over x = [batch, channels, inner]: per-channel batch mean and biased variance
 * (computed in double), y = gamma*(x-mean)*invstd + beta, invstd = 1/sqrt(var+eps); gamma/beta
 * may be NULL (1/0); relu != 0 fuses a ReLU. mean, var, invstd get `channels` floats each. */
void snt_k_bn_train_forward(int64_t batch, int64_t channels, int64_t inner, const float *x,
                            const float *gamma, const float *beta, float eps, int relu, float *y,
                            float *mean, float *var, float *invstd);
/* Backward of snt_k_bn_train_forward from its inputs and statistics (mean, invstd): under relu,
 * dy is masked where the forward's output was 0, which is recomputed from x, gamma and beta
 * exactly as the forward computed it (beta may be NULL: 0) rather than read back. dx, dgamma
 * and dbeta may each be NULL. */
void snt_k_bn_train_backward(int64_t batch, int64_t channels, int64_t inner, const float *x,
                             const float *dy, const float *gamma, const float *beta, const float *mean,
                             const float *invstd, int relu, float *dx, float *dgamma, float *dbeta);
/* The two above on ctx: with snt_k_ctx_set_shard's sum (--sync-bn), the mean and variance are
 * those of the job's whole batch (every rank's samples: two sums over the ranks), and the
 * backward's batch sums are the job's too, each rank's dy taken at the weight of its samples
 * (its loss is the mean over its own n), so that dx, dgamma and dbeta are those of one process
 * over the whole batch, dgamma and dbeta this rank's share. Without a sum, the functions
 * above. SNT_ERR_IO when a sum fails, SNT_ERR_NOMEM without memory for the sums. */
snt_status snt_k_bn_train_forward_ctx(snt_k_ctx *ctx, int64_t batch, int64_t channels, int64_t inner, const float *x,
                                      const float *gamma, const float *beta, float eps, int relu, float *y,
                                      float *mean, float *var, float *invstd);
snt_status snt_k_bn_train_backward_ctx(snt_k_ctx *ctx, int64_t batch, int64_t channels, int64_t inner, const float *x,
                                       const float *dy, const float *gamma, const float *beta, const float *mean,
                                       const float *invstd, int relu, float *dx, float *dgamma, float *dbeta);
/* Backward of inference-mode BN (frozen layers): dx = dy * gamma / sqrt(var + eps), masked by
 * y > 0 when relu. gamma may be NULL (1). */
void snt_k_bn_infer_backward(int64_t batch, int64_t channels, int64_t inner, const float *y,
                             const float *dy, const float *gamma, const float *var, float eps,
                             int relu, float *dx);
/* Keras 3's moving statistics: moving = moving * momentum + value * (1 - momentum). */
void snt_k_moving_update(int64_t n, float *moving, const float *value, float momentum);

/* ---- pooling -------------------------------------------------------------------------- */

/* Backward of snt_k_pool (d->batch samples). Max: each dy goes to the element snt_k_pool picks
 * (the first maximum in row-major window order); average: spread as the forward divides. */
snt_status snt_k_pool_backward(const snt_k_pool_desc *d, const float *x, const float *dy,
                               float *dx);
/* GlobalAveragePool backward: dx[i*inner + j] = dy[i] / inner. */
void snt_k_global_avg_pool_backward(int64_t outer, int64_t inner, const float *dy, float *dx);
/* GlobalMaxPool backward: dx is dy at each plane's first maximum of x (as the forward picks
 * it), zero elsewhere. */
void snt_k_global_max_pool_backward(int64_t outer, int64_t inner, const float *x, const float *dy, float *dx);

/* ---- loss ----------------------------------------------------------------------------- */

/* Softmax + sparse categorical cross-entropy with Keras's sum_over_batch_size reduction:
 * loss = sum_i w_i * -log(max(p_i[label_i], 1e-7)) / n. logits and probs are [n, classes],
 * labels [n], weights [n] (NULL = 1). probs and dlogits (= w_i * (p_i - onehot_i) / n) may be
 * NULL. A label outside [0, classes) is SNT_ERR_INPUT. */
snt_status snt_k_softmax_xent(int64_t n, int64_t classes, const float *logits,
                              const int64_t *labels, const float *weights, float *probs,
                              float *loss, float *dlogits);

/* ---- activations, dropout, data movement ---------------------------------------------- */

/* Activation backward over n elements: RELU dy*(y>0); SIGMOID dy*y*(1-y); TANH dy*(1-y*y);
 * LEAKY_RELU dy*(x>0 ? 1 : alpha); NONE copies dy. x or y may be NULL when unused. */
void snt_k_act_backward(snt_k_act_kind kind, float alpha, int64_t n, const float *x,
                        const float *y, const float *dy, float *dx);
/* Softmax backward along the middle axis of [outer, axis_len, inner] given y = softmax(x). */
void snt_k_softmax_backward(int64_t outer, int64_t axis_len, int64_t inner, const float *y,
                            const float *dy, float *dx);

/* Inverted dropout: element i is kept when a splitmix64 hash of (seed, i) says so (probability
 * 1 - rate) and scaled by 1/(1-rate); mask gets 0/1. Stateless: (seed) reproduces a step. */
void snt_k_dropout_forward(int64_t n, float rate, uint64_t seed, const float *x, float *y,
                           uint8_t *mask);
/* The same over a data-parallel shard: n elements of per_sample each, keyed as the job's
 * elements from snt_k_ctx_first_sample(ctx) * per_sample on, so that a sample draws the same
 * mask whichever rank holds it. */
void snt_k_dropout_forward_ctx(const snt_k_ctx *ctx, int64_t n, int64_t per_sample, float rate, uint64_t seed,
                               const float *x, float *y, uint8_t *mask);
/* dx = dy * mask / (1 - rate). */
void snt_k_dropout_backward(int64_t n, float rate, const uint8_t *mask, const float *dy,
                            float *dx);

/* Constant-mode pad backward: dx (shaped in_dims) is dy cropped; pads as snt_k_pad. */
snt_status snt_k_pad_backward(int rank, const int64_t *in_dims, const int64_t *pads,
                              const float *dy, float *dx);

/* Column sums y[j] = sum_i x[i*cols + j] (a dense layer's bias gradient). */
void snt_k_colsum(int64_t rows, int64_t cols, const float *x, float *y);
/* y = a + b elementwise; y may alias a or b. */
void snt_k_add(int64_t n, const float *a, const float *b, float *y);

/* ---- optimizers (Keras 3) ------------------------------------------------------------- */

/* Adam step t (from 1): alpha = lr*sqrt(1-beta2^t)/(1-beta1^t); m += (g-m)(1-beta1);
 * v += (g*g-v)(1-beta2); w -= alpha*m/(sqrt(v)+eps). */
void snt_k_adam_step(int64_t n, float *w, const float *g, float *m, float *v, float lr,
                     float beta1, float beta2, float eps, int64_t t);
/* SGD: vel = momentum*vel - lr*g; w += vel (nesterov: w += momentum*vel - lr*g). With momentum
 * 0, vel may be NULL and w -= lr*g. */
void snt_k_sgd_step(int64_t n, float *w, const float *g, float *vel, float lr, float momentum,
                    int nesterov);
/* L2 regularisation: g += 2*l2*w; returns Keras's penalty l2*sum(w^2) for the loss. */
double snt_k_l2_grad(int64_t n, const float *w, float l2, float *g);

#endif
