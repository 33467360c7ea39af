/* dropout: zeroes a fraction `rate` of the values while training (inverted scaling);
 * the identity at inference. */
#include "compiler/op.h"

static const snt_arg_spec args[] = {
    {"rate", SNT_ARG_FLOAT, NULL, NULL},
    {"seed", SNT_ARG_INT, "0", NULL},
    {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  double rate = snt_node_float(n, "rate", 0);
  if (!(rate >= 0 && rate < 1)) return snt_node_error(g, n, d, "rate must be in [0, 1), got %g", rate);
  snt_tensor *x = snt_in(g, n, 0);
  snt_set_shape(g, node, 0, x->rank, x->dims);
  return SNT_OK;
}

const snt_op snt_op_dropout = {
    .name = "dropout", .type_name = "Dropout", .default_layer = "dropout",
    .doc = "random zeroing while training: dropout(x, rate, seed=0)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer};
