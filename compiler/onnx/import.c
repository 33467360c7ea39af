/* ONNX graph to IR: initializers, inputs, one IR node per ONNX node, outputs. */
#include "compiler/onnx/import.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/onnx/functions.h"
#include "compiler/onnx/validate.h"
#include "compiler/onnx/versions.h"
#include "compiler/op.h"
#include "compiler/passes/legalize_types.h"
#include "compiler/passes/passes.h"
#include "sinter/onnx_io.h"
#include "support/util.h"

enum { MIN_OPSET = 1, MAX_OPSET = 21 };

typedef struct import_ctx {
  snt_diag *d;
  const char *path;
  char *base_dir;
  const snt_onnx_import_opts *o;
  snt_graph *g;
  int opset;
  /* tensor names to indices: open addressing, index + 1, 0 = empty */
  int *map;
  int map_cap;
  int if_depth; /* nested If branches being imported */
} import_ctx;

static uint32_t hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static int lookup(const import_ctx *c, const char *name) {
  for (uint32_t i = hash(name) & (uint32_t)(c->map_cap - 1);; i = (i + 1) & (uint32_t)(c->map_cap - 1)) {
    if (!c->map[i]) return -1;
    if (strcmp(c->g->tensors[c->map[i] - 1].name, name) == 0) return c->map[i] - 1;
  }
}

/* Binds a name to a tensor; a later binding of the same name replaces it (SSA says it
 * cannot happen in a valid model, but a bad file must not corrupt the map). */
static snt_status grow(import_ctx *c) {
  int cap = c->map_cap ? c->map_cap * 2 : 256;
  int *m = calloc((size_t)cap, sizeof *m);
  if (!m) return SNT_ERR_NOMEM;
  free(c->map);
  c->map = m;
  c->map_cap = cap;
  for (int t = 0; t < c->g->n_tensors - 1; t++) {
    uint32_t i = hash(c->g->tensors[t].name) & (uint32_t)(cap - 1);
    while (m[i]) i = (i + 1) & (uint32_t)(cap - 1);
    m[i] = t + 1;
  }
  return SNT_OK;
}

static void bind(import_ctx *c, int t) {
  if (c->g->n_tensors * 2 > c->map_cap && grow(c) != SNT_OK) return; /* the lookup then fails cleanly */
  uint32_t i = hash(c->g->tensors[t].name) & (uint32_t)(c->map_cap - 1);
  while (c->map[i] && strcmp(c->g->tensors[c->map[i] - 1].name, c->g->tensors[t].name) != 0)
    i = (i + 1) & (uint32_t)(c->map_cap - 1);
  c->map[i] = t + 1;
}

