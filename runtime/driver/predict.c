/* EXE predict IMAGE...: class and confidence per image, batch by batch. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/json.h"
#include "runtime/driver/driver.h"
#include "runtime/driver/predict_int.h"
#include "sinter/image.h"
#include "sinter/onnx_io.h"

typedef struct predict_opts {
  bool json;
  int64_t top;
  const char *save_dir;
  long long max_pixels;
  snt_image_window window; /* --window C,W */
} predict_opts;

enum { PREDICT_MAX_TOP = 100000 };

/* Decodes, resizes and preprocesses one image into dst (one sample of input 0). */
static int prepare(const snt_model_info *info, const predict_opts *o, const char *path, float *dst, snt_err *e) {
  snt_image img = {0};
  snt_image_opts io = {.channels = snt_rt_image_channels(info), .max_pixels = o->max_pixels, .window = o->window};
  if (snt_image_load_opts(path, &io, &img, e) != SNT_OK) return -1;
  snt_status st = snt_rt_image_sample(info, &img, dst, e);
  snt_image_free(&img);
  return st == SNT_OK ? 0 : -1;
}

static int cmp_desc(const void *a, const void *b) {
  const float *x = *(const float *const *)a, *y = *(const float *const *)b;
  return (*x < *y) - (*x > *y);
}

/* An image whose input or output holds NaN or Inf (or a model whose weights do) has no
 * prediction: it is reported invalid, with why. */
static void report_invalid(const predict_opts *o, const char *file, const char *why, bool first) {
  if (o->json) {
    printf("%s  {\"file\": ", first ? "" : ",\n");
    snt_json_string(stdout, file);
    printf(", \"valid\": false, \"reason\": ");
    snt_json_string(stdout, why);
    printf(", \"predictions\": []}");
  } else {
    printf("%s: invalid (%s)\n", file, why);
  }
}

/* An image that could not be read or decoded (or a folder that could not be listed): said on
 * stderr where it happens, and in JSON an entry of its own so the array covers every input. */
static void report_error(const predict_opts *o, const char *file, const char *msg, bool first) {
  if (!o->json) return;
  printf("%s  {\"file\": ", first ? "" : ",\n");
  snt_json_string(stdout, file);
  printf(", \"valid\": false, \"error\": ");
  snt_json_string(stdout, msg);
  printf(", \"predictions\": []}");
}

