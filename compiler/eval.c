/* Expressions of the DSL: arithmetic, names, strings, lists and calls of
 * builtins, blocks and ops. Ops add layers to the graph as they are called. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/lower_int.h"

enum { MAX_EXPR_DEPTH = 1000 };

static const char *const builtins[] = {"range", "len", "min", "max", "int", "float", "str", "shape"};
enum { N_BUILTINS = sizeof builtins / sizeof builtins[0] };

snt_status snt_error_at(snt_lower_ctx *c, snt_loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  snt_diag_vadd(c->d, SNT_SEV_ERROR, c->src, loc, fmt, ap);
  va_end(ap);
  return SNT_ERR_INPUT;
}

/* ---- names ---- */

const snt_value *snt_lookup(snt_lower_ctx *c, const char *name) {
  for (int i = c->fr->n - 1; i >= 0; i--)
    if (strcmp(c->fr->b[i].name, name) == 0) return &c->fr->b[i].v;
  return NULL;
}

snt_status snt_bind(snt_lower_ctx *c, const char *name, snt_value v) {
  snt_frame *f = c->fr;
  for (int i = 0; i < f->n; i++) {
    if (strcmp(f->b[i].name, name) == 0) {
      f->b[i].v = v;
      return SNT_OK;
    }
  }
  if (!SNT_GROW(f->b, f->n + 1, f->cap)) return SNT_ERR_NOMEM;
  f->b[f->n++] = (snt_binding){name, v};
  return SNT_OK;
}

static const snt_ast_def *find_def(const snt_lower_ctx *c, const char *name) {
  for (int i = 0; i < c->file->n_defs; i++)
    if (strcmp(c->file->defs[i]->name, name) == 0) return c->file->defs[i];
  return NULL;
}

/* The first statement of a body (searched recursively) that binds `name` after `loc`. */
static const snt_ast_stmt *later_binding(const snt_ast_body *b, const char *name, snt_loc loc) {
  for (int i = 0; i < b->n; i++) {
    const snt_ast_stmt *s = b->stmts[i];
    bool binds = s->name && (s->kind == SNT_S_ASSIGN || s->kind == SNT_S_OUTPUT || s->kind == SNT_S_INPUT ||
                             s->kind == SNT_S_FOR);
    bool after = s->loc.line > loc.line || (s->loc.line == loc.line && s->loc.col > loc.col);
    if (binds && after && strcmp(s->name, name) == 0) return s;
    const snt_ast_stmt *r = later_binding(&s->body, name, loc);
    if (!r) r = later_binding(&s->other, name, loc);
    if (r) return r;
  }
  return NULL;
}

snt_status snt_unbound_name(snt_lower_ctx *c, const char *name, snt_loc loc) {
  if (snt_op_find(name)) return snt_error_at(c, loc, "'%s' is an op: call it as %s(...)", name, name);
  const snt_ast_def *def = find_def(c, name);
  if (def && def->kind == SNT_D_BLOCK)
    return snt_error_at(c, loc, "'%s' is a block: call it as %s(...)", name, name);
  if (c->fr != c->model_frame) {
    for (int i = 0; i < c->model_frame->n; i++)
      if (strcmp(c->model_frame->b[i].name, name) == 0)
        return snt_error_at(c, loc, "'%s' belongs to model '%s'; block '%s' sees only its own arguments: pass it as one",
                            name, c->model_frame->def->name, c->fr->def->name);
  }
  const snt_ast_stmt *later = later_binding(&c->fr->def->body, name, loc);
  if (later)
    return snt_error_at(c, loc, "'%s' is used before any binding (it is first bound at line %d)", name,
                        later->loc.line);
  const char **cands = malloc(sizeof(char *) * (size_t)(c->fr->n + 1));
  int n = 0;
  for (int i = 0; cands && i < c->fr->n; i++) cands[n++] = c->fr->b[i].name;
  const char *near = cands ? snt_nearest(name, cands, n) : NULL;
  snt_status st = near ? snt_error_at(c, loc, "'%s' is used before any binding (did you mean '%s'?)", name, near)
                       : snt_error_at(c, loc, "'%s' is used before any binding", name);
  free(cands);
  return st;
}

