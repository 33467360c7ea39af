/* multipart/form-data (RFC 7578) bodies, as browsers and `curl -F` send several files. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "runtime/driver/serve.h"

enum { BOUNDARY_MAX = 70 }; /* RFC 2046 */

/* The boundary parameter of the Content-Type, unquoted, into b. */
static snt_status boundary_of(const char *ct, char *b, snt_err *e) {
  const char *p = ct ? strcasestr(ct, "boundary=") : NULL;
  if (!p) return snt_err_set(e, SNT_ERR_INPUT, "multipart body without a boundary in its Content-Type");
  p += strlen("boundary=");
  bool quoted = *p == '"';
  p += quoted;
  size_t n = quoted ? strcspn(p, "\"") : strcspn(p, "; \t");
  if (n == 0 || n > BOUNDARY_MAX)
    return snt_err_set(e, SNT_ERR_INPUT, "multipart boundary of %zu characters (1 to %d expected)", n, BOUNDARY_MAX);
  memcpy(b, p, n);
  b[n] = 0;
  return SNT_OK;
}

/* The filename (else name) parameter of the part's Content-Disposition, within its headers. */
static void part_name(const char *h, size_t hlen, int index, char *out, size_t size) {
  snprintf(out, size, "part %d", index + 1);
  for (const char *key = "filename=\"";; key = "name=\"") {
    const char *p = memmem(h, hlen, key, strlen(key));
    if (p) {
      p += strlen(key);
      const char *q = memchr(p, '"', hlen - (size_t)(p - h));
      size_t n = q ? (size_t)(q - p) : 0;
      if (n >= size) n = size - 1;
      if (n) {
        memcpy(out, p, n);
        out[n] = 0;
        for (char *c = out; *c; c++) if ((unsigned char)*c < 0x20) *c = '?';
        return;
      }
    }
    if (key[0] == 'n') return;
  }
}

snt_status snt_srv_multipart(const char *content_type, const char *body, size_t size, snt_srv_part *parts, int max,
                             int *n, snt_err *e) {
  char b[BOUNDARY_MAX + 1], delim[BOUNDARY_MAX + 5];
  *n = 0;
  snt_status st = boundary_of(content_type, b, e);
  if (st != SNT_OK) return st;
  int dl = snprintf(delim, sizeof delim, "\r\n--%s", b);
  /* The first delimiter may open the body (no CRLF before it) or follow a preamble. */
  const char *end = body + size, *p;
  if (size >= (size_t)dl - 2 && memcmp(body, delim + 2, (size_t)dl - 2) == 0) p = body + dl - 2;
  else if ((p = memmem(body, size, delim, (size_t)dl))) p += dl;
  else return snt_err_set(e, SNT_ERR_INPUT, "multipart body without its boundary '%s'", b);
  for (;;) {
    if (end - p >= 2 && p[0] == '-' && p[1] == '-') break; /* the closing delimiter */
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
      return snt_err_set(e, SNT_ERR_INPUT, "multipart part %d: no line break after its boundary", *n + 1);
    p += 2;
    const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
    if (!hend) return snt_err_set(e, SNT_ERR_INPUT, "multipart part %d: its headers do not end", *n + 1);
    const char *data = hend + 4, *next = memmem(data, (size_t)(end - data), delim, (size_t)dl);
    if (!next) return snt_err_set(e, SNT_ERR_INPUT, "multipart part %d: cut short (no boundary after it)", *n + 1);
    if (*n == max) return snt_err_set(e, SNT_ERR_INPUT, "more than %d parts in one request", max);
    snt_srv_part *part = &parts[(*n)++];
    part_name(p, (size_t)(hend - p), *n - 1, part->name, sizeof part->name);
    part->data = data;
    part->size = (size_t)(next - data);
    p = next + dl;
  }
  if (*n == 0) return snt_err_set(e, SNT_ERR_INPUT, "multipart body without any part");
  return SNT_OK;
}
