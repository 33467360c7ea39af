/* softmax_xent: the training loss. Softmax over the class scores and sparse categorical
 * cross-entropy with per-sample weights, reduced as Keras does (sum of w_i * loss_i over the
 * batch size); it also writes the probabilities and dLoss/dlogits, the seed of the backward
 * pass. Only autodiff makes it: it is no DSL layer. */
#include "compiler/ops/common.h"

static const snt_arg_spec no_args[] = {{0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  (void)g, (void)node, (void)d;
  return SNT_OK; /* autodiff sets the shapes */
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_softmax_xent(%s, %lld, %s, %s, %s, %s, %s, %s))) return snt_k_st_;", snt_emit_batch(e),
                (long long)x->dims[1], snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->in[2]),
                snt_emit_ptr(e, n->out[1]), snt_emit_ptr(e, n->out[0]), snt_emit_ptr(e, n->out[2]));
  return SNT_OK;
}

const snt_op snt_op_softmax_xent = {
    .name = "softmax_xent", .type_name = "Loss", .default_layer = "loss",
    .doc = "softmax + sparse categorical cross-entropy with sample weights (training only)",
    .min_inputs = 3, .max_inputs = 3, .args = no_args, .infer = infer, .emit = emit};
