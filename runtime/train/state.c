/* The training state: parameters in the step's layout, Adam's moments, and checkpoints as
 * ONNX files (the compiled template with the parameters filled in, state in metadata_props). */
#include <math.h>
#include <stddef.h>
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

void snt_tr_copy_to(const snt_tr_state *s, const snt_model_info *to, unsigned char *blob) {
  snt_rt_copy_params(s->t->step_model, s->blob, to, blob);
}

/* Offsets and sizes of the named step-model parameters; -1 when a name is missing. */
static int lookup_all(const snt_train_info *t, int n, const char *(*name)(const snt_train_info *, int), int64_t *off,
                      int64_t *cnt) {
  for (int i = 0; i < n; i++)
    if ((off[i] = snt_tr_param_offset(t, name(t, i), &cnt[i])) < 0) return i;
  return -1;
}
static const char *param_name(const snt_train_info *t, int i) { return t->params[i].name; }
static const char *stat_name(const snt_train_info *t, int i) { return t->stats[i].name; }

int snt_tr_state_init(snt_tr_state *s, const snt_train_info *t, const snt_model_info *infer) {
  memset(s, 0, sizeof *s);
  s->t = t;
  size_t np = (size_t)t->n_params + 1, ns = (size_t)t->n_stats + 1;
  s->blob = calloc(1, t->step_model->weights_bytes + 64);
  s->moment_off = calloc(np, sizeof(int64_t));
  s->param_off = calloc(np, sizeof(int64_t)), s->param_n = calloc(np, sizeof(int64_t));
  s->stat_off = calloc(ns, sizeof(int64_t)), s->stat_n = calloc(ns, sizeof(int64_t));
  if (!s->blob || !s->moment_off || !s->param_off || !s->param_n || !s->stat_off || !s->stat_n) {
    fprintf(stderr, "%s: out of memory: cannot allocate %zu bytes for the weights and their index\n", infer->name,
            t->step_model->weights_bytes + 64 + (np * 3 + ns * 2) * sizeof(int64_t));
    return EXIT_INTERNAL;
  }
  int bad = lookup_all(t, t->n_params, param_name, s->param_off, s->param_n);
  int bad_stat = bad < 0 ? lookup_all(t, t->n_stats, stat_name, s->stat_off, s->stat_n) : -1;
  if (bad >= 0 || bad_stat >= 0) {
    fprintf(stderr, "%s: internal: parameter '%s' is not in the step model\n", infer->name,
            bad >= 0 ? t->params[bad].name : t->stats[bad_stat].name);
    return EXIT_INTERNAL;
  }
  for (int i = 0; i < t->n_params; i++) {
    s->moment_off[i] = s->n_moments;
    s->n_moments += s->param_n[i];
  }
  s->m = calloc((size_t)s->n_moments + 1, sizeof(float));
  s->v = calloc((size_t)s->n_moments + 1, sizeof(float));
  if (!s->m || !s->v) {
    fprintf(stderr, "%s: out of memory: cannot allocate 2 x %zu bytes for the optimizer moments\n", infer->name,
            ((size_t)s->n_moments + 1) * sizeof(float));
    return EXIT_INTERNAL;
  }
  if (infer->weights) snt_rt_copy_params(infer, infer->weights, t->step_model, s->blob);
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
  free(s->param_off), free(s->param_n), free(s->stat_off), free(s->stat_n);
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

/* The training state a checkpoint carries in metadata_props (docs/training.md), read and written
 * from this one table; the split fractions are written apart. */
typedef struct state_field {
  const char *key;
  char type; /* 'i' int, 'l' int64_t, 'd' double */
  size_t at;
} state_field;

static const state_field fields[] = {
    {"sinter.epoch", 'i', offsetof(snt_tr_state, epoch)},
    {"sinter.step", 'l', offsetof(snt_tr_state, step)},
    {"sinter.lr", 'd', offsetof(snt_tr_state, lr)},
    {"sinter.best", 'd', offsetof(snt_tr_state, best)},
    {"sinter.lr_best", 'd', offsetof(snt_tr_state, lr_best)},
    {"sinter.best_epoch", 'i', offsetof(snt_tr_state, best_epoch)},
    {"sinter.wait_es", 'i', offsetof(snt_tr_state, wait_es)},
    {"sinter.wait_lr", 'i', offsetof(snt_tr_state, wait_lr)},
    {"sinter.seed", 'l', offsetof(snt_tr_state, seed)},
    {"sinter.epoch_step", 'l', offsetof(snt_tr_state, epoch_step)},
    {"sinter.epoch_seen", 'l', offsetof(snt_tr_state, epoch_seen)},
    {"sinter.epoch_correct", 'l', offsetof(snt_tr_state, epoch_correct)},
    {"sinter.epoch_loss", 'd', offsetof(snt_tr_state, epoch_loss)},
};
enum { N_FIELDS = sizeof fields / sizeof fields[0] };

static void read_state(snt_tr_state *s, const Onnx__ModelProto *m) {
  for (int i = 0; i < N_FIELDS; i++) {
    const char *v = meta(m, fields[i].key);
    char *p = (char *)s + fields[i].at;
    if (!v) continue;
    if (fields[i].type == 'i') *(int *)p = atoi(v);
    else if (fields[i].type == 'l') *(int64_t *)p = atoll(v);
    else *(double *)p = strtod(v, NULL);
  }
  const char *v = meta(m, "sinter.split");
  if (v && snt_tr_parse_split(v, s->split) == 0) s->has_split = true;
}

static void write_field(const snt_tr_state *s, const state_field *f, char *buf, size_t n) {
  const char *p = (const char *)s + f->at;
  if (f->type == 'i') snprintf(buf, n, "%d", *(const int *)p);
  else if (f->type == 'l') snprintf(buf, n, "%lld", (long long)*(const int64_t *)p);
  else snprintf(buf, n, "%.17g", *(const double *)p);
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
    char name[1024];
    snprintf(name, sizeof name, "optimizer/m/%s", s->t->params[i].name);
    if (take(m, path, name, s->param_n[i], s->m + s->moment_off[i]) < 0) rc = EXIT_USER;
    snprintf(name, sizeof name, "optimizer/v/%s", s->t->params[i].name);
    if (!rc && take(m, path, name, s->param_n[i], s->v + s->moment_off[i]) < 0) rc = EXIT_USER;
  }
  if (!rc) read_state(s, m);
  snt_onnx_free_model(m);
  return rc;
}