/* ---- arithmetic ---- */

static snt_status num_error(snt_lower_ctx *c, const snt_ast_expr *e, const snt_value *a, const snt_value *b) {
  if (b)
    return snt_error_at(c, e->loc, "operator '%s' cannot combine %s and %s", snt_ast_op_str(e->u.op.op),
                        snt_value_kind_name(a->kind), snt_value_kind_name(b->kind));
  return snt_error_at(c, e->loc, "operator '%s' cannot take %s", snt_ast_op_str(e->u.op.op),
                      snt_value_kind_name(a->kind));
}

static snt_status int_arith(snt_lower_ctx *c, const snt_ast_expr *e, int64_t a, int64_t b, snt_value *out) {
  int64_t r = 0;
  bool ovf = false;
  switch (e->u.op.op) {
    case SNT_OP_ADD: ovf = __builtin_add_overflow(a, b, &r); break;
    case SNT_OP_SUB: ovf = __builtin_sub_overflow(a, b, &r); break;
    case SNT_OP_MUL: ovf = __builtin_mul_overflow(a, b, &r); break;
    case SNT_OP_FLOORDIV:
    case SNT_OP_MOD:
      if (b == 0) return snt_error_at(c, e->loc, "division by zero");
      if (a == INT64_MIN && b == -1) {
        ovf = true;
        break;
      }
      r = e->u.op.op == SNT_OP_FLOORDIV ? a / b - ((a % b != 0) && ((a < 0) != (b < 0))) : a % b;
      if (e->u.op.op == SNT_OP_MOD && r != 0 && ((r < 0) != (b < 0))) r += b;
      break;
    case SNT_OP_POW:
      if (b < 0) {
        *out = snt_v_float(pow((double)a, (double)b));
        return SNT_OK;
      }
      if (a == 0 || a == 1 || a == -1) { /* these never overflow, however large b is */
        r = a == 0 ? (b == 0) : a == 1 ? 1 : (b % 2 ? -1 : 1);
        break;
      }
      r = 1;
      for (int64_t i = 0; i < b && !ovf; i++) ovf = __builtin_mul_overflow(r, a, &r);
      break;
    default: return SNT_ERR_INTERNAL;
  }
  if (ovf) return snt_error_at(c, e->loc, "integer overflow in '%s'", snt_ast_op_str(e->u.op.op));
  *out = snt_v_int(r);
  return SNT_OK;
}

static snt_status float_arith(snt_lower_ctx *c, const snt_ast_expr *e, double a, double b, snt_value *out) {
  double r;
  switch (e->u.op.op) {
    case SNT_OP_ADD: r = a + b; break;
    case SNT_OP_SUB: r = a - b; break;
    case SNT_OP_MUL: r = a * b; break;
    case SNT_OP_DIV:
      if (b == 0) return snt_error_at(c, e->loc, "division by zero");
      r = a / b;
      break;
    case SNT_OP_FLOORDIV:
      if (b == 0) return snt_error_at(c, e->loc, "division by zero");
      r = floor(a / b);
      break;
    case SNT_OP_MOD:
      if (b == 0) return snt_error_at(c, e->loc, "division by zero");
      r = fmod(a, b);
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      break;
    case SNT_OP_POW: r = pow(a, b); break;
    default: return SNT_ERR_INTERNAL;
  }
  if (!isfinite(r)) return snt_error_at(c, e->loc, "'%s' gives a number that is not finite", snt_ast_op_str(e->u.op.op));
  *out = snt_v_float(r);
  return SNT_OK;
}

