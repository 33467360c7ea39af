/* Lexer: tokens, their kinds, values and line:col positions. */
#include <stdlib.h>

#include "check.h"
#include "dsl/dsl.h"

static char *tokens(const char *text, snt_status *st) {
  snt_diag *d = snt_diag_create();
  const snt_source *src = snt_diag_add_source(d, "t.nn", text, strlen(text));
  snt_strbuf b = {0};
  snt_sb_puts(&b, "");
  *st = snt_dsl_tokens(d, src, &b);
  snt_diag_destroy(d);
  return b.data;
}

static char *first_error(const char *text) {
  snt_diag *d = snt_diag_create();
  const snt_source *src = snt_diag_add_source(d, "t.nn", text, strlen(text));
  snt_strbuf b = {0};
  snt_dsl_tokens(d, src, &b);
  snt_sb_free(&b);
  char *msg = NULL;
  if (snt_diag_count(d) > 0) {
    const snt_diag_msg *m = snt_diag_get(d, 0);
    msg = malloc(strlen(m->text) + 32);
    sprintf(msg, "%d:%d %s", m->loc.line, m->loc.col, m->text);
  }
  snt_diag_destroy(d);
  return msg;
}

int main(void) {
  test_state ts = {0};
  snt_status st;
  char *t = tokens("model m(size = 224) { # comment\n  x = 1.5e-3 + .5 // 2 ** 3\n}", &st);
  CHECK_INT(&ts, st, SNT_OK);
  CHECK_STR(&ts, t,
            "1:1 'model'\n1:7 name m\n1:8 '('\n1:9 name size\n1:14 '='\n1:16 integer 224\n1:19 ')'\n"
            "1:21 '{'\n2:3 name x\n2:5 '='\n2:7 number 0.0015\n2:14 '+'\n2:16 number 0.5\n2:19 '//'\n"
            "2:22 integer 2\n2:24 '**'\n2:27 integer 3\n3:1 '}'\n");
  free(t);

  t = tokens("labels \"COVID\", \"Viral Pneumonia\" == != <= >= < > and or not true false", &st);
  CHECK_STR(&ts, t,
            "1:1 'labels'\n1:8 string COVID\n1:15 ','\n1:17 string Viral Pneumonia\n1:35 '=='\n1:38 '!='\n"
            "1:41 '<='\n1:44 '>='\n1:47 '<'\n1:49 '>'\n1:51 'and'\n1:55 'or'\n1:58 'not'\n"
            "1:62 'true' or 'false'\n1:67 'true' or 'false'\n");
  free(t);

  /* Keywords are whole words only; columns count characters, not UTF-8 bytes. */
  t = tokens("inputs input_1 \"é\" x", &st);
  CHECK_STR(&ts, t, "1:1 name inputs\n1:8 name input_1\n1:16 string é\n1:20 name x\n");
  free(t);

  t = tokens("block b for in if else train freeze through return output", &st);
  CHECK_STR(&ts, t,
            "1:1 'block'\n1:7 name b\n1:9 'for'\n1:13 'in'\n1:16 'if'\n1:19 'else'\n1:24 'train'\n"
            "1:30 'freeze'\n1:37 'through'\n1:45 'return'\n1:52 'output'\n");
  free(t);

  char *e = first_error("x = 1\ny = $");
  CHECK_STR(&ts, e, "2:5 unexpected character '$'");
  free(e);
  e = first_error("name = \"abc\n");
  CHECK_STR(&ts, e, "1:8 unterminated string: a string ends with '\"' on the same line");
  free(e);
  e = first_error("n = 99999999999999999999");
  CHECK_STR(&ts, e, "1:5 integer literal '99999999999999999999' is too large (the limit is 9223372036854775807)");
  free(e);
  e = first_error("x = \x01");
  CHECK_STR(&ts, e, "1:5 unexpected control character 0x01");
  free(e);
  e = first_error("x = \"\" \xc3\xa9");
  CHECK_STR(&ts, e, "1:8 unexpected byte 0xc3 (only ASCII is allowed outside strings and comments)");
  free(e);
  return test_report("test_lexer", &ts);
}