static void report(const snt_model_info *info, const predict_opts *o, const char *file, const float *probs, int k,
                   bool first) {
  const float **order = malloc(sizeof(float *) * (size_t)k);
  if (!order) return;
  for (int i = 0; i < k; i++) order[i] = &probs[i];
  qsort(order, (size_t)k, sizeof *order, cmp_desc);
  int top = o->top < k ? (int)o->top : k;
  char nbuf[32];
  const char *name;
  if (o->json) {
    printf("%s  {\"file\": ", first ? "" : ",\n");
    snt_json_string(stdout, file);
    printf(", \"valid\": true, \"predictions\": [");
    for (int i = 0; i < top; i++) {
      name = snt_rt_label(info, (int)(order[i] - probs), nbuf, sizeof nbuf);
      printf("%s{\"label\": ", i ? ", " : "");
      snt_json_string(stdout, name);
      printf(", \"confidence\": %.6f}", *order[i]);
    }
    printf("]}");
  } else {
    printf("%s:", file);
    for (int i = 0; i < top; i++) {
      name = snt_rt_label(info, (int)(order[i] - probs), nbuf, sizeof nbuf);
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

/* What a predict run works with: the opened model, its batch buffers and the tallies. */
typedef struct predict_run {
  const snt_model_info *info;
  const predict_opts *o;
  snt_rt_model m;
  int64_t batch, k;
  size_t sample;
  float *x, *y;
  void **outs;
  int *slot;    /* the input behind each used row of the batch */
  char **errs;  /* per input of the batch: why it failed, or NULL */
  bool first, failed;
  int invalid;
} predict_run;

static int run_alloc(predict_run *r) {
  const snt_model_info *info = r->info;
  r->batch = r->m.batch, r->k = r->m.out[0].dims[r->m.out[0].rank - 1];
  r->sample = snt_rt_io_bytes(&r->m.in[0]) / (size_t)r->batch / sizeof(float);
  r->x = snt_rt_alloc(info->name, (size_t)r->batch * r->sample * sizeof(float), "the input batch");
  r->y = r->x ? snt_rt_alloc(info->name, snt_rt_io_bytes(&r->m.out[0]) + 1, "the output batch") : NULL;
  r->outs = r->y ? snt_rt_alloc(info->name, sizeof(void *) * ((size_t)info->n_outputs + 1), "the outputs") : NULL;
  r->slot = r->outs ? snt_rt_alloc(info->name, sizeof(int) * (size_t)r->batch, "the batch slots") : NULL;
  r->errs = r->slot ? snt_rt_alloc(info->name, sizeof(char *) * (size_t)r->batch, "the batch's messages") : NULL;
  for (int i = 1; r->errs && i < info->n_outputs; i++)
    if (!(r->outs[i] = snt_rt_alloc(info->name, snt_rt_io_bytes(&r->m.out[i]) + 1, "an output")))
      r->errs = (free(r->errs), NULL);
  return r->errs ? 0 : SNT_RT_EXIT_INTERNAL;
}

static void run_free(predict_run *r) {
  for (int i = 1; r->outs && i < r->info->n_outputs; i++) free(r->outs[i]);
  free(r->outs);
  free(r->x);
  free(r->y);
  free(r->slot);
  free(r->errs);
}

/* Decodes inputs start..end-1 into the batch; a failure is said and kept in errs. */
static int fill_batch(predict_run *r, const snt_rt_inputs *in, int start, int end, int *used) {
  for (int i = start; i < end; i++) {
    snt_err e;
    const char *msg = in->v[i].error;
    r->errs[i - start] = NULL;
    if (msg || prepare(r->info, r->o, in->v[i].path, r->x + (size_t)*used * r->sample, &e) != 0) {
      msg = msg ? msg : e.msg;
      fprintf(stderr, "%s\n", msg);
      r->failed = true;
      if (!(r->errs[i - start] = strdup(msg)))
        return fprintf(stderr, "%s predict: out of memory for a message\n", r->info->name), SNT_RT_EXIT_INTERNAL;
      continue;
    }
    if (r->o->save_dir) {
      int rc = save_input(r->info, r->o->save_dir, i, r->x + (size_t)*used * r->sample);
      if (rc) return rc;
    }
    r->slot[(*used)++] = i;
  }
  return 0;
}

/* The batch's entries in input order, the failed ones among the others. */
static void report_batch(predict_run *r, const snt_rt_inputs *in, int start, int end) {
  for (int i = start, j = 0; i < end; i++, r->first = false) {
    if (r->errs[i - start]) {
      report_error(r->o, in->v[i].path, r->errs[i - start], r->first);
      continue;
    }
    const char *why = r->m.bad_weights ? "non-finite weights"
                      : snt_rt_count_nonfinite(SNT_F32, r->x + (size_t)j * r->sample, (int64_t)r->sample)
                          ? "non-finite input"
                      : snt_rt_count_nonfinite(SNT_F32, r->y + (size_t)j * r->k, r->k) ? "non-finite output"
                                                                                        : NULL;
    if (why) report_invalid(r->o, in->v[i].path, why, r->first), r->invalid++;
    else report(r->info, r->o, in->v[i].path, r->y + (size_t)j * r->k, (int)r->k, r->first);
    j++;
  }
}

static int run_all(predict_run *r, const snt_rt_inputs *in) {
  int rc = 0;
  for (int start = 0; start < in->n && !rc; start += (int)r->batch) {
    int used = 0, end = in->n - start < r->batch ? in->n : start + (int)r->batch;
    rc = fill_batch(r, in, start, end, &used);
    /* A partial batch costs its own samples only (or, for a model that mixes samples, runs
     * padded with zeros inside run_n). */
    const void *ins[1] = {r->x};
    r->outs[0] = r->y;
    if (!rc && used && snt_rt_run_n(&r->m, used, ins, r->outs) != 0) rc = SNT_RT_EXIT_INTERNAL;
    if (!rc) report_batch(r, in, start, end);
    for (int i = start; i < end; i++) free(r->errs[i - start]), r->errs[i - start] = NULL;
  }
  return rc;
}

/* Whether the model takes one image tensor predict can fill; says why not. */
static int check_model(const snt_model_info *info, int n_args) {
  const snt_model_io *in = &info->inputs[0];
  if (n_args == 0 || info->n_inputs != 1 || in->dtype != SNT_F32 || in->rank != 4) {
    fprintf(stderr, "%s predict: needs image files (PNG or JPEG) or folders of them%s\n", info->name,
            info->n_inputs != 1 || in->rank != 4 ? "; this model does not take one image tensor" : "");
    return SNT_RT_EXIT_USER;
  }
  snt_err ce;
  if (snt_rt_image_model_check(info, "predict", &ce) != SNT_OK) return fprintf(stderr, "%s\n", ce.msg), SNT_RT_EXIT_USER;
  return 0;
}

/* Opens the model, classifies every input, closes. */
static int predict_inputs(const snt_model_info *info, const predict_opts *o, snt_rt_common *c,
                          const snt_rt_inputs *in) {
  predict_run r = {.info = info, .o = o, .first = true};
  int rc = snt_rt_open(info, c, &r.m);
  if (rc) return rc;
  rc = run_alloc(&r);
  if (o->json && !rc) printf("[\n");
  if (!rc) rc = run_all(&r, in);
  if (o->json && !rc) printf("%s]\n", in->n ? "\n" : "");
  if (r.invalid && !rc)
    fprintf(stderr, "%s predict: %d image%s gave no valid prediction (NaN or Inf in %s)\n", info->name, r.invalid,
            r.invalid == 1 ? "" : "s", r.m.bad_weights ? "the weights" : "the input or output");
  run_free(&r);
  snt_rt_close(&r.m);
  return rc ? rc : r.failed || r.invalid ? SNT_RT_EXIT_USER : 0;
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
  char **args = malloc(sizeof(char *) * (size_t)(argc + 1));
  int n = 0;
  if (!args) return fprintf(stderr, "%s: out of memory: cannot allocate %zu bytes for the arguments\n", info->name,
                            sizeof(char *) * (size_t)(argc + 1)), SNT_EXIT_INTERNAL;
  int prc = snt_rt_parse(info->name, "predict", own, c, argc, argv, args, argc, &n);
  c->max_pixels = max_pixels;
  o.max_pixels = max_pixels;
  int rc = prc < 0 ? snt_rt_usage(stdout, info) : prc ? prc : check_model(info, n);
  snt_rt_inputs in = {0};
  o.window = c->window;
  if (prc) {
    free(args);
    return rc;
  }
  if (!rc && snt_rt_inputs_expand(args, n, &in) != 0) {
    fprintf(stderr, "%s predict: out of memory for the list of images\n", info->name);
    rc = SNT_RT_EXIT_INTERNAL;
  }
  if (!rc) rc = predict_inputs(info, &o, c, &in);
  snt_rt_inputs_free(&in);
  free(args);
  return rc;
}
