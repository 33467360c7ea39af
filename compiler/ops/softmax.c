/* softmax and log_softmax over one axis. The DSL counts axes per sample as Keras does
 * (-1 the last); ONNX counts the whole tensor, and before opset 13 flattens it to 2-D
 * at the axis. Both become "full_axis" (and "coerce_2d") on the node. */
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

extern const snt_op snt_op_log_softmax; /* defined below, beside softmax */

static const snt_arg_spec args[] = {{"axis", SNT_ARG_INT, "-1", NULL}, {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  if (!snt_node_attr(n, "full_axis")) {
    int64_t axis = snt_node_int(n, "axis", -1), per_sample = x->rank - 1;
    if (axis < -per_sample || axis >= per_sample)
      return snt_node_error(g, n, d, "axis %lld is out of range for a %lld-D input", (long long)axis, (long long)per_sample);
    snt_status st = snt_node_set_int(n, "full_axis", axis < 0 ? axis + x->rank : axis + 1);
    if (st) return st;
  }
  int64_t a = snt_node_int(n, "full_axis", 0);
  if (a < 0 || a >= x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)a, x->rank);
  return snt_infer_same(g, node, d);
}

snt_status snt_onnx_axis_lines(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int rank = snt_in(g, n, 0)->rank;
  int64_t axis = snt_node_int(n, "axis", opset < 13 ? 1 : -1);
  if (axis < -rank || axis >= rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d (opset %d)", (long long)axis, rank, opset);
  snt_status st = snt_node_set_int(n, "full_axis", axis < 0 ? axis + rank : axis);
  if (!st && opset < 13) st = snt_node_set_int(n, "coerce_2d", 1);
  return st;
}

void snt_axis_lines(const snt_node *n, const snt_tensor *x, int64_t *outer, int64_t *len, int64_t *inner) {
  int64_t a = snt_node_int(n, "full_axis", 0);
  bool coerce = snt_node_int(n, "coerce_2d", 0);
  *outer = *len = *inner = 1;
  for (int i = 0; i < x->rank; i++) {
    if (i < a) *outer *= x->dims[i];
    else if (i == a || coerce) *len *= x->dims[i];
    else *inner *= x->dims[i];
  }
}

/* DOUBLE in double precision, stable by subtracting the maximum (y may be x: each element is
 * read before it is written). */
static snt_status emit_f64(snt_emit *e, int node, int64_t outer, int64_t len, int64_t inner, bool log) {
  const snt_node *n = &e->g->nodes[node];
  snt_emit_line(e, "{");
  snt_emit_line(e, "const double *x = %s;", snt_emit_ptr(e, n->in[0]));
  snt_emit_line(e, "double *y = %s;", snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "for (int64_t o = 0; o < %lld; o++)", (long long)outer);
  snt_emit_line(e, "  for (int64_t j = 0; j < %lld; j++) {", (long long)inner);
  snt_emit_line(e, "    const double *xp = x + o * %lld + j;", (long long)(len * inner));
  snt_emit_line(e, "    double *yp = y + o * %lld + j, m = -INFINITY, s = 0;", (long long)(len * inner));
  snt_emit_line(e, "    for (int64_t a = 0; a < %lld; a++) m = xp[a * %lld] > m ? xp[a * %lld] : m;", (long long)len,
                (long long)inner, (long long)inner);
  snt_emit_line(e, "    for (int64_t a = 0; a < %lld; a++) s += exp(xp[a * %lld] - m);", (long long)len, (long long)inner);
  if (log)
    snt_emit_line(e, "    for (int64_t a = 0; a < %lld; a++) yp[a * %lld] = xp[a * %lld] - m - log(s);", (long long)len,
                  (long long)inner, (long long)inner);
  else
    snt_emit_line(e, "    for (int64_t a = 0; a < %lld; a++) yp[a * %lld] = exp(xp[a * %lld] - m) / s;", (long long)len,
                  (long long)inner, (long long)inner);
  snt_emit_line(e, "  }");
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t outer, len, inner;
  snt_axis_lines(n, x, &outer, &len, &inner);
  bool log = n->op == &snt_op_log_softmax;
  if (x->dtype == SNT_F64) return emit_f64(e, node, outer, len, inner, log); /* whole batch: rows() refuses DOUBLE */
  const char *outer_s = snt_emit_rows_dyn(e, n->in[0])
                            ? snt_format_keep(e, "n * %lldLL", (long long)(outer / x->dims[0]))
                            : snt_emit_i64(e, outer);
  snt_emit_line(e, "snt_k_%ssoftmax(%s, %lld, %lld, %s, %s);", log ? "log_" : "", outer_s, (long long)len,
                (long long)inner, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

/* Over an axis past the batch (input 0 keeps dim 0 as the outer loop), in float. */
static bool rows(const snt_graph *g, const snt_node *n, const bool *r) {
  return snt_node_int(n, "full_axis", 0) > 0 && g->tensors[n->in[0]].dtype == SNT_F32 && snt_rows_first(g, n, r);
}

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *in = snt_ox_name(x, n->in[0]);
  int k = snt_ox_node(x, n->op->onnx_type, n->name, 1, &in, snt_ox_name(x, n->out[0]));
  snt_ox_attr_int(x, k, "axis", snt_node_int(n, "full_axis", 1));
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  int64_t a = snt_node_int(n, "full_axis", 1);
  if (a < 1 || snt_node_int(n, "coerce_2d", 0)) return snt_dsl_unsupported(w, n, "softmax over one axis after the batch only");
  fprintf(w->out, "  %s = %s(%s, axis = %lld, name = %s)\n", lhs, n->op->name, in, (long long)(a - 1), snt_dsl_lit(w, n->name));
  return SNT_OK;
}

const snt_op snt_op_softmax = {
    .name = "softmax", .type_name = "Activation", .default_layer = "activation",
    .doc = "softmax over one axis of each sample: softmax(x, axis=-1)", .min_inputs = 1, .max_inputs = 1,
    .args = args, .infer = infer, .onnx_type = "Softmax", .onnx_import = snt_onnx_axis_lines, .onnx_export = onnx_export, .emit = emit, .to_dsl = to_dsl,
    .inplace = true, .batch_rows = rows,
    .onnx_arity = {1, 1, 1, 1}, .types = SNT_TYPES_LOOP_F64(1)};

const snt_op snt_op_log_softmax = {
    .name = "log_softmax", .type_name = "Activation", .default_layer = "activation",
    .doc = "log of softmax over one axis of each sample: log_softmax(x, axis=-1)", .min_inputs = 1, .max_inputs = 1,
    .args = args, .infer = infer, .onnx_type = "LogSoftmax", .onnx_import = snt_onnx_axis_lines, .onnx_export = onnx_export, .emit = emit,
    .to_dsl = to_dsl, .inplace = true, .batch_rows = rows,
    .onnx_arity = {1, 1, 1, 1}, .types = SNT_TYPES_LOOP_F64(1)};
