/* Internal: the commands of a trainable executable (train, evaluate, export-onnx, data) and
 * what they share: the weights in the training step's layout, checkpoints, the data split. */
#ifndef SINTER_RUNTIME_TRAIN_INT_H
#define SINTER_RUNTIME_TRAIN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/dist/dist.h"
#include "runtime/driver/driver.h"
#include "sinter/data.h"
#include "sinter/train.h"

/* The model's parameters in the step model's layout, with the optimizer's moments and the
 * training state that checkpoints carry (metadata_props "sinter.*", docs/training.md). */
typedef struct snt_tr_state {
  const snt_train_info *t;
  unsigned char *blob;   /* step layout: t->step_model->params */
  float *m, *v;          /* per trainable parameter, t->params order, concatenated */
  int64_t *moment_off;   /* offset of parameter i's moments (floats) */
  int64_t n_moments;     /* floats in m (and v) */
  /* Where t->params[i] and t->stats[i] sit in blob (bytes) and how many floats they hold,
   * looked up once by name. */
  int64_t *param_off, *param_n, *stat_off, *stat_n;
  int64_t step;          /* optimizer steps taken */
  int epoch;             /* epochs completed */
  double lr;
  /* callbacks */
  double best, lr_best;  /* best monitored value (early stopping; plateau) */
  int best_epoch, wait_es, wait_lr;
  /* an epoch stopped by Ctrl-C: steps taken in it and its running sums */
  int64_t epoch_step, epoch_seen, epoch_correct;
  double epoch_loss;
  /* the split the weights were trained on */
  double split[3];
  int64_t seed;
  bool has_split;
} snt_tr_state;

int snt_tr_state_init(snt_tr_state *s, const snt_train_info *t, const snt_model_info *infer);
void snt_tr_state_free(snt_tr_state *s);
/* Loads parameters (and, when present, optimizer and training state) from an ONNX file.
 * strict: every parameter must be there; else prints which were loaded and which kept. */
int snt_tr_load(snt_tr_state *s, const char *path, bool strict, bool verbose);
/* Writes an ONNX inference model of the current parameters, atomically; with_state adds the
 * optimizer moments and training state (a checkpoint). */
int snt_tr_save(const snt_tr_state *s, const char *path, bool with_state);
/* Copies the parameters into a blob of another compiled model's layout, by name. */
void snt_tr_copy_to(const snt_tr_state *s, const snt_model_info *to, unsigned char *blob);
/* The offset of a named parameter in the step layout, or -1. */
int64_t snt_tr_param_offset(const snt_train_info *t, const char *name, int64_t *numel);

/* The training step's buffers: inputs (images, labels, sample weights) at the step's largest
 * batch, and every output. */
typedef struct snt_tr_bufs {
  float *x, *w;
  int64_t *labels;
  void **out;
  int n_out;
} snt_tr_bufs;
int snt_tr_bufs_init(snt_tr_bufs *b, const snt_model_info *step_model); /* 0, or 2 when out of memory */
void snt_tr_bufs_free(snt_tr_bufs *b);

/* EXE train --profile (train_profile.c): node times of the step model, summed over the steps
 * after the first, printed as a table with the measured FMA peak. */
typedef struct snt_tr_prof {
  int n;          /* the step model's nodes */
  double *stamps; /* what the generated step writes: the time after each node */
  double *sums;   /* each node's seconds over the counted steps */
  int64_t steps, samples, warm;
} snt_tr_prof;
int snt_tr_prof_start(snt_tr_prof *p, const snt_model_info *step_model, void *inst); /* 0, or an exit code */
void snt_tr_prof_step(snt_tr_prof *p, int samples); /* after each step (p NULL: off) */
void snt_tr_prof_print(const snt_tr_prof *p, const snt_model_info *step_model, void *inst, int threads);
void snt_tr_prof_stop(snt_tr_prof *p, const snt_model_info *step_model, void *inst);

/* The data folder scanned against the model's labels and split; warnings printed. */
typedef struct snt_tr_data {
  snt_dataset ds;
  snt_split split;
  double fractions[3];
  uint64_t seed;
} snt_tr_data;
int snt_tr_data_open(const snt_model_info *info, const char *dir, const double fractions[3], uint64_t seed,
                     snt_tr_data *out);
