/* An inference batchnorm (with or without its fused relu) that reads a conv2d's output, where
 * the BN cannot fold into the conv (the output has other readers, or the conv adds a residual:
 * a pre-activation ResNet's next block), becomes the conv's second output: the kernel writes
 * it in the same store (snt_k_conv_tap) instead of a pass that reads the map back. Runs after
 * every other pass, so no later fusion changes what the conv's first output means. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"
#include "support/util.h"

static const float *param(const snt_graph *g, const snt_node *n, const char *role) {
  int t = snt_node_param(g, n, role);
  return t >= 0 && g->tensors[t].dtype == SNT_F32 ? g->tensors[t].data : NULL;
}

/* The conv2d whose output batchnorm `b` reads, when the tap is legal; else -1. */
static int tappable(const snt_graph *g, int b) {
  const snt_node *bn = &g->nodes[b];
  if (bn->op != &snt_op_batchnorm || bn->n_out != 1 || !param(g, bn, "moving_mean") ||
      !param(g, bn, "moving_variance"))
    return -1;
  if ((snt_node_param(g, bn, "gamma") >= 0 && !param(g, bn, "gamma")) ||
      (snt_node_param(g, bn, "beta") >= 0 && !param(g, bn, "beta")))
    return -1;
  int x = bn->in[0], c = g->tensors[x].producer;
  if (c < 0 || g->tensors[x].dtype != SNT_F32 || g->tensors[bn->out[0]].dtype != SNT_F32) return -1;
  const snt_node *conv = &g->nodes[c];
  if (conv->op != &snt_op_conv2d || conv->n_out != 1 || conv->out[0] != x || snt_node_int(conv, "tap", 0))
    return -1;
  /* Softmax as a conv's activation runs after the kernel: the tap would read y before it. */
  if (strcmp(snt_node_string(conv, "activation", "none"), "softmax") == 0) return -1;
  return c;
}

/* scale and shift as snt_k_bn_infer computes them (float32): the tap is the node's output to an ulp. */
static void bn_scale_shift(const snt_graph *g, const snt_node *bn, int64_t channels, float *scale, float *shift) {
  const float *gamma = param(g, bn, "gamma"), *beta = param(g, bn, "beta");
  const float *mean = param(g, bn, "moving_mean"), *var = param(g, bn, "moving_variance");
  float eps = (float)snt_node_float(bn, "eps", 1e-3);
  for (int64_t c = 0; c < channels; c++) {
    scale[c] = (gamma ? gamma[c] : 1.0f) / sqrtf(var[c] + eps);
    shift[c] = (beta ? beta[c] : 0.0f) - mean[c] * scale[c];
  }
}

static snt_status tap(snt_graph *g, int c, int b) {
  int64_t channels = g->tensors[g->nodes[c].out[0]].dims[1];
  /* Bias and residual keep their slots (2 and 3); the tap's parameters go after them. */
  while (g->nodes[c].n_in < 4) {
    snt_status st = snt_ir_node_add_input(g, c, -1);
    if (st) return st;
  }
  int s = snt_ir_add_param(g, c, "tap_scale", 1, &channels, false);
  if (s < 0 || !(g->tensors[s].data = calloc((size_t)channels, sizeof(float)))) return SNT_ERR_NOMEM;
  int t = snt_ir_add_param(g, c, "tap_shift", 1, &channels, false);
  if (t < 0 || !(g->tensors[t].data = calloc((size_t)channels, sizeof(float)))) return SNT_ERR_NOMEM;
  bn_scale_shift(g, &g->nodes[b], channels, g->tensors[s].data, g->tensors[t].data);
  snt_status st = snt_node_set_int(&g->nodes[c], "tap", 1);
  if (!st) st = snt_node_set_int(&g->nodes[c], "tap_relu", snt_node_int(&g->nodes[b], "relu", 0));
  if (st) return st;
  /* The conv now writes the batchnorm's output as its second. */
  snt_node *conv = &g->nodes[c];
  int y = g->nodes[b].out[0];
  if (!SNT_GROW(conv->out, conv->n_out + 1, conv->cap_out)) return SNT_ERR_NOMEM;
  conv->out[conv->n_out++] = y;
  g->tensors[y].producer = c;
  return SNT_OK;
}

snt_status snt_pass_fuse_bn_tap(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int b = 0; b < g->n_nodes && !st; b++) {
    int c = tappable(g, b);
    if (c < 0) continue;
    st = tap(g, c, b);
    dead[b] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
