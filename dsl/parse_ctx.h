/* State shared by the lexer and the parser of one parse (no globals). */
#ifndef SINTER_DSL_PARSE_CTX_H
#define SINTER_DSL_PARSE_CTX_H

#include "dsl/ast.h"

typedef struct snt_parse_ctx {
  snt_arena *arena;
  snt_diag *diag;
  const snt_source *src;
  snt_ast_file *file;      /* filled by a file parse */
  snt_ast_expr *expr;      /* filled by an expression parse (string interpolation) */
  snt_ast_def **defs;      /* the definitions of a file parse */
  int n_defs, cap_defs;
  int start_token;         /* first token handed to the parser, then 0 */
  int init_line, init_col; /* where the parsed text starts in its source */
  int depth;               /* nesting of string interpolations */
  bool failed;             /* an error was reported */
  bool nomem;              /* an allocation failed */
} snt_parse_ctx;

struct SNT_YYLTYPE;
void snt_parse_error(snt_parse_ctx *ctx, const struct SNT_YYLTYPE *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses text[0..len) as one expression that starts at line:col of ctx->src (string
 * interpolation); errors go to ctx. */
snt_status snt_dsl_parse_expr(snt_parse_ctx *ctx, const char *text, size_t len, int line, int col,
                              snt_ast_expr **out);

#endif
