/* EXE train: the model file's recipe (Adam or SGD, class weights, augmentation, early
 * stopping, learning-rate reduction, checkpoints), with Keras's progress line per epoch. */
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/train/train_int.h"
#include "sinter/kernels_train.h"
#include "sinter/report.h"

/* Ctrl-C: the only process-wide state, as a signal handler can reach nothing else. */
static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

/* Under mpirun: what this rank says when the job ends under it, prepared at every step (a
 * signal handler can format nothing). where[k]: "epoch E, step S of N; --resume ...";
 * ended[k]: the whole line for SIGTERM, which mpirun sends when another rank has died. Each is
 * written into the buffer not in use, then `current` flips. */
enum { WHERE_BYTES = 4608, ENDED_BYTES = WHERE_BYTES + 512 };
static char where_note[2][WHERE_BYTES], ended_note[2][ENDED_BYTES];
static volatile sig_atomic_t note_current, ended_len[2];

static void on_sigterm(int sig) {
  int k = note_current;
  ssize_t w = write(2, ended_note[k], (size_t)ended_len[k]);
  (void)w;
  signal(sig, SIG_DFL); /* then end as SIGTERM would have */
  raise(sig);
}

/* Where the run is, for the notes above. */
static void note_progress(const char *prog, int rank, const char *out, int epoch, int step, int steps, int done) {
  int k = !note_current;
  char resume[4200];
  if (done > 0) snprintf(resume, sizeof resume, "--resume continues from %.4000s/last.onnx (after epoch %d)", out, done);
  else snprintf(resume, sizeof resume, "no epoch was completed: nothing to resume");
  snprintf(where_note[k], WHERE_BYTES, "epoch %d, step %d of %d; %s", epoch + 1, step + 1, steps, resume);
  int n = snprintf(ended_note[k], ENDED_BYTES, "\n%.200s train: rank %d: the job was ended by mpirun (another rank has "
                   "died?) in %s\n", prog, rank, where_note[k]);
  ended_len[k] = rank > 0 || n < 0 ? 0 : n >= ENDED_BYTES ? ENDED_BYTES - 1 : n; /* rank 0 speaks for the job */
  note_current = k;
}

typedef struct timeout_ctx {
  const char *prog;
  int rank;
  double seconds;
} timeout_ctx;

/* The watchdog's (runtime/dist): a collective waited past --comm-timeout. Rank 0 speaks first;
 * another rank waits a little longer, so that it speaks only when rank 0 is the one gone. The
 * process ends here (_exit: this thread cannot unwind the one blocked in MPI), and mpirun then
 * ends the job. */
static void on_comm_timeout(void *user, const char *call, double waited) {
  const timeout_ctx *c = user;
  if (c->rank > 0 && waited < c->seconds + 2) return; /* asked again in a fifth of a second */
  fprintf(stderr, "\n%s train: rank %d: no answer from the other ranks for %.0f s in %s (%s): a rank has died or "
          "hangs, so the job ends here (--comm-timeout sets the wait)\n", c->prog, c->rank, waited, call,
          where_note[note_current]);
  fflush(stderr);
  _exit(SNT_EXIT_INTERNAL);
}

typedef struct opts {
  const char *data, *out, *weights, *init_from;
  int64_t epochs, batch, patience, seed;
  double lr, bn_momentum, split[3];
  int threads, augment, resume, has_split, profile;
  double comm_timeout; /* under mpirun: seconds a collective may wait */
  int sync_bn;         /* under mpirun: BatchNorm over the job's batch */
  int overlap;         /* under mpirun: gradients sent during the backward pass (SNT_TR_OVERLAP_*) */
  int deterministic;   /* every batch as `parts` parts added in a fixed order */
  int64_t parts;
  long long max_pixels; /* --max-pixels, 0 = the image module's default */
  snt_image_window window; /* --window C,W for DICOM images */
} opts;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

enum { MAX_EPOCHS = 1000000 };

