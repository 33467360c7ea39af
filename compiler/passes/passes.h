/* Graph passes that run before planning, one file each. Every pass keeps the graph's
 * results the same (tests compare the numbers before and after). */
#ifndef SINTER_COMPILER_PASSES_H
#define SINTER_COMPILER_PASSES_H

#include "compiler/ir.h"

/* Inference BatchNormalization right after a conv2d or dense (its only reader) is folded
 * into the layer's kernel and bias. Needs the parameter values. */
snt_status snt_pass_fold_batchnorm(snt_graph *g, snt_diag *d, int *changed);
/* relu, sigmoid or tanh right after a conv2d or dense becomes the layer's fused activation. */
snt_status snt_pass_fuse_activation(snt_graph *g, snt_diag *d, int *changed);
/* rescale (x * scale + offset) feeding only a conv2d folds into its kernel and bias (with an
 * offset only when the conv has no padding). */
snt_status snt_pass_fold_rescale(snt_graph *g, snt_diag *d, int *changed);
/* A zero pad of the spatial dims feeding only a conv2d becomes the conv's padding. */
snt_status snt_pass_fold_pad(snt_graph *g, snt_diag *d, int *changed);
/* Inference: a constant pad feeding only a max pool becomes padding filled with its value, a
 * zero pad feeding only an average pool padding counted in the mean. */
snt_status snt_pass_fold_pad_pool(snt_graph *g, snt_diag *d, int *changed);
/* PyTorch's export of nn.LocalResponseNorm of odd size (x * x, a channel Pad, a (size, 1, 1)
 * AveragePool, * alpha + k, ** beta, x / that) becomes one lrn node; the exact form only. */
snt_status snt_pass_fuse_lrn(snt_graph *g, snt_diag *d, int *changed);
/* For sinter import: when Pad node `pad` belongs to such a decomposition that the pass leaves
 * alone (an even size, another reader, ...), why, formatted into buf; else NULL. */
const char *snt_lrn_unfused_why(const snt_graph *g, int pad, char *buf, size_t len);
/* GELU written as its formula (Erf of x / sqrt 2, + 1, times x and 0.5) becomes one gelu node. */
snt_status snt_pass_fuse_gelu(snt_graph *g, snt_diag *d, int *changed);
/* LayerNorm written as its formula (ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, and
 * the Mul and Add of gamma and beta) becomes one layer_norm node. */
snt_status snt_pass_fuse_layer_norm(snt_graph *g, snt_diag *d, int *changed);
/* MatMul of float32 rows by a [K, N] weight, then the Add of an N-vector weight: one matmul
 * with the bias in its store (fuse_matmul.c). */
snt_status snt_pass_fuse_matmul_bias(snt_graph *g, snt_diag *d, int *changed);
/* add(a, conv2d(...)) becomes the conv's fused residual input. */
snt_status snt_pass_fuse_residual(snt_graph *g, snt_diag *d, int *changed);
/* batchnorm followed by relu (its only reader) computes both in one pass. */
snt_status snt_pass_fuse_bn_relu(snt_graph *g, snt_diag *d, int *changed);
/* An inference batchnorm reading a conv2d's output that it cannot fold into (other readers,
 * a fused residual) becomes the conv's second output, written in the conv's store. Last: no
 * later pass may change what the conv's first output is. */
snt_status snt_pass_fuse_bn_tap(snt_graph *g, snt_diag *d, int *changed);
/* A tap whose readers are all 1x1 convs: written and read in bfloat16 when the context runs
 * BF16 (bf16_taps.c). */
snt_status snt_pass_bf16_taps(snt_graph *g, snt_diag *d, int *changed);
/* A conv2d read only by a 2x2 stride-2 max pool writes the pool as its second output (inference). */
snt_status snt_pass_fuse_conv_pool(snt_graph *g, snt_diag *d, int *changed);
/* A 1x1 conv read only by a depthwise conv, on maps of 1 MB and more an image: one
 * conv_expand_dw node (fuse_expand_dw.c). */