static snt_status err(import_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static snt_status err(import_ctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *m = snt_vformat(fmt, ap);
  va_end(ap);
  snt_diag_error(c->d, NULL, (snt_loc){0}, "%s: %s", c->path, m ? m : "out of memory");
  free(m);
  return SNT_ERR_INPUT;
}

static const snt_tensor_buf *given(const import_ctx *c, const char *name) {
  for (int i = 0; i < c->o->n_given; i++)
    if (c->o->given[i].name && strcmp(c->o->given[i].name, name) == 0) return &c->o->given[i];
  return NULL;
}

/* Adds a tensor holding `buf`'s values (the data moves into the graph). */
static int add_valued(import_ctx *c, const char *name, snt_tensor_kind kind, snt_tensor_buf *buf) {
  int t = snt_ir_add_tensor(c->g, name, kind, buf->dtype, buf->rank, buf->dims);
  if (t < 0) return -1;
  c->g->tensors[t].data = buf->data;
  buf->data = NULL;
  bind(c, t);
  return t;
}

static snt_status initializers(import_ctx *c, const Onnx__GraphProto *gp) {
  for (size_t i = 0; i < gp->n_initializer; i++) {
    snt_tensor_buf b = {0};
    snt_err e;
    if (snt_onnx_tensor_decode(gp->initializer[i], c->base_dir, &b, &e) != SNT_OK)
      return err(c, "initializer %zu: %s", i, e.msg);
    if (!b.name || !b.name[0]) {
      snt_tensor_buf_free(&b);
      return err(c, "initializer %zu has no name", i);
    }
    int t = add_valued(c, b.name, SNT_T_CONST, &b);
    snt_tensor_buf_free(&b);
    if (t < 0) return SNT_ERR_NOMEM;
    snt_status st = snt_onnx_validate_tensor(c->d, c->g, t, "initializer");
    if (st) return st;
  }
  return SNT_OK;
}

/* A graph input's shape: from a given value, else the declared type with a symbolic
 * first dimension bound to the batch. */
static snt_status input_shape(import_ctx *c, const Onnx__ValueInfoProto *vi, snt_dtype *dt, int *rank, int64_t *dims) {
  const snt_tensor_buf *v = given(c, vi->name);
  if (v) {
    *dt = v->dtype;
    /* ONNX 1.12's test data stores BFLOAT16 values as UINT16: the same bits. */
    const Onnx__TypeProto *dtp = vi->type;
    if (*dt == SNT_U16 && dtp && dtp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && dtp->tensor_type &&
        dtp->tensor_type->elem_type == SNT_BF16)
      *dt = SNT_BF16;
    *rank = v->rank;
    memcpy(dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    return SNT_OK;
  }
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
    return err(c, "graph input '%s' is not a tensor", vi->name);
  *dt = (snt_dtype)tp->tensor_type->elem_type;
  if (!snt_dtype_ctype(*dt)) return err(c, "graph input '%s' has element type %d, which sinter cannot compute with", vi->name, (int)*dt);
  const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
  if (!sh) return err(c, "graph input '%s' has no shape: give a value for it", vi->name);
  if (sh->n_dim > SNT_MAX_RANK) return err(c, "graph input '%s' has rank %zu (at most %d)", vi->name, sh->n_dim, SNT_MAX_RANK);
  *rank = (int)sh->n_dim;
  for (size_t k = 0; k < sh->n_dim; k++) {
    const Onnx__TensorShapeProto__Dimension *dm = sh->dim[k];
    if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dm->dim_value >= 0) {
      dims[k] = dm->dim_value;
    } else if (k == 0) {
      dims[k] = c->o->batch > 0 ? c->o->batch : 1;
    } else {
      return err(c, "graph input '%s' has a symbolic dimension %zu ('%s'): give an input of that shape", vi->name, k,
                 dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM ? dm->dim_param : "?");
    }
  }
  return SNT_OK;
}

static bool symbolic_first_dim(const Onnx__ValueInfoProto *vi) {
  const Onnx__TypeProto *tp = vi->type;
  const Onnx__TensorShapeProto *sh = tp && tp->tensor_type ? tp->tensor_type->shape : NULL;
  return sh && sh->n_dim > 0 && sh->dim[0]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
}

static const snt_op *find_op(const char *onnx_type);

static int producer_of(const snt_onnx_flat *flat, const char *name) {
  for (int k = 0; k < flat->n; k++)
    for (size_t o = 0; o < flat->nodes[k].np->n_output; o++)
      if (flat->nodes[k].np->output[o] && strcmp(flat->nodes[k].np->output[o], name) == 0) return k;
  return -1;
}

/* The graph inputs with a given value that reach a shape-determining node input (a Range's
 * limit, a Reshape's shape) through any chain of nodes: they become constants, so that the
 * chain folds at import. NULL when none can (no values given) or out of memory. */
static bool *shape_inputs(const import_ctx *c, const Onnx__GraphProto *gp, const snt_onnx_flat *flat) {
  if (!c->o->n_given || !gp->n_input) return NULL;
  bool *marked = calloc(gp->n_input, sizeof *marked), *seen = calloc((size_t)flat->n + 1, sizeof *seen);
  const char **work = NULL;
  int n_work = 0, cap = 0;
  for (int k = 0; marked && seen && k < flat->n; k++) {
    const snt_op *op = find_op(flat->nodes[k].np->op_type);
    for (size_t s = 0; op && s < flat->nodes[k].np->n_input && s < 32; s++) {
      if (!((op->onnx_const_inputs >> s) & 1) || !flat->nodes[k].np->input[s][0]) continue;
      if (!SNT_GROW(work, n_work + 1, cap)) break;
      work[n_work++] = flat->nodes[k].np->input[s];
    }
  }
  while (marked && seen && work && n_work > 0) {
    const char *name = work[--n_work];
    for (size_t i = 0; i < gp->n_input; i++)
      if (strcmp(gp->input[i]->name, name) == 0) marked[i] = true;
    int k = producer_of(flat, name);
    if (k < 0 || seen[k]) continue;
    seen[k] = true;
    for (size_t s = 0; s < flat->nodes[k].np->n_input; s++) {
      if (!flat->nodes[k].np->input[s][0]) continue;
      if (!SNT_GROW(work, n_work + 1, cap)) break;
      work[n_work++] = flat->nodes[k].np->input[s];
    }
  }
  free(work);
  free(seen);
  return marked;
}

static snt_status inputs(import_ctx *c, const Onnx__GraphProto *gp, const snt_onnx_flat *flat) {
  bool *to_const = shape_inputs(c, gp, flat);
  snt_status st = SNT_OK;
  for (size_t i = 0; !st && i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    if (lookup(c, vi->name) >= 0) continue; /* an initializer also listed as an input */
    snt_dtype dt = SNT_UNDEFINED;
    int rank = 0;
    int64_t dims[SNT_MAX_RANK];
    if ((st = input_shape(c, vi, &dt, &rank, dims))) break;
    int t = snt_ir_add_tensor(c->g, vi->name, SNT_T_INPUT, dt, rank, dims);
    if (t < 0 || snt_ir_mark_input(c->g, t)) {
      st = SNT_ERR_NOMEM;
      break;
    }
    const snt_tensor_buf *v = given(c, vi->name);
    c->g->tensors[t].batched = !v && symbolic_first_dim(vi);
    bind(c, t);
    if ((st = snt_onnx_validate_tensor(c->d, c->g, t, "graph input"))) break;
    if (to_const && to_const[i] && v) { /* known when compiling, as node_inputs makes a direct one */
      snt_tensor *x = &c->g->tensors[t];
      x->kind = SNT_T_CONST, x->fixed = true;
      if (!(x->data = malloc(snt_tensor_buf_nbytes(v) + 1))) st = SNT_ERR_NOMEM;
      else memcpy(x->data, v->data, snt_tensor_buf_nbytes(v));
    }
  }
  free(to_const);
  return st;
}

/* A one-element TENSOR attribute (ConstantOfShape's value) as NAME_dtype and NAME_bits (its
 * bytes); *one is false for any other tensor. */
static snt_status tensor_attr(import_ctx *c, const Onnx__AttributeProto *a, snt_node *n, const char *nname,
                              const char *op_type, bool *one) {
  snt_tensor_buf b = {0};
  snt_err e;
  if (snt_onnx_tensor_decode(a->t, c->base_dir, &b, &e))
    return err(c, "node '%s' (%s, opset %d): attribute '%s': %s", nname, op_type, c->opset, a->name, e.msg);
  size_t es = snt_dtype_size(b.dtype);
  snt_status st = SNT_OK;
  *one = snt_tensor_buf_numel(&b) == 1 && es > 0 && es <= 8;
  if (*one) {
    uint64_t bits = 0;
    memcpy(&bits, b.data, es);
    char key[300];
    snprintf(key, sizeof key, "%s_dtype", a->name);
    st = snt_node_set_int(n, key, b.dtype);
    snprintf(key, sizeof key, "%s_bits", a->name);
    if (!st) st = snt_node_set_int(n, key, (int64_t)bits);
  }
  snt_tensor_buf_free(&b);
  return st;
}

/* Copies the ONNX attributes onto the node under their ONNX names. */
static snt_status copy_attrs(import_ctx *c, const Onnx__NodeProto *np, snt_node *n, const char *nname) {
  for (size_t i = 0; i < np->n_attribute; i++) {
    const Onnx__AttributeProto *a = np->attribute[i];
    if (snt_onnx_attr_internal(a->name)) continue;
    snt_status st;
    bool one = false;
    switch (a->type) {
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: st = snt_node_set_int(n, a->name, a->i); break;
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: st = snt_node_set_float(n, a->name, a->f); break;
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: st = snt_node_set_ints(n, a->name, (int)a->n_ints, a->ints); break;
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: {
        double *f = malloc(sizeof(double) * (a->n_floats + 1));
        if (!f) return SNT_ERR_NOMEM;
        for (size_t k = 0; k < a->n_floats; k++) f[k] = a->floats[k];
        st = snt_node_set_floats(n, a->name, (int)a->n_floats, f);
        free(f);
        break;
      }
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
        char *s = snt_strndup((const char *)a->s.data, a->s.len);
        st = s ? snt_node_set_string(n, a->name, s) : SNT_ERR_NOMEM;
        free(s);
        break;
      }
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        if (a->t && ((st = tensor_attr(c, a, n, nname, np->op_type, &one)) || one)) break;
        __attribute__((fallthrough)); /* not a one-element tensor */
      default:
        return err(c, "node '%s' (%s, opset %d): attribute '%s' has a type sinter does not support", nname,
                   np->op_type, c->opset, a->name);
    }
    if (st) return st;
  }
  return SNT_OK;
}