static snt_status concat(snt_lower_ctx *c, const snt_value *a, const snt_value *b, snt_value *out) {
  if (a->kind == SNT_V_STR) {
    size_t la = strlen(a->u.s), lb = strlen(b->u.s);
    char *s = snt_arena_alloc(c->arena, la + lb + 1);
    if (!s) return SNT_ERR_NOMEM;
    memcpy(s, a->u.s, la);
    memcpy(s + la, b->u.s, lb + 1);
    *out = (snt_value){SNT_V_STR, {.s = s}};
    return SNT_OK;
  }
  int n = a->u.list.n + b->u.list.n;
  if (n > SNT_MAX_LIST) return SNT_ERR_INPUT;
  snt_value *items = snt_arena_alloc(c->arena, sizeof(snt_value) * (size_t)(n ? n : 1));
  if (!items) return SNT_ERR_NOMEM;
  memcpy(items, a->u.list.items, sizeof(snt_value) * (size_t)a->u.list.n);
  memcpy(items + a->u.list.n, b->u.list.items, sizeof(snt_value) * (size_t)b->u.list.n);
  *out = (snt_value){SNT_V_LIST, {.list = {items, n}}};
  return SNT_OK;
}

static snt_status compare(snt_lower_ctx *c, const snt_ast_expr *e, const snt_value *a, const snt_value *b,
                          snt_value *out) {
  snt_ast_op op = e->u.op.op;
  if (op == SNT_OP_EQ || op == SNT_OP_NE) {
    if (a->kind == SNT_V_TENSOR || b->kind == SNT_V_TENSOR) return num_error(c, e, a, b);
    bool eq = snt_value_equal(a, b);
    *out = snt_v_bool(op == SNT_OP_EQ ? eq : !eq);
    return SNT_OK;
  }
  int cmp;
  if (snt_v_is_number(a) && snt_v_is_number(b)) {
    if (a->kind == SNT_V_INT && b->kind == SNT_V_INT)
      cmp = (a->u.i > b->u.i) - (a->u.i < b->u.i);
    else
      cmp = (snt_v_as_double(a) > snt_v_as_double(b)) - (snt_v_as_double(a) < snt_v_as_double(b));
  } else if (a->kind == SNT_V_STR && b->kind == SNT_V_STR) {
    cmp = strcmp(a->u.s, b->u.s);
  } else {
    return num_error(c, e, a, b);
  }
  bool r = op == SNT_OP_LT ? cmp < 0 : op == SNT_OP_LE ? cmp <= 0 : op == SNT_OP_GT ? cmp > 0 : cmp >= 0;
  *out = snt_v_bool(r);
  return SNT_OK;
}

static snt_status eval_binary(snt_lower_ctx *c, const snt_ast_expr *e, snt_value *out) {
  snt_ast_op op = e->u.op.op;
  snt_value a, b;
  snt_status st = snt_eval(c, e->u.op.a, 0, &a);
  if (st) return st;
  if (op == SNT_OP_AND || op == SNT_OP_OR) {
    if (a.kind != SNT_V_BOOL) return snt_error_at(c, e->u.op.a->loc, "'%s' needs true or false, got %s",
                                                  snt_ast_op_str(op), snt_value_kind_name(a.kind));
    if (a.u.b == (op == SNT_OP_OR)) { /* short circuit */
      *out = a;
      return SNT_OK;
    }
    if ((st = snt_eval(c, e->u.op.b, 0, &b))) return st;
    if (b.kind != SNT_V_BOOL) return snt_error_at(c, e->u.op.b->loc, "'%s' needs true or false, got %s",
                                                  snt_ast_op_str(op), snt_value_kind_name(b.kind));
    *out = b;
    return SNT_OK;
  }
  if ((st = snt_eval(c, e->u.op.b, 0, &b))) return st;
  if (op >= SNT_OP_EQ && op <= SNT_OP_GE) return compare(c, e, &a, &b, out);
  if (op == SNT_OP_ADD && a.kind == SNT_V_TENSOR && b.kind == SNT_V_TENSOR) {
    snt_value ins[2] = {a, b};
    return snt_call_op(c, &snt_op_add, e, ins, 2, out);
  }
  if (op == SNT_OP_ADD && a.kind == b.kind && (a.kind == SNT_V_STR || a.kind == SNT_V_LIST)) {
    st = concat(c, &a, &b, out);
    return st == SNT_ERR_INPUT ? snt_error_at(c, e->loc, "list is too long") : st;
  }
  if (!snt_v_is_number(&a) || !snt_v_is_number(&b)) return num_error(c, e, &a, &b);
  if (a.kind == SNT_V_INT && b.kind == SNT_V_INT && op != SNT_OP_DIV) return int_arith(c, e, a.u.i, b.u.i, out);
  return float_arith(c, e, snt_v_as_double(&a), snt_v_as_double(&b), out);
}

