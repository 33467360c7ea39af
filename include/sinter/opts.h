/* One command-line parser for `sinter` and the executables it builds: each command describes
 * its options in a table; the parser reads `--name value`, `--name=value`, `-o value`, `--`,
 * checks every value (numbers against their range, choices against their list) and collects
 * the positional arguments. Messages name the option and what it accepts. */
#ifndef SINTER_OPTS_H
#define SINTER_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sinter/error.h"

typedef enum snt_opt_kind {
  SNT_OPT_FLAG,    /* bool *: no value */
  SNT_OPT_STRING,  /* const char **: any text */
  SNT_OPT_INT,     /* int64_t *: a whole number in [imin, imax] */
  SNT_OPT_UINT64,  /* uint64_t *: any unsigned 64-bit number */
  SNT_OPT_DOUBLE,  /* double *: a finite number in [dmin, dmax] (min excluded when min_open) */
  SNT_OPT_DOUBLES, /* double[count]: count comma-separated numbers, each as SNT_OPT_DOUBLE */
  SNT_OPT_CHOICE,  /* const char **: one of `choices` (NULL-terminated) */
  SNT_OPT_REPEAT   /* snt_opt_list *: a string that may be given up to SNT_OPT_MAX_REPEAT times */
} snt_opt_kind;

enum { SNT_OPT_MAX_REPEAT = 64 };

typedef struct snt_opt_list {
  const char *v[SNT_OPT_MAX_REPEAT];
  int n;
} snt_opt_list;

/* One option. A table is an array of them ended by one with name NULL. */
typedef struct snt_opt {
  const char *name;  /* long name without "--" ("epochs"); NULL ends the table */
  char short_name;   /* 'o' for -o; 0: none */
  snt_opt_kind kind;
  void *dest;        /* where the value goes (see the kinds); untouched when the option is absent */
  const char *arg;   /* the value's name in usage text ("N", "DIR") */
  const char *help;  /* one line */
  int64_t imin, imax;
  double dmin, dmax;
  bool min_open;     /* SNT_OPT_DOUBLE(S): dmin itself is refused */
  int count;         /* SNT_OPT_DOUBLES */
  const char *const *choices;
} snt_opt;

typedef enum snt_opt_result {
  SNT_OPT_OK = 0,
  SNT_OPT_ERROR = 1, /* e->msg says why */
  SNT_OPT_HELP = 2   /* --help or -h was given (and is not in the tables) */
} snt_opt_result;

/* Parses argv[0..argc) against the tables (a NULL-terminated list; the first match wins).
 * Positional arguments go to pos[0..*n_pos) in order (pos may be argv itself); more than
 * max_pos of them is an error. */
snt_opt_result snt_opt_parse(const snt_opt *const *tables, int argc, char **argv, char **pos, int max_pos, int *n_pos,
                             snt_err *e);

/* The word of `words` (NULL-terminated) nearest to `word` (a typo or an unambiguous start), or
 * NULL: for "did you mean" messages about commands. */
const char *snt_opt_suggest(const char *word, const char *const *words);

/* Prints one line per option: "  --name ARG  help (range)". */
void snt_opt_print_help(FILE *f, const snt_opt *const *tables);

/* Prints "PROG: MESSAGE" and "run 'PROG --help' for usage" on stderr; returns SNT_EXIT_USER. */
int snt_opt_fail(const char *prog, const snt_err *e);
/* One command's line against one table: 0 when parsed, -1 when --help was asked for (the
 * caller prints its help), else the exit code after printing why (snt_opt_fail). */
int snt_opt_parse_cmd(const char *prog, const snt_opt *table, int argc, char **argv, char **pos, int max_pos,
                      int *n_pos);

#endif
