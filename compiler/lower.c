/* Statements and models: evaluates a model body into an IR graph. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/lower_int.h"
#include "dsl/dsl.h"

static snt_status only_in(snt_lower_ctx *c, const snt_ast_stmt *s, snt_ast_def_kind kind, const char *what) {
  if (c->fr->def->kind == kind) return SNT_OK;
  if (kind == SNT_D_MODEL) return snt_error_at(c, s->loc, "'%s' belongs in a model body, not in a block", what);
  return snt_error_at(c, s->loc, "'return' belongs in a block, not in a model body");
}

static snt_status stmt_input(snt_lower_ctx *c, const snt_ast_stmt *s) {
  snt_status st = only_in(c, s, SNT_D_MODEL, "input");
  if (st) return st;
  if (snt_lookup(c, s->name))
    return snt_error_at(c, s->name_loc, "'%s' is already bound: an input needs a new name", s->name);
  snt_value v;
  if ((st = snt_eval(c, s->expr, 0, &v))) return st;
  if (v.kind != SNT_V_LIST || v.u.list.n < 1 || v.u.list.n >= SNT_MAX_RANK)
    return snt_error_at(c, s->expr->loc, "an input shape is a list of 1 to %d sizes, such as [3, 224, 224]",
                        SNT_MAX_RANK - 1);
  int64_t dims[SNT_MAX_RANK] = {c->g->batch};
  for (int i = 0; i < v.u.list.n; i++) {
    const snt_value *d = &v.u.list.items[i];
    if (d->kind != SNT_V_INT || d->u.i < 1 || d->u.i > (1 << 24)) {
      snt_loc at = s->expr->kind == SNT_E_LIST && i < s->expr->u.list.n ? s->expr->u.list.items[i]->loc : s->expr->loc;
      snt_strbuf b = {0};
      snt_value_format(d, &b);
      st = snt_error_at(c, at, "input '%s': dimension %d must be a positive integer (at most %d), got %s %s", s->name,
                        i + 1, 1 << 24, snt_value_kind_noun(d->kind), b.data ? b.data : "");
      snt_sb_free(&b);
      return st;
    }
    dims[i + 1] = d->u.i;
  }
  int64_t numel = 0;
  if (!snt_dims_numel(v.u.list.n + 1, dims, &numel) || numel > SNT_MAX_ELEMENTS)
    return snt_error_at(c, s->expr->loc, "input '%s': the shape holds more than 4294967296 (2^32) elements with the batch, "
                        "the cap per tensor", s->name);
  int t = snt_ir_add_tensor(c->g, s->name, SNT_T_INPUT, SNT_F32, v.u.list.n + 1, dims);
  if (t < 0 || snt_ir_mark_input(c->g, t) || !SNT_GROW(c->inputs, c->n_inputs + 1, c->cap_inputs))
    return SNT_ERR_NOMEM;
  c->inputs[c->n_inputs++] = s;
  c->g->tensors[t].batched = true;
  return snt_bind(c, s->name, (snt_value){SNT_V_TENSOR, {.tensor = t}});
}

static snt_status stmt_output(snt_lower_ctx *c, const snt_ast_stmt *s) {
  snt_status st = only_in(c, s, SNT_D_MODEL, "output");
  if (st) return st;
  snt_value v;
  if (s->expr) {
    if ((st = snt_eval(c, s->expr, 0, &v)) || (st = snt_bind(c, s->name, v))) return st;
  } else {
    const snt_value *b = snt_lookup(c, s->name);
    if (!b) return snt_unbound_name(c, s->name, s->name_loc);
    v = *b;
  }
  if (v.kind != SNT_V_TENSOR)
    return snt_error_at(c, s->expr ? s->expr->loc : s->name_loc, "an output must be a tensor, got %s",
                        snt_value_kind_name(v.kind));
  for (int i = 0; i < c->g->n_outputs; i++)
    if (c->g->outputs[i] == v.u.tensor) return snt_error_at(c, s->loc, "this tensor is already an output");
  /* The output is known by the name the model gives it (`output probs = ...`), in exported ONNX
   * files too, unless another value already has that name. */
  bool taken = false;
  for (int t = 0; t < c->g->n_tensors && !taken; t++) taken = strcmp(c->g->tensors[t].name, s->name) == 0;
  char *name = taken ? NULL : snt_strdup(s->name);
  if (name) {
    free(c->g->tensors[v.u.tensor].name);
    c->g->tensors[v.u.tensor].name = name;
  }
  return snt_ir_mark_output(c->g, v.u.tensor);
}

