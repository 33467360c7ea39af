/* evaluate's clinical metrics: per-class one-vs-rest ROC AUC, the macro AUC, sensitivity and
 * specificity at the argmax decision or at --threshold CLASS=P, the ROC picture and points,
 * and the per-image probabilities of --predictions. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/train/train_int.h"
#include "sinter/report.h"

/* The class named exactly `name` among the model's labels, or -1. */
static int class_index(const snt_model_info *info, const char *name, size_t len) {
  for (int k = 0; k < info->n_labels; k++)
    if (strlen(info->labels[k]) == len && memcmp(info->labels[k], name, len) == 0) return k;
  return -1;
}

static void list_classes(const snt_model_info *info) {
  for (int k = 0; k < info->n_labels; k++) fprintf(stderr, "%s'%s'", k ? ", " : "", info->labels[k]);
}

/* CLASS=P, split at the last '=' (a class name may hold one). */
static int parse_one(const snt_model_info *info, const char *arg, snt_tr_threshold *out) {
  const char *eq = strrchr(arg, '=');
  if (!eq || eq == arg) {
    fprintf(stderr, "%s evaluate: --threshold: '%s' is not CLASS=P (a class name, '=', a probability)\n", info->name, arg);
    return 1;
  }
  out->cls = class_index(info, arg, (size_t)(eq - arg));
  if (out->cls < 0) {
    fprintf(stderr, "%s evaluate: --threshold: unknown class '%.*s' (the classes: ", info->name, (int)(eq - arg), arg);
    list_classes(info);
    fprintf(stderr, ")\n");
    return 1;
  }
  char *end = NULL;
  errno = 0;
  out->p = strtod(eq + 1, &end);
  if (!eq[1] || *end || errno == ERANGE || !isfinite(out->p)) {
    fprintf(stderr, "%s evaluate: --threshold: '%s' is not a finite number\n", info->name, eq + 1);
    return 1;
  }
  if (out->p < 0 || out->p > 1) {
    fprintf(stderr, "%s evaluate: --threshold: %s is out of range (0 to 1)\n", info->name, eq + 1);
    return 1;
  }
  return 0;
}

int snt_tr_parse_thresholds(const snt_model_info *info, const snt_opt_list *args, snt_tr_threshold *out) {
  for (int i = 0; i < args->n; i++)
    if (parse_one(info, args->v[i], &out[i])) return SNT_EXIT_USER;
  return 0;
}

/* A rate with 4 decimals, or "n/a" when its denominator was 0. */
static void rate_text(double v, char buf[32]) {
  if (isnan(v)) snprintf(buf, 32, "n/a");
  else snprintf(buf, 32, "%.4f", v);
}

static void put_rate(double v) {
  char buf[32];
  rate_text(v, buf);
  printf("  %11s", buf);
}

/* Why class k's AUC is not defined. */
static const char *why_na(const snt_roc *r) {
  return r->pos == 0 ? "no image of this class in the evaluated set"
                     : "every evaluated image is of this class (no negatives)";
}

static void print_table(const snt_dataset *ds, const snt_confusion *c, const snt_roc *rocs) {
  int width = (int)strlen("class");
  for (int k = 0; k < ds->n_classes; k++)
    if ((int)strlen(ds->labels[k]) > width) width = (int)strlen(ds->labels[k]);
  printf("\nclinical metrics (each class against the rest; sensitivity and specificity at the argmax decision)\n");
  printf("%-*s  %12s  %11s  %11s  %7s %7s %7s %7s\n", width, "class", "AUC", "sensitivity", "specificity", "TP", "FN",
         "FP", "TN");
  double sum = 0;
  int defined = 0;
  for (int k = 0; k < ds->n_classes; k++) {
    snt_binary_counts b = snt_confusion_binary(c, k);
    printf("%-*s  ", width, ds->labels[k]);
    if (isnan(rocs[k].auc)) printf("%12s", "n/a");
    else printf("%12.10f", rocs[k].auc), sum += rocs[k].auc, defined++;
    put_rate(snt_sensitivity(b));
    put_rate(snt_specificity(b));
    printf("  %7lld %7lld %7lld %7lld\n", (long long)b.tp, (long long)b.fn, (long long)b.fp, (long long)b.tn);
  }
  if (defined)
    printf("macro AUC: %.10f (the mean over the %d of %d classes where AUC is defined)\n", sum / defined, defined,
           ds->n_classes);
  else
    printf("macro AUC: n/a (AUC is defined for no class)\n");
  for (int k = 0; k < ds->n_classes; k++)
    if (isnan(rocs[k].auc)) printf("AUC n/a for %s: %s\n", ds->labels[k], why_na(&rocs[k]));
}

