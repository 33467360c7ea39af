/* The option-table parser of every command line (include/sinter/opts.h). */
#include "sinter/opts.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/exit.h"

enum { MAX_TABLES = 4, MAX_OPTS = 64 };

typedef struct parser {
  const snt_opt *const *tables;
  unsigned char seen[MAX_TABLES][MAX_OPTS];
  snt_err *e;
} parser;

/* Edit distance of two short strings (names), capped at 99. */
static int distance(const char *a, size_t la, const char *b) {
  size_t lb = strlen(b);
  if (la > 63 || lb > 63) return 99;
  int row[64];
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[lb];
}

/* The long option closest to `name` (a typo or an unambiguous start), or NULL. */
static const char *suggest(const parser *p, const char *name, size_t len) {
  const char *best = NULL;
  int best_d = 3;
  for (int t = 0; p->tables[t]; t++)
    for (const snt_opt *o = p->tables[t]; o->name; o++) {
      int d = distance(name, len, o->name);
      if (len >= 3 && strncmp(o->name, name, len) == 0) d = 1;
      if (d < best_d && d < (int)strlen(o->name)) best_d = d, best = o->name;
    }
  return best;
}

const char *snt_opt_suggest(const char *word, const char *const *words) {
  const char *best = NULL;
  size_t len = strlen(word);
  int best_d = 3;
  for (; *words; words++) {
    int d = distance(word, len, *words);
    if (len >= 3 && strncmp(*words, word, len) == 0) d = 1;
    if (d < best_d && d < (int)strlen(*words)) best_d = d, best = *words;
  }
  return best;
}

static snt_opt_result unknown(const parser *p, const char *arg, const char *name, size_t len) {
  const char *s = suggest(p, name, len);
  if (s) snt_err_set(p->e, SNT_ERR_INPUT, "unknown option '%s'; did you mean --%s?", arg, s);
  else snt_err_set(p->e, SNT_ERR_INPUT, "unknown option '%s'", arg);
  return SNT_OPT_ERROR;
}

static const snt_opt *find_long(const parser *p, const char *name, size_t len, int *t_out, int *i_out) {
  for (int t = 0; p->tables[t]; t++)
    for (int i = 0; p->tables[t][i].name; i++)
      if (strlen(p->tables[t][i].name) == len && strncmp(p->tables[t][i].name, name, len) == 0)
        return *t_out = t, *i_out = i, &p->tables[t][i];
  return NULL;
}

static const snt_opt *find_short(const parser *p, char c, int *t_out, int *i_out) {
  for (int t = 0; p->tables[t]; t++)
    for (int i = 0; p->tables[t][i].name; i++)
      if (p->tables[t][i].short_name == c) return *t_out = t, *i_out = i, &p->tables[t][i];
  return NULL;
}

static snt_opt_result int_value(const snt_opt *o, const char *v, snt_err *e) {
  const char *s = v + (*v == '-' || *v == '+');
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (!isdigit((unsigned char)*s) || *end)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: '%s' is not a whole number", o->name, v), SNT_OPT_ERROR;
  if (errno == ERANGE || x < o->imin || x > o->imax)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: %s is out of range (%" PRId64 " to %" PRId64 ")", o->name, v,
                       o->imin, o->imax),
           SNT_OPT_ERROR;
  *(int64_t *)o->dest = x;
  return SNT_OPT_OK;
}

static snt_opt_result u64_value(const snt_opt *o, const char *v, snt_err *e) {
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (!isdigit((unsigned char)*v) || *end)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: '%s' is not a whole number", o->name, v), SNT_OPT_ERROR;
  if (errno == ERANGE)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: %s is out of range (0 to %" PRIu64 ")", o->name, v, UINT64_MAX),
           SNT_OPT_ERROR;
  *(uint64_t *)o->dest = x;
  return SNT_OPT_OK;
}

/* One number of a DOUBLE or DOUBLES option, `len` characters of v. */
static snt_opt_result one_double(const snt_opt *o, const char *v, size_t len, double *out, snt_err *e) {
  char buf[128];
  if (len >= sizeof buf) len = sizeof buf - 1;
  memcpy(buf, v, len);
  buf[len] = '\0';
  char *end;
  double x = strtod(buf, &end);
  if (end == buf || *end || isspace((unsigned char)buf[0]))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: '%s' is not a number", o->name, buf), SNT_OPT_ERROR;
  if (!isfinite(x))
    return snt_err_set(e, SNT_ERR_INPUT, "%s: '%s' is not a finite number", o->name, buf), SNT_OPT_ERROR;
  if (x < o->dmin || (o->min_open && x == o->dmin) || x > o->dmax) {
    if (o->min_open)
      snt_err_set(e, SNT_ERR_INPUT, "%s: %s is out of range (more than %g, at most %g)", o->name, buf, o->dmin, o->dmax);
    else
      snt_err_set(e, SNT_ERR_INPUT, "%s: %s is out of range (%g to %g)", o->name, buf, o->dmin, o->dmax);
    return SNT_OPT_ERROR;
  }
  *out = x;
  return SNT_OPT_OK;
}