/* Returns 0, -1 when help was asked for, or an exit code after printing why. */
static int parse(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv, opts *o) {
  const snt_train_recipe *r = &t->recipe;
  int64_t most = t->step_model->batch;
  *o = (opts){.out = "run", .epochs = r->epochs, .batch = r->batch < most ? r->batch : most, .patience = -1, .seed = r->seed,
              .lr = -1, .bn_momentum = -1, .augment = 1, .comm_timeout = 300, .parts = 2};
  memcpy(o->split, r->split, sizeof o->split);
  bool no_augment = false, resume = false, profile = false, sync_bn = false, deterministic = false;
  const char *overlap = "auto";
  double split[3];
  const snt_opt own[] = {
      {.name = "data", 0, SNT_OPT_STRING, &o->data, "DIR", "a folder of class folders (required)"},
      {.name = "out", 0, SNT_OPT_STRING, &o->out, "DIR", "where checkpoints go (default run)"},
      {.name = "init-from", 0, SNT_OPT_STRING, &o->init_from, "W.onnx", "start from the parameters this file has"},
      {.name = "epochs", 0, SNT_OPT_INT, &o->epochs, "N", "epochs in all", .imin = 1, .imax = MAX_EPOCHS},
      {.name = "batch", 0, SNT_OPT_INT, &o->batch, "N", "batch size (at most sinter compile --train-batch)", .imin = 1,
       .imax = INT64_MAX},
      {.name = "patience", 0, SNT_OPT_INT, &o->patience, "N", "early-stopping patience", .imin = 0, .imax = MAX_EPOCHS},
      {.name = "seed", 0, SNT_OPT_INT, &o->seed, "N", "split, shuffle and augmentation seed", .imin = 0, .imax = INT64_MAX},
      {.name = "lr", 0, SNT_OPT_DOUBLE, &o->lr, "X", "learning rate", .dmin = 0, .dmax = 1e6, .min_open = true},
      {.name = "bn-momentum", 0, SNT_OPT_DOUBLE, &o->bn_momentum, "X", "batch-norm momentum", .dmin = 0, .dmax = 1},
      {.name = "split", 0, SNT_OPT_DOUBLES, split, "A,B,C", "train, val and test fractions", .dmin = 0, .dmax = 1,
       .count = 3},
      {.name = "no-augment", 0, SNT_OPT_FLAG, &no_augment, NULL, "no augmentation"},
      {.name = "resume", 0, SNT_OPT_FLAG, &resume, NULL, "continue from DIR/last.onnx"},
      {.name = "profile", 0, SNT_OPT_FLAG, &profile, NULL, "time every node of the step; a table at the end"},
      {.name = "sync-bn", 0, SNT_OPT_FLAG, &sync_bn, NULL,
       "under mpirun: BatchNorm statistics of the whole batch (default: each rank's own, as Keras's MirroredStrategy)"},
      {.name = "deterministic", 0, SNT_OPT_FLAG, &deterministic, NULL,
       "every batch as --parts parts added in a fixed order: the same bits with any number of ranks dividing it"},
      {.name = "parts", 0, SNT_OPT_INT, &o->parts, "P", "--deterministic's parts of a batch (default 2)", .imin = 1,
       .imax = 4096},
      {.name = "overlap", 0, SNT_OPT_STRING, &overlap, "on|off|auto",
       "under mpirun: send the gradients while the backward pass goes on (auto: when the ranks span machines)"},
      {.name = "comm-timeout", 0, SNT_OPT_DOUBLE, &o->comm_timeout, "S",
       "under mpirun: end the job when the ranks wait S seconds for one another (default 300; 0 = wait forever)",
       .dmin = 0, .dmax = 1e9},
      {.name = "max-pixels", 0, SNT_OPT_INT, &c->max_pixels, "N", "the largest image decoded", .imin = 1,
       .imax = SNT_IMAGE_MAX_PIXELS},
      {NULL}};
  split[0] = -1;
  int n_pos = 0;
  int rc = snt_tr_parse(info, "train", own, c, argc, argv, NULL, 0, &n_pos);
  if (rc) return rc;
  if (split[0] >= 0) memcpy(o->split, split, sizeof split), o->has_split = 1;
  o->augment = !no_augment;
  o->resume = resume;
  o->profile = profile;
  o->sync_bn = sync_bn;
  o->deterministic = deterministic;
  o->overlap = strcmp(overlap, "on") == 0    ? SNT_TR_OVERLAP_ON
               : strcmp(overlap, "off") == 0 ? SNT_TR_OVERLAP_OFF
                                             : SNT_TR_OVERLAP_AUTO;
  if (o->overlap == SNT_TR_OVERLAP_AUTO && strcmp(overlap, "auto") != 0) {
    fprintf(stderr, "%s train: --overlap %s: expected on, off or auto\n", info->name, overlap);
    return SNT_EXIT_USER;
  }
  if (deterministic && sync_bn) {
    fprintf(stderr, "%s train: --deterministic and --sync-bn cannot be combined yet: --deterministic normalises each "
            "part by its own statistics\n", info->name);
    return SNT_EXIT_USER;
  }
  o->max_pixels = c->max_pixels;
  o->window = c->window;
  if (!o->data) {
    fprintf(stderr, "%s train: needs --data DIR (a folder of class folders)\n", info->name);
    return SNT_EXIT_USER;
  }
  if (o->batch > most) { /* the range depends on the executable: said with how to change it */
    fprintf(stderr, "%s train: --batch %lld: this executable trains batches of 1 to %lld (sinter compile --train-batch N)\n",
            info->name, (long long)o->batch, (long long)most);
    return SNT_EXIT_USER;
  }
  if (o->epochs < 1 || o->epochs > MAX_EPOCHS) { /* the recipe's, when --epochs is not given */
    fprintf(stderr, "%s train: the recipe's epochs %lld is out of range (1 to %d): give --epochs\n", info->name,
            (long long)o->epochs, MAX_EPOCHS);
    return SNT_EXIT_USER;
  }
  return 0;
}

/* Optimizer step, L2 and the moving statistics; returns the L2 penalty. */
static double update(snt_tr_state *s, const snt_tr_bufs *b, float bn_momentum, bool stats) {
  const snt_train_info *t = s->t;
  const snt_train_recipe *r = &t->recipe;
  double penalty = 0;
  bool sgd = strcmp(r->optimizer, "sgd") == 0;
  s->step++;
  for (int i = 0; i < t->n_params; i++) {
    int64_t n = s->param_n[i];
    float *w = (float *)(s->blob + s->param_off[i]), *g = b->out[t->params[i].grad_output];
    if (t->params[i].l2 > 0) penalty += snt_k_l2_grad(n, w, t->params[i].l2, g);
    float *m = s->m + s->moment_off[i], *v = s->v + s->moment_off[i];
    if (sgd) snt_k_sgd_step(n, w, g, m, (float)s->lr, (float)r->momentum, r->nesterov);
    else snt_k_adam_step(n, w, g, m, v, (float)s->lr, (float)r->beta1, (float)r->beta2, (float)r->epsilon, s->step);
  }
  for (int i = 0; stats && i < t->n_stats; i++) {
    float mom = t->stats[i].momentum >= 0 ? t->stats[i].momentum : bn_momentum;
    snt_k_moving_update(s->stat_n[i], (float *)(s->blob + s->stat_off[i]), b->out[t->stats[i].output], mom);
  }
  return penalty;
}

/* What stopped being finite in a step: the loss, the probabilities or the updated weights; NULL
 * when all are finite. */
static const char *nonfinite(const snt_tr_state *s, const snt_tr_bufs *b, int n, double loss) {
  const snt_train_info *t = s->t;
  if (!isfinite(loss)) return "the loss is not finite";
  if (snt_rt_count_nonfinite(SNT_F32, b->out[1], (int64_t)n * t->step_model->outputs[1].dims[1]))
    return "the predicted probabilities are not finite";
  for (int i = 0; i < t->n_params; i++)
    if (snt_rt_count_nonfinite(SNT_F32, s->blob + s->param_off[i], s->param_n[i])) return "the weights are not finite";
  return NULL;
}

static void progress(bool tty, int step, int steps, double t0, double loss, double acc, bool last) {
  if (!tty && !last) return;
  int width = 30, done = steps ? step * width / steps : width;
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < done ? '=' : '.';
  if (done < width && done > 0) bar[done - 1] = '>';
  bar[width] = '\0';
  double el = now() - t0, eta = step ? el / step * (steps - step) : 0;
  if (last) printf("%s%d/%d [%s] - %.0fs %.0fms/step - loss: %.4f - accuracy: %.4f", tty ? "\r" : "", step, steps, bar, el,
                   step ? el * 1000 / step : 0, loss, acc);
  else printf("\r%d/%d [%s] - ETA: %.0fs - loss: %.4f - accuracy: %.4f", step, steps, bar, eta, loss, acc);
  fflush(stdout);
}

typedef struct epoch_result {
  double loss, acc;
  int skipped, batches;
  bool collective; /* a failure every rank met alike (the job's sums said so) */
} epoch_result;

