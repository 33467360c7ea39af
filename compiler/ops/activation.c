/* Elementwise activations (relu, sigmoid, tanh) and softmax: the output has the input's shape.
 * Keras shows each as an Activation layer. */
#include "compiler/ops/common.h"

static const snt_arg_spec no_args[] = {{0}};
static const snt_arg_spec softmax_args[] = {{"axis", SNT_ARG_INT, "-1", NULL}, {0}};

static snt_status softmax_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t axis = snt_node_int(n, "axis", -1);
  /* Axes count the per-sample dims, as Keras does: -1 is the last, 0 the first after the batch. */
  int64_t per_sample = x->rank - 1;
  if (axis < -per_sample || axis >= per_sample)
    return snt_node_error(g, n, d, "axis %lld is out of range for a %lld-D input", (long long)axis,
                          (long long)per_sample);
  return snt_infer_same(g, node, d);
}

#define ACTIVATION(id, onnx, label)                                                              \
  const snt_op snt_op_##id = {.name = #id, .type_name = "Activation", .default_layer = "activation", \
                              .doc = label, .min_inputs = 1, .max_inputs = 1, .args = no_args, \
                              .infer = snt_infer_same, .onnx_type = onnx, .emit = snt_emit_unary, .inplace = true}

ACTIVATION(relu, "Relu", "rectified linear unit: relu(x) = max(x, 0)");
ACTIVATION(sigmoid, "Sigmoid", "logistic sigmoid: sigmoid(x) = 1 / (1 + exp(-x))");
ACTIVATION(tanh, "Tanh", "hyperbolic tangent: tanh(x)");

const snt_op snt_op_softmax = {
    .name = "softmax", .type_name = "Activation", .default_layer = "activation",
    .doc = "softmax over one axis of each sample: softmax(x, axis=-1)",
    .min_inputs = 1, .max_inputs = 1, .args = softmax_args, .infer = softmax_infer};
