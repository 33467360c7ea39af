/* Reverse-mode autodiff over the IR: turns a lowered model into its training step.
 *
 * The step graph computes the forward pass in training mode (BatchNorm on batch statistics,
 * active dropout), the softmax cross-entropy loss, and the gradients of every trainable
 * parameter, with one gradient rule per op (the op's `grad`, beside its other rules). The
 * planner then places forward activations and gradients together in one arena. */
#ifndef SINTER_COMPILER_AUTODIFF_H
#define SINTER_COMPILER_AUTODIFF_H

#include "compiler/ir.h"

/* A BatchNorm moving statistic and the step output that updates it. */
typedef struct snt_ad_stat {
  int param;   /* the moving_mean / moving_variance tensor */
  int batch;   /* the batch statistic tensor (a graph output) */
  double momentum; /* the layer's; < 0: the recipe's */
} snt_ad_stat;

typedef struct snt_ad {
  snt_graph *g;
  snt_diag *d;
  int n_fwd;      /* forward nodes are [0, n_fwd) */
  int *grad;      /* per tensor: its gradient, or -1 */
  bool *needs;    /* per tensor: a gradient flows into it */
  int cap;        /* entries of grad / needs */
  snt_ad_stat *stats;
  int n_stats, cap_stats;
  int labels, weights; /* the extra inputs */
  int loss, probs;     /* the first two outputs */
  int *params;         /* trainable parameters, in tensor order; their gradients are outputs */
  int n_params;
  const char *purpose; /* in messages: "cannot be <purpose> yet"; NULL: "trained" */
} snt_ad;

/* Builds the training step of g in place: g's nodes become the forward pass, the loss and the
 * backward nodes follow; inputs become (images, labels, sample weights) and outputs (loss,
 * probabilities, gradients..., batch statistics...). Fails naming the layer when an op has no
 * gradient rule or the model's output is not a softmax. `ad` is filled (free with
 * snt_ad_free). */
snt_status snt_autodiff_build(snt_graph *g, snt_diag *d, snt_ad *ad);
void snt_ad_free(snt_ad *ad);

/* ---- for other builders of backward passes (explain.c) ---- */

/* The logits behind the model's softmax output (a fused softmax is taken off the layer). */
snt_status snt_ad_find_logits(snt_ad *ad, int *logits);
/* Runs the gradient rules of the forward nodes [0, n_fwd) in reverse, where a gradient
 * reaches a node's outputs and one of its inputs needs one. */
snt_status snt_ad_backward(snt_ad *ad);
/* Sizes grad/needs to the graph's tensors (new entries -1 / false). */
snt_status snt_ad_grow(snt_ad *ad);

/* ---- for the ops' rules ---- */

/* The gradient of a tensor (-1 when nothing flows into it). */
int snt_ad_grad(const snt_ad *ad, int tensor);
/* Whether a gradient must be computed for a tensor (trainable params and what depends on them). */
bool snt_ad_needs(const snt_ad *ad, int tensor);
/* A backward node of op `op` for forward node `fwd`, named "<fwd>/<suffix>", reading ins; it
 * keeps the forward node's attributes and its index as attribute "fwd". Returns it or -1. */
int snt_ad_node(snt_ad *ad, const struct snt_op *op, int fwd, const char *suffix, int n_in, const int *ins);
/* Adds an output to node b shaped and typed like tensor `like`; returns it or -1. */
int snt_ad_output_like(snt_ad *ad, int b, int like, const char *suffix);
/* Adds an output of the given type and shape to node b; returns it or -1. */
int snt_ad_output(snt_ad *ad, int b, const char *suffix, snt_dtype dtype, int rank, const int64_t *dims);
/* Makes `grad` (a part of) the gradient of t: sums when t has one already. */
snt_status snt_ad_accumulate(snt_ad *ad, int t, int grad);
/* Records a moving statistic that follows the batch statistic `batch` (a step output). */
snt_status snt_ad_add_stat(snt_ad *ad, int param, int batch, double momentum);
/* The common rule of a one-input op: a backward node of op `op` reading ins (typically dy and
 * saved forward values) whose one output, shaped like the node's input 0, is that input's
 * gradient contribution. */
snt_status snt_ad_input_grad(snt_ad *ad, const struct snt_op *op, int node, int n_in, const int *ins);
/* The rule of a layer y = act(x (*) kernel + bias) (conv2d, dense): the activation's gradient,
 * then `grad_input` (dy, kernel) -> dx and `grad_kernel` (x, dy) -> dkernel [, dbias]. */
snt_status snt_ad_layer_grad(snt_ad *ad, int node, const struct snt_op *grad_input, const struct snt_op *grad_kernel);
/* The forward node a backward node was made for. */
const snt_node *snt_ad_fwd(const snt_graph *g, const snt_node *b);

#endif
