/* EXE explain IMAGE... -o DIR: a Grad-CAM overlay (PNG) and its numbers (JSON) per image. */
#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/json.h"
#include "runtime/driver/driver.h"
#include "runtime/explain/explain.h"
#include "runtime/explain/gradcam.h"
#include "sinter/file.h"
#include "sinter/image.h"

enum { EXPLAIN_MAX_IMAGES = 100000, OVERLAY_MAX_SIDE = 1024 };

typedef struct explain_opts {
  const char *dir, *cls_name, *layer;
} explain_opts;

static int write_json(const char *path, const snt_model_info *info, const char *image, const char *layer, const char *png,
                      const snt_gradcam_result *r, int classes) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  char buf[32];
  fputs("{\"image\": ", f);
  snt_json_string(f, image);
  fputs(", \"class\": ", f);
  snt_json_string(f, snt_rt_label(info, r->cls, buf, sizeof buf));
  fprintf(f, ", \"class_index\": %d, \"probability\": %.9g, \"probabilities\": {", r->cls, r->probs[r->cls]);
  for (int k = 0; k < classes; k++) {
    fputs(k ? ", " : "", f);
    snt_json_string(f, snt_rt_label(info, k, buf, sizeof buf));
    fprintf(f, ": %.9g", r->probs[k]);
  }
  fputs("}, \"layer\": ", f);
  snt_json_string(f, layer);
  fputs(", \"overlay\": ", f);
  snt_json_string(f, png);
  fprintf(f, ",\n \"map\": {\"height\": %d, \"width\": %d, \"max\": %.9g, \"values\": [", r->h, r->w, r->max);
  for (int64_t i = 0; i < (int64_t)r->h * r->w; i++) fprintf(f, "%s%.9g", i ? (i % r->w ? ", " : ",\n  ") : "\n  ", r->map[i]);
  fputs("]}}\n", f);
  return fclose(f) ? -1 : 0;
}

/* "<dir>/<name of the image without its extension>" made unique among this run's images. */
static void out_stem(const char *dir, const char *image, int index, char **used, char *out, size_t size) {
  const char *base = strrchr(image, '/');
  base = base ? base + 1 : image;
  char stem[256];
  snprintf(stem, sizeof stem, "%s", *base ? base : "image");
  char *dot = strrchr(stem, '.');
  if (dot && dot != stem) *dot = '\0';
  int n = 1;
  for (int i = 0; i < index; i++)
    if (used[i] && strcmp(used[i], stem) == 0) n++;
  used[index] = strdup(stem);
  if (n > 1) snprintf(out, size, "%s/%s-%d", dir, stem, n);
  else snprintf(out, size, "%s/%s", dir, stem);
}

static int explain_one(snt_gradcam *g, const snt_model_info *info, int cls, const snt_rt_common *c,
                       const char *image, const char *stem) {
  snt_image img = {0};
  snt_image_opts io = {.channels = snt_rt_image_channels(info), .max_pixels = c->max_pixels, .window = c->window};
  snt_gradcam_result r = {0};
  snt_err e = {0};
  uint8_t *rgb = NULL;
  int w = 0, h = 0, rc = 0;
  char png[4400], json[4400], caption[300], buf[32];
  if (snt_image_load_opts(image, &io, &img, &e) != SNT_OK || snt_gradcam_run(g, &img, cls, &r, &e)) rc = -1;
  if (!rc) {
    snprintf(caption, sizeof caption, "%.200s %.1f%%", snt_rt_label(info, r.cls, buf, sizeof buf), 100.0 * r.probs[r.cls]);
    rc = snt_gradcam_overlay(&img, &r, caption, OVERLAY_MAX_SIDE, &rgb, &w, &h, &e);
  }
  snprintf(png, sizeof png, "%s.gradcam.png", stem);
  snprintf(json, sizeof json, "%s.gradcam.json", stem);
  if (!rc && snt_image_write_png(png, w, h, 3, rgb, &e) != SNT_OK) rc = -1;
  const char *layer = g->x->layers[g->layer].name;
  if (!rc && write_json(json, info, image, layer, png, &r, g->classes))
    snt_err_set(&e, SNT_ERR_IO, "%s: cannot write: %s", json, strerror(errno)), rc = -1;
  if (rc) fprintf(stderr, "%s: %s\n", image, e.msg);
  else printf("%s: %s %.4f -> %s, %s\n", image, snt_rt_label(info, r.cls, buf, sizeof buf), r.probs[r.cls], png, json);
  free(rgb);
  snt_gradcam_result_free(&r);
  snt_image_free(&img);
  return rc;
}

