/* The data folder of train, evaluate and data: scanned against the model's labels, split. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/train/train_int.h"
#include "sinter/file.h"

int snt_tr_parse_split(const char *s, double out[3]) {
  char *end;
  for (int i = 0; i < 3; i++) {
    out[i] = strtod(s, &end);
    if (end == s || (i < 2 && *end != ',') || (i == 2 && *end)) return -1;
    s = end + 1;
  }
  return 0;
}

int snt_tr_data_open(const snt_model_info *info, const char *dir, const double fractions[3], uint64_t seed,
                     snt_tr_data *out) {
  memset(out, 0, sizeof *out);
  snt_err e;
  if (snt_data_scan(dir, info->n_labels, (const char *const *)info->labels, &out->ds, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  for (int i = 0; i < out->ds.n_warnings; i++) fprintf(stderr, "warning: %s\n", out->ds.warnings[i]);
  if (snt_data_split(&out->ds, fractions, seed, &out->split, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    snt_dataset_free(&out->ds);
    return 1;
  }
  memcpy(out->fractions, fractions, sizeof out->fractions);
  out->seed = seed;
  return 0;
}

void snt_tr_data_close(snt_tr_data *d) {
  snt_split_free(&d->split);
  snt_dataset_free(&d->ds);
}

int snt_tr_mkdir_p(const char *dir) {
  return snt_file_mkdir_p(dir, NULL) == SNT_OK ? 0 : -1; /* errno stays set for the caller's message */
}
