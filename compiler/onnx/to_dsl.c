/* sinter import: an imported ONNX graph written back as .nn text. Layers keep the ONNX
 * node names; the weights stay in the ONNX file (`sinter compile X.nn --weights M.onnx`
 * maps them by structure). Ops without a DSL form are an error that names the node. */
#include "compiler/onnx/to_dsl.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "sinter/version.h"
#include "support/util.h"

typedef struct writer {
  const snt_graph *g;
  snt_diag *d;
  FILE *out;
  char **ident;   /* DSL name of each tensor, NULL until bound */
  int *alias;     /* tensors that stand for another (dropout, identity, flatten after GAP) */
  bool *hwc;      /* tensors that are an NCHW tensor transposed to NHWC (a Keras flatten follows) */
  const char *path;
  snt_strbuf lit;  /* the last string literal lit() made */
} writer;

/* The DSL's keywords, and the symbols this writer uses as values (a tensor named chw would
 * shadow `order = chw`). */
static const char *const keywords[] = {"model", "block", "input", "output", "labels", "return", "for", "in", "if",
                                       "else", "train", "freeze", "through", "true", "false", "and", "or", "not",
                                       "chw", "hwc"};

static int root(const writer *w, int t) {
  while (w->alias[t] >= 0) t = w->alias[t];
  return t;
}

/* A DSL identifier for a tensor: its name with other characters as '_', unique. */
static const char *ident(writer *w, int t) {
  t = root(w, t);
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

static snt_status unsupported(writer *w, const snt_node *n, const char *why) {
  return snt_diag_error(w->d, NULL, (snt_loc){0}, "%s: node '%s' (%s) cannot be written in the DSL: %s", w->path, n->name,
                        n->op->onnx_type ? n->op->onnx_type : n->op->name, why);
}

static void ints(FILE *f, const int64_t *v, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)v[i]);
  fputc(']', f);
}

static bool is_param(const snt_graph *g, const snt_node *n, int i) {
  return i < n->n_in && n->in[i] >= 0 && (g->tensors[n->in[i]].kind == SNT_T_PARAM || g->tensors[n->in[i]].kind == SNT_T_CONST);
}

/* A constant of one value per channel (or one value): its floats, for rescale. */
static int channel_const(const snt_graph *g, int t, int64_t channels, double *v) {
  const snt_tensor *c = &g->tensors[t];
  if (c->kind != SNT_T_CONST && c->kind != SNT_T_PARAM) return -1;
  if (c->dtype != SNT_F32 || !c->data) return -1;
  int64_t n = snt_tensor_numel(c);
  if (n != 1 && n != channels) return -1;
  for (int i = 0; i < c->rank; i++)
    if (c->dims[i] != 1 && c->dims[i] != n) return -1;
  for (int64_t i = 0; i < n; i++) v[i] = ((float *)c->data)[i];
  return (int)n;
}

