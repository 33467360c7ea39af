/* Metrics against numbers worked out by hand: the confusion matrix, per-class and averaged
 * precision / recall / F1, sklearn's classification_report text (digits=4), the confusion
 * table, and the history CSV's round trip. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "sinter/report.h"

#define CHECK_NEAR(ts, got, want) CHECK(ts, fabs((double)(got) - (double)(want)) < 1e-12)

/* What a print function writes, as a malloc'ed string. */
typedef void (*printer)(FILE *, const snt_confusion *, const char *const *);
static char *capture(printer fn, const snt_confusion *c, const char *const *labels) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  fn(f, c, labels);
  fclose(f);
  return buf;
}

static snt_confusion build(test_state *ts, int n_classes, int n, const int *truth, const int *pred) {
  snt_confusion c;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_confusion_build(n_classes, n, truth, pred, &c, &e), SNT_OK);
  return c;
}

/* Three classes, 10 samples. Pairs (true, pred): (0,0) x3, (0,1), (1,1) x2, (1,0), (2,2),
 * (2,1) x2, so rows are [3 1 0], [1 2 0], [0 2 1]; supports 4, 3, 3; predicted 4, 5, 1.
 *   class 0: P = 3/4, R = 3/4, F1 = 6/(6+1+1) = 0.75
 *   class 1: P = 2/5, R = 2/3, F1 = 4/(4+3+1) = 0.5
 *   class 2: P = 1/1, R = 1/3, F1 = 2/(2+0+2) = 0.5
 *   accuracy 6/10; macro P = 2.15/3, R = 1.75/3, F1 = 1.75/3;
 *   weighted P = (4*.75 + 3*.4 + 3*1)/10 = .72, R = (3+2+1)/10 = .6, F1 = (3+1.5+1.5)/10 = .6 */
static void three_classes(test_state *ts) {
  const int truth[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2}, pred[] = {0, 0, 0, 1, 1, 1, 0, 2, 1, 1};
  snt_confusion c = build(ts, 3, 10, truth, pred);
  const int64_t want_m[9] = {3, 1, 0, 1, 2, 0, 0, 2, 1};
  for (int i = 0; i < 9; i++) CHECK_INT(ts, c.m[i], want_m[i]);

  snt_class_stats k[3], mac, wt;
  double acc = -1;
  snt_report_stats(&c, k, &mac, &wt, &acc);
  CHECK_NEAR(ts, k[0].precision, 0.75); CHECK_NEAR(ts, k[0].recall, 0.75); CHECK_NEAR(ts, k[0].f1, 0.75);
  CHECK_NEAR(ts, k[1].precision, 0.4); CHECK_NEAR(ts, k[1].recall, 2.0 / 3); CHECK_NEAR(ts, k[1].f1, 0.5);
  CHECK_NEAR(ts, k[2].precision, 1.0); CHECK_NEAR(ts, k[2].recall, 1.0 / 3); CHECK_NEAR(ts, k[2].f1, 0.5);
  CHECK_INT(ts, k[0].support, 4); CHECK_INT(ts, k[1].support, 3); CHECK_INT(ts, k[2].support, 3);
  CHECK_NEAR(ts, acc, 0.6);
  CHECK_NEAR(ts, mac.precision, 2.15 / 3); CHECK_NEAR(ts, mac.recall, 1.75 / 3); CHECK_NEAR(ts, mac.f1, 1.75 / 3);
  CHECK_NEAR(ts, wt.precision, 0.72); CHECK_NEAR(ts, wt.recall, 0.6); CHECK_NEAR(ts, wt.f1, 0.6);
  CHECK_INT(ts, mac.support, 10); CHECK_INT(ts, wt.support, 10);

  const char *labels[] = {"cat", "dog", "bird"};
  char *text = capture(snt_report_print, &c, labels);
  CHECK_STR(ts, text,
            "              precision    recall  f1-score   support\n"
            "\n"
            "         cat     0.7500    0.7500    0.7500         4\n"
            "         dog     0.4000    0.6667    0.5000         3\n"
            "        bird     1.0000    0.3333    0.5000         3\n"
            "\n"
            "    accuracy                         0.6000        10\n"
            "   macro avg     0.7167    0.5833    0.5833        10\n"
            "weighted avg     0.7200    0.6000    0.6000        10\n");
  free(text);

  text = capture(snt_confusion_print, &c, labels);
  CHECK_STR(ts, text,
            "true \\ pred  cat  dog  bird\n"
            "cat            3    1     0\n"
            "dog            1    2     0\n"
            "bird           0    2     1\n");
  free(text);
  snt_confusion_free(&c);
}

