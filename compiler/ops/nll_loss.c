/* The ONNX loss ops (opsets 12 and 13): NegativeLogLikelihoodLoss of log-probabilities and
 * SoftmaxCrossEntropyLoss of scores (log_softmax along the classes, then the same loss, with the
 * log-probabilities as an optional second output). Inputs [N, C, d1..dk], targets [N, d1..dk],
 * optional class weights [C]; reduction none, sum or mean (the default), ignore_index optional.
 * Evaluation only: sinter trains with its own loss (compiler/ops/loss.c). */
#include <string.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const char *const reductions[] = {"none", "sum", "mean", NULL};
static const snt_arg_spec args[] = {{"reduction", SNT_ARG_SYMBOL, "mean", reductions}, {0}};

static int reduction_of(const snt_node *n) {
  const char *r = snt_node_string(n, "reduction", "mean");
  for (int i = 0; reductions[i]; i++)
    if (strcmp(r, reductions[i]) == 0) return i;
  return -1;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *t = snt_in(g, n, 1), *w = snt_in_opt(g, n, 2);
  if (reduction_of(n) < 0)
    return snt_node_error(g, n, d, "reduction '%s' is none of none, sum and mean", snt_node_string(n, "reduction", ""));
  if (x->rank < 2) return snt_node_error(g, n, d, "the input has rank %d, expected [N, C, ...] (rank 2 or more)", x->rank);
  bool same = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
  for (int i = 2; same && i < x->rank; i++) same = t->dims[i - 1] == x->dims[i];
  if (!same) {
    char xs[SNT_MAX_RANK * 24 + 8], ts[SNT_MAX_RANK * 24 + 8];
    snt_shape_str(xs, sizeof xs, x, 0), snt_shape_str(ts, sizeof ts, t, 0);
    return snt_node_error(g, n, d, "targets %s do not match the input %s without its class axis", ts, xs);
  }
  if (t->dtype != SNT_I32 && t->dtype != SNT_I64) return snt_node_error(g, n, d, "targets must be INT32 or INT64");
  if (w && (w->rank != 1 || w->dims[0] != x->dims[1]))
    return snt_node_error(g, n, d, "weights must have shape (%lld), one per class", (long long)x->dims[1]);
  if (reduction_of(n) == SNT_K_LOSS_NONE) snt_set_output(g, node, 0, x->dtype, t->rank, t->dims);
  else snt_set_output(g, node, 0, x->dtype, 0, x->dims);
  if (n->n_out > 1) snt_set_output(g, node, 1, x->dtype, x->rank, x->dims);
  return SNT_OK;
}

/* The kernel's parameters as a C initializer. */
static const char *params(snt_emit *e, const snt_node *n) {
  const snt_tensor *x = &e->g->tensors[n->in[0]], *t = &e->g->tensors[n->in[1]];
  int64_t rest = 1;
  for (int i = 2; i < x->rank; i++) rest *= x->dims[i];
  const snt_attr *ig = snt_node_attr(n, "ignore_index");
  return snt_format_keep(e, "{.red = %d, .n = %lldLL, .c = %lldLL, .d = %lldLL, .target_type = %d, .has_ignore = %d, "
                         ".ignore = %lldLL}", reduction_of(n), (long long)x->dims[0],
                         (long long)x->dims[1], (long long)rest, (int)t->dtype, ig != NULL,
                         (long long)snt_node_int(n, "ignore_index", 0));
}

static const char *weights(snt_emit *e, const snt_node *n) {
  return n->n_in > 2 && n->in[2] >= 0 ? snt_emit_ptr(e, n->in[2]) : "NULL";
}

static snt_status emit_nll(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_emit_line(e, "{");
  snt_emit_line(e, "  const snt_k_nll p = %s;", params(e, n));
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_nll_loss(&p, %s, %s, %s, %s))) return snt_k_st_;", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), weights(e, n), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* The log-probabilities go to the second output, or to scratch when the node has none. */
static snt_status emit_sce(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_emit_line(e, "{");
  snt_emit_line(e, "  const snt_k_nll p = %s;", params(e, n));
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_softmax_ce_loss(&p, %s, %s, %s, %s, %s))) return snt_k_st_;", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), weights(e, n), n->n_out > 1 ? snt_emit_ptr(e, n->out[1]) : "(float *)S",
                snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static size_t sce_scratch(const snt_graph *g, const snt_node *n) {
  return n->n_out > 1 ? 0 : (size_t)snt_tensor_numel(&g->tensors[n->in[0]]) * sizeof(float);
}

#define LOSS_TYPES                                                                                     \
  {.t = SNT_TY(SNT_F32), .t_f32 = SNT_TY(SNT_F16) | SNT_TY(SNT_F64) | SNT_TY(SNT_BF16), .t_slots = 5u, \
   .other = SNT_TY(SNT_I32) | SNT_TY(SNT_I64),                                                        \
   .note = "float32 kernel summing in double: FLOAT16, BFLOAT16 and DOUBLE cast to float32 and back"}

const snt_op snt_op_nll_loss = {
    .name = "nll_loss", .type_name = "NegativeLogLikelihoodLoss", .default_layer = "nll_loss",
    .doc = "negative log-likelihood of log-probabilities [N, C, ...] at integer targets: nll_loss(x, targets, weights)",
    .min_inputs = 2, .max_inputs = 3, .args = args, .infer = infer, .onnx_type = "NegativeLogLikelihoodLoss",
    .emit = emit_nll, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 3, 1, 1}, .types = LOSS_TYPES,
    .no_export = SNT_NO_EXPORT_YET};

const snt_op snt_op_softmax_ce_loss = {
    .name = "softmax_ce_loss", .type_name = "SoftmaxCrossEntropyLoss", .default_layer = "softmax_ce_loss",
    .doc = "cross-entropy of softmax(scores) along axis 1 at integer labels: softmax_ce_loss(scores, labels, weights)",
    .min_inputs = 2, .max_inputs = 3, .args = args, .infer = infer, .onnx_type = "SoftmaxCrossEntropyLoss",
    .emit = emit_sce, .scratch = sce_scratch, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 3, 1, 2}, .types = LOSS_TYPES,
    .no_export = SNT_NO_EXPORT_YET};
