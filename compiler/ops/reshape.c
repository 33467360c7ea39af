/* reshape, squeeze, unsqueeze: the same elements under a new shape (a copy in the plan
 * today; the bytes never move). The new shape is known at compile time. */
#include <stdlib.h>
#include <string.h>

#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

static const snt_arg_spec reshape_args[] = {{"shape", SNT_ARG_INTS, NULL, NULL}, {0}};
static const snt_arg_spec axes_args[] = {{"axes", SNT_ARG_INTS, "[]", NULL}, {0}};
extern const snt_op snt_op_unsqueeze, snt_op_reshape; /* below */

/* An int64 constant input (a shape or axes) as a list; false when absent. */
static bool const_ints(snt_graph *g, const snt_node *n, int slot, int64_t *out, int *count, int max) {
  snt_tensor *t = snt_in_opt(g, n, slot);
  if (!t || !t->data || (t->dtype != SNT_I64 && t->dtype != SNT_I32) || snt_tensor_numel(t) > max) return false;
  *count = (int)snt_tensor_numel(t);
  for (int i = 0; i < *count; i++) out[i] = t->dtype == SNT_I64 ? ((int64_t *)t->data)[i] : ((int32_t *)t->data)[i];
  return true;
}

/* The list attribute `name` or, from `opset_input` on, constant input 1. */
static bool ints_arg(snt_graph *g, const snt_node *n, const char *name, int64_t *out, int *count) {
  if (const_ints(g, n, 1, out, count, SNT_MAX_RANK)) return true;
  int c = 0;
  const int64_t *v = snt_node_ints(n, name, &c);
  if (!v || c > SNT_MAX_RANK) return false;
  memcpy(out, v, sizeof(int64_t) * (size_t)c);
  *count = c;
  return true;
}

static snt_status reshape_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t s[SNT_MAX_RANK];
  int r = 0;
  if (!ints_arg(g, n, "shape", s, &r)) return snt_node_error(g, n, d, "needs the new shape as a constant of at most %d values", SNT_MAX_RANK);
  bool allowzero = snt_node_int(n, "allowzero", 0);
  int64_t known = 1, total = snt_tensor_numel(x);
  int infer = -1;
  for (int i = 0; i < r; i++) {
    if (s[i] == 0 && !allowzero) {
      if (i >= x->rank) return snt_node_error(g, n, d, "shape entry %d is 0 (copy), but the input has rank %d", i, x->rank);
      s[i] = x->dims[i];
    }
    if (s[i] == -1) {
      if (infer >= 0) return snt_node_error(g, n, d, "the shape has more than one -1");
      infer = i;
    } else if (s[i] < 0) {
      return snt_node_error(g, n, d, "shape entry %d is %lld", i, (long long)s[i]);
    } else if (!snt_mul_ok(known, s[i], &known)) {
      return snt_node_error(g, n, d, "the shape's element count overflows");
    }
  }
  if (infer >= 0) s[infer] = known ? total / known : 0;
  int64_t count = 1;
  if (!snt_dims_numel(r, s, &count)) return snt_node_error(g, n, d, "the shape's element count overflows");
  if (count != total) {
    char a[128];
    snt_shape_str(a, sizeof a, x, 0);
    return snt_node_error(g, n, d, "cannot reshape %s (%lld values) to %d dimensions of %lld values", a,
                          (long long)total, r, (long long)count);
  }
  snt_set_output(g, node, 0, x->dtype, r, s);
  return SNT_OK;
}

static snt_status squeeze_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t axes[SNT_MAX_RANK];
  int na = 0;
  bool given = ints_arg(g, n, "axes", axes, &na);
  bool drop[SNT_MAX_RANK] = {0};
  for (int i = 0; i < (given ? na : 0); i++) {
    int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];
    if (a < 0 || a >= x->rank || x->dims[a] != 1)
      return snt_node_error(g, n, d, "axis %lld is not a dimension of size 1", (long long)axes[i]);
    drop[a] = true;
  }
  int64_t dims[SNT_MAX_RANK];
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (given ? !drop[i] : x->dims[i] != 1) dims[r++] = x->dims[i];
  snt_set_output(g, node, 0, x->dtype, r, dims);
  return SNT_OK;
}