static void floats(FILE *f, const double *v, int n) {
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
static const char *lit(writer *w, const char *name) {
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

static snt_status node(writer *w, int i) {
  const snt_graph *g = w->g;
  const snt_node *n = &g->nodes[i];
  const char *op = n->op->name;
  FILE *f = w->out;
  if (strcmp(op, "dropout") == 0 || strcmp(op, "identity") == 0) {
    w->alias[n->out[0]] = n->in[0];
    return SNT_OK;
  }
  const snt_tensor *x = &g->tensors[n->in[0]];
  int c0 = 0;
  const int64_t *perm = snt_node_ints(n, "perm", &c0);
  if (strcmp(op, "transpose") == 0 && x->rank == 4 && perm && c0 == 4 && perm[0] == 0 && perm[1] == 2 && perm[2] == 3 &&
      perm[3] == 1) {
    /* Keras's channels-last Flatten exports as this Transpose before a Flatten. */
    w->alias[n->out[0]] = n->in[0];
    w->hwc[n->out[0]] = true;
    return SNT_OK;
  }
  if (strcmp(op, "flatten") == 0 && snt_node_int(n, "axis", 1) == 1) {
    int src = n->in[0];
    bool pooled = x->rank >= 2;
    for (int k = 2; k < x->rank; k++) pooled &= x->dims[k] == 1;
    int p = g->tensors[root(w, src)].producer;
    pooled &= p >= 0 && strncmp(g->nodes[p].op->name, "global_", 7) == 0;
    if (x->rank == 2 || pooled) {
      w->alias[n->out[0]] = src; /* after a global pool the DSL's tensor is flat already */
      return SNT_OK;
    }
    fprintf(f, "  %s = flatten(%s, order = %s, name = %s)\n", ident(w, n->out[0]), ident(w, src),
            w->hwc[src] ? "hwc" : "chw", lit(w, n->name));
    return SNT_OK;
  }
  const char *in = ident(w, n->in[0]);
  char lhs[256];
  snprintf(lhs, sizeof lhs, "%s", ident(w, n->out[0]));
  if (strcmp(op, "conv2d") == 0) {
    if (x->rank != 4 || !is_param(g, n, 1)) return unsupported(w, n, "2-D convolutions with constant weights only");
    int c = 0;
    const int64_t *k = snt_node_ints(n, "kernel", &c), *p = snt_node_ints(n, "resolved_pads", &c);
    int cs = 0, cd = 0;
    const int64_t *s = snt_node_ints(n, "stride", &cs), *dl = snt_node_ints(n, "dilation", &cd);
    int64_t one[2] = {1, 1};
    fprintf(f, "  %s = conv2d(%s, %lld, ", lhs, in, (long long)snt_node_int(n, "filters", 0));
    ints(f, k, 2);
    fprintf(f, ", stride = ");
    ints(f, s && cs == 2 ? s : one, 2);
    fprintf(f, ", padding = ");
    ints(f, p, 4);
    fprintf(f, ", dilation = ");
    ints(f, dl && cd == 2 ? dl : one, 2);
    fprintf(f, ", groups = %lld, bias = %s, name = %s)\n", (long long)snt_node_int(n, "groups", 1),
            is_param(g, n, 2) ? "true" : "false", lit(w, n->name));
  } else if (strcmp(op, "batchnorm") == 0) {
    if (!is_param(g, n, 1) || !is_param(g, n, 4)) return unsupported(w, n, "its statistics must be constants");
    fprintf(f, "  %s = batchnorm(%s, eps = %.9g, momentum = %.9g, name = %s)\n", lhs, in, snt_node_float(n, "eps", 1e-5),
            snt_node_float(n, "momentum", 0.9), lit(w, n->name));
  } else if (strcmp(op, "maxpool") == 0 || strcmp(op, "avgpool") == 0) {
    if (x->rank != 4 || snt_node_int(n, "ceil_mode", 0) || n->n_out > 1) return unsupported(w, n, "2-D pooling without ceil_mode or indices only");
    int c = 0, cs = 0;
    const int64_t *k = snt_node_ints(n, "pool", &c), *p = snt_node_ints(n, "resolved_pads", &c), *s = snt_node_ints(n, "stride", &cs);
    fprintf(f, "  %s = %s(%s, ", lhs, op, in);
    ints(f, k, 2);
    fprintf(f, ", stride = ");
    ints(f, s, 2);
    fprintf(f, ", padding = ");
    ints(f, p, 4);
    if (op[0] == 'a') fprintf(f, ", count_include_pad = %s", snt_node_int(n, "count_include_pad", 0) ? "true" : "false");
    fprintf(f, ", name = %s)\n", lit(w, n->name));
  } else if (strcmp(op, "global_avg_pool") == 0 || strcmp(op, "global_max_pool") == 0) {
    /* The DSL's global pool gives (C,); ONNX keeps 1x1 dims, which a Flatten then drops. */
    int first = -1;
    for (int r = 0; r < g->n_nodes; r++)
      for (int k = 0; k < g->nodes[r].n_in; k++)
        if (g->nodes[r].in[k] == n->out[0] && strcmp(g->nodes[r].op->name, "flatten") != 0) first = r;
    if (first >= 0) return unsupported(w, n, "its 1x1 output feeds something other than a Flatten");
    fprintf(f, "  %s = %s(%s, name = %s)\n", lhs, op, in, lit(w, n->name));
  } else if (strcmp(op, "gemm") == 0 || strcmp(op, "matmul") == 0) {
    bool gemm = op[0] == 'g';
    if (x->rank != 2 || !is_param(g, n, 1) || (gemm && (snt_node_int(n, "transA", 0) || snt_node_float(n, "alpha", 1) != 1 ||
                                                        snt_node_float(n, "beta", 1) != 1 || (n->n_in > 2 && !is_param(g, n, 2)))))
      return unsupported(w, n, "dense layers (constant B and C, no transA, alpha = beta = 1) only");
    const snt_tensor *b = &g->tensors[n->in[1]];
    int64_t units = gemm && snt_node_int(n, "transB", 0) ? b->dims[0] : b->dims[1];
    fprintf(f, "  %s = dense(%s, %lld, bias = %s, name = %s)\n", lhs, in, (long long)units,
            gemm && n->n_in > 2 ? "true" : "false", lit(w, n->name));
  } else if (strcmp(op, "add") == 0 || strcmp(op, "mul") == 0 || strcmp(op, "sub") == 0) {
    /* A constant operand is input preprocessing: rescale. */
    int64_t ch = x->rank >= 2 ? x->dims[1] : 1;
    double v[4096];
    int k = ch <= 4096 ? channel_const(g, n->in[1], ch, v) : -1;
    if (k > 0) {
      if (op[0] == 's')
        for (int j = 0; j < k; j++) v[j] = -v[j];
      fprintf(f, "  %s = rescale(%s, ", lhs, in);
      if (op[0] == 'm') floats(f, v, k), fprintf(f, ", 0");
      else fprintf(f, "1, "), floats(f, v, k);
      fprintf(f, ", name = %s)\n", lit(w, n->name));
    } else if (op[0] == 'a' && n->n_in == 2 && g->tensors[n->in[1]].kind == SNT_T_ACT &&
               g->tensors[n->in[1]].rank == x->rank) {
      fprintf(f, "  %s = add(%s, %s, name = %s)\n", lhs, in, ident(w, n->in[1]), lit(w, n->name));
    } else {
      return unsupported(w, n, "only residual adds of equal shapes and per-channel constants are expressible");
    }
  } else if (strcmp(op, "softmax") == 0) {
    int64_t a = snt_node_int(n, "full_axis", 1);
    if (a < 1 || snt_node_int(n, "coerce_2d", 0)) return unsupported(w, n, "softmax over one axis after the batch only");
    fprintf(f, "  %s = softmax(%s, axis = %lld, name = %s)\n", lhs, in, (long long)(a - 1), lit(w, n->name));
  } else if (strcmp(op, "pad") == 0) {
    int c = 0;
    const int64_t *p = snt_node_ints(n, "pads_nd", &c);
    if (x->rank != 4 || c != 8 || p[0] || p[1] || p[4] || p[5] || (n->n_in > 2 && n->in[2] >= 0) ||
        strcmp(snt_node_string(n, "mode", "constant"), "constant") != 0)
      return unsupported(w, n, "zero padding of height and width only");
    int64_t tlbr[4] = {p[2], p[3], p[6], p[7]};
    fprintf(f, "  %s = pad(%s, ", lhs, in);
    ints(f, tlbr, 4);
    fprintf(f, ", name = %s)\n", lit(w, n->name));
  } else if (n->op->args && !n->op->args[0].name && n->n_in == 1) {
    fprintf(f, "  %s = %s(%s, name = %s)\n", lhs, op, in, lit(w, n->name)); /* relu, sigmoid, tanh, exp, ... */
  } else if (strcmp(op, "leaky_relu") == 0) {
    fprintf(f, "  %s = leaky_relu(%s, %.9g, name = %s)\n", lhs, in, snt_node_float(n, "alpha", 0.01), lit(w, n->name));
  } else {
    return unsupported(w, n, "sinter has no DSL form for it yet");
  }
  return SNT_OK;
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

snt_status snt_onnx_write_dsl(const snt_graph *g, const char *onnx_path, FILE *out, snt_diag *d) {
  writer w = {.g = g, .d = d, .out = out, .path = onnx_path};
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
  snt_status st = SNT_OK;
  for (int i = 0; i < g->n_inputs && !st; i++)
    if (!g->tensors[g->inputs[i]].batched)
      st = snt_diag_error(d, NULL, (snt_loc){0}, "%s: graph input '%s' has no symbolic batch dimension; DSL inputs always have one",
                          onnx_path, g->tensors[g->inputs[i]].name);
  char *mname = model_ident(g->name);
  if (!st) {
    fprintf(out, "# Imported by sinter %s from ", SINTER_VERSION);
    comment_path(out, onnx_path);
    fprintf(out, " (graph %s). The weights stay in that file:\n#   sinter compile THIS.nn --weights ", lit(&w, g->name));
    comment_path(out, onnx_path);
    fprintf(out, " -o EXE\n\nmodel %s {\n", mname ? mname : "imported");
    for (int i = 0; i < g->n_inputs; i++) {
      const snt_tensor *t = &g->tensors[g->inputs[i]];
      fprintf(out, "  input %s: ", ident(&w, g->inputs[i]));
      ints(out, t->dims + 1, t->rank - 1);
      fputc('\n', out);
    }
    if (g->n_labels) {
      fprintf(out, "  labels ");
      for (int i = 0; i < g->n_labels; i++) fprintf(out, "%s%s", i ? ", " : "", lit(&w, g->labels[i]));
      fputc('\n', out);
    }
  }
  for (int i = 0; i < g->n_nodes && !st; i++) st = node(&w, i);
  for (int i = 0; i < g->n_outputs && !st; i++) fprintf(out, "  output %s\n", ident(&w, g->outputs[i]));
  if (!st) fprintf(out, "}\n");
  for (int t = 0; t < g->n_tensors; t++) free(w.ident[t]);
  free(w.ident);
  free(w.alias);
  free(w.hwc);
  snt_sb_free(&w.lit);
  free(mname);
  return st;
}
