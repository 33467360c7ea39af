/* flatten: (C, H, W) to (C*H*W,). The default order is Keras's channels-last (H, W, C),
 * so a Dense kernel exported from Keras loads unchanged; order = chw gives PyTorch's. */
#include "compiler/op.h"

static const char *const orders[] = {"hwc", "chw", NULL};
static const snt_arg_spec args[] = {{"order", SNT_ARG_SYMBOL, "hwc", orders}, {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  if (x->rank < 2) return snt_node_error(g, n, d, "expects an input with at least one dimension per sample");
  int64_t f = 1;
  for (int i = 1; i < x->rank; i++) {
    if (x->dims[i] > INT64_MAX / (f ? f : 1)) return snt_node_error(g, n, d, "the flattened size overflows");
    f *= x->dims[i];
  }
  int64_t dims[2] = {x->dims[0], f};
  snt_set_shape(g, node, 0, 2, dims);
  return SNT_OK;
}

const snt_op snt_op_flatten = {
    .name = "flatten", .type_name = "Flatten", .default_layer = "flatten",
    .doc = "flatten each sample; order=hwc (Keras, default) or chw: flatten(x, order=hwc)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer};
