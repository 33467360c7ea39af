/* EXE serve: the model behind HTTP (see docs/serving.md). The main thread only waits for
 * SIGTERM or SIGINT with sigwait: the signals are blocked in every thread (they inherit the
 * mask), so no handler runs and no global state is needed. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/driver/serve.h"

enum { SERVE_DEFAULT_PORT = 8080, SERVE_DEFAULT_WAIT_MS = 5, SERVE_DEFAULT_TIMEOUT_MS = 30000 };
#define SERVE_DEFAULT_MAX_BODY (32LL << 20)
#define SERVE_MAX_BODY_LIMIT (1LL << 30)

/* The options of serve; 0 when parsed, else the exit code (-1: --help). */
static int parse(const snt_model_info *info, snt_rt_common *c, int argc, char **argv, snt_srv_conf *conf,
                 bool *no_batch) {
  int64_t max_pixels = 0;
  const snt_opt own[] = {
      {.name = "host", 0, SNT_OPT_STRING, &conf->host, "ADDR", "the address to listen on (default 127.0.0.1)"},
      {.name = "port", 0, SNT_OPT_INT, &conf->port, "N", "the TCP port; 0 takes a free one", .imin = 0, .imax = 65535},
      {.name = "max-wait-ms", 0, SNT_OPT_INT, &conf->max_wait_ms, "MS", "how long a batch waits for more samples",
       .imin = 0, .imax = 10000},
      {.name = "no-batch", 0, SNT_OPT_FLAG, no_batch, NULL, "run one sample at a time"},
      {.name = "max-body", 0, SNT_OPT_INT, &conf->max_body, "BYTES", "the largest request body", .imin = 1,
       .imax = SERVE_MAX_BODY_LIMIT},
      {.name = "timeout-ms", 0, SNT_OPT_INT, &conf->timeout_ms, "MS", "per request: idle connection and wait for a result",
       .imin = 1, .imax = 3600000},
      {.name = "max-connections", 0, SNT_OPT_INT, &conf->max_conns, "N", "connections served at once", .imin = 1,
       .imax = 4096},
      {.name = "max-pixels", 0, SNT_OPT_INT, &max_pixels, "N", "the largest image (width x height) decoded", .imin = 1,
       .imax = SNT_IMAGE_MAX_PIXELS},
      {NULL}};
  int n = 0;
  int rc = snt_rt_parse(info->name, "serve", own, c, argc, argv, NULL, 0, &n);
  c->max_pixels = max_pixels;
  return rc;
}

/* Opens the model, starts the queue and the listener, waits for a signal, then stops in order:
 * no new connections, the requests in flight answered, the queue drained. */
static int run(const snt_model_info *info, snt_rt_common *c, snt_srv *s, bool no_batch, const sigset_t *stop) {
  snt_rt_model m;
  int rc = snt_rt_open(info, c, &m);
  if (rc) return rc;
  snt_err e;
  void *daemon = NULL;
  int port = 0;
  if (snt_srv_queue_create(&s->queue, &m, (double)s->conf.max_wait_ms / 1000.0, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    snt_rt_close(&m);
    return SNT_RT_EXIT_INTERNAL;
  }
  if (no_batch) s->queue.batch = 1;
  snt_srv_explain_open(s);
  if (snt_srv_http_start(s, &daemon, &port, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    rc = SNT_RT_EXIT_USER;
  } else {
    bool v6 = strchr(s->conf.host, ':') != NULL;
    printf("serving on http://%s%s%s:%d\n", v6 ? "[" : "", s->conf.host, v6 ? "]" : "", port);
    fflush(stdout);
    int sig = 0;
    sigwait(stop, &sig);
    fprintf(stderr, "%s serve: %s: finishing the requests in flight\n", info->name, sig == SIGINT ? "SIGINT" : "SIGTERM");
    snt_srv_http_stop(s, daemon, (double)s->conf.timeout_ms / 1000.0 + 1.0);
  }
  snt_srv_queue_destroy(&s->queue);
  snt_srv_explain_close(s);
  snt_rt_close(&m);
  return rc;
}

int snt_rt_cmd_serve(const snt_model_info *info, snt_rt_common *c, int argc, char **argv) {
  snt_srv s = {.info = info, .common = c};
  s.conf = (snt_srv_conf){.host = "127.0.0.1", .port = SERVE_DEFAULT_PORT, .max_wait_ms = SERVE_DEFAULT_WAIT_MS,
                          .max_body = SERVE_DEFAULT_MAX_BODY, .timeout_ms = SERVE_DEFAULT_TIMEOUT_MS, .max_conns = 64};
  bool no_batch = false;
  int rc = parse(info, c, argc, argv, &s.conf, &no_batch);
  if (rc < 0) return snt_rt_usage(stdout, info);
  if (rc) return rc;
  snt_err e;
  if (snt_rt_image_model_check(info, "serve", &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return SNT_RT_EXIT_USER;
  }
  /* Blocked before any thread starts, so every thread inherits the mask and the signals wait
   * for sigwait; SIGPIPE too, in case a peer closes while a response is written. */
  sigset_t stop, all, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  all = stop;
  sigaddset(&all, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  pthread_mutex_init(&s.mu, NULL);
  sem_init(&s.decoders, 0, (unsigned)(cores < 1 ? 1 : cores > 64 ? 64 : cores));
  rc = run(info, c, &s, no_batch, &stop);
  sem_destroy(&s.decoders);
  pthread_mutex_destroy(&s.mu);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}
