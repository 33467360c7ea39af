/* The pass pipelines, written once: which passes run, in what order, for each use. A
 * pipeline repeats its `repeat` passes until a round changes nothing (at most max_rounds
 * rounds), then runs its `then` passes once. */
#include "compiler/passes/passes.h"

typedef snt_status (*pass_fn)(snt_graph *g, snt_diag *d, int *changed);

typedef struct pipeline {
  pass_fn repeat[16];
  int max_rounds;
  pass_fn then[6];
} pipeline;

static const pipeline pipelines[] = {
    /* Constants fold first, so shape arithmetic is gone before the others count readers.
     * PyTorch's LRN decomposition becomes lrn before the pad folds reach its pads (the pass
     * knows their folded form too). Folding BN needs the conv's activation still free; the
     * residual goes in before the activation is fused after it. The batchnorm taps and the
     * pools a conv writes come last: no later pass may change what a conv's outputs are. */
    [SNT_PIPELINE_INFERENCE] = {{snt_pass_fold_constants, snt_pass_drop_identity, snt_pass_fuse_lrn, snt_pass_fuse_gelu, snt_pass_fuse_layer_norm, snt_pass_fold_batchnorm,
                                 snt_pass_fold_rescale, snt_pass_fold_pad, snt_pass_fold_pad_pool, snt_pass_fuse_matmul_bias, snt_pass_fuse_residual,
                                 snt_pass_fuse_activation, snt_pass_fuse_bn_relu, snt_pass_dead_nodes},
                                8,
                                {snt_pass_fuse_bn_tap, snt_pass_fuse_conv_pool, snt_pass_fuse_expand_dw, snt_pass_fuse_channel_scale,
                                 snt_pass_bf16_taps, snt_pass_dead_nodes}},
    /* Every parameter keeps its value (no folding), so weights map by name. */
    [SNT_PIPELINE_KEEP_VALUES] = {{snt_pass_drop_identity, snt_pass_fold_pad, snt_pass_fuse_activation,
                                   snt_pass_fuse_bn_relu, snt_pass_dead_nodes},
                                  16,
                                  {snt_pass_fuse_conv_pool, snt_pass_dead_nodes}},
    /* The training step before autodiff: BatchNorm then ReLU runs as one kernel forward and
     * one backward (the relu's mask is the output's sign), two passes over the largest
     * tensors fewer each way. A zero pad before a conv becomes its padding and a residual add
     * its epilogue (the gradient passes dy to the residual): no pad, pad gradient or add pass
     * at all (ResNet50V2's step: 16 pads, 16 adds). */
    [SNT_PIPELINE_TRAINING] = {{NULL}, 0, {snt_pass_fold_pad, snt_pass_fuse_residual, snt_pass_fuse_bn_relu}},
    /* Grad-CAM's graph (compiler/explain.c): as training, but a convolution's output stays its
     * own (no residual add fused into it: ResNet's last conv is not its block's sum). */
    [SNT_PIPELINE_EXPLAIN] = {{NULL}, 0, {snt_pass_fold_pad, snt_pass_fuse_bn_relu}},
};

snt_status snt_passes_run(snt_graph *g, snt_diag *d, snt_pipeline which) {
  const pipeline *p = &pipelines[which];
  for (int round = 0; round < p->max_rounds; round++) {
    int changed = 0;
    for (int i = 0; i < 16 && p->repeat[i]; i++) {
      snt_status st = p->repeat[i](g, d, &changed);
      if (st) return st;
    }
    if (!changed) break;
  }
  int changed = 0;
  for (int i = 0; i < 6 && p->then[i]; i++) {
    snt_status st = p->then[i](g, d, &changed);
    if (st) return st;
  }
  return SNT_OK;
}

snt_status snt_passes_inference(snt_graph *g, snt_diag *d) { return snt_passes_run(g, d, SNT_PIPELINE_INFERENCE); }