static snt_status eval_unary(snt_lower_ctx *c, const snt_ast_expr *e, snt_value *out) {
  snt_value a;
  snt_status st = snt_eval(c, e->u.op.a, 0, &a);
  if (st) return st;
  switch (e->u.op.op) {
    case SNT_OP_NOT:
      if (a.kind != SNT_V_BOOL) return num_error(c, e, &a, NULL);
      *out = snt_v_bool(!a.u.b);
      return SNT_OK;
    case SNT_OP_NEG:
      if (a.kind == SNT_V_INT && a.u.i != INT64_MIN) *out = snt_v_int(-a.u.i);
      else if (a.kind == SNT_V_FLOAT) *out = snt_v_float(-a.u.f);
      else return a.kind == SNT_V_INT ? snt_error_at(c, e->loc, "integer overflow in '-'") : num_error(c, e, &a, NULL);
      return SNT_OK;
    default:
      if (!snt_v_is_number(&a)) return num_error(c, e, &a, NULL);
      *out = a;
      return SNT_OK;
  }
}

/* ---- strings, lists, indexing ---- */

static snt_status eval_string(snt_lower_ctx *c, const snt_ast_expr *e, snt_value *out) {
  snt_strbuf b = {0};
  snt_sb_puts(&b, "");
  for (int i = 0; i < e->u.str.n; i++) {
    const snt_ast_strpart *p = &e->u.str.parts[i];
    if (!p->expr) {
      snt_sb_puts(&b, p->text);
      continue;
    }
    snt_value v;
    snt_status st = snt_eval(c, p->expr, 0, &v);
    if (st == SNT_OK && (v.kind == SNT_V_TENSOR || v.kind == SNT_V_NONE))
      st = snt_error_at(c, p->expr->loc, "%s cannot be put into a string", snt_value_kind_noun(v.kind));
    if (st) {
      snt_sb_free(&b);
      return st;
    }
    snt_value_format(&v, &b);
  }
  char *s = b.failed ? NULL : snt_arena_strdup(c->arena, b.data);
  snt_sb_free(&b);
  if (!s) return SNT_ERR_NOMEM;
  *out = (snt_value){SNT_V_STR, {.s = s}};
  return SNT_OK;
}

static snt_status eval_list(snt_lower_ctx *c, const snt_ast_expr *e, int flags, snt_value *out) {
  int n = e->u.list.n;
  snt_value *items = snt_arena_alloc(c->arena, sizeof(snt_value) * (size_t)(n ? n : 1));
  if (!items) return SNT_ERR_NOMEM;
  for (int i = 0; i < n; i++) {
    snt_status st = snt_eval(c, e->u.list.items[i], flags, &items[i]);
    if (st) return st;
  }
  *out = (snt_value){SNT_V_LIST, {.list = {items, n}}};
  return SNT_OK;
}

static snt_status eval_index(snt_lower_ctx *c, const snt_ast_expr *e, snt_value *out) {
  snt_value base, idx;
  snt_status st = snt_eval(c, e->u.index.base, 0, &base);
  if (st || (st = snt_eval(c, e->u.index.index, 0, &idx))) return st;
  if (base.kind != SNT_V_LIST)
    return snt_error_at(c, e->u.index.base->loc, "only lists can be indexed, not %s", snt_value_kind_noun(base.kind));
  if (idx.kind != SNT_V_INT)
    return snt_error_at(c, e->u.index.index->loc, "a list index must be an integer, got %s",
                        snt_value_kind_name(idx.kind));
  int64_t i = idx.u.i < 0 ? idx.u.i + base.u.list.n : idx.u.i;
  if (i < 0 || i >= base.u.list.n)
    return snt_error_at(c, e->u.index.index->loc, "index %lld is out of range for a list of %d items",
                        (long long)idx.u.i, base.u.list.n);
  *out = base.u.list.items[i];
  return SNT_OK;
}

