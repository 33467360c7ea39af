/* batchnorm: batch normalisation over the channel axis (axis 1). */
#include "compiler/op.h"

static const snt_arg_spec args[] = {
    {"eps", SNT_ARG_FLOAT, "0.001", NULL},
    {"momentum", SNT_ARG_FLOAT, "0.99", NULL},
    {"center", SNT_ARG_BOOL, "true", NULL},
    {"scale", SNT_ARG_BOOL, "true", NULL},
    {0}};

static snt_status check(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  double eps = snt_node_float(n, "eps", 1e-3), m = snt_node_float(n, "momentum", 0.99);
  if (!(eps > 0)) return snt_node_error(g, n, d, "eps must be positive, got %g", eps);
  if (!(m >= 0 && m <= 1)) return snt_node_error(g, n, d, "momentum must be in [0, 1], got %g", m);
  if (snt_in(g, n, 0)->rank < 2) return snt_node_error(g, n, d, "expects an input with channels");
  return SNT_OK;
}

static snt_status params(snt_graph *g, int node, snt_diag *d) {
  snt_status st = check(g, node, d);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  int64_t c = snt_in(g, n, 0)->dims[1];
  bool scale = snt_node_int(n, "scale", 1), center = snt_node_int(&g->nodes[node], "center", 1);
  if (scale && snt_ir_add_param(g, node, "gamma", 1, &c, true) < 0) return SNT_ERR_NOMEM;
  if (center && snt_ir_add_param(g, node, "beta", 1, &c, true) < 0) return SNT_ERR_NOMEM;
  if (snt_ir_add_param(g, node, "moving_mean", 1, &c, false) < 0) return SNT_ERR_NOMEM;
  if (snt_ir_add_param(g, node, "moving_variance", 1, &c, false) < 0) return SNT_ERR_NOMEM;
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_status st = check(g, node, d);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  for (int i = n->n_act_in; i < n->n_in; i++) {
    snt_tensor *p = snt_in(g, n, i);
    if (p->rank != 1 || p->dims[0] != x->dims[1])
      return snt_node_error(g, n, d, "parameter '%s' must have %lld values, one per channel", p->name,
                            (long long)x->dims[1]);
  }
  snt_set_shape(g, node, 0, x->rank, x->dims);
  return SNT_OK;
}

const snt_op snt_op_batchnorm = {
    .name = "batchnorm", .type_name = "BatchNormalization", .default_layer = "batch_normalization",
    .doc = "batch normalisation over channels: batchnorm(x, eps=0.001, momentum=0.99, center=true, scale=true)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .params = params, .infer = infer};
