/* Element types at ONNX import: the check against each op's declared types, and the Casts
 * that let float32 kernels compute FLOAT16, BFLOAT16 and DOUBLE (rounded after each op,
 * as ONNX Runtime's CPU provider does for FLOAT16). */
#include "compiler/passes/legalize_types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "support/util.h"

void snt_types_names(uint32_t mask, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = 0;
  for (int t = 0; t < 32; t++) {
    if (!(mask & SNT_TY(t)) || !snt_dtype_name((snt_dtype)t)) continue;
    int k = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", snt_dtype_name((snt_dtype)t));
    if (k < 0 || (size_t)k >= size - len) break;
    len += (size_t)k;
  }
  if (!len) snprintf(buf, size, "-");
}

/* Whether input slot k is bound to T (slots past 31 follow slot 31: variadic ops). */
static bool is_t_slot(const snt_op_types *ty, int k) {
  uint32_t s = ty->t_slots ? ty->t_slots : 1u;
  return (s >> (k < 32 ? k : 31)) & 1;
}

/* Whether a type is in a mask (types past 31 never are). */
static bool in_mask(uint32_t mask, snt_dtype t) { return (unsigned)t < 32 && (mask & SNT_TY(t)); }

static const char *type_str(snt_dtype t, char *buf, size_t size) {
  const char *name = snt_dtype_name(t);
  if (name) return name;
  snprintf(buf, size, "%d", (int)t);
  return buf;
}

snt_status snt_check_types(snt_graph *g, int node, int opset, const char *path, snt_diag *d) {
  const snt_node *n = &g->nodes[node];
  const snt_op *op = n->op;
  const snt_op_types *ty = &op->types;
  const char *ot = op->onnx_type ? op->onnx_type : op->name;
  uint32_t all = ty->t | ty->t_f32;
  int first = -1; /* the first input bound to T: the others must have its type */
  char tb[16], sup[256];
  for (int k = 0; k < n->n_in; k++) {
    if (n->in[k] < 0) continue;
    const snt_tensor *x = &g->tensors[n->in[k]];
    bool is_t = is_t_slot(ty, k);
    uint32_t ok = is_t ? all : ty->other;
    if (!is_t && !ty->other) continue;
    if (!in_mask(ok, x->dtype) || !snt_dtype_size(x->dtype)) {
      snt_types_names(ok, sup, sizeof sup);
      return snt_diag_error(d, NULL, (snt_loc){0},
                            "%s: node '%s' (%s, opset %d): op %s (opset %d) does not support type %s (input %d, '%s'; "
                            "supported: %s)",
                            path, n->name, ot, opset, ot, opset, type_str(x->dtype, tb, sizeof tb), k + 1, x->name, sup);
    }
    if (!is_t) continue;
    if (first < 0) {
      first = k;
    } else if (g->tensors[n->in[first]].dtype != x->dtype) {
      const snt_tensor *f = &g->tensors[n->in[first]];
      return snt_diag_error(d, NULL, (snt_loc){0},
                            "%s: node '%s' (%s, opset %d): inputs %d ('%s', %s) and %d ('%s', %s) must have one type", path,
                            n->name, ot, opset, first + 1, f->name, snt_dtype_name(f->dtype), k + 1, x->name,
                            snt_dtype_name(x->dtype));
    }
  }
  return SNT_OK;
}

/* ---- Casts around the ops that compute a type in float32 ---- */

/* The cast op (compiler/ops/elementwise.c). */
static const snt_op *cast_op(void) { return &snt_op_cast; }

/* Converts a constant's values to FLOAT in place. */
static snt_status const_to_f32(snt_tensor *t) {
  int64_t numel = snt_tensor_numel(t);
  float *f = malloc(sizeof(float) * (size_t)(numel + 1));
  if (!f) return SNT_ERR_NOMEM;
  const void *p = t->data;
  for (int64_t i = 0; i < numel; i++) {
    switch (t->dtype) {
      case SNT_F16: f[i] = snt_f16_to_f32(((const uint16_t *)p)[i]); break;
      case SNT_BF16: f[i] = snt_bf16_to_f32(((const uint16_t *)p)[i]); break;
      case SNT_F64: f[i] = (float)((const double *)p)[i]; break;
      case SNT_I8: f[i] = ((const int8_t *)p)[i]; break;
      case SNT_U8: f[i] = ((const uint8_t *)p)[i]; break;
      default: free(f); return SNT_ERR_INTERNAL;
    }
  }
  free(t->data);
  t->data = f;
  t->dtype = SNT_F32;
  return SNT_OK;
}

