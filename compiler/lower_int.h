/* Internal state of the lowering (eval.c, lower.c, attr.c, recipe.c). */
#ifndef SINTER_COMPILER_LOWER_INT_H
#define SINTER_COMPILER_LOWER_INT_H

#include "compiler/lower.h"
#include "compiler/op.h"
#include "compiler/value.h"

/* Bounds that keep a runaway model (or a fuzzer's input) from exhausting the machine. */
enum {
  SNT_MAX_CALL_DEPTH = 64,
  SNT_MAX_STEPS = 5000000,   /* expressions evaluated */
  SNT_MAX_NODES = 20000,
  SNT_MAX_LIST = 1000000
};

typedef struct snt_binding {
  const char *name;
  snt_value v;
} snt_binding;

/* A model body or one block call: its own names, layer-name prefix and freeze state. */
typedef struct snt_frame {
  const snt_ast_def *def;
  snt_binding *b;
  int n, cap;
  const char *prefix; /* joined to explicit layer names with '_' */
  bool frozen;        /* the call had trainable = false */
  bool returned;
  snt_value ret;
} snt_frame;

typedef struct snt_name_counter {
  const char *base;
  int next;
} snt_name_counter;

typedef struct snt_lower_ctx {
  snt_diag *d;
  const snt_source *src;
  const snt_ast_file *file;
  const snt_lower_opts *opts;
  snt_graph *g;
  snt_arena *arena; /* values and strings of this evaluation */
  snt_frame *fr;
  snt_frame *model_frame; /* the model body, to explain names a block cannot see */
  snt_loc class_weight_loc;
  int depth;      /* block calls */
  int expr_depth; /* nested expressions */
  int64_t steps;
  snt_name_counter *counters;
  int n_counters, cap_counters;
  int *name_hash; /* open addressing over node names: node index + 1, 0 = empty */
  int hash_cap;
  const snt_ast_stmt **inputs; /* the input statements, for the unused-input check */
  int n_inputs, cap_inputs;
  const snt_ast_stmt **freezes;
  int n_freezes, cap_freezes;
  const snt_ast_stmt *labels_stmt;
} snt_lower_ctx;

/* eval.c */
enum { SNT_EVAL_SYMBOLS = 1 }; /* an unbound bare name is a symbol (same, relu, val_loss) */
snt_status snt_eval(snt_lower_ctx *c, const snt_ast_expr *e, int flags, snt_value *out);
snt_status snt_eval_body(snt_lower_ctx *c, const snt_ast_body *b);
snt_status snt_bind(snt_lower_ctx *c, const char *name, snt_value v);
const snt_value *snt_lookup(snt_lower_ctx *c, const char *name);
snt_status snt_error_at(snt_lower_ctx *c, snt_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
snt_status snt_call_op(snt_lower_ctx *c, const snt_op *op, const snt_ast_expr *call, const snt_value *inputs,
                       int n_inputs, snt_value *out);

/* Evaluates `name = "..."` or `trainable = bool`, which every layer and block call takes. */
bool snt_is_common_arg(const char *name);
snt_status snt_eval_common_arg(snt_lower_ctx *c, const snt_ast_arg *a, const char **name, int *trainable);

/* Reports a use of a name that nothing bound yet, with the most helpful hint. */
snt_status snt_unbound_name(snt_lower_ctx *c, const char *name, snt_loc loc);

/* "prefix_name", or name when there is no prefix (arena string). */
const char *snt_join_name(snt_lower_ctx *c, const char *prefix, const char *name);

/* layer.c: the node named `name`, or -1. */
int snt_lower_find_layer(const snt_lower_ctx *c, const char *name);

/* attr.c: converts an evaluated argument into node attributes following its spec. */
snt_status snt_attr_from_value(snt_lower_ctx *c, snt_node *n, const snt_arg_spec *spec, const snt_value *v,
                               snt_loc loc);
/* The default of an argument as a value. */
snt_value snt_attr_default(snt_lower_ctx *c, const snt_arg_spec *spec);

/* recipe.c */
snt_status snt_recipe_eval(snt_lower_ctx *c, const snt_ast_stmt *train);

#endif
