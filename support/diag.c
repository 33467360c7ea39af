/* Diagnostics with source excerpts and carets. */
#include "sinter/diag.h"

#include <stdlib.h>
#include <string.h>

#include "support/util.h"

struct snt_diag {
  snt_source **srcs;
  int n_srcs, cap_srcs;
  snt_diag_msg *msgs;
  int n_msgs, cap_msgs;
  int n_errors;
};

const char *snt_status_str(snt_status s) {
  switch (s) {
    case SNT_OK: return "ok";
    case SNT_ERR_INPUT: return "invalid input";
    case SNT_ERR_IO: return "i/o error";
    case SNT_ERR_NOMEM: return "out of memory";
    case SNT_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

snt_diag *snt_diag_create(void) { return calloc(1, sizeof(snt_diag)); }

void snt_diag_clear(snt_diag *d) {
  for (int i = 0; i < d->n_msgs; i++) free(d->msgs[i].text);
  d->n_msgs = 0;
  d->n_errors = 0;
}

void snt_diag_destroy(snt_diag *d) {
  if (!d) return;
  snt_diag_clear(d);
  free(d->msgs);
  for (int i = 0; i < d->n_srcs; i++) {
    free(d->srcs[i]->path);
    free(d->srcs[i]->text);
    free(d->srcs[i]);
  }
  free(d->srcs);
  free(d);
}

const snt_source *snt_diag_add_source(snt_diag *d, const char *path, const char *text, size_t len) {
  if (!SNT_GROW(d->srcs, d->n_srcs + 1, d->cap_srcs)) return NULL;
  snt_source *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->path = snt_strdup(path);
  s->text = malloc(len + 1);
  if (!s->path || !s->text) {
    free(s->path);
    free(s->text);
    free(s);
    return NULL;
  }
  memcpy(s->text, text, len);
  s->text[len] = '\0';
  s->len = len;
  d->srcs[d->n_srcs++] = s;
  return s;
}

const snt_source *snt_diag_load_file(snt_diag *d, const char *path) {
  size_t len = 0;
  char *text = NULL;
  snt_err why;
  snt_status st = snt_read_file(path, &text, &len, &why);
  if (st != SNT_OK) {
    snt_diag_error(d, NULL, (snt_loc){0}, "cannot read '%s': %s", path, why.msg);
    return NULL;
  }
  const snt_source *s = snt_diag_add_source(d, path, text, len);
  free(text);
  return s;
}

void snt_diag_vadd(snt_diag *d, snt_severity sev, const snt_source *src, snt_loc loc,
                   const char *fmt, va_list ap) {
  if (!d || !SNT_GROW(d->msgs, d->n_msgs + 1, d->cap_msgs)) return; /* no sink: dropped */
  char *text = snt_vformat(fmt, ap);
  if (!text) return;
  d->msgs[d->n_msgs++] = (snt_diag_msg){sev, src, loc, text};
  if (sev == SNT_SEV_ERROR) d->n_errors++;
}

snt_status snt_diag_error(snt_diag *d, const snt_source *src, snt_loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  snt_diag_vadd(d, SNT_SEV_ERROR, src, loc, fmt, ap);
  va_end(ap);
  return SNT_ERR_INPUT;
}

void snt_diag_warning(snt_diag *d, const snt_source *src, snt_loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  snt_diag_vadd(d, SNT_SEV_WARNING, src, loc, fmt, ap);
  va_end(ap);
}

void snt_diag_note(snt_diag *d, const snt_source *src, snt_loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  snt_diag_vadd(d, SNT_SEV_NOTE, src, loc, fmt, ap);
  va_end(ap);
}

int snt_diag_error_count(const snt_diag *d) { return d->n_errors; }
int snt_diag_count(const snt_diag *d) { return d->n_msgs; }
const snt_diag_msg *snt_diag_get(const snt_diag *d, int i) { return &d->msgs[i]; }

/* Finds the start of 1-based line `line`; NULL when the text is shorter. */
static const char *line_start(const snt_source *s, int line) {
  const char *p = s->text, *end = s->text + s->len;
  for (int l = 1; l < line; l++) {
    p = memchr(p, '\n', (size_t)(end - p));
    if (!p) return NULL;
    p++;
  }
  return p;
}

static void print_excerpt(FILE *out, const snt_source *s, snt_loc loc) {
  const char *p = line_start(s, loc.line);
  if (!p) return;
  const char *end = s->text + s->len;
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  if (!eol) eol = end;
  int n = (int)(eol - p);
  if (n > 0 && p[n - 1] == '\r') n--;
  fprintf(out, "%5d | %.*s\n      | ", loc.line, n, p);
  /* Tabs are echoed so the caret lines up under the same column. */
  for (int i = 0; i < loc.col - 1 && i < n; i++) fputc(p[i] == '\t' ? '\t' : ' ', out);
  fputc('^', out);
  if (loc.end_line == loc.line && loc.end_col > loc.col + 1) {
    for (int i = loc.col + 1; i < loc.end_col && i <= n; i++) fputc('~', out);
  }
  fputc('\n', out);
}

void snt_diag_print(const snt_diag *d, FILE *out) {
  static const char *const sev_name[] = {"error", "warning", "note"};
  for (int i = 0; i < d->n_msgs; i++) {
    const snt_diag_msg *m = &d->msgs[i];
    if (m->src && m->loc.line > 0) {
      fprintf(out, "%s:%d:%d: %s: %s\n", m->src->path, m->loc.line, m->loc.col, sev_name[m->sev],
              m->text);
      print_excerpt(out, m->src, m->loc);
    } else if (m->src) {
      fprintf(out, "%s: %s: %s\n", m->src->path, sev_name[m->sev], m->text);
    } else {
      fprintf(out, "sinter: %s: %s\n", sev_name[m->sev], m->text);
    }
  }
}
