/* Mapping ONNX initializers onto a model's parameters (include/sinter/weight_map.h). */
#include "sinter/weight_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One initializer of the file, with the role its consumer gives it. */
typedef struct winit {
  const Onnx__TensorProto *tp;
  int init;         /* its index among the graph's initializers */
  const char *name;
  snt_dtype dtype;
  int rank;
  int64_t dims[SNT_MAX_RANK];
  const char *role; /* kernel, bias, gamma, beta, moving_mean, moving_variance; NULL: not a weight */
  const char *kind; /* conv2d, conv_transpose, dense, batchnorm: the op it fits */
  int layer;        /* index of its ONNX weight layer (in node order) */
  bool out_in;      /* a dense kernel stored [out, in] (Gemm with transB) */
  bool used;
} winit;

typedef struct wfile {
  winit *w; /* the initializers, then a copy for each further layer that shares one */
  int n;
  int n_layers;
  const char **layer_names; /* ONNX node names, for messages */
} wfile;

static int find_init(const wfile *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (f->w[i].name && strcmp(f->w[i].name, name) == 0) return i;
  return -1;
}

/* Which node produced a tensor name (the op type), for Add-after-MatMul biases. */
static const char *producer_op(const Onnx__GraphProto *g, const char *name) {
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_output; k++)
      if (strcmp(g->node[i]->output[k], name) == 0) return g->node[i]->op_type;
  return NULL;
}

static int64_t attr_int(const Onnx__NodeProto *n, const char *name, int64_t def) {
  int64_t v = def;
  for (size_t i = 0; i < n->n_attribute; i++)
    if (strcmp(n->attribute[i]->name, name) == 0) v = n->attribute[i]->i;
  return v;
}

/* The initializer a node input reads, directly or through Identity nodes (PyTorch's exporter
 * merges equal initializers and feeds the other users through an Identity); -1 if none. */
static int find_weight(const Onnx__GraphProto *g, const wfile *f, const char *name) {
  for (int depth = 0; depth < 8; depth++) {
    int w = find_init(f, name);
    if (w >= 0) return w;
    const Onnx__NodeProto *p = NULL;
    for (size_t i = 0; i < g->n_node && !p; i++)
      for (size_t k = 0; k < g->node[i]->n_output && !p; k++)
        if (strcmp(g->node[i]->output[k], name) == 0) p = g->node[i];
    if (!p || strcmp(p->op_type, "Identity") != 0 || p->n_input != 1) return -1;
    name = p->input[0];
  }
  return -1;
}

/* Gives each initializer the role its consuming node and input slot give it. */
static void assign_roles(const Onnx__GraphProto *g, wfile *f) {
  static const char *const bn_roles[] = {NULL, "gamma", "beta", "moving_mean", "moving_variance"};
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    const char *op = n->op_type, *kind = NULL;
    bool layer = false;
    for (size_t k = 0; k < n->n_input; k++) {
      int w = find_weight(g, f, n->input[k]);
      if (w < 0) continue;
      const char *role = NULL;
      bool out_in = false;
      if (strcmp(op, "Conv") == 0 && k >= 1 && k <= 2) role = k == 1 ? "kernel" : "bias", kind = "conv2d";
      else if (strcmp(op, "ConvTranspose") == 0 && k >= 1 && k <= 2) role = k == 1 ? "kernel" : "bias", kind = "conv_transpose";
      else if (strcmp(op, "BatchNormalization") == 0 && k >= 1 && k <= 4) role = bn_roles[k], kind = "batchnorm";
      else if (strcmp(op, "Gemm") == 0 && k >= 1 && k <= 2) {
        role = k == 1 ? "kernel" : "bias", kind = "dense";
        out_in = k == 1 && attr_int(n, "transB", 0);
      } else if (strcmp(op, "MatMul") == 0 && k == 1) role = "kernel", kind = "dense";
      else if (strcmp(op, "Add") == 0 && n->n_input >= 2) {
        const char *other = producer_op(g, n->input[1 - (k & 1)]);
        if (other && strcmp(other, "MatMul") == 0) role = "bias", kind = "dense";
      }
      if (!role) continue;
      /* An initializer several layers read (exporters merge equal ones: every BatchNorm's gamma
       * of 1 at initialisation) is a weight of each: a copy per further layer. */
      if (f->w[w].role) {
        winit copy = f->w[w];
        copy.role = NULL, copy.used = false;
        f->w[w = f->n++] = copy;
      }
      if (strcmp(op, "Gemm") == 0) f->w[w].out_in = out_in;
      /* A MatMul's bias Add belongs to the MatMul's layer. */
      bool joins = strcmp(op, "Add") == 0;
      if (!layer && !joins) f->n_layers++, layer = true;
      if (f->n_layers == 0) continue; /* an Add before any weight layer */
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

/* "(a, b)", "(a,)", "()" as the compiler prints shapes. */
static void shape_str(char *buf, size_t size, int rank, const int64_t *dims) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, size - o, "(");
  for (int i = 0; i < rank && o < size; i++) o += (size_t)snprintf(buf + o, size - o, "%s%lld", i ? ", " : "", (long long)dims[i]);
  if (o < size && rank == 1) o += (size_t)snprintf(buf + o, size - o, ",");
  if (o < size) snprintf(buf + o, size - o, ")");
}

