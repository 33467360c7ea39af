/* Drives the flex scanner and the bison parser over a source text. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "dsl/parse_ctx.h"
#include "dsl/parser.h"
#include "dsl/lexer.h"

/* Interpolations nest ("{f("{x}")}" cannot, but this bounds the recursion anyway). */
enum { MAX_INTERPOLATION_DEPTH = 8 };

const char *snt_dsl_token_name(int token);

void snt_parse_error(snt_parse_ctx *ctx, const SNT_YYLTYPE *loc, const char *fmt, ...) {
  if (ctx->failed) return; /* the first error is the one that explains the rest */
  ctx->failed = true;
  snt_loc l = {loc->first_line, loc->first_column, loc->last_line, loc->last_column};
  va_list ap;
  va_start(ap, fmt);
  snt_diag_vadd(ctx->diag, SNT_SEV_ERROR, ctx->src, l, fmt, ap);
  va_end(ap);
}

/* Runs one parse of text with the given start token. */
static snt_status run_parser(snt_parse_ctx *ctx, const char *text, size_t len) {
  yyscan_t scanner;
  if (snt_yylex_init_extra(ctx, &scanner) != 0) return SNT_ERR_NOMEM;
  YY_BUFFER_STATE buf = snt_yy_scan_bytes(text, (int)len, scanner);
  int rc = buf ? snt_yyparse(scanner, ctx) : 2;
  if (buf) snt_yy_delete_buffer(buf, scanner);
  snt_yylex_destroy(scanner);
  if (rc == 2 && !ctx->nomem && ctx->failed) return SNT_ERR_INPUT; /* nesting too deep */
  if (rc == 2) {
    if (!ctx->failed) {
      snt_loc l = {ctx->init_line, ctx->init_col, ctx->init_line, ctx->init_col};
      snt_diag_error(ctx->diag, ctx->src, l, "out of memory while parsing");
      ctx->failed = true;
    }
    return SNT_ERR_NOMEM;
  }
  return rc == 0 && !ctx->failed ? SNT_OK : SNT_ERR_INPUT;
}

snt_status snt_dsl_parse_expr(snt_parse_ctx *ctx, const char *text, size_t len, int line, int col,
                              snt_ast_expr **out) {
  if (ctx->depth >= MAX_INTERPOLATION_DEPTH) {
    snt_loc l = {line, col, line, col + 1};
    ctx->failed = true;
    return snt_diag_error(ctx->diag, ctx->src, l, "string interpolations nest too deeply");
  }
  snt_parse_ctx saved = *ctx;
  ctx->start_token = START_EXPR;
  ctx->init_line = line;
  ctx->init_col = col;
  ctx->expr = NULL;
  ctx->depth++;
  snt_status st = run_parser(ctx, text, len);
  *out = ctx->expr;
  ctx->start_token = saved.start_token;
  ctx->init_line = saved.init_line;
  ctx->init_col = saved.init_col;
  ctx->expr = saved.expr;
  ctx->depth = saved.depth;
  return st;
}

snt_status snt_dsl_parse(snt_diag *d, const snt_source *src, snt_ast_file **out) {
  *out = NULL;
  if (src->len > (size_t)INT32_MAX) {
    return snt_diag_error(d, src, (snt_loc){0}, "file is too large (%zu bytes)", src->len);
  }
  snt_ast_file *f = calloc(1, sizeof *f);
  snt_arena *arena = snt_arena_create();
  if (!f || !arena) {
    free(f);
    snt_arena_destroy(arena);
    return SNT_ERR_NOMEM;
  }
  snt_parse_ctx ctx = {.arena = arena, .diag = d, .src = src, .start_token = START_FILE,
                       .init_line = 1, .init_col = 1};
  snt_status st = run_parser(&ctx, src->text, src->len);
  f->arena = arena;
  f->src = src;
  f->defs = ctx.defs;
  f->n_defs = ctx.n_defs;
  if (st != SNT_OK) {
    snt_ast_file_destroy(f);
    return st;
  }
  *out = f;
  return SNT_OK;
}

snt_status snt_dsl_parse_expression(snt_diag *d, const snt_source *src, snt_ast_file **holder, snt_ast_expr **out) {
  *holder = NULL;
  *out = NULL;
  snt_ast_file *f = calloc(1, sizeof *f);
  snt_arena *arena = snt_arena_create();
  if (!f || !arena || src->len > (size_t)INT32_MAX) {
    free(f);
    snt_arena_destroy(arena);
    return SNT_ERR_NOMEM;
  }
  f->arena = arena;
  f->src = src;
  snt_parse_ctx ctx = {.arena = arena, .diag = d, .src = src, .start_token = START_EXPR, .init_line = 1, .init_col = 1};
  snt_status st = run_parser(&ctx, src->text, src->len);
  if (st != SNT_OK) {
    snt_ast_file_destroy(f);
    return st;
  }
  *holder = f;
  *out = ctx.expr;
  return SNT_OK;
}

void snt_ast_file_destroy(snt_ast_file *f) {
  if (!f) return;
  snt_arena_destroy(f->arena);
  free(f);
}

snt_status snt_dsl_tokens(snt_diag *d, const snt_source *src, snt_strbuf *out) {
  snt_arena *arena = snt_arena_create();
  if (!arena) return SNT_ERR_NOMEM;
  snt_parse_ctx ctx = {.arena = arena, .diag = d, .src = src, .init_line = 1, .init_col = 1};
  yyscan_t scanner;
  if (snt_yylex_init_extra(&ctx, &scanner) != 0) {
    snt_arena_destroy(arena);
    return SNT_ERR_NOMEM;
  }
  YY_BUFFER_STATE buf = snt_yy_scan_bytes(src->text, (int)src->len, scanner);
  SNT_YYSTYPE val;
  SNT_YYLTYPE loc = {1, 1, 1, 1};
  snt_status st = buf ? SNT_OK : SNT_ERR_NOMEM;
  for (int tok; buf && (tok = snt_yylex(&val, &loc, scanner)) != 0;) {
    if (tok == SNT_YYerror) {
      st = SNT_ERR_INPUT;
      break;
    }
    snt_sb_printf(out, "%d:%d %s", loc.first_line, loc.first_column, snt_dsl_token_name(tok));
    if (tok == IDENT || tok == STRING) snt_sb_printf(out, " %s", val.str);
    if (tok == INT) snt_sb_printf(out, " %lld", (long long)val.i);
    if (tok == FLOAT) snt_sb_printf(out, " %g", val.f);
    snt_sb_puts(out, "\n");
  }
  if (buf) snt_yy_delete_buffer(buf, scanner);
  snt_yylex_destroy(scanner);
  snt_arena_destroy(arena);
  return st;
}