void snt_tr_data_close(snt_tr_data *d);
/* mkdir -p; 0 on success (errno set otherwise). */
int snt_tr_mkdir_p(const char *dir);
/* Parses "a,b,c" fractions. */
int snt_tr_parse_split(const char *s, double out[3]);

/* Inference over items with the eval model: mean loss (unweighted), accuracy, predictions. */
typedef struct snt_tr_eval {
  double loss, accuracy;
  int64_t n;
  int *truth, *pred;
  int *item;    /* the data set item of each of the n rows */
  float *probs; /* n x classes: the model's probabilities, for the clinical metrics */
  int classes;
  int skipped;
  int64_t invalid; /* images whose input or output was not finite: not in n, loss or accuracy */
} snt_tr_eval;
int snt_tr_evaluate(const snt_train_info *t, const unsigned char *eval_blob, const snt_dataset *ds, const int *items,
                    int n_items, int threads, int bf16, long long max_pixels, snt_image_window window,
                    snt_tr_eval *out);
void snt_tr_eval_free(snt_tr_eval *e);

/* evaluate's clinical metrics (clinical.c). --threshold CLASS=P: class CLASS called when its
 * probability is >= P. */
typedef struct snt_tr_threshold {
  int cls;
  double p;
} snt_tr_threshold;
/* Parses each CLASS=P against the model's labels; 0, or an exit code after saying why. */
int snt_tr_parse_thresholds(const snt_model_info *info, const snt_opt_list *args, snt_tr_threshold *out);

typedef struct snt_tr_clinical_opts {
  const snt_tr_threshold *thresholds;
  int n_thresholds;
  const char *dir;         /* where roc.png and roc.csv go */
  const char *predictions; /* --predictions FILE.csv, or NULL */
} snt_tr_clinical_opts;
/* Prints the per-class AUC, sensitivity and specificity table, the macro AUC and the
 * thresholds' counts, then writes the files; 0 or an exit code after saying why. */
struct snt_confusion;
int snt_tr_clinical(const snt_tr_eval *ev, const snt_dataset *ds, const struct snt_confusion *c,
                    const snt_tr_clinical_opts *o);

/* snt_rt_parse, then the linear algebra's threads as --threads says. */
int snt_tr_parse(const snt_model_info *info, const char *cmd, const snt_opt *own, snt_rt_common *c, int argc, char **argv,
                 char **pos, int max_pos, int *n_pos);

/* The commands: each parses its own options and the common ones (c) with snt_rt_parse, and
 * returns an exit code, or -1 when --help was asked for. */
int snt_tr_cmd_train(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv);
int snt_tr_cmd_evaluate(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv);
int snt_tr_cmd_export(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv);
int snt_tr_cmd_gradients(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv);
int snt_tr_cmd_data(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv);

/* Data-parallel training under mpirun (train_dist.c). d is NULL in a single process, and then
 * every call below is a no-op. */
enum { SNT_TR_DIST_EXTRA = 5 }; /* floats riding with the gradients: snt_tr_step_sums */
typedef struct snt_tr_dist {
  snt_dist *d;
  float *buf;      /* every gradient x n, the last parameter's first, then the step's sums */
  int64_t n;
  int64_t *off;    /* parameter i's gradient at buf + off[i] */
  int *param_of;   /* the step's output i -> the parameter whose gradient it is, or -1 */
  unsigned char *ready; /* --overlap: per parameter, whether its gradient is final this step */
  int overlap, begun, active; /* --overlap; a step began; its gradients are being sent */
  const struct snt_tr_state *state;
  void **out;
  int samples, staged;  /* this step's n; parameters staged (from the last) */
  int64_t staged_to, posted; /* floats of buf staged, and sent (whole buckets) */
  int64_t bucket;  /* floats per bucket (rank 0's SINTER_DIST_BUCKET_BYTES, else SNT_MPI_BUCKET_BYTES) */
  int64_t early, buckets; /* buckets sent during the step's backward pass, and in all, this epoch */
  double comm_s;   /* seconds waited for the steps' sums after the backward pass, this epoch */
  int comm_steps;
} snt_tr_dist;
/* One step's sums over the ranks: samples, loss x samples, hits, non-finite probabilities, and
 * ranks asked to stop (Ctrl-C). */
