/* The IR graph: creation, attributes, counting. */
#include "compiler/ir.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "support/util.h"

snt_graph *snt_ir_create(const char *name) {
  snt_graph *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->name = snt_strdup(name ? name : "model");
  g->batch = 1;
  snt_recipe_defaults(&g->recipe);
  if (!g->name) {
    free(g);
    return NULL;
  }
  return g;
}

static void free_attr(snt_attr *a) {
  free(a->name);
  free(a->ints);
  free(a->floats);
  free(a->str);
}

void snt_ir_destroy(snt_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_tensors; i++) {
    free(g->tensors[i].name);
    free(g->tensors[i].data);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    snt_node *n = &g->nodes[i];
    free(n->name);
    free(n->in);
    free(n->out);
    for (int a = 0; a < n->n_attrs; a++) free_attr(&n->attrs[a]);
    free(n->attrs);
  }
  for (int i = 0; i < g->n_labels; i++) free(g->labels[i]);
  free(g->labels);
  free(g->tensors);
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->name);
  free(g);
}

int snt_ir_add_tensor(snt_graph *g, const char *name, snt_tensor_kind kind, snt_dtype dtype, int rank,
                      const int64_t *dims) {
  if (rank < 0 || rank > SNT_MAX_RANK) return -1;
  if (!SNT_GROW(g->tensors, g->n_tensors + 1, g->cap_tensors)) return -1;
  snt_tensor *t = &g->tensors[g->n_tensors];
  *t = (snt_tensor){.name = snt_strdup(name), .dtype = dtype, .kind = kind, .rank = rank,
                    .producer = -1, .owner = -1};
  if (!t->name) return -1;
  if (dims) memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
  return g->n_tensors++;
}

int snt_ir_add_node(snt_graph *g, const snt_op *op, const char *name, snt_loc loc) {
  if (!SNT_GROW(g->nodes, g->n_nodes + 1, g->cap_nodes)) return -1;
  snt_node *n = &g->nodes[g->n_nodes];
  *n = (snt_node){.op = op, .name = snt_strdup(name), .loc = loc};
  if (!n->name) return -1;
  return g->n_nodes++;
}

snt_status snt_ir_node_add_input(snt_graph *g, int node, int tensor) {
  snt_node *n = &g->nodes[node];
  if (!SNT_GROW(n->in, n->n_in + 1, n->cap_in)) return SNT_ERR_NOMEM;
  n->in[n->n_in++] = tensor;
  return SNT_OK;
}

int snt_ir_node_add_output(snt_graph *g, int node, const char *name) {
  int t = snt_ir_add_tensor(g, name, SNT_T_ACT, SNT_F32, 0, NULL);
  if (t < 0) return -1;
  snt_node *n = &g->nodes[node];
  if (!SNT_GROW(n->out, n->n_out + 1, n->cap_out)) return -1;
  n->out[n->n_out++] = t;
  g->tensors[t].producer = node;
  return t;
}

int snt_ir_add_param(snt_graph *g, int node, const char *role, int rank, const int64_t *dims, bool trainable) {
  char *name = snt_format("%s/%s", g->nodes[node].name, role);
  if (!name) return -1;
  int t = snt_ir_add_tensor(g, name, SNT_T_PARAM, SNT_F32, rank, dims);
  free(name);
  if (t < 0) return -1;
  g->tensors[t].trainable = trainable;
  g->tensors[t].role = role;
  g->tensors[t].owner = node;
  if (snt_ir_node_add_input(g, node, t) != SNT_OK) return -1;
  return t;
}

static snt_status push_index(int **a, int *n, int *cap, int v) {
  if (!SNT_GROW(*a, *n + 1, *cap)) return SNT_ERR_NOMEM;
  (*a)[(*n)++] = v;
  return SNT_OK;
}

