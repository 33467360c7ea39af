/* Clinical metrics of one class against the rest: the ROC curve and its area (as sklearn's
 * roc_curve and roc_auc_score compute them), and sensitivity and specificity at a decision. */
#include <math.h>
#include <stdlib.h>

#include "sinter/report.h"

typedef struct scored {
  float s;
  int pos;
} scored;

/* Highest score first; equal scores in any order (they form one threshold). */
static int by_score_desc(const void *a, const void *b) {
  float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
  return (x < y) - (x > y);
}

void snt_roc_free(snt_roc *r) {
  if (!r) return;
  free(r->fpr);
  free(r->tpr);
  free(r->thr);
  *r = (snt_roc){.auc = NAN};
}

/* Sorted (score, is positive) pairs of class k's column; counts positives and negatives. */
static snt_status collect(int64_t n, const float *scores, int64_t stride, const int *truth, int k, scored *v,
                          snt_roc *r, snt_err *e) {
  for (int64_t i = 0; i < n; i++) {
    float s = scores[i * stride + k];
    if (!isfinite(s))
      return snt_err_set(e, SNT_ERR_INPUT, "ROC: sample %lld has a non-finite score for class %d", (long long)i, k);
    v[i] = (scored){s, truth[i] == k};
    r->pos += v[i].pos;
  }
  r->neg = n - r->pos;
  qsort(v, (size_t)n, sizeof *v, by_score_desc);
  return SNT_OK;
}

/* One point per distinct score (all samples at or above it called positive), after (0, 0).
 * The area is summed in integers, sum of dFP * (TP + TP') over 2 P N, so it is exact up to
 * the final division (sklearn's trapezoids over the same points). */
static void walk(const scored *v, int64_t n, snt_roc *r) {
  int64_t tp = 0, fp = 0;
  uint64_t twice_area = 0;
  r->fpr[0] = 0, r->tpr[0] = 0, r->thr[0] = INFINITY, r->n = 1;
  for (int64_t i = 0; i < n;) {
    int64_t tp0 = tp, fp0 = fp;
    float s = v[i].s;
    for (; i < n && v[i].s == s; i++) tp += v[i].pos, fp += !v[i].pos;
    twice_area += (uint64_t)(fp - fp0) * (uint64_t)(tp + tp0);
    r->fpr[r->n] = r->neg ? (double)fp / (double)r->neg : NAN;
    r->tpr[r->n] = r->pos ? (double)tp / (double)r->pos : NAN;
    r->thr[r->n++] = s;
  }
  r->auc = r->pos && r->neg ? (double)twice_area / (2.0 * (double)r->pos * (double)r->neg) : NAN;
}

snt_status snt_roc_build(int64_t n, const float *scores, int64_t stride, const int *truth, int k, snt_roc *out,
                         snt_err *e) {
  if (!out) return snt_err_set(e, SNT_ERR_INTERNAL, "ROC: no output given");
  *out = (snt_roc){.auc = NAN};
  if (n < 0 || n > INT32_MAX || k < 0 || stride <= k || (n > 0 && (!scores || !truth)))
    return snt_err_set(e, SNT_ERR_INPUT, "ROC: %lld samples of class %d in rows of %lld scores", (long long)n, k,
                       (long long)stride);
  scored *v = malloc(sizeof *v * (size_t)(n + 1));
  out->fpr = malloc(sizeof(double) * (size_t)(n + 1));
  out->tpr = malloc(sizeof(double) * (size_t)(n + 1));
  out->thr = malloc(sizeof(float) * (size_t)(n + 1));
  snt_status st = v && out->fpr && out->tpr && out->thr
                      ? SNT_OK
                      : snt_err_set(e, SNT_ERR_NOMEM, "ROC: out of memory for %lld samples", (long long)n);
  if (st == SNT_OK) st = collect(n, scores, stride, truth, k, v, out, e);
  if (st == SNT_OK) walk(v, n, out);
  free(v);
  if (st != SNT_OK) snt_roc_free(out);
  return st;
}

snt_binary_counts snt_confusion_binary(const snt_confusion *c, int k) {
  snt_binary_counts b = {0};
  for (int t = 0; t < c->n; t++)
    for (int p = 0; p < c->n; p++) {
      int64_t v = c->m[(size_t)t * c->n + p];
      if (t == k) *(p == k ? &b.tp : &b.fn) += v;
      else *(p == k ? &b.fp : &b.tn) += v;
    }
  return b;
}

snt_binary_counts snt_threshold_counts(int64_t n, const float *scores, int64_t stride, const int *truth, int k,
                                       double p) {
  snt_binary_counts b = {0};
  for (int64_t i = 0; i < n; i++) {
    int called = (double)scores[i * stride + k] >= p;
    if (truth[i] == k) *(called ? &b.tp : &b.fn) += 1;
    else *(called ? &b.fp : &b.tn) += 1;
  }
  return b;
}

double snt_sensitivity(snt_binary_counts b) { return b.tp + b.fn ? (double)b.tp / (double)(b.tp + b.fn) : NAN; }

double snt_specificity(snt_binary_counts b) { return b.tn + b.fp ? (double)b.tn / (double)(b.tn + b.fp) : NAN; }
