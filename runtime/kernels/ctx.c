/* The kernel context: a team of threads that lives as long as the model instance, so a layer
 * costs a hand-off, not a thread start. A call publishes one job (fn, arg, n parts) in one
 * atomic word with a new generation; the caller and the members claim its parts from that
 * word, so a member that is late (descheduled on a busy machine) leaves its part to whoever
 * is free rather than holding the layer up, and part t computes the same whoever runs it.
 * The caller returns when every part is done. Both sides wait a bounded time (pausing, then
 * yielding the core) before sleeping on a condition variable: layers follow each other within
 * microseconds, and a futex wake-up (an interrupt between processors on a virtual machine)
 * costs more than a small layer. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "gemm_bf16.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

enum { MAX_TEAM = 64 };
/* Outputs this large go out with streaming stores: past both cores' L2 (2 MB), the stores' reads
 * for ownership cost more than the next layer's reads from DRAM. ResNet50V2 at batch 1 (stage 2's
 * 3.2 MB maps): 21.76 against 22.02 ms at 24 MB, 10 alternations; batch 32 and the other seed
 * models unchanged within the noise. */
#define DEFAULT_STREAM_BYTES (2.0 * 1024 * 1024)

/* How long a member or the caller spins before it sleeps (env SINTER_SPIN_US overrides). */
enum { DEFAULT_SPIN_NS = 100000 };

/* The job word: generation (high 32 bits), parts (16), next part to claim (low 16). */
#define JOB_GEN(w) ((w) >> 32)
#define JOB_PARTS(w) ((int)(((w) >> 16) & 0xFFFF))
#define JOB_NEXT(w) ((int)((w) & 0xFFFF))

typedef void (*job_fn)(void *arg, int t, int threads);