/* A Constant node becomes a constant tensor; nothing runs for it. */
static snt_status constant(import_ctx *c, const Onnx__NodeProto *np, const char *nname) {
  if (np->n_output != 1 || np->n_attribute != 1) return err(c, "node '%s' (Constant, opset %d): expects one attribute and one output", nname, c->opset);
  const Onnx__AttributeProto *a = np->attribute[0];
  snt_tensor_buf b = {0};
  snt_err e;
  if (strcmp(a->name, "value") == 0 && a->t) {
    if (snt_onnx_tensor_decode(a->t, c->base_dir, &b, &e)) return err(c, "node '%s' (Constant): %s", nname, e.msg);
  } else if (strcmp(a->name, "value_float") == 0 || strcmp(a->name, "value_int") == 0) {
    bool f = a->name[6] == 'f';
    b.dtype = f ? SNT_F32 : SNT_I64;
    b.data = malloc(8);
    if (!b.data) return SNT_ERR_NOMEM;
    if (f) *(float *)b.data = a->f;
    else *(int64_t *)b.data = a->i;
  } else if (strcmp(a->name, "value_floats") == 0 || strcmp(a->name, "value_ints") == 0) {
    bool f = a->name[6] == 'f';
    size_t n = f ? a->n_floats : a->n_ints;
    b.dtype = f ? SNT_F32 : SNT_I64;
    b.rank = 1;
    b.dims[0] = (int64_t)n;
    b.data = malloc(8 * (n + 1));
    if (!b.data) return SNT_ERR_NOMEM;
    if (f) memcpy(b.data, a->floats, 4 * n);
    else memcpy(b.data, a->ints, 8 * n);
  } else {
    return err(c, "node '%s' (Constant, opset %d): attribute '%s' is not supported (value, value_float(s), value_int(s) are)",
               nname, c->opset, a->name);
  }
  int t = add_valued(c, np->output[0], SNT_T_CONST, &b);
  snt_tensor_buf_free(&b);
  return t < 0 ? SNT_ERR_NOMEM : snt_onnx_validate_tensor(c->d, c->g, t, "Constant");
}

