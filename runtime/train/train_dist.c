/* Data-parallel training under mpirun (train.c): what the ranks exchange. Every rank holds the
 * whole model and takes its share of every global batch; after the step the gradients are
 * summed over the ranks, each weighted by its sample count, so the update is the one of the
 * whole batch. BatchNorm's batch statistics stay per rank (as Keras's MirroredStrategy); the
 * moving statistics are averaged before every validation and checkpoint. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "runtime/dist/mpi/mpi_plugin.h"
#include "runtime/train/train_int.h"
#include "sinter/kernels_train.h"

/* A step's gradient g (the mean over its n samples) weighted back into a sum: dst = g * n. */
static void weigh(float *dst, const float *g, int64_t k, int n) {
  if (n > 0)
    for (int64_t j = 0; j < k; j++) dst[j] = g[j] * (float)n;
  else memset(dst, 0, sizeof(float) * (size_t)k);
}

/* The SNT_TR_DIST_EXTRA floats that ride with the gradients, and back. */
static void put_sums(float *p, int n, const snt_tr_step_sums *v) {
  p[0] = (float)n, p[1] = (float)v->loss_sum, p[2] = (float)v->correct, p[3] = (float)v->bad, p[4] = (float)v->stop;
}

static void get_sums(const float *p, snt_tr_step_sums *v) {
  v->n = p[0], v->loss_sum = p[1], v->correct = p[2], v->bad = p[3], v->stop = p[4];
}

snt_status snt_tr_dist_init(snt_tr_dist *x, snt_dist *d, const snt_tr_state *s, int overlap, snt_err *e) {
  memset(x, 0, sizeof *x);
  x->d = d;
  if (!d) return SNT_OK;
  const snt_train_info *t = s->t;
  int np = t->n_params, no = t->step_model->n_outputs;
  x->off = malloc(sizeof *x->off * (size_t)(np + 1));
  x->param_of = malloc(sizeof *x->param_of * (size_t)(no + 1));
  x->ready = calloc((size_t)np + 1, 1);
  if (!x->off || !x->param_of || !x->ready) return snt_err_set(e, SNT_ERR_NOMEM, "out of memory");
  for (int i = 0; i < no; i++) x->param_of[i] = -1;
  int64_t n = 0;
  for (int i = np - 1; i >= 0; i--) { /* the backward pass makes the last parameters' first */
    x->off[i] = n;
    n += s->param_n[i];
    if (t->params[i].grad_output >= 0 && t->params[i].grad_output < no) x->param_of[t->params[i].grad_output] = i;
  }
  n += SNT_TR_DIST_EXTRA;
  if (!(x->buf = malloc(sizeof(float) * (size_t)n)))
    return snt_err_set(e, SNT_ERR_NOMEM, "out of memory for the %" PRId64 " gradients exchanged between ranks", n);
  x->n = n;
  x->overlap = overlap;
  /* Tests ask for small buckets to see many of a small model's; every rank takes rank 0's, since
   * the ranks' calls must match. */
  x->bucket = SNT_MPI_BUCKET_BYTES / (int64_t)sizeof(float);
  const char *v = getenv("SINTER_DIST_BUCKET_BYTES");
  char *end = NULL;
  long long b = v && *v ? strtoll(v, &end, 10) : 0;
  if (end && !*end && b >= (long long)sizeof(float) && b <= SNT_MPI_BUCKET_BYTES) x->bucket = b / (int64_t)sizeof(float);
  snt_status st = snt_dist_bcast(d, &x->bucket, sizeof x->bucket, e);
  if (st != SNT_OK || !overlap) return st;
  /* auto goes without when this MPI allows no second thread: the ranks' calls are the same
   * whether a rank sends its buckets early or not */
  if ((st = snt_dist_start_thread(d, e)) != SNT_OK && overlap == SNT_TR_OVERLAP_AUTO) x->overlap = 0, st = SNT_OK;
  return st;
}

void snt_tr_dist_free(snt_tr_dist *x) {
  free(x->buf);
  free(x->off);
  free(x->param_of);
  free(x->ready);
}

/* ---- the step's gradients, in buckets ----------------------------------------------------- */

