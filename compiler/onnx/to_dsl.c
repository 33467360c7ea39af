/* sinter import: an imported ONNX graph written back as .nn text. Layers keep the ONNX
 * node names; the weights stay in the ONNX file (`sinter compile X.nn --weights M.onnx`
 * maps them by structure). Ops without a DSL form are an error that names the node. */
#include "compiler/onnx/to_dsl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "sinter/version.h"
#include "support/util.h"

/* The DSL's keywords, and the symbols this writer uses as values (a tensor named chw would
 * shadow `order = chw`). */
static const char *const keywords[] = {"model", "block", "input", "output", "labels", "return", "for", "in", "if",
                                       "else", "train", "freeze", "through", "true", "false", "and", "or", "not",
                                       "chw", "hwc"};

int snt_dsl_root(const snt_dsl_writer *w, int t) {
  while (w->alias[t] >= 0) t = w->alias[t];
  return t;
}

/* A DSL identifier for a tensor: its name with other characters as '_', unique. */
const char *snt_dsl_ident(snt_dsl_writer *w, int t) {
  t = snt_dsl_root(w, t);
  if (w->ident[t]) return w->ident[t];
  const char *name = w->g->tensors[t].name;
  char base[200];
  size_t o = 0;
  if (!isalpha((unsigned char)name[0]) && name[0] != '_') base[o++] = 'v';
  for (size_t i = 0; name[i] && o < sizeof base - 12; i++) base[o++] = isalnum((unsigned char)name[i]) ? name[i] : '_';
  base[o] = '\0';
  for (size_t k = 0; k < sizeof keywords / sizeof *keywords; k++)
    if (strcmp(base, keywords[k]) == 0) strcat(base, "_");
  char cand[220];
  strcpy(cand, base);
  for (int n = 1;; n++) {
    bool taken = snt_op_find(cand) != NULL;
    for (int u = 0; u < w->g->n_tensors && !taken; u++) taken = w->ident[u] && strcmp(w->ident[u], cand) == 0;
    if (!taken) break;
    snprintf(cand, sizeof cand, "%s_%d", base, n);
  }
  return w->ident[t] = snt_strdup(cand);
}

snt_status snt_dsl_unsupported(snt_dsl_writer *w, const snt_node *n, const char *why) {
  return snt_diag_error(w->d, NULL, (snt_loc){0}, "%s: node '%s' (%s) cannot be written in the DSL: %s", w->path, n->name,
                        n->op->onnx_type ? n->op->onnx_type : n->op->name, why);
}

void snt_dsl_ints(FILE *f, const int64_t *v, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)v[i]);
  fputc(']', f);
}

/* Through identity nodes: PyTorch's exporter feeds a merged initializer's other users so. */
bool snt_dsl_is_param(const snt_graph *g, const snt_node *n, int i) {
  if (i >= n->n_in || n->in[i] < 0) return false;
  int t = n->in[i];
  for (int depth = 0; depth < 8 && g->tensors[t].kind == SNT_T_ACT && g->tensors[t].producer >= 0; depth++) {
    const snt_node *p = &g->nodes[g->tensors[t].producer];
    if (p->op != &snt_op_identity || p->n_in != 1 || p->in[0] < 0) break;
    t = p->in[0];
  }
  return g->tensors[t].kind == SNT_T_PARAM || g->tensors[t].kind == SNT_T_CONST;
}

/* A constant of one value per channel of x (or one value): its floats, for rescale. Broadcast
 * from the right, its one longer axis must meet x's axis 1 ([C] meets the last axis), and it
 * must not add axes to x. */
int snt_dsl_channel_const(const snt_graph *g, int t, const snt_tensor *x, double *v) {
  const snt_tensor *c = &g->tensors[t];
  if (c->kind != SNT_T_CONST && c->kind != SNT_T_PARAM) return -1;
  if (c->dtype != SNT_F32 || !c->data || c->rank > x->rank) return -1;
  int64_t n = snt_tensor_numel(c), channels = x->rank >= 2 ? x->dims[1] : 1;
  if (n != 1 && n != channels) return -1;
  for (int i = 0; i < c->rank; i++)
    if (c->dims[i] != 1 && (c->dims[i] != n || x->rank - c->rank + i != 1)) return -1;
  for (int64_t i = 0; i < n; i++) v[i] = ((float *)c->data)[i];
  return (int)n;
}

void snt_dsl_floats(FILE *f, const double *v, int n) {
  if (n == 1) {
    fprintf(f, "%.9g", v[0]);
    return;
  }
  fputc('[', f);
  for (int i = 0; i < n; i++) fprintf(f, "%s%.9g", i ? ", " : "", v[i]);
  fputc(']', f);
}