static const snt_op *find_op(const char *onnx_type) {
  for (int i = 0; i < snt_op_count(); i++)
    if (snt_op_at(i)->onnx_type && strcmp(snt_op_at(i)->onnx_type, onnx_type) == 0) return snt_op_at(i);
  return NULL;
}

/* FLOAT and DOUBLE weights only: a 16-bit one is converted in place for its node
 * (snt_legalize_node), which would change it under a later node that reads it too. */
static bool weight_type(snt_dtype t) { return t == SNT_F32 || t == SNT_F64; }

static snt_status node_inputs(import_ctx *c, const Onnx__NodeProto *np, int node, const char *nname) {
  const snt_op *op = c->g->nodes[node].op;
  size_t n_in = np->n_input;
  while (n_in > 0 && !np->input[n_in - 1][0]) n_in--; /* trailing omitted inputs */
  for (size_t k = 0; k < n_in; k++) {
    int t = -1;
    if (np->input[k][0]) {
      t = lookup(c, np->input[k]);
      if (t < 0)
        return err(c, "node '%s' (%s, opset %d) reads '%s', which no input, initializer or earlier node provides",
                   nname, np->op_type, c->opset, np->input[k]);
      if (k < 32 && (op->onnx_const_inputs >> k) & 1 && c->g->tensors[t].kind != SNT_T_CONST) {
        const snt_tensor_buf *v = given(c, np->input[k]);
        if (c->g->tensors[t].kind != SNT_T_INPUT || !v)
          return err(c, "node '%s' (%s, opset %d): input %zu ('%s') determines a shape, so its value must be known "
                     "when compiling: make it an initializer or a constant, or give its value", nname, np->op_type,
                     c->opset, k + 1, np->input[k]);
        /* A graph input known at compile time becomes a constant here. */
        snt_tensor *x = &c->g->tensors[t];
        x->kind = SNT_T_CONST;
        x->data = malloc(snt_tensor_buf_nbytes(v) + 1);
        if (!x->data) return SNT_ERR_NOMEM;
        memcpy(x->data, v->data, snt_tensor_buf_nbytes(v));
      }
    }
    if (snt_ir_node_add_input(c->g, node, t)) return SNT_ERR_NOMEM;
  }
  snt_node *n = &c->g->nodes[node];
  n->n_act_in = op->max_inputs < 0 || op->max_inputs > n->n_in ? n->n_in : op->max_inputs;
  /* Initializers read at weight slots (past the activation inputs, or marked in
   * onnx_weight_inputs) are the layer's parameters; shape-determining slots (a Reshape's shape)
   * stay constants, so another node may read the same initializer. */
  for (int k = 0; k < n->n_in; k++) {
    if (n->in[k] < 0 || (k < 32 && (op->onnx_const_inputs >> k) & 1)) continue;
    snt_tensor *w = &c->g->tensors[n->in[k]];
    if (k < n->n_act_in && !(k < 32 && (op->onnx_weight_inputs >> k) & 1 && weight_type(w->dtype))) continue;
    if (w->kind == SNT_T_CONST && w->producer < 0 && w->owner < 0) {
      w->kind = SNT_T_PARAM, w->owner = node, w->trainable = true;
      /* Roles by slot let passes and emitters find parameters as in DSL models. */
      const char *const *roles = op->onnx_roles; /* slot 0 is data, then roles up to a NULL */
      int len = 1;
      while (roles && roles[len]) len++;
      if (roles && k < len) w->role = roles[k];
      if (w->role && (strcmp(w->role, "moving_mean") == 0 || strcmp(w->role, "moving_variance") == 0)) w->trainable = false;
    }
  }
  return SNT_OK;
}