/* snt_k_sum_fn over the job (--sync-bn's BatchNorm). */
static int dist_sum(void *user, double *x, int64_t n) {
  snt_err e;
  if (snt_dist_sum_f64(user, x, n, &e) == SNT_OK) return 0;
  fprintf(stderr, "%s\n", e.msg);
  return 1;
}

/* Hits among n predictions p against labels. */
static int64_t hits(const float *p, const int64_t *labels, int n, int64_t classes) {
  int64_t correct = 0;
  for (int i = 0; i < n; i++) {
    int best = 0;
    for (int c = 1; c < classes; c++)
      if (p[i * classes + c] > p[i * classes + best]) best = c;
    correct += best == labels[i];
  }
  return correct;
}

/* --deterministic: this rank's parts of the batch (n samples in b from the job's position
 * `from` of a batch of `size`), each a step, then every part added in part order. */
static int det_step(const snt_train_info *t, void *inst, snt_tr_det *det, snt_tr_dist *dx, snt_tr_state *s,
                    const snt_tr_bufs *b, int n, int64_t size, int64_t from, uint64_t seed, float bn_momentum,
                    snt_tr_step_sums *io, snt_err *e) {
  int64_t classes = t->step_model->outputs[1].dims[1], floats = 1;
  for (int a = 1; a < t->step_model->inputs[0].rank; a++) floats *= t->step_model->inputs[0].dims[a];
  for (int k = 0; k < det->mine; k++) {
    int64_t v = det->first + k, lo = size * v / det->parts - from, cnt = size * (v + 1) / det->parts - size * v / det->parts;
    if (lo + cnt > n) cnt = n - lo < 0 ? 0 : n - lo; /* a batch short of unreadable images */
    if (lo > 0 && cnt > 0) { /* the step reads the compiled batch from the buffers' start: move the part there (the
                              * parts before it are done, and the ones after lie beyond it) */
      memmove(b->x, b->x + lo * floats, sizeof(float) * (size_t)(cnt * floats));
      memmove(b->labels, b->labels + lo, sizeof(int64_t) * (size_t)cnt);
      memmove(b->w, b->w + lo, sizeof(float) * (size_t)cnt);
    }
    const void *ins[3] = {b->x, b->labels, b->w};
    t->set_shard(inst, size * v / det->parts, NULL, NULL);
    int st = cnt > 0 ? t->step(inst, cnt, seed, ins, b->out) : 0;
    if (st != 0) return st;
    snt_tr_step_sums part = {.stop = interrupted};
    if (cnt > 0) {
      part.loss_sum = *(float *)b->out[0] * (double)cnt;
      part.correct = (double)hits(b->out[1], b->labels, (int)cnt, classes);
      part.bad = (double)snt_rt_count_nonfinite(SNT_F32, b->out[1], cnt * classes);
    }
    snt_tr_det_part(det, s, b->out, k, (int)cnt, &part, bn_momentum);
  }
  return snt_tr_det_reduce(det, dx->d, s, b->out, io, e) == SNT_OK ? 0 : -1;
}

/* Under mpirun, a failure on one rank alone: the others wait in the next collective, so the
 * job ends here (mpirun says which rank called MPI_Abort). */
static int fail_alone(snt_tr_dist *dx, int rc) {
  if (dx->d) fflush(stderr), snt_dist_abort(dx->d, rc);
  return rc;
}

/* What a batch's step needs besides its samples. */
typedef struct batch_ctx {
  const snt_train_info *t;
  void *inst;
  snt_tr_state *s;
  const snt_tr_bufs *b;
  const opts *o;
  snt_tr_dist *dx;
  snt_tr_det *det;
  snt_tr_prof *prof;
  float bn_momentum;
  uint64_t seed;
  int64_t size; /* the job's batch: o->batch but for the epoch's last */
} batch_ctx;

/* The job's view of a batch (this process's in a single one): samples, hits, the mean loss,
 * whether a probability was not finite, whether a rank was interrupted, and whether this
 * rank's batch statistics go into its moving statistics. */
typedef struct batch_result {
  int64_t n, hits;
  double loss;
  bool bad_probs, stop, stats;
} batch_result;

/* One batch on this rank's n samples in c->b: the step (or --deterministic's parts), then under
 * mpirun the job's sums. 0, or an exit code after saying why. */
static int run_batch(const batch_ctx *c, int n, int epoch, int step, batch_result *r) {
  const snt_train_info *t = c->t;
  snt_tr_dist *dx = c->dx;
  bool dist = dx->d != NULL;
  int64_t classes = t->step_model->outputs[1].dims[1];
  int64_t from = c->size * snt_dist_rank(dx->d) / snt_dist_size(dx->d); /* this rank's first sample, as the loader cut it */
  snt_tr_step_sums sums = {0};
  snt_err e;
  *r = (batch_result){0};
  if (c->det) {
    int st = det_step(t, c->inst, c->det, dx, c->s, c->b, n, c->size, from, c->seed, c->bn_momentum, &sums, &e);
    if (st < 0) fprintf(stderr, "%s train: %s\n", t->step_model->name, e.msg);
    else if (st > 0) snt_rt_report_failure(t->step_model, c->inst, st, "train (--deterministic)");
    if (st) return fail_alone(dx, SNT_EXIT_INTERNAL);
    *r = (batch_result){(int64_t)sums.n, (int64_t)sums.correct, sums.n > 0 ? sums.loss_sum / sums.n : 0, sums.bad > 0,
                        sums.stop > 0, false}; /* the parts keep their own moving statistics */
    return 0;
  }
  if (dist) t->set_shard(c->inst, from, c->o->sync_bn ? dist_sum : NULL, dx->d);
  if (dist) snt_tr_dist_begin_step(dx, c->s, c->b->out, n);
  const void *ins[3] = {c->b->x, c->b->labels, c->b->w};
  /* --sync-bn: a rank with no sample still takes the step, for its share of BatchNorm's sums */
  int st = n > 0 || (dist && c->o->sync_bn) ? t->step(c->inst, n, c->seed, ins, c->b->out) : 0;
  if (st != 0) {
    char what[96];
    snprintf(what, sizeof what, "train (epoch %d, step %d)", epoch + 1, step + 1);
    snt_rt_report_failure(t->step_model, c->inst, st, what);
    return fail_alone(dx, SNT_EXIT_INTERNAL);
  }
  if (n > 0) snt_tr_prof_step(c->prof, n);
  double loss = n > 0 ? *(float *)c->b->out[0] : 0;
  int64_t hit = n > 0 ? hits(c->b->out[1], c->b->labels, n, classes) : 0;
  /* The moving statistics follow this rank's batch statistics, or with --sync-bn the job's
   * (which a rank without samples has too). */
  *r = (batch_result){n, hit, loss, false, false, n > 0 || c->o->sync_bn};
  if (!dist) return 0;
  sums = (snt_tr_step_sums){.loss_sum = loss * n, .correct = (double)hit, .stop = interrupted};
  if (n > 0) sums.bad = (double)snt_rt_count_nonfinite(SNT_F32, c->b->out[1], (int64_t)n * classes);
  if (snt_tr_dist_reduce_step(dx, c->s, c->b->out, n, &sums, &e) != SNT_OK) {
    fprintf(stderr, "%s train: %s\n", t->step_model->name, e.msg);
    return fail_alone(dx, SNT_EXIT_INTERNAL);
  }
  r->n = (int64_t)sums.n, r->hits = (int64_t)sums.correct, r->stop = sums.stop > 0, r->bad_probs = sums.bad > 0;
  r->loss = r->n > 0 ? sums.loss_sum / (double)r->n : 0;
  return 0;
}

