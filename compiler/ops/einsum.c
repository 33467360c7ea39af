/* einsum (ONNX Einsum-12): the Einstein summation of 1 to 8 inputs by an equation such as
 * "bij,bjk->bik", with "..." for broadcast leading dims, repeated labels for diagonals and an
 * implicit output (the ellipsis, then the labels seen once, in ASCII order) without "->".
 * Parsed here into per-label sizes and strides; runtime/kernels/linalg.c sums. */
#include <ctype.h>
#include <string.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{"equation", SNT_ARG_SYMBOL, NULL, NULL}, {0}};

enum { ELL = 52, NONE = -1 }; /* label ids: a-z 0-25, A-Z 26-51, ellipsis dims 52-59 */
#define MAX_WORK (INT64_C(1) << 40) /* products one node may compute */

typedef struct eq_term {
  int labels[SNT_MAX_RANK]; /* per axis */
  int rank;
} eq_term;

static int letter_id(char c) { return c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? 26 + c - 'A' : NONE; }

/* One term of the equation (up to ',' or '-' or the end) against a tensor of `rank` dims (-1
 * for the output, whose ellipsis spans all `ell` broadcast dims); NULL on success, else why. */
static const char *parse_term(const char **s, int rank, int ell, eq_term *t, int *ell_here) {
  int letters = 0, at = -1;
  const char *p = *s;
  for (; *p && *p != ',' && *p != '-'; p++) {
    if (*p == ' ') continue;
    if (*p == '.') {
      if (at >= 0 || strncmp(p, "...", 3) != 0) return "a malformed or repeated ellipsis";
      at = letters, p += 2;
    } else if (letter_id(*p) == NONE) {
      return "a character that is not a letter, ',', '->' or '...'";
    } else {
      letters++;
    }
  }
  int e = at < 0 ? 0 : rank < 0 ? ell : rank - letters;
  if (e < 0 || (rank >= 0 && at < 0 && letters != rank)) return "a term whose labels do not match its input's rank";
  if (letters + e > SNT_MAX_RANK) return "more than 8 dims in a term";
  *ell_here = at < 0 ? -1 : e;
  t->rank = 0;
  for (const char *q = *s; q < p; q++) {
    if (*q == ' ') continue;
    if (*q == '.') {
      for (int k = 0; k < e; k++) t->labels[t->rank++] = ELL + (rank < 0 ? k : ell - e + k);
      q += 2;
    } else {
      t->labels[t->rank++] = letter_id(*q);
    }
  }
  *s = p;
  return NULL;
}

typedef struct eq_plan {
  snt_k_einsum k;
  int64_t out_dims[SNT_MAX_RANK];
  int out_rank;
} eq_plan;

