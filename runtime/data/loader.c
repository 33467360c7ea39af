/* Batches for training and evaluation. Worker threads decode, resize and augment the epoch's
 * items in order into a ring of 2 x batch slots, running ahead of the caller (so the next batch is
 * ready while a training step runs); snt_loader_next copies finished slots into the caller's
 * buffer in order, skipping images that failed to decode. Decoded and resized images are cached
 * within a byte budget; the cache is exact because augmentation comes after it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/data.h"

enum { MAX_WORKERS = 8 };
#define DEFAULT_CACHE_BYTES ((size_t)2 << 30)

struct snt_loader {
  const snt_dataset *ds;
  int *items, n;
  snt_loader_opts o;
  size_t floats;       /* C * H * W */
  float **cache;       /* per loader index; NULL until decoded */
  int n_cacheable;     /* loader indices below this are cached */
  int *order;          /* the epoch's loader indices (this shard's, when sharded) */
  int n_epoch;         /* positions in order this epoch */
  int *step_n, step;   /* sharded: this shard's positions per batch; the next batch */
  int epoch, begun;
  /* The ring: slot p % ring holds position p once slot_pos[p % ring] == p. */
  int ring;
  float *slots;
  int *slot_pos;
  snt_status *slot_st;
  snt_err *slot_err;
  pthread_mutex_t mu;
  pthread_cond_t cv_space, cv_ready;
  int next_claim, consumed, stop;
  pthread_t threads[MAX_WORKERS];
  int n_threads;
  int skipped;
  char first_err[sizeof(((snt_err *)0)->msg)];
};

/* Decodes and resizes item j into dst (and the cache when j is cacheable). */
static snt_status decode_item(snt_loader *l, int j, float *dst, snt_err *e) {
  const char *path = l->ds->paths[l->items[j]];
  snt_image img = {0}, small = {0};
  snt_image_opts io = {.channels = l->o.channels, .max_pixels = l->o.max_pixels, .window = l->o.window};
  snt_status st = snt_image_load_opts(path, &io, &img, e);
  if (st == SNT_OK) st = snt_image_resize_bilinear(&img, l->o.height, l->o.width, &small, e);
  if (st == SNT_OK && small.channels != l->o.channels)
    st = snt_err_set(e, SNT_ERR_INTERNAL, "%s: %d channels, want %d", path, small.channels, l->o.channels);
  if (st == SNT_OK) {
    memcpy(dst, small.data, sizeof *dst * l->floats);
    /* A failed cache allocation only costs a decode next epoch. */
    if (j < l->n_cacheable && (l->cache[j] = malloc(sizeof *dst * l->floats)) != NULL)
      memcpy(l->cache[j], dst, sizeof *dst * l->floats);
  }
  snt_image_free(&img);
  snt_image_free(&small);
  return st;
}

/* Everything position p of the epoch needs, into dst. */
static snt_status produce(snt_loader *l, int p, float *dst, snt_err *e) {
  int j = l->order[p];
  snt_status st = SNT_OK;
  if (l->cache[j]) memcpy(dst, l->cache[j], sizeof *dst * l->floats);
  else st = decode_item(l, j, dst, e);
  if (st == SNT_OK && l->o.augment) {
    snt_image view = {.width = l->o.width, .height = l->o.height, .channels = l->o.channels, .data = dst};
    st = snt_augment_image(&l->o.aug, l->o.seed, l->epoch, l->items[j], &view, e);
  }
  return st;
}

