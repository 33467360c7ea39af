/* Calling an op from the DSL: arguments to attributes, Keras layer names, parameters
 * and shape inference of the new layer. */
#include <stdlib.h>
#include <string.h>

#include "compiler/lower_int.h"

/* ---- layer names: an open-addressing set over node names ---- */

static uint32_t hash_name(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static int name_lookup(const snt_lower_ctx *c, const char *name) {
  if (!c->hash_cap) return -1;
  for (uint32_t i = hash_name(name) & (uint32_t)(c->hash_cap - 1);; i = (i + 1) & (uint32_t)(c->hash_cap - 1)) {
    int v = c->name_hash[i];
    if (!v) return -1;
    if (strcmp(c->g->nodes[v - 1].name, name) == 0) return v - 1;
  }
}

static snt_status name_insert(snt_lower_ctx *c, int node) {
  if ((c->g->n_nodes + 1) * 2 > c->hash_cap) {
    int cap = c->hash_cap ? c->hash_cap * 2 : 256;
    int *h = calloc((size_t)cap, sizeof *h);
    if (!h) return SNT_ERR_NOMEM;
    free(c->name_hash);
    c->name_hash = h;
    c->hash_cap = cap;
    for (int i = 0; i < c->g->n_nodes; i++) {
      if (i == node) continue;
      uint32_t k = hash_name(c->g->nodes[i].name) & (uint32_t)(cap - 1);
      while (h[k]) k = (k + 1) & (uint32_t)(cap - 1);
      h[k] = i + 1;
    }
  }
  uint32_t k = hash_name(c->g->nodes[node].name) & (uint32_t)(c->hash_cap - 1);
  while (c->name_hash[k]) k = (k + 1) & (uint32_t)(c->hash_cap - 1);
  c->name_hash[k] = node + 1;
  return SNT_OK;
}

int snt_lower_find_layer(const snt_lower_ctx *c, const char *name) { return name_lookup(c, name); }

/* Keras's default name: the base, then base_1, base_2, ... skipping names in use. */
static const char *default_name(snt_lower_ctx *c, const char *base) {
  snt_name_counter *ctr = NULL;
  for (int i = 0; i < c->n_counters; i++)
    if (strcmp(c->counters[i].base, base) == 0) ctr = &c->counters[i];
  if (!ctr) {
    if (!SNT_GROW(c->counters, c->n_counters + 1, c->cap_counters)) return NULL;
    ctr = &c->counters[c->n_counters++];
    *ctr = (snt_name_counter){base, 0};
  }
  for (;;) {
    int k = ctr->next++;
    char *s = k == 0 ? snt_arena_strdup(c->arena, base) : snt_arena_alloc(c->arena, strlen(base) + 16);
    if (!s) return NULL;
    if (k) sprintf(s, "%s_%d", base, k);
    if (name_lookup(c, s) < 0) return s;
  }
}

/* ---- arguments ---- */

typedef struct op_args {
  const snt_value **vals; /* per spec entry, NULL when not given */
  snt_loc *locs;
  const char *name;
  snt_loc name_loc;
  int trainable; /* -1: not given */
} op_args;

static int spec_count(const snt_op *op) {
  int n = 0;
  while (op->args[n].name) n++;
  return n;
}

static void list_args(const snt_op *op, snt_strbuf *b) {
  snt_sb_puts(b, "x");
  for (int i = 0; op->args[i].name; i++) snt_sb_printf(b, ", %s", op->args[i].name);
}

static snt_status bind_attr(snt_lower_ctx *c, const snt_op *op, op_args *a, int k, const snt_ast_arg *arg) {
  if (a->vals[k])
    return snt_error_at(c, arg->name ? arg->name_loc : arg->value->loc, "%s: argument '%s' is given twice", op->name,
                        op->args[k].name);
  snt_value *v = snt_arena_alloc(c->arena, sizeof *v);
  if (!v) return SNT_ERR_NOMEM;
  int flags = op->args[k].type == SNT_ARG_SYMBOL || op->args[k].type == SNT_ARG_PADDING ? SNT_EVAL_SYMBOLS : 0;
  snt_status st = snt_eval(c, arg->value, flags, v);
  if (st) return st;
  a->vals[k] = v;
  a->locs[k] = arg->value->loc;
  return SNT_OK;
}

static snt_status named_arg(snt_lower_ctx *c, const snt_op *op, op_args *a, const snt_ast_arg *arg) {
  int ns = spec_count(op);
  for (int k = 0; k < ns; k++)
    if (strcmp(op->args[k].name, arg->name) == 0) return bind_attr(c, op, a, k, arg);
  if (snt_is_common_arg(arg->name)) {
    snt_status st = snt_eval_common_arg(c, arg, &a->name, &a->trainable);
    if (st == SNT_OK && arg->name[0] == 'n') a->name_loc = arg->value->loc;
    return st;
  }
  const char **names = snt_arena_alloc(c->arena, sizeof(char *) * (size_t)(ns + 2));
  if (!names) return SNT_ERR_NOMEM;
  for (int k = 0; k < ns; k++) names[k] = op->args[k].name;
  names[ns] = "name";
  names[ns + 1] = "trainable";
  const char *near = snt_nearest(arg->name, names, ns + 2);
  if (near)
    return snt_error_at(c, arg->name_loc, "unknown attribute '%s' for %s (did you mean '%s'?)", arg->name, op->name, near);
  snt_strbuf b = {0};
  list_args(op, &b);
  snt_status st = snt_error_at(c, arg->name_loc, "unknown attribute '%s' for %s (it takes %s, name, trainable)",
                               arg->name, op->name, b.data ? b.data : "");
  snt_sb_free(&b);
  return st;
}

/* Splits a call's arguments into input tensors and attribute values. */
static snt_status collect_args(snt_lower_ctx *c, const snt_op *op, const snt_ast_expr *call, snt_value **inputs,
                               int *n_inputs, op_args *a) {
  int n_pos = 0;
  for (int i = 0; i < call->u.call.n; i++) n_pos += !call->u.call.args[i].name;
  int n_in = op->max_inputs < 0 ? n_pos : (n_pos < op->max_inputs ? n_pos : op->max_inputs);
  int ns = spec_count(op);
  if (n_pos - n_in > ns) {
    snt_strbuf b = {0};
    list_args(op, &b);
    snt_status st = snt_error_at(c, call->loc, "%s takes at most %d positional arguments (%s), got %d", op->name,
                                 n_in + ns, b.data ? b.data : "", n_pos);
    snt_sb_free(&b);
    return st;
  }
  *inputs = snt_arena_alloc(c->arena, sizeof(snt_value) * (size_t)(n_in + 1));
  if (!*inputs) return SNT_ERR_NOMEM;
  *n_inputs = n_in;
  int pos = 0;
  for (int i = 0; i < call->u.call.n; i++) {
    const snt_ast_arg *arg = &call->u.call.args[i];
    snt_status st;
    if (arg->name) {
      st = named_arg(c, op, a, arg);
    } else if (pos < n_in) {
      st = snt_eval(c, arg->value, 0, &(*inputs)[pos]);
      if (!st && (*inputs)[pos].kind != SNT_V_TENSOR)
        st = snt_error_at(c, arg->value->loc, "%s: argument %d must be a tensor, got %s", op->name, pos + 1,
                          snt_value_kind_name((*inputs)[pos].kind));
      pos++;
    } else {
      st = bind_attr(c, op, a, pos++ - n_in, arg);
    }
    if (st) return st;
  }
  return SNT_OK;
}

/* ---- the call ---- */

static snt_status make_node(snt_lower_ctx *c, const snt_op *op, const snt_ast_expr *call, const snt_value *inputs,
                            int n_in, op_args *a, snt_value *out) {
  if (c->g->n_nodes >= SNT_MAX_NODES)
    return snt_error_at(c, call->loc, "the model has more than %d layers", SNT_MAX_NODES);
  /* Explicit names are scoped by the enclosing block calls; default names are global. */
  const char *name = a->name ? snt_join_name(c, c->fr->prefix, a->name) : default_name(c, op->default_layer);
  if (!name) return SNT_ERR_NOMEM;
  int prev = name_lookup(c, name);
  if (prev >= 0) {
    const snt_node *p = &c->g->nodes[prev];
    snt_loc at = a->name ? a->name_loc : call->loc;
    if (c->depth > 0)
      return snt_error_at(c, at, "layer name '%s' is already used by the %s layer at line %d: give each call of "
                          "block '%s' its own name = \"...\"", name, p->op->name, p->loc.line, c->fr->def->name);
    return snt_error_at(c, at, "layer name '%s' is already used by the %s layer at line %d", name, p->op->name,
                        p->loc.line);
  }
  int node = snt_ir_add_node(c->g, op, name, call->loc);
  if (node < 0 || name_insert(c, node) != SNT_OK) return SNT_ERR_NOMEM;
  for (int i = 0; i < n_in; i++)
    if (snt_ir_node_add_input(c->g, node, inputs[i].u.tensor) != SNT_OK) return SNT_ERR_NOMEM;
  c->g->nodes[node].n_act_in = n_in;
  c->g->nodes[node].frozen = !c->opts->no_freeze && (c->fr->frozen || a->trainable == 0);
  for (int k = 0; op->args[k].name; k++) {
    snt_value def;
    const snt_value *v = a->vals[k];
    if (!v) {
      def = snt_attr_default(c, &op->args[k]);
      v = &def;
    }
    snt_status st = snt_attr_from_value(c, &c->g->nodes[node], &op->args[k], v, a->vals[k] ? a->locs[k] : call->loc);
    if (st) return st;
  }
  int t = snt_ir_node_add_output(c->g, node, name);
  if (t < 0) return SNT_ERR_NOMEM;
  snt_status st = op->params ? op->params(c->g, node, c->d) : SNT_OK;
  if (!st) st = op->infer(c->g, node, c->d);
  if (!st) st = snt_check_node_sizes(c->g, node, c->d); /* parameters too: 2^62 filters */
  *out = (snt_value){SNT_V_TENSOR, {.tensor = t}};
  return st;
}

snt_status snt_call_op(snt_lower_ctx *c, const snt_op *op, const snt_ast_expr *call, const snt_value *given,
                       int n_given, snt_value *out) {
  int ns = spec_count(op);
  op_args a = {.trainable = -1};
  a.vals = snt_arena_alloc(c->arena, sizeof(snt_value *) * (size_t)(ns + 1));
  a.locs = snt_arena_alloc(c->arena, sizeof(snt_loc) * (size_t)(ns + 1));
  if (!a.vals || !a.locs) return SNT_ERR_NOMEM;
  snt_value *inputs = (snt_value *)given;
  int n_in = n_given;
  if (!given) {
    snt_status st = collect_args(c, op, call, &inputs, &n_in, &a);
    if (st) return st;
  }
  snt_loc at = call->kind == SNT_E_CALL ? call->u.call.callee_loc : call->loc;
  if (n_in < op->min_inputs)
    return snt_error_at(c, at, "%s needs %s%d input tensor%s, got %d", op->name, op->max_inputs < 0 ? "at least " : "",
                        op->min_inputs, op->min_inputs == 1 ? "" : "s", n_in);
  for (int k = 0; k < ns; k++)
    if (!a.vals[k] && !op->args[k].def)
      return snt_error_at(c, at, "%s needs argument '%s'", op->name, op->args[k].name);
  return make_node(c, op, call, inputs, n_in, &a, out);
}