/* The kernel's plan from the equation and the inputs' shapes; NULL on success, else why (into buf). */
static const char *plan_of(const snt_graph *g, const snt_node *n, eq_plan *pl, char *buf, size_t size) {
  const char *eq = snt_node_string(n, "equation", NULL), *s = eq;
  if (!eq) return "no equation";
  if (n->n_in > SNT_K_EINSUM_MAX_IN) return "more than 8 inputs";
  int ell = 0, dummy;
  eq_term terms[SNT_K_EINSUM_MAX_IN], out;
  for (int i = 0; i < n->n_in; i++) { /* the widest ellipsis first: it right-aligns the others */
    const char *p = s;
    eq_term t;
    int e;
    const char *why = parse_term(&p, g->tensors[n->in[i]].rank, SNT_MAX_RANK, &t, &e);
    if (why) return why;
    if (e > ell) ell = e;
    if (*p == ',') p++;
    s = p;
  }
  s = eq;
  bool seen[SNT_K_EINSUM_LABELS] = {false};
  int count[SNT_K_EINSUM_LABELS] = {0};
  int64_t sz[SNT_K_EINSUM_LABELS];
  for (int l = 0; l < SNT_K_EINSUM_LABELS; l++) sz[l] = 1;
  for (int i = 0; i < n->n_in; i++) {
    const snt_tensor *x = &g->tensors[n->in[i]];
    const char *why = parse_term(&s, x->rank, ell, &terms[i], &dummy);
    if (why) return why;
    if (i + 1 < n->n_in && *s++ != ',') return "fewer terms than inputs";
    for (int a = 0; a < x->rank; a++) {
      int l = terms[i].labels[a];
      int64_t d = x->dims[a];
      count[l]++;
      if (!seen[l] || sz[l] == 1) sz[l] = d > sz[l] || !seen[l] ? d : sz[l];
      else if (d != sz[l] && !(l >= ELL && d == 1)) {
        snprintf(buf, size, "label sizes %lld and %lld differ", (long long)sz[l], (long long)d);
        return buf;
      }
      seen[l] = true;
    }
  }
  if (*s == ',') return "more terms than inputs";
  if (*s == '-') {
    if (s[1] != '>') return "'-' not followed by '>'";
    s += 2;
    const char *why = parse_term(&s, -1, ell, &out, &dummy);
    if (why) return why;
    if (*s) return "more than one '->'";
  } else { /* implicit: the ellipsis, then the labels seen once, in ASCII order */
    out.rank = 0;
    for (int k = 0; k < ell; k++) out.labels[out.rank++] = ELL + k;
    for (char c = 'A'; c <= 'z'; c++) {
      int l = letter_id(c);
      if (l != NONE && count[l] == 1) {
        if (out.rank == SNT_MAX_RANK) return "more than 8 output dims";
        out.labels[out.rank++] = l;
      }
    }
  }
  /* Kernel labels: the output's in order, then the summed ones. */
  int slot[SNT_K_EINSUM_LABELS];
  for (int l = 0; l < SNT_K_EINSUM_LABELS; l++) slot[l] = -1;
  memset(&pl->k, 0, sizeof pl->k);
  for (int a = 0; a < out.rank; a++) {
    int l = out.labels[a];
    if (slot[l] >= 0 || (!seen[l] && l < ELL)) return "an output label repeated or absent from the inputs";
    slot[l] = pl->k.n_labels, pl->k.size[pl->k.n_labels++] = sz[l];
  }
  pl->k.n_out = pl->k.n_labels;
  for (int l = 0; l < SNT_K_EINSUM_LABELS; l++)
    if (seen[l] && slot[l] < 0) slot[l] = pl->k.n_labels, pl->k.size[pl->k.n_labels++] = sz[l];
  /* Every output index sums over every other label: the loop nest runs the product of all. */
  int64_t work = 1;
  for (int l = 0; l < pl->k.n_labels; l++)
    if (!snt_mul_ok(work, pl->k.size[l] > 0 ? pl->k.size[l] : 1, &work) || work > MAX_WORK) return "more than 2^40 products";
  pl->k.n_in = n->n_in;
  for (int i = 0; i < n->n_in; i++) {
    const snt_tensor *x = &g->tensors[n->in[i]];
    int64_t st = 1;
    for (int a = x->rank - 1; a >= 0; a--) {
      int l = terms[i].labels[a];
      if (!(x->dims[a] == 1 && sz[l] != 1)) pl->k.in_stride[i][slot[l]] += st;
      st *= x->dims[a];
    }
  }
  int64_t st = 1;
  pl->out_rank = out.rank;
  for (int a = out.rank - 1; a >= 0; a--) {
    pl->out_dims[a] = sz[out.labels[a]];
    pl->k.out_stride[slot[out.labels[a]]] = st, st *= pl->out_dims[a];
  }
  return NULL;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  eq_plan pl;
  char buf[96];
  const char *why = plan_of(g, n, &pl, buf, sizeof buf);
  if (why) return snt_node_error(g, n, d, "equation '%s': %s", snt_node_string(n, "equation", ""), why);
  for (int i = 1; i < n->n_in; i++)
    if (g->tensors[n->in[i]].dtype != g->tensors[n->in[0]].dtype) return snt_node_error(g, n, d, "the inputs' types differ");
  snt_set_output(g, node, 0, g->tensors[n->in[0]].dtype, pl.out_rank, pl.out_dims);
  return SNT_OK;
}

static const char *row(snt_emit *e, const int64_t *v, int len) { return snt_emit_ints(e, v, len); }

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  eq_plan pl;
  char buf[96];
  if (plan_of(e->g, n, &pl, buf, sizeof buf)) return SNT_ERR_INTERNAL;
  snt_strbuf strides = {0}, ins = {0};
  for (int i = 0; i < pl.k.n_in; i++) {
    snt_sb_printf(&strides, "%s%s", i ? ", " : "", row(e, pl.k.in_stride[i], pl.k.n_labels));
    snt_sb_printf(&ins, "%s%s", i ? ", " : "", snt_emit_ptr(e, n->in[i]));
  }
  if (strides.failed || ins.failed) return SNT_ERR_NOMEM;
  snt_emit_line(e, "{");
  snt_emit_line(e, "  static const snt_k_einsum p = {.n_in = %d, .n_labels = %d, .n_out = %d, .size = %s, "
                ".in_stride = {%s}, .out_stride = %s};", pl.k.n_in, pl.k.n_labels, pl.k.n_out,
                row(e, pl.k.size, pl.k.n_labels), strides.data ? strides.data : "{0}",
                row(e, pl.k.out_stride, pl.k.n_labels));
  snt_emit_line(e, "  const float *const xs[] = {%s};", ins.data);
  snt_emit_line(e, "  snt_k_einsum_run(&p, xs, %s);", snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  snt_sb_free(&strides);
  snt_sb_free(&ins);
  return SNT_OK;
}

const snt_op snt_op_einsum = {
    .name = "einsum", .type_name = "Einsum", .default_layer = "einsum",
    .doc = "Einstein summation by an equation such as bij,bjk->bik (ellipsis, diagonals, implicit output)",
    .min_inputs = 1, .max_inputs = -1, .args = args, .infer = infer, .onnx_type = "Einsum", .emit = emit,
    .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {1, -1, 1, 1}, .types = SNT_TYPES_KERNEL(~0u),
    .no_export = SNT_NO_EXPORT_YET};