static snt_opt_result doubles_value(const snt_opt *o, const char *v, snt_err *e) {
  double got[16];
  int n = 0;
  for (const char *s = v;; n++) {
    size_t len = strcspn(s, ",");
    if (n >= o->count || n >= 16) {
      n++;
      break;
    }
    if (one_double(o, s, len, &got[n], e)) return SNT_OPT_ERROR;
    if (!s[len]) {
      n++;
      break;
    }
    s += len + 1;
  }
  if (n != o->count)
    return snt_err_set(e, SNT_ERR_INPUT, "%s: '%s' is not %d comma-separated numbers", o->name, v, o->count),
           SNT_OPT_ERROR;
  memcpy(o->dest, got, sizeof(double) * (size_t)n);
  return SNT_OPT_OK;
}

static snt_opt_result choice_value(const snt_opt *o, const char *v, snt_err *e) {
  for (const char *const *c = o->choices; *c; c++)
    if (strcmp(*c, v) == 0) {
      *(const char **)o->dest = *c;
      return SNT_OPT_OK;
    }
  char list[512] = "";
  for (const char *const *c = o->choices; *c; c++) {
    size_t l = strlen(list);
    snprintf(list + l, sizeof list - l, "%s%s", c == o->choices ? "" : ", ", *c);
  }
  return snt_err_set(e, SNT_ERR_INPUT, "%s: '%s' is not one of %s", o->name, v, list), SNT_OPT_ERROR;
}

static snt_opt_result store(const snt_opt *o, const char *v, snt_err *e) {
  switch (o->kind) {
    case SNT_OPT_FLAG: *(bool *)o->dest = true; return SNT_OPT_OK;
    case SNT_OPT_STRING:
      if (!*v) return snt_err_set(e, SNT_ERR_INPUT, "%s: the value is empty", o->name), SNT_OPT_ERROR;
      *(const char **)o->dest = v;
      return SNT_OPT_OK;
    case SNT_OPT_INT: return int_value(o, v, e);
    case SNT_OPT_UINT64: return u64_value(o, v, e);
    case SNT_OPT_DOUBLE: return one_double(o, v, strlen(v), (double *)o->dest, e);
    case SNT_OPT_DOUBLES: return doubles_value(o, v, e);
    case SNT_OPT_CHOICE: return choice_value(o, v, e);
    case SNT_OPT_REPEAT: {
      snt_opt_list *l = o->dest;
      if (l->n == SNT_OPT_MAX_REPEAT)
        return snt_err_set(e, SNT_ERR_INPUT, "%s is given more than %d times", o->name, SNT_OPT_MAX_REPEAT),
               SNT_OPT_ERROR;
      l->v[l->n++] = v;
      return SNT_OPT_OK;
    }
  }
  return snt_err_set(e, SNT_ERR_INTERNAL, "%s: unknown option kind", o->name), SNT_OPT_ERROR;
}

/* One option at argv[*i]: its value is inline (after '=' or a short name) or the next argument. */
static snt_opt_result option(parser *p, int argc, char **argv, int *i) {
  const char *arg = argv[*i], *v = NULL;
  const snt_opt *o;
  int t = 0, k = 0;
  if (arg[1] == '-') {
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    if (name[len] == '=') v = name + len + 1;
    o = find_long(p, name, len, &t, &k);
    if (!o && len == 4 && strncmp(name, "help", 4) == 0) return SNT_OPT_HELP;
    if (!o) return unknown(p, arg, name, len);
  } else {
    o = find_short(p, arg[1], &t, &k);
    if (!o && arg[1] == 'h' && !arg[2]) return SNT_OPT_HELP;
    if (!o) return unknown(p, arg, arg + 1, strlen(arg + 1));
    if (arg[2]) v = arg + 2 + (arg[2] == '=');
  }
  /* Messages name the option as it was given: --out, or -o. */
  char label[80];
  if (arg[1] == '-') snprintf(label, sizeof label, "--%s", o->name);
  else snprintf(label, sizeof label, "-%c", o->short_name);
  if (p->seen[t][k] && o->kind != SNT_OPT_REPEAT)
    return snt_err_set(p->e, SNT_ERR_INPUT, "%s is given twice", label), SNT_OPT_ERROR;
  p->seen[t][k] = 1;
  snt_opt copy = *o;
  copy.name = label;
  if (o->kind == SNT_OPT_FLAG) {
    if (v) return snt_err_set(p->e, SNT_ERR_INPUT, "%s takes no value", label), SNT_OPT_ERROR;
    return store(&copy, NULL, p->e);
  }
  if (!v) {
    if (*i + 1 >= argc)
      return snt_err_set(p->e, SNT_ERR_INPUT, "%s needs a value (%s)", label, o->arg ? o->arg : "VALUE"), SNT_OPT_ERROR;
    v = argv[++*i];
  }
  return store(&copy, v, p->e);
}

