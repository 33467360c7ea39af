/* EXE predict IMAGE...: class and confidence per image, batch by batch. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/driver/driver.h"
#include "sinter/image.h"
#include "sinter/onnx_io.h"

typedef struct predict_opts {
  bool json;
  int64_t top;
  const char *save_dir;
  long long max_pixels;
  snt_image_window window; /* --window C,W */
} predict_opts;

/* The channel count of the model's image input (NCHW, or NHWC when compiled with --nhwc). */
static int image_channels(const snt_model_info *info) {
  const snt_model_io *in = &info->inputs[0];
  return (int)in->dims[info->pre.nhwc ? 3 : 1];
}

/* (x * scale - mean[c]) / std[c]. The compiled preprocessing has three means and deviations: a
 * 1-channel model uses the first; a 4-channel model's alpha gets scale alone. */
static float normalise(const snt_model_pre *p, int c, float x) {
  return c < 3 ? (x * p->scale - p->mean[c]) / p->std[c] : x * p->scale;
}
enum { PREDICT_MAX_TOP = 100000 };

/* Decodes, resizes and preprocesses one image into dst (one sample of input 0). */
static int prepare(const snt_model_info *info, const predict_opts *o, const char *path, float *dst, snt_err *e) {
  const snt_model_io *in = &info->inputs[0]; /* sample dims: the same in every instance */
  bool nhwc = info->pre.nhwc;
  int h = (int)in->dims[nhwc ? 1 : 2], w = (int)in->dims[nhwc ? 2 : 3], ch = image_channels(info);
  snt_image img = {0}, sized = {0};
  snt_image_opts io = {.channels = ch, .max_pixels = o->max_pixels, .window = o->window};
  if (snt_image_load_opts(path, &io, &img, e) != SNT_OK) return -1;
  snt_status st = snt_image_resize_bilinear(&img, h, w, &sized, e);
  snt_image_free(&img);
  if (st != SNT_OK) return -1;
  size_t plane = (size_t)h * (size_t)w;
  for (int c = 0; c < ch; c++)
    for (size_t i = 0; i < plane; i++) {
      float v = normalise(&info->pre, c, sized.data[(size_t)c * plane + i]);
      dst[nhwc ? i * (size_t)ch + (size_t)c : (size_t)c * plane + i] = v;
    }
  snt_image_free(&sized);
  return 0;
}

static int cmp_desc(const void *a, const void *b) {
  const float *x = *(const float *const *)a, *y = *(const float *const *)b;
  return (*x < *y) - (*x > *y);
}

static void label(const snt_model_info *info, int k, char *buf, size_t size) {
  if (k < info->n_labels) snprintf(buf, size, "%s", info->labels[k]);
  else snprintf(buf, size, "class %d", k);
}

static void print_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
    else putchar(*s);
  }
  putchar('"');
}

/* An image whose input or output holds NaN or Inf (or a model whose weights do) has no
 * prediction: it is reported invalid, with why. */
static void report_invalid(const predict_opts *o, const char *file, const char *why, bool first) {
  if (o->json) {
    printf("%s  {\"file\": ", first ? "" : ",\n");
    print_json_string(file);
    printf(", \"valid\": false, \"reason\": ");
    print_json_string(why);
    printf(", \"predictions\": []}");
  } else {
    printf("%s: invalid (%s)\n", file, why);
  }
}

static void report(const snt_model_info *info, const predict_opts *o, const char *file, const float *probs, int k,
                   bool first) {
  const float **order = malloc(sizeof(float *) * (size_t)k);
  if (!order) return;
  for (int i = 0; i < k; i++) order[i] = &probs[i];
  qsort(order, (size_t)k, sizeof *order, cmp_desc);
  int top = o->top < k ? (int)o->top : k;
  char name[256];
  if (o->json) {
    printf("%s  {\"file\": ", first ? "" : ",\n");
    print_json_string(file);
    printf(", \"valid\": true, \"predictions\": [");
    for (int i = 0; i < top; i++) {
      label(info, (int)(order[i] - probs), name, sizeof name);
      printf("%s{\"label\": ", i ? ", " : "");
      print_json_string(name);
      printf(", \"confidence\": %.6f}", *order[i]);
    }
    printf("]}");
  } else {
    printf("%s:", file);
    for (int i = 0; i < top; i++) {
      label(info, (int)(order[i] - probs), name, sizeof name);
      printf("%s %s (%.4f)", i ? "," : "", name, *order[i]);
    }
    printf("\n");
  }
  free(order);
}