static bool is_bn_role(const char *role) {
  return strcmp(role, "gamma") == 0 || strcmp(role, "beta") == 0 || strcmp(role, "moving_mean") == 0 ||
         strcmp(role, "moving_variance") == 0;
}

static bool known_role(const char *role) { return role && (strcmp(role, "kernel") == 0 || strcmp(role, "bias") == 0 || is_bn_role(role)); }

static bool same_layer(const snt_wmap_target *a, const snt_wmap_target *b) {
  return a->layer && b->layer && strcmp(a->layer, b->layer) == 0;
}

/* The op of the layer whose parameters are targets [first, end). */
static const char *layer_kind(const snt_wmap_target *t, int first, int end) {
  for (int i = first; i < end; i++)
    if (t[i].kind) return t[i].kind;
  for (int i = first; i < end; i++)
    if (t[i].role && is_bn_role(t[i].role)) return "batchnorm";
  for (int i = first; i < end; i++)
    if (t[i].role && strcmp(t[i].role, "kernel") == 0) return t[i].rank == 2 ? "dense" : "conv2d";
  return "?";
}

/* Checks w against the target (transposing an [out, in] dense kernel) and records the match. */
static snt_status take(const snt_wmap_target *t, winit *w, int wi, snt_wmap_how how, snt_wmap_match *mt,
                       const snt_wmap_opts *o, snt_err *e) {
  int64_t dims[SNT_MAX_RANK];
  memcpy(dims, w->dims, sizeof dims);
  if (w->out_in && w->rank == 2) dims[0] = w->dims[1], dims[1] = w->dims[0];
  bool same = w->dtype == t->dtype && w->rank == t->rank;
  for (int i = 0; same && i < t->rank; i++) same = dims[i] == t->dims[i];
  if (!same) {
    char a[128], b[128];
    shape_str(a, sizeof a, t->rank, t->dims);
    shape_str(b, sizeof b, w->rank, dims);
    return snt_err_set(e, SNT_ERR_INPUT, "%s: weights do not fit the model: '%s' (%s %s) does not fit parameter '%s' %s", o->path,
                       w->name, snt_dtype_name(w->dtype), b, t->name, a);
  }
  (void)wi;
  mt->init = w->init;
  mt->transpose = w->out_in && w->rank == 2;
  mt->how = how;
  w->used = true;
  return SNT_OK;
}

