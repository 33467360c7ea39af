/* The option-table parser (include/sinter/opts.h): every kind, --x=v and --x v, ranges, and
 * the exact text of every error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinter/opts.h"

static int failures;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                     \
    }                                                                 \
  } while (0)

typedef struct vals {
  bool json;
  const char *out, *part;
  int64_t epochs;
  uint64_t seed;
  double lr, split[3];
  snt_opt_list sets;
} vals;

static const char *const parts[] = {"test", "val", "train", "all", NULL};

/* Parses the words of `line` (space-separated) into v; returns the result, message in e. */
static snt_opt_result run(const char *line, vals *v, char **pos, int *n_pos, snt_err *e) {
  static char buf[1024];
  static char *argv[128];
  int argc = 0;
  snprintf(buf, sizeof buf, "%s", line);
  for (char *t = strtok(buf, " "); t && argc < 128; t = strtok(NULL, " ")) argv[argc++] = strcmp(t, "''") ? t : "";
  memset(v, 0, sizeof *v);
  const snt_opt table[] = {
      {.name = "json", 0, SNT_OPT_FLAG, &v->json, NULL, "JSON output"},
      {.name = "out", 'o', SNT_OPT_STRING, &v->out, "DIR", "output folder"},
      {.name = "epochs", 0, SNT_OPT_INT, &v->epochs, "N", "epochs", .imin = 1, .imax = 1000000},
      {.name = "seed", 0, SNT_OPT_UINT64, &v->seed, "K", "seed"},
      {.name = "lr", 0, SNT_OPT_DOUBLE, &v->lr, "X", "learning rate", .dmin = 0, .dmax = 1e30, .min_open = true},
      {.name = "split", 0, SNT_OPT_DOUBLES, v->split, "A,B,C", "fractions", .dmin = 0, .dmax = 1, .count = 3},
      {.name = "part", 0, SNT_OPT_CHOICE, &v->part, "P", "part", .choices = parts},
      {.name = "set", 0, SNT_OPT_REPEAT, &v->sets, "NAME=VALUE", "a parameter"},
      {NULL}};
  const snt_opt *const tables[] = {table, NULL};
  e->msg[0] = '\0';
  return snt_opt_parse(tables, argc, argv, pos, 3, n_pos, e);
}

static void expect_error(const char *line, const char *msg) {
  vals v;
  char *pos[3];
  int n;
  snt_err e;
  snt_opt_result r = run(line, &v, pos, &n, &e);
  if (r != SNT_OPT_ERROR || strcmp(e.msg, msg) != 0) {
    fprintf(stderr, "FAILED: '%s'\n  got (%d) '%s'\n want '%s'\n", line, (int)r, e.msg, msg);
    failures++;
  }
}

