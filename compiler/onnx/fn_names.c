/* A string-keyed hash map (open addressing) and the string checks of local functions. */
#include "compiler/onnx/fn_names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t slot(const snt_fn_map *m, const char *key) {
  uint32_t h = 2166136261u;
  for (const char *s = key; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  size_t i = h & (m->cap - 1);
  while (m->keys[i] && strcmp(m->keys[i], key) != 0) i = (i + 1) & (m->cap - 1);
  return i;
}

static snt_status grow(snt_fn_map *m) {
  snt_fn_map n = {.cap = m->cap ? m->cap * 2 : 64};
  n.keys = calloc(n.cap, sizeof *n.keys);
  n.vals = calloc(n.cap, sizeof *n.vals);
  if (!n.keys || !n.vals) {
    free(n.keys), free((void *)n.vals);
    return SNT_ERR_NOMEM;
  }
  for (size_t i = 0; i < m->cap; i++)
    if (m->keys[i]) {
      size_t k = slot(&n, m->keys[i]);
      n.keys[k] = m->keys[i], n.vals[k] = m->vals[i], n.n++;
    }
  snt_fn_map_free(m);
  *m = n;
  return SNT_OK;
}

snt_status snt_fn_map_put(snt_fn_map *m, const char *key, const void *val) {
  if ((m->n + 1) * 2 > m->cap && grow(m)) return SNT_ERR_NOMEM;
  size_t i = slot(m, key);
  if (!m->keys[i]) m->keys[i] = key, m->n++;
  m->vals[i] = val;
  return SNT_OK;
}

bool snt_fn_map_get(const snt_fn_map *m, const char *key, const void **val) {
  if (!m->cap) return false;
  size_t i = slot(m, key);
  if (!m->keys[i]) return false;
  if (val) *val = m->vals[i];
  return true;
}

void snt_fn_map_free(snt_fn_map *m) {
  free(m->keys);
  free((void *)m->vals);
  memset(m, 0, sizeof *m);
}

static snt_status missing(snt_diag *d, const snt_source *src, size_t i, const char *what) {
  return snt_diag_error(d, src, (snt_loc){0}, "local function %zu: %s is missing: the file is not a valid ONNX model", i,
                        what);
}

static bool all_present(char *const *s, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (!s[k]) return false;
  return true;
}

snt_status snt_fn_check_strings(snt_diag *d, const snt_source *src, const Onnx__FunctionProto *f, size_t i) {
  if (!f || !f->name) return missing(d, src, i, "its name");
  if (!all_present(f->input, f->n_input) || !all_present(f->output, f->n_output)) return missing(d, src, i, "an input or output name");
  if (!all_present(f->attribute, f->n_attribute)) return missing(d, src, i, "an attribute name");
  for (size_t k = 0; k < f->n_opset_import; k++)
    if (!f->opset_import[k]) return missing(d, src, i, "an opset import");
  for (size_t k = 0; k < f->n_node; k++) {
    const Onnx__NodeProto *np = f->node[k];
    if (!np || !np->op_type) return missing(d, src, i, "the op_type of a node");
    if (!all_present(np->input, np->n_input) || !all_present(np->output, np->n_output))
      return missing(d, src, i, "an input or output name of a node");
    for (size_t j = 0; j < np->n_attribute; j++)
      if (!np->attribute[j] || !np->attribute[j]->name) return missing(d, src, i, "an attribute name of a node");
  }
  return SNT_OK;
}
