/* EXE data: the data as the notebook looks at it before training: class counts of the whole
 * folder and of each split, the class weights, and a contact sheet of samples per class. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/train/train_int.h"
#include "sinter/report.h"

enum { PER_ROW = 6, TILE = 96 };

int snt_tr_cmd_data(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv) {
  const char *dir = NULL, *out = ".";
  double split[3];
  memcpy(split, t->recipe.split, sizeof split);
  int64_t seed = t->recipe.seed;
  const snt_opt own[] = {
      {.name = "data", 0, SNT_OPT_STRING, &dir, "DIR", "a folder of class folders (required)"},
      {.name = "out", 0, SNT_OPT_STRING, &out, "DIR", "where samples.png goes (default .)"},
      {.name = "seed", 0, SNT_OPT_INT, &seed, "N", "the split's seed", .imin = 0, .imax = INT64_MAX},
      {.name = "split", 0, SNT_OPT_DOUBLES, split, "A,B,C", "train, val and test fractions", .dmin = 0, .dmax = 1,
       .count = 3},
      {.name = "max-pixels", 0, SNT_OPT_INT, &c->max_pixels, "N", "the largest image decoded", .imin = 1,
       .imax = SNT_IMAGE_MAX_PIXELS},
      {NULL}};
  int n_pos = 0;
  int prc = snt_tr_parse(info, "data", own, c, argc, argv, NULL, 0, &n_pos);
  if (prc) return prc;
  if (!dir) return fprintf(stderr, "%s data: needs --data DIR\n", info->name), 1;
  snt_tr_data d;
  if (snt_tr_data_open(info, dir, split, (uint64_t)seed, &d)) return 1;
  int n = d.ds.n_classes;
  double *cw = calloc((size_t)n + 1, sizeof *cw);
  int64_t *per = calloc((size_t)n * 3 + 1, sizeof *per);
  const snt_image **tiles = calloc((size_t)n * PER_ROW + 1, sizeof *tiles);
  snt_image *imgs = calloc((size_t)n * PER_ROW + 1, sizeof *imgs);
  int rc = cw && per && tiles && imgs ? 0 : SNT_EXIT_INTERNAL;
  if (rc)
    fprintf(stderr, "%s data: out of memory: cannot allocate the tables for %d classes (%zu bytes)\n", info->name, n,
            ((size_t)n + 1) * sizeof *cw + ((size_t)n * 3 + 1) * sizeof *per + ((size_t)n * PER_ROW + 1) * (sizeof *tiles + sizeof *imgs));
  if (!rc) {
    snt_data_class_weights(&d.ds, &d.split, cw);
    const int *lists[3] = {d.split.train, d.split.val, d.split.test};
    int counts[3] = {d.split.n_train, d.split.n_val, d.split.n_test};
    for (int k = 0; k < 3; k++)
      for (int i = 0; i < counts[k]; i++) per[k * n + d.ds.label[lists[k][i]]]++;
    printf("%s: %d images; split %g/%g/%g, seed %lld\n\n", dir, d.ds.n_items, split[0], split[1], split[2], (long long)seed);
    printf("%-18s %7s %7s %7s %7s %14s\n", "class", "all", "train", "val", "test", "class weight");
    for (int c = 0; c < n; c++)
      printf("%-18s %7lld %7lld %7lld %7lld %14.4f\n", d.ds.labels[c], (long long)d.ds.counts[c], (long long)per[c],
             (long long)per[n + c], (long long)per[2 * n + c], cw[c]);
    printf("%-18s %7d %7d %7d %7d\n", "total", d.ds.n_items, d.split.n_train, d.split.n_val, d.split.n_test);
    /* The first images of each class, in file order, as the model sees them: gray for a
     * 1-channel model, else colour (the alpha of a 4-channel model is not shown). */
    const snt_model_io *in = &info->inputs[0];
    snt_image_opts io = {.channels = in->rank == 4 && in->dims[info->pre.nhwc ? 3 : 1] == 1 ? 1 : 3,
                         .max_pixels = c->max_pixels, .window = c->window};
    int *used = calloc((size_t)n + 1, sizeof *used);
    for (int i = 0; used && i < d.ds.n_items; i++) {
      int c = d.ds.label[i];
      if (used[c] >= PER_ROW) continue;
      snt_err e;
      snt_image *img = &imgs[c * PER_ROW + used[c]];
      if (snt_image_load_opts(d.ds.paths[i], &io, img, &e) == SNT_OK) tiles[c * PER_ROW + used[c]++] = img;
      else fprintf(stderr, "warning: %s\n", e.msg);
    }
    free(used);
    char path[4200];
    snprintf(path, sizeof path, "%s/samples.png", out);
    snt_err e;
    if (snt_tr_mkdir_p(out)) {
      fprintf(stderr, "%s: cannot create: %s\n", out, strerror(errno));
      rc = 1;
    } else if (snt_plot_contact_sheet(path, n, (const char *const *)d.ds.labels, PER_ROW, tiles, TILE, &e) != SNT_OK) {
      fprintf(stderr, "%s\n", e.msg);
      rc = 1;
    } else {
      printf("\nwrote %s (the first %d images of each class)\n", path, PER_ROW);
    }
  }
  for (int i = 0; imgs && i < n * PER_ROW; i++) snt_image_free(&imgs[i]);
  free(imgs);
  free(tiles);
  free(per);
  free(cw);
  snt_tr_data_close(&d);
  return rc;
}
