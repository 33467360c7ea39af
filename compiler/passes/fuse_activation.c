/* relu, sigmoid or tanh right after a conv2d or dense becomes its fused activation; so does a
 * float Clip with constant bounds after a conv2d (ReLU6 of MobileNets), which the conv kernels
 * apply in their store. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

/* Clip's bound from input i (a float32 constant) or the attribute of opsets before 11. */
static bool clip_bound(const snt_graph *g, const snt_node *n, int i, const char *attr, double none, double *v) {
  *v = none;
  if (n->n_in > i && n->in[i] >= 0) {
    const snt_tensor *b = &g->tensors[n->in[i]];
    if (b->kind == SNT_T_INPUT || b->kind == SNT_T_ACT || !b->data || b->trainable || b->dtype != SNT_F32 ||
        snt_tensor_numel(b) != 1)
      return false;
    *v = *(const float *)b->data;
  } else if (snt_node_attr(n, attr)) {
    *v = (float)snt_node_float(n, attr, none); /* the op computes in float */
  }
  return !isnan(*v);
}

/* Sets the fused activation of layer ln from node a; false when a cannot be fused into it. */
static bool fusable(const snt_graph *g, const snt_node *a, const snt_node *ln, double *lo, double *hi) {
  if (a->op != &snt_op_clip) return a->op == &snt_op_relu || a->op == &snt_op_sigmoid || a->op == &snt_op_tanh;
  return ln->op == &snt_op_conv2d && g->tensors[a->in[0]].dtype == SNT_F32 &&
         clip_bound(g, a, 1, "min", -INFINITY, lo) && clip_bound(g, a, 2, "max", INFINITY, hi);
}

snt_status snt_pass_fuse_activation(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int a = 0; a < g->n_nodes && !st; a++) {
    const snt_op *op = g->nodes[a].op;
    if (op != &snt_op_relu && op != &snt_op_sigmoid && op != &snt_op_tanh && op != &snt_op_clip) continue;
    const char *act = op->name; /* the layer's activation attribute names the op */
    int x = g->nodes[a].in[0], first, l = g->tensors[x].producer;
    if (l < 0 || dead[l] || snt_readers(g, x, &first) != 1 || snt_ir_is_output(g, x)) continue;
    snt_node *ln = &g->nodes[l];
    double lo = 0, hi = 0;
    if ((ln->op != &snt_op_conv2d && ln->op != &snt_op_dense) ||
        strcmp(snt_node_string(ln, "activation", "none"), "none") != 0 || !fusable(g, &g->nodes[a], ln, &lo, &hi))
      continue;
    if ((st = snt_node_set_string(ln, "activation", act))) break;
    if (op == &snt_op_clip && ((st = snt_node_set_float(ln, "clip_min", lo)) || (st = snt_node_set_float(ln, "clip_max", hi))))
      break;
    int y = g->nodes[a].out[0];
    g->tensors[ln->out[0]].producer = -1;
    ln->out[0] = y;
    g->tensors[y].producer = l;
    dead[a] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
