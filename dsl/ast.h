/* The syntax tree of a .nn file. Every node carries its source span.
 * All nodes live in the file's arena and are freed together. */
#ifndef SINTER_DSL_AST_H
#define SINTER_DSL_AST_H

#include <stdbool.h>
#include <stdint.h>

#include "sinter/diag.h"
#include "support/util.h"

typedef enum snt_ast_expr_kind {
  SNT_E_INT,
  SNT_E_FLOAT,
  SNT_E_BOOL,
  SNT_E_STRING, /* literal text with {expr} interpolations */
  SNT_E_NAME,
  SNT_E_LIST,
  SNT_E_CALL,
  SNT_E_INDEX,
  SNT_E_UNARY,
  SNT_E_BINARY,
  SNT_E_COND
} snt_ast_expr_kind;

typedef enum snt_ast_op {
  SNT_OP_ADD, SNT_OP_SUB, SNT_OP_MUL, SNT_OP_DIV, SNT_OP_FLOORDIV, SNT_OP_MOD, SNT_OP_POW,
  SNT_OP_EQ, SNT_OP_NE, SNT_OP_LT, SNT_OP_LE, SNT_OP_GT, SNT_OP_GE,
  SNT_OP_AND, SNT_OP_OR, SNT_OP_NOT, SNT_OP_NEG, SNT_OP_PLUS
} snt_ast_op;

typedef struct snt_ast_expr snt_ast_expr;

/* One argument of a call: positional when name is NULL. */
typedef struct snt_ast_arg {
  const char *name;
  snt_loc name_loc;
  snt_ast_expr *value;
} snt_ast_arg;

/* A piece of an interpolated string: text, or an expression when expr is set. */
typedef struct snt_ast_strpart {
  const char *text;
  snt_ast_expr *expr;
} snt_ast_strpart;

struct snt_ast_expr {
  snt_ast_expr_kind kind;
  snt_loc loc;
  union {
    int64_t i;
    double f;
    bool b;
    const char *name;
    struct { snt_ast_strpart *parts; int n; } str;
    struct { snt_ast_expr **items; int n; } list;
    struct { const char *callee; snt_loc callee_loc; snt_ast_arg *args; int n; } call;
    struct { snt_ast_expr *base, *index; } index;
    struct { snt_ast_op op; snt_ast_expr *a, *b; } op; /* b is NULL for unary ops */
    struct { snt_ast_expr *cond, *then, *other; } cond;
  } u;
};

typedef enum snt_ast_stmt_kind {
  SNT_S_ASSIGN,  /* name = expr */
  SNT_S_OUTPUT,  /* output name = expr */
  SNT_S_INPUT,   /* input name: [dims] */
  SNT_S_LABELS,  /* labels "a", "b" */
  SNT_S_EXPR,    /* a call evaluated for its effect (train settings) */
  SNT_S_FOR,     /* for var in expr { body } */
  SNT_S_IF,      /* if cond { body } else { body } */
  SNT_S_RETURN,  /* return expr */
  SNT_S_FREEZE,  /* freeze "pattern", ... | freeze through "name" */
  SNT_S_TRAIN    /* train { settings } */
} snt_ast_stmt_kind;

typedef struct snt_ast_stmt snt_ast_stmt;

typedef struct snt_ast_body {
  snt_ast_stmt **stmts;
  int n;
} snt_ast_body;

struct snt_ast_stmt {
  snt_ast_stmt_kind kind;
  snt_loc loc;
  const char *name; /* ASSIGN, OUTPUT, INPUT, FOR (the loop variable) */
  snt_loc name_loc;
  snt_ast_expr *expr; /* value, loop range, condition, return value, input shape */
  struct { snt_ast_expr **items; int n; } list; /* LABELS, FREEZE */
  bool through;                                  /* FREEZE through "name" */
  snt_ast_body body, other;                      /* FOR, IF, TRAIN */
};

/* A parameter of a model or block, with an optional default. */
typedef struct snt_ast_param {
  const char *name;
  snt_loc loc;
  snt_ast_expr *def;
} snt_ast_param;

typedef enum snt_ast_def_kind { SNT_D_MODEL, SNT_D_BLOCK } snt_ast_def_kind;

typedef struct snt_ast_def {
  snt_ast_def_kind kind;
  const char *name;
  snt_loc loc;
  snt_ast_param *params;
  int n_params;
  snt_ast_body body;
} snt_ast_def;

typedef struct snt_ast_file {
  snt_arena *arena;
  const snt_source *src;
  snt_ast_def **defs;
  int n_defs;
} snt_ast_file;

const char *snt_ast_op_str(snt_ast_op op);

/* Prints the tree as S-expressions (one line per statement); used by the parser tests. */
void snt_ast_dump(const snt_ast_file *f, snt_strbuf *out);

#endif
