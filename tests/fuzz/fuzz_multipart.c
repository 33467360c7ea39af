/* libFuzzer target: EXE serve's multipart/form-data splitter (runtime/driver/serve_multipart.c)
 * on a request's Content-Type (the input's first line) and body (the rest). Must never crash,
 * hang or read outside the body, and every part it returns must lie inside the body. */
#include <stdlib.h>
#include <string.h>

#include "runtime/driver/serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = memchr(data, '\n', size);
  size_t ct_len = nl ? (size_t)(nl - data) : size;
  char *ct = malloc(ct_len + 1);
  /* The body in a buffer of its own exact size, so a read past it is caught. */
  size_t body_len = nl ? size - ct_len - 1 : 0;
  char *body = malloc(body_len ? body_len : 1);
  if (!ct || !body) abort();
  memcpy(ct, data, ct_len);
  ct[ct_len] = 0;
  if (body_len) memcpy(body, nl + 1, body_len);
  snt_srv_part parts[8];
  int n = -1;
  snt_err e;
  snt_status st = snt_srv_multipart(ct, body, body_len, parts, 8, &n, &e);
  if (n < 0 || n > 8) abort();
  for (int i = 0; st == SNT_OK && i < n; i++) {
    if (parts[i].data < body || parts[i].data + parts[i].size > body + body_len) abort();
    if (memchr(parts[i].name, 0, sizeof parts[i].name) == NULL) abort();
  }
  free(ct);
  free(body);
  return 0;
}
