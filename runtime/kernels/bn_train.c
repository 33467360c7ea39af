/* Batch normalisation in training mode: batch statistics forward, and the backward of both
 * the training and the inference (frozen) forms. */
#include <math.h>
#include <stdlib.h>

#include "gemm_core.h"
#include "kernels_util.h"
#include "sinter/kernels_train.h"

/* The backward recomputes the forward's sc * x + b to mask dy: both must round alike, so no
 * loop may fuse it into an FMA, whatever flags the file is built with. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

/* Sums run in float over blocks (each of LANES float lanes adds BLOCK / LANES values, a few ulps
 * of error) and the block sums accumulate in double: double precision across the channel at
 * float speed, since gcc vectorises fixed-lane float loops but not double reductions. A plane
 * shorter than a block (14x14, 7x7) takes a shorter block, so that only its last few values
 * (< LANES) go through the scalar double loop: whole 196-float planes did, 5x slower. */
enum { LANES = 16, BLOCK = 256 };

/* The floats the next lane block takes from n - i left: BLOCK, else a multiple of LANES. */
static inline int64_t block_len(int64_t left) { return left >= BLOCK ? BLOCK : left / LANES * LANES; }

/* Adds sum(x - shift) and sum((x - shift)^2) of n floats to s[0], s[1]. Shifting by one sample
 * of the channel keeps the one-pass variance free of cancellation when |mean| >> std. */