static int run_epoch(snt_tr_state *s, void *inst, snt_loader *l, const double *cw, const opts *o, float bn_momentum,
                     int epoch, const snt_tr_bufs *bp, snt_tr_prof *prof, snt_tr_dist *dx, snt_tr_det *det,
                     epoch_result *res) {
  const snt_train_info *t = s->t;
  snt_tr_bufs b = *bp;
  int rc = 0;
  snt_err e;
  res->collective = false;
  if (!rc && snt_loader_begin_epoch(l, epoch, &e) != SNT_OK) rc = fail_alone(dx, 1), fprintf(stderr, "%s\n", e.msg);
  /* An epoch interrupted by Ctrl-C goes on where it stopped: the batches already taken are
   * drawn (their order depends on the seed and epoch only) and skipped, the sums carried on. */
  double loss_sum = s->epoch_loss, t0 = now();
  int64_t seen = s->epoch_seen, correct = s->epoch_correct;
  int steps = snt_loader_steps(l), step = 0, skip = (int)s->epoch_step;
  bool tty = isatty(1), dist = dx->d != NULL;
  /* Under mpirun every rank runs every step of the epoch, an empty share included, and stops
   * only where the job's sums say so: a rank leaving alone would hang the others. */
  while (!rc && (dist || !interrupted)) {
    int n = 0;
    if (dist && step >= steps) break;
    if (snt_loader_next(l, b.x, b.labels, &n, &e) != SNT_OK) {
      fprintf(stderr, "%s\n", e.msg);
      rc = fail_alone(dx, 1);
      break;
    }
    if (n == 0 && !dist) break;
    if (step < skip) {
      step++;
      continue;
    }
    if (dist) note_progress(t->step_model->name, snt_dist_rank(dx->d), o->out, epoch, step, steps, s->epoch);
    for (int i = 0; i < n; i++) b.w[i] = (float)cw[b.labels[i]];
    int64_t first = (int64_t)step * o->batch, left = snt_loader_items(l) - first;
    batch_ctx bc = {t, inst, s, &b, o, dx, det, prof, bn_momentum, snt_rng_u64((uint64_t)o->seed, 7, (uint64_t)epoch, (uint64_t)step),
                    left < o->batch ? left : o->batch};
    batch_result r;
    if ((rc = run_batch(&bc, n, epoch, step, &r))) break;
    if (r.stop) interrupted = 1;
    if (r.n == 0) { /* every image of the batch failed to load: nothing to learn from */
      step++;
      if (r.stop) break;
      continue;
    }
    double loss = r.loss + update(s, &b, bn_momentum, r.stats);
    /* the job's probabilities were counted in its sums; one process's are checked here */
    const char *bad = r.bad_probs ? "the predicted probabilities are not finite" : nonfinite(s, &b, dist || det ? 0 : n, loss);
    if (bad) {
      /* Keras's TerminateOnNaN, also for weights: the loss is clipped, so NaN weights can give a
       * finite one. Nothing of this state is saved: the checkpoints on disk are those of the last
       * completed epoch. */
      printf("\n"); /* ends the progress line */
      fflush(stdout);
      fprintf(stderr, "%s train: %s at epoch %d, step %d of %d: stopping (is the learning rate too high?); ",
              t->step_model->name, bad, epoch + 1, step + 1, steps);
      if (s->epoch > 0) fprintf(stderr, "%s/last.onnx and best.onnx keep the weights of epoch %d\n", o->out, s->epoch);
      else fprintf(stderr, "no epoch was completed: no checkpoint was written\n");
      rc = SNT_EXIT_USER;
      res->collective = true;
      break;
    }
    correct += r.hits;
    loss_sum += loss * (double)r.n;
    seen += r.n;
    step++;
    s->epoch_step = step, s->epoch_loss = loss_sum, s->epoch_seen = seen, s->epoch_correct = correct;
    progress(tty, step, steps, t0, loss_sum / (double)seen, (double)correct / (double)seen, false);
    if (r.stop) break;
  }
  res->loss = seen ? loss_sum / (double)seen : NAN;
  res->acc = seen ? (double)correct / (double)seen : NAN;
  res->skipped = snt_loader_skipped(l);
  res->batches = step;
  if (!rc) progress(tty, step, steps, t0, res->loss, res->acc, true);
  return rc;
}

static void path_in(char *buf, size_t n, const char *dir, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* Class weights for the training split: the recipe's mode (balanced, explicit, none). */
static void class_weights(const snt_train_info *t, const snt_tr_data *d, double *cw) {
  int n = d->ds.n_classes;
  for (int c = 0; c < n; c++) cw[c] = 1;
  if (t->recipe.class_weight == SNT_TRAIN_CW_BALANCED) snt_data_class_weights(&d->ds, &d->split, cw);
  else if (t->recipe.class_weight == SNT_TRAIN_CW_EXPLICIT)
    for (int c = 0; c < n && c < t->recipe.n_class_weights; c++) cw[c] = t->recipe.class_weights[c];
}

static void print_counts(const snt_tr_data *d, const double *cw) {
  int n = d->ds.n_classes;
  int64_t *tr = calloc((size_t)n * 3, sizeof *tr);
  if (!tr) return;
  const int *lists[3] = {d->split.train, d->split.val, d->split.test};
  int counts[3] = {d->split.n_train, d->split.n_val, d->split.n_test};
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < counts[k]; i++) tr[k * n + d->ds.label[lists[k][i]]]++;
  printf("%-18s %7s %7s %7s %7s %8s\n", "class", "all", "train", "val", "test", "weight");
  for (int c = 0; c < n; c++)
    printf("%-18s %7lld %7lld %7lld %7lld %8.4f\n", d->ds.labels[c], (long long)d->ds.counts[c], (long long)tr[c],
           (long long)tr[n + c], (long long)tr[2 * n + c], cw[c]);
  printf("%-18s %7d %7d %7d %7d\n", "total", d->ds.n_items, d->split.n_train, d->split.n_val, d->split.n_test);
  free(tr);
}