static void print_threshold(const snt_tr_eval *ev, const snt_dataset *ds, const snt_tr_threshold *t) {
  snt_binary_counts b = snt_threshold_counts(ev->n, ev->probs, ev->classes, ev->truth, t->cls, t->p);
  char se[32], sp[32];
  rate_text(snt_sensitivity(b), se);
  rate_text(snt_specificity(b), sp);
  printf("%s vs rest, called at probability >= %.9g: TP %lld FN %lld FP %lld TN %lld, sensitivity %s, specificity %s\n",
         ds->labels[t->cls], t->p, (long long)b.tp, (long long)b.fn, (long long)b.fp, (long long)b.tn, se, sp);
}

static int write_predictions(const snt_tr_eval *ev, const snt_dataset *ds, const char *path) {
  const char **paths = malloc(sizeof(char *) * (size_t)(ev->n + 1));
  if (!paths) return fprintf(stderr, "%s: out of memory for the list of %lld paths\n", path, (long long)ev->n), 2;
  for (int64_t i = 0; i < ev->n; i++) paths[i] = ds->paths[ev->item[i]];
  snt_err e;
  snt_status st = snt_predictions_write(path, ev->n, paths, ev->truth, ds->n_classes, (const char *const *)ds->labels,
                                        ev->probs, &e);
  free(paths);
  if (st != SNT_OK) return fprintf(stderr, "%s\n", e.msg), 1;
  printf("wrote %s\n", path);
  return 0;
}

/* roc.png and roc.csv into dir. */
static int write_roc(const snt_dataset *ds, const snt_roc *rocs, const char *dir) {
  char path[4200];
  snt_err e;
  const char *const *labels = (const char *const *)ds->labels;
  snprintf(path, sizeof path, "%s/roc.png", dir);
  if (snt_plot_roc(path, ds->n_classes, labels, rocs, &e) != SNT_OK) return fprintf(stderr, "%s\n", e.msg), 1;
  printf("wrote %s\n", path);
  snprintf(path, sizeof path, "%s/roc.csv", dir);
  if (snt_roc_write(path, ds->n_classes, labels, rocs, &e) != SNT_OK) return fprintf(stderr, "%s\n", e.msg), 1;
  printf("wrote %s\n", path);
  return 0;
}

int snt_tr_clinical(const snt_tr_eval *ev, const snt_dataset *ds, const snt_confusion *c, const snt_tr_clinical_opts *o) {
  if (ev->classes != ds->n_classes || c->n != ds->n_classes) {
    fprintf(stderr, "evaluate: the model gives %d probabilities for %d classes\n", ev->classes, ds->n_classes);
    return 2;
  }
  snt_roc *rocs = calloc((size_t)ds->n_classes, sizeof *rocs);
  if (!rocs) return fprintf(stderr, "evaluate: out of memory for %d ROC curves\n", ds->n_classes), 2;
  int rc = 0;
  for (int k = 0; k < ds->n_classes && !rc; k++) {
    snt_err e;
    if (snt_roc_build(ev->n, ev->probs, ev->classes, ev->truth, k, &rocs[k], &e) != SNT_OK)
      rc = (fprintf(stderr, "%s\n", e.msg), 2);
  }
  if (!rc) {
    print_table(ds, c, rocs);
    for (int i = 0; i < o->n_thresholds; i++) print_threshold(ev, ds, &o->thresholds[i]);
    printf("\n");
    rc = write_roc(ds, rocs, o->dir);
  }
  if (!rc && o->predictions) rc = write_predictions(ev, ds, o->predictions);
  for (int k = 0; k < ds->n_classes; k++) snt_roc_free(&rocs[k]);
  free(rocs);
  return rc;
}
