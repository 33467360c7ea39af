/* Dynamic batching: requests queue their samples; one inference thread owns the model, takes
 * up to the compiled batch at a time and runs them together with snt_rt_run_n, which costs n
 * samples, not the whole batch. A batch waits for more samples at most max_wait after its
 * oldest, and only while other requests are still decoding theirs: a lone request runs at
 * once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/driver/serve.h"

double snt_srv_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct timespec abs_time(double t) {
  struct timespec ts = {.tv_sec = (time_t)t};
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
  return ts;
}

/* Waits on cv until signalled or until deadline (monotonic seconds). */
static void wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, double deadline) {
  struct timespec ts = abs_time(deadline);
  pthread_cond_timedwait(cv, mu, &ts);
}

/* Takes up to q->batch jobs from the head (under mu); a call job goes alone. */
static int take(snt_srv_queue *q, snt_srv_job **out) {
  int n = 0;
  while (q->head && n < q->batch && !(n && q->head->call) && !(n && out[0]->call)) {
    snt_srv_job *j = q->head;
    q->head = j->next;
    j->next = NULL;
    j->taken = true;
    out[n++] = j;
  }
  if (!q->head) q->tail = NULL;
  q->queued -= n;
  return n;
}

/* Runs n taken jobs as one batch (outside mu: the requests only read their job when done). */
static void run_batch(snt_srv_queue *q, snt_srv_job **jobs, int n) {
  double t0 = snt_srv_now();
  if (jobs[0]->call) {
    jobs[0]->call(q->model, jobs[0]->arg);
    jobs[0]->t_start = t0, jobs[0]->t_end = snt_srv_now(), jobs[0]->batch = 1;
    return;
  }
  for (int i = 0; i < n; i++) memcpy(q->x + (size_t)i * (size_t)q->sample, jobs[i]->x, (size_t)q->sample * sizeof(float));
  const void *ins[1] = {q->x};
  q->outs[0] = q->y;
  int st = snt_rt_run_n(q->model, n, ins, q->outs);
  double t1 = snt_srv_now();
  for (int i = 0; i < n; i++) {
    if (!st) memcpy(jobs[i]->probs, q->y + (size_t)i * (size_t)q->k, (size_t)q->k * sizeof(float));
    jobs[i]->status = st;
    jobs[i]->t_start = t0;
    jobs[i]->t_end = t1;
    jobs[i]->batch = n;
  }
}

