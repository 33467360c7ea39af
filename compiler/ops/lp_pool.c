/* lp_pool (ONNX LpPool 1, 2, 11, 18): the p-norm of each window, (sum |x|^p)^(1/p), on 1 to 3
 * spatial dims; p is a float at version 1 and an integer from 2 (default 2); 18 adds ceil_mode
 * and dilations. The window rules are the pooling ops' (compiler/ops/window.c). */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/window.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{"p", SNT_ARG_FLOAT, "2", NULL}, {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0);
  int sp = x->rank - 2, c = 0;
  if (sp < 1 || sp > SNT_MAX_SPATIAL) return snt_node_error(g, n, d, "the input has rank %d, expected 3 to 5", x->rank);
  double p = snt_node_float(n, "p", 2);
  if (!(p > 0 && p <= 1024)) return snt_node_error(g, n, d, "p %g is out of range (above 0, at most 1024)", p);
  const int64_t *kv = snt_node_ints(n, "pool", &c);
  if (!kv || c != sp) return snt_node_error(g, n, d, "kernel_shape must have %d sizes", sp);
  snt_window w;
  snt_status st = snt_window_resolve(g, node, d, kv, "pool", &w);
  if (st) return st;
  int64_t dims[SNT_MAX_RANK] = {x->dims[0], x->dims[1]};
  for (int i = 0; i < sp; i++) dims[2 + i] = w.out[i];
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  int sp = x->rank - 2, c = 0, cs = 0, cd = 0, cp = 0;
  const int64_t *kv = snt_node_ints(n, "pool", &c), *s = snt_node_ints(n, "stride", &cs);
  const int64_t *dl = snt_node_ints(n, "dilation", &cd), *pads = snt_node_ints(n, "resolved_pads", &cp);
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, di[3] = {1, 1, 1}, pb[3] = {0, 0, 0};
  for (int i = 0, j = 3 - sp; i < sp; i++, j++) {
    in[j] = x->dims[2 + i], out[j] = y->dims[2 + i], k[j] = kv[i];
    st[j] = s && cs == sp ? s[i] : 1, di[j] = dl && cd == sp ? dl[i] : 1, pb[j] = pads && cp == 2 * sp ? pads[i] : 0;
  }
  snt_emit_line(e, "{");
  snt_emit_line(e, "  static const snt_k_lp_pool p = {.planes = %lldLL, .in = %s, .out = %s, .k = %s, .stride = %s, "
                ".dil = %s, .pad = %s, .p = %s};", (long long)(x->dims[0] * x->dims[1]), snt_emit_ints(e, in, 3),
                snt_emit_ints(e, out, 3), snt_emit_ints(e, k, 3), snt_emit_ints(e, st, 3), snt_emit_ints(e, di, 3),
                snt_emit_ints(e, pb, 3), snt_emit_f64(e, snt_node_float(n, "p", 2)));
  snt_emit_line(e, "  snt_k_lp_pool_run(&p, %s, %s);", snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static const snt_attr_range ranges[] = {
    {"kernel_shape", 1, SNT_MAX_ATTR}, {"strides", 1, SNT_MAX_ATTR}, {"dilations", 1, SNT_MAX_ATTR},
    {"pads", 0, SNT_MAX_ATTR}, {"ceil_mode", 0, 1}, {0}};

const snt_op snt_op_lp_pool = {
    .name = "lp_pool", .type_name = "LpPool", .default_layer = "lp_pool",
    .doc = "the p-norm of each pooling window: (sum |x|^p)^(1/p)", .min_inputs = 1, .max_inputs = 1, .args = args,
    .infer = infer, .onnx_type = "LpPool", .onnx_import = snt_pool_onnx_import, .onnx_upto = 18, .emit = emit,
    .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {1, 1, 1, 1}, .onnx_ranges = ranges, .types = SNT_TYPES_KERNEL(0),
    .no_export = SNT_NO_EXPORT_YET};