/* Length of the valid UTF-8 sequence at p (2 to 4 bytes), or 0. */
static int utf8_len(const unsigned char *p) {
  int n = p[0] >= 0xC2 && p[0] <= 0xDF ? 2 : p[0] >= 0xE0 && p[0] <= 0xEF ? 3 : p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : 0;
  for (int k = 1; k < n; k++)
    if ((p[k] & 0xC0) != 0x80) return 0;
  return n;
}

/* Any name as a DSL string literal (docs/dsl.md): quotes, backslashes and braces escaped,
 * newline and tab as \n and \t, other control bytes and bytes that are not UTF-8 as \xNN,
 * so the name reads back byte for byte. Valid for the next call only. */
const char *snt_dsl_lit(snt_dsl_writer *w, const char *name) {
  snt_strbuf *b = &w->lit;
  b->len = 0;
  snt_sb_puts(b, "\"");
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    int u = *p >= 0x80 ? utf8_len(p) : 0;
    if (*p == '"' || *p == '\\' || *p == '{' || *p == '}') snt_sb_printf(b, "\\%c", *p);
    else if (*p == '\n' || *p == '\t') snt_sb_puts(b, *p == '\n' ? "\\n" : "\\t");
    else if (u) snt_sb_printf(b, "%.*s", u, (const char *)p), p += u - 1;
    else if (*p < 0x20 || *p >= 0x7f) snt_sb_printf(b, "\\x%02x", *p);
    else snt_sb_printf(b, "%c", *p);
  }
  snt_sb_puts(b, "\"");
  return b->failed ? "\"\"" : b->data;
}

bool snt_dsl_used(const snt_graph *g, int t) { return snt_dsl_used_but_by(g, t, NULL); }

bool snt_dsl_used_but_by(const snt_graph *g, int t, const snt_op *op) {
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == t) return true;
  for (int r = 0; r < g->n_nodes; r++)
    for (int k = 0; k < g->nodes[r].n_in; k++)
      if (g->nodes[r].in[k] == t && (!op || g->nodes[r].op != op)) return true;
  return false;
}

snt_status snt_dsl_alias(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  for (int k = 1; k < n->n_out; k++)
    if (snt_dsl_used(w->g, n->out[k])) return snt_dsl_unsupported(w, n, "its second output (a mask) is used");
  w->alias[n->out[0]] = n->in[0];
  return SNT_OK;
}

