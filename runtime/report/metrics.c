/* The confusion matrix and sklearn's classification report, as numbers and as text. */
#include <stdlib.h>
#include <string.h>

#include "sinter/report.h"

snt_status snt_confusion_build(int n_classes, int64_t n_samples, const int *truth, const int *pred,
                               snt_confusion *out, snt_err *e) {
  if (!out) return snt_err_set(e, SNT_ERR_INTERNAL, "confusion: no output given");
  *out = (snt_confusion){0};
  if (n_classes < 1 || n_classes > 65536)
    return snt_err_set(e, SNT_ERR_INPUT, "confusion: %d classes", n_classes);
  if (n_samples < 0 || (n_samples > 0 && (!truth || !pred)))
    return snt_err_set(e, SNT_ERR_INPUT, "confusion: %lld samples without labels", (long long)n_samples);
  int64_t *m = calloc((size_t)n_classes * n_classes, sizeof *m);
  if (!m) return snt_err_set(e, SNT_ERR_NOMEM, "confusion: out of memory for %d classes", n_classes);
  for (int64_t i = 0; i < n_samples; i++) {
    int t = truth[i], p = pred[i];
    if (t < 0 || t >= n_classes || p < 0 || p >= n_classes) {
      free(m);
      return snt_err_set(e, SNT_ERR_INPUT, "confusion: sample %lld has true class %d and prediction %d, not in 0..%d",
                         (long long)i, t, p, n_classes - 1);
    }
    m[(size_t)t * n_classes + p]++;
  }
  *out = (snt_confusion){.n = n_classes, .m = m};
  return SNT_OK;
}

void snt_confusion_free(snt_confusion *c) {
  if (!c) return;
  free(c->m);
  *c = (snt_confusion){0};
}

static double ratio(int64_t num, int64_t den) { return den > 0 ? (double)num / (double)den : 0.0; }

/* Class k's precision, recall and F1; zero_division=0 for each ratio. */
static snt_class_stats class_stats(const snt_confusion *c, int k) {
  int64_t tp = c->m[(size_t)k * c->n + k], predicted = 0, support = 0;
  for (int j = 0; j < c->n; j++) {
    predicted += c->m[(size_t)j * c->n + k];
    support += c->m[(size_t)k * c->n + j];
  }
  /* F1 as 2tp / (2tp + fp + fn), sklearn's form: equal to 2PR / (P + R) when that is defined
   * and 0 (not NaN) when precision and recall are both 0. */
  return (snt_class_stats){.precision = ratio(tp, predicted),
                           .recall = ratio(tp, support),
                           .f1 = ratio(2 * tp, predicted + support),
                           .support = support};
}

bool snt_report_class_present(const snt_confusion *c, int k) {
  for (int j = 0; j < c->n; j++)
    if (c->m[(size_t)k * c->n + j] || c->m[(size_t)j * c->n + k]) return true;
  return false;
}

void snt_report_stats(const snt_confusion *c, snt_class_stats *per_class, snt_class_stats *macro,
                      snt_class_stats *weighted, double *accuracy) {
  snt_class_stats mac = {0}, wt = {0};
  int64_t trace = 0;
  int present = 0;
  for (int k = 0; k < c->n; k++) {
    snt_class_stats s = class_stats(c, k);
    if (per_class) per_class[k] = s;
    trace += c->m[(size_t)k * c->n + k];
    if (!snt_report_class_present(c, k)) continue;
    present++;
    mac.precision += s.precision, mac.recall += s.recall, mac.f1 += s.f1;
    wt.precision += s.precision * s.support, wt.recall += s.recall * s.support, wt.f1 += s.f1 * s.support;
    wt.support += s.support;
  }
  if (present) mac.precision /= present, mac.recall /= present, mac.f1 /= present;
  mac.support = wt.support;
  if (wt.support > 0) wt.precision /= wt.support, wt.recall /= wt.support, wt.f1 /= wt.support;
  if (macro) *macro = mac;
  if (weighted) *weighted = wt;
  if (accuracy) *accuracy = ratio(trace, wt.support);
}

/* labels[k], or the class number written into buf. */
static const char *label_of(const char *const *labels, int k, char buf[16]) {
  if (labels && labels[k]) return labels[k];
  snprintf(buf, 16, "%d", k);
  return buf;
}

static void stats_row(FILE *f, int width, const char *name, snt_class_stats s) {
  fprintf(f, "%*s  %9.4f %9.4f %9.4f %9lld\n", width, name, s.precision, s.recall, s.f1, (long long)s.support);
}

/* The layout of sklearn's classification_report: names right-aligned to the widest of them
 * and "weighted avg", then columns of width 9 each after a space. */
void snt_report_print(FILE *f, const snt_confusion *c, const char *const *labels) {
  char buf[16];
  int width = (int)strlen("weighted avg");
  for (int k = 0; k < c->n; k++) {
    int len = (int)strlen(label_of(labels, k, buf));
    if (len > width) width = len;
  }
  fprintf(f, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support");
  for (int k = 0; k < c->n; k++)
    if (snt_report_class_present(c, k)) stats_row(f, width, label_of(labels, k, buf), class_stats(c, k));
  snt_class_stats macro, weighted;
  double accuracy;
  snt_report_stats(c, NULL, &macro, &weighted, &accuracy);
  fprintf(f, "\n%*s  %9s %9s %9.4f %9lld\n", width, "accuracy", "", "", accuracy, (long long)macro.support);
  stats_row(f, width, "macro avg", macro);
  stats_row(f, width, "weighted avg", weighted);
  bool first = true;
  for (int k = 0; k < c->n; k++)
    if (!snt_report_class_present(c, k)) {
      fprintf(f, "%s%s", first ? "\n(no samples and no predictions, left out as sklearn does: " : ", ", label_of(labels, k, buf));
      first = false;
    }
  if (!first) fprintf(f, ")\n");
}

static int digits_of(int64_t v) {
  int d = 1;
  for (; v >= 10; v /= 10) d++;
  return d;
}

/* Each column is as wide as its header, or its largest count when that is wider. */
static int column_width(const snt_confusion *c, const char *const *labels, int p) {
  char buf[16];
  int w = (int)strlen(label_of(labels, p, buf));
  for (int t = 0; t < c->n; t++) {
    int d = digits_of(c->m[(size_t)t * c->n + p]);
    if (d > w) w = d;
  }
  return w;
}

void snt_confusion_print(FILE *f, const snt_confusion *c, const char *const *labels) {
  static const char corner[] = "true \\ pred";
  char buf[16];
  int first = (int)strlen(corner);
  for (int k = 0; k < c->n; k++) {
    int len = (int)strlen(label_of(labels, k, buf));
    if (len > first) first = len;
  }
  fprintf(f, "%-*s", first, corner);
  for (int p = 0; p < c->n; p++) fprintf(f, "  %*s", column_width(c, labels, p), label_of(labels, p, buf));
  fputc('\n', f);
  for (int t = 0; t < c->n; t++) {
    fprintf(f, "%-*s", first, label_of(labels, t, buf));
    for (int p = 0; p < c->n; p++) fprintf(f, "  %*lld", column_width(c, labels, p), (long long)c->m[(size_t)t * c->n + p]);
    fputc('\n', f);
  }
}