static snt_status unsqueeze_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t axes[SNT_MAX_RANK];
  int na = 0;
  if (!ints_arg(g, n, "axes", axes, &na)) return snt_node_error(g, n, d, "needs its axes as a constant");
  int r = x->rank + na;
  if (r > SNT_MAX_RANK) return snt_node_error(g, n, d, "the result would have rank %d (at most %d)", r, SNT_MAX_RANK);
  bool added[SNT_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
    if (a < 0 || a >= r || added[a]) return snt_node_error(g, n, d, "axis %lld is out of range or repeated", (long long)axes[i]);
    added[a] = true;
  }
  int64_t dims[SNT_MAX_RANK];
  for (int i = 0, k = 0; i < r; i++) dims[i] = added[i] ? 1 : x->dims[k++];
  snt_set_output(g, node, 0, x->dtype, r, dims);
  return SNT_OK;
}

/* The planner puts the output on the input's bytes when the input dies here (.inplace): then
 * both are the same place and there is nothing to copy. */
snt_status snt_emit_copy(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const char *out = snt_emit_ptr(e, n->out[0]), *in = snt_emit_ptr(e, n->in[0]); /* arena strings */
  if (strcmp(out, in) != 0) snt_emit_line(e, "memcpy(%s, %s, %s);", out, in, snt_emit_bytes(e, n->in[0]));
  return SNT_OK;
}

/* sinter import: the DSL's reshape takes the full-rank shape; its first entry must keep the
 * batch (0 copies it, -1 infers it, or the batch itself, written as 0). */
static snt_status reshape_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  const snt_tensor *x = &w->g->tensors[n->in[0]];
  int64_t s[SNT_MAX_RANK];
  int r = 0;
  if (!ints_arg((snt_graph *)w->g, n, "shape", s, &r) || r < 1) return snt_dsl_unsupported(w, n, "its shape is not a constant");
  bool allowzero = snt_node_int(n, "allowzero", 0);
  for (int i = 0; i < r; i++)
    if (allowzero && s[i] == 0) return snt_dsl_unsupported(w, n, "allowzero with a 0 in the shape");
  if (s[0] == x->dims[0]) s[0] = 0;
  bool others_known = true;
  for (int i = 1; i < r; i++) others_known &= s[i] > 0 || s[i] == 0;
  if (s[0] != 0 && !(s[0] == -1 && others_known)) return snt_dsl_unsupported(w, n, "its shape does not keep the batch first");
  fprintf(w->out, "  %s = reshape(%s, ", snt_dsl_ident(w, n->out[0]), snt_dsl_ident(w, n->in[0]));
  snt_dsl_ints(w->out, s, r);
  fprintf(w->out, ", name = %s)\n", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

/* squeeze and unsqueeze with explicit axes after the batch (full-rank, as the DSL's). */
static snt_status axes_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  int64_t axes[SNT_MAX_RANK];
  int c = 0;
  if (!ints_arg((snt_graph *)w->g, n, "axes", axes, &c) || c < 1) return snt_dsl_unsupported(w, n, "it has no explicit axes");
  int rank = w->g->tensors[n->op == &snt_op_unsqueeze ? n->out[0] : n->in[0]].rank;
  for (int i = 0; i < c; i++) {
    axes[i] = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (axes[i] < 1) return snt_dsl_unsupported(w, n, "an axis is the batch axis");
  }
  fprintf(w->out, "  %s = %s(%s, ", snt_dsl_ident(w, n->out[0]), n->op->name, snt_dsl_ident(w, n->in[0]));
  snt_dsl_ints(w->out, axes, c);
  fprintf(w->out, ", name = %s)\n", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

/* ONNX export (opset 13): the shape or axes as an int64 initializer input. */
static snt_status ints_export(struct snt_onnx_export *x, const snt_graph *g, int node, const char *what) {
  const snt_node *n = &g->nodes[node];
  int64_t v[SNT_MAX_RANK];
  int c = 0;
  if (!ints_arg((snt_graph *)g, n, what, v, &c)) return snt_ox_refuse(x, node, "its shape or axes are not known");
  int64_t len = c;
  const char *ins[2] = {snt_ox_name(x, n->in[0]), snt_ox_const(x, what, SNT_I64, 1, &len, v)};
  int k = snt_ox_node(x, n->op->onnx_type, n->name, c > 0 || n->op == &snt_op_reshape ? 2 : 1, ins, snt_ox_name(x, n->out[0]));
  if (n->op == &snt_op_reshape && snt_node_int(n, "allowzero", 0)) snt_ox_attr_int(x, k, "allowzero", 1);
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}
static snt_status reshape_export(struct snt_onnx_export *x, const snt_graph *g, int node) { return ints_export(x, g, node, "shape"); }
static snt_status axes_export(struct snt_onnx_export *x, const snt_graph *g, int node) { return ints_export(x, g, node, "axes"); }

const snt_op snt_op_reshape = {
    .name = "reshape", .type_name = "Reshape", .default_layer = "reshape",
    .doc = "the same values in a new shape (0 copies a dimension, -1 infers one): reshape(x, shape)",
    .min_inputs = 1, .max_inputs = 1, .args = reshape_args, .infer = reshape_infer, .onnx_type = "Reshape", .onnx_upto = 21,
    .onnx_const_inputs = 1u << 1, .emit = snt_emit_copy, .fold = snt_fold_copy, .to_dsl = reshape_dsl, .inplace = true,
    .batch_rows = snt_rows_first, .onnx_arity = {1, 2, 1, 1}, .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE},
    .onnx_export = reshape_export};

const snt_op snt_op_squeeze = {
    .name = "squeeze", .type_name = "Squeeze", .default_layer = "squeeze",
    .doc = "removes dimensions of size 1: squeeze(x, axes)", .min_inputs = 1, .max_inputs = 1, .args = axes_args,
    .infer = squeeze_infer, .onnx_type = "Squeeze", .onnx_upto = 21, .onnx_const_inputs = 1u << 1, .emit = snt_emit_copy, .fold = snt_fold_copy,
    .to_dsl = axes_dsl, .inplace = true, .batch_rows = snt_rows_first,
    .onnx_arity = {1, 2, 1, 1}, .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE},
    .onnx_export = axes_export};