/* Four classes, 13 samples; class 2 is never predicted, class 3 never occurs but is
 * predicted once. Rows [5 1 0 0], [0 3 0 1], [2 1 0 0], [0 0 0 0]; supports 6, 4, 3, 0;
 * predicted 7, 5, 0, 1.
 *   class 0: P = 5/7, R = 5/6, F1 = 10/13      class 1: P = 3/5, R = 3/4, F1 = 6/9
 *   class 2: P = 0/0 -> 0, R = 0/3, F1 = 0     class 3: P = 0/1, R = 0/0 -> 0, F1 = 0
 *   accuracy 8/13; macro over all four: P = (5/7 + .6)/4, R = (5/6 + .75)/4, F1 = (10/13 + 2/3)/4
 *   weighted: P = (6*5/7 + 4*.6)/13, R = 8/13, F1 = (6*10/13 + 4*2/3)/13 */
/* Three classes present, a fourth with no samples and no predictions (a label without a data
 * folder): rows [2 0 0 0], [1 1 0 0], [0 0 1 0], [0 0 0 0].
 *   class 0: P = 2/3, R = 1, F1 = 4/5; class 1: P = 1, R = 1/2, F1 = 2/3; class 2: P = R = F1 = 1
 *   macro over the three present: P = (2/3 + 1 + 1)/3 = 0.8889, R = 2.5/3 = 0.8333,
 *   F1 = (0.8 + 2/3 + 1)/3 = 0.8222; the absent class is no row and no part of the average. */
static void absent_class(test_state *ts) {
  const int truth[] = {0, 0, 1, 1, 2}, pred[] = {0, 0, 0, 1, 2};
  snt_confusion c = build(ts, 4, 5, truth, pred);
  snt_class_stats mac;
  snt_report_stats(&c, NULL, &mac, NULL, NULL);
  CHECK_NEAR(ts, mac.precision, (2.0 / 3 + 2) / 3);
  CHECK_NEAR(ts, mac.recall, 2.5 / 3);
  CHECK_NEAR(ts, mac.f1, (0.8 + 2.0 / 3 + 1) / 3);
  CHECK(ts, !snt_report_class_present(&c, 3));
  const char *labels[] = {"COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"};
  char *text = capture(snt_report_print, &c, labels);
  CHECK_STR(ts, text,
            "                 precision    recall  f1-score   support\n"
            "\n"
            "          COVID     0.6667    1.0000    0.8000         2\n"
            "         Normal     1.0000    0.5000    0.6667         2\n"
            "Viral Pneumonia     1.0000    1.0000    1.0000         1\n"
            "\n"
            "       accuracy                         0.8000         5\n"
            "      macro avg     0.8889    0.8333    0.8222         5\n"
            "   weighted avg     0.8667    0.8000    0.7867         5\n"
            "\n(no samples and no predictions, left out as sklearn does: Lung_Opacity)\n");
  free(text);
  snt_confusion_free(&c);
}

