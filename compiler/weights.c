/* Mapping ONNX initializers onto DSL parameters. */
#include "compiler/weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "sinter/onnx_io.h"
#include "support/util.h"

/* One initializer of the file, with the role its consumer gives it. */
typedef struct winit {
  snt_tensor_buf buf;
  const char *role;  /* kernel, bias, gamma, beta, moving_mean, moving_variance; NULL: not a weight */
  const char *kind;  /* conv2d, dense, batchnorm: the DSL op it fits */
  int layer;         /* index of its ONNX weight layer (in node order) */
  bool out_in;       /* a dense kernel stored [out, in] (Gemm with transB) */
  bool used;
} winit;

typedef struct wfile {
  winit *w;
  int n;
  int n_layers;
  const char **layer_names; /* ONNX node names, for messages */
} wfile;

static int find_init(const wfile *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (f->w[i].buf.name && strcmp(f->w[i].buf.name, name) == 0) return i;
  return -1;
}

/* Which node produced a tensor name (the op type), for Add-after-MatMul biases. */
static const char *producer_op(const Onnx__GraphProto *g, const char *name) {
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_output; k++)
      if (strcmp(g->node[i]->output[k], name) == 0) return g->node[i]->op_type;
  return NULL;
}

static bool attr_int(const Onnx__NodeProto *n, const char *name, int64_t def, int64_t *v) {
  *v = def;
  for (size_t i = 0; i < n->n_attribute; i++)
    if (strcmp(n->attribute[i]->name, name) == 0) *v = n->attribute[i]->i;
  return true;
}

/* Gives each initializer the role its consuming node and input slot give it. */
static void assign_roles(const Onnx__GraphProto *g, wfile *f) {
  static const char *const bn_roles[] = {NULL, "gamma", "beta", "moving_mean", "moving_variance"};
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    const char *op = n->op_type, *kind = NULL;
    bool layer = false;
    for (size_t k = 0; k < n->n_input; k++) {
      int w = find_init(f, n->input[k]);
      if (w < 0 || f->w[w].role) continue;
      const char *role = NULL;
      if (strcmp(op, "Conv") == 0 && k >= 1 && k <= 2) role = k == 1 ? "kernel" : "bias", kind = "conv2d";
      else if (strcmp(op, "BatchNormalization") == 0 && k >= 1 && k <= 4) role = bn_roles[k], kind = "batchnorm";
      else if (strcmp(op, "Gemm") == 0 && k >= 1 && k <= 2) {
        int64_t tb;
        attr_int(n, "transB", 0, &tb);
        role = k == 1 ? "kernel" : "bias", kind = "dense";
        f->w[w].out_in = k == 1 && tb;
      } else if (strcmp(op, "MatMul") == 0 && k == 1) role = "kernel", kind = "dense";
      else if (strcmp(op, "Add") == 0) {
        const char *other = producer_op(g, n->input[1 - (k & 1)]);
        if (other && strcmp(other, "MatMul") == 0) role = "bias", kind = "dense";
      }
      if (!role) continue;
      /* A MatMul's bias Add belongs to the MatMul's layer. */
      bool joins = strcmp(op, "Add") == 0;
      if (!layer && !joins) f->n_layers++, layer = true;
      f->w[w].role = role;
      f->w[w].kind = kind;
      f->w[w].layer = f->n_layers - 1;
      if (!joins) f->layer_names[f->n_layers - 1] = n->name && n->name[0] ? n->name : n->op_type;
    }
  }
}

/* True when `layer` is one of the segments of name split at '/', '.', ':'. */
static bool has_segment(const char *name, const char *layer) {
  size_t len = strlen(layer);
  for (const char *p = name; *p;) {
    size_t seg = strcspn(p, "/.:");
    if (seg == len && strncmp(p, layer, len) == 0) return true;
    p += seg;
    if (*p) p++;
  }
  return false;
}

