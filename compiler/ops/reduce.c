/* The Reduce ops (mean, sum, max, min, prod, l1, l2, log_sum, log_sum_exp, sum_square) over a set
 * of axes (all when none are given), keeping the reduced axes as size 1 when keepdims is set
 * (ONNX's default). Axes are an attribute up to opset 17, except ReduceSum's input from 13. */
#include <string.h>

#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

/* defined below */
extern const snt_op snt_op_reduce_mean, snt_op_reduce_sum, snt_op_reduce_max, snt_op_reduce_min, snt_op_reduce_prod, snt_op_reduce_l1,
    snt_op_reduce_l2, snt_op_reduce_log_sum, snt_op_reduce_log_sum_exp, snt_op_reduce_sum_square;

/* The kernel call of each op: snt_k_reduce's kinds, then snt_k_reduce2's. */
static const char *kernel_of(const snt_op *op, const char **fn) {
  static const struct { const snt_op *op; const char *kind; } kinds[] = {
      {&snt_op_reduce_mean, "SNT_K_REDUCE_MEAN"}, {&snt_op_reduce_sum, "SNT_K_REDUCE_SUM"},
      {&snt_op_reduce_max, "SNT_K_REDUCE_MAX"}, {&snt_op_reduce_min, "SNT_K_REDUCE_MIN"},
      {&snt_op_reduce_prod, "SNT_K_REDUCE_PROD"}, {&snt_op_reduce_l1, "SNT_K_REDUCE_L1"},
      {&snt_op_reduce_l2, "SNT_K_REDUCE_L2"}, {&snt_op_reduce_log_sum, "SNT_K_REDUCE_LOG_SUM"},
      {&snt_op_reduce_log_sum_exp, "SNT_K_REDUCE_LOG_SUM_EXP"}, {&snt_op_reduce_sum_square, "SNT_K_REDUCE_SUM_SQUARE"}};
  for (int i = 0; i < (int)(sizeof kinds / sizeof kinds[0]); i++)
    if (kinds[i].op == op) return *fn = i < 4 ? "snt_k_reduce" : "snt_k_reduce2", kinds[i].kind;
  return *fn = "snt_k_reduce", "SNT_K_REDUCE_SUM";
}

static const snt_arg_spec args[] = {{"axes", SNT_ARG_INTS, "[]", NULL}, {"keepdims", SNT_ARG_BOOL, "true", NULL}, {0}};

/* The reduced axes as a bit mask; axes come from constant input 1 or the attribute. */
static snt_status axes_mask(snt_graph *g, int node, snt_diag *d, uint32_t *mask) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *ax = snt_in_opt(g, n, 1);
  int64_t axes[SNT_MAX_RANK];
  int c = 0;
  if (ax && ax->data && ax->dtype == SNT_I64 && snt_tensor_numel(ax) <= SNT_MAX_RANK) {
    c = (int)snt_tensor_numel(ax);
    for (int i = 0; i < c; i++) axes[i] = ((int64_t *)ax->data)[i];
  } else if (!ax) {
    const int64_t *v = snt_node_ints(n, "axes", &c);
    if (c > SNT_MAX_RANK) return snt_node_error(g, n, d, "too many axes");
    for (int i = 0; v && i < c; i++) axes[i] = v[i];
  } else {
    return snt_node_error(g, n, d, "its axes must be a constant int64 list");
  }
  *mask = 0;
  if (c == 0) {
    /* No axes: all of them, unless noop_with_empty_axes says to copy. */
    if (!snt_node_int(n, "noop_with_empty_axes", 0)) *mask = (1u << x->rank) - 1;
    return SNT_OK;
  }
  for (int i = 0; i < c; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];
    if (a < 0 || a >= x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)axes[i], x->rank);
    *mask |= 1u << a;
  }
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  /* FLOAT16 and DOUBLE reach the float32 kernel through the importer's Casts (legalize_types.c). */
  if (!(SNT_TY(x->dtype) & (SNT_TY(SNT_F32) | SNT_TY(SNT_F64) | SNT_TY_FLOAT16S)))
    return snt_node_error(g, n, d, "reduces FLOAT tensors only, not %s", snt_dtype_name(x->dtype));
  uint32_t mask = 0;
  snt_status st = axes_mask(g, node, d, &mask);
  if (st) return st;
  bool keep = snt_node_int(n, "keepdims", 1);
  int64_t dims[SNT_MAX_RANK];
  int r = 0;
  for (int i = 0; i < x->rank; i++) {
    if (!(mask >> i & 1)) dims[r++] = x->dims[i];
    else if (keep) dims[r++] = 1;
  }
  snt_set_output(g, node, 0, x->dtype, r, dims);
  return snt_node_set_int(n, "axes_mask", mask);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s int64_t dims[] = %s;", snt_emit_const(e, n->in[0]), snt_emit_dims_rows(e, n->in[0]));
  const char *fn, *kind = kernel_of(n->op, &fn);
  if (strcmp(fn, "snt_k_reduce") == 0) fn = "snt_k_reduce_ctx(m->k, "; /* on the team when it pays */
  else fn = "snt_k_reduce2(";
  snt_emit_line(e, "if (SNT_K_FAILED(%s%s, %d, dims, %lldu, %s, %s))) return snt_k_st_;", fn, kind, x->rank,
                (long long)snt_node_int(n, "axes_mask", 0), snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* Axes past the batch only. */
static bool rows(const snt_graph *g, const snt_node *n, const bool *r) {
  return !(snt_node_int(n, "axes_mask", 0) & 1) && snt_rows_first(g, n, r);
}

/* ONNX attribute ranges (compiler/onnx/validate.c). */
static const snt_attr_range reduce_ranges[] = {{"keepdims", 0, 1}, {"noop_with_empty_axes", 0, 1}, {0}};

/* The axes input arrived with opset 13 for ReduceSum (with noop_with_empty_axes), 18 for the
 * others: before it the axes are an attribute, from it an input. */
static snt_status reduce_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int from = n->op == &snt_op_reduce_sum ? 13 : 18;
  if (opset < from && n->n_in > 1)
    return snt_node_error(g, n, d, "%s-%d takes its axes as an attribute (an input from opset %d)", n->op->type_name, opset, from);
  return SNT_OK;
}

