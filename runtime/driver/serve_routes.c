/* The handlers of EXE serve and its route table: adding an endpoint is one line there. */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/driver/serve.h"
#include "sinter/version.h"

enum { MAX_PARTS = 64 }; /* images in one multipart request */

static const char *const image_types[] = {"image/png", "image/jpeg", "application/dicom", "application/octet-stream",
                                          "multipart/form-data", NULL};

int snt_srv_request_parts(const snt_srv_req *req, snt_srv_part *parts, int max, int *n, snt_srv_reply *rep) {
  const char *ct = req->content_type ? req->content_type : "";
  if (strncasecmp(ct, "multipart/form-data", strlen("multipart/form-data")) != 0) {
    snprintf(parts[0].name, sizeof parts[0].name, "body");
    parts[0].data = req->body, parts[0].size = req->size, *n = 1;
    return 0;
  }
  snt_err e;
  if (snt_srv_multipart(ct, req->body, req->size, parts, max, n, &e) == SNT_OK) return 0;
  snt_srv_error(rep, MHD_HTTP_BAD_REQUEST, "%s", e.msg);
  return -1;
}

/* Decodes and preprocesses every part into x (n samples), as `predict` does for files. */
static int prepare_all(snt_srv *s, const snt_srv_part *parts, int n, float *x, snt_srv_reply *rep) {
  const snt_model_info *info = s->info;
  snt_image_opts io = {.channels = snt_rt_image_channels(info), .max_pixels = s->common->max_pixels,
                       .window = s->common->window};
  for (int i = 0; i < n; i++) {
    snt_image img = {0};
    snt_err e;
    while (sem_wait(&s->decoders) != 0) continue; /* EINTR only */
    snt_status st = snt_image_load_mem(parts[i].name, parts[i].data, parts[i].size, &io, &img, &e);
    if (st == SNT_OK) st = snt_rt_image_sample(info, &img, x + (size_t)i * (size_t)s->queue.sample, &e);
    snt_image_free(&img);
    sem_post(&s->decoders);
    if (st == SNT_ERR_NOMEM) return snt_srv_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", e.msg), -1;
    if (st != SNT_OK) return snt_srv_error(rep, MHD_HTTP_BAD_REQUEST, "%s", e.msg), -1;
  }
  return 0;
}

/* One image's entry: class, probabilities by label and timings; or why it has none. */
static void json_prediction(snt_srv *s, const snt_srv_req *req, const snt_srv_part *part, const snt_srv_job *j,
                            snt_srv_buf *b) {
  const snt_model_info *info = s->info;
  int k = (int)s->queue.k;
  const char *why = s->queue.model->bad_weights ? "non-finite weights"
                    : snt_rt_count_nonfinite(SNT_F32, j->x, s->queue.sample) ? "non-finite input"
                    : snt_rt_count_nonfinite(SNT_F32, j->probs, k) ? "non-finite output" : NULL;
  char nbuf[32];
  const char *name;
  snt_srv_buf_printf(b, "{\"file\": ");
  snt_srv_buf_json_string(b, part->name);
  if (why) {
    snt_srv_buf_printf(b, ", \"valid\": false, \"reason\": \"%s\"", why);
  } else {
    int best = 0;
    for (int c = 1; c < k; c++) best = j->probs[c] > j->probs[best] ? c : best;
    name = snt_rt_label(info, best, nbuf, sizeof nbuf);
    snt_srv_buf_printf(b, ", \"valid\": true, \"class\": ");
    snt_srv_buf_json_string(b, name);
    snt_srv_buf_printf(b, ", \"probabilities\": {");
    for (int c = 0; c < k; c++) {
      name = snt_rt_label(info, c, nbuf, sizeof nbuf);
      snt_srv_buf_printf(b, "%s", c ? ", " : "");
      snt_srv_buf_json_string(b, name);
      snt_srv_buf_printf(b, ": %.9g", j->probs[c]);
    }
    snt_srv_buf_printf(b, "}");
  }
  snt_srv_buf_printf(b, ", \"batch\": %d, \"timings_ms\": {\"queue\": %.3f, \"inference\": %.3f, \"total\": %.3f}}",
                     j->batch, (j->t_start - j->t_queued) * 1e3, (j->t_end - j->t_start) * 1e3,
                     (snt_srv_now() - req->start) * 1e3);
}

