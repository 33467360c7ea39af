/* Mapping ONNX initializers onto DSL parameters. */
#include "compiler/weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "sinter/onnx_io.h"
#include "sinter/weight_map.h"
#include "support/util.h"

/* The model's parameters, in tensor order, as the mapping's targets. */
static snt_wmap_target *targets_of(const snt_graph *g, int **tensor_of, int *n) {
  snt_wmap_target *t = calloc((size_t)g->n_tensors + 1, sizeof *t);
  *tensor_of = calloc((size_t)g->n_tensors + 1, sizeof **tensor_of);
  *n = 0;
  if (!t || !*tensor_of) {
    free(t);
    free(*tensor_of);
    *tensor_of = NULL;
    return NULL;
  }
  for (int i = 0; i < g->n_tensors; i++) {
    const snt_tensor *p = &g->tensors[i];
    if (p->kind != SNT_T_PARAM) continue;
    snt_wmap_target *x = &t[*n];
    x->name = p->name;
    x->role = p->role;
    if (p->owner >= 0) x->layer = g->nodes[p->owner].name, x->kind = g->nodes[p->owner].op->name;
    x->dtype = SNT_F32;
    x->rank = p->rank;
    memcpy(x->dims, p->dims, sizeof x->dims);
    (*tensor_of)[(*n)++] = i;
  }
  return t;
}

snt_status snt_weights_load(snt_graph *g, const char *path, snt_diag *d, FILE *log) {
  Onnx__ModelProto *m = NULL;
  snt_err e;
  if (snt_onnx_load_model(path, &m, &e) != SNT_OK) return snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  const Onnx__GraphProto *gp = m->graph;
  snt_tensor_buf *bufs = calloc(gp->n_initializer + 1, sizeof *bufs);
  char *dir = NULL;
  snt_status st = bufs ? snt_onnx_dirname(path, &dir, &e) : SNT_ERR_NOMEM;
  size_t n_bufs = 0;
  for (size_t i = 0; !st && i < gp->n_initializer; i++) {
    if (snt_onnx_tensor_decode(gp->initializer[i], dir, &bufs[n_bufs], &e) != SNT_OK)
      st = snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
    else
      n_bufs++;
  }
  int n = 0, *tensor_of = NULL;
  snt_wmap_target *t = NULL;
  snt_wmap_match *mt = NULL;
  snt_wmap_how by = SNT_WMAP_NONE;
  if (!st) {
    t = targets_of(g, &tensor_of, &n);
    mt = calloc((size_t)n + 1, sizeof *mt);
    if (!t || !mt) st = SNT_ERR_NOMEM;
  }
  if (!st) {
    snt_wmap_opts o = {.path = path, .model = g->name, .exact_first = false, .strict = true};
    if (snt_wmap_match_targets(m, t, n, &o, mt, &by, &e) != SNT_OK) st = snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  }
  for (int i = 0; !st && i < n; i++) {
    snt_tensor *p = &g->tensors[tensor_of[i]];
    float *v = malloc((size_t)snt_tensor_numel(p) * sizeof(float) + 1);
    if (!v) st = SNT_ERR_NOMEM;
    else if (snt_wmap_copy_f32(&bufs[mt[i].init], &mt[i], &t[i], v, &e) != SNT_OK) {
      free(v);
      st = snt_diag_error(d, NULL, (snt_loc){0}, "%s: %s", path, e.msg);
    } else {
      free(p->data);
      p->data = v;
    }
  }
  if (!st && log)
    fprintf(log, "weights: %d tensors from %s, matched %s\n", n, path,
            by == SNT_WMAP_LAYER ? "by Keras layer name" : "by structure (layer order and shapes)");
  for (size_t i = 0; i < n_bufs; i++) snt_tensor_buf_free(&bufs[i]);
  free(bufs);
  free(t);
  free(mt);
  free(tensor_of);
  free(dir);
  snt_onnx_free_model(m);
  return st;
}

/* splitmix64: a small seeded generator, so fresh weights are the same on every machine. */
static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

snt_status snt_weights_init(snt_graph *g, uint64_t seed) {
  uint64_t s = seed;
  for (int t = 0; t < g->n_tensors; t++) {
    snt_tensor *p = &g->tensors[t];
    if (p->kind != SNT_T_PARAM || p->data) continue;
    int64_t n = snt_tensor_numel(p);
    float *v = calloc((size_t)n + 1, sizeof(float));
    if (!v) return SNT_ERR_NOMEM;
    if (strcmp(p->role, "kernel") == 0) {
      /* Glorot uniform, with Keras's fans: conv [O, I, k...] -> fan_in I*k, fan_out O*k;
       * dense [in, out]. */
      double receptive = 1;
      for (int i = 2; i < p->rank; i++) receptive *= (double)p->dims[i];
      double fan_in = p->rank > 2 ? (double)p->dims[1] * receptive : (double)p->dims[0];
      double fan_out = p->rank > 2 ? (double)p->dims[0] * receptive : (double)p->dims[1];
      double limit = sqrt(6.0 / (fan_in + fan_out));
      for (int64_t i = 0; i < n; i++) v[i] = (float)((double)(next(&s) >> 11) * 0x1.0p-53 * 2 * limit - limit);
    } else if (strcmp(p->role, "gamma") == 0 || strcmp(p->role, "moving_variance") == 0) {
      for (int64_t i = 0; i < n; i++) v[i] = 1.0f;
    }
    p->data = v;
  }
  return SNT_OK;
}