static void *worker(void *arg) {
  snt_loader *l = arg;
  pthread_mutex_lock(&l->mu);
  while (!l->stop && l->next_claim < l->n_epoch) {
    int p = l->next_claim;
    if (p >= l->consumed + l->ring) {  /* the ring is full: wait for the caller */
      pthread_cond_wait(&l->cv_space, &l->mu);
      continue;
    }
    l->next_claim++;
    pthread_mutex_unlock(&l->mu);
    int s = p % l->ring;
    l->slot_err[s].msg[0] = '\0';
    snt_status st = produce(l, p, l->slots + (size_t)s * l->floats, &l->slot_err[s]);
    pthread_mutex_lock(&l->mu);
    l->slot_st[s] = st;
    l->slot_pos[s] = p;
    pthread_cond_broadcast(&l->cv_ready);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

static void stop_workers(snt_loader *l) {
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  pthread_cond_broadcast(&l->cv_space);
  pthread_mutex_unlock(&l->mu);
  for (int i = 0; i < l->n_threads; i++) pthread_join(l->threads[i], NULL);
  l->n_threads = 0;
  l->stop = 0;
}

static snt_status check_opts(const snt_dataset *ds, const int *items, int n,
                             const snt_loader_opts *o, snt_err *e) {
  if (o->height < 1 || o->width < 1 || o->height > SNT_IMAGE_MAX_SIDE || o->width > SNT_IMAGE_MAX_SIDE)
    return snt_err_set(e, SNT_ERR_INPUT, "loader: input size %dx%d is out of range", o->height, o->width);
  if (o->batch < 1) return snt_err_set(e, SNT_ERR_INPUT, "loader: batch %d must be >= 1", o->batch);
  if (o->shard_count > 1 && (o->shard_rank < 0 || o->shard_rank >= o->shard_count))
    return snt_err_set(e, SNT_ERR_INPUT, "loader: shard %d of %d does not exist", o->shard_rank, o->shard_count);
  if (o->channels != 0 && o->channels != 1 && o->channels != 3 && o->channels != 4)
    return snt_err_set(e, SNT_ERR_INPUT, "the model's image input has %d channels; images are read as 1 (gray), "
                       "3 (RGB) or 4 (RGBA) channels", o->channels);
  snt_image_opts io = {.channels = o->channels, .max_pixels = o->max_pixels, .window = o->window};
  snt_status st = snt_image_check_opts("loader", &io, e);
  if (st != SNT_OK) return st;
  if (n < 0 || (n > 0 && !items)) return snt_err_set(e, SNT_ERR_INPUT, "loader: no item list");
  for (int i = 0; i < n; i++)
    if (items[i] < 0 || items[i] >= ds->n_items)
      return snt_err_set(e, SNT_ERR_INPUT, "loader: item %d is not in the data set of %d items",
                         items[i], ds->n_items);
  return SNT_OK;
}

/* How many items the cache budget holds. */
static int cacheable(const snt_loader_opts *o, size_t floats, int n) {
  if (o->no_cache) return 0;
  size_t budget = o->cache_bytes ? o->cache_bytes : DEFAULT_CACHE_BYTES;
  size_t k = budget / (floats * sizeof(float));
  return k < (size_t)n ? (int)k : n;
}

static snt_status alloc_loader(snt_loader *l, const int *items, int n, snt_err *e) {
  size_t nn = (size_t)(n ? n : 1), ring = (size_t)l->ring;
  l->items = malloc(sizeof *l->items * nn);
  l->order = malloc(sizeof *l->order * nn);
  l->cache = calloc(nn, sizeof *l->cache);
  l->slots = malloc(sizeof *l->slots * l->floats * ring);
  l->slot_pos = malloc(sizeof *l->slot_pos * ring);
  l->slot_st = malloc(sizeof *l->slot_st * ring);
  l->slot_err = malloc(sizeof *l->slot_err * ring);
  l->step_n = malloc(sizeof *l->step_n * ((size_t)snt_loader_steps(l) + 1));
  if (!l->items || !l->order || !l->cache || !l->slots || !l->slot_pos || !l->slot_st || !l->slot_err || !l->step_n)
    return snt_err_set(e, SNT_ERR_NOMEM, "loader: out of memory for %d items of %dx%d", n,
                       l->o.height, l->o.width);
  if (n) memcpy(l->items, items, sizeof *items * (size_t)n);
  return SNT_OK;
}

snt_status snt_loader_create(const snt_dataset *ds, const int *items, int n_items,
                             const snt_loader_opts *opts, snt_loader **out, snt_err *e) {
  *out = NULL;
  snt_status st = check_opts(ds, items, n_items, opts, e);
  if (st != SNT_OK) return st;
  snt_loader *l = calloc(1, sizeof *l);
  if (!l) return snt_err_set(e, SNT_ERR_NOMEM, "loader: out of memory");
  l->ds = ds;
  l->n = n_items;
  l->o = *opts;
  if (l->o.workers < 1) l->o.workers = 2;
  if (l->o.workers > MAX_WORKERS) l->o.workers = MAX_WORKERS;
  if (l->o.channels == 0) l->o.channels = 3;
  l->floats = (size_t)l->o.channels * opts->height * opts->width;
  l->n_cacheable = cacheable(opts, l->floats, n_items);
  l->ring = 2 * opts->batch > l->o.workers ? 2 * opts->batch : l->o.workers;
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv_space, NULL);
  pthread_cond_init(&l->cv_ready, NULL);
  st = alloc_loader(l, items, n_items, e);
  if (st != SNT_OK) {
    snt_loader_destroy(l);
    return st;
  }
  *out = l;
  return SNT_OK;
}

/* Keeps this shard's part of every batch of the epoch's order, in order (positions only move
 * down, so in place). */
static void shard(snt_loader *l) {
  l->n_epoch = l->n;
  l->step = 0;
  if (l->o.shard_count <= 1) return;
  int64_t b = l->o.batch, r = l->o.shard_rank, ranks = l->o.shard_count, kept = 0;
  for (int s = 0; s < snt_loader_steps(l); s++) {
    int64_t first = (int64_t)s * b, size = l->n - first < b ? l->n - first : b;
    int64_t lo = first + size * r / ranks, hi = first + size * (r + 1) / ranks;
    for (int64_t p = lo; p < hi; p++) l->order[kept++] = l->order[p];
    l->step_n[s] = (int)(hi - lo);
  }
  l->n_epoch = (int)kept;
}

snt_status snt_loader_begin_epoch(snt_loader *l, int epoch, snt_err *e) {
  if (epoch < 0) return snt_err_set(e, SNT_ERR_INPUT, "loader: epoch %d must be >= 0", epoch);
  stop_workers(l);
  l->epoch = epoch;
  l->next_claim = l->consumed = l->skipped = 0;
  l->first_err[0] = '\0';
  for (int i = 0; i < l->ring; i++) l->slot_pos[i] = -1;
  for (int i = 0; i < l->n; i++) l->order[i] = i;
  if (l->o.shuffle) snt_rng_shuffle_int(l->order, l->n, l->o.seed, SNT_RNG_STREAM_ORDER, (uint64_t)epoch);
  shard(l);
  l->begun = 1;
  int want = l->n_epoch < l->o.workers ? l->n_epoch : l->o.workers;
  for (int i = 0; i < want; i++) {
    if (pthread_create(&l->threads[l->n_threads], NULL, worker, l) != 0) break;
    l->n_threads++;
  }
  if (want > 0 && l->n_threads == 0) {
    l->begun = 0;
    return snt_err_set(e, SNT_ERR_INTERNAL, "loader: cannot start a worker thread");
  }
  return SNT_OK;
}

/* Takes position l->consumed (mu held): copies it into x/labels at *count unless it failed. */
static snt_status take(snt_loader *l, float *x, int64_t *labels, int *items, int *count, snt_err *e) {
  int s = l->consumed % l->ring;
  while (l->slot_pos[s] != l->consumed) pthread_cond_wait(&l->cv_ready, &l->mu);
  snt_status st = l->slot_st[s];
  int item = l->items[l->order[l->consumed]];
  if (st == SNT_OK) {
    pthread_mutex_unlock(&l->mu);  /* the slot stays ours until consumed moves on */
    memcpy(x + (size_t)*count * l->floats, l->slots + (size_t)s * l->floats, sizeof *x * l->floats);
    labels[*count] = l->ds->label[item];
    if (items) items[*count] = item;
    (*count)++;
    pthread_mutex_lock(&l->mu);
  } else if (st == SNT_ERR_IO || st == SNT_ERR_INPUT) {
    if (l->skipped++ == 0) memcpy(l->first_err, l->slot_err[s].msg, sizeof l->first_err);
    st = SNT_OK;
  } else {
    snt_err_set(e, st, "%s", l->slot_err[s].msg);
  }
  l->consumed++;
  l->slot_pos[s] = -1;
  pthread_cond_broadcast(&l->cv_space);
  return st;
}

snt_status snt_loader_next(snt_loader *l, float *x, int64_t *labels, int *n_out, snt_err *e) {
  return snt_loader_next_items(l, x, labels, NULL, n_out, e);
}

snt_status snt_loader_next_items(snt_loader *l, float *x, int64_t *labels, int *items, int *n_out, snt_err *e) {
  *n_out = 0;
  if (!l->begun) return snt_err_set(e, SNT_ERR_INPUT, "loader: snt_loader_begin_epoch was not called");
  int count = 0;
  snt_status st = SNT_OK;
  pthread_mutex_lock(&l->mu);
  if (l->o.shard_count > 1) { /* this shard's part of the next batch, short by what failed */
    int end = l->step < snt_loader_steps(l) ? l->consumed + l->step_n[l->step++] : l->consumed;
    while (st == SNT_OK && l->consumed < end) st = take(l, x, labels, items, &count, e);
  } else {
    while (st == SNT_OK && count < l->o.batch && l->consumed < l->n) st = take(l, x, labels, items, &count, e);
  }
  int done = l->consumed >= l->n_epoch;
  pthread_mutex_unlock(&l->mu);
  if (done) stop_workers(l);  /* they have finished; joining releases them */
  *n_out = st == SNT_OK ? count : 0;
  return st;
}

int snt_loader_skipped(const snt_loader *l) { return l->skipped; }

const char *snt_loader_first_error(const snt_loader *l) { return l->first_err; }

int snt_loader_items(const snt_loader *l) { return l->n; }

int snt_loader_steps(const snt_loader *l) { return (l->n + l->o.batch - 1) / l->o.batch; }

void snt_loader_destroy(snt_loader *l) {
  if (!l) return;
  stop_workers(l);
  for (int i = 0; l->cache && i < l->n; i++) free(l->cache[i]);
  free(l->cache);
  free(l->items);
  free(l->order);
  free(l->slots);
  free(l->slot_pos);
  free(l->slot_st);
  free(l->slot_err);
  free(l->step_n);
  pthread_cond_destroy(&l->cv_ready);
  pthread_cond_destroy(&l->cv_space);
  pthread_mutex_destroy(&l->mu);
  free(l);
}
