/* Printing and comparing DSL values. */
#include "compiler/value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *snt_value_kind_name(snt_value_kind k) {
  static const char *const names[] = {"none", "int", "float", "bool", "string", "list", "tensor", "name"};
  return names[k];
}

/* Shortest text that reads back as the same double, with a '.0' so it stays a float. */
/* Shortest text that reads back as the same double, as Python prints it: plain
 * decimals between 1e-4 and 1e16 (so "{100.0}" is "100.0", not "1e+02"). */
static void format_float(double f, snt_strbuf *out) {
  char buf[64];
  if (fabs(f) >= 1e-4 && fabs(f) < 1e16) {
    for (int decimals = 1; decimals <= 20; decimals++) {
      snprintf(buf, sizeof buf, "%.*f", decimals, f);
      if (strtod(buf, NULL) == f) break;
    }
    snt_sb_puts(out, buf);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, f);
    if (strtod(buf, NULL) == f) break;
  }
  if (isfinite(f) && !strpbrk(buf, ".eE")) strcat(buf, ".0");
  snt_sb_puts(out, buf);
}

void snt_value_format(const snt_value *v, snt_strbuf *out) {
  switch (v->kind) {
    case SNT_V_NONE: snt_sb_puts(out, "none"); break;
    case SNT_V_INT: snt_sb_printf(out, "%lld", (long long)v->u.i); break;
    case SNT_V_FLOAT: format_float(v->u.f, out); break;
    case SNT_V_BOOL: snt_sb_puts(out, v->u.b ? "true" : "false"); break;
    case SNT_V_STR:
    case SNT_V_SYMBOL: snt_sb_puts(out, v->u.s); break;
    case SNT_V_TENSOR: snt_sb_puts(out, "<tensor>"); break;
    case SNT_V_LIST:
      snt_sb_puts(out, "[");
      for (int i = 0; i < v->u.list.n; i++) {
        if (i) snt_sb_puts(out, ", ");
        snt_value_format(&v->u.list.items[i], out);
      }
      snt_sb_puts(out, "]");
      break;
  }
}

const char *snt_value_kind_noun(snt_value_kind k) {
  static const char *const names[] = {"none", "an int", "a float", "a bool", "a string", "a list", "a tensor", "a name"};
  return names[k];
}

bool snt_value_equal(const snt_value *a, const snt_value *b) {
  if (snt_v_is_number(a) && snt_v_is_number(b)) {
    if (a->kind == SNT_V_INT && b->kind == SNT_V_INT) return a->u.i == b->u.i;
    return snt_v_as_double(a) == snt_v_as_double(b);
  }
  if (a->kind != b->kind) return false;
  switch (a->kind) {
    case SNT_V_NONE: return true;
    case SNT_V_BOOL: return a->u.b == b->u.b;
    case SNT_V_STR:
    case SNT_V_SYMBOL: return strcmp(a->u.s, b->u.s) == 0;
    case SNT_V_TENSOR: return a->u.tensor == b->u.tensor;
    case SNT_V_LIST:
      if (a->u.list.n != b->u.list.n) return false;
      for (int i = 0; i < a->u.list.n; i++)
        if (!snt_value_equal(&a->u.list.items[i], &b->u.list.items[i])) return false;
      return true;
    default: return false;
  }
}
