/* The .nn grammar: a pure, reentrant bison parser with locations.
 * One grammar serves whole files and the {expr} parts of interpolated strings. */
%define api.pure full
%define api.prefix {snt_yy}
%define parse.error custom
%define parse.lac full
%locations
%param {yyscan_t scanner}
%parse-param {snt_parse_ctx *ctx}

%code requires {
#include "dsl/ast.h"
#include "dsl/parse_ctx.h"
typedef void *yyscan_t;

/* Growable arrays of AST pieces, living in the parse arena. */
typedef struct { snt_ast_expr **v; int n, cap; } snt_pv_exprs;
typedef struct { snt_ast_arg *v; int n, cap; } snt_pv_args;
typedef struct { snt_ast_stmt **v; int n, cap; } snt_pv_stmts;
typedef struct { snt_ast_param *v; int n, cap; } snt_pv_params;

}

%code provides {
int snt_yylex(SNT_YYSTYPE *lval, SNT_YYLTYPE *lloc, yyscan_t scanner);
}

%code {
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void snt_yyerror(SNT_YYLTYPE *loc, yyscan_t scanner, snt_parse_ctx *ctx, const char *msg);
static snt_loc to_loc(SNT_YYLTYPE l);
static void *push(snt_arena *a, void **v, int *n, int *cap, size_t item);
static snt_ast_expr *mk_expr(snt_parse_ctx *ctx, snt_ast_expr_kind k, SNT_YYLTYPE l);
static snt_ast_expr *mk_op(snt_parse_ctx *ctx, snt_ast_op op, snt_ast_expr *a, snt_ast_expr *b, SNT_YYLTYPE l);
static snt_ast_stmt *mk_stmt(snt_parse_ctx *ctx, snt_ast_stmt_kind k, SNT_YYLTYPE l);
static snt_ast_expr *mk_string(snt_parse_ctx *ctx, const char *raw, SNT_YYLTYPE l);
static snt_ast_body to_body(snt_pv_stmts s);

#define NEED(p) do { if (!(p)) { ctx->nomem = true; YYNOMEM; } } while (0)
#define PUSH(vec, item)                                                                   \
  do {                                                                                   \
    void *slot_ = push(ctx->arena, (void **)&(vec).v, &(vec).n, &(vec).cap, sizeof *(vec).v); \
    NEED(slot_);                                                                         \
    memcpy(slot_, &(item), sizeof *(vec).v);                                             \
  } while (0)
}

%union {
  int64_t i;
  double f;
  bool b;
  const char *str;
  snt_ast_expr *expr;
  snt_ast_stmt *stmt;
  snt_ast_def *def;
  snt_ast_arg arg;
  snt_ast_param param;
  snt_pv_exprs exprs;
  snt_pv_args args;
  snt_pv_stmts stmts;
  snt_pv_params params;
}

%initial-action {
  @$.first_line = @$.last_line = ctx->init_line;
  @$.first_column = @$.last_column = ctx->init_col;
}

%token START_FILE START_EXPR
%token KW_MODEL "'model'" KW_BLOCK "'block'" KW_INPUT "'input'" KW_OUTPUT "'output'"
%token KW_LABELS "'labels'" KW_RETURN "'return'" KW_FOR "'for'" KW_IN "'in'" KW_IF "'if'"
%token KW_ELSE "'else'" KW_TRAIN "'train'" KW_FREEZE "'freeze'" KW_THROUGH "'through'"
%token KW_AND "'and'" KW_OR "'or'" KW_NOT "'not'"
%token OP_EQ "'=='" OP_NE "'!='" OP_LE "'<='" OP_GE "'>='" OP_POW "'**'" OP_FLOORDIV "'//'"
%token <str> IDENT "name"
%token <str> STRING "string"
%token <i> INT "integer"
%token <f> FLOAT "number"
%token <b> BOOL "'true' or 'false'"

%type <expr> expr primary postfix call
%type <exprs> expr_list list_items
%type <args> args arg_list
%type <arg> arg
%type <stmt> stmt if_stmt
%type <stmts> stmts else_part
%type <param> param
%type <params> params param_list
%type <def> def

%right '?' ':'
%left KW_OR
%left KW_AND
%precedence KW_NOT
%nonassoc OP_EQ OP_NE '<' OP_LE '>' OP_GE
%left '+' '-'
%left '*' '/' OP_FLOORDIV '%'
%precedence UMINUS
%right OP_POW

%%

start
  : START_FILE defs
  | START_EXPR expr              { ctx->expr = $2; }
  ;