snt_status snt_dsl_call(snt_dsl_writer *w, int node, const char *op) {
  const snt_node *n = &w->g->nodes[node];
  for (int i = 0; i < n->n_in; i++) {
    if (n->in[i] < 0) return snt_dsl_unsupported(w, n, "an optional input is omitted, which the DSL cannot say");
    if (snt_dsl_is_param(w->g, n, i)) return snt_dsl_unsupported(w, n, "an input is a constant, which the DSL cannot hold");
  }
  const char *lhs = snt_dsl_ident(w, n->out[0]);
  fprintf(w->out, "  %s = %s(", lhs, op);
  for (int i = 0; i < n->n_in; i++) fprintf(w->out, "%s, ", snt_dsl_ident(w, n->in[i]));
  fprintf(w->out, "name = %s)\n", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

snt_status snt_dsl_plain(snt_dsl_writer *w, int node) { return snt_dsl_call(w, node, w->g->nodes[node].op->name); }

/* A node through its op's rule; an op without one gives the reason on its record. */
static snt_status node(snt_dsl_writer *w, int i) {
  const snt_node *n = &w->g->nodes[i];
  if (n->op->to_dsl) return n->op->to_dsl(w, i);
  return snt_dsl_unsupported(w, n, n->op->no_dsl ? n->op->no_dsl : SNT_NO_DSL_YET);
}

/* The DSL model name for a graph name: an identifier, not a keyword (malloc'ed). The graph's
 * own name is kept in a comment above the model. */
static char *model_ident(const char *name) {
  size_t n = strlen(name);
  char *s = malloc(n + 3);
  if (!s) return NULL;
  size_t o = 0;
  if (!isalpha((unsigned char)name[0])) s[o++] = 'm';
  for (size_t i = 0; i < n; i++) s[o++] = isalnum((unsigned char)name[i]) ? name[i] : '_';
  s[o] = '\0';
  for (size_t k = 0; k < sizeof keywords / sizeof *keywords; k++)
    if (strcmp(s, keywords[k]) == 0) strcat(s, "_");
  return s;
}

/* A file path in a '#' comment: control characters (a newline would end the comment) as '?'. */
static void comment_path(FILE *f, const char *path) {
  for (const unsigned char *p = (const unsigned char *)path; *p; p++) fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

/* DSL inputs are batched. A file whose inputs have a fixed first dimension (the same in all,
 * rank 2 or more) is written with that dimension as the batch, to compile with --batch N. */
static snt_status fixed_batch(const snt_graph *g, const char *onnx_path, snt_diag *d, int64_t *fixed) {
  *fixed = 0;
  for (int i = 0; i < g->n_inputs; i++) {
    const snt_tensor *t = &g->tensors[g->inputs[i]];
    if (t->batched) continue;
    if (t->rank < 2 || (*fixed && t->dims[0] != *fixed))
      return snt_diag_error(d, NULL, (snt_loc){0}, "%s: graph input '%s' has no symbolic batch dimension%s; DSL inputs always "
                            "have one", onnx_path, t->name, t->rank < 2 ? " and rank below 2" : " and another first dimension than the other inputs");
    *fixed = t->dims[0];
  }
  for (int i = 0; *fixed && i < g->n_inputs; i++)
    if (g->tensors[g->inputs[i]].batched)
      return snt_diag_error(d, NULL, (snt_loc){0}, "%s: graph input '%s' has a symbolic batch dimension, other inputs a fixed one "
                            "(%lld); DSL inputs share one batch", onnx_path, g->tensors[g->inputs[i]].name, (long long)*fixed);
  return SNT_OK;
}

snt_status snt_onnx_write_dsl(const snt_graph *g, const char *onnx_path, FILE *out, snt_diag *d) {
  snt_dsl_writer w = {.g = g, .d = d, .out = out, .path = onnx_path};
  w.ident = calloc((size_t)g->n_tensors + 1, sizeof(char *));
  w.alias = malloc(sizeof(int) * (size_t)(g->n_tensors + 1));
  w.hwc = calloc((size_t)g->n_tensors + 1, sizeof(bool));
  if (!w.ident || !w.alias || !w.hwc) {
    free(w.ident);
    free(w.alias);
    free(w.hwc);
    return SNT_ERR_NOMEM;
  }
  for (int t = 0; t < g->n_tensors; t++) w.alias[t] = -1;
  int64_t fixed = 0;
  snt_status st = fixed_batch(g, onnx_path, d, &fixed);
  char *mname = model_ident(g->name);
  if (!st) {
    fprintf(out, "# Imported by sinter %s from ", SINTER_VERSION);
    comment_path(out, onnx_path);
    fprintf(out, " (graph %s). The weights stay in that file:\n#   sinter compile THIS.nn --weights ", snt_dsl_lit(&w, g->name));
    comment_path(out, onnx_path);
    if (fixed) fprintf(out, " --batch %lld", (long long)fixed);
    fprintf(out, " -o EXE\n");
    if (fixed) fprintf(out, "# The file fixes the batch at %lld: the DSL's batch dimension stands for it.\n", (long long)fixed);
    fprintf(out, "\nmodel %s {\n", mname ? mname : "imported");
    for (int i = 0; i < g->n_inputs; i++) {
      const snt_tensor *t = &g->tensors[g->inputs[i]];
      if (t->dtype != SNT_F32 && !st) /* the DSL's inputs are images: float32 */
        st = snt_diag_error(d, NULL, (snt_loc){0}, "%s: graph input '%s' cannot be written in the DSL: it is %s, DSL inputs are FLOAT",
                            onnx_path, t->name, snt_dtype_name(t->dtype));
      fprintf(out, "  input %s: ", snt_dsl_ident(&w, g->inputs[i]));
      snt_dsl_ints(out, t->dims + 1, t->rank - 1);
      fputc('\n', out);
    }
    if (g->n_labels) {
      fprintf(out, "  labels ");
      for (int i = 0; i < g->n_labels; i++) fprintf(out, "%s%s", i ? ", " : "", snt_dsl_lit(&w, g->labels[i]));
      fputc('\n', out);
    }
  }
  /* Every node the DSL cannot express is named, not just the first. */
  for (int i = 0; i < g->n_nodes && st != SNT_ERR_NOMEM; i++) {
    snt_status ns = node(&w, i);
    if (ns && (!st || ns == SNT_ERR_NOMEM)) st = ns;
  }
  for (int i = 0; i < g->n_outputs && !st; i++) {
    const snt_tensor *t = &g->tensors[snt_dsl_root(&w, g->outputs[i])];
    if (t->kind != SNT_T_ACT && t->kind != SNT_T_INPUT)
      st = snt_diag_error(d, NULL, (snt_loc){0}, "%s: graph output '%s' is a constant, which the DSL cannot hold", onnx_path,
                          g->tensors[g->outputs[i]].name);
    else
      fprintf(out, "  output %s\n", snt_dsl_ident(&w, g->outputs[i]));
  }
  if (!st) fprintf(out, "}\n");
  for (int t = 0; t < g->n_tensors; t++) free(w.ident[t]);
  free(w.ident);
  free(w.alias);
  free(w.hwc);
  snt_sb_free(&w.lit);
  free(mname);
  return st;
}