typedef struct trainer {
  const snt_model_info *info;
  const snt_train_info *t;
  opts o;
  snt_tr_state s;
  snt_tr_data d;
  snt_loader *train;
  void *step_inst;
  unsigned char *eval_blob, *best_blob;
  snt_history_row *hist;
  int n_hist;
  snt_tr_bufs b; /* the step's inputs and outputs, kept across epochs */
  double *cw; /* class weights of the training split */
  snt_tr_prof prof; /* --profile */
  snt_dist *dist;   /* under mpirun with several ranks; else NULL */
  snt_tr_dist dx;
  snt_tr_det det;   /* --deterministic */
  timeout_ctx tmo;  /* the watchdog's view */
  bool collective;  /* the failure being returned is every rank's (no MPI_Abort needed) */
} trainer;

/* --deterministic: the validation part as --parts slices, each evaluated alone, the sums added
 * in slice order (the same bits whichever rank evaluated a slice). */
static int validate_parts(trainer *tr, double *val_loss, double *val_acc) {
  const snt_tr_det *det = &tr->det;
  int64_t nv = tr->d.split.n_val;
  double *mine = calloc((size_t)det->mine * 4, sizeof(double)), *all = calloc((size_t)det->parts * 4, sizeof(double));
  int rc = !mine || !all;
  snt_tr_copy_to(&tr->s, tr->t->eval_model, tr->eval_blob);
  for (int k = 0; !rc && k < det->mine; k++) {
    int64_t v = det->first + k, lo = nv * v / det->parts, hi = nv * (v + 1) / det->parts;
    snt_tr_eval ev = {0};
    int erc = hi > lo ? snt_tr_evaluate(tr->t, tr->eval_blob, &tr->d.ds, tr->d.split.val + lo, (int)(hi - lo),
                                        tr->o.threads, 0, tr->o.max_pixels, tr->o.window, &ev)
                      : 0;
    double *m = mine + 4 * k;
    m[0] = erc != 0;
    if (!erc && hi > lo && ev.n > 0) m[1] = ev.loss * (double)ev.n, m[2] = ev.accuracy * (double)ev.n, m[3] = (double)ev.n;
    if (hi > lo) snt_tr_eval_free(&ev);
  }
  snt_err e;
  if (!rc && snt_dist_gather(tr->dist, mine, det->mine * 4 * (int64_t)sizeof(double), all, &e) != SNT_OK)
    fprintf(stderr, "%s train: %s\n", tr->info->name, e.msg), rc = fail_alone(&tr->dx, 1);
  double sum[4] = {0, 0, 0, 0};
  for (int v = 0; !rc && v < det->parts; v++)
    for (int j = 0; j < 4; j++) sum[j] += all[4 * v + j];
  free(mine);
  free(all);
  if (rc) return rc;
  tr->collective = true;
  if (sum[0] > 0) return 1;
  tr->collective = false;
  if (sum[3] > 0) *val_loss = sum[1] / sum[3], *val_acc = sum[2] / sum[3];
  return 0;
}

/* Under mpirun each rank evaluates its slice of the validation part and the sums are pooled. */
static int validate(trainer *tr, double *val_loss, double *val_acc) {
  *val_loss = *val_acc = NAN;
  if (!tr->d.split.n_val) return 0;
  if (tr->o.deterministic) return validate_parts(tr, val_loss, val_acc);
  int64_t nv = tr->d.split.n_val, r = snt_dist_rank(tr->dist), ranks = snt_dist_size(tr->dist);
  int lo = (int)(nv * r / ranks), hi = (int)(nv * (r + 1) / ranks);
  snt_tr_copy_to(&tr->s, tr->t->eval_model, tr->eval_blob);
  snt_tr_eval ev = {0};
  int rc = hi > lo ? snt_tr_evaluate(tr->t, tr->eval_blob, &tr->d.ds, tr->d.split.val + lo, hi - lo, tr->o.threads, 0,
                                     tr->o.max_pixels, tr->o.window, &ev)
                   : 0;
  if (!tr->dist) {
    if (!rc) *val_loss = ev.loss, *val_acc = ev.accuracy;
    snt_tr_eval_free(&ev);
    return rc;
  }
  double sums[4] = {rc != 0, 0, 0, 0}; /* failed ranks, loss x n, hits, n */
  if (!rc && hi > lo && ev.n > 0) sums[1] = ev.loss * (double)ev.n, sums[2] = ev.accuracy * (double)ev.n, sums[3] = (double)ev.n;
  if (hi > lo) snt_tr_eval_free(&ev);
  snt_err e;
  if (snt_dist_sum_f64(tr->dist, sums, 4, &e) != SNT_OK)
    return fprintf(stderr, "%s train: %s\n", tr->info->name, e.msg), fail_alone(&tr->dx, 1);
  tr->collective = true; /* the failed rank said why */
  if (sums[0] > 0) return 1;
  tr->collective = false;
  if (sums[3] > 0) *val_loss = sums[1] / sums[3], *val_acc = sums[2] / sums[3];
  return 0;
}

/* The ranks' moving statistics as one, before they are validated or saved. */
static int average_stats(trainer *tr) {
  snt_err e;
  snt_status st = tr->o.deterministic ? snt_tr_det_average_stats(&tr->det, tr->dist, &tr->s, &e)
                                      : snt_tr_dist_average_stats(&tr->dx, &tr->s, &e);
  if (st == SNT_OK) return 0;
  fprintf(stderr, "%s train: %s\n", tr->info->name, e.msg);
  return fail_alone(&tr->dx, 1);
}

/* The value a callback watches, as a quantity to minimise: losses as they are, accuracies
 * negated. A validation metric falls back to its training one when there is no validation part. */
static double monitored(const char *monitor, const epoch_result *er, double val_loss, double val_acc) {
  bool val = monitor && strncmp(monitor, "val_", 4) == 0;
  bool acc = monitor && strstr(monitor, "accuracy") != NULL;
  double loss = val && !isnan(val_loss) ? val_loss : er->loss, accuracy = val && !isnan(val_acc) ? val_acc : er->acc;
  return acc ? -accuracy : loss;
}

