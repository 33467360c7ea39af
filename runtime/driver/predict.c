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
  int top;
  const char *save_dir;
  long long max_pixels;
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

/* Decodes, resizes and preprocesses one image into dst (one sample of input 0). */
static int prepare(const snt_model_info *info, const predict_opts *o, const char *path, float *dst, snt_err *e) {
  const snt_model_io *in = &info->inputs[0]; /* sample dims: the same in every instance */
  bool nhwc = info->pre.nhwc;
  int h = (int)in->dims[nhwc ? 1 : 2], w = (int)in->dims[nhwc ? 2 : 3], ch = image_channels(info);
  snt_image img = {0}, sized = {0};
  snt_image_opts io = {.channels = ch, .max_pixels = o->max_pixels};
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

static void report(const snt_model_info *info, const predict_opts *o, const char *file, const float *probs, int k,
                   bool first) {
  const float **order = malloc(sizeof(float *) * (size_t)k);
  if (!order) return;
  for (int i = 0; i < k; i++) order[i] = &probs[i];
  qsort(order, (size_t)k, sizeof *order, cmp_desc);
  int top = o->top < k ? o->top : k;
  char name[256];
  if (o->json) {
    printf("%s  {\"file\": ", first ? "" : ",\n");
    print_json_string(file);
    printf(", \"predictions\": [");
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

int snt_rt_cmd_predict(const snt_model_info *info, const snt_rt_common *c, int argc, char **argv) {
  predict_opts o = {.top = 1};
  char **files = malloc(sizeof(char *) * (size_t)(argc + 1));
  int n = 0;
  for (int i = 0; files && i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) o.json = true;
    else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) o.top = atoi(argv[++i]);
    else if (strcmp(argv[i], "--save-input") == 0 && i + 1 < argc) o.save_dir = argv[++i];
    else if (strcmp(argv[i], "--max-pixels") == 0 && i + 1 < argc) {
      char *end;
      o.max_pixels = strtoll(argv[++i], &end, 10);
      if (*end || end == argv[i] || o.max_pixels < 1 || o.max_pixels > SNT_IMAGE_MAX_PIXELS) {
        fprintf(stderr, "%s predict: --max-pixels takes a number from 1 to %lld, got '%s'\n", info->name,
                (long long)SNT_IMAGE_MAX_PIXELS, argv[i]);
        free(files);
        return SNT_RT_EXIT_USER;
      }
    }
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "%s predict: unknown option '%s' (--json, --top K, --save-input DIR, --max-pixels N)\n", info->name, argv[i]);
      free(files);
      return SNT_RT_EXIT_USER;
    } else files[n++] = argv[i];
  }
  const snt_model_io *in = &info->inputs[0];
  if (!files || n == 0 || o.top < 1 || info->n_inputs != 1 || in->dtype != SNT_F32 || in->rank != 4) {
    fprintf(stderr, "%s predict: needs image files (PNG or JPEG)%s\n", info->name,
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
  float *x = calloc((size_t)batch * sample, sizeof(float)), *y = calloc(snt_rt_io_bytes(&m.out[0]) + 1, 1);
  void **outs = calloc((size_t)info->n_outputs + 1, sizeof(void *));
  int *slot = malloc(sizeof(int) * (size_t)batch);
  for (int i = 1; outs && i < info->n_outputs; i++) outs[i] = calloc(snt_rt_io_bytes(&m.out[i]) + 1, 1);
  if (!x || !y || !outs || !slot) rc = SNT_RT_EXIT_INTERNAL;
  if (o.json && !rc) printf("[\n");
  bool first = true, failed = false;
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
    /* A partial batch runs with the rest of the buffer zeroed. */
    memset(x + (size_t)used * sample, 0, sizeof(float) * sample * (size_t)(batch - used));
    const void *ins[1] = {x};
    outs[0] = y;
    if (snt_rt_run(&m, ins, outs) != 0) rc = SNT_RT_EXIT_INTERNAL;
    for (int j = 0; j < used && !rc; j++, first = false) report(info, &o, files[slot[j]], y + (size_t)j * k, (int)k, first);
  }
  if (o.json && !rc) printf("\n]\n");
  for (int i = 1; outs && i < info->n_outputs; i++) free(outs[i]);
  free(outs);
  free(x);
  free(y);
  free(slot);
  free(files);
  snt_rt_close(&m);
  return rc ? rc : failed ? SNT_RT_EXIT_USER : 0;
}
