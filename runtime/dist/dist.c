/* snt_dist over libsinter_mpi.so (mpi/mpi_plugin.h), loaded with RTLD_GLOBAL: OpenMPI opens
 * its own components with dlopen and they need libmpi's symbols in the global scope. */
#include "runtime/dist/dist.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/dist/mpi/mpi_plugin.h"
#include "sinter/version.h"

/* Where this build put the plugin and where `cmake --install` puts it; "" when sinter was built
 * without MPI (CMakeLists.txt). */
#ifndef SNT_MPI_PLUGIN_BUILT
#define SNT_MPI_PLUGIN_BUILT ""
#endif
#ifndef SNT_MPI_PLUGIN_INSTALLED
#define SNT_MPI_PLUGIN_INSTALLED ""
#endif

struct snt_dist {
  const snt_mpi_plugin *mpi;
  int rank, size;
  /* the watchdog: the collective in progress (NULL between) and since when */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int watching, quit;
  const char *call;
  double since, timeout;
  snt_dist_timeout_fn on_timeout;
  void *user;
  int serialized; /* MPI may be called from another thread, one at a time */
  /* --overlap: the sums posted to the sending thread (jobs[head..tail)), its first failure */
  pthread_mutex_t qmu;
  pthread_cond_t qcv;
  pthread_t sender;
  int sending, stop, busy, rc;
  struct job { float *x; int64_t n; } *jobs;
  int head, tail, cap;
};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void enter(snt_dist *d, const char *call) {
  pthread_mutex_lock(&d->mu);
  d->call = call;
  d->since = now();
  pthread_mutex_unlock(&d->mu);
}

static void leave(snt_dist *d) {
  pthread_mutex_lock(&d->mu);
  d->call = NULL;
  pthread_mutex_unlock(&d->mu);
}

static void *watch(void *arg) {
  snt_dist *d = arg;
  pthread_mutex_lock(&d->mu);
  while (!d->quit) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200 * 1000 * 1000; /* a fifth of a second: the timeout's resolution */
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&d->cv, &d->mu, &until);
    double waited = d->call ? now() - d->since : 0;
    if (d->call && waited > d->timeout) {
      const char *call = d->call;
      pthread_mutex_unlock(&d->mu);
      d->on_timeout(d->user, call, waited);
      pthread_mutex_lock(&d->mu);
      d->since = now(); /* it returned after all: warn again after another timeout */
    }
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

snt_status snt_dist_set_timeout(snt_dist *d, double seconds, snt_dist_timeout_fn on_timeout, void *user, snt_err *e) {
  if (!d) return SNT_OK;
  pthread_mutex_lock(&d->mu);
  d->timeout = seconds, d->on_timeout = on_timeout, d->user = user;
  pthread_mutex_unlock(&d->mu);
  if (seconds <= 0 || !on_timeout || d->watching) return SNT_OK;
  if (pthread_create(&d->thread, NULL, watch, d) != 0)
    return snt_err_set(e, SNT_ERR_INTERNAL, "rank %d: cannot start the watchdog thread", d->rank);
  d->watching = 1;
  return SNT_OK;
}

static int env_int(const char *a, const char *b) {
  const char *v = getenv(a);
  if (!v || !*v) v = getenv(b);
  if (!v || !*v) return 0;
  char *end;
  long n = strtol(v, &end, 10);
  return *end || n < 1 || n > 1 << 20 ? 0 : (int)n;
}

int snt_dist_env_size(void) {
  int n = env_int("OMPI_COMM_WORLD_SIZE", "PMI_SIZE");
  return n ? n : 1;
}

int snt_dist_env_local_size(void) {
  int n = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS");
  return n ? n : 1;
}

static snt_status mpi_fail(const snt_dist *d, int rc, const char *what, snt_err *e) {
  char text[256];
  d->mpi->error(rc, text, sizeof text);
  return snt_err_set(e, SNT_ERR_IO, "rank %d of %d: %s failed: %s", d->rank, d->size, what, text);
}