/* sinter import: the DSL takes the same full-rank axes (dim 0 the batch), which it must keep. */
static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  uint32_t mask = (uint32_t)snt_node_int(n, "axes_mask", 0);
  if (mask & 1u) return snt_dsl_unsupported(w, n, "it reduces over the batch axis");
  if (!mask) return snt_dsl_alias(w, node); /* noop_with_empty_axes: a copy */
  int64_t axes[SNT_MAX_RANK];
  int c = 0;
  for (int a = 1; a < w->g->tensors[n->in[0]].rank; a++)
    if (mask >> a & 1u) axes[c++] = a;
  fprintf(w->out, "  %s = %s(%s, ", snt_dsl_ident(w, n->out[0]), n->op->name, snt_dsl_ident(w, n->in[0]));
  snt_dsl_ints(w->out, axes, c);
  fprintf(w->out, ", keepdims = %s, name = %s)\n", snt_node_int(n, "keepdims", 1) ? "true" : "false", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

/* ONNX export at opset 13: axes an input of ReduceSum, an attribute of the others. */
static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  uint32_t mask = (uint32_t)snt_node_int(n, "axes_mask", 0);
  int64_t axes[SNT_MAX_RANK], c = 0;
  for (int a = 0; a < g->tensors[n->in[0]].rank; a++)
    if (mask >> a & 1u) axes[c++] = a;
  if (!mask) return snt_ox_refuse(x, node, "a reduction over no axis (a copy) has no opset-13 form");
  bool input = n->op == &snt_op_reduce_sum;
  const char *ins[2] = {snt_ox_name(x, n->in[0]), input ? snt_ox_const(x, "axes", SNT_I64, 1, &c, axes) : NULL};
  int k = snt_ox_node(x, n->op->onnx_type, n->name, input ? 2 : 1, ins, snt_ox_name(x, n->out[0]));
  if (!input) snt_ox_attr_ints(x, k, "axes", (int)c, axes);
  snt_ox_attr_int(x, k, "keepdims", snt_node_int(n, "keepdims", 1) ? 1 : 0);
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

#define REDUCE_OP(id, onnx, what)                                                                                     \
  const snt_op snt_op_##id = {                                                                                       \
      .name = #id, .type_name = onnx, .default_layer = #id, .doc = what " over axes: " #id "(x, axes, keepdims=true)", \
      .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = onnx, .onnx_import = reduce_import, .onnx_upto = 20, \
      .onnx_const_inputs = 1u << 1, .emit = emit, .to_dsl = to_dsl, .batch_rows = rows,                     \
      .onnx_arity = {1, 2, 1, 1}, .onnx_ranges = reduce_ranges, .types = {.t = SNT_TY(SNT_F32), .t_f32 = SNT_TY(SNT_F16) | SNT_TY(SNT_F64), .other = SNT_TY(SNT_I64), .note = SNT_NOTE_KERNEL}, \
      .onnx_export = onnx_export};

REDUCE_OP(reduce_mean, "ReduceMean", "mean")
REDUCE_OP(reduce_sum, "ReduceSum", "sum")
REDUCE_OP(reduce_max, "ReduceMax", "maximum")
REDUCE_OP(reduce_min, "ReduceMin", "minimum")
REDUCE_OP(reduce_prod, "ReduceProd", "product")
REDUCE_OP(reduce_l1, "ReduceL1", "sum of absolute values")
REDUCE_OP(reduce_l2, "ReduceL2", "square root of the sum of squares")
REDUCE_OP(reduce_log_sum, "ReduceLogSum", "log of the sum")
REDUCE_OP(reduce_log_sum_exp, "ReduceLogSumExp", "log of the sum of exponentials")
REDUCE_OP(reduce_sum_square, "ReduceSumSquare", "sum of squares")