static snt_status stmt_labels(snt_lower_ctx *c, const snt_ast_stmt *s) {
  snt_status st = only_in(c, s, SNT_D_MODEL, "labels");
  if (st) return st;
  if (c->labels_stmt) return snt_error_at(c, s->loc, "labels are already given at line %d", c->labels_stmt->loc.line);
  c->labels_stmt = s;
  for (int i = 0; i < s->list.n; i++) {
    snt_value v;
    if ((st = snt_eval(c, s->list.items[i], 0, &v))) return st;
    if (v.kind != SNT_V_STR || !v.u.s[0])
      return snt_error_at(c, s->list.items[i]->loc, "a label is a non-empty string, got %s", snt_value_kind_name(v.kind));
    for (int k = 0; k < c->g->n_labels; k++)
      if (strcmp(c->g->labels[k], v.u.s) == 0) return snt_error_at(c, s->list.items[i]->loc, "label '%s' is repeated", v.u.s);
    if (c->g->n_labels >= SNT_MAX_CLASSES)
      return snt_error_at(c, s->list.items[i]->loc, "more than %d labels", SNT_MAX_CLASSES);
    if ((st = snt_ir_add_label(c->g, v.u.s))) return st;
  }
  return SNT_OK;
}

static snt_status stmt_for(snt_lower_ctx *c, const snt_ast_stmt *s) {
  snt_value list;
  snt_status st = snt_eval(c, s->expr, 0, &list);
  if (st) return st;
  if (list.kind != SNT_V_LIST)
    return snt_error_at(c, s->expr->loc, "'for' walks a list or a range, not %s", snt_value_kind_noun(list.kind));
  for (int i = 0; i < list.u.list.n && !c->fr->returned; i++) {
    if ((st = snt_bind(c, s->name, list.u.list.items[i])) || (st = snt_eval_body(c, &s->body))) return st;
  }
  return SNT_OK;
}

static snt_status stmt_if(snt_lower_ctx *c, const snt_ast_stmt *s) {
  snt_value cond;
  snt_status st = snt_eval(c, s->expr, 0, &cond);
  if (st) return st;
  if (cond.kind != SNT_V_BOOL)
    return snt_error_at(c, s->expr->loc, "a condition must be true or false, got %s", snt_value_kind_name(cond.kind));
  return snt_eval_body(c, cond.u.b ? &s->body : &s->other);
}

static snt_status stmt_call(snt_lower_ctx *c, const snt_ast_stmt *s) {
  return snt_error_at(c, s->expr->u.call.callee_loc,
                      "the result of %s(...) is not used: bind it to a name (x = %s(...))", s->expr->u.call.callee,
                      s->expr->u.call.callee);
}

static snt_status stmt(snt_lower_ctx *c, const snt_ast_stmt *s) {
  snt_status st;
  snt_value v;
  switch (s->kind) {
    case SNT_S_ASSIGN:
      if ((st = snt_eval(c, s->expr, 0, &v))) return st;
      return snt_bind(c, s->name, v);
    case SNT_S_OUTPUT: return stmt_output(c, s);
    case SNT_S_INPUT: return stmt_input(c, s);
    case SNT_S_LABELS: return stmt_labels(c, s);
    case SNT_S_EXPR: return stmt_call(c, s);
    case SNT_S_FOR: return stmt_for(c, s);
    case SNT_S_IF: return stmt_if(c, s);
    case SNT_S_RETURN:
      if ((st = only_in(c, s, SNT_D_BLOCK, "return"))) return st;
      if ((st = snt_eval(c, s->expr, 0, &c->fr->ret))) return st;
      c->fr->returned = true;
      return SNT_OK;
    case SNT_S_FREEZE:
      if ((st = only_in(c, s, SNT_D_MODEL, "freeze"))) return st;
      if (!SNT_GROW(c->freezes, c->n_freezes + 1, c->cap_freezes)) return SNT_ERR_NOMEM;
      c->freezes[c->n_freezes++] = s;
      return SNT_OK;
    case SNT_S_TRAIN:
      if ((st = only_in(c, s, SNT_D_MODEL, "train"))) return st;
      if (c->g->recipe.present) return snt_error_at(c, s->loc, "a model has one train section");
      return snt_recipe_eval(c, s);
  }
  return SNT_ERR_INTERNAL;
}