/* Parameter i's gradient (the mean over the rank's n samples) into buf, weighted back into a sum. */
static void stage(snt_tr_dist *x, const snt_tr_state *s, int i) {
  weigh(x->buf + x->off[i], x->out[s->t->params[i].grad_output], s->param_n[i], x->samples);
}

/* Stages the parameters ready in buf's order and posts every whole bucket staged; all of them,
 * and the rest of buf, when `end`. */
static snt_status advance(snt_tr_dist *x, const snt_tr_state *s, bool end, snt_err *e) {
  int np = s->t->n_params;
  while (x->staged < np) {
    int i = np - 1 - x->staged;
    if (!end && !x->ready[i]) break;
    stage(x, s, i);
    x->staged++;
    x->staged_to = x->off[i] + s->param_n[i];
  }
  int64_t until = end ? x->n : x->staged_to, bucket = x->bucket;
  while (x->posted < until && (end || until - x->posted >= bucket)) {
    int64_t c = x->n - x->posted < bucket ? x->n - x->posted : bucket;
    snt_status st = snt_dist_post_sum_f32(x->d, x->buf + x->posted, c, e);
    if (st != SNT_OK) return st;
    x->posted += c;
    x->buckets++, x->early += !end;
  }
  return SNT_OK;
}

void snt_tr_dist_begin_step(snt_tr_dist *x, const snt_tr_state *s, void **out, int n) {
  if (!x->d) return;
  x->state = s, x->out = out, x->samples = n, x->staged = 0, x->staged_to = 0, x->posted = 0;
  memset(x->ready, 0, (size_t)s->t->n_params);
  x->begun = 1, x->active = x->overlap;
}

/* The step's callback between two nodes: a failure to post is left for the step's end, where
 * the same post is tried again and says why. */
void snt_tr_dist_ready(void *user, int output) {
  snt_tr_dist *x = user;
  if (!x->active || output < 0 || !x->state || output >= x->state->t->step_model->n_outputs) return;
  int i = x->param_of[output];
  if (i < 0) return;
  x->ready[i] = 1;
  snt_err e;
  if (advance(x, x->state, false, &e) != SNT_OK) x->active = 0;
}

snt_status snt_tr_dist_reduce_step(snt_tr_dist *x, const snt_tr_state *s, void **out, int n, snt_tr_step_sums *io,
                                   snt_err *e) {
  const snt_train_info *t = s->t;
  if (!x->begun) snt_tr_dist_begin_step(x, s, out, n); /* nothing sent yet: all of it now */
  x->begun = 0, x->active = 0;
  float *p = x->buf + x->n - SNT_TR_DIST_EXTRA;
  put_sums(p, n, io);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  snt_status st = advance(x, s, true, e);
  if (st == SNT_OK) st = snt_dist_wait(x->d, e);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  x->comm_s += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  x->comm_steps++;
  if (st != SNT_OK) return st;
  get_sums(p, io);
  if (io->n <= 0) return SNT_OK;
  float scale = 1.0f / (float)io->n;
  for (int i = 0; i < t->n_params; i++) {
    const float *q = x->buf + x->off[i];
    float *g = out[t->params[i].grad_output];
    for (int64_t j = 0; j < s->param_n[i]; j++) g[j] = q[j] * scale;
  }
  return SNT_OK;
}

/* The state rank 0 loaded (a checkpoint, --weights) into every rank: the ranks need not share
 * the output folder, and they start from one set of weights even when built apart. */
typedef struct scalars {
  int64_t step, epoch_step, epoch_seen, epoch_correct, seed;
  double lr, best, lr_best, epoch_loss, split[3];
  int epoch, best_epoch, wait_es, wait_lr, has_split;
} scalars;