static int save_input(const snt_model_info *info, const char *dir, int k, const float *x) {
  const snt_model_io *in = &info->inputs[0];
  snt_tensor_buf t = {.dtype = SNT_F32, .rank = in->rank, .data = (void *)x};
  memcpy(t.dims, in->dims, sizeof t.dims);
  t.dims[0] = 1;
  char path[4096];
  snprintf(path, sizeof path, "%s/input_%d.pb", dir, k);
  snt_err e;
  if (snt_onnx_write_tensor_file(path, &t, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return SNT_RT_EXIT_USER;
  }
  return 0;
}

int snt_rt_cmd_predict(const snt_model_info *info, snt_rt_common *c, int argc, char **argv) {
  predict_opts o = {.top = 1};
  int64_t max_pixels = 0; /* --max-pixels: kept in c->max_pixels for the image loader */
  const snt_opt own[] = {
      {.name = "json", 0, SNT_OPT_FLAG, &o.json, NULL, "JSON output"},
      {.name = "top", 0, SNT_OPT_INT, &o.top, "K", "the K most likely classes", .imin = 1, .imax = PREDICT_MAX_TOP},
      {.name = "save-input", 0, SNT_OPT_STRING, &o.save_dir, "DIR", "write each preprocessed input as DIR/input_<i>.pb"},
      {.name = "max-pixels", 0, SNT_OPT_INT, &max_pixels, "N", "the largest image (width x height) decoded", .imin = 1,
       .imax = SNT_IMAGE_MAX_PIXELS},
      {NULL}};
  char **files = malloc(sizeof(char *) * (size_t)(argc + 1));
  int n = 0;
  if (!files) return fprintf(stderr, "%s: out of memory: cannot allocate %zu bytes for the arguments\n", info->name,
                             sizeof(char *) * (size_t)(argc + 1)), SNT_EXIT_INTERNAL;
  int prc = snt_rt_parse(info->name, "predict", own, c, argc, argv, files, argc, &n);
  c->max_pixels = max_pixels;
  o.max_pixels = max_pixels;
  o.window = c->window;
  if (prc) {
    free(files);
    if (prc < 0) return snt_rt_usage(stdout, info);
    return prc;
  }
  const snt_model_io *in = &info->inputs[0];
  if (n == 0 || info->n_inputs != 1 || in->dtype != SNT_F32 || in->rank != 4) {
    fprintf(stderr, "%s predict: needs image files (PNG, JPEG or DICOM)%s\n", info->name,
            info->n_inputs != 1 || in->rank != 4 ? "; this model does not take one image tensor" : "");
    free(files);
    return SNT_RT_EXIT_USER;
  }
  int ch = image_channels(info);
  if (ch != 1 && ch != 3 && ch != 4) {
    fprintf(stderr, "%s predict: the model's image input has %d channels; images are read as 1 (gray), 3 (RGB) or "
            "4 (RGBA) channels\n", info->name, ch);
    free(files);
    return SNT_RT_EXIT_USER;
  }
  snt_rt_model m;
  int rc = snt_rt_open(info, c, &m);
  if (rc) {
    free(files);
    return rc;
  }
  int64_t batch = m.batch, k = m.out[0].dims[m.out[0].rank - 1];
  size_t sample = snt_rt_io_bytes(&m.in[0]) / (size_t)batch / sizeof(float);
  float *x = snt_rt_alloc(info->name, (size_t)batch * sample * sizeof(float), "the input batch");
  float *y = x ? snt_rt_alloc(info->name, snt_rt_io_bytes(&m.out[0]) + 1, "the output batch") : NULL;
  void **outs = y ? snt_rt_alloc(info->name, sizeof(void *) * ((size_t)info->n_outputs + 1), "the outputs") : NULL;
  int *slot = outs ? snt_rt_alloc(info->name, sizeof(int) * (size_t)batch, "the batch slots") : NULL;
  for (int i = 1; slot && i < info->n_outputs; i++)
    if (!(outs[i] = snt_rt_alloc(info->name, snt_rt_io_bytes(&m.out[i]) + 1, "an output"))) slot = (free(slot), NULL);
  if (!x || !y || !outs || !slot) rc = SNT_RT_EXIT_INTERNAL;
  if (o.json && !rc) printf("[\n");
  bool first = true, failed = false;
  int invalid = 0;
  for (int start = 0; start < n && !rc; start += (int)batch) {
    int used = 0;
    for (int i = start; i < n && i < start + batch; i++) {
      snt_err e;
      if (prepare(info, &o, files[i], x + (size_t)used * sample, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        failed = true;
        continue;
      }
      if (o.save_dir && (rc = save_input(info, o.save_dir, i, x + (size_t)used * sample))) break;
      slot[used++] = i;
    }
    if (rc || used == 0) continue;
    /* A partial batch costs its own samples only (or, for a model that mixes samples, runs
     * padded with zeros inside run_n). */
    const void *ins[1] = {x};
    outs[0] = y;
    if (snt_rt_run_n(&m, used, ins, outs) != 0) rc = SNT_RT_EXIT_INTERNAL;
    for (int j = 0; j < used && !rc; j++, first = false) {
      const char *why = m.bad_weights ? "non-finite weights"
                        : snt_rt_count_nonfinite(SNT_F32, x + (size_t)j * sample, (int64_t)sample) ? "non-finite input"
                        : snt_rt_count_nonfinite(SNT_F32, y + (size_t)j * k, k) ? "non-finite output" : NULL;
      if (why) report_invalid(&o, files[slot[j]], why, first), invalid++;
      else report(info, &o, files[slot[j]], y + (size_t)j * k, (int)k, first);
    }
  }
  if (o.json && !rc) printf("\n]\n");
  if (invalid && !rc)
    fprintf(stderr, "%s predict: %d image%s gave no valid prediction (NaN or Inf in %s)\n", info->name, invalid,
            invalid == 1 ? "" : "s", m.bad_weights ? "the weights" : "the input or output");
  for (int i = 1; outs && i < info->n_outputs; i++) free(outs[i]);
  free(outs);
  free(x);
  free(y);
  free(slot);
  free(files);
  snt_rt_close(&m);
  return rc ? rc : failed || invalid ? SNT_RT_EXIT_USER : 0;
}
