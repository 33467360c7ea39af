/* Optimizer kernels against Keras 3's update formulas evaluated step by step in double, plus
 * hand-checked properties (Adam's first step moves each weight by about lr * sign(g)). The
 * kernels run in float32, so a few ulps per step separate them from the double references. */
#include "kernels_ref.h"
#include "sinter/kernels_train.h"

enum { N = 4, STEPS = 3 };

static const float G[STEPS][N] = {{0.5f, -0.25f, 2.0f, 1e-3f}, {0.4f, 0.1f, -1.0f, 2e-3f}, {-0.3f, 0.2f, 1.5f, 0.0f}};
static const float W0[N] = {0.1f, -0.2f, 0.3f, 1.0f};

static void test_adam(test_state *ts) {
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-7;
  float w[N], m[N] = {0}, v[N] = {0};
  double wd[N], md[N] = {0}, vd[N] = {0};
  memcpy(w, W0, sizeof w);
  for (int i = 0; i < N; i++) wd[i] = W0[i];
  /* Step 1 by hand: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so the step is
   * lr * g / (|g| + eps / sqrt(0.001)): lr * sign(g) for |g| >> 3e-6. */
  snt_k_adam_step(N, w, G[0], m, v, (float)lr, (float)b1, (float)b2, (float)eps, 1);
  for (int i = 0; i < N; i++) {
    double g = G[0][i], step = lr * g / (fabs(g) + eps / sqrt(0.001));
    CHECK(ts, fabs(w[i] - (W0[i] - step)) < 1e-7);
    CHECK(ts, fabs(m[i] - 0.1 * g) < 1e-7 * fabs(g) + 1e-12);
  }
  /* Steps 2 and 3 (and 1 again) from the formula, in double. */
  for (int t = 1; t <= STEPS; t++) {
    double alpha = lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t));
    for (int i = 0; i < N; i++) {
      double g = G[t - 1][i];
      md[i] += (g - md[i]) * (1 - b1);
      vd[i] += (g * g - vd[i]) * (1 - b2);
      wd[i] -= alpha * md[i] / (sqrt(vd[i]) + eps);
    }
    if (t > 1) snt_k_adam_step(N, w, G[t - 1], m, v, (float)lr, (float)b1, (float)b2, (float)eps, t);
  }
  check_close_arr(ts, "adam w", w, wd, NULL, N, 1e-6);
  check_close_arr(ts, "adam m", m, md, NULL, N, 1e-5);
  check_close_arr(ts, "adam v", v, vd, NULL, N, 1e-5);
}

static void run_sgd(test_state *ts, const char *what, double lr, double mom, int nesterov) {
  float w[N], vel[N] = {0};
  double wd[N], vd[N] = {0};
  memcpy(w, W0, sizeof w);
  for (int i = 0; i < N; i++) wd[i] = W0[i];
  for (int t = 0; t < STEPS; t++) {
    snt_k_sgd_step(N, w, G[t], mom != 0 ? vel : NULL, (float)lr, (float)mom, nesterov);
    for (int i = 0; i < N; i++) {
      double g = G[t][i];
      if (mom == 0) {
        wd[i] -= lr * g;
        continue;
      }
      vd[i] = mom * vd[i] - lr * g;
      wd[i] += nesterov ? mom * vd[i] - lr * g : vd[i];
    }
  }
  check_close_arr(ts, what, w, wd, NULL, N, 1e-6);
  if (mom != 0) check_close_arr(ts, "sgd velocity", vel, vd, NULL, N, 1e-5);
}

static void test_sgd(test_state *ts) {
  run_sgd(ts, "sgd plain", 0.1, 0.0, 0);
  run_sgd(ts, "sgd momentum", 0.1, 0.9, 0);
  run_sgd(ts, "sgd nesterov", 0.1, 0.9, 1);
  /* by hand: one plain step of lr 0.5 on w = 1, g = 0.5 gives 0.75; with momentum 0.9 the
     second step of the same gradient moves by 0.25 * 1.9 */
  float w = 1.0f, g = 0.5f, vel = 0.0f;
  snt_k_sgd_step(1, &w, &g, NULL, 0.5f, 0.0f, 0);
  CHECK(ts, w == 0.75f);
  snt_k_sgd_step(1, &w, &g, &vel, 0.5f, 0.9f, 0);
  snt_k_sgd_step(1, &w, &g, &vel, 0.5f, 0.9f, 0);
  CHECK(ts, fabsf(w - (0.75f - 0.25f - 0.475f)) < 1e-6f);
}

static void test_l2_moving(test_state *ts) {
  float w[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.1f, 0.2f, 0.3f};
  double pen = snt_k_l2_grad(3, w, 1e-2f, g);
  CHECK(ts, fabs(pen - 0.0525) < 1e-8); /* l2 * (1 + 4 + 0.25); l2 is 1e-2 rounded to float */
  const float want[3] = {0.12f, 0.16f, 0.31f};  /* g + 2 * 0.01 * w */
  check_close_list(ts, "l2 grad", g, want, 3, 1e-6);

  float moving[2] = {1.0f, 0.0f};
  const float value[2] = {3.0f, -1.0f};
  snt_k_moving_update(2, moving, value, 0.99f);
  const float m1[2] = {1.02f, -0.01f}; /* 0.99 * moving + 0.01 * value */
  check_close_list(ts, "moving update", moving, m1, 2, 1e-6);
  for (int i = 0; i < 999; i++) snt_k_moving_update(2, moving, value, 0.99f);
  /* 1000 updates: moving -> value + (moving0 - value) * 0.99^1000 */
  CHECK(ts, fabs(moving[0] - (3.0 - 2.0 * pow(0.99, 1000))) < 1e-4);
}

int main(void) {
  test_state ts = {0, 0};
  test_adam(&ts);
  test_sgd(&ts);
  test_l2_moving(&ts);
  return test_report("test_optim", &ts);
}