static int match_by_name(const snt_wmap_target *t, int n, wfile *f, snt_wmap_match *out, const snt_wmap_opts *o,
                         snt_err *e, snt_status *st) {
  int matched = 0;
  for (int p = 0; p < n && !*st; p++) {
    if (!t[p].layer || !t[p].role || out[p].how != SNT_WMAP_NONE) continue;
    int found = -1;
    for (int i = 0; i < f->n; i++) {
      winit *w = &f->w[i];
      if (!w->used && w->role && strcmp(w->role, t[p].role) == 0 && w->name && has_segment(w->name, t[p].layer)) {
        if (found >= 0) {
          *st = snt_err_set(e, SNT_ERR_INPUT, "%s: both '%s' and '%s' could be parameter '%s'", o->path, f->w[found].name, w->name,
                            t[p].name);
          return matched;
        }
        found = i;
      }
    }
    if (found >= 0 && !(*st = take(&t[p], &f->w[found], found, SNT_WMAP_LAYER, &out[p], o, e))) matched++;
  }
  return matched;
}

/* Pairs the model's parameterised layers with the file's weight layers in order. */
static snt_status match_by_structure(const snt_wmap_target *t, int n, wfile *f, snt_wmap_match *out, const snt_wmap_opts *o,
                                     snt_err *e) {
  int layer = 0;
  for (int first = 0, end; first < n; first = end) {
    end = first + 1;
    if (!t[first].layer) continue;
    while (end < n && same_layer(&t[first], &t[end])) end++;
    const char *kind = layer_kind(t, first, end);
    if (layer >= f->n_layers)
      return snt_err_set(e, SNT_ERR_INPUT, "%s: the file has %d weight layers; the model's layer '%s' (%s) has none", o->path,
                         f->n_layers, t[first].layer, kind);
    for (int p = first; p < end; p++) {
      int found = -1;
      for (int i = 0; i < f->n && found < 0; i++)
        if (f->w[i].role && t[p].role && f->w[i].layer == layer && strcmp(f->w[i].role, t[p].role) == 0) found = i;
      if (found < 0 || strcmp(f->w[found].kind, kind) != 0)
        return snt_err_set(e, SNT_ERR_INPUT,
                           "%s: weights do not fit the model: layer '%s' (%s) needs a %s, but "
                           "weight layer %d of the file ('%s') has none of that kind",
                           o->path, t[first].layer, kind, t[p].role ? t[p].role : "?", layer + 1, f->layer_names[layer]);
      snt_status st = take(&t[p], &f->w[found], found, SNT_WMAP_STRUCTURE, &out[p], o, e);
      if (st) return st;
    }
    layer++;
  }
  return SNT_OK;
}

static snt_status check_complete(const snt_wmap_target *t, int n, wfile *f, const snt_wmap_match *out, const snt_wmap_opts *o,
                                 snt_err *e) {
  for (int p = 0; p < n; p++)
    if (out[p].how == SNT_WMAP_NONE)
      return snt_err_set(e, SNT_ERR_INPUT, "%s: weights do not fit the model: no weight for parameter '%s'", o->path, t[p].name);
  for (int i = 0; i < f->n; i++)
    if (f->w[i].role && !f->w[i].used)
      return snt_err_set(e, SNT_ERR_INPUT, "%s: weights do not fit the model: weight '%s' (%s of '%s') has no place in model '%s'",
                         o->path, f->w[i].name, f->w[i].role, f->layer_names[f->w[i].layer], o->model ? o->model : "?");
  return SNT_OK;
}

static void reset(snt_wmap_match *out, int n) {
  for (int p = 0; p < n; p++) out[p] = (snt_wmap_match){.init = -1, .how = SNT_WMAP_NONE};
}