struct snt_k_ctx {
  snt_k_isa isa;
  int created, threads; /* team size, and members the next calls use */
  pthread_t tid[MAX_TEAM];
  pthread_mutex_t mu;
  pthread_cond_t go, done_cv;
  _Atomic uint64_t job;        /* JOB_GEN, JOB_PARTS, JOB_NEXT */
  _Atomic int done;            /* parts of the current job finished */
  _Atomic int quit;
  _Atomic int sleepers;        /* members asleep on `go` (or about to be) */
  _Atomic int caller_asleep;   /* the caller is asleep on `done` (or about to be) */
  int64_t spin_ns;
  /* Atomic: a late member may read them as the next job is published; its claim then fails. */
  _Atomic job_fn fn;
  void *_Atomic arg;
  struct member {
    struct snt_k_ctx *ctx;
    uint64_t seen; /* the generation when it started: jobs before it are not its own */
  } members[MAX_TEAM];
  snt_k_precision precision;
  int training; /* snt_k_ctx_set_training */
  int64_t first_sample; /* snt_k_ctx_set_shard */
  snt_k_sum_fn sum;
  void *sum_user;
  snt_k_ready_fn ready; /* snt_k_ctx_set_ready */
  void *ready_user;
  int bf16_fp32_paths; /* a BF16 context may take FP32 paths that beat its GEMM (Winograd) */
  double stream_bytes; /* outputs from this size on are streamed (snt_k_ctx_stream_bytes) */
  snt_k_bf16_cache *bf16; /* rounded weights, made when BF16 is first used */
  /* Per-member scratch (packing buffers), grown on demand and kept between calls. */
  void *scratch[SNT_K_SCRATCH_SLOTS][MAX_TEAM];
  size_t scratch_bytes[SNT_K_SCRATCH_SLOTS][MAX_TEAM];
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One step of a bounded wait: a pause, then (past a quarter of the budget) a yield, so a
 * member that was descheduled on a busy machine gets the core back. 0 when the budget is spent. */
typedef struct spin_clock {
  int64_t t0;
  int yield;
} spin_clock;

static int spin_wait(const snt_k_ctx *c, spin_clock *k, unsigned i) {
  if (k->yield) sched_yield();
  else CPU_RELAX();
  if ((i & 255) != 255 && !k->yield) return 1;
  int64_t t = now_ns();
  if (!k->t0) k->t0 = t;
  int64_t spent = t - k->t0;
  k->yield = spent > c->spin_ns / 4;
  return spent <= c->spin_ns;
}

/* Spins until the generation moves past `seen` or quit is set, for at most c->spin_ns.
 * Returns 1 when it did. */
static int spin_for_job(snt_k_ctx *c, uint64_t seen) {
  spin_clock clk = {0};
  for (unsigned i = 0;; i++) {
    if (JOB_GEN(atomic_load(&c->job)) != seen || atomic_load(&c->quit)) return 1;
    if (!spin_wait(c, &clk, i)) return 0;
  }
}

/* Sleeps until a new job or quit. Sequentially consistent `sleepers` and `job` make the
 * caller either see this sleeper or this sleeper see the new generation. */
static void sleep_for_job(snt_k_ctx *c, uint64_t seen) {
  pthread_mutex_lock(&c->mu);
  atomic_fetch_add(&c->sleepers, 1);
  while (!atomic_load(&c->quit) && JOB_GEN(atomic_load(&c->job)) == seen) pthread_cond_wait(&c->go, &c->mu);
  atomic_fetch_sub(&c->sleepers, 1);
  pthread_mutex_unlock(&c->mu);
}

/* Claims and runs parts of job `gen` until none is left. fn and arg are read before the
 * claim: a claim that succeeds proves the job was still `gen`, whose fields stay until all
 * its parts are done, this one included. */
static void run_parts(snt_k_ctx *c, uint64_t gen) {
  for (uint64_t w = atomic_load(&c->job); JOB_GEN(w) == gen && JOB_NEXT(w) < JOB_PARTS(w);) {
    job_fn fn = atomic_load(&c->fn);
    void *arg = atomic_load(&c->arg);
    if (!atomic_compare_exchange_weak(&c->job, &w, w + 1)) continue; /* w reloaded */
    fn(arg, JOB_NEXT(w), JOB_PARTS(w));
    if (atomic_fetch_add(&c->done, 1) + 1 == JOB_PARTS(w) && atomic_load(&c->caller_asleep)) {
      pthread_mutex_lock(&c->mu);
      pthread_cond_signal(&c->done_cv);
      pthread_mutex_unlock(&c->mu);
    }
    w = atomic_load(&c->job);
  }
}

static void *member_main(void *p) {
  struct member *me = p;
  snt_k_ctx *c = me->ctx;
  uint64_t seen = me->seen;
  for (;;) {
    if (!spin_for_job(c, seen)) sleep_for_job(c, seen);
    if (atomic_load(&c->quit)) break;
    seen = JOB_GEN(atomic_load(&c->job));
    run_parts(c, seen);
  }
  return NULL;
}

/* Starts members up to `threads`; one that cannot be started caps the team (the kernels
 * still run, on fewer threads). Called with no job running. */
static void grow(snt_k_ctx *c, int threads) {
  if (threads > MAX_TEAM) threads = MAX_TEAM;
  for (int t = c->created; t < threads; t++) {
    c->members[t] = (struct member){c, JOB_GEN(atomic_load(&c->job))};
    if (pthread_create(&c->tid[t], NULL, member_main, &c->members[t]) != 0) break;
    c->created = t + 1;
  }
}

snt_k_ctx *snt_k_ctx_create(int threads) {
  snt_k_ctx *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->isa = snt_k_isa_detect();
  /* SINTER_BF16_WINOGRAD=0 keeps BF16 contexts on their BF16 GEMMs (tests compare those). */
  const char *wino = getenv("SINTER_BF16_WINOGRAD");
  c->bf16_fp32_paths = !(wino && strcmp(wino, "0") == 0);
  const char *spin = getenv("SINTER_SPIN_US");
  long us = spin && *spin ? strtol(spin, NULL, 10) : -1;
  c->spin_ns = us >= 0 && us <= 1000000 ? us * 1000 : DEFAULT_SPIN_NS;
  /* SINTER_STREAM_BYTES=N streams from N bytes on (tests set 0 to reach the streaming stores). */
  const char *sb = getenv("SINTER_STREAM_BYTES");
  double sbv = sb && *sb ? strtod(sb, NULL) : -1;
  c->stream_bytes = sbv >= 0 ? sbv : DEFAULT_STREAM_BYTES;
  c->created = 1;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->go, NULL);
  pthread_cond_init(&c->done_cv, NULL);
  snt_k_ctx_set_threads(c, threads);
  return c;
}

void snt_k_ctx_destroy(snt_k_ctx *c) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  atomic_store(&c->quit, 1);
  pthread_cond_broadcast(&c->go);
  pthread_mutex_unlock(&c->mu);
  for (int t = 1; t < c->created; t++) pthread_join(c->tid[t], NULL);
  pthread_cond_destroy(&c->go);
  pthread_cond_destroy(&c->done_cv);
  pthread_mutex_destroy(&c->mu);
  snt_k_bf16_cache_destroy(c->bf16);
  for (int s = 0; s < SNT_K_SCRATCH_SLOTS; s++) {
    for (int t = 0; t < MAX_TEAM; t++) free(c->scratch[s][t]);
  }
  free(c);
}

void snt_k_ctx_set_threads(snt_k_ctx *c, int threads) {
  if (!c) return;
  if (threads > c->created) grow(c, threads);
  c->threads = threads < 1 ? 1 : (threads > c->created ? c->created : threads);
}

int snt_k_ctx_threads(const snt_k_ctx *c) { return c ? c->threads : 1; }

snt_k_isa snt_k_ctx_isa(const snt_k_ctx *c) { return c ? c->isa : snt_k_isa_detect(); }

