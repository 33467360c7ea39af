/* relu, sigmoid or tanh right after a conv2d, dense or bias-fused matmul (GELU too for the last)
 * becomes its fused activation; so do, after
 * a float32 conv2d, a Clip with constant bounds (ReLU6 of MobileNets), HardSigmoid, HardSwish, Mish,
 * and x * Sigmoid(x) or x * HardSigmoid(x) written as two nodes (the SiLU of EfficientNets, the
 * hard swish of MobileNet-V3 exports). The kernels apply them in their store or in a pass over
 * each finished tile while it is in cache, instead of a pass over the whole tensor. */
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

/* What fusing node a into a layer sets: the activation and its parameters. */
typedef struct fused_act {
  const char *act;
  double lo, hi, alpha, beta;
} fused_act;

extern const snt_op snt_op_matmul, snt_op_gelu;

/* A matmul with its bias in the store (fuse_matmul.c): it takes relu, sigmoid, tanh and GELU. */
static bool is_fused_matmul(const snt_node *ln) { return ln->op == &snt_op_matmul && snt_node_int(ln, "fused", 0); }

static bool is_f32_conv(const snt_graph *g, const snt_node *ln) {
  return ln->op == &snt_op_conv2d && g->tensors[ln->out[0]].dtype == SNT_F32;
}

/* Fills f for node a after layer ln; false when a cannot be fused into it. */
static bool fusable(const snt_graph *g, const snt_node *a, const snt_node *ln, fused_act *f) {
  f->act = a->op->name;
  if (a->op == &snt_op_relu || a->op == &snt_op_sigmoid || a->op == &snt_op_tanh) return true;
  if (is_fused_matmul(ln)) return a->op == &snt_op_gelu && strcmp(snt_node_string(a, "approximate", "none"), "none") == 0;
  if (!is_f32_conv(g, ln)) return false;
  if (a->op == &snt_op_hard_sigmoid) {
    f->alpha = snt_node_float(a, "alpha", 0.2), f->beta = snt_node_float(a, "beta", 0.5);
    return true;
  }
  if (a->op == &snt_op_mish) return true;
  if (a->op == &snt_op_hard_swish) { /* ONNX fixes alpha 1/6 and beta 0.5 */
    f->alpha = 1 / 6.0f, f->beta = 0.5;
    return true;
  }
  return a->op == &snt_op_clip && clip_bound(g, a, 1, "min", -INFINITY, &f->lo) &&
         clip_bound(g, a, 2, "max", INFINITY, &f->hi);
}

/* A layer whose output x may take a fused activation: a conv2d or dense without one, x not a
 * graph output and read by `readers` nodes; -1 if none. */
static int free_layer(const snt_graph *g, const bool *dead, int x, int readers) {
  int first, l = g->tensors[x].producer;
  if (l < 0 || dead[l] || snt_readers(g, x, &first) != readers || snt_ir_is_output(g, x)) return -1;
  const snt_node *ln = &g->nodes[l];
  if (ln->op != &snt_op_conv2d && ln->op != &snt_op_dense && !is_fused_matmul(ln)) return -1;
  return strcmp(snt_node_string(ln, "activation", "none"), "none") == 0 ? l : -1;
}

/* Mul node m as x * act(x), act a Sigmoid or HardSigmoid read by m alone, after a float32
 * conv2d whose output only the two read: its activation silu or hard_swish; a gets the act node. */
static int gated_layer(const snt_graph *g, const bool *dead, const snt_node *m, fused_act *f, int *a) {
  if (m->op != &snt_op_mul || m->n_in != 2) return -1;
  for (int side = 0; side < 2; side++) {
    int x = m->in[side], s = m->in[1 - side], first, an = g->tensors[s].producer;
    if (an < 0 || dead[an] || snt_readers(g, s, &first) != 1 || snt_ir_is_output(g, s)) continue;
    const snt_node *act = &g->nodes[an];
    if ((act->op != &snt_op_sigmoid && act->op != &snt_op_hard_sigmoid) || act->in[0] != x) continue;
    int l = free_layer(g, dead, x, 2);
    if (l < 0 || !is_f32_conv(g, &g->nodes[l])) continue;
    if (act->op == &snt_op_sigmoid) {
      f->act = "silu";
    } else {
      f->act = "hard_swish";
      f->alpha = snt_node_float(act, "alpha", 0.2), f->beta = snt_node_float(act, "beta", 0.5);
    }
    *a = an;
    return l;
  }
  return -1;
}

/* Layer l takes activation f and, as its output, node last's. */
static snt_status fuse(snt_graph *g, int l, const fused_act *f, int last) {
  snt_node *ln = &g->nodes[l];
  snt_status st = snt_node_set_string(ln, "activation", f->act);
  if (!st && strcmp(f->act, "clip") == 0 && !(st = snt_node_set_float(ln, "clip_min", f->lo)))
    st = snt_node_set_float(ln, "clip_max", f->hi);
  if (!st && strncmp(f->act, "hard_", 5) == 0 && !(st = snt_node_set_float(ln, "act_alpha", f->alpha)))
    st = snt_node_set_float(ln, "act_beta", f->beta);
  if (st) return st;
  int y = g->nodes[last].out[0];
  g->tensors[ln->out[0]].producer = -1;
  ln->out[0] = y;
  g->tensors[y].producer = l;
  return SNT_OK;
}

snt_status snt_pass_fuse_activation(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int a = 0; a < g->n_nodes && !st; a++) {
    fused_act f = {0};
    int gate = -1, l = gated_layer(g, dead, &g->nodes[a], &f, &gate);
    if (l < 0) {
      if (g->nodes[a].n_in < 1 || g->nodes[a].in[0] < 0) continue;
      l = free_layer(g, dead, g->nodes[a].in[0], 1);
      if (l < 0 || !fusable(g, &g->nodes[a], &g->nodes[l], &f)) continue;
    }
    if ((st = fuse(g, l, &f, a))) break;
    dead[a] = true;
    if (gate >= 0) dead[gate] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
