/* lrn: local response normalisation across channels (ONNX LRN, AlexNet/GoogLeNet):
 * y = x / (bias + alpha / size * sum of x^2 over the channels c - floor((size-1)/2) to
 * c + ceil((size-1)/2))^beta. */
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

/* ONNX's attributes, as DSL arguments of the same names and defaults. */
static const snt_arg_spec args[] = {{"size", SNT_ARG_INT, NULL, NULL},
                                    {"alpha", SNT_ARG_FLOAT, "0.0001", NULL},
                                    {"beta", SNT_ARG_FLOAT, "0.75", NULL},
                                    {"bias", SNT_ARG_FLOAT, "1", NULL},
                                    {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  if (x->rank < 3) return snt_node_error(g, n, d, "expects an input (N, C, D1, ...) of rank 3 or more, got rank %d", x->rank);
  if (!snt_node_attr(n, "size")) return snt_node_error(g, n, d, "needs the attribute size");
  if (snt_node_int(n, "size", 0) < 1) return snt_node_error(g, n, d, "size must be positive, got %lld", (long long)snt_node_int(n, "size", 0));
  return snt_infer_same(g, node, d);
}

/* t^beta in C, t the double base: the common exponents (0.75 of AlexNet, GoogLeNet and PyTorch's
 * default, 0.5, 1) as square roots, which cost a few cycles where pow costs tens. */
static const char *power_expr(double beta) {
  if (beta == 0.75) return "sqrt(t) * sqrt(sqrt(t))";
  if (beta == 0.5) return "sqrt(t)";
  if (beta == 1) return "t";
  return NULL;
}

/* Channel by channel, over blocks of 256 pixels: the window's squares summed in double, channel
 * after channel as a loop per pixel would (the same sum), in loops over contiguous pixels that
 * vectorise; then y = x / (bias + alpha / size * sum)^beta. */
static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t size = snt_node_int(n, "size", 1), c = x->dims[1], inner = snt_tensor_numel(x) / x->dims[0] / (c ? c : 1);
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  double alpha = snt_node_float(n, "alpha", 1e-4), beta = snt_node_float(n, "beta", 0.75), bias = snt_node_float(n, "bias", 1.0);
  const char *ty = x->dtype == SNT_F64 ? "double" : "float", *pw = power_expr(beta);
  snt_emit_line(e, "{");
  snt_emit_line(e, "const %s *x = %s;", ty, snt_emit_ptr(e, n->in[0]));
  snt_emit_line(e, "%s *y = %s;", ty, snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "for (int64_t b = 0; b < %s; b++)", snt_emit_rows(e, n->in[0]));
  snt_emit_line(e, "  for (int64_t c = 0; c < %lld; c++) {", (long long)c);
  snt_emit_line(e, "    const int64_t c0 = c - %lld < 0 ? 0 : c - %lld, c1 = c + %lld > %lld ? %lld : c + %lld;", (long long)lo,
                (long long)lo, (long long)hi, (long long)(c - 1), (long long)(c - 1), (long long)hi);
  snt_emit_line(e, "    const %s *xc = x + (b * %lld + c) * %lld;", ty, (long long)c, (long long)inner);
  snt_emit_line(e, "    %s *yc = y + (b * %lld + c) * %lld;", ty, (long long)c, (long long)inner);
  snt_emit_line(e, "    for (int64_t i0 = 0; i0 < %lld; i0 += 256) {", (long long)inner);
  snt_emit_line(e, "      const int64_t m = %lld - i0 < 256 ? %lld - i0 : 256;", (long long)inner, (long long)inner);
  snt_emit_line(e, "      double s[256];");
  snt_emit_line(e, "      for (int64_t i = 0; i < m; i++) s[i] = 0;");
  snt_emit_line(e, "      for (int64_t k = c0; k <= c1; k++) {");
  snt_emit_line(e, "        const %s *xk = x + (b * %lld + k) * %lld + i0;", ty, (long long)c, (long long)inner);
  snt_emit_line(e, "        for (int64_t i = 0; i < m; i++) s[i] += (double)xk[i] * (double)xk[i];");
  snt_emit_line(e, "      }");
  snt_emit_line(e, "      for (int64_t i = 0; i < m; i++) {");
  snt_emit_line(e, "        const double t = %s + %s * s[i];", snt_emit_f64(e, bias), snt_emit_f64(e, alpha / (double)size));
  if (pw) snt_emit_line(e, "        yc[i0 + i] = (%s)(xc[i0 + i] / (%s));", ty, pw);
  else snt_emit_line(e, "        yc[i0 + i] = (%s)(xc[i0 + i] / pow(t, %s));", ty, snt_emit_f64(e, beta));
  snt_emit_line(e, "      }");
  snt_emit_line(e, "    }");
  snt_emit_line(e, "  }");
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* lrn(x, size, alpha = ..., beta = ..., bias = ...): the values as read, to the last bit. */
static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  if (snt_dsl_is_param(w->g, n, 0)) return snt_dsl_unsupported(w, n, "an input is a constant, which the DSL cannot hold");
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  fprintf(w->out, "  %s = lrn(%s, %lld, alpha = %.17g, beta = %.17g, bias = %.17g, name = %s)\n", lhs, in,
          (long long)snt_node_int(n, "size", 1), snt_node_float(n, "alpha", 1e-4), snt_node_float(n, "beta", 0.75),
          snt_node_float(n, "bias", 1.0), snt_dsl_lit(w, n->name));
  return SNT_OK;
}

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *in = snt_ox_name(x, n->in[0]);
  int o = snt_ox_node(x, "LRN", n->name, 1, &in, snt_ox_name(x, n->out[0]));
  if (o < 0) return SNT_ERR_NOMEM;
  snt_ox_attr_int(x, o, "size", snt_node_int(n, "size", 1));
  snt_ox_attr_float(x, o, "alpha", (float)snt_node_float(n, "alpha", 1e-4));
  snt_ox_attr_float(x, o, "beta", (float)snt_node_float(n, "beta", 0.75));
  snt_ox_attr_float(x, o, "bias", (float)snt_node_float(n, "bias", 1.0));
  return SNT_OK;
}

static const snt_attr_range ranges[] = {{"size", 1, SNT_MAX_ATTR}, {0}};

const snt_op snt_op_lrn = {
    .name = "lrn", .type_name = "LRN", .default_layer = "lrn",
    .doc = "local response normalisation across channels (ONNX LRN): lrn(x, size, alpha=0.0001, beta=0.75, bias=1)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "LRN", .emit = emit,
    .to_dsl = to_dsl, .batch_rows = snt_rows_first, .onnx_arity = {1, 1, 1, 1}, .onnx_ranges = ranges,
    .types = SNT_TYPES_LOOP_F64(1), .onnx_export = onnx_export};