snt_status snt_ir_mark_input(snt_graph *g, int t) { return push_index(&g->inputs, &g->n_inputs, &g->cap_inputs, t); }
snt_status snt_ir_mark_output(snt_graph *g, int t) { return push_index(&g->outputs, &g->n_outputs, &g->cap_outputs, t); }

snt_status snt_ir_add_label(snt_graph *g, const char *label) {
  if (!SNT_GROW(g->labels, g->n_labels + 1, g->cap_labels)) return SNT_ERR_NOMEM;
  if (!(g->labels[g->n_labels] = snt_strdup(label))) return SNT_ERR_NOMEM;
  g->n_labels++;
  return SNT_OK;
}

/* Saturates at INT64_MAX instead of wrapping: a shape past the caps (op.h) is refused by
 * the size checks, and a saturated count makes every comparison on the way fail safely. */
int64_t snt_tensor_numel(const snt_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++)
    if (!snt_mul_ok(n, t->dims[i] < 0 ? 0 : t->dims[i], &n)) return INT64_MAX;
  return n;
}

int snt_node_param(const snt_graph *g, const snt_node *n, const char *role) {
  for (int i = n->n_act_in; i < n->n_in; i++) {
    int t = n->in[i];
    if (t >= 0 && g->tensors[t].role && strcmp(g->tensors[t].role, role) == 0) return t;
  }
  return -1;
}

bool snt_ir_is_output(const snt_graph *g, int t) {
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == t) return true;
  return false;
}

int snt_ir_find_node(const snt_graph *g, const char *name) {
  for (int i = 0; i < g->n_nodes; i++)
    if (strcmp(g->nodes[i].name, name) == 0) return i;
  return -1;
}

/* ---- attributes ---- */

static snt_attr *attr_slot(snt_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++) {
    if (strcmp(n->attrs[i].name, name) == 0) {
      snt_attr *a = &n->attrs[i];
      free(a->ints);
      free(a->floats);
      free(a->str);
      a->ints = NULL;
      a->floats = NULL;
      a->str = NULL;
      return a;
    }
  }
  if (!SNT_GROW(n->attrs, n->n_attrs + 1, n->cap_attrs)) return NULL;
  snt_attr *a = &n->attrs[n->n_attrs];
  *a = (snt_attr){.name = snt_strdup(name)};
  if (!a->name) return NULL;
  n->n_attrs++;
  return a;
}

snt_status snt_node_set_ints(snt_node *n, const char *name, int count, const int64_t *v) {
  snt_attr *a = attr_slot(n, name);
  if (!a || !(a->ints = malloc(sizeof(int64_t) * (size_t)(count ? count : 1)))) return SNT_ERR_NOMEM;
  a->kind = SNT_ATTR_INTS;
  a->n = count;
  if (count) memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
  return SNT_OK;
}

snt_status snt_node_set_floats(snt_node *n, const char *name, int count, const double *v) {
  snt_attr *a = attr_slot(n, name);
  if (!a || !(a->floats = malloc(sizeof(double) * (size_t)(count ? count : 1)))) return SNT_ERR_NOMEM;
  a->kind = SNT_ATTR_FLOATS;
  a->n = count;
  if (count) memcpy(a->floats, v, sizeof(double) * (size_t)count);
  return SNT_OK;
}

snt_status snt_node_set_int(snt_node *n, const char *name, int64_t v) {
  snt_status st = snt_node_set_ints(n, name, 1, &v);
  if (st == SNT_OK) ((snt_attr *)snt_node_attr(n, name))->kind = SNT_ATTR_INT;
  return st;
}

snt_status snt_node_set_float(snt_node *n, const char *name, double v) {
  snt_status st = snt_node_set_floats(n, name, 1, &v);
  if (st == SNT_OK) ((snt_attr *)snt_node_attr(n, name))->kind = SNT_ATTR_FLOAT;
  return st;
}