defs
  : %empty
  | defs def {
      snt_ast_def **slot = push(ctx->arena, (void **)&ctx->defs, &ctx->n_defs, &ctx->cap_defs, sizeof *slot);
      NEED(slot);
      *slot = $2;
    }
  ;

def
  : KW_MODEL IDENT params '{' stmts '}' {
      NEED($$ = snt_arena_alloc(ctx->arena, sizeof *$$));
      *$$ = (snt_ast_def){SNT_D_MODEL, $2, to_loc(@2), $3.v, $3.n, to_body($5)};
    }
  | KW_BLOCK IDENT params '{' stmts '}' {
      NEED($$ = snt_arena_alloc(ctx->arena, sizeof *$$));
      *$$ = (snt_ast_def){SNT_D_BLOCK, $2, to_loc(@2), $3.v, $3.n, to_body($5)};
    }
  ;

params
  : %empty                       { $$ = (snt_pv_params){0}; }
  | '(' ')'                      { $$ = (snt_pv_params){0}; }
  | '(' param_list opt_comma ')' { $$ = $2; }
  ;

param_list
  : param                        { $$ = (snt_pv_params){0}; PUSH($$, $1); }
  | param_list ',' param         { $$ = $1; PUSH($$, $3); }
  ;

param
  : IDENT                        { $$ = (snt_ast_param){$1, to_loc(@1), NULL}; }
  | IDENT '=' expr               { $$ = (snt_ast_param){$1, to_loc(@1), $3}; }
  ;

opt_comma : %empty | ',' ;

stmts
  : %empty                       { $$ = (snt_pv_stmts){0}; }
  | stmts stmt                   { $$ = $1; PUSH($$, $2); }
  | stmts ';'                    { $$ = $1; }
  ;

stmt
  : IDENT '=' expr {
      NEED($$ = mk_stmt(ctx, SNT_S_ASSIGN, @$));
      $$->name = $1; $$->name_loc = to_loc(@1); $$->expr = $3;
    }
  | KW_OUTPUT IDENT '=' expr {
      NEED($$ = mk_stmt(ctx, SNT_S_OUTPUT, @$));
      $$->name = $2; $$->name_loc = to_loc(@2); $$->expr = $4;
    }
  | KW_OUTPUT IDENT {
      NEED($$ = mk_stmt(ctx, SNT_S_OUTPUT, @$));
      $$->name = $2; $$->name_loc = to_loc(@2);
    }
  | KW_INPUT IDENT ':' expr {
      NEED($$ = mk_stmt(ctx, SNT_S_INPUT, @$));
      $$->name = $2; $$->name_loc = to_loc(@2); $$->expr = $4;
    }
  | KW_LABELS expr_list {
      NEED($$ = mk_stmt(ctx, SNT_S_LABELS, @$));
      $$->list.items = $2.v; $$->list.n = $2.n;
    }
  | call {
      NEED($$ = mk_stmt(ctx, SNT_S_EXPR, @$));
      $$->expr = $1;
    }
  | KW_FOR IDENT KW_IN expr '{' stmts '}' {
      NEED($$ = mk_stmt(ctx, SNT_S_FOR, @$));
      $$->name = $2; $$->name_loc = to_loc(@2); $$->expr = $4; $$->body = to_body($6);
    }
  | if_stmt                      { $$ = $1; }
  | KW_RETURN expr {
      NEED($$ = mk_stmt(ctx, SNT_S_RETURN, @$));
      $$->expr = $2;
    }
  | KW_FREEZE expr_list {
      NEED($$ = mk_stmt(ctx, SNT_S_FREEZE, @$));
      $$->list.items = $2.v; $$->list.n = $2.n;
    }
  | KW_FREEZE KW_THROUGH expr {
      NEED($$ = mk_stmt(ctx, SNT_S_FREEZE, @$));
      $$->through = true;
      snt_pv_exprs one = {0};
      PUSH(one, $3);
      $$->list.items = one.v; $$->list.n = one.n;
    }
  | KW_TRAIN '{' stmts '}' {
      NEED($$ = mk_stmt(ctx, SNT_S_TRAIN, @$));
      $$->body = to_body($3);
    }
  ;

if_stmt
  : KW_IF expr '{' stmts '}' else_part {
      NEED($$ = mk_stmt(ctx, SNT_S_IF, @$));
      $$->expr = $2; $$->body = to_body($4); $$->other = to_body($6);
    }
  ;

else_part
  : %empty                       { $$ = (snt_pv_stmts){0}; }
  | KW_ELSE '{' stmts '}'        { $$ = $3; }
  | KW_ELSE if_stmt              { $$ = (snt_pv_stmts){0}; PUSH($$, $2); }
  ;

