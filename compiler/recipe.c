/* The train section: `key = value` settings and `callback(...)` lines, checked
 * against what the training loop understands. */
#include <math.h>
#include <string.h>

#include "compiler/lower_int.h"

void snt_recipe_defaults(snt_recipe *r) {
  memset(r, 0, sizeof *r);
  strcpy(r->loss, "sparse_categorical_crossentropy");
  strcpy(r->optimizer, "adam");
  r->lr = 1e-3;
  r->beta1 = 0.9;
  r->beta2 = 0.999;
  r->epsilon = 1e-7;
  r->momentum = 0.0;
  r->class_weight = SNT_CW_NONE;
  r->batch = 32;
  r->epochs = 50;
  r->seed = 42;
  r->split[0] = 0.8;
  r->split[1] = 0.1;
  r->split[2] = 0.1;
  r->augment.contrast[0] = r->augment.contrast[1] = 1.0;
  strcpy(r->early_stopping.monitor, "val_loss");
  r->early_stopping.patience = 10;
  r->early_stopping.restore_best = true;
  strcpy(r->reduce_lr.monitor, "val_loss");
  r->reduce_lr.factor = 0.5;
  r->reduce_lr.patience = 5;
  strcpy(r->checkpoint.monitor, "val_loss");
  r->checkpoint.save_best = true;
  r->bn_momentum = 0.99;
}

typedef enum { R_INT, R_NUM, R_BOOL, R_SYM } rkind;

/* One setting or callback argument: where it goes and what it accepts. */
typedef struct rfield {
  const char *name;
  rkind kind;
  void *dst;
  double lo, hi;                 /* accepted range of numbers (inclusive) */
  const char *const *symbols;    /* R_SYM: accepted names; dst is a char[16..40] */
  size_t size;                   /* R_SYM: size of dst */
} rfield;

static const char *const monitors[] = {"val_loss", "val_accuracy", "loss", "accuracy", NULL};
static const char *const losses[] = {"sparse_categorical_crossentropy", "categorical_crossentropy", NULL};

static int count_syms(const char *const *s) {
  int n = 0;
  while (s[n]) n++;
  return n;
}

static snt_status bad_name(snt_lower_ctx *c, snt_loc loc, const char *what, const char *got,
                           const char *const *cands, int n) {
  const char *near = snt_nearest(got, cands, n);
  snt_strbuf b = {0};
  for (int i = 0; i < n; i++) snt_sb_printf(&b, "%s%s", i ? ", " : "", cands[i]);
  snt_status st = near ? snt_error_at(c, loc, "unknown %s '%s' (did you mean '%s'?)", what, got, near)
                       : snt_error_at(c, loc, "unknown %s '%s' (expected one of: %s)", what, got, b.data ? b.data : "");
  snt_sb_free(&b);
  return st;
}

static snt_status set_field(snt_lower_ctx *c, const rfield *f, const snt_ast_expr *e) {
  snt_value v;
  snt_status st = snt_eval(c, e, f->kind == R_SYM ? SNT_EVAL_SYMBOLS : 0, &v);
  if (st) return st;
  switch (f->kind) {
    case R_BOOL:
      if (v.kind != SNT_V_BOOL) return snt_error_at(c, e->loc, "%s must be true or false, got %s", f->name, snt_value_kind_name(v.kind));
      *(bool *)f->dst = v.u.b;
      return SNT_OK;
    case R_SYM:
      if (v.kind != SNT_V_SYMBOL && v.kind != SNT_V_STR)
        return snt_error_at(c, e->loc, "%s must be a name, got %s", f->name, snt_value_kind_name(v.kind));
      for (int i = 0; f->symbols[i]; i++)
        if (strcmp(f->symbols[i], v.u.s) == 0) {
          snprintf((char *)f->dst, f->size, "%s", v.u.s);
          return SNT_OK;
        }
      return bad_name(c, e->loc, f->name, v.u.s, f->symbols, count_syms(f->symbols));
    case R_INT:
      if (v.kind != SNT_V_INT) return snt_error_at(c, e->loc, "%s must be an integer, got %s", f->name, snt_value_kind_name(v.kind));
      break;
    case R_NUM:
      if (!snt_v_is_number(&v)) return snt_error_at(c, e->loc, "%s must be a number, got %s", f->name, snt_value_kind_name(v.kind));
      break;
  }
  double x = snt_v_as_double(&v);
  if (!(x >= f->lo && x <= f->hi)) return snt_error_at(c, e->loc, "%s must be in [%g, %g], got %g", f->name, f->lo, f->hi, x);
  if (f->kind == R_INT) *(int64_t *)f->dst = v.u.i;
  else *(double *)f->dst = x;
  return SNT_OK;
}

