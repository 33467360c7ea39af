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

#include "runtime/train/train_int.h"
#include "sinter/kernels_train.h"

snt_status snt_tr_dist_init(snt_tr_dist *x, snt_dist *d, const snt_tr_state *s, snt_err *e) {
  memset(x, 0, sizeof *x);
  x->d = d;
  if (!d) return SNT_OK;
  int64_t n = SNT_TR_DIST_EXTRA;
  for (int i = 0; i < s->t->n_params; i++) n += s->param_n[i];
  if (!(x->buf = malloc(sizeof(float) * (size_t)n)))
    return snt_err_set(e, SNT_ERR_NOMEM, "out of memory for the %" PRId64 " gradients exchanged between ranks", n);
  x->n = n;
  return SNT_OK;
}

void snt_tr_dist_free(snt_tr_dist *x) { free(x->buf); }

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

snt_status snt_tr_dist_reduce_step(snt_tr_dist *x, const snt_tr_state *s, void **out, int n, snt_tr_step_sums *io,
                                   snt_err *e) {
  const snt_train_info *t = s->t;
  float *p = x->buf;
  for (int i = 0; i < t->n_params; i++) {
    int64_t k = s->param_n[i];
    const float *g = out[t->params[i].grad_output];
    if (n > 0) /* the step gave the mean over its n samples: weighted back into a sum */
      for (int64_t j = 0; j < k; j++) p[j] = g[j] * (float)n;
    else memset(p, 0, sizeof(float) * (size_t)k);
    p += k;
  }
  p[0] = (float)n, p[1] = (float)io->loss_sum, p[2] = (float)io->correct, p[3] = (float)io->bad, p[4] = (float)io->stop;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  snt_status st = snt_dist_sum_f32(x->d, x->buf, x->n, e);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  x->comm_s += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  x->comm_steps++;
  if (st != SNT_OK) return st;
  io->n = p[0], io->loss_sum = p[1], io->correct = p[2], io->bad = p[3], io->stop = p[4];
  if (io->n <= 0) return SNT_OK;
  float scale = 1.0f / (float)io->n;
  p = x->buf;
  for (int i = 0; i < t->n_params; i++) {
    int64_t k = s->param_n[i];
    float *g = out[t->params[i].grad_output];
    for (int64_t j = 0; j < k; j++) g[j] = p[j] * scale;
    p += k;
  }
  return SNT_OK;
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
    int64_t m = s->param_n[i];
    const float *g = out[t->params[i].grad_output];
    if (n > 0)
      for (int64_t j = 0; j < m; j++) p[j] = g[j] * (float)n;
    else memset(p, 0, sizeof(float) * (size_t)m);
    p += m;
  }
  p[0] = (float)n, p[1] = (float)sums->loss_sum, p[2] = (float)sums->correct, p[3] = (float)sums->bad, p[4] = (float)sums->stop;
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
  io->n = extra[0], io->loss_sum = extra[1], io->correct = extra[2], io->bad = extra[3], io->stop = extra[4];
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
