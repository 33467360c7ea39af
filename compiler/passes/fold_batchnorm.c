/* Folds an inference BatchNormalization into the conv2d or dense before it:
 * W'[o] = W[o] * s[o], b'[o] = (b[o] - mean[o]) * s[o] + beta[o], s = gamma / sqrt(var + eps). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

static const float *param(const snt_graph *g, const snt_node *n, const char *role) {
  int t = snt_node_param(g, n, role);
  return t >= 0 ? g->tensors[t].data : NULL;
}

/* The layer before batchnorm `b`, when folding is legal; else -1. */
static int foldable(const snt_graph *g, int b) {
  const snt_node *bn = &g->nodes[b];
  if (bn->op != &snt_op_batchnorm || !param(g, bn, "moving_mean") || !param(g, bn, "moving_variance")) return -1;
  int x = bn->in[0], first;
  int l = g->tensors[x].producer;
  if (l < 0 || snt_readers(g, x, &first) != 1 || snt_ir_is_output(g, x)) return -1;
  const snt_node *ln = &g->nodes[l];
  bool conv = ln->op == &snt_op_conv2d, dense = ln->op == &snt_op_dense;
  /* BN(conv + residual) is not a folded conv plus the residual. */
  if (!(conv || dense) || strcmp(snt_node_string(ln, "activation", "none"), "none") != 0 || snt_node_int(ln, "residual", 0))
    return -1;
  int k = snt_node_param(g, ln, "kernel");
  /* The fold rewrites float32 weights (a DOUBLE conv keeps its BatchNormalization). */
  if (k < 0 || !g->tensors[k].data || g->tensors[k].kind != SNT_T_PARAM || g->tensors[k].dtype != SNT_F32) return -1;
  if (!snt_param_private(g, ln, "kernel") || !snt_param_private(g, ln, "bias")) return -1;
  return l;
}

static snt_status fold(snt_graph *g, int l, int b) {
  const snt_node *bn = &g->nodes[b];
  int64_t c = g->tensors[bn->in[0]].dims[1];
  const float *gamma = param(g, bn, "gamma"), *beta = param(g, bn, "beta");
  const float *mean = param(g, bn, "moving_mean"), *var = param(g, bn, "moving_variance");
  double eps = snt_node_float(bn, "eps", 1e-3);
  snt_node *ln = &g->nodes[l];
  bool conv = ln->op == &snt_op_conv2d;
  snt_tensor *k = &g->tensors[snt_node_param(g, ln, "kernel")];
  int bi = snt_node_param(g, ln, "bias");
  if (bi < 0) {
    /* The layer gets a bias to hold the shift. */
    bi = snt_ir_add_param(g, l, "bias", 1, &c, true);
    if (bi < 0 || !(g->tensors[bi].data = calloc((size_t)c, sizeof(float)))) return SNT_ERR_NOMEM;
    ln = &g->nodes[l];
    k = &g->tensors[snt_node_param(g, ln, "kernel")];
    snt_status st = snt_node_set_int(ln, "bias", 1);
    if (st) return st;
  }
  float *w = k->data, *bias = g->tensors[bi].data;
  int64_t n = snt_tensor_numel(k);
  for (int64_t o = 0; o < c; o++) {
    double s = (gamma ? gamma[o] : 1.0) / sqrt((double)var[o] + eps);
    bias[o] = (float)(((double)bias[o] - mean[o]) * s + (beta ? beta[o] : 0.0));
    if (conv) {
      int64_t per = n / c;
      for (int64_t i = 0; i < per; i++) w[o * per + i] = (float)(w[o * per + i] * s);
    } else {
      for (int64_t i = 0; i < n / c; i++) w[i * c + o] = (float)(w[i * c + o] * s); /* [in, out] */
    }
  }
  /* The layer now writes the batchnorm's output. */
  int y = g->nodes[b].out[0];
  g->tensors[ln->out[0]].producer = -1;
  ln->out[0] = y;
  g->tensors[y].producer = l;
  return SNT_OK;
}

snt_status snt_pass_fold_batchnorm(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  int n = g->n_nodes;
  for (int b = 0; b < n && !st; b++) {
    int l = foldable(g, b);
    if (l < 0) continue;
    st = fold(g, l, b);
    dead[b] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
