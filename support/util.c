/* Small internal helpers. */
#include "support/util.h"

#include "sinter/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool snt_grow(void **a, size_t need, int *cap, size_t item) {
  if (need <= (size_t)*cap) return true;
  size_t ncap = *cap ? (size_t)*cap * 2 : 8;
  while (ncap < need) ncap *= 2;
  if (ncap > (size_t)INT32_MAX) return false;
  void *p = realloc(*a, ncap * item);
  if (!p) return false;
  *a = p;
  *cap = (int)ncap;
  return true;
}

char *snt_strdup(const char *s) { return s ? snt_strndup(s, strlen(s)) : NULL; }

char *snt_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n); /* s may be NULL when n is 0 (an absent protobuf bytes field) */
  p[n] = '\0';
  return p;
}

char *snt_vformat(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return NULL;
  char *p = malloc((size_t)n + 1);
  if (p) vsnprintf(p, (size_t)n + 1, fmt, ap);
  return p;
}

char *snt_format(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = snt_vformat(fmt, ap);
  va_end(ap);
  return p;
}

snt_status snt_read_file(const char *path, char **text, size_t *len, snt_err *why) {
  uint8_t *data = NULL;
  snt_err e;
  snt_status st = snt_file_read(path, 0, &data, len, &e); /* regular files only: a FIFO never hangs */
  *text = (char *)data;
  if (st != SNT_OK && why) {
    /* The caller names the file itself: keep only the reason after "<path>: ". */
    size_t n = strlen(path);
    const char *reason = strncmp(e.msg, path, n) == 0 && e.msg[n] == ':' && e.msg[n + 1] == ' ' ? e.msg + n + 2 : e.msg;
    snt_err_set(why, st, "%s", reason);
  }
  return st;
}

int snt_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 1000;
  int row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int best = diag + cost;
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *snt_nearest(const char *word, const char *const *candidates, int n) {
  const char *best = NULL;
  int best_d = 1000;
  for (int i = 0; i < n; i++) {
    int d = snt_edit_distance(word, candidates[i]);
    if (d < best_d) {
      best_d = d;
      best = candidates[i];
    }
  }
  /* A typo changes a few letters; farther names are no help. */
  size_t len = strlen(word);
  int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
  return best_d <= limit ? best : NULL;
}

void snt_format_thousands(char *buf, size_t size, int64_t v) {
  char digits[32];
  int n = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
  size_t o = 0;
  if (v < 0 && o + 1 < size) buf[o++] = '-';
  for (int i = 0; i < n && o + 1 < size; i++) {
    if (i > 0 && (n - i) % 3 == 0 && o + 1 < size) buf[o++] = ',';
    if (o + 1 < size) buf[o++] = digits[i];
  }
  buf[o] = '\0';
}

/* ---- arena ---- */

typedef struct chunk {
  struct chunk *next;
  size_t used, size;
  max_align_t data[];
} chunk;

struct snt_arena {
  chunk *head;
};

snt_arena *snt_arena_create(void) { return calloc(1, sizeof(snt_arena)); }

void snt_arena_destroy(snt_arena *a) {
  if (!a) return;
  for (chunk *c = a->head, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  free(a);
}

void *snt_arena_alloc(snt_arena *a, size_t size) {
  size_t align = sizeof(max_align_t);
  size = (size + align - 1) / align * align;
  chunk *c = a->head;
  if (!c || c->size - c->used < size) {
    size_t cs = size > 32768 ? size : 32768;
    c = malloc(sizeof(chunk) + cs);
    if (!c) return NULL;
    c->size = cs;
    c->used = 0;
    c->next = a->head;
    a->head = c;
  }
  void *p = (char *)c->data + c->used;
  c->used += size;
  memset(p, 0, size);
  return p;
}

char *snt_arena_strndup(snt_arena *a, const char *s, size_t n) {
  char *p = snt_arena_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *snt_arena_strdup(snt_arena *a, const char *s) { return snt_arena_strndup(a, s, strlen(s)); }

/* ---- string builder ---- */

static void sb_reserve(snt_strbuf *b, size_t extra) {
  if (b->failed) return;
  if (!SNT_GROW(b->data, b->len + extra + 1, b->cap)) b->failed = true;
}

void snt_sb_puts(snt_strbuf *b, const char *s) {
  size_t n = strlen(s);
  sb_reserve(b, n);
  if (b->failed) return;
  memcpy(b->data + b->len, s, n + 1);
  b->len += n;
}

void snt_sb_printf(snt_strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = snt_vformat(fmt, ap);
  va_end(ap);
  if (!s) {
    b->failed = true;
    return;
  }
  snt_sb_puts(b, s);
  free(s);
}

void snt_sb_free(snt_strbuf *b) {
  free(b->data);
  *b = (snt_strbuf){0};
}