snt_status snt_tr_dist_share_state(snt_tr_dist *x, snt_tr_state *s, snt_err *e) {
  if (!x->d) return SNT_OK;
  scalars v = {s->step, s->epoch_step, s->epoch_seen, s->epoch_correct, s->seed, s->lr, s->best, s->lr_best,
               s->epoch_loss, {s->split[0], s->split[1], s->split[2]}, s->epoch, s->best_epoch, s->wait_es,
               s->wait_lr, s->has_split};
  snt_status st = snt_dist_bcast(x->d, &v, sizeof v, e);
  if (st == SNT_OK) st = snt_dist_bcast(x->d, s->blob, (int64_t)s->t->step_model->weights_bytes, e);
  if (st == SNT_OK) st = snt_dist_bcast(x->d, s->m, s->n_moments * (int64_t)sizeof(float), e);
  if (st == SNT_OK) st = snt_dist_bcast(x->d, s->v, s->n_moments * (int64_t)sizeof(float), e);
  if (st != SNT_OK) return st;
  s->step = v.step, s->epoch_step = v.epoch_step, s->epoch_seen = v.epoch_seen, s->epoch_correct = v.epoch_correct;
  s->seed = v.seed, s->lr = v.lr, s->best = v.best, s->lr_best = v.lr_best, s->epoch_loss = v.epoch_loss;
  memcpy(s->split, v.split, sizeof s->split);
  s->epoch = v.epoch, s->best_epoch = v.best_epoch, s->wait_es = v.wait_es, s->wait_lr = v.wait_lr;
  s->has_split = v.has_split != 0;
  return SNT_OK;
}