/* ---- calls ---- */

static snt_status eval_positional(snt_lower_ctx *c, const snt_ast_expr *call, snt_value *vals, int *n) {
  *n = 0;
  for (int i = 0; i < call->u.call.n; i++) {
    const snt_ast_arg *a = &call->u.call.args[i];
    if (a->name) {
      return snt_error_at(c, a->name_loc, "%s takes no named arguments ('%s')", call->u.call.callee, a->name);
    }
    snt_status st = snt_eval(c, a->value, 0, &vals[(*n)++]);
    if (st) return st;
  }
  return SNT_OK;
}

static snt_status builtin_range(snt_lower_ctx *c, const snt_ast_expr *e, const snt_value *v, int n, snt_value *out) {
  if (n < 1 || n > 3) return snt_error_at(c, e->loc, "range takes 1 to 3 integers, got %d arguments", n);
  for (int i = 0; i < n; i++)
    if (v[i].kind != SNT_V_INT)
      return snt_error_at(c, e->u.call.args[i].value->loc, "range takes integers, got %s",
                          snt_value_kind_name(v[i].kind));
  int64_t start = n > 1 ? v[0].u.i : 0, stop = n > 1 ? v[1].u.i : v[0].u.i, step = n > 2 ? v[2].u.i : 1;
  if (step == 0) return snt_error_at(c, e->loc, "range step must not be zero");
  double count = step > 0 ? ceil(((double)stop - (double)start) / (double)step)
                          : ceil(((double)start - (double)stop) / (double)-step);
  if (count < 0) count = 0;
  if (count > SNT_MAX_LIST)
    return snt_error_at(c, e->loc, "range of %.0f items is too long (the limit is %d)", count, SNT_MAX_LIST);
  int cnt = (int)count;
  snt_value *items = snt_arena_alloc(c->arena, sizeof(snt_value) * (size_t)(cnt ? cnt : 1));
  if (!items) return SNT_ERR_NOMEM;
  for (int i = 0; i < cnt; i++) items[i] = snt_v_int(start + (int64_t)i * step);
  *out = (snt_value){SNT_V_LIST, {.list = {items, cnt}}};
  return SNT_OK;
}