snt_opt_result snt_opt_parse(const snt_opt *const *tables, int argc, char **argv, char **pos, int max_pos, int *n_pos,
                             snt_err *e) {
  parser p = {.tables = tables, .e = e};
  int n = 0;
  bool options = true;
  for (int t = 0; tables[t]; t++) {
    int count = 0;
    while (tables[t][count].name) count++;
    if (t >= MAX_TABLES || count > MAX_OPTS)
      return snt_err_set(e, SNT_ERR_INTERNAL, "option table %d is too large", t), SNT_OPT_ERROR;
  }
  *n_pos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (options && strcmp(a, "--") == 0) {
      options = false;
    } else if (options && a[0] == '-' && a[1]) {
      snt_opt_result r = option(&p, argc, argv, &i);
      if (r) return r;
    } else if (n >= max_pos) {
      if (max_pos == 0) return snt_err_set(e, SNT_ERR_INPUT, "takes no arguments, got '%s'", a), SNT_OPT_ERROR;
      return snt_err_set(e, SNT_ERR_INPUT, "takes at most %d argument%s, got another: '%s'", max_pos,
                         max_pos == 1 ? "" : "s", a),
             SNT_OPT_ERROR;
    } else {
      pos[n++] = argv[i]; /* n <= i: writing into argv itself is safe */
      *n_pos = n;
    }
  }
  return SNT_OPT_OK;
}

void snt_opt_print_help(FILE *f, const snt_opt *const *tables) {
  for (int t = 0; tables[t]; t++)
    for (const snt_opt *o = tables[t]; o->name; o++) {
      char left[96];
      int len = o->short_name ? snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->name)
                              : snprintf(left, sizeof left, "--%s", o->name);
      if (o->kind != SNT_OPT_FLAG && len > 0 && (size_t)len < sizeof left)
        snprintf(left + len, sizeof left - (size_t)len, " %s", o->arg ? o->arg : "VALUE");
      fprintf(f, "  %-24s %s", left, o->help ? o->help : "");
      if (o->kind == SNT_OPT_INT) fprintf(f, " (%" PRId64 " to %" PRId64 ")", o->imin, o->imax);
      if (o->kind == SNT_OPT_DOUBLE || o->kind == SNT_OPT_DOUBLES) {
        if (o->min_open) fprintf(f, " (more than %g, at most %g)", o->dmin, o->dmax);
        else fprintf(f, " (%g to %g)", o->dmin, o->dmax);
      }
      if (o->kind == SNT_OPT_REPEAT) fprintf(f, " (repeatable)");
      if (o->kind == SNT_OPT_CHOICE) {
        fprintf(f, " (");
        for (const char *const *c = o->choices; *c; c++) fprintf(f, "%s%s", c == o->choices ? "" : ", ", *c);
        fprintf(f, ")");
      }
      fputc('\n', f);
    }
}

int snt_opt_fail(const char *prog, const snt_err *e) {
  fprintf(stderr, "%s: %s\nrun '%s --help' for usage\n", prog, e->msg, prog);
  return SNT_EXIT_USER;
}

int snt_opt_parse_cmd(const char *prog, const snt_opt *table, int argc, char **argv, char **pos, int max_pos,
                      int *n_pos) {
  const snt_opt *const tables[] = {table, NULL};
  snt_err e;
  snt_opt_result r = snt_opt_parse(tables, argc, argv, pos, max_pos, n_pos, &e);
  if (r == SNT_OPT_HELP) return -1;
  return r ? snt_opt_fail(prog, &e) : 0;
}
