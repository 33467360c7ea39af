/* Grad-CAM's graph: the forward pass in inference mode, the gradient of a class score (a
 * logit) flowing back through the generated backward pass to every convolution layer, and
 * those layers' activations. The runtime's `explain` weighs each activation channel by the
 * spatial mean of its gradient (docs/cli.md, explain). */
#ifndef SINTER_COMPILER_EXPLAIN_H
#define SINTER_COMPILER_EXPLAIN_H

#include "compiler/autodiff.h"
#include "compiler/ir.h"

/* A layer Grad-CAM can look at: a convolution's output and the class score's gradient there. */
typedef struct snt_explain_layer {
  int node;        /* the convolution */
  int act, grad;   /* tensors; outputs 1 + 2i and 2 + 2i of the graph */
} snt_explain_layer;

typedef struct snt_explain {
  snt_ad ad;
  int seed;        /* input 1: dScore/dlogits, [B, classes] (one-hot at the explained class) */
  int probs;       /* output 0: the model's probabilities */
  int n_layers;
  snt_explain_layer *layers; /* in the forward order: the last is the last convolution */
} snt_explain;

/* Rewrites g (a freshly loaded model) into the explain graph: inputs (images, seed), outputs
 * (probabilities, then activation and gradient of each layer). Fails with a message saying
 * why when the model has no softmax output, no convolution reaching it, or an op on the path
 * without a gradient rule. Free with snt_explain_free. */
snt_status snt_explain_build(snt_graph *g, snt_diag *d, snt_explain *ex);
void snt_explain_free(snt_explain *ex);

#endif