int main(void) {
  vals v;
  char *pos[3];
  int n = -1;
  snt_err e;
  /* Every kind, both spellings, positionals in order. */
  CHECK(run("a --json --out=d1 --epochs 7 b --seed=18446744073709551615 --lr 1e-3 --split 0.8,0.1,0.1 --part=val "
            "--set x=1 --set=y=2",
            &v, pos, &n, &e) == SNT_OPT_OK);
  CHECK(n == 2 && strcmp(pos[0], "a") == 0 && strcmp(pos[1], "b") == 0);
  CHECK(v.json && strcmp(v.out, "d1") == 0 && v.epochs == 7 && v.seed == UINT64_MAX && v.lr == 1e-3);
  CHECK(v.split[0] == 0.8 && v.split[1] == 0.1 && v.split[2] == 0.1 && strcmp(v.part, "val") == 0);
  CHECK(v.sets.n == 2 && strcmp(v.sets.v[0], "x=1") == 0 && strcmp(v.sets.v[1], "y=2") == 0);
  /* Short options, inline or not; "--" ends the options; "-" is an argument. */
  CHECK(run("-o d2 -- --json -", &v, pos, &n, &e) == SNT_OPT_OK);
  CHECK(strcmp(v.out, "d2") == 0 && !v.json && n == 2 && strcmp(pos[0], "--json") == 0 && strcmp(pos[1], "-") == 0);
  CHECK(run("-od3", &v, pos, &n, &e) == SNT_OPT_OK && strcmp(v.out, "d3") == 0 && n == 0);
  CHECK(run("--epochs 1", &v, pos, &n, &e) == SNT_OPT_OK && v.epochs == 1);
  CHECK(run("--epochs=1000000", &v, pos, &n, &e) == SNT_OPT_OK && v.epochs == 1000000);
  CHECK(run("--help", &v, pos, &n, &e) == SNT_OPT_HELP);
  CHECK(run("x -h", &v, pos, &n, &e) == SNT_OPT_HELP);
  /* Errors, exactly. */
  expect_error("--epochs 4611686018427387904", "--epochs: 4611686018427387904 is out of range (1 to 1000000)");
  expect_error("--epochs=0", "--epochs: 0 is out of range (1 to 1000000)");
  expect_error("--epochs 99999999999999999999999", "--epochs: 99999999999999999999999 is out of range (1 to 1000000)");
  expect_error("--epochs 12x", "--epochs: '12x' is not a whole number");
  expect_error("--epochs ''", "--epochs: '' is not a whole number");
  expect_error("--epochs", "--epochs needs a value (N)");
  expect_error("-o", "-o needs a value (DIR)");
  expect_error("--out ''", "--out: the value is empty");
  expect_error("--seed -1", "--seed: '-1' is not a whole number");
  expect_error("--seed 18446744073709551616", "--seed: 18446744073709551616 is out of range (0 to 18446744073709551615)");
  expect_error("--lr 0", "--lr: 0 is out of range (more than 0, at most 1e+30)");
  expect_error("--lr 1e31", "--lr: 1e31 is out of range (more than 0, at most 1e+30)");
  expect_error("--lr nan", "--lr: 'nan' is not a finite number");
  expect_error("--lr inf", "--lr: 'inf' is not a finite number");
  expect_error("--lr fast", "--lr: 'fast' is not a number");
  expect_error("--split 0.8,0.1", "--split: '0.8,0.1' is not 3 comma-separated numbers");
  expect_error("--split 0.8,0.1,0.1,0", "--split: '0.8,0.1,0.1,0' is not 3 comma-separated numbers");
  expect_error("--split 0.8,1.5,0.1", "--split: 1.5 is out of range (0 to 1)");
  expect_error("--split 0.8,,0.1", "--split: '' is not a number");
  expect_error("--part foo", "--part: 'foo' is not one of test, val, train, all");
  expect_error("--epochs 1 --epochs 2", "--epochs is given twice");
  expect_error("-o a --out b", "--out is given twice");
  expect_error("--json --json", "--json is given twice");
  expect_error("--json=yes", "--json takes no value");
  expect_error("--epoch 3", "unknown option '--epoch'; did you mean --epochs?");
  expect_error("--jsno", "unknown option '--jsno'; did you mean --json?");
  expect_error("--spl 0,0,1", "unknown option '--spl'; did you mean --split?");
  expect_error("-epochs 3", "unknown option '-epochs'; did you mean --epochs?");
  expect_error("--frobnicate", "unknown option '--frobnicate'");
  expect_error("-x", "unknown option '-x'");
  expect_error("a b c d", "takes at most 3 arguments, got another: 'd'");
  /* A repeatable option has a cap, said in the message. */
  char line[1024] = "";
  for (int i = 0; i < SNT_OPT_MAX_REPEAT + 1; i++) strcat(line, "--set=a=1 ");
  expect_error(line, "--set is given more than 64 times");
  /* The generated help names each option with its range. */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  const snt_opt t[] = {{.name = "epochs", 0, SNT_OPT_INT, &v.epochs, "N", "epochs to train", .imin = 1, .imax = 9}, {NULL}};
  const snt_opt *const ts[] = {t, NULL};
  snt_opt_print_help(f, ts);
  fclose(f);
  CHECK(text && strcmp(text, "  --epochs N               epochs to train (1 to 9)\n") == 0);
  free(text);
  /* Commands: a typo or a start. */
  const char *const words[] = {"predict", "train", "evaluate", NULL};
  CHECK(snt_opt_suggest("predcit", words) && strcmp(snt_opt_suggest("predcit", words), "predict") == 0);
  CHECK(snt_opt_suggest("eval", words) && strcmp(snt_opt_suggest("eval", words), "evaluate") == 0);
  CHECK(snt_opt_suggest("frobnicate", words) == NULL);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  else printf("opts: all checks passed\n");
  return failures ? 1 : 0;
}