static snt_status builtin(snt_lower_ctx *c, const snt_ast_expr *e, snt_value *out) {
  const char *name = e->u.call.callee;
  int n = 0;
  snt_value *v = snt_arena_alloc(c->arena, sizeof(snt_value) * (size_t)(e->u.call.n + 1));
  if (!v) return SNT_ERR_NOMEM;
  snt_status st = eval_positional(c, e, v, &n);
  if (st) return st;
  if (strcmp(name, "range") == 0) return builtin_range(c, e, v, n, out);
  if (strcmp(name, "min") == 0 || strcmp(name, "max") == 0) {
    bool is_max = name[1] == 'a';
    const snt_value *items = v;
    int cnt = n;
    if (n == 1 && v[0].kind == SNT_V_LIST) {
      items = v[0].u.list.items;
      cnt = v[0].u.list.n;
    }
    if (cnt == 0) return snt_error_at(c, e->loc, "%s of nothing", name);
    snt_value best = items[0];
    for (int i = 0; i < cnt; i++) {
      if (!snt_v_is_number(&items[i]))
        return snt_error_at(c, e->loc, "%s takes numbers, got %s", name, snt_value_kind_name(items[i].kind));
      double a = snt_v_as_double(&items[i]), b = snt_v_as_double(&best);
      if (is_max ? a > b : a < b) best = items[i];
    }
    *out = best;
    return SNT_OK;
  }
  if (n != 1) return snt_error_at(c, e->loc, "%s takes one argument, got %d", name, n);
  if (strcmp(name, "len") == 0) {
    if (v[0].kind == SNT_V_LIST) *out = snt_v_int(v[0].u.list.n);
    else if (v[0].kind == SNT_V_STR) *out = snt_v_int((int64_t)strlen(v[0].u.s));
    else return snt_error_at(c, e->loc, "len takes a list or a string, got %s", snt_value_kind_name(v[0].kind));
    return SNT_OK;
  }
  if (strcmp(name, "int") == 0) {
    if (v[0].kind == SNT_V_INT) *out = v[0];
    else if (v[0].kind == SNT_V_FLOAT && fabs(v[0].u.f) < 9.2e18) *out = snt_v_int((int64_t)v[0].u.f);
    else return snt_error_at(c, e->loc, "int takes a number in range, got %s", snt_value_kind_name(v[0].kind));
    return SNT_OK;
  }
  if (strcmp(name, "float") == 0) {
    if (!snt_v_is_number(&v[0])) return snt_error_at(c, e->loc, "float takes a number, got %s", snt_value_kind_name(v[0].kind));
    *out = snt_v_float(snt_v_as_double(&v[0]));
    return SNT_OK;
  }
  if (strcmp(name, "str") == 0) {
    if (v[0].kind == SNT_V_TENSOR) return snt_error_at(c, e->loc, "str cannot take a tensor");
    snt_strbuf b = {0};
    snt_value_format(&v[0], &b);
    char *s = b.failed || !b.data ? NULL : snt_arena_strdup(c->arena, b.data);
    snt_sb_free(&b);
    if (!s) return SNT_ERR_NOMEM;
    *out = (snt_value){SNT_V_STR, {.s = s}};
    return SNT_OK;
  }
  /* shape(t): the per-sample dimensions of a tensor */
  if (v[0].kind != SNT_V_TENSOR) return snt_error_at(c, e->loc, "shape takes a tensor, got %s", snt_value_kind_name(v[0].kind));
  const snt_tensor *t = &c->g->tensors[v[0].u.tensor];
  snt_value *items = snt_arena_alloc(c->arena, sizeof(snt_value) * (size_t)t->rank);
  if (!items) return SNT_ERR_NOMEM;
  for (int i = 1; i < t->rank; i++) items[i - 1] = snt_v_int(t->dims[i]);
  *out = (snt_value){SNT_V_LIST, {.list = {items, t->rank - 1}}};
  return SNT_OK;
}

static const snt_ast_param *find_param(const snt_ast_def *d, const char *name) {
  for (int i = 0; i < d->n_params; i++)
    if (strcmp(d->params[i].name, name) == 0) return &d->params[i];
  return NULL;
}

static snt_status unknown_arg(snt_lower_ctx *c, const snt_ast_arg *a, const char *callee, const char *what,
                              const char **names, int n) {
  const char *near = snt_nearest(a->name, names, n);
  if (near)
    return snt_error_at(c, a->name_loc, "unknown %s '%s' for %s (did you mean '%s'?)", what, a->name, callee, near);
  return snt_error_at(c, a->name_loc, "unknown %s '%s' for %s", what, a->name, callee);
}

snt_status snt_eval_common_arg(snt_lower_ctx *c, const snt_ast_arg *a, const char **name, int *trainable) {
  snt_value v;
  snt_status st = snt_eval(c, a->value, 0, &v);
  if (st) return st;
  if (strcmp(a->name, "name") == 0) {
    if (*name) return snt_error_at(c, a->name_loc, "argument 'name' is given twice");
    if (v.kind != SNT_V_STR) return snt_error_at(c, a->value->loc, "name must be a string, got %s", snt_value_kind_name(v.kind));
    if (!v.u.s[0]) return snt_error_at(c, a->value->loc, "name must not be empty");
    *name = v.u.s;
  } else {
    if (*trainable >= 0) return snt_error_at(c, a->name_loc, "argument 'trainable' is given twice");
    if (v.kind != SNT_V_BOOL)
      return snt_error_at(c, a->value->loc, "trainable must be true or false, got %s", snt_value_kind_name(v.kind));
    *trainable = v.u.b;
  }
  return SNT_OK;
}

