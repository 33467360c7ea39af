/* The DSL front end: .nn text to syntax tree. */
#ifndef SINTER_DSL_H
#define SINTER_DSL_H

#include "dsl/ast.h"
#include "sinter/diag.h"

/* Parses a source registered in d. On success *out is a tree the caller frees with
 * snt_ast_file_destroy; on failure the errors are in d and *out is NULL. */
snt_status snt_dsl_parse(snt_diag *d, const snt_source *src, snt_ast_file **out);

void snt_ast_file_destroy(snt_ast_file *f);

/* Parses a whole source as one expression (a --set value). *holder owns the tree and is
 * freed with snt_ast_file_destroy; errors go to d. */
snt_status snt_dsl_parse_expression(snt_diag *d, const snt_source *src, snt_ast_file **holder, snt_ast_expr **out);

/* Token dump for the lexer tests: one "line:col KIND text" per token. */
snt_status snt_dsl_tokens(snt_diag *d, const snt_source *src, snt_strbuf *out);

#endif
