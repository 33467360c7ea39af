/* Helpers for tests that lower DSL text into a graph. */
#ifndef SINTER_TESTS_LOWER_UTIL_H
#define SINTER_TESTS_LOWER_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "compiler/lower.h"
#include "compiler/op.h"
#include "dsl/dsl.h"

/* Lowers text; on failure returns NULL and puts "L:C message" of the first error in err. */
static inline snt_graph *lower_text(const char *text, const snt_lower_opts *opts, char *err, size_t err_size) {
  snt_diag *d = snt_diag_create();
  const snt_source *src = snt_diag_add_source(d, "t.nn", text, strlen(text));
  snt_ast_file *f = NULL;
  snt_graph *g = NULL;
  snt_lower_opts none = {0};
  snt_status st = snt_dsl_parse(d, src, &f);
  if (st == SNT_OK) st = snt_lower(d, f, opts ? opts : &none, &g);
  err[0] = '\0';
  if (st != SNT_OK && snt_diag_count(d) > 0) {
    const snt_diag_msg *m = snt_diag_get(d, 0);
    snprintf(err, err_size, "%d:%d %s", m->loc.line, m->loc.col, m->text);
  }
  snt_ast_file_destroy(f);
  snt_diag_destroy(d);
  return g;
}

static inline const snt_tensor *out_of(const snt_graph *g, const char *layer) {
  int n = snt_ir_find_node(g, layer);
  return n < 0 ? NULL : &g->tensors[g->nodes[n].out[0]];
}

/* "C,H,W" of a layer's output (per sample), or "missing". */
static inline const char *dims_of(const snt_graph *g, const char *layer, char *buf, size_t size) {
  const snt_tensor *t = out_of(g, layer);
  if (!t) return "missing";
  size_t o = 0;
  buf[0] = '\0';
  for (int i = 1; i < t->rank && o < size; i++)
    o += (size_t)snprintf(buf + o, size - o, "%s%lld", i > 1 ? "," : "", (long long)t->dims[i]);
  return buf;
}

static inline const snt_tensor *param_of(const snt_graph *g, const char *name) {
  for (int i = 0; i < g->n_tensors; i++)
    if (g->tensors[i].kind == SNT_T_PARAM && strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
  return NULL;
}

#endif
