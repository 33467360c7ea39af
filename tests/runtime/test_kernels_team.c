/* The kernel team (runtime/kernels/ctx.c): every part of every job runs exactly once, with its
 * own fn and arg and the job's part count, whoever claims it; on 2 to 4 threads, with the team
 * count changed between jobs, with parts slower than a hand-off (the other side claims what
 * is left), and with SINTER_SPIN_US=0 (members and caller sleep between jobs). */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "sinter/kernels.h"

enum { MAX_PARTS = 8 };

typedef struct job {
  int id, slow, parts;
  _Atomic int runs[MAX_PARTS], bad_threads, seen_id;
} job;

static void pause_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

static void part_a(void *arg, int t, int threads) {
  job *j = arg;
  if (t < 0 || t >= MAX_PARTS) return;
  if (j->slow && t == j->id % threads) pause_us(50);
  atomic_fetch_add(&j->runs[t], 1);
  atomic_store(&j->seen_id, j->id);
  if (threads != j->parts) atomic_fetch_add(&j->bad_threads, 1);
}

/* A second function, so a part run with the other job's fn would show in runs. */
static void part_b(void *arg, int t, int threads) {
  job *j = arg;
  if (t < 0 || t >= MAX_PARTS) return;
  atomic_fetch_add(&j->runs[t], 100);
  if (threads != j->parts) atomic_fetch_add(&j->bad_threads, 1);
}

static void run_jobs(test_state *ts, snt_k_ctx *c, int jobs, const char *what) {
  int bad = 0;
  for (int i = 0; i < jobs; i++) {
    int threads = 2 + i % 3;
    snt_k_ctx_set_threads(c, i % 7 == 6 ? 1 : threads);
    int parts = snt_k_ctx_threads(c);
    job j = {.id = i, .slow = i % 5 == 0, .parts = parts};
    for (int t = 0; t < MAX_PARTS; t++) atomic_init(&j.runs[t], 0);
    atomic_init(&j.bad_threads, 0);
    atomic_init(&j.seen_id, -1);
    int b = i % 2;
    snt_k_ctx_parallel(c, b ? part_b : part_a, &j);
    for (int t = 0; t < MAX_PARTS; t++) bad += atomic_load(&j.runs[t]) != (t < parts ? (b ? 100 : 1) : 0);
    bad += atomic_load(&j.bad_threads) != 0;
    bad += !b && atomic_load(&j.seen_id) != i;
  }
  ts->checks++;
  if (bad) {
    ts->failures++;
    fprintf(stderr, "%s: %d wrong part counts over %d jobs\n", what, bad, jobs);
  }
}

int main(void) {
  test_state ts = {0};
  snt_k_ctx *c = snt_k_ctx_create(4);
  CHECK(&ts, c != NULL);
  if (c) run_jobs(&ts, c, 20000, "spinning team");
  snt_k_ctx_destroy(c);
  setenv("SINTER_SPIN_US", "0", 1);
  c = snt_k_ctx_create(4);
  CHECK(&ts, c != NULL);
  if (c) run_jobs(&ts, c, 2000, "sleeping team");
  snt_k_ctx_destroy(c);
  printf("%d checks, %d failures\n", ts.checks, ts.failures);
  return ts.failures != 0;
}