static void moments_acc(const float *restrict x, int64_t n, float shift, double s[2]) {
  int64_t i = 0;
  for (int64_t len; (len = block_len(n - i)) > 0; i += len) {
    float a[LANES] = {0}, q[LANES] = {0};
    for (int64_t b = 0; b < len; b += LANES)
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

typedef struct bn_args {
  int64_t batch, channels, inner;
  const float *x, *dy, *gamma, *beta, *mean, *invstd;
  float eps;
  int relu;
  float *out, *mean_out, *var_out, *invstd_out, *dgamma, *dbeta;
} bn_args;

/* y = sc * x + b of channel c, from the stored (float) mean and invstd: the backward makes the
 * same two floats and so the same ReLU mask from x, instead of reading y back from memory. */
static void affine(const bn_args *a, int64_t c, float *sc, float *b) {
  const float *mean = a->mean ? a->mean : a->mean_out, *invstd = a->invstd ? a->invstd : a->invstd_out;
  double scd = (a->gamma ? (double)a->gamma[c] : 1.0) * (double)invstd[c];
  *sc = (float)scd;
  *b = (float)((a->beta ? (double)a->beta[c] : 0.0) - (double)mean[c] * scd);
}

/* Channels go in blocks, and within a block image by image, so that memory is read in runs of
 * about RUN floats: a channel's planes alone are short runs far apart when planes are small
 * (7x7, 14x14), which leaves the loads waiting on memory. Each channel still sums its planes in
 * image order, so the results are those of a channel-by-channel loop. */
enum { RUN = 4096, BLOCK_CHANNELS = 512 };

static int64_t block_channels(int64_t inner) {
  int64_t b = inner > 0 ? RUN / inner : BLOCK_CHANNELS;
  return b < 1 ? 1 : (b > BLOCK_CHANNELS ? BLOCK_CHANNELS : b);
}

static void forward_block(const bn_args *a, int64_t c0, int64_t c1) {
  int64_t batch = a->batch, channels = a->channels, inner = a->inner;
  double count = (double)batch * (double)inner, s[BLOCK_CHANNELS][2];
  float shift[BLOCK_CHANNELS], sc[BLOCK_CHANNELS], b[BLOCK_CHANNELS];
  for (int64_t c = c0; c < c1; c++) {
    shift[c - c0] = count > 0 ? a->x[c * inner] : 0.0f;
    s[c - c0][0] = s[c - c0][1] = 0.0;
  }
  for (int64_t n = 0; n < batch; n++)
    for (int64_t c = c0; c < c1; c++) moments_acc(a->x + (n * channels + c) * inner, inner, shift[c - c0], s[c - c0]);
  for (int64_t c = c0; c < c1; c++) {
    double mu = count > 0 ? s[c - c0][0] / count : 0.0;
    double v = count > 0 ? s[c - c0][1] / count - mu * mu : 0.0;
    v = v < 0.0 ? 0.0 : v;
    mu += shift[c - c0];
    double is = 1.0 / sqrt(v + (double)a->eps);
    a->mean_out[c] = (float)mu;
    a->var_out[c] = (float)v;
    a->invstd_out[c] = (float)is;
    affine(a, c, &sc[c - c0], &b[c - c0]);
  }
  for (int64_t n = 0; n < batch; n++)
    for (int64_t c = c0; c < c1; c++) {
      int64_t off = (n * channels + c) * inner;
      scale_shift(a->out + off, a->x + off, sc[c - c0], b[c - c0], inner, a->relu);
    }
}

static void forward_channels(void *ctx, int64_t c0, int64_t c1) {
  const bn_args *a = ctx;
  int64_t bc = block_channels(a->inner);
  for (int64_t c = c0; c < c1; c += bc) forward_block(a, c, c + bc < c1 ? c + bc : c1);
}

/* Channels per thread at least: about 4096 elements' worth, so that a thread's start is paid
 * for (7x7 planes of a batch of 32 split too). */
static int64_t min_channels(int64_t batch, int64_t inner) {
  int64_t per = batch * inner;
  return per >= 4096 ? 1 : (per > 0 ? (4096 + per - 1) / per : 1 << 30);
}

/* Channels are independent: they split over threads (the tensors are far larger than cache). */
void snt_k_bn_train_forward(int64_t batch, int64_t channels, int64_t inner, const float *x, const float *gamma,
                            const float *beta, float eps, int relu, float *y, float *mean, float *var,
                            float *invstd) {
  bn_args a = {.batch = batch, .channels = channels, .inner = inner, .x = x, .gamma = gamma, .beta = beta, .eps = eps,
               .relu = relu, .out = y, .mean_out = mean, .var_out = var, .invstd_out = invstd};
  snt_k_parallel_for(channels, min_channels(batch, inner), forward_channels, &a);
}

/* Adds sum(g), sum(g * (x - mean)) and sum(x - mean) to s, where g is dy masked by
 * sc * x + sb > 0 under relu. The last one measures how far the float mean is from the batch's
 * exact mean. */
static void grad_sums(const float *restrict x, int relu, float sc, float sb, const float *restrict dy, int64_t n,
                      float mean, double s[3]) {
  int64_t i = 0;
  /* Two copies of the loop, so that neither masks conditionally and both vectorise. */
  for (int64_t len; (len = block_len(n - i)) > 0; i += len) {
    float a[LANES] = {0}, b[LANES] = {0}, d[LANES] = {0};
    if (relu) {
      for (int64_t k = 0; k < len; k += LANES)
        for (int j = 0; j < LANES; j++) {
          float dv = dy[i + k + j]; /* loaded unconditionally, so the select vectorises */
          float g = sc * x[i + k + j] + sb > 0.0f ? dv : 0.0f;
          float xc = x[i + k + j] - mean;
          a[j] += g;
          b[j] += g * xc;
          d[j] += xc;
        }
    } else {
      for (int64_t k = 0; k < len; k += LANES)
        for (int j = 0; j < LANES; j++) {
          float g = dy[i + k + j];
          float xc = x[i + k + j] - mean;
          a[j] += g;
          b[j] += g * xc;
          d[j] += xc;
        }
    }
    for (int j = 0; j < LANES; j++) s[0] += a[j], s[1] += b[j], s[2] += d[j];
  }
  for (; i < n; i++) {
    float g = relu && !(sc * x[i] + sb > 0.0f) ? 0.0f : dy[i];
    s[0] += g;
    s[1] += (double)g * ((double)x[i] - (double)mean);
    s[2] += (double)x[i] - (double)mean;
  }
}

/* dx = a*g - c*(x - mean) - e, the closed form of BN's input gradient (g: dy masked where
 * sc * x + sb, the forward's output before its ReLU, is not positive, under relu). */
static void bn_dx(const float *restrict x, int relu, float sc, float sb, const float *restrict dy, int64_t n, float mean,
                  float a, float c, float e, float *restrict dx) {
  if (relu) {
    for (int64_t i = 0; i < n; i++) {
      float dv = dy[i];
      float g = sc * x[i] + sb > 0.0f ? dv : 0.0f;
      dx[i] = a * g - c * (x[i] - mean) - e;
    }
  } else {
    for (int64_t i = 0; i < n; i++) dx[i] = a * dy[i] - c * (x[i] - mean) - e;
  }
}

static void backward_block(const bn_args *a, int64_t c0, int64_t c1) {
  int64_t batch = a->batch, channels = a->channels, inner = a->inner;
  double count = (double)batch * (double)inner, s[BLOCK_CHANNELS][3];
  float sc[BLOCK_CHANNELS], cc[BLOCK_CHANNELS], e[BLOCK_CHANNELS], fs[BLOCK_CHANNELS], fb[BLOCK_CHANNELS];
  for (int64_t c = c0; c < c1; c++) {
    s[c - c0][0] = s[c - c0][1] = s[c - c0][2] = 0.0;
    affine(a, c, &fs[c - c0], &fb[c - c0]);
  }
  for (int64_t n = 0; n < batch; n++)
    for (int64_t c = c0; c < c1; c++) {
      int64_t off = (n * channels + c) * inner;
      grad_sums(a->x + off, a->relu, fs[c - c0], fb[c - c0], a->dy + off, inner, a->mean[c], s[c - c0]);
    }
  for (int64_t c = c0; c < c1; c++) {
    const double *sum = s[c - c0];
    double is = a->invstd[c];
    /* Centre on the exact batch mean (the stored one is rounded to float): otherwise dx keeps a
     * per-channel offset that a layer before, summing dx over every pixel, amplifies. */
    double shift = count > 0 ? sum[2] / count : 0.0;
    double db = sum[0], dg = (sum[1] - shift * sum[0]) * is; /* dgamma = sum g * xhat */
    if (a->dgamma) a->dgamma[c] = (float)dg;
    if (a->dbeta) a->dbeta[c] = (float)db;
    double scd = (a->gamma ? (double)a->gamma[c] : 1.0) * is;
    double ccd = scd * dg * is / count;
    sc[c - c0] = (float)scd;
    cc[c - c0] = (float)ccd;
    e[c - c0] = (float)(scd * db / count - ccd * shift);
  }
  if (!a->out || count == 0) return;
  for (int64_t n = 0; n < batch; n++)
    for (int64_t c = c0; c < c1; c++) {
      int64_t off = (n * channels + c) * inner;
      bn_dx(a->x + off, a->relu, fs[c - c0], fb[c - c0], a->dy + off, inner, a->mean[c], sc[c - c0], cc[c - c0],
            e[c - c0], a->out + off);
    }
}

static void backward_channels(void *ctx, int64_t c0, int64_t c1) {
  const bn_args *a = ctx;
  int64_t bc = block_channels(a->inner);
  for (int64_t c = c0; c < c1; c += bc) backward_block(a, c, c + bc < c1 ? c + bc : c1);
}

void snt_k_bn_train_backward(int64_t batch, int64_t channels, int64_t inner, const float *x, const float *dy,
                             const float *gamma, const float *beta, const float *mean, const float *invstd, int relu,
                             float *dx, float *dgamma, float *dbeta) {
  bn_args a = {.batch = batch, .channels = channels, .inner = inner, .x = x, .dy = dy, .gamma = gamma, .beta = beta,
               .mean = mean, .invstd = invstd, .relu = relu, .out = dx, .dgamma = dgamma, .dbeta = dbeta};
  snt_k_parallel_for(channels, min_channels(batch, inner), backward_channels, &a);
}

/* ---- synchronised BatchNorm (--sync-bn): the job's batch statistics through ctx's sum ---- */

typedef struct sync_args {
  bn_args a;
  double *s;     /* per channel: `stride` sums */
  float *shift;  /* per channel: the centre of the second pass (the job's mean, rounded) */
  double count, ranks_count; /* this rank's values per channel, the job's */
} sync_args;

/* Pass 1: sum(x) per channel. */
static void sync_sum(void *arg, int64_t c0, int64_t c1) {
  const sync_args *g = arg;
  const bn_args *a = &g->a;
  for (int64_t c = c0; c < c1; c++) {
    double s[2] = {0, 0};
    for (int64_t n = 0; n < a->batch; n++) moments_acc(a->x + (n * a->channels + c) * a->inner, a->inner, 0.0f, s);
    g->s[c] = s[0];
  }
}

/* Pass 2: sum(x - shift) and sum((x - shift)^2) per channel. */
static void sync_moments(void *arg, int64_t c0, int64_t c1) {
  const sync_args *g = arg;
  const bn_args *a = &g->a;
  for (int64_t c = c0; c < c1; c++) {
    double s[2] = {0, 0};
    for (int64_t n = 0; n < a->batch; n++) moments_acc(a->x + (n * a->channels + c) * a->inner, a->inner, g->shift[c], s);
    g->s[2 * c] = s[0], g->s[2 * c + 1] = s[1];
  }
}

static void sync_apply(void *arg, int64_t c0, int64_t c1) {
  const sync_args *g = arg;
  const bn_args *a = &g->a;
  for (int64_t c = c0; c < c1; c++) {
    float sc, b;
    affine(a, c, &sc, &b);
    for (int64_t n = 0; n < a->batch; n++) {
      int64_t off = (n * a->channels + c) * a->inner;
      scale_shift(a->out + off, a->x + off, sc, b, a->inner, a->relu);
    }
  }
}

/* Two passes (the mean, then the moments about it), each summed over the ranks: a one-pass
 * shift would differ from rank to rank. */
static snt_status sync_forward(snt_k_ctx *ctx, sync_args *g) {
  bn_args *a = &g->a;
  int64_t ch = a->channels, grain = min_channels(a->batch, a->inner);
  snt_k_parallel_for(ch, grain, sync_sum, g);
  g->s[ch] = g->count;
  if (snt_k_ctx_sum(ctx, g->s, ch + 1)) return SNT_ERR_IO;
  double m = g->s[ch];
  for (int64_t c = 0; c < ch; c++) g->shift[c] = m > 0 ? (float)(g->s[c] / m) : 0.0f;
  snt_k_parallel_for(ch, grain, sync_moments, g);
  if (snt_k_ctx_sum(ctx, g->s, 2 * ch)) return SNT_ERR_IO;
  for (int64_t c = 0; c < ch; c++) {
    double d = m > 0 ? g->s[2 * c] / m : 0.0, v = m > 0 ? g->s[2 * c + 1] / m - d * d : 0.0;
    v = v < 0.0 ? 0.0 : v;
    double is = 1.0 / sqrt(v + (double)a->eps);
    a->mean_out[c] = (float)(g->shift[c] + d);
    a->var_out[c] = (float)v;
    a->invstd_out[c] = (float)is;
  }
  snt_k_parallel_for(ch, grain, sync_apply, g);
  return SNT_OK;
}

snt_status snt_k_bn_train_forward_ctx(snt_k_ctx *ctx, int64_t batch, int64_t channels, int64_t inner, const float *x,
                                      const float *gamma, const float *beta, float eps, int relu, float *y,
                                      float *mean, float *var, float *invstd) {
  if (!snt_k_ctx_has_sum(ctx)) {
    snt_k_bn_train_forward(batch, channels, inner, x, gamma, beta, eps, relu, y, mean, var, invstd);
    return SNT_OK;
  }
  sync_args g = {.a = {.batch = batch, .channels = channels, .inner = inner, .x = x, .gamma = gamma, .beta = beta,
                       .eps = eps, .relu = relu, .out = y, .mean_out = mean, .var_out = var, .invstd_out = invstd},
                 .count = (double)batch * (double)inner};
  g.s = malloc(sizeof(double) * (size_t)(2 * channels + 1));
  g.shift = malloc(sizeof(float) * (size_t)(channels ? channels : 1));
  snt_status st = g.s && g.shift ? sync_forward(ctx, &g) : SNT_ERR_NOMEM;
  free(g.s);
  free(g.shift);
  return st;
}

/* Backward pass 1: this rank's sum(g), sum(g * (x - mean)), sum(x - mean) per channel. */
static void sync_grad_sums(void *arg, int64_t c0, int64_t c1) {
  const sync_args *g = arg;
  const bn_args *a = &g->a;
  for (int64_t c = c0; c < c1; c++) {
    float fs, fb;
    affine(a, c, &fs, &fb);
    double *s = g->s + 3 * c;
    s[0] = s[1] = s[2] = 0.0;
    for (int64_t n = 0; n < a->batch; n++) {
      int64_t off = (n * a->channels + c) * a->inner;
      grad_sums(a->x + off, a->relu, fs, fb, a->dy + off, a->inner, a->mean[c], s);
    }
  }
}

/* Pass 2: dgamma, dbeta of this rank from its own sums (at 3c .. 3c + 2), dx from the job's
 * (the same places of the summed copy), as one process over the whole batch would, then back
 * in this rank's scale (its loss is the mean over its n samples, one process's over N). */
typedef struct sync_dx_args {
  const sync_args *g;
  const double *local, *job;
  double per_job; /* N / n */
} sync_dx_args;

static void sync_dx(void *arg, int64_t c0, int64_t c1) {
  const sync_dx_args *d = arg;
  const bn_args *a = &d->g->a;
  double m = d->g->ranks_count;
  for (int64_t c = c0; c < c1; c++) {
    const double *mine = d->local + 3 * c, *job = d->job + 3 * c;
    double is = a->invstd[c], shift = m > 0 ? job[2] / m : 0.0;
    /* job[0..1]: one process's sums over the whole batch (its dy is this rank's x n / N) */
    double db = job[0], dg = (job[1] - shift * db) * is;
    if (a->dgamma) a->dgamma[c] = (float)((mine[1] - shift * mine[0]) * is);
    if (a->dbeta) a->dbeta[c] = (float)mine[0];
    if (!a->out || m == 0) continue;
    float fs, fb;
    affine(a, c, &fs, &fb);
    double scd = (a->gamma ? (double)a->gamma[c] : 1.0) * is, ccd = scd * dg * is / m;
    float sc = (float)scd, cc = (float)(ccd * d->per_job), e = (float)((scd * db / m - ccd * shift) * d->per_job);
    for (int64_t n = 0; n < a->batch; n++) {
      int64_t off = (n * a->channels + c) * a->inner;
      bn_dx(a->x + off, a->relu, fs, fb, a->dy + off, a->inner, a->mean[c], sc, cc, e, a->out + off);
    }
  }
}

static snt_status sync_backward(snt_k_ctx *ctx, sync_args *g) {
  const bn_args *a = &g->a;
  int64_t ch = a->channels, grain = min_channels(a->batch, a->inner);
  snt_k_parallel_for(ch, grain, sync_grad_sums, g);
  double *job = g->s + 3 * ch, n = (double)a->batch;
  for (int64_t i = 0; i < 3 * ch; i++) job[i] = i % 3 == 2 ? g->s[i] : g->s[i] * n;
  job[3 * ch] = n;
  if (snt_k_ctx_sum(ctx, job, 3 * ch + 1)) return SNT_ERR_IO;
  g->ranks_count = job[3 * ch] * (double)a->inner;
  /* The sums came as per-sample gradients (dy x n): over N they are one process's. */
  for (int64_t i = 0; i < 3 * ch; i++)
    if (i % 3 != 2) job[i] /= job[3 * ch];
  sync_dx_args d = {g, g->s, job, n > 0 ? job[3 * ch] / n : 1.0};
  snt_k_parallel_for(ch, grain, sync_dx, &d);
  return SNT_OK;
}

snt_status snt_k_bn_train_backward_ctx(snt_k_ctx *ctx, int64_t batch, int64_t channels, int64_t inner, const float *x,
                                       const float *dy, const float *gamma, const float *beta, const float *mean,
                                       const float *invstd, int relu, float *dx, float *dgamma, float *dbeta) {
  if (!snt_k_ctx_has_sum(ctx)) {
    snt_k_bn_train_backward(batch, channels, inner, x, dy, gamma, beta, mean, invstd, relu, dx, dgamma, dbeta);
    return SNT_OK;
  }
  sync_args g = {.a = {.batch = batch, .channels = channels, .inner = inner, .x = x, .dy = dy, .gamma = gamma,
                       .beta = beta, .mean = mean, .invstd = invstd, .relu = relu, .out = dx, .dgamma = dgamma,
                       .dbeta = dbeta},
                 .count = (double)batch * (double)inner};
  g.s = malloc(sizeof(double) * (size_t)(6 * channels + 1));
  snt_status st = g.s ? sync_backward(ctx, &g) : SNT_ERR_NOMEM;
  free(g.s);
  return st;
}

typedef struct infer_args {
  int64_t channels, inner;
  const float *y, *dy, *gamma, *var;
  float eps;
  int relu;
  float *dx;
} infer_args;

/* Planes p0..p1 (sample, channel) in memory order: dx = dy * gamma / sqrt(var + eps), masked by
 * y > 0 after a fused ReLU. Each element alone: the thread count changes nothing. */
static void infer_planes(void *ctx, int64_t p0, int64_t p1) {
  const infer_args *a = ctx;
  for (int64_t p = p0; p < p1; p++) {
    int64_t c = p % a->channels, off = p * a->inner;
    float s = (float)((a->gamma ? (double)a->gamma[c] : 1.0) / sqrt((double)a->var[c] + (double)a->eps));
    const float *restrict g = a->dy + off;
    float *restrict d = a->dx + off;
    if (a->relu) {
      const float *restrict yy = a->y + off;
      for (int64_t i = 0; i < a->inner; i++) {
        float v = s * g[i];
        d[i] = yy[i] > 0.0f ? v : 0.0f;
      }
    } else {
      for (int64_t i = 0; i < a->inner; i++) d[i] = s * g[i];
    }
  }
}

void snt_k_bn_infer_backward(int64_t batch, int64_t channels, int64_t inner, const float *y, const float *dy,
                             const float *gamma, const float *var, float eps, int relu, float *dx) {
  infer_args a = {channels, inner, y, dy, gamma, var, eps, relu, dx};
  int64_t per = inner > 0 ? (65536 + inner - 1) / inner : 1 << 30; /* planes a thread's start pays for */
  if (channels > 0) snt_k_parallel_for(batch * channels, per, infer_planes, &a);
}

void snt_k_moving_update(int64_t n, float *moving, const float *value, float momentum) {
  float keep = momentum, take = 1.0f - momentum; /* Keras: moving * momentum + value * (1 - momentum) */
  for (int64_t i = 0; i < n; i++) moving[i] = moving[i] * keep + value[i] * take;
}