snt_status snt_pass_fuse_expand_dw(snt_graph *g, snt_diag *d, int *changed);
/* A Mul by a per-channel computed tensor (a squeeze-excite gate), with the Add of a residual and
 * the Relu that alone follow it: one channel_scale node (fuse_channel_scale.c). */
snt_status snt_pass_fuse_channel_scale(snt_graph *g, snt_diag *d, int *changed);
/* Dropout and identity nodes vanish at inference: readers read their input. */
snt_status snt_pass_drop_identity(snt_graph *g, snt_diag *d, int *changed);
/* Cheap shape arithmetic (ops with a fold rule: tensor_shape, gather, concat, reshape, squeeze,
 * unsqueeze, cast, add/sub/mul/div, ...) whose value inputs are all compile-time constants
 * becomes a constant (at most 1 MiB); nothing that reads a graph input or a parameter is
 * ever evaluated. */
snt_status snt_pass_fold_constants(snt_graph *g, snt_diag *d, int *changed);
/* The same for one node, removed from the graph when it folds (*folded): the importer can
 * call it right after a node's shape inference, so a shape computed from Shape feeds a
 * Reshape whose shape must be known when compiling. */
snt_status snt_fold_node(snt_graph *g, int node, bool *folded);
/* Nodes whose outputs nobody reads (and are no graph output) are removed. */
snt_status snt_pass_dead_nodes(snt_graph *g, snt_diag *d, int *changed);

/* The pass pipelines (pipeline.c, the one place that lists them). */
typedef enum snt_pipeline {
  SNT_PIPELINE_INFERENCE,   /* all of the above until nothing changes, then the batchnorm taps */
  SNT_PIPELINE_KEEP_VALUES, /* those that keep every parameter's value: the training eval graph */
  SNT_PIPELINE_TRAINING,    /* the step graph before autodiff: batchnorm + relu fused */
  SNT_PIPELINE_EXPLAIN      /* the explain graph: training's, without residuals fused into convs */
} snt_pipeline;
snt_status snt_passes_run(snt_graph *g, snt_diag *d, snt_pipeline which);
/* snt_passes_run(g, d, SNT_PIPELINE_INFERENCE). */
snt_status snt_passes_inference(snt_graph *g, snt_diag *d);

/* Helpers for passes (graph_edit.c). */
/* Readers of tensor t: count, and the first reader node (or -1). */
int snt_readers(const snt_graph *g, int t, int *first);
/* Whether a and b have the same rank and dims. */
bool snt_same_dims(const snt_tensor *a, const snt_tensor *b);
/* Whether n's parameter of that role, if any, is n's alone (read once, no graph output): a
 * pass may rewrite its values only then (ONNX lets nodes share an initializer). */
bool snt_param_private(const snt_graph *g, const snt_node *n, const char *role);
/* The only node reading t when t is no graph output, else -1. */
int snt_sole_reader(const snt_graph *g, int t);
/* The live node (dead[] unset; dead may be NULL) of op `op` producing t with one output, or -1. */
int snt_producer_of(const snt_graph *g, const bool *dead, int t, const struct snt_op *op);
/* A live two-input node of op producing t, one input fixed and the other computed: the node,
 * the computed input in *var and the fixed one in *k; -1 when t is not that. */
int snt_with_constant(const snt_graph *g, const bool *dead, int t, const struct snt_op *op, int *var, int *k);
/* Drops every attribute of n (a node a pass turns into another op). */
void snt_clear_attrs(snt_node *n);
/* Makes every reader (and graph output) of `from` read `to` instead. */
void snt_replace_uses(snt_graph *g, int from, int to);
/* Removes the nodes flagged in dead[] and renumbers producers and owners. */
snt_status snt_remove_nodes(snt_graph *g, const bool *dead);

#endif
