/* Small internal helpers: growable arrays, strings, files, an arena. */
#ifndef SINTER_SUPPORT_UTIL_H
#define SINTER_SUPPORT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sinter/error.h"
#include "sinter/status.h"

/* Ensures array `a` (capacity `cap`) holds `need` items; false when out of memory. */
#define SNT_GROW(a, need, cap) snt_grow((void **)&(a), (size_t)(need), &(cap), sizeof(*(a)))
bool snt_grow(void **a, size_t need, int *cap, size_t item);

char *snt_strdup(const char *s);
char *snt_strndup(const char *s, size_t n);
char *snt_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *snt_vformat(const char *fmt, va_list ap);

/* Reads a whole regular file (a FIFO or folder is refused, never waited on); the caller
 * frees *text (NUL-terminated). On failure `why` (may be NULL) gets the reason, without the path. */
snt_status snt_read_file(const char *path, char **text, size_t *len, snt_err *why);

/* Edit distance, for "did you mean" suggestions. */
int snt_edit_distance(const char *a, const char *b);
/* The candidate nearest to `word` if it is close enough to be a likely typo, else NULL. */
const char *snt_nearest(const char *word, const char *const *candidates, int n);

/* Formats 1234567 as "1,234,567". */
void snt_format_thousands(char *buf, size_t size, int64_t v);

/* A bump allocator: everything is freed at once. */
typedef struct snt_arena snt_arena;
snt_arena *snt_arena_create(void);
void snt_arena_destroy(snt_arena *a);
void *snt_arena_alloc(snt_arena *a, size_t size); /* zeroed; NULL when out of memory */
char *snt_arena_strdup(snt_arena *a, const char *s);
char *snt_arena_strndup(snt_arena *a, const char *s, size_t n);

/* Simple string builder. */
typedef struct snt_strbuf {
  char *data;
  size_t len;
  int cap;
  bool failed;
} snt_strbuf;
void snt_sb_puts(snt_strbuf *b, const char *s);
void snt_sb_printf(snt_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void snt_sb_free(snt_strbuf *b);

#endif
