/* What a trainable model compiled by sinter tells the runtime: its training step (forward in
 * training mode, loss and the generated backward pass), which parameters the optimizer updates
 * and which BatchNorm statistics follow the batch, and the model file's recipe.
 *
 * The training step is an ordinary compiled model (snt_model_info) with
 *   inputs:  0 images [B, ...] float, 1 labels [B] int64, 2 sample weights [B] float
 *   outputs: 0 loss [1] (Keras's sum of w_i * loss_i over the batch size n), 1 probabilities [B, C],
 *            then one gradient per trainable parameter and one batch statistic per moving statistic.
 * B is the largest batch it takes; a step may run n <= B samples (rows past n are ignored). */
#ifndef SINTER_TRAIN_H
#define SINTER_TRAIN_H

#include <stdint.h>

#include "sinter/explain.h"
#include "sinter/model.h"

/* A parameter the optimizer updates: grad_output is the step's output holding dLoss/dparam. */
typedef struct snt_train_param {
  const char *name; /* as in the model's parameter tables */
  int grad_output;
  float l2;         /* Keras kernel_regularizer l2 factor; 0 when none */
} snt_train_param;

/* A BatchNorm moving statistic: moving = moving * momentum + batch * (1 - momentum), where
 * batch is the step's output (the batch mean, or the biased batch variance). */
typedef struct snt_train_stat {
  const char *name; /* the moving_mean / moving_variance parameter */
  int output;
  float momentum;   /* the layer's own; < 0: the recipe's bn_momentum */
} snt_train_stat;

typedef enum snt_train_cw { SNT_TRAIN_CW_NONE, SNT_TRAIN_CW_BALANCED, SNT_TRAIN_CW_EXPLICIT } snt_train_cw;

/* The `train { }` section of the model file (defaults: the seed notebook's). */
typedef struct snt_train_recipe {
  char optimizer[8]; /* adam | sgd */
  double lr, beta1, beta2, epsilon, momentum;
  int nesterov;
  snt_train_cw class_weight;
  int n_class_weights;
  const double *class_weights;
  int64_t batch, epochs, seed;
  double split[3];
  struct {
    int flip_horizontal, flip_vertical;
    double brightness, contrast[2], rotation, shift[2], zoom;
  } augment;
  struct {
    int enabled, restore_best;
    const char *monitor;
    int64_t patience;
    double min_delta;
  } early_stopping;
  struct {
    int enabled;
    const char *monitor;
    double factor, min_lr;
    int64_t patience;
  } reduce_lr;
  struct {
    int enabled, save_best;
    const char *monitor;
  } checkpoint;
  double bn_momentum;
} snt_train_recipe;

typedef struct snt_train_info {
  const snt_model_info *step_model; /* the training step as a model (tables, create, destroy) */
  /* Runs one step on n <= B samples; `seed` drives dropout. Returns 0 on success. */
  int (*step)(void *model, int64_t n, uint64_t seed, const void *const *in, void *const *out);
  /* Data-parallel training: the step's samples are the job's from `first` on (dropout keys its
   * draws by the job's sample index), and with `sum` (adds doubles over the ranks; NULL: none)
   * BatchNorm uses the job's batch statistics (snt_k_ctx_set_shard). */
  void (*set_shard)(void *model, int64_t first, int (*sum)(void *user, double *x, int64_t n), void *user);
  /* ready(user, i) during a step, once output i is final (snt_k_ctx_set_ready; NULL: none):
   * the gradients go to the other ranks while the backward pass goes on (--overlap). */
  void (*set_ready)(void *model, void (*ready)(void *user, int output), void *user);
  const snt_model_info *eval_model; /* inference at the training batch (validation, evaluate) */
  int n_params;
  const snt_train_param *params;
  int n_stats;
  const snt_train_stat *stats;
  int64_t n_trainable; /* trainable scalars, as Keras counts them */
  snt_train_recipe recipe;
  /* The ONNX inference graph (export-onnx, checkpoints) with every parameter's data left empty:
   * the runtime fills initializers of the same names from its weights. */
  const unsigned char *onnx_template;
  size_t onnx_template_bytes;
  /* Grad-CAM (EXE explain); its model's parameters have the step model's names. */
  const snt_explain_info *explain;
} snt_train_info;

/* The command line of a trainable executable: the inference commands plus train, evaluate,
 * export-onnx and data. */
int snt_rt_main_train(int argc, char **argv, const snt_model_info *info, const snt_train_info *train);

#endif