/* EarlyStopping (with the best weights, which best.onnx also holds: the recipe makes the
 * checkpoint watch the same value) and ReduceLROnPlateau, each on its recipe's monitor.
 * Returns 1 when training should stop. */
static int callbacks(trainer *tr, int epoch, const epoch_result *er, double val_loss, double val_acc) {
  const snt_train_recipe *r = &tr->t->recipe;
  snt_tr_state *s = &tr->s;
  double min_delta = r->early_stopping.min_delta;
  const char *best_monitor = r->checkpoint.enabled ? r->checkpoint.monitor : r->early_stopping.monitor;
  double watched = monitored(best_monitor, er, val_loss, val_acc);
  int stop = 0;
  if (watched < s->best - min_delta) {
    s->best = watched;
    s->best_epoch = epoch;
    s->wait_es = 0;
    memcpy(tr->best_blob, s->blob, tr->t->step_model->weights_bytes);
  } else if (r->early_stopping.enabled || tr->o.patience >= 0) {
    int64_t patience = tr->o.patience >= 0 ? tr->o.patience : r->early_stopping.patience;
    if (++s->wait_es >= patience) stop = 1;
  }
  double plateau = monitored(r->reduce_lr.monitor, er, val_loss, val_acc);
  if (r->reduce_lr.enabled) {
    if (plateau < s->lr_best) {
      s->lr_best = plateau;
      s->wait_lr = 0;
    } else if (++s->wait_lr >= r->reduce_lr.patience) {
      double lr = s->lr * r->reduce_lr.factor;
      if (lr < r->reduce_lr.min_lr) lr = r->reduce_lr.min_lr;
      if (lr < s->lr) printf("Epoch %d: ReduceLROnPlateau reducing learning rate to %g.\n", epoch + 1, lr);
      s->lr = lr;
      s->wait_lr = 0;
    }
  }
  return stop;
}

static int save_all(trainer *tr, bool final) {
  if (snt_dist_rank(tr->dist) != 0) return 0; /* one writer: the ranks hold the same weights */
  char p[4200];
  path_in(p, sizeof p, tr->o.out, "last.onnx");
  int rc = snt_tr_save(&tr->s, p, true);
  if (!rc && tr->s.best_epoch >= 0 && (tr->s.best_epoch == tr->s.epoch - 1 || final)) {
    /* best.onnx: the weights of the best epoch (with the state of that moment's run). */
    unsigned char *cur = tr->s.blob;
    tr->s.blob = tr->best_blob;
    path_in(p, sizeof p, tr->o.out, "best.onnx");
    rc = snt_tr_save(&tr->s, p, true);
    tr->s.blob = cur;
  }
  snt_err e;
  path_in(p, sizeof p, tr->o.out, "history.csv");
  if (!rc && snt_history_write(p, tr->n_hist, tr->hist, &e) != SNT_OK) fprintf(stderr, "%s\n", e.msg), rc = 1;
  if (!rc && tr->n_hist) {
    double *v = malloc(sizeof(double) * 4 * (size_t)tr->n_hist);
    if (v) {
      for (int i = 0; i < tr->n_hist; i++) {
        v[i] = tr->hist[i].loss, v[tr->n_hist + i] = tr->hist[i].val_loss;
        v[2 * tr->n_hist + i] = tr->hist[i].accuracy, v[3 * tr->n_hist + i] = tr->hist[i].val_accuracy;
      }
      path_in(p, sizeof p, tr->o.out, "curves.png");
      if (snt_plot_history(p, tr->n_hist, v, v + tr->n_hist, v + 2 * tr->n_hist, v + 3 * tr->n_hist, &e) != SNT_OK)
        fprintf(stderr, "%s\n", e.msg), rc = 1;
      free(v);
    }
  }
  return rc;
}

/* A new run from loaded weights: the optimizer and the callbacks start over (a checkpoint given
 * as --weights brings its moments and state along; they belong to another run). */
static void restart(snt_tr_state *s, const snt_train_info *t, const opts *o) {
  memset(s->m, 0, sizeof(float) * (size_t)s->n_moments);
  memset(s->v, 0, sizeof(float) * (size_t)s->n_moments);
  s->step = 0, s->epoch = 0, s->lr = t->recipe.lr, s->best = s->lr_best = INFINITY, s->best_epoch = -1;
  s->wait_es = s->wait_lr = 0, s->seed = o->seed;
  s->epoch_step = 0, s->epoch_seen = 0, s->epoch_correct = 0, s->epoch_loss = 0;
  memcpy(s->split, o->split, sizeof s->split);
}