typedef struct snt_tr_step_sums {
  double n, loss_sum, correct, bad, stop;
} snt_tr_step_sums;
/* overlap (SNT_TR_OVERLAP_*): the gradients go to the other ranks as the step makes them final
 * (a sending thread; the caller installs snt_tr_dist_ready as the step's set_ready). AUTO: the
 * same, or none when MPI allows no second thread. */
enum { SNT_TR_OVERLAP_OFF, SNT_TR_OVERLAP_ON, SNT_TR_OVERLAP_AUTO };
snt_status snt_tr_dist_init(snt_tr_dist *x, snt_dist *d, const snt_tr_state *s, int overlap, snt_err *e);
/* --overlap: before the step on this rank's n samples, whose outputs go to out. */
void snt_tr_dist_begin_step(snt_tr_dist *x, const snt_tr_state *s, void **out, int n);
/* The step's ready callback (snt_train_info.set_ready): output i is final. */
void snt_tr_dist_ready(void *user, int output);
void snt_tr_dist_free(snt_tr_dist *x);
/* Rank 0's weights, moments and training state into every rank. */
snt_status snt_tr_dist_share_state(snt_tr_dist *x, snt_tr_state *s, snt_err *e);
/* 0 when every rank sees the same files in its data folder; else says which differ, 1. */
int snt_tr_dist_check_data(snt_tr_dist *x, const snt_dataset *ds, const char *dir, const char *prog);
/* The step's gradient outputs (out[t->params[i].grad_output]: this rank's mean over its n
 * samples) become the mean over the whole batch; io's sums (this rank's in, the job's out) ride
 * along. Sent in buckets of SNT_MPI_BUCKET_BYTES, fixed by position in buf, so every rank makes
 * the same calls whenever its gradients became ready. */
snt_status snt_tr_dist_reduce_step(snt_tr_dist *x, const snt_tr_state *s, void **out, int n, snt_tr_step_sums *io,
                                   snt_err *e);
/* The moving statistics (BatchNorm's) averaged over the ranks, in place. */
snt_status snt_tr_dist_average_stats(snt_tr_dist *x, snt_tr_state *s, snt_err *e);

/* --deterministic (train.c): every batch as `parts` parts (rank r holds parts [parts r / N,
 * parts (r + 1) / N)), each its own step; the parts' gradients and sums are gathered and added
 * in part order on every rank, so any N dividing `parts` gives the same bits. Each part keeps
 * its own moving statistics (as a rank does), averaged in part order before validation and
 * checkpoints. */
typedef struct snt_tr_det {
  int parts, mine, first; /* parts of a batch; this rank's count and its first */
  int64_t slot;           /* floats per part: every gradient, then SNT_TR_DIST_EXTRA sums */
  float *slots, *all;     /* mine x slot; parts x slot */
  int64_t stat_floats;
  float *stats, *all_stats; /* mine x stat_floats: each part's moving statistics; parts x */
} snt_tr_det;
snt_status snt_tr_det_init(snt_tr_det *x, const snt_tr_state *s, int parts, int rank, int ranks, snt_err *e);
void snt_tr_det_free(snt_tr_det *x);
/* This rank's part k has taken its step on n samples (out: its outputs): its gradients x n and
 * sums into its slot, its batch statistics into its moving statistics. */
void snt_tr_det_part(snt_tr_det *x, const snt_tr_state *s, void **out, int k, int n, const snt_tr_step_sums *sums,
                     float bn_momentum);
/* Every part's slot, added in part order: the gradient outputs become the batch's mean, io the
 * batch's sums. */
snt_status snt_tr_det_reduce(snt_tr_det *x, snt_dist *d, const snt_tr_state *s, void **out, snt_tr_step_sums *io,
                             snt_err *e);
/* The parts' moving statistics averaged in part order into s->blob, and every part's reset to it. */
snt_status snt_tr_det_average_stats(snt_tr_det *x, snt_dist *d, snt_tr_state *s, snt_err *e);

#endif
