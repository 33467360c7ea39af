/* The training state: parameters in the step's layout, Adam's moments, and checkpoints as
 * ONNX files (the compiled template with the parameters filled in, state in metadata_props). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/train/train_int.h"
#include "sinter/onnx_io.h"
#include "sinter/weight_map.h"

enum { EXIT_USER = 1, EXIT_INTERNAL = 2 };

static int find(const snt_model_info *mi, const char *name) {
  for (int i = 0; i < mi->n_params; i++)
    if (strcmp(mi->params[i].name, name) == 0) return i;
  return -1;
}

static int64_t numel(const snt_model_param *p) {
  int64_t n = 1;
  for (int k = 0; k < p->rank; k++) n *= p->dims[k];
  return n;
}

int64_t snt_tr_param_offset(const snt_train_info *t, const char *name, int64_t *n) {
  int i = find(t->step_model, name);
  if (i < 0) return -1;
  if (n) *n = numel(&t->step_model->params[i]);
  return (int64_t)t->step_model->params[i].offset;
}

static void copy_by_name(const snt_model_info *from, const unsigned char *src, const snt_model_info *to, unsigned char *dst) {
  for (int i = 0; i < to->n_params; i++) {
    int j = find(from, to->params[i].name);
    if (j < 0) continue;
    size_t bytes = (size_t)numel(&to->params[i]) * snt_dtype_size(to->params[i].dtype);
    memcpy(dst + to->params[i].offset, src + from->params[j].offset, bytes);
  }
}

void snt_tr_copy_to(const snt_tr_state *s, const snt_model_info *to, unsigned char *blob) {
  copy_by_name(s->t->step_model, s->blob, to, blob);
}

int snt_tr_state_init(snt_tr_state *s, const snt_train_info *t, const snt_model_info *infer) {
  memset(s, 0, sizeof *s);
  s->t = t;
  s->blob = calloc(1, t->step_model->weights_bytes + 64);
  s->moment_off = calloc((size_t)t->n_params + 1, sizeof *s->moment_off);
  int64_t total = 0;
  for (int i = 0; i < t->n_params; i++) {
    int64_t n = 0;
    if (snt_tr_param_offset(t, t->params[i].name, &n) < 0) {
      fprintf(stderr, "%s: internal: trainable parameter '%s' is not in the step model\n", infer->name, t->params[i].name);
      return EXIT_INTERNAL;
    }
    s->moment_off[i] = total;
    total += n;
  }
  s->m = calloc((size_t)total + 1, sizeof(float));
  s->v = calloc((size_t)total + 1, sizeof(float));
  if (!s->blob || !s->moment_off || !s->m || !s->v) {
    fprintf(stderr, "%s: out of memory\n", infer->name);
    return EXIT_INTERNAL;
  }
  if (infer->weights) copy_by_name(infer, infer->weights, t->step_model, s->blob);
  s->lr = t->recipe.lr;
  s->best = s->lr_best = INFINITY;
  s->best_epoch = -1;
  memcpy(s->split, t->recipe.split, sizeof s->split);
  s->seed = t->recipe.seed;
  return 0;
}

void snt_tr_state_free(snt_tr_state *s) {
  free(s->blob);
  free(s->m);
  free(s->v);
  free(s->moment_off);
  memset(s, 0, sizeof *s);
}

/* ---- checkpoints ---- */

static const Onnx__TensorProto *find_init(const Onnx__ModelProto *m, const char *name) {
  for (size_t i = 0; m->graph && i < m->graph->n_initializer; i++)
    if (strcmp(m->graph->initializer[i]->name, name) == 0) return m->graph->initializer[i];
  return NULL;
}

static const char *meta(const Onnx__ModelProto *m, const char *key) {
  for (size_t i = 0; i < m->n_metadata_props; i++)
    if (m->metadata_props[i]->key && strcmp(m->metadata_props[i]->key, key) == 0) return m->metadata_props[i]->value;
  return NULL;
}