static int setup(trainer *tr) {
  const snt_train_info *t = tr->t;
  opts *o = &tr->o;
  int rc = snt_tr_state_init(&tr->s, t, tr->info);
  if (rc) return rc;
  snt_err e;
  /* auto: overlap pays where the transfer is a network's, not on one machine (docs/performance.md) */
  int overlap = o->deterministic ? SNT_TR_OVERLAP_OFF
                : o->overlap != SNT_TR_OVERLAP_AUTO ? o->overlap
                : snt_dist_env_local_size() < snt_dist_size(tr->dist) ? SNT_TR_OVERLAP_AUTO : SNT_TR_OVERLAP_OFF;
  if (snt_tr_dist_init(&tr->dx, tr->dist, &tr->s, overlap, &e) != SNT_OK)
    return fprintf(stderr, "%s train: %s\n", t->step_model->name, e.msg), SNT_EXIT_INTERNAL;
  int rank = snt_dist_rank(tr->dist);
  tr->s.seed = o->seed;
  memcpy(tr->s.split, o->split, sizeof o->split);
  char p[4200];
  path_in(p, sizeof p, o->out, "last.onnx");
  /* Under mpirun rank 0 reads and the others receive (snt_tr_dist_share_state). */
  if (o->resume && rank == 0) {
    if ((rc = snt_tr_load(&tr->s, p, true, false))) return rc;
    if (tr->s.has_split) memcpy(o->split, tr->s.split, sizeof o->split), o->seed = tr->s.seed;
    path_in(p, sizeof p, o->out, "history.csv");
    if (snt_history_read(p, &tr->hist, &tr->n_hist, &e) != SNT_OK) return fprintf(stderr, "%s\n", e.msg), 1;
    if (tr->n_hist > tr->s.epoch) tr->n_hist = tr->s.epoch;
    printf("resuming from %s/last.onnx after epoch %d\n", o->out, tr->s.epoch);
  } else if ((o->weights || o->init_from) && rank == 0) {
    if (o->init_from) printf("initialising from %s:\n", o->init_from);
    if ((rc = snt_tr_load(&tr->s, o->weights ? o->weights : o->init_from, o->weights != NULL, o->init_from != NULL)))
      return rc;
    restart(&tr->s, t, o);
  }
  if (snt_tr_dist_share_state(&tr->dx, &tr->s, &e) != SNT_OK) return fprintf(stderr, "%s\n", e.msg), 1;
  if (o->deterministic) {
    int ranks = snt_dist_size(tr->dist);
    if (o->parts % ranks) {
      if (rank == 0)
        fprintf(stderr, "%s train: --deterministic: --parts %lld is not a multiple of the %d ranks\n", tr->info->name,
                (long long)o->parts, ranks);
      return tr->collective = true, SNT_EXIT_USER;
    }
    if (snt_tr_det_init(&tr->det, &tr->s, (int)o->parts, rank, ranks, &e) != SNT_OK)
      return fprintf(stderr, "%s\n", e.msg), SNT_EXIT_INTERNAL;
  }
  if (o->resume && tr->s.has_split) memcpy(o->split, tr->s.split, sizeof o->split), o->seed = tr->s.seed;
  if (o->lr > 0 && !o->resume) tr->s.lr = o->lr;
  if (rank == 0 && snt_tr_mkdir_p(o->out)) return fprintf(stderr, "%s: cannot create: %s\n", o->out, strerror(errno)), 1;
  if ((rc = snt_tr_data_open(tr->info, o->data, o->split, (uint64_t)o->seed, &tr->d))) return rc;
  if (snt_tr_dist_check_data(&tr->dx, &tr->d.ds, o->data, tr->info->name)) return tr->collective = true, SNT_EXIT_USER;
  if (!(tr->cw = snt_rt_alloc(tr->info->name, sizeof *tr->cw * ((size_t)tr->d.ds.n_classes + 1), "the class weights")))
    return SNT_EXIT_INTERNAL;
  class_weights(t, &tr->d, tr->cw);
  print_counts(&tr->d, tr->cw);
  const snt_model_io *in = &t->step_model->inputs[0];
  const snt_train_recipe *r = &t->recipe;
  snt_loader_opts lo = {.height = (int)in->dims[2], .width = (int)in->dims[3], .channels = (int)in->dims[1], .batch = (int)o->batch, .shuffle = 1,
                        .augment = o->augment, .seed = (uint64_t)o->seed, .workers = 2,
                        .max_pixels = o->max_pixels, .window = o->window,
                        .shard_rank = rank, .shard_count = snt_dist_size(tr->dist)};
  lo.aug = (snt_augment){r->augment.flip_horizontal, r->augment.flip_vertical, r->augment.brightness,
                         {r->augment.contrast[0], r->augment.contrast[1]}, r->augment.rotation,
                         {r->augment.shift[0], r->augment.shift[1]}, r->augment.zoom};
  if (snt_loader_create(&tr->d.ds, tr->d.split.train, tr->d.split.n_train, &lo, &tr->train, &e) != SNT_OK)
    return fprintf(stderr, "%s\n", e.msg), 1;
  tr->step_inst = t->step_model->create();
  if (tr->step_inst) t->step_model->set_threads(tr->step_inst, tr->o.threads);
  if (tr->step_inst && tr->dx.overlap && t->set_ready) t->set_ready(tr->step_inst, snt_tr_dist_ready, &tr->dx);
  if (!tr->step_inst)
    return fprintf(stderr, "%s train: out of memory: cannot allocate the training step's activation arena (batch %lld)\n",
                   tr->info->name, (long long)t->step_model->batch), SNT_EXIT_INTERNAL;
  tr->eval_blob = snt_rt_alloc(tr->info->name, t->eval_model->weights_bytes + 64, "the evaluation weights");
  tr->best_blob = tr->eval_blob ? snt_rt_alloc(tr->info->name, t->step_model->weights_bytes + 64, "the best weights") : NULL;
  /* --epochs is at most MAX_EPOCHS and a history at most as long as a finished run, so this
   * product cannot overflow. */
  size_t hist_bytes = sizeof *tr->hist * (size_t)(o->epochs + tr->n_hist + 1);
  snt_history_row *hist = tr->best_blob ? realloc(tr->hist, hist_bytes) : NULL;
  if (tr->best_blob && !hist) fprintf(stderr, "%s: out of memory: cannot allocate %zu bytes for the history\n", tr->info->name, hist_bytes);
  if (hist) tr->hist = hist;
  if (!tr->eval_blob || !tr->best_blob || !hist) return SNT_EXIT_INTERNAL;
  memcpy(tr->best_blob, tr->s.blob, t->step_model->weights_bytes);
  if (o->resume && rank == 0) {
    char bp[4200];
    path_in(bp, sizeof bp, o->out, "best.onnx");
    if (access(bp, R_OK) == 0) {
      snt_tr_state tmp;
      if (snt_tr_state_init(&tmp, t, tr->info) == 0 && snt_tr_load(&tmp, bp, true, false) == 0)
        memcpy(tr->best_blob, tmp.blob, t->step_model->weights_bytes);
      snt_tr_state_free(&tmp);
    }
  }
  if (snt_dist_bcast(tr->dist, tr->best_blob, (int64_t)t->step_model->weights_bytes, &e) != SNT_OK)
    return fprintf(stderr, "%s\n", e.msg), 1;
  t->step_model->set_weights(tr->step_inst, tr->s.blob);
  if (o->profile && (rc = snt_tr_prof_start(&tr->prof, t->step_model, tr->step_inst))) return rc;
  return snt_tr_bufs_init(&tr->b, t->step_model);
}

static void teardown(trainer *tr) {
  snt_tr_dist_free(&tr->dx);
  snt_tr_det_free(&tr->det);
  snt_tr_prof_stop(&tr->prof, tr->t->step_model, tr->step_inst);
  snt_tr_bufs_free(&tr->b);
  free(tr->cw);
  if (tr->step_inst) tr->t->step_model->destroy(tr->step_inst);
  snt_loader_destroy(tr->train);
  snt_tr_data_close(&tr->d);
  snt_tr_state_free(&tr->s);
  free(tr->eval_blob);
  free(tr->best_blob);
  free(tr->hist);
}

/* The end of a run: under mpirun a failure of this rank alone ends the job (MPI_Abort), any
 * other end finalises MPI. */
static int finish(trainer *tr, int rc) {
  snt_dist *d = tr->dist;
  bool alone = rc > 0 && rc != SNT_EXIT_INTERRUPTED && !tr->collective;
  teardown(tr);
  free(tr);
  if (d && alone) fflush(stdout), fflush(stderr), snt_dist_abort(d, rc);
  snt_dist_close(d);
  return rc;
}