/* A cast node reading tensor `from` to a new tensor of type `to`: the new tensor, or -1. */
static int add_cast(snt_graph *g, const char *node_name, const char *what, int from, snt_dtype to) {
  char *name = snt_format("%s/%s", node_name, what);
  int c = name ? snt_ir_add_node(g, cast_op(), name, (snt_loc){0}) : -1;
  free(name);
  if (c < 0 || snt_node_set_int(&g->nodes[c], "to", (int64_t)to) || snt_ir_node_add_input(g, c, from)) return -1;
  g->nodes[c].n_act_in = 1;
  char *tname = snt_format("%s:%s", g->tensors[from].name, snt_dtype_name(to));
  int t = tname ? snt_ir_node_add_output(g, c, tname) : -1;
  free(tname);
  if (t < 0) return -1;
  snt_tensor *y = &g->tensors[t];
  y->dtype = to;
  y->rank = g->tensors[from].rank;
  memcpy(y->dims, g->tensors[from].dims, sizeof y->dims);
  y->batched = g->tensors[from].batched;
  return t;
}

/* The type the node computes in when it is one of its op's t_f32 types, else UNDEFINED. */
static snt_dtype wrapped_type(const snt_graph *g, const snt_node *n) {
  const snt_op_types *ty = &n->op->types;
  for (int k = 0; k < n->n_in; k++) {
    if (n->in[k] < 0 || !is_t_slot(ty, k)) continue;
    snt_dtype t = g->tensors[n->in[k]].dtype;
    return in_mask(ty->t_f32, t) && !in_mask(ty->t, t) ? t : SNT_UNDEFINED;
  }
  return SNT_UNDEFINED;
}

/* Moves node `node` to the end of the node list (it was the last before the Casts). */
static void move_to_end(snt_graph *g, int node) {
  snt_node x = g->nodes[node];
  int last = g->n_nodes - 1;
  memmove(&g->nodes[node], &g->nodes[node + 1], sizeof x * (size_t)(last - node));
  g->nodes[last] = x;
  for (int t = 0; t < g->n_tensors; t++) {
    int *ids[2] = {&g->tensors[t].producer, &g->tensors[t].owner};
    for (int k = 0; k < 2; k++) {
      if (*ids[k] == node) *ids[k] = last;
      else if (*ids[k] > node) (*ids[k])--;
    }
  }
}

snt_status snt_legalize_node(snt_graph *g, int node, snt_diag *d) {
  (void)d;
  snt_dtype t = wrapped_type(g, &g->nodes[node]);
  if (t == SNT_UNDEFINED) return SNT_OK;
  /* Inputs bound to T become FLOAT: the node's own weights in place, others through a Cast. */
  int casts = 0;
  for (int k = 0; k < g->nodes[node].n_in; k++) {
    int x = g->nodes[node].in[k];
    if (x < 0 || !is_t_slot(&g->nodes[node].op->types, k) || g->tensors[x].dtype != t) continue;
    if (g->tensors[x].data && g->tensors[x].kind == SNT_T_PARAM && g->tensors[x].owner == node) {
      snt_status st = const_to_f32(&g->tensors[x]);
      if (st) return st;
      continue;
    }
    char what[32];
    snprintf(what, sizeof what, "to_float_%d", k);
    int y = add_cast(g, g->nodes[node].name, what, x, SNT_F32);
    if (y < 0) return SNT_ERR_NOMEM;
    g->nodes[node].in[k] = y;
    casts++;
  }
  if (casts) move_to_end(g, node), node = g->n_nodes - 1;
  /* Output 0 (T in every wrapped op's schema) comes back through a Cast: readers keep the tensor. */
  int o = g->nodes[node].n_out ? g->nodes[node].out[0] : -1;
  if (o < 0) return SNT_OK;
  g->tensors[o].dtype = SNT_F32;
  int y = add_cast(g, g->nodes[node].name, "from_float", o, t);
  if (y < 0) return SNT_ERR_NOMEM;
  int c = g->n_nodes - 1;
  g->nodes[c].in[0] = y, g->nodes[c].out[0] = o;
  g->nodes[node].out[0] = y;
  g->tensors[y].producer = node, g->tensors[o].producer = c;
  g->tensors[y].dtype = SNT_F32, g->tensors[o].dtype = t;
  char *nm = snt_format("%s:FLOAT", g->tensors[o].name);
  if (!nm) return SNT_ERR_NOMEM;
  free(g->tensors[y].name);
  g->tensors[y].name = nm;
  return SNT_OK;
}
