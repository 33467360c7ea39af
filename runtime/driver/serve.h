/* Internal: EXE serve, the HTTP server of a compiled executable (libmicrohttpd).
 *
 * serve.c parses the options, opens the model, waits for SIGTERM/SIGINT and shuts down;
 * serve_http.c is the libmicrohttpd plumbing (limits, bodies, errors, the route table's
 * dispatch); serve_queue.c batches concurrent samples for the one inference thread;
 * serve_routes.c holds the handlers and the route table; serve_page.c the embedded web page;
 * serve_buf.c a growable text buffer for JSON. */
#ifndef SINTER_RUNTIME_SERVE_H
#define SINTER_RUNTIME_SERVE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/driver/driver.h"

/* A growable, NUL-terminated text buffer. On allocation failure it sets oom and stops growing. */
typedef struct snt_srv_buf {
  char *data;
  size_t len, cap;
  bool oom;
} snt_srv_buf;

void snt_srv_buf_printf(snt_srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void snt_srv_buf_append(snt_srv_buf *b, const void *data, size_t n);
/* s as a JSON string literal (quotes, backslashes and control bytes escaped). */
void snt_srv_buf_json_string(snt_srv_buf *b, const char *s);
void snt_srv_buf_free(snt_srv_buf *b);

/* One sample waiting for (or done by) the inference thread. The request that queued it owns it
 * and waits until done. A job with `call` set is no sample: the inference thread runs
 * call(model, arg) alone, between batches (for work that needs the model to itself, such as
 * an explanation's forward and backward passes: no other thread may touch the model). */
typedef struct snt_srv_job {
  void (*call)(snt_rt_model *m, void *arg);
  void *arg;
  const float *x;         /* one sample of input 0 */
  float *probs;           /* out: the output row (k floats) */
  int status;             /* 0 ok; else the run failed */
  bool done, taken;
  double t_queued, t_start, t_end; /* monotonic seconds */
  int batch;              /* the size of the batch it ran in */
  struct snt_srv_job *next;
} snt_srv_job;

/* The batching queue and the inference thread that owns the model. */
typedef struct snt_srv_queue {
  snt_rt_model *model;
  int64_t batch, sample, k; /* the compiled batch; floats per input sample and per output row */
  double max_wait;          /* seconds a batch waits for more samples */
  pthread_mutex_t mu;
  pthread_cond_t work, done; /* work: a job arrived or stop; done: a job finished */
  snt_srv_job *head, *tail;
  int64_t queued;
  int64_t preparing; /* requests decoding images that will queue them soon */
  bool stop, started;
  pthread_t thread;
  float *x, *y;  /* the batch's input and output buffers */
  void **outs;   /* every output's buffer (the first is y) */
  snt_srv_job **taken; /* the batch being run: batch entries */
  /* counters for /v1/health, under mu */
  int64_t batches, samples, max_batch_seen;
} snt_srv_queue;

snt_status snt_srv_queue_create(snt_srv_queue *q, snt_rt_model *m, double max_wait, snt_err *e);
/* Finishes the queued jobs, stops the thread and frees the buffers. */
void snt_srv_queue_destroy(snt_srv_queue *q);
/* A request says it is decoding images it will queue (delta 1) or that it gave up (-1): a
 * batch waits for more samples only while some are on their way. */
void snt_srv_queue_preparing(snt_srv_queue *q, int delta);
/* Queues n jobs together (ending the caller's preparing count) and waits until all are done, or until deadline (monotonic seconds)
 * for the ones not yet taken by the inference thread: those are withdrawn and 1 is returned
 * (a job already running is always waited for). 0 when all are done. */
int snt_srv_queue_run(snt_srv_queue *q, snt_srv_job *jobs, int n, double deadline);
double snt_srv_now(void);

/* What the server was started with. */
typedef struct snt_srv_conf {
  const char *host;
  int64_t port, max_wait_ms, max_body, timeout_ms, max_conns;
} snt_srv_conf;

typedef struct snt_srv {
  const snt_model_info *info;
  const snt_rt_common *common;
  snt_srv_conf conf;
  snt_srv_queue queue;
  pthread_mutex_t mu; /* guards the counters below */
  int64_t requests, in_flight;
  /* Images decoded at once: one per core. Decoding is CPU-bound, so more would not be faster,
   * and this bounds the memory of many large images arriving together. */
  sem_t decoders;
  /* POST /v1/explain: the explainer (its own model instance) and its lock, or why there is none. */
  struct snt_gradcam *xp;
  pthread_mutex_t xp_mu;
  char xp_why[1100];
} snt_srv;

/* serve_explain.c: opens the explainer when the executable has an explain model (else keeps
 * why not); the handler of POST /v1/explain. */
void snt_srv_explain_open(snt_srv *s);
void snt_srv_explain_close(snt_srv *s);

/* A request as the handlers see it: the body is complete and within the cap. */
typedef struct snt_srv_req {
  const char *method, *path, *content_type; /* content_type may be NULL */
  const char *body;
  size_t size;
  double start, deadline; /* monotonic seconds: when the request came, when waiting gives up */
} snt_srv_req;

/* A handler's answer: status, content type, and the body (owned, freed after sending). */
typedef struct snt_srv_reply {
  int status;
  const char *content_type;
  snt_srv_buf body;
} snt_srv_reply;

/* A route: method and path, the handler, and the media types the body may have (NULL: no body
 * expected; the types are a NULL-terminated list checked before the body is read). */
typedef struct snt_srv_route {
  const char *method, *path;
  void (*handle)(snt_srv *s, const snt_srv_req *req, snt_srv_reply *rep);
  const char *const *body_types;
} snt_srv_route;

void snt_srv_handle_explain(snt_srv *s, const struct snt_srv_req *req, struct snt_srv_reply *rep);

/* The route table, ended by a route with path NULL. */
extern const snt_srv_route snt_srv_routes[];

/* Sets rep to status with {"error": "<message>"}. */
void snt_srv_error(snt_srv_reply *rep, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One part of a multipart/form-data body: its name (the filename, else the field name, else
 * "part N"), and its bytes (pointing into the body). */
typedef struct snt_srv_part {
  char name[128];
  const char *data;
  size_t size;
} snt_srv_part;

/* Splits a multipart/form-data body (content_type holds the boundary) into at most max parts;
 * *n is set. On error e names what is malformed. */
snt_status snt_srv_multipart(const char *content_type, const char *body, size_t size, snt_srv_part *parts, int max,
                             int *n, snt_err *e);

/* The request's images: the parts of a multipart body, else the body itself (named "body").
 * 0, or -1 with rep set to the 400 that says what is malformed. */
int snt_srv_request_parts(const snt_srv_req *req, snt_srv_part *parts, int max, int *n, snt_srv_reply *rep);

/* The embedded web page (HTML with its CSS and JS inline). */
extern const char snt_srv_page[];

/* Loads libmicrohttpd and starts it on conf's address; *server is opaque, for http_stop; the
 * bound port in *port. */
snt_status snt_srv_http_start(snt_srv *s, void **server, int *port, snt_err *e);
/* Stops accepting, waits (at most grace seconds) for the requests being handled, then stops
 * and frees *server. */
void snt_srv_http_stop(snt_srv *s, void *server, double grace);

#endif
