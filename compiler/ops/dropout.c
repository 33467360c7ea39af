/* dropout: zeroes a fraction `rate` of the values while training (inverted scaling);
 * the identity at inference, where ONNX's optional mask output is all true. */
#include "compiler/onnx/export.h"
#include "compiler/ops/common.h"

static const snt_arg_spec args[] = {
    {"rate", SNT_ARG_FLOAT, NULL, NULL},
    {"seed", SNT_ARG_INT, "0", NULL},
    {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  double rate = snt_node_float(n, "rate", 0);
  if (!(rate >= 0 && rate < 1)) return snt_node_error(g, n, d, "rate must be in [0, 1), got %g", rate);
  snt_tensor *x = snt_in(g, n, 0);
  snt_set_output(g, node, 0, x->dtype, x->rank, x->dims);
  if (n->n_out > 1) snt_set_output(g, node, 1, SNT_BOOL, x->rank, x->dims);
  return SNT_OK;
}

/* ONNX: ratio is an attribute before opset 12 and an input after; at inference it changes
 * nothing, so the input is read by no code. training_mode (input 3) decides what the
 * node computes, so it must be known when compiling: absent or a constant false. */
static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *mode = snt_in_opt(g, n, 2);
  if (mode && (!mode->data || ((uint8_t *)mode->data)[0]))
    return snt_node_error(g, n, d, "training_mode must be absent or a constant false in an inference graph (opset %d)", opset);
  n->n_act_in = 1;
  return snt_node_set_float(n, "rate", snt_node_float(n, "ratio", 0.5) < 1 ? snt_node_float(n, "ratio", 0.5) : 0.5);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_status st = snt_emit_copy(e, node);
  if (!st && n->n_out > 1)
    snt_emit_line(e, "memset(%s, 1, %lld);", snt_emit_ptr(e, n->out[1]), (long long)snt_tensor_numel(&e->g->tensors[n->out[1]]));
  return st;
}

/* An inference graph: the identity. */
static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *in = snt_ox_name(x, n->in[0]);
  return snt_ox_node(x, "Identity", n->name, 1, &in, snt_ox_name(x, n->out[0])) < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

const snt_op snt_op_dropout = {
    .name = "dropout", .type_name = "Dropout", .default_layer = "dropout",
    .doc = "random zeroing while training: dropout(x, rate, seed=0)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "Dropout",
    .onnx_import = onnx_import, .onnx_const_inputs = 1u << 2, .onnx_export = onnx_export, .emit = emit};
