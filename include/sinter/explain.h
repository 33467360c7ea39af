/* What an executable tells the runtime about Grad-CAM (`EXE explain`, docs/cli.md): a model of
 * batch 1 built by sinter compile beside the inference model, whose backward pass carries the
 * gradient of one class score (a logit) to the model's convolutions. */
#ifndef SINTER_EXPLAIN_H
#define SINTER_EXPLAIN_H

#include <stddef.h>

#include "sinter/model.h"

/* A layer explain can look at: the explain model's outputs holding the layer's activation and
 * the gradient of the explained class's score there. */
typedef struct snt_explain_layer_info {
  const char *name; /* the layer's (node's) name in the model file */
  int act_output, grad_output;
} snt_explain_layer_info;

/* A parameter of the explain model that the inference model lacks or holds other values of
 * (graph passes folded it): its bytes at `offset` in snt_explain_info.delta_bytes. */
typedef struct snt_explain_param {
  const char *name;
  size_t offset, bytes;
} snt_explain_param;

typedef struct snt_explain_info {
  /* inputs: images [1, ...], the score's gradient with respect to the logits [1, classes]
   * (one-hot); outputs: probabilities [1, classes], then each layer's activation and gradient.
   * NULL when the model cannot be explained: `why` says why. */
  const snt_model_info *model;
  int n_layers; /* in the forward order: the last is the model's last convolution */
  const snt_explain_layer_info *layers;
  const char *why;
  /* Where the explain model's weights come from when it has none of its own: the inference
   * model's parameters of the same names, then these. */
  int n_delta;
  const snt_explain_param *delta;
  const unsigned char *delta_bytes;
} snt_explain_info;

/* The command line of an inference-only executable that can explain (ONNX graphs): the
 * inference commands plus explain. */
int snt_rt_main_explain(int argc, char **argv, const snt_model_info *info, const snt_explain_info *x);

#endif
