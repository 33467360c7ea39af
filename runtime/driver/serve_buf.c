/* A growable text buffer for the server's JSON answers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/json.h"
#include "runtime/driver/serve.h"

static bool reserve(snt_srv_buf *b, size_t more) {
  if (b->oom) return false;
  if (more > SIZE_MAX / 2 - b->len) return b->oom = true, false;
  size_t need = b->len + more + 1;
  if (need <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  char *d = realloc(b->data, cap);
  if (!d) return b->oom = true, false;
  b->data = d;
  b->cap = cap;
  return true;
}

void snt_srv_buf_append(snt_srv_buf *b, const void *data, size_t n) {
  if (!reserve(b, n)) return;
  memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = 0;
}

void snt_srv_buf_printf(snt_srv_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void snt_srv_buf_json_string(snt_srv_buf *b, const char *s) {
  char buf[8];
  snt_srv_buf_append(b, "\"", 1);
  while (*s) {
    s += snt_json_char(s, buf);
    snt_srv_buf_append(b, buf, strlen(buf));
  }
  snt_srv_buf_append(b, "\"", 1);
}

void snt_srv_buf_free(snt_srv_buf *b) {
  free(b->data);
  *b = (snt_srv_buf){0};
}
