/* conv2d: 2-D convolution over NCHW, with groups, dilation and Keras padding. */
#include "compiler/op.h"

static const snt_arg_spec args[] = {
    {"filters", SNT_ARG_INT, NULL, NULL},
    {"kernel", SNT_ARG_INT2, NULL, NULL},
    {"stride", SNT_ARG_INT2, "1", NULL},
    {"padding", SNT_ARG_PADDING, "valid", NULL},
    {"dilation", SNT_ARG_INT2, "1", NULL},
    {"groups", SNT_ARG_INT, "1", NULL},
    {"bias", SNT_ARG_BOOL, "true", NULL},
    {"activation", SNT_ARG_SYMBOL, "none", snt_activation_symbols},
    {"l2", SNT_ARG_FLOAT, "0", NULL},
    {0}};

typedef struct conv_attrs {
  int64_t filters, groups, k[2], stride[2], dil[2];
} conv_attrs;

static snt_status read_attrs(snt_graph *g, int node, snt_diag *d, conv_attrs *a) {
  snt_node *n = &g->nodes[node];
  int cnt = 0;
  const int64_t *k = snt_node_ints(n, "kernel", &cnt), *s, *dl;
  a->filters = snt_node_int(n, "filters", 0);
  a->groups = snt_node_int(n, "groups", 1);
  if (!k || cnt != 2) return snt_node_error(g, n, d, "kernel must be n or [h, w]");
  s = snt_node_ints(n, "stride", &cnt);
  dl = snt_node_ints(n, "dilation", &cnt);
  for (int i = 0; i < 2; i++) {
    a->k[i] = k[i];
    a->stride[i] = s ? s[i] : 1;
    a->dil[i] = dl ? dl[i] : 1;
  }
  for (int i = 0; i < 2; i++) {
    if (a->k[i] < 1 || a->stride[i] < 1 || a->dil[i] < 1)
      return snt_node_error(g, n, d, "kernel, stride and dilation must be positive, got kernel [%lld, %lld], "
                            "stride [%lld, %lld], dilation [%lld, %lld]", (long long)k[0], (long long)k[1],
                            (long long)a->stride[0], (long long)a->stride[1], (long long)a->dil[0], (long long)a->dil[1]);
  }
  if (a->filters < 1) return snt_node_error(g, n, d, "filters must be positive, got %lld", (long long)a->filters);
  if (a->groups < 1) return snt_node_error(g, n, d, "groups must be positive, got %lld", (long long)a->groups);
  double l2 = snt_node_float(n, "l2", 0);
  if (!(l2 >= 0)) return snt_node_error(g, n, d, "l2 must not be negative, got %g", l2);
  if (snt_expect_rank(g, node, d, 0, 4, "a 3-D input (channels, height, width)")) return SNT_ERR_INPUT;
  int64_t c = snt_in(g, n, 0)->dims[1];
  if (c % a->groups || a->filters % a->groups)
    return snt_node_error(g, n, d, "groups (%lld) must divide the input channels (%lld) and the filters (%lld)",
                          (long long)a->groups, (long long)c, (long long)a->filters);
  return SNT_OK;
}

static snt_status params(snt_graph *g, int node, snt_diag *d) {
  conv_attrs a;
  snt_status st = read_attrs(g, node, d, &a);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  int64_t c = snt_in(g, n, 0)->dims[1];
  int64_t kdims[4] = {a.filters, c / a.groups, a.k[0], a.k[1]};
  if (snt_ir_add_param(g, node, "kernel", 4, kdims, true) < 0) return SNT_ERR_NOMEM;
  if (snt_node_int(&g->nodes[node], "bias", 1) && snt_ir_add_param(g, node, "bias", 1, &a.filters, true) < 0)
    return SNT_ERR_NOMEM;
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  conv_attrs a;
  snt_status st = read_attrs(g, node, d, &a);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t keff[2] = {(a.k[0] - 1) * a.dil[0] + 1, (a.k[1] - 1) * a.dil[1] + 1};
  int64_t in[2] = {x->dims[2], x->dims[3]}, pads[4];
  if ((st = snt_resolve_pads(g, n, d, keff, in, pads))) return st;
  if ((st = snt_node_set_ints(n, "pads", 4, pads))) return st;
  int64_t oh = snt_window_out(in[0], keff[0], a.stride[0], pads[0], pads[2]);
  int64_t ow = snt_window_out(in[1], keff[1], a.stride[1], pads[1], pads[3]);
  if (oh < 1 || ow < 1) {
    char s[128];
    snt_shape_str(s, sizeof s, x, 1);
    return snt_node_error(g, n, d, "the %lldx%lld kernel does not fit the input %s (padding %lld, %lld, %lld, %lld)",
                          (long long)keff[0], (long long)keff[1], s, (long long)pads[0], (long long)pads[1],
                          (long long)pads[2], (long long)pads[3]);
  }
  int64_t dims[4] = {x->dims[0], a.filters, oh, ow};
  snt_set_shape(g, node, 0, 4, dims);
  return SNT_OK;
}

static double flops(const snt_graph *g, const snt_node *n) {
  const snt_tensor *y = &g->tensors[n->out[0]], *x = &g->tensors[n->in[0]];
  int cnt = 0;
  const int64_t *k = snt_node_ints(n, "kernel", &cnt);
  double per_out = (double)(x->dims[1] / snt_node_int(n, "groups", 1)) * (double)k[0] * (double)k[1];
  return 2.0 * per_out * (double)(y->dims[1] * y->dims[2] * y->dims[3]);
}

const snt_op snt_op_conv2d = {
    .name = "conv2d", .type_name = "Conv2D", .default_layer = "conv2d",
    .doc = "2-D convolution: conv2d(x, filters, kernel, stride=1, padding=valid, dilation=1, groups=1, bias=true, activation=none, l2=0)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .params = params, .infer = infer, .flops = flops};
