/* Diagnostics: errors and warnings that point at a place in a source file.
 * A diag context collects messages; the caller decides when to print them. */
#ifndef SINTER_DIAG_H
#define SINTER_DIAG_H

#include <stdarg.h>
#include <stdio.h>
#include "sinter/status.h"

/* A span in a source text; lines and columns count from 1 (0 = unknown). */
typedef struct snt_loc {
  int line, col;
  int end_line, end_col;
} snt_loc;

/* A named source text held in memory (the diag context owns its copy). */
typedef struct snt_source {
  char *path;
  char *text;
  size_t len;
} snt_source;

typedef enum snt_severity { SNT_SEV_ERROR, SNT_SEV_WARNING, SNT_SEV_NOTE } snt_severity;

typedef struct snt_diag_msg {
  snt_severity sev;
  const snt_source *src; /* NULL when the message has no place in a text */
  snt_loc loc;
  char *text;
} snt_diag_msg;

typedef struct snt_diag snt_diag;

snt_diag *snt_diag_create(void);
void snt_diag_destroy(snt_diag *d);

/* Reads a file into a source owned by d; NULL (with an error recorded) on failure. */
const snt_source *snt_diag_load_file(snt_diag *d, const char *path);
/* Registers an in-memory text under a display name; the text is copied. */
const snt_source *snt_diag_add_source(snt_diag *d, const char *path, const char *text, size_t len);

/* Records a message; returns SNT_ERR_INPUT for errors so callers can `return snt_diag_error(...)`. */
snt_status snt_diag_error(snt_diag *d, const snt_source *src, snt_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void snt_diag_warning(snt_diag *d, const snt_source *src, snt_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void snt_diag_note(snt_diag *d, const snt_source *src, snt_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void snt_diag_vadd(snt_diag *d, snt_severity sev, const snt_source *src, snt_loc loc,
                   const char *fmt, va_list ap);

int snt_diag_error_count(const snt_diag *d);
int snt_diag_count(const snt_diag *d);
const snt_diag_msg *snt_diag_get(const snt_diag *d, int i);

/* Prints every message as `file:line:col: error: text`, the source line and a caret. */
void snt_diag_print(const snt_diag *d, FILE *out);
/* Forgets all messages (sources stay). */
void snt_diag_clear(snt_diag *d);

#endif
