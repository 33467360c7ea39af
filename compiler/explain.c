/* The explain graph (compiler/explain.h): the training step's machinery without the loss, the
 * training rewrites or any parameter gradient. BatchNorm and dropout keep their inference
 * forms, whose gradient rules are those of frozen layers. */
#include "compiler/explain.h"

#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/ops/common.h"
#include "compiler/passes/passes.h"

extern const snt_op snt_op_conv_transpose;

static bool is_conv(const snt_graph *g, const snt_node *n) {
  if (n->op != &snt_op_conv2d && n->op != &snt_op_conv_transpose) return false;
  const snt_tensor *y = &g->tensors[n->out[0]];
  return y->rank == 4 && y->dtype == SNT_F32;
}

/* Gradients are wanted from the convolutions' outputs on: they and all that reads them. */
static int mark_needs(snt_ad *ad) {
  snt_graph *g = ad->g;
  int found = 0;
  for (int i = 0; i < ad->n_fwd; i++) {
    const snt_node *n = &g->nodes[i];
    bool any = is_conv(g, n);
    found += any;
    for (int k = 0; k < n->n_in; k++) any |= snt_ad_needs(ad, n->in[k]);
    for (int k = 0; k < n->n_out; k++) ad->needs[n->out[k]] = any;
  }
  return found;
}

/* The model's probabilities: its softmax output, or a softmax added after the logits when the
 * last layer's own softmax was taken off. */
static snt_status probs_output(snt_graph *g, int logits, int output, snt_diag *d, int *probs) {
  int p = g->tensors[output].producer;
  if (output != logits && p >= 0 && g->nodes[p].op == &snt_op_softmax) {
    *probs = output;
    return SNT_OK;
  }
  int n = snt_ir_add_node(g, &snt_op_softmax, "explain/probs", (snt_loc){0});
  int t = n >= 0 ? snt_ir_node_add_output(g, n, "explain/probs") : -1;
  if (t < 0) return SNT_ERR_NOMEM;
  snt_status st = snt_ir_node_add_input(g, n, logits);
  g->nodes[n].n_act_in = 1;
  if (!st) st = snt_node_set_int(&g->nodes[n], "full_axis", 1);
  if (!st) st = g->nodes[n].op->infer(g, n, d);
  *probs = t;
  return st;
}

static snt_status seed_input(snt_explain *ex, int logits) {
  snt_graph *g = ex->ad.g;
  const snt_tensor *l = &g->tensors[logits];
  int64_t dims[2] = {l->dims[0], l->dims[1]};
  ex->seed = snt_ir_add_tensor(g, "class_seed", SNT_T_INPUT, SNT_F32, 2, dims);
  if (ex->seed < 0) return SNT_ERR_NOMEM;
  g->tensors[ex->seed].batched = true;
  snt_status st = snt_ir_mark_input(g, ex->seed);
  if (!st) st = snt_ad_grow(&ex->ad);
  return st ? st : snt_ad_accumulate(&ex->ad, logits, ex->seed);
}

/* Each convolution whose gradient the backward pass computed as a value of its own. */
static snt_status layer_outputs(snt_explain *ex) {
  snt_graph *g = ex->ad.g;
  ex->layers = calloc((size_t)ex->ad.n_fwd + 1, sizeof *ex->layers);
  if (!ex->layers) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int i = 0; i < ex->ad.n_fwd && !st; i++) {
    const snt_node *n = &g->nodes[i];
    int a = n->out[0], ga = is_conv(g, n) ? snt_ad_grad(&ex->ad, a) : -1;
    if (ga < 0 || g->tensors[ga].kind != SNT_T_ACT || snt_ir_is_output(g, ga) || snt_ir_is_output(g, a)) continue;
    ex->layers[ex->n_layers++] = (snt_explain_layer){i, a, ga};
    st = snt_ir_mark_output(g, a);
    if (!st) st = snt_ir_mark_output(g, ga);
  }
  return st;
}

/* The class scores are the logits behind the model's one softmax output. */
static snt_status softmax_output(snt_graph *g, snt_diag *d, int output) {
  if (output < 0) return snt_diag_error(d, g->src, (snt_loc){0}, "explain needs a model with one output, got %d", g->n_outputs);
  int p = g->tensors[output].producer;
  const snt_node *n = p >= 0 ? &g->nodes[p] : NULL;
  if (n && (n->op == &snt_op_softmax || strcmp(snt_node_string(n, "activation", "none"), "softmax") == 0)) return SNT_OK;
  return snt_diag_error(d, g->src, (snt_loc){0},
                        "explain needs the model's output to be a softmax over the classes (sinter compile --softmax adds "
                        "one after logits); output '%s' is not", g->tensors[output].name);
}

snt_status snt_explain_build(snt_graph *g, snt_diag *d, snt_explain *ex) {
  memset(ex, 0, sizeof *ex);
  snt_ad *ad = &ex->ad;
  snt_status st = snt_passes_run(g, d, SNT_PIPELINE_EXPLAIN);
  if (st) return st;
  ad->g = g, ad->d = d, ad->n_fwd = g->n_nodes;
  ad->loss = ad->probs = ad->labels = ad->weights = -1;
  ad->purpose = "explained";
  if (g->n_inputs != 1)
    return snt_diag_error(d, g->src, (snt_loc){0}, "explain needs a model with one image input, got %d inputs", g->n_inputs);
  int output = g->n_outputs == 1 ? g->outputs[0] : -1, logits = -1;
  if ((st = softmax_output(g, d, output))) return st;
  if ((st = snt_ad_grow(ad)) || (st = snt_ad_find_logits(ad, &logits))) return st;
  if (g->tensors[logits].rank == 2 && g->tensors[logits].dims[0] != 1)
    return snt_diag_error(d, g->src, (snt_loc){0}, "explain needs a batch of 1; the model's batch is fixed at %lld",
                          (long long)g->tensors[logits].dims[0]);
  if (g->tensors[logits].rank != 2)
    return snt_diag_error(d, g->src, (snt_loc){0}, "explain needs class scores of shape (batch, classes), got rank %d",
                          g->tensors[logits].rank);
  if (!mark_needs(ad)) return snt_diag_error(d, g->src, (snt_loc){0}, "explain needs a convolution layer; the model has none");
  if (!snt_ad_needs(ad, logits))
    return snt_diag_error(d, g->src, (snt_loc){0}, "explain: no convolution layer reaches the class scores");
  if ((st = seed_input(ex, logits)) || (st = snt_ad_backward(ad))) return st;
  g->n_outputs = 0;
  if ((st = probs_output(g, logits, output, d, &ex->probs)) || (st = snt_ir_mark_output(g, ex->probs))) return st;
  return layer_outputs(ex);
}

void snt_explain_free(snt_explain *ex) {
  snt_ad_free(&ex->ad);
  free(ex->layers);
  memset(ex, 0, sizeof *ex);
}