/* FNV-1a over the files' names below dir and their sizes, in the data set's (sorted) order. */
static uint64_t data_checksum(const snt_dataset *ds, const char *dir) {
  uint64_t h = 1469598103934665603ull;
  size_t skip = strlen(dir);
  for (int i = 0; i < ds->n_items; i++) {
    const char *p = ds->paths[i];
    const char *rel = strncmp(p, dir, skip) == 0 ? p + skip : p;
    struct stat sb;
    int64_t size = stat(p, &sb) == 0 ? (int64_t)sb.st_size : -1;
    for (const char *c = rel; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    for (int k = 0; k < 8; k++) h = (h ^ (uint64_t)((size >> (8 * k)) & 0xff)) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull; /* ends the item: "ab"+"c" is not "a"+"bc" */
  }
  return h;
}

int snt_tr_dist_check_data(snt_tr_dist *x, const snt_dataset *ds, const char *dir, const char *prog) {
  if (!x->d) return 0;
  uint64_t mine = data_checksum(ds, dir), first = mine;
  snt_err e;
  if (snt_dist_bcast(x->d, &first, sizeof first, &e) != SNT_OK) return fprintf(stderr, "%s train: %s\n", prog, e.msg), 1;
  double differ = mine != first;
  if (snt_dist_sum_f64(x->d, &differ, 1, &e) != SNT_OK) return fprintf(stderr, "%s train: %s\n", prog, e.msg), 1;
  if (differ == 0) return 0;
  int rank = snt_dist_rank(x->d);
  if (mine != first)
    fprintf(stderr, "%s train: rank %d: the data folder %s differs from rank 0's (%d files; checksum of the sorted "
            "file list and sizes %016" PRIx64 ", rank 0 has %016" PRIx64 ")\n", prog, rank, dir, ds->n_items, mine, first);
  if (rank == 0)
    fprintf(stderr, "%s train: %d of %d ranks see other files in %s than rank 0: every rank needs the same data "
            "(copy the folder whole, or share it)\n", prog, (int)differ, snt_dist_size(x->d), dir);
  return 1;
}

snt_status snt_tr_dist_average_stats(snt_tr_dist *x, snt_tr_state *s, snt_err *e) {
  if (!x->d) return SNT_OK;
  float inv = 1.0f / (float)snt_dist_size(x->d);
  for (int i = 0; i < s->t->n_stats; i++) {
    float *v = (float *)(s->blob + s->stat_off[i]);
    snt_status st = snt_dist_sum_f32(x->d, v, s->stat_n[i], e);
    if (st != SNT_OK) return st;
    for (int64_t j = 0; j < s->stat_n[i]; j++) v[j] *= inv;
  }
  return SNT_OK;
}

/* ---- --deterministic ---------------------------------------------------------------------- */

snt_status snt_tr_det_init(snt_tr_det *x, const snt_tr_state *s, int parts, int rank, int ranks, snt_err *e) {
  memset(x, 0, sizeof *x);
  x->parts = parts, x->mine = parts / ranks, x->first = parts / ranks * rank;
  x->slot = SNT_TR_DIST_EXTRA;
  for (int i = 0; i < s->t->n_params; i++) x->slot += s->param_n[i];
  for (int i = 0; i < s->t->n_stats; i++) x->stat_floats += s->stat_n[i];
  size_t f = sizeof(float);
  x->slots = malloc(f * (size_t)(x->slot * x->mine));
  x->all = malloc(f * (size_t)(x->slot * parts));
  x->stats = malloc(f * (size_t)(x->stat_floats * x->mine + 1));
  x->all_stats = malloc(f * (size_t)(x->stat_floats * parts + 1));
  if (!x->slots || !x->all || !x->stats || !x->all_stats)
    return snt_err_set(e, SNT_ERR_NOMEM, "out of memory for --deterministic's %d parts of %" PRId64 " floats", parts, x->slot);
  for (int k = 0; k < x->mine; k++) { /* every part starts from the weights' moving statistics */
    float *p = x->stats + k * x->stat_floats;
    for (int i = 0; i < s->t->n_stats; i++) {
      memcpy(p, s->blob + s->stat_off[i], sizeof(float) * (size_t)s->stat_n[i]);
      p += s->stat_n[i];
    }
  }
  return SNT_OK;
}

void snt_tr_det_free(snt_tr_det *x) {
  free(x->slots);
  free(x->all);
  free(x->stats);
  free(x->all_stats);
}

void snt_tr_det_part(snt_tr_det *x, const snt_tr_state *s, void **out, int k, int n, const snt_tr_step_sums *sums,
                     float bn_momentum) {
  const snt_train_info *t = s->t;
  float *p = x->slots + k * x->slot;
  for (int i = 0; i < t->n_params; i++) {
    weigh(p, out[t->params[i].grad_output], s->param_n[i], n);
    p += s->param_n[i];
  }
  put_sums(p, n, sums);
  if (n == 0) return;
  float *st = x->stats + k * x->stat_floats;
  for (int i = 0; i < t->n_stats; i++) {
    float mom = t->stats[i].momentum >= 0 ? t->stats[i].momentum : bn_momentum;
    snt_k_moving_update(s->stat_n[i], st, out[t->stats[i].output], mom);
    st += s->stat_n[i];
  }
}

snt_status snt_tr_det_reduce(snt_tr_det *x, snt_dist *d, const snt_tr_state *s, void **out, snt_tr_step_sums *io,
                             snt_err *e) {
  snt_status st = snt_dist_gather(d, x->slots, x->slot * x->mine * (int64_t)sizeof(float), x->all, e);
  if (st != SNT_OK) return st;
  float *sum = x->all; /* part 0's slot, then each next part added in order */
  for (int v = 1; v < x->parts; v++) {
    const float *p = x->all + v * x->slot;
    for (int64_t j = 0; j < x->slot; j++) sum[j] += p[j];
  }
  const float *extra = sum + x->slot - SNT_TR_DIST_EXTRA;
  get_sums(extra, io);
  if (io->n <= 0) return SNT_OK;
  float scale = 1.0f / (float)io->n;
  const float *p = sum;
  for (int i = 0; i < s->t->n_params; i++) {
    float *g = out[s->t->params[i].grad_output];
    for (int64_t j = 0; j < s->param_n[i]; j++) g[j] = p[j] * scale;
    p += s->param_n[i];
  }
  return SNT_OK;
}

snt_status snt_tr_det_average_stats(snt_tr_det *x, snt_dist *d, snt_tr_state *s, snt_err *e) {
  if (!x->stat_floats) return SNT_OK;
  snt_status st = snt_dist_gather(d, x->stats, x->stat_floats * x->mine * (int64_t)sizeof(float), x->all_stats, e);
  if (st != SNT_OK) return st;
  float *avg = x->all_stats, inv = 1.0f / (float)x->parts;
  for (int v = 1; v < x->parts; v++)
    for (int64_t j = 0; j < x->stat_floats; j++) avg[j] += x->all_stats[v * x->stat_floats + j];
  for (int64_t j = 0; j < x->stat_floats; j++) avg[j] *= inv;
  const float *p = avg;
  for (int i = 0; i < s->t->n_stats; i++) {
    memcpy(s->blob + s->stat_off[i], p, sizeof(float) * (size_t)s->stat_n[i]);
    p += s->stat_n[i];
  }
  for (int k = 0; k < x->mine; k++) memcpy(x->stats + k * x->stat_floats, avg, sizeof(float) * (size_t)x->stat_floats);
  return SNT_OK;
}
