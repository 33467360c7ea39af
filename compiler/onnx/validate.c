/* ONNX node validation: arity, omitted inputs, attribute ranges, size caps. Every op
 * declares its schema in its own file (compiler/ops/); this file applies it. */
#include "compiler/onnx/validate.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/onnx/schema_attrs.h"
#include "compiler/onnx/versions.h"
#include "support/util.h"

static snt_status fail(snt_diag *d, const snt_onnx_site *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static snt_status fail(snt_diag *d, const snt_onnx_site *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *m = snt_vformat(fmt, ap);
  va_end(ap);
  snt_diag_error(d, at->src, (snt_loc){0}, "node '%s' (%s, opset %d): %s", at->node, at->op_type, at->opset,
                 m ? m : "out of memory");
  free(m);
  return SNT_ERR_INPUT;
}

static const char *plural(int n, const char *word) {
  static const char *const words[][2] = {{"input", "inputs"}, {"output", "outputs"}};
  int w = strcmp(word, "input") == 0 ? 0 : 1;
  return words[w][n != 1];
}

/* min..max of something counted: "1", "2 to 3", "at least 1". */
static snt_status count_error(snt_diag *d, const snt_onnx_site *at, const char *what, int lo, int hi, size_t got) {
  if (hi < 0) return fail(d, at, "needs at least %d %s, got %zu", lo, plural(lo, what), got);
  if (lo == hi) return fail(d, at, "takes %d %s, got %zu", lo, plural(lo, what), got);
  return fail(d, at, "takes %d to %d %s, got %zu", lo, hi, plural(hi, what), got);
}

static snt_status arity(snt_diag *d, const snt_onnx_site *at, const snt_onnx_arity *a, const Onnx__NodeProto *np) {
  size_t n_in = np->n_input;
  while (n_in > 0 && !np->input[n_in - 1][0]) n_in--; /* trailing omitted inputs are absent ones */
  if (n_in < (size_t)a->min_in || (a->max_in >= 0 && n_in > (size_t)a->max_in))
    return count_error(d, at, "input", a->min_in, a->max_in, n_in);
  /* Only optional inputs may be omitted; a variadic list has none. */
  for (size_t k = 0; k < n_in; k++)
    if (!np->input[k][0] && (k < (size_t)a->min_in || a->max_in < 0))
      return fail(d, at, "input %zu is required but omitted (named \"\")", k + 1);
  size_t n_out = np->n_output;
  if (n_out < (size_t)a->min_out || (a->max_out >= 0 && n_out > (size_t)a->max_out))
    return count_error(d, at, "output", a->min_out, a->max_out, n_out);
  if (n_out > 0 && !np->output[0][0]) return fail(d, at, "output 1 is required but named \"\"");
  return SNT_OK;
}

static const snt_attr_range *range_of(const snt_op *op, const char *name) {
  for (const snt_attr_range *r = op->onnx_ranges; r && r->name; r++)
    if (strcmp(r->name, name) == 0) return r;
  return NULL;
}

static snt_status ranges(snt_diag *d, const snt_onnx_site *at, const snt_op *op, const Onnx__NodeProto *np) {
  for (size_t i = 0; i < np->n_attribute; i++) {
    const Onnx__AttributeProto *a = np->attribute[i];
    const snt_attr_range *r = range_of(op, a->name);
    if (!r) continue;
    const int64_t *v = a->ints;
    size_t n = a->n_ints;
    if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) v = &a->i, n = 1;
    else if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
      return fail(d, at, "attribute '%s' must be an integer or a list of integers", a->name);
    for (size_t k = 0; k < n; k++)
      if (v[k] < r->min || v[k] > r->max)
        return fail(d, at, "attribute '%s' has %" PRId64 ", expected %" PRId64 " to %" PRId64, a->name, v[k], r->min, r->max);
  }
  return SNT_OK;
}

bool snt_onnx_attr_internal(const char *name) { return strncmp(name, "__", 2) == 0; }

static int first_version(const char *op_type) {
  int v = 0;
  for (const snt_onnx_attr_row *r = snt_onnx_attr_rows; r->op; r++)
    if (strcmp(r->op, op_type) == 0 && (!v || r->since < v)) v = r->since;
  return v;
}

/* The newest version of op_type that has the attribute, for the message; NULL: none has. */
static const snt_onnx_attr_row *version_with(const char *op_type, const char *name) {
  const snt_onnx_attr_row *best = NULL;
  for (const snt_onnx_attr_row *r = snt_onnx_attr_rows; r->op; r++)
    if (strcmp(r->op, op_type) == 0 && snt_onnx_attr_in_row(r, name) && (!best || r->since > best->since)) best = r;
  return best;
}

/* The version after row's (where its attribute set ends), 0 when row is the newest. */
static int next_since(const snt_onnx_attr_row *row) {
  int next = 0;
  for (const snt_onnx_attr_row *r = snt_onnx_attr_rows; r->op; r++)
    if (strcmp(r->op, row->op) == 0 && r->since > row->since && (!next || r->since < next)) next = r->since;
  return next;
}

/* The first version of the run of versions up to row's that all have the attribute. */
static int first_of_run(const snt_onnx_attr_row *row, const char *name) {
  int from = row->since;
  for (const snt_onnx_attr_row *r = row; r > snt_onnx_attr_rows && strcmp(r[-1].op, row->op) == 0; r--) {
    if (!snt_onnx_attr_in_row(&r[-1], name)) break;
    from = r[-1].since;
  }
  return from;
}

/* Only the schema's attributes of the version in force: the importer copies them under their
 * own names, and a foreign name could set an op's internal attribute. */
