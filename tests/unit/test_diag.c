/* Diagnostics: the file:line:col form, the source excerpt and the caret. */
#include <stdlib.h>

#include "check.h"
#include "sinter/diag.h"
#include "support/util.h"

int main(void) {
  test_state ts = {0};
  snt_diag *d = snt_diag_create();
  const char *text = "model m {\n\tx = conv2x(a)\n}";
  const snt_source *src = snt_diag_add_source(d, "dir/m.nn", text, strlen(text));
  snt_loc loc = {2, 6, 2, 12}; /* "conv2x": columns 6..11, end exclusive */
  CHECK_INT(&ts, snt_diag_error(d, src, loc, "unknown op '%s'", "conv2x"), SNT_ERR_INPUT);
  snt_diag_warning(d, NULL, (snt_loc){0}, "no place");
  CHECK_INT(&ts, snt_diag_error_count(d), 1);
  CHECK_INT(&ts, snt_diag_count(d), 2);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  snt_diag_print(d, f);
  fclose(f);
  CHECK_STR(&ts, buf,
            "dir/m.nn:2:6: error: unknown op 'conv2x'\n"
            "    2 | \tx = conv2x(a)\n"
            "      | \t    ^~~~~~\n"
            "sinter: warning: no place\n");
  free(buf);
  snt_diag_destroy(d);

  char n[32];
  snt_format_thousands(n, sizeof n, 24099332);
  CHECK_STR(&ts, n, "24,099,332");
  snt_format_thousands(n, sizeof n, 448);
  CHECK_STR(&ts, n, "448");
  snt_format_thousands(n, sizeof n, -1000);
  CHECK_STR(&ts, n, "-1,000");
  const char *cands[] = {"conv2d", "dense", "maxpool"};
  CHECK_STR(&ts, snt_nearest("conv2", cands, 3), "conv2d");
  CHECK(&ts, snt_nearest("xyzzy", cands, 3) == NULL);
  CHECK_INT(&ts, snt_edit_distance("kitten", "sitting"), 3);
  return test_report("test_diag", &ts);
}
