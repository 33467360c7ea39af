/* Elementwise activations (relu, sigmoid, tanh): the output has the input's shape.
 * Keras shows each as an Activation layer. Their gradients read the output y only:
 * relu' = y > 0, sigmoid' = y (1 - y), tanh' = 1 - y^2. */
#include <string.h>

#include "compiler/autodiff.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels_train.h"

static const snt_arg_spec no_args[] = {{0}};

static const char *kind_name(const char *act) {
  if (strcmp(act, "relu") == 0) return "SNT_K_ACT_RELU";
  if (strcmp(act, "sigmoid") == 0) return "SNT_K_ACT_SIGMOID";
  if (strcmp(act, "tanh") == 0) return "SNT_K_ACT_TANH";
  return NULL;
}

/* act_grad: in = (y, dy), out = dx; attribute "act" names the activation. */
static snt_status emit_grad(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *y = &e->g->tensors[n->in[0]];
  const char *k = kind_name(snt_node_string(n, "act", ""));
  if (!k) return snt_node_error(e->g, n, e->d, "internal: no gradient for activation '%s'", snt_node_string(n, "act", ""));
  snt_emit_line(e, "snt_k_act_backward(%s, 0, (%s) * %lldLL, NULL, %s, %s, %s);", k, snt_emit_batch(e),
                (long long)(snt_tensor_numel(y) / y->dims[0]), snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]),
                snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

static const snt_op act_grad = {.name = "act_grad", .type_name = "ActivationGrad", .default_layer = "grad",
                                .doc = "gradient of an activation", .args = no_args, .emit = emit_grad};

static int act_grad_node(snt_ad *ad, int fwd, const char *act, int dy) {
  snt_graph *g = ad->g;
  int y = g->nodes[fwd].out[0];
  int ins[2] = {y, dy};
  int b = snt_ad_node(ad, &act_grad, fwd, "grad_act", 2, ins);
  if (b < 0 || snt_node_set_string(&ad->g->nodes[b], "act", act)) return -1;
  return snt_ad_output_like(ad, b, y, "dz");
}

int snt_ad_act_grad(snt_ad *ad, int fwd, int dy) {
  const char *act = snt_node_string(&ad->g->nodes[fwd], "activation", "none");
  if (strcmp(act, "none") == 0 || strcmp(act, "linear") == 0) return dy;
  if (!kind_name(act)) {
    snt_node_error(ad->g, &ad->g->nodes[fwd], ad->d, "cannot be trained yet: activation '%s' has no gradient rule", act);
    return -1;
  }
  return act_grad_node(ad, fwd, act, dy);
}

static snt_status grad(snt_ad *ad, int node) {
  int x = ad->g->nodes[node].in[0];
  int dx = act_grad_node(ad, node, ad->g->nodes[node].op->name, snt_ad_grad(ad, ad->g->nodes[node].out[0]));
  return dx < 0 ? SNT_ERR_NOMEM : snt_ad_accumulate(ad, x, dx);
}

/* kind_: the snt_k_activation kind that runs float32 (NULL: the loop for every type). */
#define ACTIVATION(id, onnx, label, types_, expr_, kind_)                                                \
  static snt_status id##_emit(snt_emit *e, int node) {                                                  \
    if (kind_ && snt_emit_activation_call(e, node, kind_, 0, 0)) return SNT_OK;                         \
    return snt_emit_unary_expr(e, node, expr_);                                                         \
  }                                                                                                     \
  const snt_op snt_op_##id = {.name = #id, .type_name = "Activation", .default_layer = "activation", \
                              .doc = label, .min_inputs = 1, .max_inputs = 1, .args = no_args, \
                              .infer = snt_infer_same, .onnx_type = onnx, .onnx_export = snt_ox_unary, .emit = id##_emit, .to_dsl = snt_dsl_plain, .inplace = true, \
                              .grad = grad, .batch_rows = snt_rows_elementwise, .onnx_arity = {1, 1, 1, 1}, .types = {.t = (types_), .note = "loop in the type (FLOAT16, BFLOAT16 in float32)"}}

ACTIVATION(relu, "Relu", "rectified linear unit: relu(x) = max(x, 0)", SNT_TY_FLOATS | SNT_TY_SINTS, "(x > 0 ? x : 0)", NULL);
ACTIVATION(sigmoid, "Sigmoid", "logistic sigmoid: sigmoid(x) = 1 / (1 + exp(-x))", SNT_TY_FLOATS, "1 / (1 + exp$f(-x))", "SNT_K_ACT_SIGMOID");
ACTIVATION(tanh, "Tanh", "hyperbolic tangent: tanh(x)", SNT_TY_FLOATS, "tanh$f(x)", "SNT_K_ACT_TANH");