snt_status snt_eval_body(snt_lower_ctx *c, const snt_ast_body *b) {
  for (int i = 0; i < b->n && !c->fr->returned; i++) {
    snt_status st = stmt(c, b->stmts[i]);
    if (st) return st;
  }
  return SNT_OK;
}

/* ---- the model ---- */

static snt_status apply_freezes(snt_lower_ctx *c) {
  for (int i = 0; i < c->n_freezes; i++) {
    const snt_ast_stmt *s = c->freezes[i];
    for (int k = 0; k < s->list.n; k++) {
      snt_value v;
      snt_status st = snt_eval(c, s->list.items[k], 0, &v);
      if (st) return st;
      if (v.kind != SNT_V_STR)
        return snt_error_at(c, s->list.items[k]->loc, "freeze takes layer names (strings), got %s",
                            snt_value_kind_name(v.kind));
      int matched = 0;
      if (s->through) {
        int last = snt_lower_find_layer(c, v.u.s);
        for (int n = 0; n <= last; n++) c->g->nodes[n].frozen = true;
        matched = last + 1;
      } else {
        for (int n = 0; n < c->g->n_nodes; n++)
          if (fnmatch(v.u.s, c->g->nodes[n].name, 0) == 0) c->g->nodes[n].frozen = true, matched++;
      }
      if (matched) continue;
      const char **names = malloc(sizeof(char *) * (size_t)(c->g->n_nodes + 1));
      if (!names) return SNT_ERR_NOMEM;
      for (int n = 0; n < c->g->n_nodes; n++) names[n] = c->g->nodes[n].name;
      const char *near = snt_nearest(v.u.s, names, c->g->n_nodes);
      st = near ? snt_error_at(c, s->list.items[k]->loc, "no layer is named '%s' (did you mean '%s'?)", v.u.s, near)
                : snt_error_at(c, s->list.items[k]->loc, "no layer is named '%s'", v.u.s);
      free(names);
      return st;
    }
  }
  return SNT_OK;
}

static snt_status check_model(snt_lower_ctx *c, const snt_ast_def *def) {
  snt_graph *g = c->g;
  if (g->n_inputs == 0)
    return snt_error_at(c, def->loc, "model '%s' has no input: declare one with 'input NAME: [channels, height, width]'",
                        def->name);
  if (g->n_outputs == 0)
    return snt_error_at(c, def->loc, "model '%s' has no output: mark one with 'output NAME = ...'", def->name);
  for (int i = 0; i < g->n_inputs; i++) {
    bool used = false;
    for (int n = 0; n < g->n_nodes && !used; n++)
      for (int k = 0; k < g->nodes[n].n_act_in && !used; k++) used = g->nodes[n].in[k] == g->inputs[i];
    for (int o = 0; o < g->n_outputs && !used; o++) used = g->outputs[o] == g->inputs[i];
    if (!used) return snt_error_at(c, c->inputs[i]->name_loc, "input '%s' is never used", c->inputs[i]->name);
  }
  const snt_tensor *out = &g->tensors[g->outputs[0]];
  if (c->labels_stmt && out->rank == 2 && out->dims[1] != g->n_labels)
    return snt_error_at(c, c->labels_stmt->loc, "%d labels for an output of %lld classes ('%s')", g->n_labels,
                        (long long)out->dims[1], out->name);
  if (g->recipe.class_weight == SNT_CW_EXPLICIT && g->n_labels && g->recipe.n_class_weights != g->n_labels)
    return snt_error_at(c, c->class_weight_loc, "the train section gives %d class weights for %d labels",
                        g->recipe.n_class_weights, g->n_labels);
  return SNT_OK;
}

