/* Batch normalisation in training mode: batch statistics forward, and the backward of both
 * the training and the inference (frozen) forms. */
#include <math.h>

#include "kernels_util.h"
#include "sinter/kernels_train.h"

/* Sums run in float over blocks (each of LANES float lanes adds BLOCK / LANES values, a few ulps
 * of error) and the block sums accumulate in double: double precision across the channel at
 * float speed, since gcc vectorises fixed-lane float loops but not double reductions. */
enum { LANES = 16, BLOCK = 256 };

/* Adds sum(x - shift) and sum((x - shift)^2) of n floats to s[0], s[1]. Shifting by one sample
 * of the channel keeps the one-pass variance free of cancellation when |mean| >> std. */
static void moments_acc(const float *restrict x, int64_t n, float shift, double s[2]) {
  int64_t i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    float a[LANES] = {0}, q[LANES] = {0};
    for (int64_t b = 0; b < BLOCK; b += LANES)
      for (int j = 0; j < LANES; j++) {
        float d = x[i + b + j] - shift;
        a[j] += d;
        q[j] += d * d;
      }
    for (int j = 0; j < LANES; j++) s[0] += a[j], s[1] += q[j];
  }
  for (; i < n; i++) {
    double d = (double)x[i] - shift;
    s[0] += d;
    s[1] += d * d;
  }
}

static void scale_shift(float *restrict y, const float *restrict x, float a, float b, int64_t n, int relu) {
  if (relu) {
    for (int64_t i = 0; i < n; i++) {
      float v = a * x[i] + b;
      y[i] = v < 0.0f ? 0.0f : v;
    }
  } else {
    for (int64_t i = 0; i < n; i++) y[i] = a * x[i] + b;
  }
}

void snt_k_bn_train_forward(int64_t batch, int64_t channels, int64_t inner, const float *x, const float *gamma,
                            const float *beta, float eps, int relu, float *y, float *mean, float *var,
                            float *invstd) {
  double count = (double)batch * (double)inner;
  for (int64_t c = 0; c < channels; c++) {
    float shift = count > 0 ? x[c * inner] : 0.0f;
    double s[2] = {0.0, 0.0};
    for (int64_t n = 0; n < batch; n++) moments_acc(x + (n * channels + c) * inner, inner, shift, s);
    double mu = count > 0 ? s[0] / count : 0.0;
    double v = count > 0 ? s[1] / count - mu * mu : 0.0;
    v = v < 0.0 ? 0.0 : v;
    mu += shift;
    double is = 1.0 / sqrt(v + (double)eps);
    mean[c] = (float)mu;
    var[c] = (float)v;
    invstd[c] = (float)is;
    double a = (gamma ? (double)gamma[c] : 1.0) * is;
    double b = (beta ? (double)beta[c] : 0.0) - mu * a;
    for (int64_t n = 0; n < batch; n++) {
      int64_t off = (n * channels + c) * inner;
      scale_shift(y + off, x + off, (float)a, (float)b, inner, relu);
    }
  }
}

/* Adds sum(g), sum(g * (x - mean)) and sum(x - mean) to s, where g is dy masked by y > 0 when
 * y is given. The last one measures how far the float mean is from the batch's exact mean. */
static void grad_sums(const float *restrict x, const float *restrict y, const float *restrict dy, int64_t n,
                      float mean, double s[3]) {
  int64_t i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    float a[LANES] = {0}, b[LANES] = {0}, d[LANES] = {0};
    for (int64_t k = 0; k < BLOCK; k += LANES)
      for (int j = 0; j < LANES; j++) {
        float g = y && !(y[i + k + j] > 0.0f) ? 0.0f : dy[i + k + j];
        float xc = x[i + k + j] - mean;
        a[j] += g;
        b[j] += g * xc;
        d[j] += xc;
      }
    for (int j = 0; j < LANES; j++) s[0] += a[j], s[1] += b[j], s[2] += d[j];
  }
  for (; i < n; i++) {
    float g = y && !(y[i] > 0.0f) ? 0.0f : dy[i];
    s[0] += g;
    s[1] += (double)g * ((double)x[i] - (double)mean);
    s[2] += (double)x[i] - (double)mean;
  }
}

/* dx = a*g - c*(x - mean) - e, the closed form of BN's input gradient. */
static void bn_dx(const float *restrict x, const float *restrict y, const float *restrict dy, int64_t n, float mean,
                  float a, float c, float e, float *restrict dx) {
  if (y) {
    for (int64_t i = 0; i < n; i++) {
      float g = y[i] > 0.0f ? dy[i] : 0.0f;
      dx[i] = a * g - c * (x[i] - mean) - e;
    }
  } else {
    for (int64_t i = 0; i < n; i++) dx[i] = a * dy[i] - c * (x[i] - mean) - e;
  }
}

void snt_k_bn_train_backward(int64_t batch, int64_t channels, int64_t inner, const float *x, const float *y,
                             const float *dy, const float *gamma, const float *mean, const float *invstd, int relu,
                             float *dx, float *dgamma, float *dbeta) {
  const float *mask = relu ? y : NULL;
  double count = (double)batch * (double)inner;
  for (int64_t c = 0; c < channels; c++) {
    double s[3] = {0.0, 0.0, 0.0}, is = invstd[c];
    for (int64_t n = 0; n < batch; n++) {
      int64_t off = (n * channels + c) * inner;
      grad_sums(x + off, mask ? mask + off : NULL, dy + off, inner, mean[c], s);
    }
    /* Centre on the exact batch mean (the stored one is rounded to float): otherwise dx keeps a
     * per-channel offset that a layer before, summing dx over every pixel, amplifies. */
    double shift = count > 0 ? s[2] / count : 0.0;
    double db = s[0], dg = (s[1] - shift * s[0]) * is; /* dgamma = sum g * xhat */
    if (dgamma) dgamma[c] = (float)dg;
    if (dbeta) dbeta[c] = (float)db;
    if (!dx || count == 0) continue;
    double a = (gamma ? (double)gamma[c] : 1.0) * is;
    double cc = a * dg * is / count, e = a * db / count - cc * shift;
    for (int64_t n = 0; n < batch; n++) {
      int64_t off = (n * channels + c) * inner;
      bn_dx(x + off, mask ? mask + off : NULL, dy + off, inner, mean[c], (float)a, (float)cc, (float)e, dx + off);
    }
  }
}

void snt_k_bn_infer_backward(int64_t batch, int64_t channels, int64_t inner, const float *y, const float *dy,
                             const float *gamma, const float *var, float eps, int relu, float *dx) {
  for (int64_t c = 0; c < channels; c++) {
    float a = (float)((gamma ? (double)gamma[c] : 1.0) / sqrt((double)var[c] + (double)eps));
    for (int64_t n = 0; n < batch; n++) {
      int64_t off = (n * channels + c) * inner;
      const float *restrict g = dy + off;
      float *restrict d = dx + off;
      if (relu) {
        const float *restrict yy = y + off;
        for (int64_t i = 0; i < inner; i++) d[i] = yy[i] > 0.0f ? a * g[i] : 0.0f;
      } else {
        for (int64_t i = 0; i < inner; i++) d[i] = a * g[i];
      }
    }
  }
}

void snt_k_moving_update(int64_t n, float *moving, const float *value, float momentum) {
  float keep = momentum, take = 1.0f - momentum; /* Keras: moving * momentum + value * (1 - momentum) */
  for (int64_t i = 0; i < n; i++) moving[i] = moving[i] * keep + value[i] * take;
}