static snt_status schema_attrs(snt_diag *d, const snt_onnx_site *at, const Onnx__NodeProto *np) {
  const snt_onnx_attr_row *row = snt_onnx_attr_row_at(np->op_type, at->opset);
  if (!row) {
    int first = first_version(np->op_type);
    if (first) return fail(d, at, "op %s does not exist before opset %d", np->op_type, first);
    return fail(d, at, "internal: no ONNX schema attributes are known for %s", np->op_type);
  }
  int v18 = snt_onnx_since_18(np->op_type, at->opset), version = v18 > row->since ? v18 : row->since;
  for (size_t i = 0; i < np->n_attribute; i++) {
    const char *name = np->attribute[i]->name;
    if (snt_onnx_attr_internal(name) || snt_onnx_attr_in_row(row, name)) continue;
    const snt_onnx_attr_row *other = version_with(np->op_type, name);
    char was[96] = "";
    if (other) {
      int from = first_of_run(other, name), end = next_since(other);
      if (end) snprintf(was, sizeof was, " (%s has it in opsets %d to %d)", other->op, from, end - 1);
      else snprintf(was, sizeof was, " (%s has it from opset %d)", other->op, from);
    }
    if (!row->attrs[0])
      return fail(d, at, "attribute '%s' is not an attribute of %s-%d, which has none%s", name, row->op, version, was);
    char *list = malloc(2 * strlen(row->attrs) + 1), *o = list; /* "a b" -> "a, b" */
    for (const char *p = row->attrs; list && *p; p++) {
      *o++ = *p;
      if (*p == ' ') o[-1] = ',', *o++ = ' ';
    }
    if (list) *o = '\0';
    snt_status st = fail(d, at, "attribute '%s' is not an attribute of %s-%d%s; expected one of: %s", name, row->op,
                         version, was, list ? list : row->attrs);
    free(list);
    return st;
  }
  return SNT_OK;
}

snt_status snt_onnx_validate_node(snt_diag *d, const snt_onnx_site *at, const snt_op *op, const Onnx__NodeProto *np) {
  if (op->onnx_arity.min_out < 1) return fail(d, at, "internal: the op declares no ONNX arity");
  snt_status st = schema_attrs(d, at, np);
  if (!st) st = arity(d, at, &op->onnx_arity, np);
  return st ? st : ranges(d, at, op, np);
}

static void dims_str(char *buf, size_t size, const snt_tensor *t) { snt_shape_str(buf, size, t, 0); }

snt_status snt_onnx_validate_sizes(snt_diag *d, const snt_onnx_site *at, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  for (int k = 0; k < n->n_out; k++) {
    const snt_tensor *t = &g->tensors[n->out[k]];
    const char *why = snt_size_problem(t);
    if (!why) continue;
    char s[SNT_MAX_RANK * 24 + 8];
    dims_str(s, sizeof s, t);
    return fail(d, at, "output '%s' would have shape %s: %s", t->name, s, why);
  }
  return SNT_OK;
}

snt_status snt_onnx_validate_tensor(snt_diag *d, const snt_graph *g, int t, const char *what) {
  const char *why = snt_size_problem(&g->tensors[t]);
  if (!why) return SNT_OK;
  char s[SNT_MAX_RANK * 24 + 8];
  dims_str(s, sizeof s, &g->tensors[t]);
  return snt_diag_error(d, g->src, (snt_loc){0}, "%s '%s' has shape %s: %s", what, g->tensors[t].name, s, why);
}

/* protobuf-c leaves an absent proto2 string NULL: a file without an op_type, a tensor
 * name or an attribute name is malformed, and nothing after this may meet a NULL. */
static snt_status missing(snt_diag *d, const snt_source *src, const char *what, size_t i, const char *field) {
  return snt_diag_error(d, src, (snt_loc){0}, "%s %zu has no %s: the file is not a valid ONNX model", what, i, field);
}

static snt_status value_infos(snt_diag *d, const snt_source *src, const char *what, Onnx__ValueInfoProto *const *v,
                              size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!v[i] || !v[i]->name) return missing(d, src, what, i, "name");
  return SNT_OK;
}

snt_status snt_onnx_validate_graph_strings(snt_diag *d, const snt_source *src, const Onnx__GraphProto *gp) {
  snt_status st = value_infos(d, src, "graph input", gp->input, gp->n_input);
  if (!st) st = value_infos(d, src, "graph output", gp->output, gp->n_output);
  for (size_t i = 0; !st && i < gp->n_initializer; i++)
    if (!gp->initializer[i]->name) st = missing(d, src, "initializer", i, "name");
  for (size_t i = 0; !st && i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    if (!np->op_type) return missing(d, src, "node", i, "op_type");
    for (size_t k = 0; k < np->n_attribute; k++)
      if (!np->attribute[k]->name) return missing(d, src, "an attribute of node", i, "name");
    for (size_t k = 0; k < np->n_input; k++)
      if (!np->input[k]) return missing(d, src, "an input of node", i, "name");
    for (size_t k = 0; k < np->n_output; k++)
      if (!np->output[k]) return missing(d, src, "an output of node", i, "name");
  }
  return st;
}

snt_status snt_onnx_validate_strings(snt_diag *d, const snt_source *src, const Onnx__ModelProto *m) {
  const Onnx__GraphProto *gp = m->graph;
  if (!gp) return snt_diag_error(d, src, (snt_loc){0}, "the model has no graph: the file is not a valid ONNX model");
  for (size_t i = 0; i < m->n_metadata_props; i++)
    if (!m->metadata_props[i]->key || !m->metadata_props[i]->value) return missing(d, src, "metadata entry", i, "key or value");
  return snt_onnx_validate_graph_strings(d, src, gp);
}