/* ---- writing ---- */

static Onnx__TensorProto float_tensor(const char *name, const int64_t *n, const float *data) {
  Onnx__TensorProto t;
  onnx__tensor_proto__init(&t);
  t.name = (char *)name;
  t.n_dims = 1;
  t.dims = (int64_t *)n;
  t.has_data_type = 1;
  t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t.has_raw_data = 1;
  t.raw_data.len = sizeof(float) * (size_t)*n;
  t.raw_data.data = (uint8_t *)data;
  return t;
}

/* The checkpoint's extra initializers (Adam's moments) and metadata (the training state),
 * pointing into s; appended to the template's lists for the save, detached after it. */
typedef struct extras {
  Onnx__TensorProto *tensors, **tensor_ptrs;
  char (*names)[1024];
  Onnx__StringStringEntryProto props[N_FIELDS + 1], *prop_ptrs[N_FIELDS + 1];
  char values[N_FIELDS + 1][80];
  int n_tensors, n_props;
} extras;

static int extras_build(const snt_tr_state *s, extras *x) {
  const snt_train_info *t = s->t;
  size_t n = 2 * (size_t)t->n_params + 1;
  x->tensors = calloc(n, sizeof *x->tensors);
  x->tensor_ptrs = calloc(n, sizeof *x->tensor_ptrs);
  x->names = calloc(n, sizeof *x->names);
  if (!x->tensors || !x->tensor_ptrs || !x->names) return EXIT_INTERNAL;
  for (int i = 0; i < t->n_params; i++) {
    const float *moments[2] = {s->m + s->moment_off[i], s->v + s->moment_off[i]};
    for (int k = 0; k < 2; k++) {
      int j = x->n_tensors++;
      snprintf(x->names[j], sizeof x->names[j], "optimizer/%c/%s", "mv"[k], t->params[i].name);
      x->tensors[j] = float_tensor(x->names[j], &s->param_n[i], moments[k]);
      x->tensor_ptrs[j] = &x->tensors[j];
    }
  }
  for (int i = 0; i <= N_FIELDS; i++) {
    Onnx__StringStringEntryProto *p = &x->props[x->n_props];
    onnx__string_string_entry_proto__init(p);
    if (i < N_FIELDS) {
      p->key = (char *)fields[i].key;
      write_field(s, &fields[i], x->values[i], sizeof x->values[i]);
    } else {
      p->key = "sinter.split";
      snprintf(x->values[i], sizeof x->values[i], "%.17g,%.17g,%.17g", s->split[0], s->split[1], s->split[2]);
    }
    p->value = x->values[i];
    x->prop_ptrs[x->n_props++] = p;
  }
  return 0;
}