/* The checks a node passes on its own: domain, op, attributes against the op's schema. */
static snt_status check_node(import_ctx *c, const Onnx__NodeProto *np, const char *nname, const snt_source *src,
                             const snt_op **op) {
  *op = NULL;
  if (np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx") != 0)
    return err(c, "node '%s' (%s): domain '%s' is not supported (only ai.onnx)", nname, np->op_type, np->domain);
  if (strcmp(np->op_type, "Constant") == 0) return SNT_OK;
  if (strcmp(np->op_type, "If") == 0) return SNT_OK; /* if_node: compiled when its condition is a constant */
  if (!(*op = find_op(np->op_type)))
    return err(c, "node '%s': op %s (opset %d) is not supported", nname, np->op_type, c->opset);
  int first = snt_onnx_introduced_18(np->op_type);
  if (c->opset < first)
    return err(c, "node '%s': op %s does not exist before opset %d (the node is read at opset %d)", nname, np->op_type, first,
               c->opset);
  int v = snt_onnx_since_18(np->op_type, c->opset);
  if (v > (*op)->onnx_upto)
    return err(c, "node '%s': op %s version %d (opset %d) is not supported yet: sinter follows %s up to opset %d", nname,
               np->op_type, v, c->opset, np->op_type, (*op)->onnx_upto > 17 ? (*op)->onnx_upto : 17);
  snt_onnx_site at = {src, nname, np->op_type, c->opset};
  return snt_onnx_validate_node(c->d, &at, *op, np);
}

static const char *node_name(const Onnx__NodeProto *np, int index, char fallback[64]) {
  snprintf(fallback, 64, "%s_%d", np->op_type, index);
  return np->name && np->name[0] ? np->name : fallback;
}

snt_status snt_onnx_check_node(snt_diag *d, const snt_source *src, const Onnx__NodeProto *np, int index, int opset) {
  import_ctx c = {.d = d, .path = src->path, .opset = opset};
  char fallback[64];
  const snt_op *op;
  return check_node(&c, np, node_name(np, index, fallback), src, &op);
}

static snt_status node(import_ctx *c, const Onnx__NodeProto *np, int index);

enum { MAX_IF_DEPTH = 16 };

static const Onnx__GraphProto *branch_of(const Onnx__NodeProto *np, const char *name) {
  for (size_t i = 0; i < np->n_attribute; i++)
    if (strcmp(np->attribute[i]->name, name) == 0 && np->attribute[i]->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)
      return np->attribute[i]->g;
  return NULL;
}

/* Each If output is an Identity of its branch's output, read through the usual node path. */
static snt_status branch_outputs(import_ctx *c, const Onnx__NodeProto *np, const Onnx__GraphProto *b, int index) {
  for (size_t k = 0; k < np->n_output; k++) {
    Onnx__NodeProto id;
    onnx__node_proto__init(&id);
    char name[96], *in = b->output[k]->name, *out = np->output[k];
    snprintf(name, sizeof name, "%.60s:out%zu", np->name && np->name[0] ? np->name : "If", k);
    id.name = name, id.op_type = "Identity", id.n_input = 1, id.input = &in, id.n_output = 1, id.output = &out;
    snt_status st = node(c, &id, index);
    if (st) return st;
  }
  return SNT_OK;
}

/* An If whose condition is known when compiling (a rank or shape test, as PyTorch exports)
 * becomes the nodes of the branch it takes; a condition computed from data cannot be
 * compiled into a static plan. Branch nodes read outer names directly (ONNX scoping). */
static snt_status if_node(import_ctx *c, const Onnx__NodeProto *np, const char *nname) {
  if (np->n_input != 1 || !np->input[0][0]) return err(c, "node '%s' (If, opset %d): takes 1 input, got %zu", nname, c->opset, np->n_input);
  const Onnx__GraphProto *then_g = branch_of(np, "then_branch"), *else_g = branch_of(np, "else_branch");
  if (!then_g || !else_g) return err(c, "node '%s' (If, opset %d): needs then_branch and else_branch graph attributes", nname, c->opset);
  int t = lookup(c, np->input[0]);
  if (t < 0) return err(c, "node '%s' (If, opset %d) reads '%s', which no input, initializer or earlier node provides", nname, c->opset, np->input[0]);
  const snt_tensor *cond = &c->g->tensors[t];
  if (cond->kind != SNT_T_CONST || !cond->data || cond->dtype != SNT_BOOL || snt_tensor_numel(cond) != 1)
    return err(c, "node '%s' (If, opset %d): its condition '%s' must be one BOOL known when compiling (sinter compiles "
               "the branch it selects; a condition computed from the data is not supported)", nname, c->opset, np->input[0]);
  const Onnx__GraphProto *b = *(const uint8_t *)cond->data ? then_g : else_g;
  if (b->n_output != np->n_output)
    return err(c, "node '%s' (If, opset %d): the %s branch has %zu outputs for the node's %zu", nname, c->opset,
               b == then_g ? "then" : "else", b->n_output, np->n_output);
  if (c->if_depth >= MAX_IF_DEPTH) return err(c, "node '%s' (If, opset %d): Ifs nested deeper than %d", nname, c->opset, MAX_IF_DEPTH);
  snt_status st = snt_onnx_validate_graph_strings(c->d, c->g->src, b);
  if (!st) st = initializers(c, b);
  c->if_depth++;
  for (size_t i = 0; !st && i < b->n_node; i++) st = node(c, b->node[i], (int)i);
  c->if_depth--;
  return st ? st : branch_outputs(c, np, b, 0);
}

static snt_status node(import_ctx *c, const Onnx__NodeProto *np, int index) {
  char fallback[64];
  const char *nname = node_name(np, index, fallback);
  if (strcmp(np->op_type, "If") == 0 && (!np->domain || !np->domain[0] || strcmp(np->domain, "ai.onnx") == 0))
    return if_node(c, np, nname);
  const snt_op *op;
  snt_status vst = check_node(c, np, nname, c->g->src, &op);
  if (vst) return vst;
  if (!op) return constant(c, np, nname);
  snt_onnx_site at = {c->g->src, nname, np->op_type, c->opset};
  int n = snt_ir_add_node(c->g, op, nname, (snt_loc){0});
  if (n < 0) return SNT_ERR_NOMEM;
  snt_status st = copy_attrs(c, np, &c->g->nodes[n], nname);
  if (!st) st = node_inputs(c, np, n, nname);
  for (size_t k = 0; !st && k < np->n_output; k++) {
    char dummy[96];
    snprintf(dummy, sizeof dummy, "%s:unused%zu", nname, k);
    const char *oname = np->output[k][0] ? np->output[k] : dummy;
    int t = snt_ir_node_add_output(c->g, n, oname);
    if (t < 0) return SNT_ERR_NOMEM;
    bind(c, t);
  }
  if (!st) st = snt_check_types(c->g, n, c->opset, c->path, c->d); /* before anything reads the values */
  if (!st && op->onnx_import) st = op->onnx_import(c->g, n, c->opset, c->d);
  if (!st) st = op->infer(c->g, n, c->d);
  if (!st) st = snt_onnx_validate_sizes(c->d, &at, c->g, n);
  if (!st) st = snt_legalize_node(c->g, n, c->d); /* FLOAT16, DOUBLE... through float32 */
  /* Shape arithmetic on constants becomes a constant now, so a Reshape or Resize after it
   * finds its shape-determining input known (compiler/passes/fold_constants.c). */
  bool folded = false;
  if (!st) st = snt_fold_node(c->g, n, &folded);
  return st;
}

static snt_status outputs(import_ctx *c, const Onnx__GraphProto *gp) {
  for (size_t i = 0; i < gp->n_output; i++) {
    int t = lookup(c, gp->output[i]->name);
    if (t < 0) return err(c, "graph output '%s' is not produced by any node", gp->output[i]->name);
    if (snt_ir_mark_output(c->g, t)) return SNT_ERR_NOMEM;
  }
  return SNT_OK;
}

static void unescape_label(char *l) {
  char *o = l;
  for (const char *p = l; *p; p++) {
    if (p[0] == '\\' && (p[1] == 'n' || p[1] == '\\')) *o++ = *++p == 'n' ? '\n' : '\\';
    else *o++ = *p;
  }
  *o = '\0';
}

static snt_status labels(import_ctx *c, const Onnx__ModelProto *m) {
  for (size_t i = 0; i < m->n_metadata_props; i++) {
    if (strcmp(m->metadata_props[i]->key, "labels") != 0) continue;
    /* One label per line: labels may hold commas ("Viral Pneumonia" has a space); \n and \\
     * inside a label stand for a newline and a backslash (as compiler/onnx/export.c writes). */
    const char *s = m->metadata_props[i]->value;
    while (s && *s) {
      const char *nl = strchr(s, '\n');
      size_t len = nl ? (size_t)(nl - s) : strlen(s);
      char *l = snt_strndup(s, len);
      if (l) unescape_label(l);
      if (!l || snt_ir_add_label(c->g, l)) {
        free(l);
        return SNT_ERR_NOMEM;
      }
      free(l);
      s = nl ? nl + 1 : NULL;
    }
  }
  return SNT_OK;
}

snt_status snt_onnx_import(snt_diag *d, const Onnx__ModelProto *m, const char *path, const snt_onnx_import_opts *o,
                           snt_graph **out) {
  *out = NULL;
  snt_onnx_import_opts none = {0};
  import_ctx c = {.d = d, .path = path, .o = o ? o : &none};
  int64_t opset = snt_onnx_opset(m);
  if (opset < MIN_OPSET || opset > MAX_OPSET)
    return err(&c, "ai.onnx opset %lld is not supported (sinter reads opsets %d to %d)", (long long)opset, MIN_OPSET, MAX_OPSET);
  c.opset = (int)opset;
  if (!m->graph) return err(&c, "the model has no graph: the file is not a valid ONNX model");
  const Onnx__GraphProto *gp = m->graph;
  c.map_cap = 256;
  c.map = calloc((size_t)c.map_cap, sizeof *c.map);
  snt_err e;
  c.g = snt_ir_create(gp->name && gp->name[0] ? gp->name : "model");
  snt_status st = c.map && c.g ? snt_onnx_dirname(path, &c.base_dir, &e) : SNT_ERR_NOMEM;
  /* Errors about nodes name the file; the source lives in d, which outlives the graph's use. */
  if (!st && !(c.g->src = snt_diag_add_source(d, path, "", 0))) st = SNT_ERR_NOMEM;
  if (!st) st = snt_onnx_validate_strings(d, c.g->src, m);
  if (!st) {
    c.g->batch = c.o->batch > 0 ? c.o->batch : 1;
    st = initializers(&c, gp);
  }
  /* Calls of local functions become their bodies, each node read at its function's opset. */
  snt_onnx_flat flat = {0};
  if (!st) st = snt_onnx_inline_functions(d, c.g->src, m, c.opset, MIN_OPSET, MAX_OPSET, &flat);
  if (!st) st = inputs(&c, gp, &flat);
  for (int i = 0; !st && i < flat.n; i++) {
    c.opset = flat.nodes[i].opset;
    st = node(&c, flat.nodes[i].np, flat.nodes[i].index);
  }
  snt_onnx_flat_free(&flat);
  c.opset = (int)opset;
  if (!st) st = outputs(&c, gp);
  if (!st) st = labels(&c, m);
  free(c.map);
  free(c.base_dir);
  if (st) {
    snt_ir_destroy(c.g);
    return st;
  }
  *out = c.g;
  return SNT_OK;
}

snt_status snt_onnx_import_file(snt_diag *d, const char *path, const snt_onnx_import_opts *o, snt_graph **out) {
  Onnx__ModelProto *m = NULL;
  snt_err e;
  *out = NULL;
  if (snt_onnx_load_model(path, &m, &e) != SNT_OK) return snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  snt_status st = snt_onnx_import(d, m, path, o, out);
  snt_onnx_free_model(m);
  return st;
}