/* Fills fields from a call's arguments: positional in order, or by name. */
static snt_status call_fields(snt_lower_ctx *c, const snt_ast_expr *call, const rfield *f, int n) {
  bool seen[16] = {0};
  int pos = 0;
  for (int i = 0; i < call->u.call.n; i++) {
    const snt_ast_arg *a = &call->u.call.args[i];
    int k = -1;
    if (!a->name) {
      if (pos >= n) return snt_error_at(c, a->value->loc, "%s takes at most %d arguments", call->u.call.callee, n);
      k = pos++;
    } else {
      for (int j = 0; j < n; j++)
        if (strcmp(f[j].name, a->name) == 0) k = j;
      if (k < 0) {
        const char *names[16];
        for (int j = 0; j < n; j++) names[j] = f[j].name;
        const char *near = snt_nearest(a->name, names, n);
        return near ? snt_error_at(c, a->name_loc, "unknown argument '%s' for %s (did you mean '%s'?)", a->name,
                                   call->u.call.callee, near)
                    : snt_error_at(c, a->name_loc, "unknown argument '%s' for %s", a->name, call->u.call.callee);
      }
    }
    if (seen[k]) return snt_error_at(c, a->value->loc, "argument '%s' of %s is given twice", f[k].name, call->u.call.callee);
    seen[k] = true;
    snt_status st = set_field(c, &f[k], a->value);
    if (st) return st;
  }
  return SNT_OK;
}

#define NFIELDS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static snt_status optimizer(snt_lower_ctx *c, snt_recipe *r, const snt_ast_expr *e) {
  static const char *const names[] = {"adam", "sgd"};
  const char *name = e->kind == SNT_E_CALL ? e->u.call.callee : e->kind == SNT_E_NAME ? e->u.name : NULL;
  if (!name) return snt_error_at(c, e->loc, "optimizer is adam(...) or sgd(...)");
  snt_loc nloc = e->kind == SNT_E_CALL ? e->u.call.callee_loc : e->loc;
  if (strcmp(name, "adam") && strcmp(name, "sgd")) return bad_name(c, nloc, "optimizer", name, names, 2);
  strcpy(r->optimizer, name);
  if (e->kind != SNT_E_CALL) return SNT_OK;
  if (name[0] == 'a') {
    rfield f[] = {{"lr", R_NUM, &r->lr, 1e-12, 10, 0, 0},
                  {"beta1", R_NUM, &r->beta1, 0, 0.999999, 0, 0},
                  {"beta2", R_NUM, &r->beta2, 0, 0.999999999, 0, 0},
                  {"epsilon", R_NUM, &r->epsilon, 1e-30, 1, 0, 0}};
    return call_fields(c, e, f, NFIELDS(f));
  }
  rfield f[] = {{"lr", R_NUM, &r->lr, 1e-12, 10, 0, 0},
                {"momentum", R_NUM, &r->momentum, 0, 0.999999, 0, 0},
                {"nesterov", R_BOOL, &r->nesterov, 0, 0, 0, 0}};
  return call_fields(c, e, f, NFIELDS(f));
}

static snt_status number_list(snt_lower_ctx *c, const snt_ast_expr *e, const char *what, double *out, int max, int *n) {
  snt_value v;
  snt_status st = snt_eval(c, e, 0, &v);
  if (st) return st;
  if (v.kind != SNT_V_LIST || v.u.list.n > max)
    return snt_error_at(c, e->loc, "%s must be a list of at most %d numbers", what, max);
  for (int i = 0; i < v.u.list.n; i++) {
    if (!snt_v_is_number(&v.u.list.items[i])) return snt_error_at(c, e->loc, "%s must be a list of numbers", what);
    out[i] = snt_v_as_double(&v.u.list.items[i]);
    if (!(out[i] >= 0 && out[i] < 1e9)) return snt_error_at(c, e->loc, "%s must not be negative", what);
  }
  *n = v.u.list.n;
  return SNT_OK;
}

static snt_status class_weight(snt_lower_ctx *c, snt_recipe *r, const snt_ast_expr *e) {
  if (e->kind == SNT_E_NAME && !snt_lookup(c, e->u.name)) {
    static const char *const modes[] = {"balanced", "none"};
    if (strcmp(e->u.name, "balanced") == 0) r->class_weight = SNT_CW_BALANCED;
    else if (strcmp(e->u.name, "none") == 0) r->class_weight = SNT_CW_NONE;
    else return bad_name(c, e->loc, "class_weight", e->u.name, modes, 2);
    return SNT_OK;
  }
  r->class_weight = SNT_CW_EXPLICIT;
  c->class_weight_loc = e->loc;
  return number_list(c, e, "class_weight", r->class_weights, SNT_MAX_CLASSES, &r->n_class_weights);
}