/* A --set value is a DSL expression (64, 0.5, true, [32, 64], "text", 2 * base); a bare word
 * that names nothing is a string, and so is any text that does not look like an expression. */
static snt_status set_value(snt_lower_ctx *c, const snt_param_set *set, snt_value *out) {
  char *label = snt_format("--set %s", set->name);
  if (!label) return SNT_ERR_NOMEM;
  const snt_source *src = snt_diag_add_source(c->d, label, set->value, strlen(set->value));
  free(label);
  snt_diag *quiet = snt_diag_create();
  if (!src || !quiet) {
    snt_diag_destroy(quiet);
    return SNT_ERR_NOMEM;
  }
  snt_ast_file *holder = NULL;
  snt_ast_expr *e = NULL;
  snt_status st = snt_dsl_parse_expression(quiet, src, &holder, &e);
  snt_diag_destroy(quiet);
  if (st == SNT_ERR_INPUT) {
    if (!strchr("[(\"-+.0123456789", set->value[0]) || !set->value[0]) {
      const char *s = snt_arena_strdup(c->arena, set->value);
      *out = (snt_value){SNT_V_STR, {.s = s}};
      return s ? SNT_OK : SNT_ERR_NOMEM;
    }
    return snt_dsl_parse_expression(c->d, src, &holder, &e); /* reports the syntax error */
  }
  if (st) return st;
  const snt_source *model_src = c->src;
  c->src = src;
  st = snt_eval(c, e, SNT_EVAL_SYMBOLS, out);
  c->src = model_src;
  if (st == SNT_OK && out->kind == SNT_V_SYMBOL) {
    const char *s = snt_arena_strdup(c->arena, out->u.s); /* the tree's text goes away below */
    *out = (snt_value){SNT_V_STR, {.s = s}};
    if (!s) st = SNT_ERR_NOMEM;
  }
  snt_ast_file_destroy(holder);
  return st;
}

static snt_status bind_model_params(snt_lower_ctx *c, const snt_ast_def *def) {
  const snt_lower_opts *o = c->opts;
  for (int k = 0; k < o->n_sets; k++) {
    bool found = false;
    for (int p = 0; p < def->n_params; p++) found |= strcmp(def->params[p].name, o->sets[k].name) == 0;
    if (found) continue;
    const char **names = snt_arena_alloc(c->arena, sizeof(char *) * (size_t)(def->n_params + 1));
    if (!names) return SNT_ERR_NOMEM;
    snt_strbuf b = {0};
    for (int p = 0; p < def->n_params; p++) {
      names[p] = def->params[p].name;
      snt_sb_printf(&b, "%s%s", p ? ", " : "", names[p]);
    }
    const char *near = snt_nearest(o->sets[k].name, names, def->n_params);
    snt_status st = near ? snt_diag_error(c->d, NULL, (snt_loc){0}, "--set %s: model '%s' has no parameter '%s' (did you mean '%s'?)",
                                          o->sets[k].name, def->name, o->sets[k].name, near)
                         : snt_diag_error(c->d, NULL, (snt_loc){0}, "--set %s: model '%s' has no parameter '%s' (its parameters: %s)",
                                          o->sets[k].name, def->name, o->sets[k].name, b.data ? b.data : "none");
    snt_sb_free(&b);
    return st;
  }
  for (int p = 0; p < def->n_params; p++) {
    const snt_ast_param *pa = &def->params[p];
    snt_value v = {0};
    const snt_param_set *set = NULL;
    for (int k = 0; k < o->n_sets; k++)
      if (strcmp(o->sets[k].name, pa->name) == 0) set = &o->sets[k];
    if (!set && !pa->def)
      return snt_error_at(c, pa->loc, "model parameter '%s' has no default: give it with --set %s=VALUE", pa->name, pa->name);
    snt_status st = set ? set_value(c, set, &v) : snt_eval(c, pa->def, 0, &v);
    if (st || (st = snt_bind(c, pa->name, v))) return st;
  }
  return SNT_OK;
}