/* Ranks other than 0 print no progress: the job's output is rank 0's (errors still show). */
static void quiet_stdout(void) {
  fflush(stdout);
  int fd = open("/dev/null", O_WRONLY);
  if (fd >= 0) dup2(fd, 1), close(fd);
}

int snt_tr_cmd_train(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv) {
  trainer *tr = snt_rt_alloc(info->name, sizeof(trainer), "the trainer");
  if (!tr) return SNT_EXIT_INTERNAL;
  tr->info = info;
  tr->t = t;
  snt_err de;
  if (snt_dist_open(&tr->dist, &de) != SNT_OK) {
    fprintf(stderr, "%s train: %s\n", info->name, de.msg);
    free(tr);
    return SNT_EXIT_USER;
  }
  if (snt_dist_rank(tr->dist) > 0) quiet_stdout();
  tr->collective = true; /* the options are every rank's */
  signal(SIGINT, on_sigint);
  int rc = parse(info, t, c, argc, argv, &tr->o);
  if (rc < 0) {
    snt_dist_close(tr->dist);
    free(tr);
    return -1;
  }
  if (!rc && c->precision == SNT_RT_BF16) {
    fprintf(stderr, "%s train: --precision bf16 is for inference (predict, evaluate, run, bench): training runs in FP32\n",
            info->name);
    rc = SNT_EXIT_USER;
  }
  tr->o.weights = c->weights;
  tr->o.threads = c->threads;
  if (!rc) {
    if (tr->o.threads <= 0 && tr->dist) { /* the machine's cores shared by its ranks */
      tr->o.threads = openblas_get_num_procs() / snt_dist_env_local_size();
      if (tr->o.threads < 1) tr->o.threads = 1;
      openblas_set_num_threads(tr->o.threads);
    }
    if (tr->o.threads <= 0) tr->o.threads = openblas_get_num_procs();
    tr->collective = false;
    if (tr->dist) {
      tr->tmo = (timeout_ctx){info->name, snt_dist_rank(tr->dist), tr->o.comm_timeout};
      note_progress(info->name, tr->tmo.rank, tr->o.out, 0, -1, 0, 0);
      signal(SIGTERM, on_sigterm);
      if (snt_dist_set_timeout(tr->dist, tr->o.comm_timeout, on_comm_timeout, &tr->tmo, &de) != SNT_OK)
        fprintf(stderr, "%s train: %s\n", info->name, de.msg), rc = SNT_EXIT_INTERNAL;
    }
    if (!rc) rc = setup(tr);
  }
  float bn_momentum = (float)(tr->o.bn_momentum >= 0 ? tr->o.bn_momentum : t->recipe.bn_momentum);
  bool stopped = false;
  for (int epoch = tr->s.epoch; !rc && epoch < tr->o.epochs && !interrupted; epoch++) {
    printf("Epoch %d/%lld\n", epoch + 1, (long long)tr->o.epochs);
    epoch_result er;
    rc = run_epoch(&tr->s, tr->step_inst, tr->train, tr->cw, &tr->o, bn_momentum, epoch, &tr->b,
                   tr->o.profile ? &tr->prof : NULL, &tr->dx, tr->o.deterministic ? &tr->det : NULL, &er);
    tr->collective = er.collective;
    if (rc || interrupted) break;
    if ((rc = average_stats(tr))) break;
    double vl, va;
    if ((rc = validate(tr, &vl, &va))) break;
    if (tr->d.split.n_val) printf(" - val_loss: %.4f - val_accuracy: %.4f", vl, va);
    printf(" - lr: %g", tr->s.lr);
    if (tr->dist && tr->dx.comm_steps) /* the time rank 0 waited in the gradients' sum, waiting for the others included */
      printf(" - allreduce: %.1fms/step of %.2f MB", 1e3 * tr->dx.comm_s / tr->dx.comm_steps,
             (double)tr->dx.n * sizeof(float) / 1e6);
    if (tr->dist && tr->dx.comm_steps && tr->dx.overlap)
      printf(" (%lld of %lld buckets sent during the backward pass)", (long long)tr->dx.early, (long long)tr->dx.buckets);
    tr->dx.comm_s = 0, tr->dx.comm_steps = 0, tr->dx.early = 0, tr->dx.buckets = 0;
    if (er.skipped) printf(" - skipped: %d", er.skipped);
    printf("\n");
    if (er.skipped) {
      const char *first = snt_loader_first_error(tr->train);
      fprintf(stderr, "warning: %d unreadable image%s skipped in epoch %d%s%s\n", er.skipped, er.skipped == 1 ? "" : "s",
              epoch + 1, first ? "; the first: " : "", first ? first : "");
    }
    tr->hist[tr->n_hist++] = (snt_history_row){epoch + 1, er.loss, er.acc, vl, va, tr->s.lr, er.skipped};
    tr->s.epoch = epoch + 1;
    tr->s.epoch_step = 0, tr->s.epoch_loss = 0, tr->s.epoch_seen = 0, tr->s.epoch_correct = 0;
    stopped = callbacks(tr, epoch, &er, vl, va);
    rc = save_all(tr, false);
    if (stopped) {
      printf("Epoch %d: early stopping (best epoch %d)\n", epoch + 1, tr->s.best_epoch + 1);
      break;
    }
  }
  if (interrupted && !rc) {
    /* The weights after the steps taken so far; --resume finishes the epoch from the next step. */
    rc = average_stats(tr);
    if (!rc) rc = save_all(tr, false);
    printf("\ninterrupted: %s/last.onnx holds the weights (epochs completed: %d)\n", tr->o.out, tr->s.epoch);
    return finish(tr, rc ? rc : SNT_EXIT_INTERRUPTED);
  }
  if (!rc && stopped && t->recipe.early_stopping.restore_best && tr->s.best_epoch >= 0) {
    memcpy(tr->s.blob, tr->best_blob, t->step_model->weights_bytes);
    printf("Restoring model weights from the end of the best epoch: %d.\n", tr->s.best_epoch + 1);
  }
  if (!rc) rc = save_all(tr, true);
  if (!rc) printf("wrote %s/best.onnx, %s/last.onnx, %s/history.csv, %s/curves.png\n", tr->o.out, tr->o.out, tr->o.out, tr->o.out);
  if (!rc && tr->o.profile) snt_tr_prof_print(&tr->prof, t->step_model, tr->step_inst, tr->o.threads);
  return finish(tr, rc);
}