static snt_status split(snt_lower_ctx *c, snt_recipe *r, const snt_ast_expr *e) {
  int n = 0;
  double s[3];
  snt_status st = number_list(c, e, "split", s, 3, &n);
  if (st) return st;
  if (n != 3 || fabs(s[0] + s[1] + s[2] - 1) > 1e-6 || s[0] <= 0 || s[0] > 1 || s[1] > 1 || s[2] > 1)
    return snt_error_at(c, e->loc, "split is [train, validation, test]: three fractions that add up to 1");
  memcpy(r->split, s, sizeof s);
  return SNT_OK;
}

static snt_status augment_item(snt_lower_ctx *c, snt_recipe *r, const snt_ast_expr *e) {
  static const char *const names[] = {"flip_horizontal", "flip_vertical", "brightness", "contrast", "rotation", "shift", "zoom"};
  const char *name = e->kind == SNT_E_CALL ? e->u.call.callee : e->kind == SNT_E_NAME ? e->u.name : NULL;
  snt_loc nloc = e->kind == SNT_E_CALL ? e->u.call.callee_loc : e->loc;
  if (!name) return snt_error_at(c, e->loc, "an augmentation is a name such as flip_horizontal or a call such as brightness(0.05)");
  bool call = e->kind == SNT_E_CALL;
  if (strcmp(name, "flip_horizontal") == 0 || strcmp(name, "flip_vertical") == 0) {
    if (call) return snt_error_at(c, e->loc, "%s takes no arguments", name);
    *(name[5] == 'h' ? &r->augment.flip_horizontal : &r->augment.flip_vertical) = true;
    return SNT_OK;
  }
  int k = -1;
  for (int i = 2; i < 7; i++)
    if (strcmp(names[i], name) == 0) k = i;
  if (k < 0) return bad_name(c, nloc, "augmentation", name, names, 7);
  if (!call) return snt_error_at(c, e->loc, "%s needs its amount, as in %s(0.1)", name, name);
  snt_status st;
  if (k == 2) {
    rfield f[] = {{"delta", R_NUM, &r->augment.brightness, 0, 1, 0, 0}};
    st = call_fields(c, e, f, 1);
  } else if (k == 3) {
    rfield f[] = {{"lower", R_NUM, &r->augment.contrast[0], 0, 10, 0, 0}, {"upper", R_NUM, &r->augment.contrast[1], 0, 10, 0, 0}};
    st = call_fields(c, e, f, 2);
    if (!st && r->augment.contrast[0] > r->augment.contrast[1])
      st = snt_error_at(c, e->loc, "contrast(lower, upper) needs lower <= upper");
  } else if (k == 4) {
    rfield f[] = {{"factor", R_NUM, &r->augment.rotation, 0, 1, 0, 0}};
    st = call_fields(c, e, f, 1);
  } else if (k == 5) {
    rfield f[] = {{"height", R_NUM, &r->augment.shift[0], 0, 1, 0, 0}, {"width", R_NUM, &r->augment.shift[1], 0, 1, 0, 0}};
    st = call_fields(c, e, f, 2);
  } else {
    rfield f[] = {{"factor", R_NUM, &r->augment.zoom, 0, 1, 0, 0}};
    st = call_fields(c, e, f, 1);
  }
  if (!st && e->u.call.n == 0) st = snt_error_at(c, e->loc, "%s needs its amount, as in %s(0.1)", name, name);
  return st;
}

static snt_status augment(snt_lower_ctx *c, snt_recipe *r, const snt_ast_expr *e) {
  if (e->kind == SNT_E_NAME && strcmp(e->u.name, "none") == 0) return SNT_OK;
  if (e->kind != SNT_E_LIST) return snt_error_at(c, e->loc, "augment is a list, such as [flip_horizontal, brightness(0.05)]");
  for (int i = 0; i < e->u.list.n; i++) {
    snt_status st = augment_item(c, r, e->u.list.items[i]);
    if (st) return st;
  }
  return SNT_OK;
}

static snt_status metrics(snt_lower_ctx *c, const snt_ast_expr *e) {
  if (e->kind != SNT_E_LIST) return snt_error_at(c, e->loc, "metrics is a list, such as [accuracy]");
  for (int i = 0; i < e->u.list.n; i++) {
    const snt_ast_expr *m = e->u.list.items[i];
    if (m->kind != SNT_E_NAME || strcmp(m->u.name, "accuracy") != 0)
      return snt_error_at(c, m->loc, "the only metric is accuracy");
  }
  return SNT_OK;
}