const snt_op snt_op_unsqueeze = {
    .name = "unsqueeze", .type_name = "Unsqueeze", .default_layer = "unsqueeze",
    .doc = "inserts dimensions of size 1: unsqueeze(x, axes)", .min_inputs = 1, .max_inputs = 1, .args = axes_args,
    .infer = unsqueeze_infer, .onnx_type = "Unsqueeze", .onnx_upto = 21, .onnx_const_inputs = 1u << 1, .emit = snt_emit_copy, .fold = snt_fold_copy,
    .to_dsl = axes_dsl, .inplace = true, .batch_rows = snt_rows_first,
    .onnx_arity = {1, 2, 1, 1}, .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE},
    .onnx_export = axes_export};

/* ---- shape: the dimensions as int64 values, known at compile time ---- */

static const snt_arg_spec no_args[] = {{0}};

static void shape_range(const snt_node *n, int rank, int64_t *start, int64_t *end) {
  *start = snt_node_int(n, "start", 0);
  *end = snt_node_int(n, "end", rank);
  if (*start < 0) *start += rank;
  if (*end < 0) *end += rank;
  if (*start < 0) *start = 0;
  if (*end > rank) *end = rank;
  if (*end < *start) *end = *start;
}

static snt_status shape_infer(snt_graph *g, int node, snt_diag *d) {
  (void)d;
  snt_node *n = &g->nodes[node];
  int64_t s, e;
  shape_range(n, snt_in(g, n, 0)->rank, &s, &e);
  int64_t len = e - s;
  snt_set_output(g, node, 0, SNT_I64, 1, &len);
  return SNT_OK;
}

static snt_status shape_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t s, end;
  shape_range(n, x->rank, &s, &end);
  for (int64_t i = s; i < end; i++)
    snt_emit_line(e, "%s[%lld] = %s;", snt_emit_ptr(e, n->out[0]), (long long)(i - s), snt_emit_i64(e, x->dims[i]));
  return SNT_OK;
}

/* Folded from the static shape of its input, the dims shape_emit writes. */
static snt_status shape_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t start = snt_node_int(n, "start", 0), len = snt_out(g, n, 0)->dims[0];
  if (start < 0) start += x->rank;
  if (start < 0) start = 0;
  for (int64_t i = 0; i < len; i++) ((int64_t *)y)[i] = x->dims[start + i];
  return SNT_OK;
}

/* Not "shape": the DSL's shape(x) is the builtin that gives per-sample sizes as a list. */
const snt_op snt_op_tensor_shape = {
    .name = "tensor_shape", .type_name = "Shape", .default_layer = "shape",
    .doc = "the dimensions of x as int64 values (ONNX start/end select a range)", .min_inputs = 1, .max_inputs = 1,
    .args = no_args, .infer = shape_infer, .onnx_type = "Shape", .onnx_upto = 21, .emit = shape_emit,
    .fold = shape_fold, .reads_shape_only = true, .to_dsl = snt_dsl_plain,
    .onnx_arity = {1, 1, 1, 1}, .types = {.t = SNT_TY_ALL, .note = "reads the shape only"},
    .no_export = SNT_NO_EXPORT_YET};