void snt_k_ctx_parallel(snt_k_ctx *c, void (*fn)(void *arg, int t, int threads), void *arg) {
  if (!c || c->threads == 1) {
    fn(arg, 0, 1);
    return;
  }
  int parts = c->threads;
  atomic_store(&c->fn, fn);
  atomic_store(&c->arg, arg);
  atomic_store(&c->done, 0);
  uint64_t gen = (JOB_GEN(atomic_load(&c->job)) + 1) & 0xFFFFFFFFu;
  atomic_store(&c->job, gen << 32 | (uint64_t)parts << 16); /* publishes the fields above */
  if (atomic_load(&c->sleepers)) {
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->go);
    pthread_mutex_unlock(&c->mu);
  }
  run_parts(c, gen);
  spin_clock clk = {0};
  for (unsigned i = 0; atomic_load(&c->done) < parts; i++) {
    if (!spin_wait(c, &clk, i)) {
      pthread_mutex_lock(&c->mu);
      atomic_store(&c->caller_asleep, 1);
      while (atomic_load(&c->done) < parts) pthread_cond_wait(&c->done_cv, &c->mu);
      atomic_store(&c->caller_asleep, 0);
      pthread_mutex_unlock(&c->mu);
      break;
    }
  }
}

void snt_k_ctx_set_training(snt_k_ctx *c, int training) {
  if (c) c->training = training != 0;
}

int snt_k_ctx_training(const snt_k_ctx *c) { return c ? c->training : 0; }

int snt_k_ctx_bf16_fp32_paths(const snt_k_ctx *c) { return c ? c->bf16_fp32_paths : 1; }

double snt_k_ctx_stream_bytes(const snt_k_ctx *c) { return c ? c->stream_bytes : DEFAULT_STREAM_BYTES; }

void snt_k_ctx_set_precision(snt_k_ctx *c, snt_k_precision p) {
  if (c) c->precision = p;
}

/* The BF16 cache when the context runs BF16 here, else NULL (FP32). */
int snt_k_ctx_runs_bf16(snt_k_ctx *c) { return snt_k_ctx_bf16(c) != NULL; }

snt_k_bf16_cache *snt_k_ctx_bf16(snt_k_ctx *c) {
  if (!c || c->precision != SNT_K_BF16 || !snt_k_bf16_available()) return NULL;
  if (!c->bf16) c->bf16 = snt_k_bf16_cache_create();
  return c->bf16;
}

void *snt_k_alloc_big(size_t bytes) {
  const size_t huge = (size_t)2 << 20;
  if (bytes < huge) return aligned_alloc(64, bytes ? (bytes + 63) / 64 * 64 : 64);
  if (bytes > SIZE_MAX - huge) return NULL;
  size_t rounded = (bytes + huge - 1) / huge * huge;
  void *p = aligned_alloc(huge, rounded);
#ifdef MADV_HUGEPAGE
  if (p) (void)madvise(p, rounded, MADV_HUGEPAGE); /* a hint: without THP the pages stay small */
#endif
  return p;
}

void *snt_k_ctx_scratch(snt_k_ctx *c, int slot, int t, size_t bytes) {
  if (!c || slot < 0 || slot >= SNT_K_SCRATCH_SLOTS || t < 0 || t >= MAX_TEAM) return NULL;
  if (bytes == 0) bytes = 1;
  if (c->scratch_bytes[slot][t] >= bytes) return c->scratch[slot][t];
  size_t rounded = (bytes + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
  void *p = aligned_alloc(64, rounded);
  if (!p) return NULL;
  free(c->scratch[slot][t]); /* its contents are not kept: callers overwrite what they use */
  c->scratch[slot][t] = p;
  c->scratch_bytes[slot][t] = rounded;
  return p;
}

void snt_k_ctx_set_shard(snt_k_ctx *ctx, int64_t first, snt_k_sum_fn sum, void *user) {
  if (!ctx) return;
  ctx->first_sample = first;
  ctx->sum = sum;
  ctx->sum_user = user;
}

int64_t snt_k_ctx_first_sample(const snt_k_ctx *ctx) { return ctx ? ctx->first_sample : 0; }

void snt_k_ctx_set_ready(snt_k_ctx *ctx, snt_k_ready_fn ready, void *user) {
  if (!ctx) return;
  ctx->ready = ready;
  ctx->ready_user = user;
}

void snt_k_ctx_ready(const snt_k_ctx *ctx, int output) {
  if (ctx && ctx->ready) ctx->ready(ctx->ready_user, output);
}

int snt_k_ctx_sum(const snt_k_ctx *ctx, double *x, int64_t n) {
  return ctx && ctx->sum ? ctx->sum(ctx->sum_user, x, n) : 0;
}

int snt_k_ctx_has_sum(const snt_k_ctx *ctx) { return ctx && ctx->sum; }