/* Runs the prepared samples through the queue and writes the answer; whether they were queued. */
static bool run_and_answer(snt_srv *s, const snt_srv_req *req, const snt_srv_part *parts, int n, float *x,
                           snt_srv_reply *rep) {
  snt_srv_queue *q = &s->queue;
  snt_srv_job *jobs = calloc((size_t)n, sizeof *jobs);
  float *probs = calloc((size_t)n * (size_t)q->k, sizeof *probs);
  bool queued = jobs && probs;
  if (!queued) {
    snt_srv_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory for %d results", n);
  } else {
    for (int i = 0; i < n; i++) jobs[i].x = x + (size_t)i * (size_t)q->sample, jobs[i].probs = probs + (size_t)i * (size_t)q->k;
    int failed = 0;
    if (snt_srv_queue_run(q, jobs, n, req->deadline)) {
      snt_srv_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, "the model was busy: no result within %lld ms (--timeout-ms)",
                    (long long)s->conf.timeout_ms);
    } else {
      for (int i = 0; i < n; i++) failed |= jobs[i].status;
      if (failed) snt_srv_error(rep, MHD_HTTP_INTERNAL_SERVER_ERROR, "the model's run failed (see the server's log)");
    }
    bool answer = rep->status == MHD_HTTP_OK;
    for (int i = 0; answer && i < n; i++) {
      snt_srv_buf_printf(&rep->body, i ? ",\n  " : "{\"predictions\": [\n  ");
      json_prediction(s, req, &parts[i], &jobs[i], &rep->body);
    }
    if (rep->status == MHD_HTTP_OK) snt_srv_buf_printf(&rep->body, "\n]}\n");
  }
  free(jobs);
  free(probs);
  return queued;
}

static void handle_predict(snt_srv *s, const snt_srv_req *req, snt_srv_reply *rep) {
  snt_srv_part *parts = calloc(MAX_PARTS, sizeof *parts);
  int n = 0;
  if (!parts) {
    snt_srv_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    return;
  }
  snt_srv_queue_preparing(&s->queue, 1);
  bool queued = false;
  if (snt_srv_request_parts(req, parts, MAX_PARTS, &n, rep) == 0) {
    float *x = calloc((size_t)n * (size_t)s->queue.sample, sizeof *x);
    if (!x) snt_srv_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory for %d images", n);
    else if (prepare_all(s, parts, n, x, rep) == 0) queued = run_and_answer(s, req, parts, n, x, rep);
    free(x);
  }
  if (!queued) snt_srv_queue_preparing(&s->queue, -1);
  free(parts);
}

static void handle_health(snt_srv *s, const snt_srv_req *req, snt_srv_reply *rep) {
  (void)req;
  snt_srv_queue *q = &s->queue;
  pthread_mutex_lock(&q->mu);
  int64_t batches = q->batches, samples = q->samples, max_seen = q->max_batch_seen, queued = q->queued;
  pthread_mutex_unlock(&q->mu);
  pthread_mutex_lock(&s->mu);
  int64_t requests = s->requests, in_flight = s->in_flight;
  pthread_mutex_unlock(&s->mu);
  snt_srv_buf_printf(&rep->body,
                     "{\"status\": \"ok\", \"requests\": %lld, \"in_flight\": %lld, \"queued\": %lld, \"batches\": %lld, "
                     "\"samples\": %lld, \"mean_batch\": %.4f, \"max_batch\": %lld}\n",
                     (long long)requests, (long long)in_flight, (long long)queued, (long long)batches,
                     (long long)samples, batches ? (double)samples / (double)batches : 0.0, (long long)max_seen);
}

static void handle_model(snt_srv *s, const snt_srv_req *req, snt_srv_reply *rep) {
  (void)req;
  const snt_model_info *info = s->info;
  const snt_rt_model *m = s->queue.model;
  const snt_model_io *in = &m->in[0];
  snt_srv_buf *b = &rep->body;
  char nbuf[32];
  const char *name;
  snt_srv_buf_printf(b, "{\"name\": ");
  snt_srv_buf_json_string(b, info->name);
  snt_srv_buf_printf(b, ", \"sinter_version\": \"%s\", \"labels\": [", SINTER_VERSION);
  for (int c = 0; c < s->queue.k; c++) {
    name = snt_rt_label(info, c, nbuf, sizeof nbuf);
    snt_srv_buf_printf(b, "%s", c ? ", " : "");
    snt_srv_buf_json_string(b, name);
  }
  snt_srv_buf_printf(b, "], \"input\": {\"name\": ");
  snt_srv_buf_json_string(b, in->name);
  snt_srv_buf_printf(b, ", \"layout\": \"%s\", \"shape\": [1", info->pre.nhwc ? "NHWC" : "NCHW");
  for (int d = 1; d < in->rank; d++) snt_srv_buf_printf(b, ", %lld", (long long)in->dims[d]);
  snt_srv_buf_printf(b, "]}, \"precision\": \"%s\", \"batch\": %lld, \"max_wait_ms\": %lld, \"max_body\": %lld, "
                        "\"timeout_ms\": %lld}\n",
                     snt_rt_bf16(info, s->common) ? "bf16" : "fp32", (long long)m->batch,
                     (long long)s->conf.max_wait_ms, (long long)s->conf.max_body, (long long)s->conf.timeout_ms);
}

static void handle_page(snt_srv *s, const snt_srv_req *req, snt_srv_reply *rep) {
  (void)s, (void)req;
  rep->content_type = "text/html; charset=utf-8";
  snt_srv_buf_append(&rep->body, snt_srv_page, strlen(snt_srv_page));
}

const snt_srv_route snt_srv_routes[] = {
    {"GET", "/", handle_page, NULL},
    {"GET", "/v1/health", handle_health, NULL},
    {"GET", "/v1/model", handle_model, NULL},
    {"POST", "/v1/predict", handle_predict, image_types},
    {"POST", "/v1/explain", snt_srv_handle_explain, image_types},
    {NULL, NULL, NULL, NULL},
};