expr_list
  : expr                         { $$ = (snt_pv_exprs){0}; PUSH($$, $1); }
  | expr_list ',' expr           { $$ = $1; PUSH($$, $3); }
  ;

expr
  : postfix                      { $$ = $1; }
  | expr '?' expr ':' expr {
      NEED($$ = mk_expr(ctx, SNT_E_COND, @$));
      $$->u.cond.cond = $1; $$->u.cond.then = $3; $$->u.cond.other = $5;
    }
  | expr KW_OR expr              { NEED($$ = mk_op(ctx, SNT_OP_OR, $1, $3, @$)); }
  | expr KW_AND expr             { NEED($$ = mk_op(ctx, SNT_OP_AND, $1, $3, @$)); }
  | KW_NOT expr                  { NEED($$ = mk_op(ctx, SNT_OP_NOT, $2, NULL, @$)); }
  | expr OP_EQ expr              { NEED($$ = mk_op(ctx, SNT_OP_EQ, $1, $3, @$)); }
  | expr OP_NE expr              { NEED($$ = mk_op(ctx, SNT_OP_NE, $1, $3, @$)); }
  | expr '<' expr                { NEED($$ = mk_op(ctx, SNT_OP_LT, $1, $3, @$)); }
  | expr OP_LE expr              { NEED($$ = mk_op(ctx, SNT_OP_LE, $1, $3, @$)); }
  | expr '>' expr                { NEED($$ = mk_op(ctx, SNT_OP_GT, $1, $3, @$)); }
  | expr OP_GE expr              { NEED($$ = mk_op(ctx, SNT_OP_GE, $1, $3, @$)); }
  | expr '+' expr                { NEED($$ = mk_op(ctx, SNT_OP_ADD, $1, $3, @$)); }
  | expr '-' expr                { NEED($$ = mk_op(ctx, SNT_OP_SUB, $1, $3, @$)); }
  | expr '*' expr                { NEED($$ = mk_op(ctx, SNT_OP_MUL, $1, $3, @$)); }
  | expr '/' expr                { NEED($$ = mk_op(ctx, SNT_OP_DIV, $1, $3, @$)); }
  | expr OP_FLOORDIV expr        { NEED($$ = mk_op(ctx, SNT_OP_FLOORDIV, $1, $3, @$)); }
  | expr '%' expr                { NEED($$ = mk_op(ctx, SNT_OP_MOD, $1, $3, @$)); }
  | expr OP_POW expr             { NEED($$ = mk_op(ctx, SNT_OP_POW, $1, $3, @$)); }
  | '-' expr %prec UMINUS        { NEED($$ = mk_op(ctx, SNT_OP_NEG, $2, NULL, @$)); }
  | '+' expr %prec UMINUS        { NEED($$ = mk_op(ctx, SNT_OP_PLUS, $2, NULL, @$)); }
  ;

postfix
  : primary                      { $$ = $1; }
  | call                         { $$ = $1; }
  | postfix '[' expr ']' {
      NEED($$ = mk_expr(ctx, SNT_E_INDEX, @$));
      $$->u.index.base = $1; $$->u.index.index = $3;
    }
  ;

call
  : IDENT '(' args ')' {
      NEED($$ = mk_expr(ctx, SNT_E_CALL, @$));
      $$->u.call.callee = $1; $$->u.call.callee_loc = to_loc(@1);
      $$->u.call.args = $3.v; $$->u.call.n = $3.n;
    }
  ;

args
  : %empty                       { $$ = (snt_pv_args){0}; }
  | arg_list opt_comma           { $$ = $1; }
  ;

arg_list
  : arg                          { $$ = (snt_pv_args){0}; PUSH($$, $1); }
  | arg_list ',' arg             { $$ = $1; PUSH($$, $3); }
  ;

arg
  : expr                         { $$ = (snt_ast_arg){NULL, {0}, $1}; }
  | IDENT '=' expr               { $$ = (snt_ast_arg){$1, to_loc(@1), $3}; }
  ;

primary
  : INT                          { NEED($$ = mk_expr(ctx, SNT_E_INT, @$)); $$->u.i = $1; }
  | FLOAT                        { NEED($$ = mk_expr(ctx, SNT_E_FLOAT, @$)); $$->u.f = $1; }
  | BOOL                         { NEED($$ = mk_expr(ctx, SNT_E_BOOL, @$)); $$->u.b = $1; }
  | STRING                       { if (!($$ = mk_string(ctx, $1, @1))) YYABORT; }
  | IDENT                        { NEED($$ = mk_expr(ctx, SNT_E_NAME, @$)); $$->u.name = $1; }
  | '(' expr ')'                 { $$ = $2; }
  | '[' list_items ']' {
      NEED($$ = mk_expr(ctx, SNT_E_LIST, @$));
      $$->u.list.items = $2.v; $$->u.list.n = $2.n;
    }
  ;

