/* A parallel for over index ranges for the memory-bound training kernels (BatchNorm, pooling
 * backward): threads are started per call (tens of microseconds against tens of milliseconds of
 * work) so nothing outlives it, and each index is computed as it would be alone, so results do
 * not depend on the thread count. */
#include <cblas.h>
#include <pthread.h>

#include "kernels_util.h"

enum { MAX_THREADS = 16 };

typedef struct range_job {
  void (*fn)(void *ctx, int64_t begin, int64_t end);
  void *ctx;
  int64_t begin, end;
} range_job;

static void *run_range(void *arg) {
  range_job *j = arg;
  j->fn(j->ctx, j->begin, j->end);
  return NULL;
}

void snt_k_parallel_for(int64_t n, int64_t min_per_thread, void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx) {
  /* The linear algebra's thread count is the process's budget (EXE --threads). */
  int threads = openblas_get_num_threads();
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (min_per_thread < 1) min_per_thread = 1;
  if (threads > n / min_per_thread) threads = (int)(n / min_per_thread);
  if (threads <= 1) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  range_job jobs[MAX_THREADS];
  pthread_t tid[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int t = 0; t < threads; t++) jobs[t] = (range_job){fn, ctx, n * t / threads, n * (t + 1) / threads};
  for (int t = 1; t < threads; t++) started[t] = pthread_create(&tid[t], NULL, run_range, &jobs[t]) == 0;
  run_range(&jobs[0]);
  for (int t = 1; t < threads; t++) {
    if (started[t]) pthread_join(tid[t], NULL);
    else run_range(&jobs[t]); /* no thread to be had: do its share here */
  }
}