static void four_classes(test_state *ts) {
  const int truth[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2}, pred[] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 3, 0, 0, 1};
  snt_confusion c = build(ts, 4, 13, truth, pred);
  snt_class_stats k[4], mac, wt;
  double acc;
  snt_report_stats(&c, k, &mac, &wt, &acc);
  CHECK_NEAR(ts, k[0].precision, 5.0 / 7); CHECK_NEAR(ts, k[0].recall, 5.0 / 6); CHECK_NEAR(ts, k[0].f1, 10.0 / 13);
  CHECK_NEAR(ts, k[2].precision, 0); CHECK_NEAR(ts, k[2].recall, 0); CHECK_NEAR(ts, k[2].f1, 0);
  CHECK_NEAR(ts, k[3].precision, 0); CHECK_NEAR(ts, k[3].recall, 0); CHECK_NEAR(ts, k[3].f1, 0);
  CHECK_INT(ts, k[3].support, 0);
  CHECK_NEAR(ts, acc, 8.0 / 13);
  CHECK_NEAR(ts, mac.precision, (5.0 / 7 + 0.6) / 4);
  CHECK_NEAR(ts, mac.recall, (5.0 / 6 + 0.75) / 4);
  CHECK_NEAR(ts, mac.f1, (10.0 / 13 + 2.0 / 3) / 4);
  CHECK_NEAR(ts, wt.precision, (6 * 5.0 / 7 + 4 * 0.6) / 13);
  CHECK_NEAR(ts, wt.recall, 8.0 / 13);
  CHECK_NEAR(ts, wt.f1, (6 * 10.0 / 13 + 4 * 2.0 / 3) / 13);

  const char *labels[] = {"COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"};
  char *text = capture(snt_report_print, &c, labels);
  /* 0.328571 0.395833 0.358974 / 0.514286 0.615385 0.560158 rounded to 4 places. */
  CHECK_STR(ts, text,
            "                 precision    recall  f1-score   support\n"
            "\n"
            "          COVID     0.7143    0.8333    0.7692         6\n"
            "         Normal     0.6000    0.7500    0.6667         4\n"
            "Viral Pneumonia     0.0000    0.0000    0.0000         3\n"
            "   Lung_Opacity     0.0000    0.0000    0.0000         0\n"
            "\n"
            "       accuracy                         0.6154        13\n"
            "      macro avg     0.3286    0.3958    0.3590        13\n"
            "   weighted avg     0.5143    0.6154    0.5602        13\n");
  free(text);

  /* No labels: the class numbers, in columns as wide as their widest count. */
  text = capture(snt_confusion_print, &c, NULL);
  CHECK_STR(ts, text,
            "true \\ pred  0  1  2  3\n"
            "0            5  1  0  0\n"
            "1            0  3  0  1\n"
            "2            2  1  0  0\n"
            "3            0  0  0  0\n");
  free(text);
  snt_confusion_free(&c);
}

static void edge_cases(test_state *ts) {
  /* No samples: every ratio is 0, not NaN. */
  snt_confusion c = build(ts, 2, 0, NULL, NULL);
  snt_class_stats k[2], mac, wt;
  double acc = -1;
  snt_report_stats(&c, k, &mac, &wt, &acc);
  CHECK(ts, acc == 0 && mac.f1 == 0 && wt.precision == 0 && k[1].recall == 0);
  snt_confusion_free(&c);

  const int truth[] = {0, 2}, pred[] = {0, 1};
  snt_err e = {{0}};
  CHECK_INT(ts, snt_confusion_build(2, 2, truth, pred, &c, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "sample 1") != NULL);
  CHECK(ts, c.m == NULL && c.n == 0);
  CHECK_INT(ts, snt_confusion_build(0, 0, NULL, NULL, &c, &e), SNT_ERR_INPUT);
}