static int find_class(const snt_model_info *info, const char *name, int classes) {
  if (!name) return -1;
  for (int k = 0; k < info->n_labels && k < classes; k++)
    if (strcmp(info->labels[k], name) == 0) return k;
  fprintf(stderr, "%s explain: --class '%.200s' is not one of the model's labels:", info->name, name);
  for (int k = 0; k < info->n_labels; k++) fprintf(stderr, "%s '%s'", k ? "," : "", info->labels[k]);
  fputc('\n', stderr);
  return -2;
}

/* Parses the options and checks the layer and class: 0, -1 for --help, or an exit code. */
static int parse(const snt_model_info *info, const snt_explain_info *x, snt_rt_common *c, int argc, char **argv,
                 explain_opts *o, char **images, int *n, int *layer, int *cls) {
  const snt_opt own[] = {{.name = "out", 'o', SNT_OPT_STRING, &o->dir, "DIR", "the folder for the overlays and maps"},
                         {.name = "class", 0, SNT_OPT_STRING, &o->cls_name, "NAME", "explain this class (default: the predicted one)"},
                         {.name = "layer", 0, SNT_OPT_STRING, &o->layer, "NAME", "the convolution to look at (default: the last)"},
                         {.name = "max-pixels", 0, SNT_OPT_INT, &c->max_pixels, "N", "the largest image decoded", .imin = 1,
                          .imax = SNT_IMAGE_MAX_PIXELS},
                         {NULL}};
  int rc = snt_rt_parse(info->name, "explain", own, c, argc, argv, images, EXPLAIN_MAX_IMAGES, n);
  if (rc) return rc;
  if (*n < 1 || !o->dir) return fprintf(stderr, "%s explain: needs IMAGE... -o DIR\n", info->name), 1;
  snt_err e = {0};
  if ((*layer = snt_gradcam_find_layer(x, o->layer, &e)) < 0) return fprintf(stderr, "%s explain: %s\n", info->name, e.msg), 1;
  *cls = find_class(info, o->cls_name, (int)x->model->outputs[0].dims[1]);
  if (*cls == -2) return 1;
  if (snt_file_mkdir_p(o->dir, &e) != SNT_OK) return fprintf(stderr, "%s\n", e.msg), 1;
  return 0;
}

int snt_xp_cmd(const snt_model_info *info, const snt_explain_info *x, snt_xp_weights_fn weights, void *ctx, snt_rt_common *c,
               int argc, char **argv) {
  explain_opts o = {0};
  char **images = calloc(EXPLAIN_MAX_IMAGES, sizeof *images);
  int n = 0, layer = -1, cls = -1;
  int rc = images ? parse(info, x, c, argc, argv, &o, images, &n, &layer, &cls) : SNT_EXIT_INTERNAL;
  unsigned char *blob = NULL;
  if (!rc && !(blob = snt_rt_alloc(info->name, x->model->weights_bytes + 64, "the explain model's weights"))) rc = SNT_EXIT_INTERNAL;
  if (!rc) rc = weights(ctx, x, c->weights, blob);
  snt_gradcam g = {0};
  snt_err e = {0};
  int threads = c->threads > 0 ? c->threads : openblas_get_num_procs();
  if (!rc && snt_gradcam_open(&g, info, x, blob, layer, threads, &e))
    fprintf(stderr, "%s explain: %s\n", info->name, e.msg), rc = SNT_EXIT_INTERNAL;
  free(blob);
  char **used = rc ? NULL : calloc((size_t)n, sizeof *used);
  if (!rc && !used) rc = SNT_EXIT_INTERNAL;
  if (!rc) printf("explain: layer '%s'%s\n", x->layers[layer].name, o.layer ? "" : " (the last convolution)");
  int failed = 0;
  for (int i = 0; !rc && i < n; i++) {
    char stem[4200];
    out_stem(o.dir, images[i], i, used, stem, sizeof stem);
    failed += explain_one(&g, info, cls, c, images[i], stem) != 0;
  }
  for (int i = 0; used && i < n; i++) free(used[i]);
  free(used);
  snt_gradcam_close(&g);
  free(images);
  return rc ? rc : failed ? 1 : 0;
}
