/* The window functions of opset 17 (HannWindow, HammingWindow, BlackmanWindow): `size` values of
 * a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic, the default) or size - 1
 * (symmetric), in output_datatype. size must be known when compiling; the values fold. */
#include <math.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"

static const snt_arg_spec args[] = {{"periodic", SNT_ARG_BOOL, "true", NULL}, {"output_datatype", SNT_ARG_INT, "1", NULL}, {0}};

typedef struct coeffs {
  double a0, a1, a2;
} coeffs;

static coeffs coeffs_of(const snt_node *n) {
  if (n->op == &snt_op_hann_window) return (coeffs){0.5, 0.5, 0};
  if (n->op == &snt_op_hamming_window) return (coeffs){25.0 / 46.0, 21.0 / 46.0, 0};
  return (coeffs){0.42, 0.5, 0.08};
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int64_t size;
  int cnt = 0;
  if (snt_const_ints(g, n, 0, &size, &cnt, 1) != 1 || cnt != 1 || snt_in(g, n, 0)->rank != 0)
    return snt_node_error(g, n, d, "size must be a scalar INT32 or INT64 constant");
  if (size < 0 || size > SNT_MAX_ELEMENTS) return snt_node_error(g, n, d, "size %lld is out of range (0 to 2^32)", (long long)size);
  int64_t t = snt_node_int(n, "output_datatype", 1);
  if (t != SNT_F32 && t != SNT_F64 && t != SNT_F16 && t != SNT_BF16)
    return snt_node_error(g, n, d, "output_datatype %lld is not FLOAT, DOUBLE, FLOAT16 or BFLOAT16", (long long)t);
  snt_set_output(g, node, 0, (snt_dtype)t, 1, &size);
  return SNT_OK;
}

static double denominator(const snt_graph *g, const snt_node *n) {
  int64_t size = g->tensors[n->out[0]].dims[0];
  return (double)(snt_node_int(n, "periodic", 1) ? size : size - 1);
}

static snt_status fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *out = &g->tensors[n->out[0]];
  coeffs c = coeffs_of(n);
  double den = denominator(g, n), tau = 2 * M_PI;
  for (int64_t i = 0; i < out->dims[0]; i++)
    snt_fold_put_f64(out->dtype, y, i, c.a0 - c.a1 * cos(tau * (double)i / den) + c.a2 * cos(2 * tau * (double)i / den));
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  coeffs c = coeffs_of(n);
  double den = denominator(e->g, n);
  snt_emit_line(e, "for (int64_t i = 0; i < %lldLL; i++) {", (long long)e->g->tensors[n->out[0]].dims[0]);
  snt_emit_line(e, "  const double a = %s * (double)i / %s;", snt_emit_f64(e, 2 * M_PI), snt_emit_f64(e, den));
  snt_emit_line(e, "  %s;", snt_emit_store(e, n->out[0], "i", snt_format_keep(e, "%s - %s * cos(a) + %s * cos(2 * a)",
                                                                              snt_emit_f64(e, c.a0), snt_emit_f64(e, c.a1),
                                                                              snt_emit_f64(e, c.a2))));
  snt_emit_line(e, "}");
  return SNT_OK;
}

#define WINDOW(id, onnx, doc_)                                                                                 \
  const snt_op snt_op_##id = {.name = #id, .type_name = onnx, .default_layer = #id, .doc = doc_,               \
                              .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = onnx, \
                              .onnx_const_inputs = 1u, .emit = emit, .fold = fold, .no_dsl = SNT_NO_DSL_YET,   \
                              .onnx_arity = {1, 1, 1, 1},                                                      \
                              .types = {.t = SNT_TY(SNT_I32) | SNT_TY(SNT_I64),                                \
                                        .note = "computed in double, stored in output_datatype"},             \
                              .no_export = SNT_NO_EXPORT_YET}

WINDOW(hann_window, "HannWindow", "Hann window of `size` values: 0.5 - 0.5 cos(2 pi n / N)");
WINDOW(hamming_window, "HammingWindow", "Hamming window of `size` values: 25/46 - 21/46 cos(2 pi n / N)");
WINDOW(blackman_window, "BlackmanWindow", "Blackman window of `size` values: 0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)");
