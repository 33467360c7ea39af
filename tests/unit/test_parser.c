/* Parser: tree shape, operator precedence, interpolated strings, locations, errors. */
#include <stdlib.h>

#include "check.h"
#include "dsl/dsl.h"

/* Parses text and returns its dump, or "error L:C message" for the first error. */
static char *parse(const char *text) {
  snt_diag *d = snt_diag_create();
  const snt_source *src = snt_diag_add_source(d, "t.nn", text, strlen(text));
  snt_ast_file *f = NULL;
  snt_strbuf b = {0};
  if (snt_dsl_parse(d, src, &f) == SNT_OK) {
    snt_ast_dump(f, &b);
  } else {
    const snt_diag_msg *m = snt_diag_get(d, 0);
    snt_sb_printf(&b, "error %d:%d %s", m->loc.line, m->loc.col, m->text);
  }
  snt_sb_puts(&b, "");
  snt_ast_file_destroy(f);
  snt_diag_destroy(d);
  return b.data;
}

/* The dump of `x = EXPR` inside a block, without the statement prefix. */
static char *expr(const char *e) {
  char text[512];
  snprintf(text, sizeof text, "block b {\nx = %s\n}", e);
  char *dump = parse(text);
  char *p = strstr(dump, "(= x ");
  char *out = NULL;
  if (p) {
    out = strdup(p + 5);
    out[strlen(out) - 2] = '\0'; /* the closing ")\n" of the statement */
  } else {
    out = strdup(dump);
  }
  free(dump);
  return out;
}

#define CHECK_EXPR(ts, text, want)   \
  do {                               \
    char *got_ = expr(text);         \
    CHECK_STR(ts, got_, want);       \
    free(got_);                      \
  } while (0)

int main(void) {
  test_state ts = {0};
  CHECK_EXPR(&ts, "1 + 2 * 3 ** 2", "(+ 1 (* 2 (** 3 2)))");
  CHECK_EXPR(&ts, "2 ** 3 ** 2", "(** 2 (** 3 2))");
  CHECK_EXPR(&ts, "-2 ** 2", "(- (** 2 2))");
  CHECK_EXPR(&ts, "10 - 4 - 3", "(- (- 10 4) 3)");
  CHECK_EXPR(&ts, "7 // 2 % 3 / 4", "(/ (% (// 7 2) 3) 4)");
  CHECK_EXPR(&ts, "a < b and not c or d == e", "(or (and (< a b) (not c)) (== d e))");
  CHECK_EXPR(&ts, "p ? 1 : q ? 2 : 3", "(? p 1 (? q 2 3))");
  CHECK_EXPR(&ts, "[1, [2.5, true], \"s\",]", "(list 1 (list 2.5 true) (str \"s\"))");
  CHECK_EXPR(&ts, "xs[1][0]", "(index (index xs 1) 0)");
  CHECK_EXPR(&ts, "conv2d(x, 8, 3, stride = 2, name = \"c{i + 1}\")",
             "(call conv2d x 8 3 stride=2 name=(str \"c\" {(+ i 1)}))");
  CHECK_EXPR(&ts, "\"a{{b}}c{d}\"", "(str \"a{b}c\" {d})");
  CHECK_EXPR(&ts, "\"\"", "(str)");
  CHECK_EXPR(&ts, "f()", "(call f)");

  char *t = parse("# seed model\nmodel m(size = 224, n) {\n  input image: [3, size, size]\n  labels \"a\", \"b\"\n"
                  "  for f in range(3) { x = f }\n  if a { y = 1 } else if b { y = 2 } else { y = 3 }\n"
                  "  output probs = x\n  freeze \"conv*\", \"dense\"\n  freeze through \"pad\"\n"
                  "  train { batch = 32; early_stopping(patience = 10) }\n}\n"
                  "block blk(x, k = 1) { return x }\n");
  CHECK_STR(&ts, t,
            "model m(size=224, n)\n"
            "  3:3 (input image (list 3 size size))\n"
            "  4:3 (labels (str \"a\") (str \"b\"))\n"
            "  5:3 (for f (call range 3)\n    5:23 (= x f)\n  )\n"
            "  6:3 (if a\n    6:10 (= y 1)\n  else\n    6:23 (if b\n      6:30 (= y 2)\n    else\n      6:45 (= y 3)\n    )\n  )\n"
            "  7:3 (output probs x)\n"
            "  8:3 (freeze (str \"conv*\") (str \"dense\"))\n"
            "  9:3 (freeze-through (str \"pad\"))\n"
            "  10:3 (train\n    10:11 (= batch 32)\n    10:23 (do (call early_stopping patience=10))\n  )\n"
            "block blk(x, k=1)\n  12:23 (return x)\n");
  free(t);

  /* Errors: the first one, at the offending token. */
  t = parse("model m {\n  x = conv2d(a, 3\n  output y = x\n}");
  CHECK_STR(&ts, t, "error 3:3 syntax error, unexpected 'output', expecting ')' or ','");
  free(t);
  t = parse("model m {\n  x = 1\n");
  /* At the end of the text: right after the last token. */
  CHECK_STR(&ts, t, "error 2:8 syntax error, unexpected end of file, expecting '}'");
  free(t);
  t = parse("model m {\n  x = \"a{b\"\n}");
  CHECK_STR(&ts, t, "error 2:9 unterminated '{' in string: an interpolation ends with '}'");
  free(t);
  t = parse("model m {\n  x = \"a}b\"\n}");
  CHECK_STR(&ts, t, "error 2:9 unmatched '}' in string: write '}}' for a literal brace");
  free(t);
  /* An error inside an interpolation points into the string. */
  t = parse("model m {\n  x = \"ab{1 +}\"\n}");
  CHECK_STR(&ts, t, "error 2:13 syntax error, unexpected end of the interpolation {...}");
  free(t);
  t = parse("model m {\n  x = \"ab{ }\"\n}");
  CHECK_STR(&ts, t, "error 2:10 empty interpolation '{}': put an expression inside, or write '{{' for a literal brace");
  free(t);
  /* Nesting deeper than the parser's stack is an input error, not a crash. */
  size_t depth = 20000;
  char *deep = malloc(2 * depth + 64);
  strcpy(deep, "block b {\n x = ");
  size_t o = strlen(deep);
  for (size_t i = 0; i < depth; i++) deep[o++] = '(';
  deep[o++] = '1';
  for (size_t i = 0; i < depth; i++) deep[o++] = ')';
  strcpy(deep + o, "\n}");
  t = parse(deep);
  CHECK(&ts, strstr(t, "the text nests too deeply (parentheses, lists or braces)") != NULL);
  free(t);
  free(deep);

  t = parse("x = 1");
  CHECK_STR(&ts, t, "error 1:1 syntax error, unexpected name, expecting end of file, 'model' or 'block'");
  free(t);
  return test_report("test_parser", &ts);
}
