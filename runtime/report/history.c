/* The training history as CSV (Keras CSVLogger's layout), written atomically and read back
 * to resume a run. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/onnx/onnx_int.h"
#include "sinter/file.h"
#include "sinter/report.h"

enum { N_COLS = 7 }; /* the six of the header, then `skipped` */
static const char *const col_names[N_COLS] = {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
                                              "skipped"};

static void put_number(FILE *f, double v) {
  /* %.6g prints NaN as "nan" or "-nan" depending on the sign bit; one spelling reads back. */
  if (isnan(v)) fputs(",nan", f);
  else fprintf(f, ",%.6g", v);
}

snt_status snt_history_write(const char *path, int n_rows, const snt_history_row *rows, snt_err *e) {
  if (!path || n_rows < 0 || (n_rows > 0 && !rows))
    return snt_err_set(e, SNT_ERR_INTERNAL, "history: bad arguments (%d rows)", n_rows);
  int with_skipped = 0;
  for (int i = 0; i < n_rows; i++) with_skipped |= rows[i].skipped != 0;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for the history", path);
  fputs("epoch,loss,accuracy,val_loss,val_accuracy,lr", f);
  fputs(with_skipped ? ",skipped\n" : "\n", f);
  for (int i = 0; i < n_rows; i++) {
    const snt_history_row *r = &rows[i];
    fprintf(f, "%d", r->epoch);
    const double v[] = {r->loss, r->accuracy, r->val_loss, r->val_accuracy, r->lr};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) put_number(f, v[k]);
    if (with_skipped) fprintf(f, ",%d", r->skipped);
    fputc('\n', f);
  }
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    free(buf);
    return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory for the history", path);
  }
  snt_status st = snt_file_write_atomic(path, buf, len, e);
  free(buf);
  return st;
}

/* ---- reading ------------------------------------------------------------------------- */

typedef struct csv_line {
  char *fields[64];
  int n;
} csv_line;

/* Splits a line in place at commas (no quoting: the history has none); trims a CR. */
static void split(char *line, csv_line *out) {
  size_t len = strlen(line);
  if (len && line[len - 1] == '\r') line[len - 1] = '\0';
  out->n = 0;
  for (char *p = line;; p++) {
    if (out->n < 64) out->fields[out->n++] = p;
    p = strchr(p, ',');
    if (!p) break;
    *p = '\0';
  }
}

static int parse_number(const char *s, double *v) {
  if (!*s || strcmp(s, "nan") == 0 || strcmp(s, "NA") == 0 || strcmp(s, "-nan") == 0) {
    *v = NAN;
    return 1;
  }
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return *end == '\0' && errno != ERANGE;
}

/* Fills r from one data line given where each column is (-1: absent). */
static snt_status parse_row(const csv_line *ln, const int where[N_COLS], int index, snt_history_row *r,
                            const char *path, int line_no, snt_err *e) {
  double v[N_COLS];
  for (int k = 0; k < N_COLS; k++) {
    v[k] = NAN;
    if (where[k] < 0) continue;
    if (where[k] >= ln->n || !parse_number(ln->fields[where[k]], &v[k]))
      return snt_err_set(e, SNT_ERR_INPUT, "%s:%d: column %s: '%s' is not a number", path, line_no, col_names[k],
                         where[k] < ln->n ? ln->fields[where[k]] : "");
  }
  double ep = where[0] < 0 ? index : v[0], sk = where[6] < 0 ? 0 : v[6];
  if (!(ep == floor(ep) && fabs(ep) < 1e9) || !(sk == floor(sk) && sk >= 0 && sk < 2e9))
    return snt_err_set(e, SNT_ERR_INPUT, "%s:%d: the epoch and the skipped count must be whole numbers", path,
                       line_no);
  *r = (snt_history_row){.epoch = (int)ep, .loss = v[1], .accuracy = v[2], .val_loss = v[3],
                         .val_accuracy = v[4], .lr = v[5], .skipped = (int)sk};
  return SNT_OK;
}

static snt_status parse_header(char *line, int where[N_COLS], const char *path, snt_err *e) {
  csv_line h;
  split(line, &h);
  for (int k = 0; k < N_COLS; k++) where[k] = -1;
  for (int i = 0; i < h.n; i++)
    for (int k = 0; k < N_COLS; k++)
      if (strcmp(h.fields[i], col_names[k]) == 0) where[k] = i;
  for (int k = 1; k < N_COLS; k++)
    if (where[k] >= 0) return SNT_OK;
  return snt_err_set(e, SNT_ERR_INPUT, "%s:1: not a history header (no loss, accuracy, val_loss, val_accuracy or lr)",
                     path);
}

/* Cuts the next line out of *cursor (NULL after the last one). */
static char *next_line(char **cursor) {
  char *s = *cursor;
  if (!s) return NULL;
  char *nl = strchr(s, '\n');
  if (nl) *nl = '\0';
  *cursor = nl ? nl + 1 : NULL;
  return s;
}

/* Parses the text (NUL-terminated, modified in place) into a malloc'ed array. */
static snt_status parse_text(char *text, const char *path, snt_history_row **rows, int *n_rows, snt_err *e) {
  int where[N_COLS], line_no = 1, cap = 0, n = 0;
  char *cursor = text, *line = next_line(&cursor);
  if (!line[0]) return snt_err_set(e, SNT_ERR_INPUT, "%s: empty file, no history header", path);
  snt_status st = parse_header(line, where, path, e);
  snt_history_row *out = NULL;
  while (st == SNT_OK && (line = next_line(&cursor)) != NULL) {
    line_no++;
    if (line[0] == '\0' || (line[0] == '\r' && line[1] == '\0')) continue; /* blank, or the final newline */
    if (n == cap) {
      snt_history_row *grown = cap < (1 << 24) ? realloc(out, (size_t)(cap ? 2 * cap : 64) * sizeof *out) : NULL;
      if (!grown) {
        st = snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory at line %d", path, line_no);
        break;
      }
      out = grown;
      cap = cap ? 2 * cap : 64;
    }
    csv_line ln;
    split(line, &ln);
    st = parse_row(&ln, where, n, &out[n], path, line_no, e);
    n += st == SNT_OK;
  }
  if (st != SNT_OK) {
    free(out);
    return st;
  }
  *rows = out;
  *n_rows = n;
  return SNT_OK;
}

snt_status snt_history_read(const char *path, snt_history_row **rows, int *n_rows, snt_err *e) {
  if (!path || !rows || !n_rows) return snt_err_set(e, SNT_ERR_INTERNAL, "history: bad arguments");
  *rows = NULL;
  *n_rows = 0;
  uint8_t *data = NULL;
  size_t len = 0;
  snt_status st = snt_onnx_file_read(path, &data, &len, e);
  if (st != SNT_OK) return st;
  char *text = realloc(data, len + 1);
  if (!text) {
    free(data);
    return snt_err_set(e, SNT_ERR_NOMEM, "%s: out of memory", path);
  }
  text[len] = '\0';
  if (strlen(text) != len) st = snt_err_set(e, SNT_ERR_INPUT, "%s: a NUL byte in a CSV file", path);
  else st = parse_text(text, path, rows, n_rows, e);
  free(text);
  return st;
}
