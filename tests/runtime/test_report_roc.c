/* The ROC builder against an independent definition of the AUC, the Mann-Whitney statistic
 * counted pair by pair (a positive above a negative counts 1, a tie 1/2), on scores with many
 * ties; the curve's points against counts taken at each threshold; the threshold counts; a
 * non-finite score; and the ROC picture of many classes staying bounded. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "sinter/report.h"

enum { N = 301, K = 3 };

/* P(positive scores above a negative) + 1/2 P(tie), over all pairs. */
static double pairwise_auc(const float *s, const int *truth, int k) {
  double wins = 0, pairs = 0;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      if (truth[i] != k || truth[j] == k) continue;
      float a = s[i * K + k], b = s[j * K + k];
      wins += a > b ? 1 : a == b ? 0.5 : 0;
      pairs++;
    }
  return wins / pairs;
}

static void against_pairs(test_state *ts) {
  static float s[N * K];
  static int truth[N];
  srand(12);
  for (int i = 0; i < N; i++) {
    truth[i] = rand() % K;
    /* Scores on a grid of 8 values, leaning towards the true class: ties everywhere. */
    for (int k = 0; k < K; k++) s[i * K + k] = (float)((rand() % 6 + (truth[i] == k ? 2 : 0)) / 8.0);
  }
  for (int k = 0; k < K; k++) {
    snt_roc r;
    snt_err e;
    CHECK_INT(ts, snt_roc_build(N, s, K, truth, k, &r, &e), SNT_OK);
    CHECK(ts, fabs(r.auc - pairwise_auc(s, truth, k)) < 1e-12);
    CHECK(ts, r.n <= 9 && r.fpr[0] == 0 && r.tpr[0] == 0 && isinf(r.thr[0]));
    CHECK(ts, r.fpr[r.n - 1] == 1 && r.tpr[r.n - 1] == 1);
    for (int i = 1; i < r.n; i++) {
      snt_binary_counts b = snt_threshold_counts(N, s, K, truth, k, r.thr[i]);
      CHECK(ts, r.thr[i] < r.thr[i - 1]);
      CHECK(ts, r.tpr[i] == snt_sensitivity(b) && fabs(r.fpr[i] - (1 - snt_specificity(b))) < 1e-15);
      CHECK_INT(ts, b.tp + b.fn, r.pos);
    }
    snt_roc_free(&r);
  }
}

static void edge_cases(test_state *ts) {
  const float tied[4] = {0.5f, 0.5f, 0.5f, 0.5f}, bad[2] = {0.5f, NAN};
  const int truth[4] = {0, 1, 0, 1}, same[4] = {1, 1, 1, 1};
  snt_roc r;
  snt_err e;
  CHECK_INT(ts, snt_roc_build(4, tied, 1, truth, 0, &r, &e), SNT_OK);
  CHECK(ts, r.auc == 0.5 && r.n == 2 && r.pos == 2 && r.neg == 2);
  snt_roc_free(&r);
  CHECK_INT(ts, snt_roc_build(4, tied, 1, same, 0, &r, &e), SNT_OK); /* no positives */
  CHECK(ts, isnan(r.auc) && r.pos == 0 && r.neg == 4);
  snt_roc_free(&r);
  CHECK_INT(ts, snt_roc_build(2, bad, 1, truth, 0, &r, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, "ROC: sample 1 has a non-finite score for class 0");
  CHECK(ts, r.fpr == NULL && isnan(r.auc));
  snt_binary_counts b = snt_threshold_counts(4, tied, 1, truth, 0, 0.0);
  CHECK(ts, b.tp == 2 && b.fp == 2 && b.fn == 0 && b.tn == 0 && snt_specificity(b) == 0);
  b = snt_threshold_counts(4, tied, 1, truth, 0, 0.6);
  CHECK(ts, b.tp == 0 && b.fn == 2 && isnan(snt_specificity((snt_binary_counts){0})));
}

/* 60 classes: the legend lists 40 and says how many more, so the picture stays small. */
static void many_classes(test_state *ts) {
  enum { C = 60 };
  static float s[N * C];
  static int truth[N];
  snt_roc rocs[C];
  for (int i = 0; i < N; i++) {
    truth[i] = i % C;
    for (int k = 0; k < C; k++) s[i * C + k] = (float)((i * 7 + k * 13) % 17);
  }
  snt_err e;
  for (int k = 0; k < C; k++) CHECK_INT(ts, snt_roc_build(N, s, C, truth, k, &rocs[k], &e), SNT_OK);
  char path[512];
  snprintf(path, sizeof path, "%s/roc_many.png", SINTER_TEST_TMP);
  CHECK_INT(ts, snt_plot_roc(path, C, NULL, rocs, &e), SNT_OK);
  snt_image im = {0};
  CHECK_INT(ts, snt_image_load(path, &im, &e), SNT_OK);
  CHECK(ts, im.height == 70 + 41 * 26 + 20 && im.width < 1000);
  snt_image_free(&im);
  for (int k = 0; k < C; k++) snt_roc_free(&rocs[k]);
}

int main(void) {
  test_state ts = {0};
  against_pairs(&ts);
  edge_cases(&ts);
  many_classes(&ts);
  return test_report("report_roc", &ts);
}