list_items
  : %empty                       { $$ = (snt_pv_exprs){0}; }
  | expr_list opt_comma          { $$ = $1; }
  ;

%%

static snt_loc to_loc(SNT_YYLTYPE l) {
  return (snt_loc){l.first_line, l.first_column, l.last_line, l.last_column};
}

static void snt_yyerror(SNT_YYLTYPE *loc, yyscan_t scanner, snt_parse_ctx *ctx, const char *msg) {
  (void)scanner;
  /* bison's only other message is "memory exhausted": its stack overflowed or an
   * allocation of ours failed. */
  if (!ctx->nomem && strcmp(msg, "memory exhausted") == 0)
    snt_parse_error(ctx, loc, "the text nests too deeply (parentheses, lists or braces)");
  else
    snt_parse_error(ctx, loc, "%s", msg);
}

/* Appends one slot to an arena array, doubling it when full; NULL when out of memory. */
static void *push(snt_arena *a, void **v, int *n, int *cap, size_t item) {
  if (*n == *cap) {
    int ncap = *cap ? *cap * 2 : 4;
    void *nv = snt_arena_alloc(a, (size_t)ncap * item);
    if (!nv) return NULL;
    if (*n) memcpy(nv, *v, (size_t)*n * item);
    *v = nv;
    *cap = ncap;
  }
  return (char *)*v + (size_t)(*n)++ * item;
}

static snt_ast_expr *mk_expr(snt_parse_ctx *ctx, snt_ast_expr_kind k, SNT_YYLTYPE l) {
  snt_ast_expr *e = snt_arena_alloc(ctx->arena, sizeof *e);
  if (e) {
    e->kind = k;
    e->loc = to_loc(l);
  }
  return e;
}

static snt_ast_expr *mk_op(snt_parse_ctx *ctx, snt_ast_op op, snt_ast_expr *a, snt_ast_expr *b,
                           SNT_YYLTYPE l) {
  snt_ast_expr *e = mk_expr(ctx, b ? SNT_E_BINARY : SNT_E_UNARY, l);
  if (e) {
    e->u.op.op = op;
    e->u.op.a = a;
    e->u.op.b = b;
  }
  return e;
}

static snt_ast_stmt *mk_stmt(snt_parse_ctx *ctx, snt_ast_stmt_kind k, SNT_YYLTYPE l) {
  snt_ast_stmt *s = snt_arena_alloc(ctx->arena, sizeof *s);
  if (s) {
    s->kind = k;
    s->loc = to_loc(l);
  }
  return s;
}

static snt_ast_body to_body(snt_pv_stmts s) { return (snt_ast_body){s.v, s.n}; }

/* Processes escapes of a literal piece of a string. */
static char *unescape(snt_arena *a, const char *s, size_t n) {
  char *out = snt_arena_alloc(a, n + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x') {
      char hex[3] = {s[i + 2], s[i + 3], '\0'};
      *o++ = (char)strtol(hex, NULL, 16); /* mk_string checked the two digits */
      i += 3;
    } else if (s[i] == '\\' && i + 1 < n) {
      char c = s[++i];
      *o++ = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
    } else if ((s[i] == '{' || s[i] == '}') && i + 1 < n && s[i + 1] == s[i]) {
      *o++ = s[i++]; /* {{ and }} stand for literal braces */
    } else {
      *o++ = s[i];
    }
  }
  *o = '\0';
  return out;
}

/* Splits "text {expr} text" into parts; each {expr} is parsed with the same grammar.
 * Columns inside the string are exact because `raw` is the unescaped source text. */
static bool add_text(snt_parse_ctx *ctx, void *partsv, const char *s, size_t n) {
  struct { snt_ast_strpart *v; int n, cap; } *parts = partsv;
  if (n == 0) return true;
  snt_ast_strpart *p = push(ctx->arena, (void **)&parts->v, &parts->n, &parts->cap, sizeof *p);
  return p && (p->text = unescape(ctx->arena, s, n)) != NULL;
}

static void brace_error(snt_parse_ctx *ctx, SNT_YYLTYPE l, size_t i, const char *msg) {
  SNT_YYLTYPE bl = l;
  bl.first_column = l.first_column + 1 + (int)i;
  bl.last_line = bl.first_line;
  bl.last_column = bl.first_column + 1;
  snt_parse_error(ctx, &bl, "%s", msg);
}

