/* dense: a fully connected layer on flat features; the kernel is [in, out] as in Keras. */
#include "compiler/op.h"

static const snt_arg_spec args[] = {
    {"units", SNT_ARG_INT, NULL, NULL},
    {"activation", SNT_ARG_SYMBOL, "none", snt_activation_symbols},
    {"bias", SNT_ARG_BOOL, "true", NULL},
    {"l2", SNT_ARG_FLOAT, "0", NULL},
    {0}};

static snt_status check(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int64_t units = snt_node_int(n, "units", 0);
  if (units < 1) return snt_node_error(g, n, d, "units must be positive, got %lld", (long long)units);
  double l2 = snt_node_float(n, "l2", 0);
  if (!(l2 >= 0)) return snt_node_error(g, n, d, "l2 must not be negative, got %g", l2);
  if (snt_in(g, n, 0)->rank != 2) {
    char s[128];
    snt_shape_str(s, sizeof s, snt_in(g, n, 0), 1);
    return snt_node_error(g, n, d, "expects flat features (n,), got shape %s: add flatten() or global_avg_pool() first", s);
  }
  return SNT_OK;
}

static snt_status params(snt_graph *g, int node, snt_diag *d) {
  snt_status st = check(g, node, d);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  int64_t units = snt_node_int(n, "units", 0);
  int64_t kdims[2] = {snt_in(g, n, 0)->dims[1], units};
  if (snt_ir_add_param(g, node, "kernel", 2, kdims, true) < 0) return SNT_ERR_NOMEM;
  if (snt_node_int(&g->nodes[node], "bias", 1) && snt_ir_add_param(g, node, "bias", 1, &units, true) < 0)
    return SNT_ERR_NOMEM;
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_status st = check(g, node, d);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  int64_t dims[2] = {snt_in(g, n, 0)->dims[0], snt_node_int(n, "units", 0)};
  snt_set_shape(g, node, 0, 2, dims);
  return SNT_OK;
}

static double flops(const snt_graph *g, const snt_node *n) {
  return 2.0 * (double)g->tensors[n->in[0]].dims[1] * (double)snt_node_int(n, "units", 0);
}

const snt_op snt_op_dense = {
    .name = "dense", .type_name = "Dense", .default_layer = "dense",
    .doc = "fully connected layer: dense(x, units, activation=none, bias=true, l2=0)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .params = params, .infer = infer, .flops = flops};