static void extras_free(extras *x) {
  free(x->tensors);
  free(x->tensor_ptrs);
  free(x->names);
}

/* A list of n pointers followed by m more; NULL when out of memory. */
static void *concat_ptrs(void *const *a, size_t n, void *const *b, size_t m) {
  void **all = malloc(sizeof *all * (n + m + 1));
  if (!all) return NULL;
  if (n) memcpy(all, a, sizeof *all * n);
  if (m) memcpy(all + n, b, sizeof *all * m);
  return all;
}

int snt_tr_save(const snt_tr_state *s, const char *path, bool with_state) {
  const snt_train_info *t = s->t;
  Onnx__ModelProto *m = NULL;
  snt_err e;
  if (snt_onnx_model_from_bytes(t->onnx_template, t->onnx_template_bytes, "the compiled ONNX template", &m, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return EXIT_INTERNAL;
  }
  Onnx__GraphProto *g = m->graph;
  size_t n_init = g->n_initializer, n_props = m->n_metadata_props;
  /* The template's parameters have no data: point them at the weights (their own empty buffers
   * are put back below, since the weights are not the model's to free). */
  uint8_t **own = calloc(n_init + 1, sizeof *own);
  bool *lent = calloc(n_init + 1, sizeof *lent);
  if (!own || !lent) {
    free(own), free(lent);
    snt_onnx_free_model(m);
    return EXIT_INTERNAL;
  }
  for (size_t i = 0; i < n_init; i++) {
    Onnx__TensorProto *tp = g->initializer[i];
    int64_t n = 0, off = snt_tr_param_offset(t, tp->name, &n);
    if (off < 0 || tp->raw_data.len) continue;
    own[i] = tp->raw_data.data, lent[i] = true;
    tp->raw_data.data = s->blob + off;
    tp->raw_data.len = sizeof(float) * (size_t)n;
    tp->has_raw_data = 1;
  }
  extras x = {0};
  Onnx__TensorProto **inits = g->initializer;
  Onnx__StringStringEntryProto **props = m->metadata_props;
  int rc = 0;
  if (with_state) {
    rc = extras_build(s, &x);
    if (!rc) {
      g->initializer = concat_ptrs((void *const *)inits, n_init, (void *const *)x.tensor_ptrs, (size_t)x.n_tensors);
      m->metadata_props = concat_ptrs((void *const *)props, n_props, (void *const *)x.prop_ptrs, (size_t)x.n_props);
      if (!g->initializer || !m->metadata_props) rc = EXIT_INTERNAL;
      g->n_initializer += (size_t)x.n_tensors;
      m->n_metadata_props += (size_t)x.n_props;
    }
  }
  if (!rc && snt_onnx_save_model(path, m, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    rc = EXIT_USER;
  }
  if (g->initializer != inits) free(g->initializer);
  if (m->metadata_props != props) free(m->metadata_props);
  g->initializer = inits, g->n_initializer = n_init;
  m->metadata_props = props, m->n_metadata_props = n_props;
  for (size_t i = 0; i < n_init; i++)
    if (lent[i]) inits[i]->raw_data.data = own[i], inits[i]->raw_data.len = 0;
  free(own), free(lent);
  extras_free(&x);
  snt_onnx_free_model(m);
  return rc;
}