/* True when s starts with two hexadecimal digits other than 00 (a string holds no NUL). */
static bool hex_byte(const char *s) {
  return isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]) && (s[0] != '0' || s[1] != '0');
}

static snt_ast_expr *mk_string(snt_parse_ctx *ctx, const char *raw, SNT_YYLTYPE l) {
  snt_ast_expr *e = mk_expr(ctx, SNT_E_STRING, l);
  if (!e) return NULL;
  struct { snt_ast_strpart *v; int n, cap; } parts = {0};
  size_t n = strlen(raw), start = 0, i = 0;
  while (i < n) {
    char c = raw[i];
    if (c == '\\' && i + 1 < n && raw[i + 1] == 'x' && !hex_byte(raw + i + 2)) {
      brace_error(ctx, l, i, "'\\x' takes two hexadecimal digits from 01 to ff, as \\x0d");
      return NULL;
    } else if (c == '\\' || ((c == '{' || c == '}') && i + 1 < n && raw[i + 1] == c)) {
      i += 2;
    } else if (c == '}') {
      brace_error(ctx, l, i, "unmatched '}' in string: write '}}' for a literal brace");
      return NULL;
    } else if (c == '{') {
      if (!add_text(ctx, &parts, raw + start, i - start)) return NULL;
      const char *close = memchr(raw + i, '}', n - i);
      if (!close) {
        brace_error(ctx, l, i, "unterminated '{' in string: an interpolation ends with '}'");
        return NULL;
      }
      snt_ast_strpart *p = push(ctx->arena, (void **)&parts.v, &parts.n, &parts.cap, sizeof *p);
      if (!p) return NULL;
      size_t len = (size_t)(close - raw) - i - 1;
      if (strspn(raw + i + 1, " \t") >= len) {
        brace_error(ctx, l, i, "empty interpolation '{}': put an expression inside, or write '{{' for a literal brace");
        return NULL;
      }
      if (snt_dsl_parse_expr(ctx, raw + i + 1, len, l.first_line, l.first_column + 2 + (int)i,
                             &p->expr) != SNT_OK)
        return NULL;
      i = start = (size_t)(close - raw) + 1;
    } else {
      i++;
    }
  }
  if (!add_text(ctx, &parts, raw + start, n - start)) return NULL;
  e->u.str.parts = parts.v;
  e->u.str.n = parts.n;
  return e;
}

/* Printable name of a token, for the lexer's token dump. */
const char *snt_dsl_token_name(int token) {
  return yysymbol_name(YYTRANSLATE(token));
}

/* Syntax errors name the unexpected token and, when the list is short, what could come
 * instead; inside an expression almost any operator could, so only closers are named. */
static int yyreport_syntax_error(const yypcontext_t *pctx, yyscan_t scanner, snt_parse_ctx *ctx) {
  (void)scanner;
  enum { MAX_EXPECTED = 64 };
  yysymbol_kind_t expected[MAX_EXPECTED];
  int n = yypcontext_expected_tokens(pctx, expected, MAX_EXPECTED);
  yysymbol_kind_t got = yypcontext_token(pctx);
  snt_strbuf b = {0};
  snt_sb_printf(&b, "syntax error, unexpected %s", got == YYSYMBOL_YYEMPTY ? "end of file" : yysymbol_name(got));
  if (got == YYSYMBOL_YYEOF) {
    b.len = 0;
    snt_sb_puts(&b, ctx->depth > 0 ? "syntax error, unexpected end of the interpolation {...}"
                                   : "syntax error, unexpected end of file");
  }
  const char *pick[MAX_EXPECTED];
  int k = 0;
  if (n > 0 && n <= 4) {
    for (int i = 0; i < n; i++) pick[k++] = yysymbol_name(expected[i]);
  } else if (n > 4) {
    static const char *const closers[] = {"')'", "']'", "'}'", "','"};
    for (int c = 0; c < 4; c++)
      for (int i = 0; i < n; i++)
        if (strcmp(yysymbol_name(expected[i]), closers[c]) == 0) pick[k++] = closers[c];
  }
  for (int i = 0; i < k; i++) snt_sb_printf(&b, "%s%s", i == 0 ? ", expecting " : i == k - 1 ? " or " : ", ", pick[i]);
  snt_parse_error(ctx, yypcontext_location(pctx), "%s", b.failed || !b.data ? "syntax error" : b.data);
  snt_sb_free(&b);
  return 0;
}