bool snt_is_common_arg(const char *name) { return strcmp(name, "name") == 0 || strcmp(name, "trainable") == 0; }

const char *snt_join_name(snt_lower_ctx *c, const char *prefix, const char *name) {
  if (!prefix || !prefix[0]) return name;
  char *s = snt_arena_alloc(c->arena, strlen(prefix) + strlen(name) + 2);
  if (s) {
    strcpy(s, prefix);
    strcat(s, "_");
    strcat(s, name);
  }
  return s;
}

static snt_status call_block(snt_lower_ctx *c, const snt_ast_def *def, const snt_ast_expr *e, snt_value *out) {
  if (c->depth >= SNT_MAX_CALL_DEPTH)
    return snt_error_at(c, e->loc, "block calls nest more than %d deep: is '%s' recursive?", SNT_MAX_CALL_DEPTH,
                        def->name);
  int np = def->n_params;
  snt_value *vals = snt_arena_alloc(c->arena, sizeof(snt_value) * (size_t)(np + 1));
  bool *given = snt_arena_alloc(c->arena, sizeof(bool) * (size_t)(np + 1));
  if (!vals || !given) return SNT_ERR_NOMEM;
  const char *scope = NULL;
  int trainable = -1, pos = 0, n_pos = 0;
  for (int i = 0; i < e->u.call.n; i++) n_pos += !e->u.call.args[i].name;
  for (int i = 0; i < e->u.call.n; i++) {
    const snt_ast_arg *a = &e->u.call.args[i];
    snt_status st;
    int k;
    if (!a->name) {
      if (pos >= np)
        return snt_error_at(c, a->value->loc, "block '%s' takes %d positional argument%s, got %d", def->name, np,
                            np == 1 ? "" : "s", n_pos);
      k = pos++;
    } else if (find_param(def, a->name)) {
      k = (int)(find_param(def, a->name) - def->params);
    } else if (snt_is_common_arg(a->name)) {
      if ((st = snt_eval_common_arg(c, a, &scope, &trainable))) return st;
      continue;
    } else {
      const char **names = snt_arena_alloc(c->arena, sizeof(char *) * (size_t)(np + 2));
      if (!names) return SNT_ERR_NOMEM;
      for (int p = 0; p < np; p++) names[p] = def->params[p].name;
      names[np] = "name";
      names[np + 1] = "trainable";
      return unknown_arg(c, a, def->name, "argument", names, np + 2);
    }
    if (given[k]) return snt_error_at(c, a->name ? a->name_loc : a->value->loc, "argument '%s' of block '%s' is given twice",
                                      def->params[k].name, def->name);
    given[k] = true;
    if ((st = snt_eval(c, a->value, 0, &vals[k]))) return st;
  }
  snt_frame fr = {.def = def, .prefix = scope ? snt_join_name(c, c->fr->prefix, scope) : c->fr->prefix,
                  .frozen = c->fr->frozen || trainable == 0};
  if (!fr.prefix && scope) return SNT_ERR_NOMEM;
  snt_frame *caller = c->fr;
  c->fr = &fr;
  c->depth++;
  snt_status st = SNT_OK;
  for (int k = 0; k < np && !st; k++) {
    if (!given[k] && !def->params[k].def)
      st = snt_error_at(c, e->loc, "block '%s' needs argument '%s'", def->name, def->params[k].name);
    else if (!given[k])
      st = snt_eval(c, def->params[k].def, 0, &vals[k]);
    if (!st) st = snt_bind(c, def->params[k].name, vals[k]);
  }
  if (!st) st = snt_eval_body(c, &def->body);
  if (!st && !fr.returned) st = snt_error_at(c, def->loc, "block '%s' ends without 'return'", def->name);
  *out = fr.ret;
  c->depth--;
  c->fr = caller;
  free(fr.b);
  return st;
}