static snt_status load_plugin(int size, const snt_mpi_plugin **out, snt_err *e) {
  const char *env = getenv("SINTER_MPI_PLUGIN");
  const char *cands[2] = {env && *env ? env : SNT_MPI_PLUGIN_BUILT, env && *env ? "" : SNT_MPI_PLUGIN_INSTALLED};
  if (!cands[0][0] && !cands[1][0])
    return snt_err_set(e, SNT_ERR_INPUT,
                "started by mpirun with %d ranks, but this sinter was built without MPI: every rank would train "
                "its own copy. Install libopenmpi-dev, rebuild sinter and recompile the model (or run one process)",
                size);
  char why[600] = "";
  for (int i = 0; i < 2; i++) {
    if (!cands[i][0]) continue;
    void *h = dlopen(cands[i], RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    const char *err = h ? NULL : dlerror();
    void *sym = h ? dlsym(h, SNT_MPI_PLUGIN_SYMBOL) : NULL;
    const snt_mpi_plugin *(*entry)(void) = NULL;
    memcpy(&entry, &sym, sizeof entry); /* object pointer to function pointer, as POSIX allows */
    const snt_mpi_plugin *p = entry ? entry() : NULL;
    if (p && p->version && strcmp(p->version, SINTER_VERSION) == 0) return *out = p, SNT_OK;
    size_t n = strlen(why);
    snprintf(why + n, sizeof why - n, "%s%s: %s", n ? "; " : "", cands[i],
             err ? err : !p ? "not sinter's MPI plugin" : "of another sinter version");
  }
  return snt_err_set(e, SNT_ERR_IO, "started by mpirun with %d ranks, but the MPI plugin libsinter_mpi.so does not load "
                     "(%s); set SINTER_MPI_PLUGIN to its path", size, why);
}

snt_status snt_dist_open(snt_dist **out, snt_err *e) {
  *out = NULL;
  int size = snt_dist_env_size();
  if (size <= 1) return SNT_OK;
  const snt_mpi_plugin *p = NULL;
  snt_status st = load_plugin(size, &p, e);
  if (st != SNT_OK) return st;
  snt_dist *d = calloc(1, sizeof *d);
  if (!d) return snt_err_set(e, SNT_ERR_NOMEM, "out of memory");
  d->mpi = p;
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
  pthread_mutex_init(&d->qmu, NULL);
  pthread_cond_init(&d->qcv, NULL);
  int rc = p->init(&d->rank, &d->size, &d->serialized);
  if (rc) {
    st = mpi_fail(d, rc, "MPI_Init", e);
    pthread_cond_destroy(&d->qcv);
    pthread_mutex_destroy(&d->qmu);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
    return st;
  }
  *out = d;
  return SNT_OK;
}

static void stop_sender(snt_dist *d);

void snt_dist_close(snt_dist *d) {
  if (!d) return;
  stop_sender(d);
  if (d->watching) {
    pthread_mutex_lock(&d->mu);
    d->quit = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
  }
  enter(d, "MPI_Finalize"); /* a rank gone before the end would hold the others here too */
  d->mpi->finalize();
  free(d->jobs);
  pthread_cond_destroy(&d->qcv);
  pthread_mutex_destroy(&d->qmu);
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

void snt_dist_abort(snt_dist *d, int code) {
  if (d) d->mpi->abort(code);
}

int snt_dist_rank(const snt_dist *d) { return d ? d->rank : 0; }
int snt_dist_size(const snt_dist *d) { return d ? d->size : 1; }

/* The end of every collective: the watchdog stops watching, and a failure gets its message. */
static snt_status done(snt_dist *d, const char *call, int rc, snt_err *e) {
  leave(d);
  return rc ? mpi_fail(d, rc, call, e) : SNT_OK;
}

/* ---- --overlap: the sending thread ------------------------------------------------------- */

static void *send_loop(void *arg) {
  snt_dist *d = arg;
  /* The lowest priority (Linux: per thread): the sums take the cores only when the step leaves
   * them idle. At normal priority OpenMPI's polling took CPU from the backward pass and the step
   * was slower with overlap than without (bench/dist_netns, docs/performance.md). Best effort. */
  (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
  pthread_mutex_lock(&d->qmu);
  for (;;) {
    while (d->head == d->tail && !d->stop) pthread_cond_wait(&d->qcv, &d->qmu);
    if (d->head == d->tail) break;
    struct job j = d->jobs[d->head];
    d->busy = 1;
    pthread_mutex_unlock(&d->qmu);
    enter(d, "MPI_Allreduce");
    int rc = d->mpi->sum_f32(j.x, j.n);
    leave(d);
    pthread_mutex_lock(&d->qmu);
    if (rc && !d->rc) d->rc = rc;
    d->head++, d->busy = 0;
    if (d->head == d->tail) d->head = d->tail = 0;
    pthread_cond_broadcast(&d->qcv);
  }
  pthread_mutex_unlock(&d->qmu);
  return NULL;
}

snt_status snt_dist_start_thread(snt_dist *d, snt_err *e) {
  if (!d || d->sending) return SNT_OK;
  if (!d->serialized)
    return snt_err_set(e, SNT_ERR_INPUT, "rank %d: --overlap: this MPI cannot be called from a second thread "
                       "(MPI_THREAD_SERIALIZED not provided)", d->rank);
  if (pthread_create(&d->sender, NULL, send_loop, d) != 0)
    return snt_err_set(e, SNT_ERR_INTERNAL, "rank %d: cannot start the thread that sends the gradients", d->rank);
  d->sending = 1;
  return SNT_OK;
}

snt_status snt_dist_post_sum_f32(snt_dist *d, float *x, int64_t n, snt_err *e) {
  if (!d) return SNT_OK;
  if (!d->sending) return snt_dist_sum_f32(d, x, n, e);
  pthread_mutex_lock(&d->qmu);
  if (d->tail == d->cap) {
    int cap = d->cap ? 2 * d->cap : 64;
    struct job *j = cap < (1 << 24) ? realloc(d->jobs, sizeof *j * (size_t)cap) : NULL;
    if (!j) {
      pthread_mutex_unlock(&d->qmu);
      return snt_err_set(e, SNT_ERR_NOMEM, "rank %d: out of memory for the sums to send", d->rank);
    }
    d->jobs = j, d->cap = cap;
  }
  d->jobs[d->tail++] = (struct job){x, n};
  pthread_cond_broadcast(&d->qcv);
  pthread_mutex_unlock(&d->qmu);
  return SNT_OK;
}

snt_status snt_dist_wait(snt_dist *d, snt_err *e) {
  if (!d || !d->sending) return SNT_OK;
  pthread_mutex_lock(&d->qmu);
  while (d->head != d->tail || d->busy) pthread_cond_wait(&d->qcv, &d->qmu);
  int rc = d->rc;
  d->rc = 0;
  pthread_mutex_unlock(&d->qmu);
  return rc ? mpi_fail(d, rc, "MPI_Allreduce", e) : SNT_OK;
}

static void stop_sender(snt_dist *d) {
  if (!d->sending) return;
  pthread_mutex_lock(&d->qmu);
  d->stop = 1;
  pthread_cond_broadcast(&d->qcv);
  pthread_mutex_unlock(&d->qmu);
  pthread_join(d->sender, NULL);
  d->sending = 0;
}

/* ---- blocking collectives: after whatever was posted ------------------------------------- */

snt_status snt_dist_sum_f32(snt_dist *d, float *x, int64_t n, snt_err *e) {
  if (!d) return SNT_OK;
  snt_status st = snt_dist_wait(d, e);
  if (st != SNT_OK) return st;
  enter(d, "MPI_Allreduce");
  return done(d, "MPI_Allreduce", d->mpi->sum_f32(x, n), e);
}

snt_status snt_dist_sum_f64(snt_dist *d, double *x, int64_t n, snt_err *e) {
  if (!d) return SNT_OK;
  snt_status st = snt_dist_wait(d, e);
  if (st != SNT_OK) return st;
  enter(d, "MPI_Allreduce");
  return done(d, "MPI_Allreduce", d->mpi->sum_f64(x, n), e);
}

snt_status snt_dist_bcast(snt_dist *d, void *buf, int64_t bytes, snt_err *e) {
  if (!d) return SNT_OK;
  snt_status st = snt_dist_wait(d, e);
  if (st != SNT_OK) return st;
  enter(d, "MPI_Bcast");
  return done(d, "MPI_Bcast", d->mpi->bcast(buf, bytes), e);
}

snt_status snt_dist_gather(snt_dist *d, const void *mine, int64_t bytes, void *all, snt_err *e) {
  if (!d) {
    memmove(all, mine, (size_t)bytes);
    return SNT_OK;
  }
  snt_status st = snt_dist_wait(d, e);
  if (st != SNT_OK) return st;
  enter(d, "MPI_Allgather");
  return done(d, "MPI_Allgather", d->mpi->gather(mine, bytes, all), e);
}