static void history_round_trip(test_state *ts) {
  char path[512];
  snprintf(path, sizeof path, "%s/report_history.csv", SINTER_TEST_TMP);
  const snt_history_row rows[3] = {
      {.epoch = 0, .loss = 1.3862943611, .accuracy = 0.25, .val_loss = NAN, .val_accuracy = NAN, .lr = 1e-3},
      {.epoch = 1, .loss = 0.9, .accuracy = 0.6123456789, .val_loss = 0.95, .val_accuracy = 0.58, .lr = 5e-4},
      {.epoch = 2, .loss = 0.7, .accuracy = 0.7, .val_loss = 0.8, .val_accuracy = 0.66, .lr = 2.5e-4}};
  snt_err e = {{0}};
  CHECK_INT(ts, snt_history_write(path, 3, rows, &e), SNT_OK);

  /* The bytes: Keras CSVLogger's header and %.6g numbers. */
  FILE *f = fopen(path, "rb");
  char text[512] = {0};
  if (f) {
    size_t got = fread(text, 1, sizeof text - 1, f);
    text[got] = '\0';
    fclose(f);
  }
  CHECK_STR(ts, text,
            "epoch,loss,accuracy,val_loss,val_accuracy,lr\n"
            "0,1.38629,0.25,nan,nan,0.001\n"
            "1,0.9,0.612346,0.95,0.58,0.0005\n"
            "2,0.7,0.7,0.8,0.66,0.00025\n");

  snt_history_row *back = NULL;
  int n = 0;
  CHECK_INT(ts, snt_history_read(path, &back, &n, &e), SNT_OK);
  CHECK_INT(ts, n, 3);
  for (int i = 0; i < n && i < 3; i++) {
    CHECK_INT(ts, back[i].epoch, rows[i].epoch);
    CHECK_INT(ts, back[i].skipped, 0);
    CHECK(ts, fabs(back[i].lr - rows[i].lr) <= 1e-6 * rows[i].lr);
    CHECK(ts, fabs(back[i].loss - rows[i].loss) <= 1e-5 * rows[i].loss);
  }
  if (n == 3) {
    CHECK(ts, isnan(back[0].val_loss) && isnan(back[0].val_accuracy));
    CHECK(ts, back[1].accuracy == 0.612346);
  }
  free(back);

  /* A skipped count adds its column, and comes back. */
  snt_history_row one = rows[2];
  one.skipped = 3;
  CHECK_INT(ts, snt_history_write(path, 1, &one, &e), SNT_OK);
  CHECK_INT(ts, snt_history_read(path, &back, &n, &e), SNT_OK);
  CHECK_INT(ts, n, 1);
  if (n == 1) CHECK_INT(ts, back[0].skipped, 3);
  free(back);

  /* Keras's own CSVLogger sorts its columns and may miss some: found by name. */
  f = fopen(path, "wb");
  if (f) {
    fputs("epoch,accuracy,loss,val_accuracy,val_loss\r\n4,0.5,1.25,0.4,1.5\r\n", f);
    fclose(f);
  }
  CHECK_INT(ts, snt_history_read(path, &back, &n, &e), SNT_OK);
  CHECK_INT(ts, n, 1);
  if (n == 1)
    CHECK(ts, back[0].epoch == 4 && back[0].accuracy == 0.5 && back[0].loss == 1.25 && back[0].val_accuracy == 0.4 &&
                  back[0].val_loss == 1.5 && isnan(back[0].lr));
  free(back);

  /* Damage is reported with the line, not read as zeros. */
  f = fopen(path, "wb");
  if (f) {
    fputs("epoch,loss,accuracy,val_loss,val_accuracy,lr\n0,0.5,0.5,0.5,0.5,0.001\n1,0.4x,0.5,0.5,0.5,0.001\n", f);
    fclose(f);
  }
  back = NULL;
  CHECK_INT(ts, snt_history_read(path, &back, &n, &e), SNT_ERR_INPUT);
  CHECK(ts, back == NULL && strstr(e.msg, ":3:") != NULL && strstr(e.msg, "0.4x") != NULL);
}

int main(void) {
  test_state ts = {0};
  three_classes(&ts);
  four_classes(&ts);
  absent_class(&ts);
  edge_cases(&ts);
  history_round_trip(&ts);
  return test_report("report_metrics", &ts);
}
