/* hardmax: 1 at the first largest element along an axis, 0 elsewhere. Opsets 1 and 11 flatten
 * the input to 2-D at `axis` (default 1) and pick along the second dimension; opset 13 picks
 * along the one axis (default -1). Both become "full_axis" and "coerce_2d", as for softmax. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

static const snt_arg_spec args[] = {{"axis", SNT_ARG_INT, "-1", NULL}, {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  if (!snt_node_attr(n, "full_axis")) {
    int64_t axis = snt_node_int(n, "axis", -1);
    if (axis < -x->rank || axis >= x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
    snt_status st = snt_node_set_int(n, "full_axis", axis < 0 ? axis + x->rank : axis);
    if (st) return st;
  }
  int64_t a = snt_node_int(n, "full_axis", 0);
  if (a < 0 || a >= x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)a, x->rank);
  return snt_infer_same(g, node, d);
}

/* Each (outer, inner) line of `len` elements: the first maximum found, then the line written. */
static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t outer, len, inner;
  snt_axis_lines(n, x, &outer, &len, &inner);
  if (outer * len * inner == 0) return SNT_OK;
  const char *ct = x->dtype == SNT_F64 ? "double" : "float";
  snt_emit_line(e, "for (int64_t o = 0; o < %lldLL; o++)", (long long)outer);
  snt_emit_line(e, "  for (int64_t j = 0; j < %lldLL; j++) {", (long long)inner);
  snt_emit_line(e, "    const int64_t base = o * %lldLL + j;", (long long)(len * inner));
  snt_emit_line(e, "    int64_t best = 0;");
  snt_emit_line(e, "    %s m = %s;", ct, snt_emit_load(e, n->in[0], "base"));
  snt_emit_line(e, "    for (int64_t a = 1; a < %lldLL; a++) {", (long long)len);
  snt_emit_line(e, "      const %s v = %s;", ct, snt_emit_load(e, n->in[0], snt_format_keep(e, "base + a * %lldLL", (long long)inner)));
  snt_emit_line(e, "      if (v > m) m = v, best = a;");
  snt_emit_line(e, "    }");
  snt_emit_line(e, "    for (int64_t a = 0; a < %lldLL; a++) %s;", (long long)len,
                snt_emit_store(e, n->out[0], snt_format_keep(e, "base + a * %lldLL", (long long)inner), "a == best"));
  snt_emit_line(e, "  }");
  return SNT_OK;
}

const snt_op snt_op_hardmax = {
    .name = "hardmax", .type_name = "Hardmax", .default_layer = "hardmax",
    .doc = "1 at the first largest element along an axis, 0 elsewhere: hardmax(x, axis=-1)", .min_inputs = 1, .max_inputs = 1,
    .args = args, .infer = infer, .onnx_type = "Hardmax", .onnx_import = snt_onnx_axis_lines, .emit = emit, .no_dsl = SNT_NO_DSL_YET,
    .onnx_arity = {1, 1, 1, 1},
    .types = {.t = SNT_TY_FLOATS, .note = "compares in the type (FLOAT16, BFLOAT16 through float32)"},
    .no_export = SNT_NO_EXPORT_YET};
