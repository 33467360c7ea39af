/* The libmicrohttpd plumbing of EXE serve: one thread per connection (a request may block
 * while its samples wait for the inference thread), limits checked before any body is read,
 * bodies gathered up to the cap, then the route table's handler. Every error is JSON. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "runtime/driver/serve.h"

/* libmicrohttpd is loaded when serve starts: linked, it and its TLS stack (gnutls and eight
 * more libraries) would load with every process of every command. The ABI of soname 12 has
 * been stable since 2012; the types come from the header. */
#define SNT_MHD_SONAME "libmicrohttpd.so.12"
#define SNT_MHD_FUNCS(X)                                                                          \
  X(start_daemon) X(stop_daemon) X(quiesce_daemon) X(get_daemon_info) X(lookup_connection_value) \
  X(create_response_from_buffer) X(add_response_header) X(queue_response) X(destroy_response)
#define SNT_MHD_FIELD(f) __typeof__(MHD_##f) *f;

/* The running server: the loaded library's functions, the daemon, what the callbacks serve. */
typedef struct http {
  struct { SNT_MHD_FUNCS(SNT_MHD_FIELD) } mhd;
  struct MHD_Daemon *daemon;
  snt_srv *s;
} http;

static snt_status mhd_load(http *h, snt_err *e) {
  void *lib = dlopen(SNT_MHD_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!lib)
    return snt_err_set(e, SNT_ERR_IO, "%s serve: cannot load libmicrohttpd (%s): install the Debian package libmicrohttpd12",
                       h->s->info->name, dlerror());
  void *sym;
#define SNT_MHD_LOAD(f)                                                                                         \
  if (!(sym = dlsym(lib, "MHD_" #f)))                                                                           \
    return dlclose(lib), snt_err_set(e, SNT_ERR_IO, "%s serve: %s has no MHD_%s", h->s->info->name, SNT_MHD_SONAME, #f); \
  memcpy(&h->mhd.f, &sym, sizeof sym); /* object pointer to function pointer, as POSIX allows */
  SNT_MHD_FUNCS(SNT_MHD_LOAD)
#undef SNT_MHD_LOAD
  dlclose(lib); /* RTLD_NODELETE: it stays loaded */
  return SNT_OK;
}

/* What a request carries between libmicrohttpd's calls. */
typedef struct request {
  const snt_srv_route *route;
  snt_srv_buf body;
  double start;
  bool replied; /* a response was queued (an early refusal): the rest is ignored */
} request;

void snt_srv_error(snt_srv_reply *rep, int status, const char *fmt, ...) {
  char msg[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snt_srv_buf_free(&rep->body);
  rep->status = status;
  rep->content_type = "application/json";
  snt_srv_buf_printf(&rep->body, "{\"error\": ");
  snt_srv_buf_json_string(&rep->body, msg);
  snt_srv_buf_printf(&rep->body, "}\n");
}

/* Queues rep (its body handed to libmicrohttpd); close: the body was not read, so the
 * connection cannot be reused. */
static enum MHD_Result send_reply(const http *h, struct MHD_Connection *c, snt_srv_reply *rep, const char *allow,
                                   bool close) {
  if (rep->body.oom) snt_srv_buf_free(&rep->body), rep->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
  struct MHD_Response *r =
      rep->body.data ? h->mhd.create_response_from_buffer(rep->body.len, rep->body.data, MHD_RESPMEM_MUST_FREE)
                     : h->mhd.create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!r) return snt_srv_buf_free(&rep->body), MHD_NO;
  rep->body = (snt_srv_buf){0}; /* the response owns the bytes now */
  h->mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type ? rep->content_type : "application/json");
  h->mhd.add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (allow) h->mhd.add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
  if (close) h->mhd.add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ok = h->mhd.queue_response(c, (unsigned)rep->status, r);
  h->mhd.destroy_response(r);
  return ok;
}

/* The route for method and path, else NULL with allow listing the path's methods (a 405), or
 * empty when no route has the path (a 404). */
static const snt_srv_route *find_route(const char *method, const char *path, char *allow, size_t allow_size) {
  allow[0] = 0;
  for (const snt_srv_route *r = snt_srv_routes; r->path; r++) {
    if (strcmp(r->path, path) != 0) continue;
    if (strcmp(r->method, method) == 0) return r;
    size_t n = strlen(allow);
    snprintf(allow + n, allow_size - n, "%s%s", n ? ", " : "", r->method);
  }
  return NULL;
}

/* Whether the request's media type (before any ';' parameters) is one of the route's. A
 * missing Content-Type counts as application/octet-stream: the body is sniffed anyway. */
static bool type_allowed(const snt_srv_route *r, const char *ct) {
  if (!ct || !*ct) ct = "application/octet-stream";
  while (*ct == ' ' || *ct == '\t') ct++;
  size_t n = strcspn(ct, "; \t");
  for (const char *const *t = r->body_types; *t; t++)
    if (strlen(*t) == n && strncasecmp(*t, ct, n) == 0) return true;
  return false;
}

/* The first call of a request (headers read, no body yet): route, media type and declared
 * length are checked here, so a refused body is never read. */
static enum MHD_Result on_headers(const http *h, struct MHD_Connection *c, request *r, const char *url,
                                  const char *method) {
  const snt_srv *s = h->s;
  char allow[128];
  snt_srv_reply rep = {0};
  r->route = find_route(method, url, allow, sizeof allow);
  if (!r->route && allow[0]) snt_srv_error(&rep, MHD_HTTP_METHOD_NOT_ALLOWED, "%s is not allowed on %s (allowed: %s)", method, url, allow);
  else if (!r->route) snt_srv_error(&rep, MHD_HTTP_NOT_FOUND, "no such resource: %s %s", method, url);
  if (rep.status) return r->replied = true, send_reply(h, c, &rep, allow[0] ? allow : NULL, true);
  if (!r->route->body_types) return MHD_YES; /* answered when the (empty) body is complete */
  const char *ct = h->mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  const char *cl = h->mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0; /* libmicrohttpd checked its syntax */
  if (!type_allowed(r->route, ct)) {
    snt_srv_error(&rep, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                  "%s takes a PNG, JPEG or DICOM image (image/png, image/jpeg, application/dicom, "
                  "application/octet-stream) or multipart/form-data, not '%s'", url, ct ? ct : "");
  } else if (cl && declared > (unsigned long long)s->conf.max_body) {
    snt_srv_error(&rep, MHD_HTTP_CONTENT_TOO_LARGE, "the body is %llu bytes; at most %lld are accepted (--max-body)",
                  declared, (long long)s->conf.max_body);
  }
  if (rep.status) return r->replied = true, send_reply(h, c, &rep, NULL, true);
  return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  (void)version;
  const http *h = cls;
  snt_srv *s = h->s;
  request *r = *con_cls;
  if (!r) {
    if (!(r = calloc(1, sizeof *r))) return MHD_NO;
    *con_cls = r;
    r->start = snt_srv_now();
    pthread_mutex_lock(&s->mu);
    s->requests++, s->in_flight++;
    pthread_mutex_unlock(&s->mu);
    return on_headers(h, c, r, url, method);
  }
  if (r->replied) return *upload_size = 0, MHD_YES;
  if (*upload_size) {
    /* Over the cap without a declared length (chunked): a response cannot be queued while the
     * body is being read, so the connection is dropped. */
    if (*upload_size > (size_t)s->conf.max_body - r->body.len) return MHD_NO;
    snt_srv_buf_append(&r->body, upload, *upload_size);
    *upload_size = 0;
    return r->body.oom ? MHD_NO : MHD_YES;
  }
  snt_srv_reply rep = {.status = MHD_HTTP_OK, .content_type = "application/json"};
  snt_srv_req req = {.method = method, .path = url, .body = r->body.data ? r->body.data : "", .size = r->body.len,
                     .content_type = h->mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                     .start = r->start, .deadline = r->start + (double)s->conf.timeout_ms / 1000.0};
  r->route->handle(s, &req, &rep);
  r->replied = true;
  return send_reply(h, c, &rep, NULL, false);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  (void)c, (void)toe;
  snt_srv *s = ((const http *)cls)->s;
  request *r = *con_cls;
  if (!r) return;
  snt_srv_buf_free(&r->body);
  free(r);
  *con_cls = NULL;
  pthread_mutex_lock(&s->mu);
  s->in_flight--;
  pthread_mutex_unlock(&s->mu);
}

/* conf's host and port as a socket address (numeric or a name the resolver knows). */
static snt_status resolve(const char *model, const snt_srv_conf *conf, struct sockaddr_storage *sa, snt_err *e) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
  char port[16];
  snprintf(port, sizeof port, "%lld", (long long)conf->port);
  int rc = getaddrinfo(conf->host, port, &hints, &res);
  if (rc) return snt_err_set(e, SNT_ERR_INPUT, "%s serve: --host %s: %s", model, conf->host, gai_strerror(rc));
  memcpy(sa, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return SNT_OK;
}

snt_status snt_srv_http_start(snt_srv *s, void **server, int *port, snt_err *e) {
  struct sockaddr_storage sa = {0};
  snt_status st = resolve(s->info->name, &s->conf, &sa, e);
  if (st != SNT_OK) return st;
  http *h = calloc(1, sizeof *h);
  if (!h) return snt_err_set(e, SNT_ERR_NOMEM, "%s serve: out of memory", s->info->name);
  h->s = s;
  if ((st = mhd_load(h, e)) != SNT_OK) return free(h), st;
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC;
  if (sa.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  unsigned timeout_s = (unsigned)((s->conf.timeout_ms + 999) / 1000);
  h->daemon = h->mhd.start_daemon(
      flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->conf.max_conns,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
      MHD_OPTION_END);
  if (!h->daemon) {
    free(h);
    return snt_err_set(e, SNT_ERR_IO, "%s serve: cannot listen on %s port %lld (in use, or not an address of this machine)",
                       s->info->name, s->conf.host, (long long)s->conf.port);
  }
  const union MHD_DaemonInfo *di = h->mhd.get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
  *port = di ? di->port : (int)s->conf.port;
  *server = h;
  return SNT_OK;
}

void snt_srv_http_stop(snt_srv *s, void *server, double grace) {
  http *h = server;
  MHD_socket fd = h->mhd.quiesce_daemon(h->daemon); /* no new connections; ours to close */
  if (fd != MHD_INVALID_SOCKET) close(fd);
  double until = snt_srv_now() + grace;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    int64_t busy = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    if (!busy || snt_srv_now() >= until) break;
    usleep(5000);
  }
  h->mhd.stop_daemon(h->daemon);
  free(h);
}