static void *inference_thread(void *arg) {
  snt_srv_queue *q = arg;
  snt_srv_job **jobs = q->taken;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (!q->head && !q->stop) pthread_cond_wait(&q->work, &q->mu);
    if (!q->head) break; /* stopping with nothing left */
    /* Wait for a fuller batch, but never past max_wait after the oldest sample came. */
    double until = q->head->t_queued + q->max_wait;
    while (q->head && !q->head->call && q->queued < q->batch && q->preparing > 0 && !q->stop && snt_srv_now() < until)
      wait_until(&q->work, &q->mu, until);
    if (!q->head) continue; /* withdrawn meanwhile (timed out) */
    int n = take(q, jobs);
    pthread_mutex_unlock(&q->mu);
    run_batch(q, jobs, n);
    pthread_mutex_lock(&q->mu);
    bool samples = !jobs[0]->call; /* the counters are about batches of samples */
    for (int i = 0; i < n; i++) jobs[i]->done = true;
    q->batches += samples;
    q->samples += samples ? n : 0;
    if (samples && n > q->max_batch_seen) q->max_batch_seen = n;
    pthread_cond_broadcast(&q->done);
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

static void free_buffers(snt_srv_queue *q) {
  for (int i = 1; q->outs && i < q->model->info->n_outputs; i++) free(q->outs[i]);
  free(q->outs);
  free(q->x);
  free(q->y);
  free(q->taken);
  q->outs = NULL, q->x = q->y = NULL, q->taken = NULL;
}

snt_status snt_srv_queue_create(snt_srv_queue *q, snt_rt_model *m, double max_wait, snt_err *e) {
  *q = (snt_srv_queue){.model = m, .batch = m->batch, .max_wait = max_wait};
  q->k = m->out[0].dims[m->out[0].rank - 1];
  q->sample = (int64_t)(snt_rt_io_bytes(&m->in[0]) / (size_t)m->batch / sizeof(float));
  const char *name = m->info->name;
  q->x = snt_rt_alloc(name, snt_rt_io_bytes(&m->in[0]) + 1, "the input batch");
  q->y = q->x ? snt_rt_alloc(name, snt_rt_io_bytes(&m->out[0]) + 1, "the output batch") : NULL;
  q->outs = q->y ? snt_rt_alloc(name, sizeof(void *) * ((size_t)m->info->n_outputs + 1), "the outputs") : NULL;
  q->taken = q->outs ? snt_rt_alloc(name, sizeof(snt_srv_job *) * (size_t)m->batch, "the batch list") : NULL;
  bool ok = q->taken != NULL;
  for (int i = 1; ok && i < m->info->n_outputs; i++) ok = (q->outs[i] = snt_rt_alloc(name, snt_rt_io_bytes(&m->out[i]) + 1, "an output")) != NULL;
  if (!ok) {
    free_buffers(q);
    return snt_err_set(e, SNT_ERR_NOMEM, "%s serve: out of memory for the batch buffers", name);
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->work, &ca);
  pthread_cond_init(&q->done, &ca);
  pthread_condattr_destroy(&ca);
  int rc = pthread_create(&q->thread, NULL, inference_thread, q);
  if (rc) {
    snt_srv_queue_destroy(q);
    return snt_err_set(e, SNT_ERR_INTERNAL, "%s serve: cannot start the inference thread: %s", name, strerror(rc));
  }
  q->started = true;
  return SNT_OK;
}

void snt_srv_queue_destroy(snt_srv_queue *q) {
  if (q->started) {
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    q->started = false;
  }
  if (q->x) {
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->mu);
  }
  free_buffers(q);
}

/* Unlinks job j from the queue if it is still there (under mu). */
static void withdraw(snt_srv_queue *q, snt_srv_job *j) {
  snt_srv_job **p = &q->head, *prev = NULL;
  while (*p && *p != j) prev = *p, p = &(*p)->next;
  if (!*p) return;
  *p = j->next;
  if (q->tail == j) q->tail = prev;
  q->queued--;
}

void snt_srv_queue_preparing(snt_srv_queue *q, int delta) {
  pthread_mutex_lock(&q->mu);
  q->preparing += delta;
  pthread_cond_signal(&q->work); /* one fewer on its way: a waiting batch may go */
  pthread_mutex_unlock(&q->mu);
}

int snt_srv_queue_run(snt_srv_queue *q, snt_srv_job *jobs, int n, double deadline) {
  double now = snt_srv_now();
  pthread_mutex_lock(&q->mu);
  q->preparing--;
  for (int i = 0; i < n; i++) {
    jobs[i].t_queued = now, jobs[i].done = jobs[i].taken = false, jobs[i].next = NULL;
    if (q->tail) q->tail->next = &jobs[i];
    else q->head = &jobs[i];
    q->tail = &jobs[i];
  }
  q->queued += n;
  pthread_cond_signal(&q->work);
  int timed_out = 0;
  for (int i = 0; i < n; i++) {
    while (!jobs[i].done) {
      double t = snt_srv_now();
      if (!jobs[i].taken && t >= deadline) break;
      wait_until(&q->done, &q->mu, jobs[i].taken ? t + 1.0 : deadline); /* a running job is always waited for */
    }
    if (!jobs[i].done) withdraw(q, &jobs[i]), timed_out = 1;
  }
  pthread_mutex_unlock(&q->mu);
  return timed_out;
}
