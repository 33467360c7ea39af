/* A growable text buffer for the server's JSON answers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0 when it is not one. */
static int utf8_len(const unsigned char *s) {
  unsigned char c = s[0], d = s[1];
  int n = c > 0xf4 ? 0 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  /* no overlong forms, no surrogates, nothing past U+10FFFF */
  if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d >= 0xa0) || (c == 0xf0 && d < 0x90) || (c == 0xf4 && d >= 0x90))
    return 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  return n;
}

/* Untrusted text (labels, part names, messages quoting them) stays valid JSON: control bytes are
 * escaped and bytes that are not UTF-8 become U+FFFD. */
void snt_srv_buf_json_string(snt_srv_buf *b, const char *s) {
  snt_srv_buf_append(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    int n = *p < 0x80 ? 1 : utf8_len(p);
    if (*p == '"' || *p == '\\') snt_srv_buf_printf(b, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f) snt_srv_buf_printf(b, "\\u%04x", *p);
    else if (n == 0) snt_srv_buf_append(b, "\\ufffd", 6);
    else snt_srv_buf_append(b, p, (size_t)n);
    p += n ? n : 1;
  }
  snt_srv_buf_append(b, "\"", 1);
}

void snt_srv_buf_free(snt_srv_buf *b) {
  free(b->data);
  *b = (snt_srv_buf){0};
}