static snt_status setting(snt_lower_ctx *c, snt_recipe *r, const snt_ast_stmt *s) {
  static const char *const keys[] = {"loss", "optimizer", "class_weight", "batch", "epochs", "seed", "split",
                                     "augment", "bn_momentum", "metrics"};
  const char *k = s->name;
  const snt_ast_expr *e = s->expr;
  if (strcmp(k, "loss") == 0) {
    rfield f = {"loss", R_SYM, r->loss, 0, 0, losses, sizeof r->loss};
    return set_field(c, &f, e);
  }
  if (strcmp(k, "optimizer") == 0) return optimizer(c, r, e);
  if (strcmp(k, "class_weight") == 0) return class_weight(c, r, e);
  if (strcmp(k, "batch") == 0) return set_field(c, &(rfield){"batch", R_INT, &r->batch, 1, 1 << 20, 0, 0}, e);
  if (strcmp(k, "epochs") == 0) return set_field(c, &(rfield){"epochs", R_INT, &r->epochs, 1, 1 << 20, 0, 0}, e);
  if (strcmp(k, "seed") == 0) return set_field(c, &(rfield){"seed", R_INT, &r->seed, 0, 9.2e18, 0, 0}, e);
  if (strcmp(k, "split") == 0) return split(c, r, e);
  if (strcmp(k, "augment") == 0) return augment(c, r, e);
  if (strcmp(k, "bn_momentum") == 0) return set_field(c, &(rfield){"bn_momentum", R_NUM, &r->bn_momentum, 0, 1, 0, 0}, e);
  if (strcmp(k, "metrics") == 0) return metrics(c, e);
  return bad_name(c, s->name_loc, "train setting", k, keys, NFIELDS(keys));
}

static snt_status callback(snt_lower_ctx *c, snt_recipe *r, const snt_ast_expr *e) {
  static const char *const names[] = {"early_stopping", "reduce_lr_on_plateau", "checkpoint"};
  const char *k = e->u.call.callee;
  if (strcmp(k, "early_stopping") == 0) {
    r->early_stopping.enabled = true;
    rfield f[] = {{"monitor", R_SYM, r->early_stopping.monitor, 0, 0, monitors, sizeof r->early_stopping.monitor},
                  {"patience", R_INT, &r->early_stopping.patience, 0, 1 << 20, 0, 0},
                  {"restore_best", R_BOOL, &r->early_stopping.restore_best, 0, 0, 0, 0},
                  {"min_delta", R_NUM, &r->early_stopping.min_delta, 0, 1e9, 0, 0}};
    return call_fields(c, e, f, NFIELDS(f));
  }
  if (strcmp(k, "reduce_lr_on_plateau") == 0) {
    r->reduce_lr.enabled = true;
    rfield f[] = {{"monitor", R_SYM, r->reduce_lr.monitor, 0, 0, monitors, sizeof r->reduce_lr.monitor},
                  {"factor", R_NUM, &r->reduce_lr.factor, 1e-9, 0.999999, 0, 0},
                  {"patience", R_INT, &r->reduce_lr.patience, 0, 1 << 20, 0, 0},
                  {"min_lr", R_NUM, &r->reduce_lr.min_lr, 0, 10, 0, 0}};
    return call_fields(c, e, f, NFIELDS(f));
  }
  if (strcmp(k, "checkpoint") == 0) {
    r->checkpoint.enabled = true;
    rfield f[] = {{"monitor", R_SYM, r->checkpoint.monitor, 0, 0, monitors, sizeof r->checkpoint.monitor},
                  {"save_best", R_BOOL, &r->checkpoint.save_best, 0, 0, 0, 0}};
    return call_fields(c, e, f, NFIELDS(f));
  }
  return bad_name(c, e->u.call.callee_loc, "callback", k, names, NFIELDS(names));
}

snt_status snt_recipe_eval(snt_lower_ctx *c, const snt_ast_stmt *train) {
  snt_recipe *r = &c->g->recipe;
  r->present = true;
  const snt_ast_stmt *checkpoint = NULL;
  for (int i = 0; i < train->body.n; i++) {
    const snt_ast_stmt *s = train->body.stmts[i];
    snt_status st;
    if (s->kind == SNT_S_ASSIGN) st = setting(c, r, s);
    else if (s->kind == SNT_S_EXPR) st = callback(c, r, s->expr);
    else st = snt_error_at(c, s->loc, "a train section holds 'setting = value' lines and callbacks such as early_stopping(...)");
    if (st) return st;
    if (s->kind == SNT_S_EXPR && strcmp(s->expr->u.call.callee, "checkpoint") == 0) checkpoint = s;
  }
  /* One set of best weights serves best.onnx and early stopping's restore. */
  if (checkpoint && r->early_stopping.enabled && strcmp(r->checkpoint.monitor, r->early_stopping.monitor) != 0)
    return snt_error_at(c, checkpoint->loc,
                        "checkpoint monitors '%s' but early_stopping monitors '%s': sinter keeps one set of best "
                        "weights for both, so they must monitor the same value",
                        r->checkpoint.monitor, r->early_stopping.monitor);
  return SNT_OK;
}
