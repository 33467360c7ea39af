/* The training recipe of a model: the `train { }` section of a .nn file.
 * Defaults are the seed notebook's (Keras defaults where it set nothing). */
#ifndef SINTER_COMPILER_RECIPE_H
#define SINTER_COMPILER_RECIPE_H

#include <stdbool.h>
#include <stdint.h>

enum { SNT_MAX_CLASSES = 256 };

typedef enum snt_class_weight_mode { SNT_CW_NONE, SNT_CW_BALANCED, SNT_CW_EXPLICIT } snt_class_weight_mode;

typedef struct snt_recipe {
  bool present;            /* the model has a train section */
  char loss[40];           /* sparse_categorical_crossentropy */
  char optimizer[8];       /* adam | sgd */
  double lr, beta1, beta2, epsilon; /* adam */
  double momentum;         /* sgd */
  bool nesterov;
  snt_class_weight_mode class_weight;
  int n_class_weights;
  double class_weights[SNT_MAX_CLASSES];
  int64_t batch, epochs, seed;
  double split[3];         /* train, validation, test */
  struct {
    bool flip_horizontal, flip_vertical;
    double brightness;     /* max delta, fraction of the pixel range; 0 = off */
    double contrast[2];    /* factor range; [1, 1] = off */
    double rotation;       /* max angle as a fraction of a full turn (Keras RandomRotation) */
    double shift[2];       /* max height / width shift as fractions */
    double zoom;           /* max zoom as a fraction */
  } augment;
  struct {
    bool enabled, restore_best;
    char monitor[16];
    int64_t patience;
    double min_delta;
  } early_stopping;
  struct {
    bool enabled;
    char monitor[16];
    double factor, min_lr;
    int64_t patience;
  } reduce_lr;
  struct {
    bool enabled, save_best;
    char monitor[16];
  } checkpoint;
  double bn_momentum;      /* applies to BatchNorm layers that set no momentum */
} snt_recipe;

void snt_recipe_defaults(snt_recipe *r);

#endif