static snt_status check_defs(snt_lower_ctx *c) {
  const snt_ast_file *f = c->file;
  for (int i = 0; i < f->n_defs; i++) {
    const snt_ast_def *d = f->defs[i];
    for (int k = 0; k < i; k++)
      if (strcmp(f->defs[k]->name, d->name) == 0)
        return snt_error_at(c, d->loc, "'%s' is already defined at line %d", d->name, f->defs[k]->loc.line);
    if (snt_op_find(d->name))
      return snt_error_at(c, d->loc, "'%s' is the name of an op: pick another name", d->name);
    for (int p = 0; p < d->n_params; p++)
      for (int k = 0; k < p; k++)
        if (strcmp(d->params[k].name, d->params[p].name) == 0)
          return snt_error_at(c, d->params[p].loc, "parameter '%s' is listed twice", d->params[p].name);
  }
  return SNT_OK;
}

static snt_status pick_model(snt_lower_ctx *c, const snt_ast_def **out) {
  const snt_ast_file *f = c->file;
  int n = 0;
  snt_strbuf names = {0};
  for (int i = 0; i < f->n_defs; i++) {
    if (f->defs[i]->kind != SNT_D_MODEL) continue;
    snt_sb_printf(&names, "%s%s", n++ ? ", " : "", f->defs[i]->name);
    if (!c->opts->model || strcmp(c->opts->model, f->defs[i]->name) == 0) *out = f->defs[i];
  }
  snt_status st = SNT_OK;
  if (n == 0)
    st = snt_diag_error(c->d, f->src, (snt_loc){0}, "no model is defined: a file needs 'model NAME { ... }'");
  else if (c->opts->model && !*out)
    st = snt_diag_error(c->d, f->src, (snt_loc){0}, "no model named '%s' (models: %s)", c->opts->model, names.data);
  else if (n > 1 && !c->opts->model)
    st = snt_diag_error(c->d, f->src, (snt_loc){0}, "%d models are defined (%s): choose one with --model NAME", n,
                        names.data);
  snt_sb_free(&names);
  return st;
}

snt_status snt_lower(snt_diag *d, const snt_ast_file *f, const snt_lower_opts *o, snt_graph **out) {
  *out = NULL;
  snt_lower_ctx c = {.d = d, .src = f->src, .file = f, .opts = o, .arena = snt_arena_create()};
  if (!c.arena) return SNT_ERR_NOMEM;
  const snt_ast_def *def = NULL;
  snt_status st = check_defs(&c);
  if (!st) st = pick_model(&c, &def);
  if (!st && !(c.g = snt_ir_create(def->name))) st = SNT_ERR_NOMEM;
  snt_frame fr = {.def = def};
  if (!st) {
    c.g->src = f->src;
    c.g->batch = o->batch > 0 ? o->batch : 1;
    c.fr = c.model_frame = &fr;
    st = bind_model_params(&c, def);
    if (!st) st = snt_eval_body(&c, &def->body);
    if (!st && !o->no_freeze) st = apply_freezes(&c);
    if (!st) st = check_model(&c, def);
  }
  free(fr.b);
  free(c.counters);
  free(c.name_hash);
  free(c.inputs);
  free(c.freezes);
  snt_arena_destroy(c.arena);
  if (st) {
    snt_ir_destroy(c.g);
    return st;
  }
  *out = c.g;
  return SNT_OK;
}

snt_status snt_load_model(snt_diag *d, const char *path, const snt_lower_opts *o, snt_graph **out) {
  *out = NULL;
  const snt_source *src = snt_diag_load_file(d, path);
  if (!src) return SNT_ERR_IO;
  snt_ast_file *f = NULL;
  snt_status st = snt_dsl_parse(d, src, &f);
  if (st) return st;
  st = snt_lower(d, f, o, out);
  snt_ast_file_destroy(f);
  return st;
}
