/* A tensor scaled per channel by another computed tensor (the gate of a squeeze-excite block:
 * x [N, C, H, W] * s [N, C, 1, 1]), then optionally the block's residual added and a ReLU, in
 * one pass with planes split over the team. The generated loops ran them as two or three
 * passes on one thread: SE-ResNet-like's Mul, Add and Relu on 64 x 56 x 56 took 0.16 ms. */
#include "gemm_core.h"

typedef struct scale_job {
  const float *x, *s, *r;
  float *y;
  int relu;
  int64_t s_stride, channels, inner, planes;
} scale_job;

static void scale_part(void *arg, int t, int threads) {
  const scale_job *j = arg;
  for (int64_t p = j->planes * t / threads; p < j->planes * (t + 1) / threads; p++) {
    const float *restrict x = j->x + p * j->inner;
    float *restrict y = j->y + p * j->inner;
    float a = j->s[p / j->channels * j->s_stride + p % j->channels];
    if (!j->r) {
      for (int64_t i = 0; i < j->inner; i++) y[i] = x[i] * a;
    } else {
      const float *restrict r = j->r + p * j->inner;
      for (int64_t i = 0; i < j->inner; i++) y[i] = x[i] * a + r[i]; /* rounded twice, as Mul then Add */
    }
    if (j->relu)
      for (int64_t i = 0; i < j->inner; i++) y[i] = y[i] < 0.0f ? 0.0f : y[i]; /* NaN passes, as Relu's */
  }
}

/* Below this many elements one thread does it: a hand-off costs more. */
enum { TEAM_MIN = 32768 };

void snt_k_channel_scale(snt_k_ctx *ctx, const float *x, const float *s, int64_t s_batch_stride, const float *residual,
                         int relu, float *y, int64_t batch, int64_t channels, int64_t inner) {
  if (batch <= 0 || channels <= 0 || inner <= 0) return;
  scale_job j = {x, s, residual, y, relu, s_batch_stride, channels, inner, batch * channels};
  if (j.planes * inner < TEAM_MIN || snt_k_ctx_threads(ctx) < 2) scale_part(&j, 0, 1);
  else snt_k_ctx_parallel(ctx, scale_part, &j);
}
