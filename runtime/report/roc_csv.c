/* evaluate's per-image predictions and ROC points as CSV (RFC 4180), written atomically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/file.h"
#include "sinter/report.h"

/* A field as RFC 4180 has it: quoted, with quotes doubled, when it holds a comma, a quote,
 * CR or LF (paths and class names are untrusted and may hold any of them). */
static void put_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void put_label(FILE *f, const char *const *labels, int k) {
  char buf[16];
  if (labels && labels[k]) put_field(f, labels[k]);
  else snprintf(buf, sizeof buf, "%d", k), fputs(buf, f);
}

/* Closes the memory stream (which sets *buf and *len) and writes what it holds to path
 * atomically. */
static snt_status finish(FILE *f, char **buf, size_t *len, const char *path, snt_err *e) {
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    free(*buf);
    return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for the CSV text", path);
  }
  snt_status st = snt_file_write_atomic(path, *buf, *len, e);
  free(*buf);
  return st;
}

snt_status snt_predictions_write(const char *path, int64_t n, const char *const *paths, const int *truth,
                                 int n_classes, const char *const *labels, const float *probs, snt_err *e) {
  if (!path || n < 0 || n_classes < 1 || (n > 0 && (!paths || !truth || !probs)))
    return snt_err_set(e, SNT_ERR_INTERNAL, "predictions: bad arguments (%lld rows, %d classes)", (long long)n, n_classes);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for the predictions", path);
  fputs("path,true_class", f);
  for (int k = 0; k < n_classes; k++) fputc(',', f), put_label(f, labels, k);
  fputs("\r\n", f);
  for (int64_t i = 0; i < n; i++) {
    put_field(f, paths[i]);
    fputc(',', f);
    put_label(f, labels, truth[i]);
    /* %.9g: every float32 reads back as the same float. */
    for (int k = 0; k < n_classes; k++) fprintf(f, ",%.9g", probs[i * n_classes + k]);
    fputs("\r\n", f);
  }
  return finish(f, &buf, &len, path, e);
}

snt_status snt_roc_write(const char *path, int n_classes, const char *const *labels, const snt_roc *rocs, snt_err *e) {
  if (!path || n_classes < 1 || !rocs)
    return snt_err_set(e, SNT_ERR_INTERNAL, "ROC points: bad arguments (%d classes)", n_classes);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for the ROC points", path);
  fputs("class,threshold,fpr,tpr\r\n", f);
  for (int k = 0; k < n_classes; k++)
    for (int i = 0; !isnan(rocs[k].auc) && i < rocs[k].n; i++) {
      put_label(f, labels, k);
      if (isinf(rocs[k].thr[i])) fputs(",inf", f);
      else fprintf(f, ",%.9g", rocs[k].thr[i]);
      fprintf(f, ",%.17g,%.17g\r\n", rocs[k].fpr[i], rocs[k].tpr[i]);
    }
  return finish(f, &buf, &len, path, e);
}
