/* ONNX BatchNormalization in training mode (opset 14's training_mode, or before 14 the extra
 * outputs): y normalised with the batch's own mean and (biased) variance per channel, and
 *   running_mean = mean * momentum + batch_mean * (1 - momentum)   (likewise running_var).
 * Before opset 14 the outputs are Y, mean, var, saved_mean (the batch's) and saved_var, which
 * ONNX Runtime writes as the batch's 1 / sqrt(var + epsilon), the spec saying only "to speed up
 * the gradient": sinter writes the same. The
 * inference record (batchnorm.c) hands the node over to this one at import. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

snt_status snt_batchnorm_infer(snt_graph *g, int node, snt_diag *d); /* batchnorm.c: same shapes */

/* Emits "for each element of channel c: BODY" with o the element's index. */
static void each(snt_emit *e, int64_t batch, int64_t c, int64_t inner, const char *body) {
  snt_emit_line(e, "  for (int64_t b = 0; b < %lld; b++)", (long long)batch);
  snt_emit_line(e, "    for (int64_t i = 0; i < %lld; i++) {", (long long)inner);
  snt_emit_line(e, "      const int64_t o = (b * %lld + c) * %lld + i;", (long long)c, (long long)inner);
  snt_emit_line(e, "      %s", body);
  snt_emit_line(e, "    }");
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t batch = x->dims[0], c = x->dims[1], inner = snt_tensor_numel(x) / (batch ? batch : 1) / (c ? c : 1), count = batch * inner;
  const char *ty = x->dtype == SNT_F64 ? "double" : "float";
  double eps = snt_node_float(n, "eps", 1e-5), mom = snt_node_float(n, "momentum", 0.9);
  snt_emit_line(e, "{");
  snt_emit_line(e, "const %s *x = %s, *gamma = %s, *beta = %s, *rm = %s, *rv = %s;", ty, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]),
                snt_emit_ptr(e, n->in[2]), snt_emit_ptr(e, n->in[3]), snt_emit_ptr(e, n->in[4]));
  snt_emit_line(e, "%s *y = %s;", ty, snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "for (int64_t c = 0; c < %lld; c++) {", (long long)c);
  snt_emit_line(e, "  double s = 0, v = 0;");
  each(e, batch, c, inner, "s += x[o];");
  snt_emit_line(e, "  const double mean = s / %lld;", (long long)(count ? count : 1));
  each(e, batch, c, inner, "v += (x[o] - mean) * (x[o] - mean);");
  snt_emit_line(e, "  const double var = v / %lld, inv = 1.0 / sqrt(var + %s);", (long long)(count ? count : 1), snt_emit_f64(e, eps));
  each(e, batch, c, inner, snt_format_keep(e, "y[o] = (%s)((x[o] - mean) * inv * gamma[c] + beta[c]);", ty));
  const char *stats[4] = {"rm[c] * %s + mean * %s", "rv[c] * %s + var * %s", "mean", "inv"};
  for (int k = 1; k < n->n_out && k <= 4; k++)
    snt_emit_line(e, "  ((%s *)%s)[c] = (%s)(%s);", ty, snt_emit_ptr(e, n->out[k]), ty,
                  snt_format_keep(e, stats[k - 1], snt_emit_f64(e, mom), snt_emit_f64(e, 1 - mom)));
  snt_emit_line(e, "}");
  snt_emit_line(e, "}");
  return SNT_OK;
}

static const snt_arg_spec no_args[] = {{0}};

/* Not registered in op_table.c: reached only through the inference record's onnx_import. */
const snt_op snt_op_batchnorm_onnx_train = {
    .name = "batchnorm_onnx_train", .type_name = "BatchNormalization", .default_layer = "batch_normalization",
    .doc = "ONNX BatchNormalization in training mode: batch statistics and running averages",
    .min_inputs = 1, .max_inputs = 1, .args = no_args, .infer = snt_batchnorm_infer, .onnx_type = "BatchNormalization",
    .emit = emit, .no_dsl = "training-mode batch normalisation has no DSL form", .onnx_arity = {5, 5, 1, 5},
    .types = SNT_TYPES_LOOP_F64(31), .no_export = SNT_NO_EXPORT_YET};
