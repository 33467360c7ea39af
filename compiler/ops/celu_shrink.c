/* celu (opset 12) and shrink (opset 9): elementwise ops with float attributes. Shrink takes
 * integers too: ONNX Runtime compares and adds in floating point and converts back, and so
 * do we (in double, the result saturating to the type so no conversion is undefined). */
#include <stdlib.h>

#include "compiler/codegen/loops.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "support/util.h"

static const snt_arg_spec celu_args[] = {{"alpha", SNT_ARG_FLOAT, "1", NULL}, {0}};
static const snt_arg_spec shrink_args[] = {{"bias", SNT_ARG_FLOAT, "0", NULL}, {"lambd", SNT_ARG_FLOAT, "0.5", NULL}, {0}};

/* y = expr of x, x loaded in the compute type `ct` (float, double, or double for integers). */
static snt_status emit_expr(snt_emit *e, int node, const char *ct, const char *expr) {
  const snt_node *n = &e->g->nodes[node];
  char *body = snt_format("const %s x = %s; %s;", ct, snt_emit_load(e, n->in[0], "ix0"), snt_emit_store(e, n->out[0], "io", expr));
  if (!body) return SNT_ERR_NOMEM;
  snt_emit_elementwise_loop(e, n->out[0], n->in, 1, body);
  free(body);
  return SNT_OK;
}

static bool is_float(snt_dtype t) { return t == SNT_F32 || t == SNT_F64 || t == SNT_F16 || t == SNT_BF16; }

/* max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), FLOAT only (the schema's one type). */
static snt_status celu_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const char *a = snt_emit_f64(e, snt_node_float(n, "alpha", 1.0));
  const char *t = snt_format_keep(e, "(x > 0 ? x : (float)%s * (expf(x / (float)%s) - 1))", a, a);
  return t ? emit_expr(e, node, "float", t) : SNT_ERR_NOMEM;
}

/* x < -lambd ? x + bias : x > lambd ? x - bias : 0. */
static snt_status shrink_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_dtype t = e->g->tensors[n->in[0]].dtype;
  const char *b = snt_emit_f64(e, snt_node_float(n, "bias", 0.0)), *l = snt_emit_f64(e, snt_node_float(n, "lambd", 0.5));
  if (is_float(t)) {
    const char *ct = snt_compute_ctype(t);
    const char *x = snt_format_keep(e, "(x < -(%s)%s ? x + (%s)%s : x > (%s)%s ? x - (%s)%s : 0)", ct, l, ct, b, ct, l, ct, b);
    return x ? emit_expr(e, node, ct, x) : SNT_ERR_NOMEM;
  }
  const char *lo, *hi, *ct = snt_dtype_ctype(t);
  snt_int_limits_expr(t, &lo, &hi); /* the bounds of the saturating conversion */
  snt_emit_line(e, "{");
  snt_emit_line(e, "#define SNT_SHRINK_SAT(v) ((v) != (v) ? 0 : (v) <= (double)%s ? (%s)%s : (v) >= (double)%s ? (%s)%s : (%s)(v))", lo, ct,
                lo, hi, ct, hi, ct);
  const char *x = snt_format_keep(e, "(x < -(%s) ? SNT_SHRINK_SAT(x + %s) : x > %s ? SNT_SHRINK_SAT(x - %s) : 0)", l, b, l, b);
  snt_status st = x ? emit_expr(e, node, "double", x) : SNT_ERR_NOMEM;
  snt_emit_line(e, "#undef SNT_SHRINK_SAT");
  snt_emit_line(e, "}");
  return st;
}

/* sinter import: the op with its float attributes by name. */
static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  fprintf(w->out, "  %s = %s(%s", snt_dsl_ident(w, n->out[0]), n->op->name, snt_dsl_ident(w, n->in[0]));
  for (const snt_arg_spec *a = n->op->args; a->name; a++)
    fprintf(w->out, ", %s = %.9g", a->name, snt_node_float(n, a->name, strtod(a->def, NULL)));
  fprintf(w->out, ", name = %s)\n", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

/* The ONNX op with its float attributes (Celu needs opset 12, the export's 13 by default). */
static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *in = snt_ox_name(x, n->in[0]);
  int k = snt_ox_node(x, n->op->onnx_type, n->name, 1, &in, snt_ox_name(x, n->out[0]));
  if (k < 0) return SNT_ERR_NOMEM;
  for (const snt_arg_spec *a = n->op->args; a->name; a++)
    snt_ox_attr_float(x, k, a->name, (float)snt_node_float(n, a->name, strtod(a->def, NULL)));
  return SNT_OK;
}

#define NOTE "loop in the type (FLOAT16 in float32, rounded per element)"

const snt_op snt_op_celu = {
    .name = "celu", .type_name = "Celu", .default_layer = "celu",
    .doc = "max(0, x) + min(0, alpha * (exp(x / alpha) - 1)): celu(x, alpha=1)", .min_inputs = 1, .max_inputs = 1,
    .args = celu_args, .infer = snt_infer_same, .onnx_type = "Celu", .emit = celu_emit, .to_dsl = to_dsl, .onnx_export = onnx_export, .inplace = true,
    .batch_rows = snt_rows_elementwise, .onnx_arity = {1, 1, 1, 1}, .types = {.t = SNT_TY(SNT_F32), .note = "float32 (the schema's only type)"}};

const snt_op snt_op_shrink = {
    .name = "shrink", .type_name = "Shrink", .default_layer = "shrink",
    .doc = "x < -lambd ? x + bias : x > lambd ? x - bias : 0: shrink(x, bias=0, lambd=0.5)", .min_inputs = 1, .max_inputs = 1,
    .args = shrink_args, .infer = snt_infer_same, .onnx_type = "Shrink", .emit = shrink_emit, .to_dsl = to_dsl, .onnx_export = onnx_export, .inplace = true,
    .batch_rows = snt_rows_elementwise, .onnx_arity = {1, 1, 1, 1},
    .types = {.t = (SNT_TY_FLOATS & ~SNT_TY(SNT_BF16)) | SNT_TY_INTS, .note = NOTE "; integers in double, saturated back"}};