snt_status snt_wmap_match_targets(const Onnx__ModelProto *m, const snt_wmap_target *t, int n, const snt_wmap_opts *o,
                                  snt_wmap_match *out, snt_wmap_how *by, snt_err *e) {
  reset(out, n);
  if (by) *by = SNT_WMAP_NONE;
  const Onnx__GraphProto *gp = m ? m->graph : NULL;
  if (!gp) return snt_err_set(e, SNT_ERR_INPUT, "%s: the model has no graph", o->path);
  size_t uses = gp->n_initializer + 1; /* room for a copy per node input (shared initializers) */
  for (size_t i = 0; i < gp->n_node; i++) uses += gp->node[i]->n_input;
  wfile f = {.w = calloc(uses, sizeof(winit)), .layer_names = calloc(gp->n_node + 1, sizeof(char *))};
  if (!f.w || !f.layer_names) {
    free(f.w);
    free(f.layer_names);
    return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory", o->path);
  }
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    winit *w = &f.w[f.n++];
    w->tp = tp;
    w->init = (int)i;
    w->name = tp->name;
    w->dtype = (snt_dtype)tp->data_type;
    w->rank = tp->n_dims <= SNT_MAX_RANK ? (int)tp->n_dims : -1;
    for (int k = 0; k < w->rank; k++) w->dims[k] = tp->dims[k];
  }
  snt_status st = SNT_OK;
  int exact = 0;
  assign_roles(gp, &f);
  if (o->exact_first) {
    /* Shapes are checked here too: a Gemm transB=1 kernel named exactly "dense/kernel" (as
     * PyTorch exports of Keras-named models store it) is [out, in] and gets transposed. */
    for (int p = 0; p < n && !st; p++) {
      int i = t[p].name ? find_init(&f, t[p].name) : -1;
      if (i < 0 || f.w[i].used) continue;
      if (!(st = take(&t[p], &f.w[i], i, SNT_WMAP_EXACT, &out[p], o, e))) exact++;
    }
    if (st) goto done;
    if (o->strict) {
      if (exact == n) {
        if (by) *by = SNT_WMAP_EXACT;
        goto done;
      }
      /* Not a file of this model's own names: the whole file goes through the mapping. */
      reset(out, n);
      for (int i = 0; i < f.n; i++) f.w[i].used = false;
      exact = 0;
    }
  }
  int by_name = match_by_name(t, n, &f, out, o, e, &st);
  if (by) *by = by_name ? SNT_WMAP_LAYER : exact ? SNT_WMAP_EXACT : SNT_WMAP_NONE;
  if (o->strict) {
    if (!st && by_name == 0) {
      st = match_by_structure(t, n, &f, out, o, e);
      if (by) *by = SNT_WMAP_STRUCTURE;
    }
    if (!st) st = check_complete(t, n, &f, out, o, e);
  }
done:
  free(f.w);
  free(f.layer_names);
  return st;
}

snt_status snt_wmap_copy_f32(const snt_tensor_buf *src, const snt_wmap_match *mt, const snt_wmap_target *t, float *dst,
                             snt_err *e) {
  int64_t n = 1;
  for (int k = 0; k < t->rank; k++) n *= t->dims[k];
  if (src->dtype != SNT_F32 || snt_tensor_buf_numel(src) != n || (mt->transpose && (src->rank != 2 || t->rank != 2)))
    return snt_err_set(e, SNT_ERR_INPUT, "initializer '%s' has %lld %s values, parameter '%s' %lld float values",
                       src->name ? src->name : "?", (long long)snt_tensor_buf_numel(src), snt_dtype_name(src->dtype), t->name,
                       (long long)n);
  const float *s = src->data;
  if (mt->transpose) {
    int64_t in = t->dims[0], outs = t->dims[1];
    for (int64_t i = 0; i < in; i++)
      for (int64_t o = 0; o < outs; o++) dst[i * outs + o] = s[o * in + i];
  } else {
    memcpy(dst, s, sizeof(float) * (size_t)n);
  }
  return SNT_OK;
}

bool snt_wmap_split_name(const char *name, char *buf, size_t cap, const char **role) {
  const char *slash = name ? strrchr(name, '/') : NULL;
  if (!slash || (size_t)(slash - name) >= cap) return false;
  memcpy(buf, name, (size_t)(slash - name));
  buf[slash - name] = '\0';
  *role = slash + 1;
  return true;
}

bool snt_wmap_is_role(const char *role) { return known_role(role); }