/* Decodes initializer `name` into dst when it has the expected element count; 1 loaded, 0 absent, -1 bad. */
static int take(const Onnx__ModelProto *m, const char *path, const char *name, int64_t n, float *dst) {
  const Onnx__TensorProto *tp = find_init(m, name);
  if (!tp) return 0;
  snt_tensor_buf b = {0};
  snt_err e;
  if (snt_onnx_tensor_decode(tp, NULL, &b, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return -1;
  }
  int64_t have = 1;
  for (int k = 0; k < b.rank; k++) have *= b.dims[k];
  int rc = 1;
  if (b.dtype != SNT_F32 || have != n) {
    fprintf(stderr, "%s: initializer '%s' has %lld %s values, the model's parameter %lld float values\n", path, name,
            (long long)have, snt_dtype_name(b.dtype), (long long)n);
    rc = -1;
  } else {
    memcpy(dst, b.data, sizeof(float) * (size_t)n);
  }
  snt_tensor_buf_free(&b);
  return rc;
}

static void read_state(snt_tr_state *s, const Onnx__ModelProto *m) {
  const char *v;
  if ((v = meta(m, "sinter.epoch"))) s->epoch = atoi(v);
  if ((v = meta(m, "sinter.step"))) s->step = atoll(v);
  if ((v = meta(m, "sinter.lr"))) s->lr = strtod(v, NULL);
  if ((v = meta(m, "sinter.best"))) s->best = strtod(v, NULL);
  if ((v = meta(m, "sinter.lr_best"))) s->lr_best = strtod(v, NULL);
  if ((v = meta(m, "sinter.best_epoch"))) s->best_epoch = atoi(v);
  if ((v = meta(m, "sinter.wait_es"))) s->wait_es = atoi(v);
  if ((v = meta(m, "sinter.wait_lr"))) s->wait_lr = atoi(v);
  if ((v = meta(m, "sinter.seed"))) s->seed = atoll(v);
  if ((v = meta(m, "sinter.epoch_step"))) s->epoch_step = atoll(v);
  if ((v = meta(m, "sinter.epoch_seen"))) s->epoch_seen = atoll(v);
  if ((v = meta(m, "sinter.epoch_correct"))) s->epoch_correct = atoll(v);
  if ((v = meta(m, "sinter.epoch_loss"))) s->epoch_loss = strtod(v, NULL);
  if ((v = meta(m, "sinter.split")) && snt_tr_parse_split(v, s->split) == 0) s->has_split = true;
}

/* The step model's parameters as the mapping's targets: `<layer>/<role>` split at the last '/'
 * (a name without a known role is matched by its exact name only). */
static snt_wmap_target *param_targets(const snt_model_info *sm, char **layers) {
  snt_wmap_target *t = calloc((size_t)sm->n_params + 1, sizeof *t);
  size_t cap = 1;
  for (int i = 0; i < sm->n_params; i++) cap += strlen(sm->params[i].name) + 1;
  *layers = malloc(cap);
  if (!t || !*layers) {
    free(t);
    free(*layers);
    *layers = NULL;
    return NULL;
  }
  char *buf = *layers;
  for (int i = 0; i < sm->n_params; i++) {
    const snt_model_param *p = &sm->params[i];
    const char *role = NULL;
    t[i].name = p->name;
    if (snt_wmap_split_name(p->name, buf, cap, &role) && snt_wmap_is_role(role)) {
      t[i].layer = buf;
      t[i].role = role;
      buf += strlen(buf) + 1;
    }
    t[i].dtype = p->dtype;
    t[i].rank = p->rank;
    memcpy(t[i].dims, p->dims, sizeof t[i].dims);
  }
  return t;
}

/* Decodes the matched initializer into the parameter; 1 loaded, -1 bad. */
static int take_mapped(const Onnx__ModelProto *m, const char *path, const char *dir, const snt_wmap_target *t,
                       const snt_wmap_match *mt, float *dst) {
  snt_tensor_buf b = {0};
  snt_err e;
  if (snt_onnx_tensor_decode(m->graph->initializer[mt->init], dir, &b, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return -1;
  }
  int rc = 1;
  if (snt_wmap_copy_f32(&b, mt, t, dst, &e) != SNT_OK) {
    fprintf(stderr, "%s: %s\n", path, e.msg);
    rc = -1;
  }
  snt_tensor_buf_free(&b);
  return rc;
}

int snt_tr_load(snt_tr_state *s, const char *path, bool strict, bool verbose) {
  Onnx__ModelProto *m = NULL;
  snt_err e;
  if (snt_onnx_load_model(path, &m, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return EXIT_USER;
  }
  const snt_model_info *sm = s->t->step_model;
  int rc = 0, loaded = 0, kept = 0;
  /* Exact names first (files written by export-onnx and train), then the mapping of
   * include/sinter/weight_map.h: by layer name and role (and, strict, by structure). */
  char *layers = NULL, *dir = NULL;
  snt_wmap_target *t = param_targets(sm, &layers);
  snt_wmap_match *mt = calloc((size_t)sm->n_params + 1, sizeof *mt);
  snt_wmap_how by = SNT_WMAP_NONE;
  if (!t || !mt || snt_onnx_dirname(path, &dir, &e) != SNT_OK) {
    fprintf(stderr, "%s: out of memory\n", path);
    rc = EXIT_INTERNAL;
  } else {
    snt_wmap_opts o = {.path = path, .model = sm->name, .exact_first = true, .strict = strict};
    if (snt_wmap_match_targets(m, t, sm->n_params, &o, mt, &by, &e) != SNT_OK) {
      fprintf(stderr, "%s\n", e.msg);
      if (strict)
        for (int i = 0; i < sm->n_params; i++)
          if (!find_init(m, sm->params[i].name)) {
            fprintf(stderr, "%s: (nor does it name every parameter as `EXE export-onnx` writes them: no initializer named '%s')\n",
                    path, sm->params[i].name);
            break;
          }
      rc = EXIT_USER;
    }
  }
  for (int i = 0; i < sm->n_params && !rc; i++) {
    const snt_model_param *p = &sm->params[i];
    float *dst = (float *)(s->blob + p->offset);
    int r = mt[i].how == SNT_WMAP_NONE ? 0 : take_mapped(m, path, dir, &t[i], &mt[i], dst);
    if (r < 0) rc = EXIT_USER;
    else if (r == 0 && strict) {
      fprintf(stderr, "%s: no initializer named '%s' (weights are named as `EXE export-onnx` writes them)\n", path, p->name);
      rc = EXIT_USER;
    } else if (r == 0) {
      kept++;
      if (verbose) printf("  fresh:  %s\n", p->name);
    } else {
      loaded++;
      if (verbose) {
        const char *from = m->graph->initializer[mt[i].init]->name;
        if (mt[i].how == SNT_WMAP_EXACT && !mt[i].transpose) printf("  loaded: %s\n", p->name);
        else printf("  loaded: %s <- %s%s\n", p->name, from, mt[i].transpose ? " (transposed)" : "");
      }
    }
  }
  if (!rc && verbose) printf("%s: %d parameter tensors loaded, %d initialised fresh\n", path, loaded, kept);
  free(t);
  free(mt);
  free(layers);
  free(dir);
  /* Optimizer moments and training state are there only in checkpoints. */
  for (int i = 0; i < s->t->n_params && !rc && meta(m, "sinter.step"); i++) {
    int64_t n = 0;
    snt_tr_param_offset(s->t, s->t->params[i].name, &n);
    char name[1024];
    snprintf(name, sizeof name, "optimizer/m/%s", s->t->params[i].name);
    if (take(m, path, name, n, s->m + s->moment_off[i]) < 0) rc = EXIT_USER;
    snprintf(name, sizeof name, "optimizer/v/%s", s->t->params[i].name);
    if (!rc && take(m, path, name, n, s->v + s->moment_off[i]) < 0) rc = EXIT_USER;
  }
  if (!rc) read_state(s, m);
  snt_onnx_free_model(m);
  return rc;
}

/* ---- writing ---- */

typedef struct kv {
  char key[64], value[256];
} kv;

static Onnx__TensorProto *float_tensor(const char *name, int rank, const int64_t *dims, const float *data) {
  Onnx__TensorProto *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->n_dims = (size_t)rank;
  t->dims = (int64_t *)dims;
  t->has_data_type = 1;
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t->has_raw_data = 1;
  int64_t n = 1;
  for (int k = 0; k < rank; k++) n *= dims[k];
  t->raw_data.len = sizeof(float) * (size_t)n;
  t->raw_data.data = (uint8_t *)data;
  return t;
}

int snt_tr_save(const snt_tr_state *s, const char *path, bool with_state, const char *const *labels, int n_labels) {
  (void)labels, (void)n_labels; /* the template carries the labels */
  const snt_train_info *t = s->t;
  Onnx__ModelProto *m = NULL;
  snt_err e;
  if (snt_onnx_model_from_bytes(t->onnx_template, t->onnx_template_bytes, "the compiled ONNX template", &m, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return EXIT_INTERNAL;
  }
  Onnx__GraphProto *g = m->graph;
  /* Point the template's empty initializers at the parameters; detached again before freeing. */
  uint8_t **saved = calloc(g->n_initializer + 1, sizeof *saved);
  size_t n_init = g->n_initializer;
  int rc = saved ? 0 : EXIT_INTERNAL;
  for (size_t i = 0; i < n_init && !rc; i++) {
    Onnx__TensorProto *tp = g->initializer[i];
    int64_t n = 0, off = snt_tr_param_offset(t, tp->name, &n);
    if (off < 0 || tp->raw_data.len) continue;
    saved[i] = tp->raw_data.data;
    tp->raw_data.data = s->blob + off;
    tp->raw_data.len = sizeof(float) * (size_t)n;
    tp->has_raw_data = 1;
  }
  Onnx__TensorProto **extra = NULL;
  int n_extra = 0;
  kv props[16];
  int n_props = 0;
  if (with_state && !rc) {
    extra = calloc((size_t)t->n_params * 2 + 1, sizeof *extra);
    char (*names)[1024] = calloc((size_t)t->n_params * 2 + 1, sizeof *names);
    int64_t (*dims)[1] = calloc((size_t)t->n_params + 1, sizeof *dims);
    if (!extra || !names || !dims) rc = EXIT_INTERNAL;
    for (int i = 0; i < t->n_params && !rc; i++) {
      int64_t n = 0;
      snt_tr_param_offset(t, t->params[i].name, &n);
      dims[i][0] = n;
      snprintf(names[2 * i], sizeof names[0], "optimizer/m/%s", t->params[i].name);
      snprintf(names[2 * i + 1], sizeof names[0], "optimizer/v/%s", t->params[i].name);
      extra[n_extra++] = float_tensor(names[2 * i], 1, dims[i], s->m + s->moment_off[i]);
      extra[n_extra++] = float_tensor(names[2 * i + 1], 1, dims[i], s->v + s->moment_off[i]);
      if (!extra[n_extra - 1] || !extra[n_extra - 2]) rc = EXIT_INTERNAL;
    }
    snprintf(props[n_props].key, 64, "sinter.epoch"), snprintf(props[n_props++].value, 256, "%d", s->epoch);
    snprintf(props[n_props].key, 64, "sinter.step"), snprintf(props[n_props++].value, 256, "%lld", (long long)s->step);
    snprintf(props[n_props].key, 64, "sinter.lr"), snprintf(props[n_props++].value, 256, "%.17g", s->lr);
    snprintf(props[n_props].key, 64, "sinter.best"), snprintf(props[n_props++].value, 256, "%.17g", s->best);
    snprintf(props[n_props].key, 64, "sinter.lr_best"), snprintf(props[n_props++].value, 256, "%.17g", s->lr_best);
    snprintf(props[n_props].key, 64, "sinter.best_epoch"), snprintf(props[n_props++].value, 256, "%d", s->best_epoch);
    snprintf(props[n_props].key, 64, "sinter.wait_es"), snprintf(props[n_props++].value, 256, "%d", s->wait_es);
    snprintf(props[n_props].key, 64, "sinter.wait_lr"), snprintf(props[n_props++].value, 256, "%d", s->wait_lr);
    snprintf(props[n_props].key, 64, "sinter.seed"), snprintf(props[n_props++].value, 256, "%lld", (long long)s->seed);
    snprintf(props[n_props].key, 64, "sinter.epoch_step"), snprintf(props[n_props++].value, 256, "%lld", (long long)s->epoch_step);
    snprintf(props[n_props].key, 64, "sinter.epoch_seen"), snprintf(props[n_props++].value, 256, "%lld", (long long)s->epoch_seen);
    snprintf(props[n_props].key, 64, "sinter.epoch_correct"),
        snprintf(props[n_props++].value, 256, "%lld", (long long)s->epoch_correct);
    snprintf(props[n_props].key, 64, "sinter.epoch_loss"), snprintf(props[n_props++].value, 256, "%.17g", s->epoch_loss);
    snprintf(props[n_props].key, 64, "sinter.split"),
        snprintf(props[n_props++].value, 256, "%.17g,%.17g,%.17g", s->split[0], s->split[1], s->split[2]);
    if (!rc) {
      Onnx__TensorProto **all = realloc(g->initializer, sizeof *all * (n_init + (size_t)n_extra));
      if (!all) rc = EXIT_INTERNAL;
      else {
        g->initializer = all;
        memcpy(all + n_init, extra, sizeof *all * (size_t)n_extra);
        g->n_initializer = n_init + (size_t)n_extra;
      }
    }
    if (!rc) rc = 0;
    /* names and dims must outlive the save below */
    if (!rc) {
      Onnx__StringStringEntryProto entries[16], *ep[32];
      size_t old = m->n_metadata_props;
      Onnx__StringStringEntryProto **props_all = calloc(old + (size_t)n_props + 1, sizeof *props_all);
      if (!props_all) rc = EXIT_INTERNAL;
      else {
        memcpy(props_all, m->metadata_props, sizeof *props_all * old);
        for (int i = 0; i < n_props; i++) {
          onnx__string_string_entry_proto__init(&entries[i]);
          entries[i].key = props[i].key;
          entries[i].value = props[i].value;
          props_all[old + (size_t)i] = &entries[i];
        }
        Onnx__StringStringEntryProto **was = m->metadata_props;
        m->metadata_props = props_all;
        m->n_metadata_props = old + (size_t)n_props;
        if (snt_onnx_save_model(path, m, &e) != SNT_OK) {
          fprintf(stderr, "%s\n", e.msg);
          rc = EXIT_USER;
        }
        m->metadata_props = was;
        m->n_metadata_props = old;
        free(props_all);
      }
      (void)ep;
    }
    g->n_initializer = n_init;
    for (int i = 0; i < n_extra; i++) free(extra[i]);
    free(names);
    free(dims);
  } else if (!rc && snt_onnx_save_model(path, m, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    rc = EXIT_USER;
  }
  free(extra);
  for (size_t i = 0; saved && i < n_init; i++) {
    Onnx__TensorProto *tp = g->initializer[i];
    if (!saved[i] && !tp->raw_data.len) continue;
    int64_t off = snt_tr_param_offset(t, tp->name, NULL);
    if (off >= 0 && tp->raw_data.data == s->blob + off) {
      tp->raw_data.data = saved[i];
      tp->raw_data.len = 0;
    }
  }
  free(saved);
  snt_onnx_free_model(m);
  return rc;
}