snt_status snt_node_set_string(snt_node *n, const char *name, const char *v) {
  snt_attr *a = attr_slot(n, name);
  if (!a || !(a->str = snt_strdup(v))) return SNT_ERR_NOMEM;
  a->kind = SNT_ATTR_STRING;
  a->n = 1;
  return SNT_OK;
}

const snt_attr *snt_node_attr(const snt_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

int64_t snt_node_int(const snt_node *n, const char *name, int64_t def) {
  const snt_attr *a = snt_node_attr(n, name);
  if (a && (a->kind == SNT_ATTR_INT || a->kind == SNT_ATTR_INTS) && a->n >= 1) return a->ints[0];
  if (a && a->kind == SNT_ATTR_FLOAT) return (int64_t)a->floats[0];
  return def;
}

double snt_node_float(const snt_node *n, const char *name, double def) {
  const snt_attr *a = snt_node_attr(n, name);
  if (a && (a->kind == SNT_ATTR_FLOAT || a->kind == SNT_ATTR_FLOATS) && a->n >= 1) return a->floats[0];
  if (a && a->kind == SNT_ATTR_INT) return (double)a->ints[0];
  return def;
}

const char *snt_node_string(const snt_node *n, const char *name, const char *def) {
  const snt_attr *a = snt_node_attr(n, name);
  return a && a->kind == SNT_ATTR_STRING ? a->str : def;
}

const int64_t *snt_node_ints(const snt_node *n, const char *name, int *count) {
  const snt_attr *a = snt_node_attr(n, name);
  if (!a || (a->kind != SNT_ATTR_INTS && a->kind != SNT_ATTR_INT)) return NULL;
  *count = a->n;
  return a->ints;
}

const double *snt_node_floats(const snt_node *n, const char *name, int *count) {
  const snt_attr *a = snt_node_attr(n, name);
  if (!a || (a->kind != SNT_ATTR_FLOATS && a->kind != SNT_ATTR_FLOAT)) return NULL;
  *count = a->n;
  return a->floats;
}

snt_status snt_node_error(const snt_graph *g, const snt_node *n, snt_diag *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = snt_vformat(fmt, ap);
  va_end(ap);
  if (!msg) return SNT_ERR_NOMEM;
  if (n->loc.line > 0 && g->src)
    snt_diag_error(d, g->src, n->loc, "%s '%s': %s", n->op->name, n->name, msg);
  else
    snt_diag_error(d, g->src, (snt_loc){0}, "node '%s' (%s): %s", n->name, n->op->name, msg);
  free(msg);
  return SNT_ERR_INPUT;
}

snt_param_counts snt_ir_count_params(const snt_graph *g) {
  snt_param_counts c = {0};
  for (int i = 0; i < g->n_tensors; i++) {
    const snt_tensor *t = &g->tensors[i];
    if (t->kind != SNT_T_PARAM) continue;
    int64_t n = snt_tensor_numel(t);
    bool frozen = t->owner >= 0 && g->nodes[t->owner].frozen;
    /* Saturating sums: a count never wraps to a negative number in a summary. */
    if (!snt_add_ok(c.total, n, &c.total)) c.total = INT64_MAX;
    int64_t *part = t->trainable && !frozen ? &c.trainable : &c.non_trainable;
    if (!snt_add_ok(*part, n, part)) *part = INT64_MAX;
  }
  return c;
}

bool snt_fixed(const snt_graph *g, int t) {
  const snt_tensor *c = t >= 0 ? &g->tensors[t] : NULL;
  return c && c->data && (c->kind == SNT_T_CONST || (c->kind == SNT_T_PARAM && !c->trainable));
}

bool snt_fixed_scalar(const snt_graph *g, int t, double *v) {
  if (!snt_fixed(g, t) || snt_tensor_numel(&g->tensors[t]) != 1) return false;
  const snt_tensor *c = &g->tensors[t];
  if (c->dtype == SNT_F64) *v = *(const double *)c->data;
  else if (c->dtype == SNT_F32) *v = *(const float *)c->data;
  else return false;
  return true;
}
