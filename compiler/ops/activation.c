/* Elementwise activations (relu, sigmoid, tanh): the output has the input's shape.
 * Keras shows each as an Activation layer. */
#include "compiler/ops/common.h"

static const snt_arg_spec no_args[] = {{0}};

#define ACTIVATION(id, onnx, label)                                                              \
  const snt_op snt_op_##id = {.name = #id, .type_name = "Activation", .default_layer = "activation", \
                              .doc = label, .min_inputs = 1, .max_inputs = 1, .args = no_args, \
                              .infer = snt_infer_same, .onnx_type = onnx, .onnx_export = snt_ox_unary, .emit = snt_emit_unary, .inplace = true}

ACTIVATION(relu, "Relu", "rectified linear unit: relu(x) = max(x, 0)");
ACTIVATION(sigmoid, "Sigmoid", "logistic sigmoid: sigmoid(x) = 1 / (1 + exp(-x))");
ACTIVATION(tanh, "Tanh", "hyperbolic tangent: tanh(x)");