static bool same_dims(const snt_tensor *t, const int64_t *dims, int rank) {
  if (t->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (t->dims[i] != dims[i]) return false;
  return true;
}

/* Copies w into the parameter, transposing an [out, in] dense kernel; checks the shape. */
static snt_status take(snt_graph *g, int t, winit *w, snt_diag *d, const char *path) {
  snt_tensor *p = &g->tensors[t];
  int64_t dims[SNT_MAX_RANK];
  memcpy(dims, w->buf.dims, sizeof dims);
  if (w->out_in) dims[0] = w->buf.dims[1], dims[1] = w->buf.dims[0];
  if (w->buf.dtype != SNT_F32 || !same_dims(p, dims, w->buf.rank)) {
    char a[128], b[128];
    snt_shape_str(a, sizeof a, p, 0);
    snt_tensor tmp = {.rank = w->buf.rank};
    memcpy(tmp.dims, dims, sizeof dims);
    snt_shape_str(b, sizeof b, &tmp, 0);
    return snt_diag_error(d, NULL, (snt_loc){0}, "%s: weights do not fit the model: '%s' (%s %s) does not fit parameter '%s' %s", path, w->buf.name,
                          snt_dtype_name(w->buf.dtype), b, p->name, a);
  }
  size_t bytes = (size_t)snt_tensor_numel(p) * sizeof(float);
  float *v = malloc(bytes + 1);
  if (!v) return SNT_ERR_NOMEM;
  const float *s = w->buf.data;
  if (w->out_in) {
    for (int64_t i = 0; i < dims[0]; i++)
      for (int64_t o = 0; o < dims[1]; o++) v[i * dims[1] + o] = s[o * dims[0] + i];
  } else {
    memcpy(v, s, bytes);
  }
  free(p->data);
  p->data = v;
  w->used = true;
  return SNT_OK;
}

static int match_by_name(snt_graph *g, wfile *f, snt_diag *d, const char *path, snt_status *st) {
  int matched = 0;
  for (int t = 0; t < g->n_tensors && !*st; t++) {
    snt_tensor *p = &g->tensors[t];
    if (p->kind != SNT_T_PARAM || p->owner < 0) continue;
    const char *layer = g->nodes[p->owner].name;
    int found = -1;
    for (int i = 0; i < f->n; i++) {
      winit *w = &f->w[i];
      if (!w->used && w->role && strcmp(w->role, p->role) == 0 && w->buf.name && has_segment(w->buf.name, layer)) {
        if (found >= 0) {
          *st = snt_diag_error(d, NULL, (snt_loc){0}, "%s: both '%s' and '%s' could be parameter '%s'", path,
                               f->w[found].buf.name, w->buf.name, p->name);
          return matched;
        }
        found = i;
      }
    }
    if (found >= 0 && !(*st = take(g, t, &f->w[found], d, path))) matched++;
  }
  return matched;
}

/* Pairs the model's parameterised layers with the file's weight layers in order. */
static snt_status match_by_structure(snt_graph *g, wfile *f, snt_diag *d, const char *path) {
  int layer = 0;
  for (int n = 0; n < g->n_nodes; n++) {
    const snt_node *nd = &g->nodes[n];
    if (nd->n_in == nd->n_act_in) continue;
    if (layer >= f->n_layers)
      return snt_diag_error(d, NULL, (snt_loc){0}, "%s: the file has %d weight layers; the model's layer '%s' (%s) has none",
                            path, f->n_layers, nd->name, nd->op->name);
    for (int k = nd->n_act_in; k < nd->n_in; k++) {
      snt_tensor *p = &g->tensors[nd->in[k]];
      int found = -1;
      for (int i = 0; i < f->n && found < 0; i++)
        if (f->w[i].role && f->w[i].layer == layer && strcmp(f->w[i].role, p->role) == 0) found = i;
      if (found < 0 || strcmp(f->w[found].kind, nd->op->name) != 0)
        return snt_diag_error(d, NULL, (snt_loc){0}, "%s: weights do not fit the model: layer '%s' (%s) needs a %s, but "
                              "weight layer %d of the file ('%s') has none of that kind", path, nd->name, nd->op->name,
                              p->role, layer + 1, f->layer_names[layer]);
      snt_status st = take(g, nd->in[k], &f->w[found], d, path);
      if (st) return st;
    }
    layer++;
  }
  return SNT_OK;
}

static snt_status check_complete(snt_graph *g, wfile *f, snt_diag *d, const char *path) {
  for (int t = 0; t < g->n_tensors; t++)
    if (g->tensors[t].kind == SNT_T_PARAM && !g->tensors[t].data)
      return snt_diag_error(d, NULL, (snt_loc){0}, "%s: weights do not fit the model: no weight for parameter '%s'", path, g->tensors[t].name);
  for (int i = 0; i < f->n; i++)
    if (f->w[i].role && !f->w[i].used)
      return snt_diag_error(d, NULL, (snt_loc){0}, "%s: weights do not fit the model: weight '%s' (%s of '%s') has no place in model '%s'", path,
                            f->w[i].buf.name, f->w[i].role, f->layer_names[f->w[i].layer], g->name);
  return SNT_OK;
}

snt_status snt_weights_load(snt_graph *g, const char *path, snt_diag *d, FILE *log) {
  Onnx__ModelProto *m = NULL;
  snt_err e;
  if (snt_onnx_load_model(path, &m, &e) != SNT_OK) return snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  const Onnx__GraphProto *gp = m->graph;
  wfile f = {.w = calloc(gp->n_initializer + 1, sizeof(winit)), .layer_names = calloc(gp->n_node + 1, sizeof(char *))};
  char *dir = NULL;
  snt_status st = f.w && f.layer_names ? snt_onnx_dirname(path, &dir, &e) : SNT_ERR_NOMEM;
  for (size_t i = 0; !st && i < gp->n_initializer; i++) {
    if (snt_onnx_tensor_decode(gp->initializer[i], dir, &f.w[f.n].buf, &e) != SNT_OK)
      st = snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
    else
      f.n++;
  }
  int by_name = 0;
  if (!st) {
    assign_roles(gp, &f);
    by_name = match_by_name(g, &f, d, path, &st);
    if (!st && by_name == 0) st = match_by_structure(g, &f, d, path);
    if (!st) st = check_complete(g, &f, d, path);
  }
  if (!st && log) {
    int total = 0;
    for (int t = 0; t < g->n_tensors; t++) total += g->tensors[t].kind == SNT_T_PARAM;
    fprintf(log, "weights: %d tensors from %s, matched %s\n", total, path,
            by_name ? "by Keras layer name" : "by structure (layer order and shapes)");
  }
  for (int i = 0; i < f.n; i++) snt_tensor_buf_free(&f.w[i].buf);
  free(f.w);
  free(f.layer_names);
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
