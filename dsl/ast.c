/* Printing the syntax tree (for tests and debugging). */
#include "dsl/ast.h"

#include <inttypes.h>

const char *snt_ast_op_str(snt_ast_op op) {
  static const char *const names[] = {"+", "-", "*", "/", "//", "%", "**", "==", "!=",
                                      "<", "<=", ">", ">=", "and", "or", "not", "-", "+"};
  return names[op];
}

static void dump_expr(const snt_ast_expr *e, snt_strbuf *o);

static void dump_list(snt_ast_expr *const *items, int n, snt_strbuf *o) {
  for (int i = 0; i < n; i++) {
    snt_sb_puts(o, " ");
    dump_expr(items[i], o);
  }
}

static void dump_expr(const snt_ast_expr *e, snt_strbuf *o) {
  switch (e->kind) {
    case SNT_E_INT: snt_sb_printf(o, "%" PRId64, e->u.i); break;
    case SNT_E_FLOAT: snt_sb_printf(o, "%.17g", e->u.f); break;
    case SNT_E_BOOL: snt_sb_puts(o, e->u.b ? "true" : "false"); break;
    case SNT_E_NAME: snt_sb_puts(o, e->u.name); break;
    case SNT_E_STRING:
      snt_sb_puts(o, "(str");
      for (int i = 0; i < e->u.str.n; i++) {
        if (e->u.str.parts[i].expr) {
          snt_sb_puts(o, " {");
          dump_expr(e->u.str.parts[i].expr, o);
          snt_sb_puts(o, "}");
        } else {
          snt_sb_printf(o, " \"%s\"", e->u.str.parts[i].text);
        }
      }
      snt_sb_puts(o, ")");
      break;
    case SNT_E_LIST:
      snt_sb_puts(o, "(list");
      dump_list(e->u.list.items, e->u.list.n, o);
      snt_sb_puts(o, ")");
      break;
    case SNT_E_CALL:
      snt_sb_printf(o, "(call %s", e->u.call.callee);
      for (int i = 0; i < e->u.call.n; i++) {
        snt_sb_puts(o, " ");
        if (e->u.call.args[i].name) snt_sb_printf(o, "%s=", e->u.call.args[i].name);
        dump_expr(e->u.call.args[i].value, o);
      }
      snt_sb_puts(o, ")");
      break;
    case SNT_E_INDEX:
      snt_sb_puts(o, "(index ");
      dump_expr(e->u.index.base, o);
      snt_sb_puts(o, " ");
      dump_expr(e->u.index.index, o);
      snt_sb_puts(o, ")");
      break;
    case SNT_E_UNARY:
    case SNT_E_BINARY:
      snt_sb_printf(o, "(%s ", snt_ast_op_str(e->u.op.op));
      dump_expr(e->u.op.a, o);
      if (e->u.op.b) {
        snt_sb_puts(o, " ");
        dump_expr(e->u.op.b, o);
      }
      snt_sb_puts(o, ")");
      break;
    case SNT_E_COND:
      snt_sb_puts(o, "(? ");
      dump_expr(e->u.cond.cond, o);
      snt_sb_puts(o, " ");
      dump_expr(e->u.cond.then, o);
      snt_sb_puts(o, " ");
      dump_expr(e->u.cond.other, o);
      snt_sb_puts(o, ")");
      break;
  }
}

static void dump_body(const snt_ast_body *b, int indent, snt_strbuf *o);

static void dump_stmt(const snt_ast_stmt *s, int indent, snt_strbuf *o) {
  snt_sb_printf(o, "%*s%d:%d ", indent, "", s->loc.line, s->loc.col);
  switch (s->kind) {
    case SNT_S_ASSIGN:
      snt_sb_printf(o, "(= %s ", s->name);
      dump_expr(s->expr, o);
      break;
    case SNT_S_OUTPUT:
      snt_sb_printf(o, "(output %s", s->name);
      if (s->expr) {
        snt_sb_puts(o, " ");
        dump_expr(s->expr, o);
      }
      break;
    case SNT_S_INPUT:
      snt_sb_printf(o, "(input %s ", s->name);
      dump_expr(s->expr, o);
      break;
    case SNT_S_LABELS:
      snt_sb_puts(o, "(labels");
      dump_list(s->list.items, s->list.n, o);
      break;
    case SNT_S_EXPR:
      snt_sb_puts(o, "(do ");
      dump_expr(s->expr, o);
      break;
    case SNT_S_FOR:
      snt_sb_printf(o, "(for %s ", s->name);
      dump_expr(s->expr, o);
      snt_sb_puts(o, "\n");
      dump_body(&s->body, indent + 2, o);
      snt_sb_printf(o, "%*s", indent, "");
      break;
    case SNT_S_IF:
      snt_sb_puts(o, "(if ");
      dump_expr(s->expr, o);
      snt_sb_puts(o, "\n");
      dump_body(&s->body, indent + 2, o);
      snt_sb_printf(o, "%*selse\n", indent, "");
      dump_body(&s->other, indent + 2, o);
      snt_sb_printf(o, "%*s", indent, "");
      break;
    case SNT_S_RETURN:
      snt_sb_puts(o, "(return ");
      dump_expr(s->expr, o);
      break;
    case SNT_S_FREEZE:
      snt_sb_puts(o, s->through ? "(freeze-through" : "(freeze");
      dump_list(s->list.items, s->list.n, o);
      break;
    case SNT_S_TRAIN:
      snt_sb_puts(o, "(train\n");
      dump_body(&s->body, indent + 2, o);
      snt_sb_printf(o, "%*s", indent, "");
      break;
  }
  snt_sb_puts(o, ")\n");
}

static void dump_body(const snt_ast_body *b, int indent, snt_strbuf *o) {
  for (int i = 0; i < b->n; i++) dump_stmt(b->stmts[i], indent, o);
}

void snt_ast_dump(const snt_ast_file *f, snt_strbuf *o) {
  for (int i = 0; i < f->n_defs; i++) {
    const snt_ast_def *d = f->defs[i];
    snt_sb_printf(o, "%s %s(", d->kind == SNT_D_MODEL ? "model" : "block", d->name);
    for (int p = 0; p < d->n_params; p++) {
      snt_sb_printf(o, "%s%s", p ? ", " : "", d->params[p].name);
      if (d->params[p].def) {
        snt_sb_puts(o, "=");
        dump_expr(d->params[p].def, o);
      }
    }
    snt_sb_puts(o, ")\n");
    dump_body(&d->body, 2, o);
  }
}
