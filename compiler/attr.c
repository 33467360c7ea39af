/* DSL argument values to node attributes, by the op's argument spec. */
#include <stdlib.h>
#include <string.h>

#include "compiler/lower_int.h"

static snt_status type_error(snt_lower_ctx *c, const snt_node *n, const snt_arg_spec *s, const snt_value *v,
                             snt_loc loc, const char *expected) {
  return snt_error_at(c, loc, "%s: '%s' must be %s, got %s", n->op->name, s->name, expected,
                      snt_value_kind_name(v->kind));
}

/* Reads an int or a list of ints of an accepted length into out; returns the count or -1. */
static int int_list(const snt_value *v, int64_t *out, int max) {
  if (v->kind == SNT_V_INT) {
    out[0] = v->u.i;
    return 1;
  }
  if (v->kind != SNT_V_LIST || v->u.list.n > max) return -1;
  for (int i = 0; i < v->u.list.n; i++) {
    if (v->u.list.items[i].kind != SNT_V_INT) return -1;
    out[i] = v->u.list.items[i].u.i;
  }
  return v->u.list.n;
}

static snt_status symbol_attr(snt_lower_ctx *c, snt_node *n, const snt_arg_spec *s, const snt_value *v,
                              snt_loc loc) {
  if (v->kind != SNT_V_SYMBOL && v->kind != SNT_V_STR) return type_error(c, n, s, v, loc, "a name");
  int count = 0;
  while (s->symbols[count]) count++;
  for (int i = 0; i < count; i++)
    if (strcmp(s->symbols[i], v->u.s) == 0) return snt_node_set_string(n, s->name, v->u.s);
  snt_strbuf list = {0};
  for (int i = 0; i < count; i++) snt_sb_printf(&list, "%s%s", i ? ", " : "", s->symbols[i]);
  const char *near = snt_nearest(v->u.s, s->symbols, count);
  snt_status st = near ? snt_error_at(c, loc, "%s: unknown %s '%s' (did you mean '%s'?)", n->op->name, s->name, v->u.s, near)
                       : snt_error_at(c, loc, "%s: unknown %s '%s': expected one of %s", n->op->name, s->name, v->u.s,
                                      list.data ? list.data : "");
  snt_sb_free(&list);
  return st;
}

static snt_status padding_attr(snt_lower_ctx *c, snt_node *n, const snt_value *v, snt_loc loc) {
  if (v->kind == SNT_V_SYMBOL || v->kind == SNT_V_STR) {
    if (strcmp(v->u.s, "same") == 0 || strcmp(v->u.s, "valid") == 0) return snt_node_set_string(n, "padding", v->u.s);
    const char *modes[] = {"same", "valid"};
    const char *near = snt_nearest(v->u.s, modes, 2);
    if (near) return snt_error_at(c, loc, "%s: unknown padding '%s' (did you mean '%s'?)", n->op->name, v->u.s, near);
    return snt_error_at(c, loc, "%s: unknown padding '%s': expected same, valid, p, [ph, pw] or [top, left, bottom, right]",
                        n->op->name, v->u.s);
  }
  int64_t p[4];
  int cnt = int_list(v, p, 4);
  if (cnt == 1) p[1] = p[2] = p[3] = p[0];
  else if (cnt == 2) p[2] = p[0], p[3] = p[1];
  else if (cnt != 4)
    return snt_error_at(c, loc, "%s: padding must be same, valid, p, [ph, pw] or [top, left, bottom, right]",
                        n->op->name);
  for (int i = 0; i < 4; i++)
    if (p[i] < 0) return snt_error_at(c, loc, "%s: padding must not be negative", n->op->name);
  snt_status st = snt_node_set_string(n, "padding", "explicit");
  return st ? st : snt_node_set_ints(n, "pads", 4, p);
}

snt_status snt_attr_from_value(snt_lower_ctx *c, snt_node *n, const snt_arg_spec *s, const snt_value *v,
                               snt_loc loc) {
  switch (s->type) {
    case SNT_ARG_INT:
      if (v->kind != SNT_V_INT) return type_error(c, n, s, v, loc, "an integer");
      return snt_node_set_int(n, s->name, v->u.i);
    case SNT_ARG_FLOAT:
      if (!snt_v_is_number(v)) return type_error(c, n, s, v, loc, "a number");
      return snt_node_set_float(n, s->name, snt_v_as_double(v));
    case SNT_ARG_BOOL:
      if (v->kind != SNT_V_BOOL) return type_error(c, n, s, v, loc, "true or false");
      return snt_node_set_int(n, s->name, v->u.b);
    case SNT_ARG_INT2: {
      int64_t p[2];
      int cnt = int_list(v, p, 2);
      if (cnt == 1) p[1] = p[0];
      else if (cnt != 2) return type_error(c, n, s, v, loc, "an integer or a list [h, w]");
      return snt_node_set_ints(n, s->name, 2, p);
    }
    case SNT_ARG_PADDING:
      return padding_attr(c, n, v, loc);
    case SNT_ARG_INTS: {
      int64_t *p = snt_arena_alloc(c->arena, sizeof(int64_t) * (size_t)(v->kind == SNT_V_LIST ? v->u.list.n + 1 : 1));
      if (!p) return SNT_ERR_NOMEM;
      int cnt = int_list(v, p, v->kind == SNT_V_LIST ? v->u.list.n : 1);
      if (cnt < 0) return type_error(c, n, s, v, loc, "an integer or a list of integers");
      return snt_node_set_ints(n, s->name, cnt, p);
    }
    case SNT_ARG_FLOATS: {
      if (snt_v_is_number(v)) {
        double f = snt_v_as_double(v);
        return snt_node_set_floats(n, s->name, 1, &f);
      }
      if (v->kind != SNT_V_LIST || v->u.list.n == 0) return type_error(c, n, s, v, loc, "a number or a list of numbers");
      double *f = snt_arena_alloc(c->arena, sizeof(double) * (size_t)v->u.list.n);
      if (!f) return SNT_ERR_NOMEM;
      for (int i = 0; i < v->u.list.n; i++) {
        if (!snt_v_is_number(&v->u.list.items[i])) return type_error(c, n, s, v, loc, "a list of numbers");
        f[i] = snt_v_as_double(&v->u.list.items[i]);
      }
      return snt_node_set_floats(n, s->name, v->u.list.n, f);
    }
    case SNT_ARG_SYMBOL:
      return symbol_attr(c, n, s, v, loc);
  }
  return SNT_ERR_INTERNAL;
}

snt_value snt_attr_default(snt_lower_ctx *c, const snt_arg_spec *s) {
  (void)c;
  switch (s->type) {
    case SNT_ARG_INT:
    case SNT_ARG_INT2: return snt_v_int(strtoll(s->def, NULL, 10));
    case SNT_ARG_INTS: return (snt_value){SNT_V_LIST, {.list = {NULL, 0}}};
    case SNT_ARG_FLOAT:
    case SNT_ARG_FLOATS: return snt_v_float(strtod(s->def, NULL));
    case SNT_ARG_BOOL: return snt_v_bool(strcmp(s->def, "true") == 0);
    case SNT_ARG_PADDING:
    case SNT_ARG_SYMBOL: return (snt_value){SNT_V_SYMBOL, {.s = s->def}};
  }
  return (snt_value){SNT_V_NONE, {0}};
}