static snt_status eval_call(snt_lower_ctx *c, const snt_ast_expr *e, snt_value *out) {
  const char *name = e->u.call.callee;
  const snt_op *op = snt_op_find(name);
  if (op) return snt_call_op(c, op, e, NULL, 0, out);
  const snt_ast_def *def = find_def(c, name);
  if (def && def->kind == SNT_D_BLOCK) return call_block(c, def, e, out);
  for (int i = 0; i < N_BUILTINS; i++)
    if (strcmp(builtins[i], name) == 0) return builtin(c, e, out);
  if (def) return snt_error_at(c, e->u.call.callee_loc, "'%s' is a model; only blocks and ops can be called", name);
  /* Suggest the nearest op, block or builtin. */
  int n = snt_op_count() + N_BUILTINS + c->file->n_defs;
  const char **cands = malloc(sizeof(char *) * (size_t)n);
  if (!cands) return SNT_ERR_NOMEM;
  int k = 0;
  for (int i = 0; i < snt_op_count(); i++) cands[k++] = snt_op_at(i)->name;
  for (int i = 0; i < N_BUILTINS; i++) cands[k++] = builtins[i];
  for (int i = 0; i < c->file->n_defs; i++)
    if (c->file->defs[i]->kind == SNT_D_BLOCK) cands[k++] = c->file->defs[i]->name;
  const char *near = snt_nearest(name, cands, k);
  snt_status st = near ? snt_error_at(c, e->u.call.callee_loc, "unknown op '%s' (did you mean '%s'?)", name, near)
                       : snt_error_at(c, e->u.call.callee_loc, "unknown op '%s'", name);
  free(cands);
  return st;
}

static snt_status eval_expr(snt_lower_ctx *c, const snt_ast_expr *e, int flags, snt_value *out);

snt_status snt_eval(snt_lower_ctx *c, const snt_ast_expr *e, int flags, snt_value *out) {
  if (++c->steps > SNT_MAX_STEPS)
    return snt_error_at(c, e->loc, "evaluation did not finish after %d steps: is a loop too long?", SNT_MAX_STEPS);
  if (c->expr_depth >= MAX_EXPR_DEPTH)
    return snt_error_at(c, e->loc, "expression nests more than %d deep", MAX_EXPR_DEPTH);
  c->expr_depth++;
  snt_status st = eval_expr(c, e, flags, out);
  c->expr_depth--;
  return st;
}

static snt_status eval_expr(snt_lower_ctx *c, const snt_ast_expr *e, int flags, snt_value *out) {
  switch (e->kind) {
    case SNT_E_INT: *out = snt_v_int(e->u.i); return SNT_OK;
    case SNT_E_FLOAT: *out = snt_v_float(e->u.f); return SNT_OK;
    case SNT_E_BOOL: *out = snt_v_bool(e->u.b); return SNT_OK;
    case SNT_E_STRING: return eval_string(c, e, out);
    case SNT_E_LIST: return eval_list(c, e, flags, out);
    case SNT_E_INDEX: return eval_index(c, e, out);
    case SNT_E_CALL: return eval_call(c, e, out);
    case SNT_E_UNARY: return eval_unary(c, e, out);
    case SNT_E_BINARY: return eval_binary(c, e, out);
    case SNT_E_COND: {
      snt_value cond;
      snt_status st = snt_eval(c, e->u.cond.cond, 0, &cond);
      if (st) return st;
      if (cond.kind != SNT_V_BOOL)
        return snt_error_at(c, e->u.cond.cond->loc, "a condition must be true or false, got %s",
                            snt_value_kind_name(cond.kind));
      return snt_eval(c, cond.u.b ? e->u.cond.then : e->u.cond.other, flags, out);
    }
    case SNT_E_NAME: {
      const snt_value *v = snt_lookup(c, e->u.name);
      if (v) {
        *out = *v;
        return SNT_OK;
      }
      if (flags & SNT_EVAL_SYMBOLS) {
        *out = (snt_value){SNT_V_SYMBOL, {.s = e->u.name}};
        return SNT_OK;
      }
      return snt_unbound_name(c, e->u.name, e->loc);
    }
  }
  return SNT_ERR_INTERNAL;
}
