/* Reverse-mode autodiff: training rewrites, the loss, then each op's gradient rule in reverse
 * order. Gradients that meet (a tensor read twice, as residual inputs are) are summed. */
#include "compiler/autodiff.h"

#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/ops/common.h"
#include "compiler/passes/passes.h"
#include "support/util.h"

extern const snt_op snt_op_softmax_xent;

snt_status snt_ad_grow(snt_ad *ad) {
  int n = ad->g->n_tensors;
  if (n <= ad->cap) return SNT_OK;
  int cap = n * 2 + 16;
  int *gr = realloc(ad->grad, sizeof *gr * (size_t)cap);
  if (!gr) return SNT_ERR_NOMEM;
  ad->grad = gr;
  bool *nd = realloc(ad->needs, sizeof *nd * (size_t)cap);
  if (!nd) return SNT_ERR_NOMEM;
  ad->needs = nd;
  for (int i = ad->cap; i < cap; i++) ad->grad[i] = -1, ad->needs[i] = false;
  ad->cap = cap;
  return SNT_OK;
}

int snt_ad_grad(const snt_ad *ad, int t) { return t >= 0 && t < ad->cap ? ad->grad[t] : -1; }
bool snt_ad_needs(const snt_ad *ad, int t) { return t >= 0 && t < ad->cap && ad->needs[t]; }

const snt_node *snt_ad_fwd(const snt_graph *g, const snt_node *b) {
  int64_t f = snt_node_int(b, "fwd", -1);
  return f >= 0 && f < g->n_nodes ? &g->nodes[f] : b;
}

static snt_status copy_attrs(snt_node *to, const snt_node *from) {
  snt_status st = SNT_OK;
  for (int i = 0; i < from->n_attrs && !st; i++) {
    const snt_attr *a = &from->attrs[i];
    switch (a->kind) {
      case SNT_ATTR_INT: st = snt_node_set_int(to, a->name, a->ints[0]); break;
      case SNT_ATTR_FLOAT: st = snt_node_set_float(to, a->name, a->floats[0]); break;
      case SNT_ATTR_INTS: st = snt_node_set_ints(to, a->name, a->n, a->ints); break;
      case SNT_ATTR_FLOATS: st = snt_node_set_floats(to, a->name, a->n, a->floats); break;
      case SNT_ATTR_STRING: st = snt_node_set_string(to, a->name, a->str); break;
    }
  }
  return st;
}

int snt_ad_node(snt_ad *ad, const snt_op *op, int fwd, const char *suffix, int n_in, const int *ins) {
  snt_graph *g = ad->g;
  char *name = snt_format("%s/%s", g->nodes[fwd].name, suffix);
  int b = name ? snt_ir_add_node(g, op, name, g->nodes[fwd].loc) : -1;
  free(name);
  if (b < 0) return -1;
  if (copy_attrs(&g->nodes[b], &g->nodes[fwd]) || snt_node_set_int(&g->nodes[b], "fwd", fwd)) return -1;
  for (int i = 0; i < n_in; i++)
    if (snt_ir_node_add_input(g, b, ins[i])) return -1;
  g->nodes[b].n_act_in = n_in;
  return b;
}

int snt_ad_output(snt_ad *ad, int b, const char *suffix, snt_dtype dtype, int rank, const int64_t *dims) {
  snt_graph *g = ad->g;
  char *name = snt_format("%s/%s", g->nodes[b].name, suffix);
  int t = name ? snt_ir_node_add_output(g, b, name) : -1;
  free(name);
  if (t < 0 || snt_ad_grow(ad)) return -1;
  snt_set_output(g, b, g->nodes[b].n_out - 1, dtype, rank, dims);
  return t;
}

int snt_ad_output_like(snt_ad *ad, int b, int like, const char *suffix) {
  snt_tensor l = ad->g->tensors[like];
  return snt_ad_output(ad, b, suffix, l.dtype, l.rank, l.dims);
}

snt_status snt_ad_accumulate(snt_ad *ad, int t, int grad) {
  snt_status st = snt_ad_grow(ad);
  if (st) return st;
  if (ad->grad[t] < 0) {
    ad->grad[t] = grad;
    return SNT_OK;
  }
  /* Named after the tensor's producer (or the tensor) so messages point somewhere useful. */
  snt_graph *g = ad->g;
  int ins[2] = {ad->grad[t], grad};
  int p = g->tensors[grad].producer;
  int b = snt_ad_node(ad, &snt_op_add, p, "grad_sum", 2, ins);
  int s = b >= 0 ? snt_ad_output_like(ad, b, t, "out") : -1;
  if (s < 0) return SNT_ERR_NOMEM;
  ad->grad[t] = s;
  return SNT_OK;
}

snt_status snt_ad_add_stat(snt_ad *ad, int param, int batch, double momentum) {
  if (!SNT_GROW(ad->stats, ad->n_stats + 1, ad->cap_stats)) return SNT_ERR_NOMEM;
  ad->stats[ad->n_stats++] = (snt_ad_stat){param, batch, momentum};
  return SNT_OK;
}

snt_status snt_ad_input_grad(snt_ad *ad, const snt_op *op, int node, int n_in, const int *ins) {
  int x = ad->g->nodes[node].in[0];
  int b = snt_ad_node(ad, op, node, "grad", n_in, ins);
  int dx = b >= 0 ? snt_ad_output_like(ad, b, x, "dx") : -1;
  return dx < 0 ? SNT_ERR_NOMEM : snt_ad_accumulate(ad, x, dx);
}

snt_status snt_ad_layer_grad(snt_ad *ad, int node, const snt_op *grad_input, const snt_op *grad_kernel) {
  snt_graph *g = ad->g;
  const snt_node *n = &g->nodes[node];
  int x = n->in[0], w = n->in[1], b = n->n_in > 2 && n->in[2] >= 0 ? n->in[2] : -1;
  int dy = snt_ad_act_grad(ad, node, snt_ad_grad(ad, n->out[0]));
  if (dy < 0) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  if (snt_ad_needs(ad, x)) {
    int ins[2] = {dy, w};
    int k = snt_ad_node(ad, grad_input, node, "grad_input", 2, ins);
    int dx = k >= 0 ? snt_ad_output_like(ad, k, x, "dx") : -1;
    if (dx < 0 || (st = snt_ad_accumulate(ad, x, dx))) return st ? st : SNT_ERR_NOMEM;
  }
  if (snt_ad_needs(ad, w)) {
    int ins[2] = {x, dy};
    int k = snt_ad_node(ad, grad_kernel, node, "grad_kernel", 2, ins);
    int dw = k >= 0 ? snt_ad_output_like(ad, k, w, "dkernel") : -1;
    int db = k >= 0 && b >= 0 ? snt_ad_output_like(ad, k, b, "dbias") : 0;
    if (dw < 0 || db < 0 || (st = snt_ad_accumulate(ad, w, dw)) || (b >= 0 && (st = snt_ad_accumulate(ad, b, db))))
      return st ? st : SNT_ERR_NOMEM;
  }
  return SNT_OK;
}

void snt_ad_free(snt_ad *ad) {
  free(ad->grad);
  free(ad->needs);
  free(ad->stats);
  free(ad->params);
  memset(ad, 0, sizeof *ad);
}

/* The logits behind the model's softmax output: the layer's fused softmax is taken off (the
 * loss computes the probabilities) or a standalone softmax is bypassed. */
snt_status snt_ad_find_logits(snt_ad *ad, int *logits) {
  snt_graph *g = ad->g;
  if (g->n_outputs != 1)
    return snt_diag_error(ad->d, g->src, (snt_loc){0}, "training needs a model with one output (a softmax over the classes), got %d",
                          g->n_outputs);
  int o = g->outputs[0], p = g->tensors[o].producer;
  snt_node *n = p >= 0 ? &g->nodes[p] : NULL;
  if (n && n->op == &snt_op_softmax) {
    *logits = n->in[0];
    return SNT_OK;
  }
  if (n && strcmp(snt_node_string(n, "activation", "none"), "softmax") == 0) {
    *logits = o;
    return snt_node_set_string(n, "activation", "none");
  }
  return snt_diag_error(ad->d, g->src, (snt_loc){0},
                        "training needs the model's output to be a softmax (dense(..., activation = softmax)); output '%s' is not",
                        g->tensors[o].name);
}

static snt_status add_loss(snt_ad *ad) {
  snt_graph *g = ad->g;
  int logits = -1;
  snt_status st = snt_ad_find_logits(ad, &logits);
  if (st) return st;
  const snt_tensor *lt = &g->tensors[logits];
  if (lt->rank != 2)
    return snt_diag_error(ad->d, g->src, (snt_loc){0}, "training needs class scores of shape (batch, classes), got rank %d", lt->rank);
  int64_t b = lt->dims[0], c = lt->dims[1], one = 1;
  ad->labels = snt_ir_add_tensor(g, "labels", SNT_T_INPUT, SNT_I64, 1, &b);
  ad->weights = snt_ir_add_tensor(g, "sample_weights", SNT_T_INPUT, SNT_F32, 1, &b);
  if (ad->labels < 0 || ad->weights < 0) return SNT_ERR_NOMEM;
  g->tensors[ad->labels].batched = g->tensors[ad->weights].batched = true;
  if ((st = snt_ir_mark_input(g, ad->labels)) || (st = snt_ir_mark_input(g, ad->weights))) return st;
  int l = snt_ir_add_node(g, &snt_op_softmax_xent, "loss", (snt_loc){0});
  if (l < 0) return SNT_ERR_NOMEM;
  int ins[3] = {logits, ad->labels, ad->weights};
  for (int i = 0; i < 3; i++)
    if ((st = snt_ir_node_add_input(g, l, ins[i]))) return st;
  g->nodes[l].n_act_in = 3;
  int64_t dims[2] = {b, c};
  ad->loss = snt_ad_output(ad, l, "value", SNT_F32, 1, &one);
  ad->probs = snt_ad_output(ad, l, "probs", SNT_F32, 2, dims);
  int dlogits = snt_ad_output(ad, l, "dlogits", SNT_F32, 2, dims);
  if (ad->loss < 0 || ad->probs < 0 || dlogits < 0) return SNT_ERR_NOMEM;
  g->n_outputs = 0;
  if ((st = snt_ir_mark_output(g, ad->loss)) || (st = snt_ir_mark_output(g, ad->probs))) return st;
  return snt_ad_accumulate(ad, logits, dlogits);
}

/* Trainable parameters of unfrozen layers need gradients, and so does all that reads them. */
static snt_status mark_needs(snt_ad *ad) {
  snt_graph *g = ad->g;
  for (int t = 0; t < g->n_tensors; t++) {
    const snt_tensor *x = &g->tensors[t];
    ad->needs[t] = x->kind == SNT_T_PARAM && x->trainable && x->owner >= 0 && !g->nodes[x->owner].frozen;
  }
  for (int i = 0; i < ad->n_fwd; i++) {
    const snt_node *n = &g->nodes[i];
    bool any = false;
    for (int k = 0; k < n->n_in; k++) {
      int t = n->in[k];
      if (t < 0) continue;
      if (g->tensors[t].producer >= i)
        return snt_diag_error(ad->d, g->src, (snt_loc){0}, "internal: layer '%s' reads a value computed after it", n->name);
      any |= ad->needs[t];
    }
    for (int k = 0; k < n->n_out; k++) ad->needs[n->out[k]] = any;
  }
  return SNT_OK;
}

snt_status snt_ad_backward(snt_ad *ad) {
  snt_graph *g = ad->g;
  for (int i = ad->n_fwd - 1; i >= 0; i--) {
    const snt_node *n = &g->nodes[i];
    bool has_grad = false, wants = false;
    for (int k = 0; k < n->n_out; k++) has_grad |= snt_ad_grad(ad, n->out[k]) >= 0;
    for (int k = 0; k < n->n_in; k++) wants |= snt_ad_needs(ad, n->in[k]);
    if (!has_grad || !wants) continue;
    if (!n->op->grad)
      return snt_node_error(g, n, ad->d, "cannot be %s yet: op '%s' has no gradient rule", ad->purpose ? ad->purpose : "trained",
                            n->op->name);
    snt_status st = n->op->grad(ad, i);
    if (st) return st;
  }
  return SNT_OK;
}

/* Gradients of the trainable parameters, then the batch statistics, become outputs. */
static snt_status mark_outputs(snt_ad *ad) {
  snt_graph *g = ad->g;
  ad->params = malloc(sizeof(int) * (size_t)(g->n_tensors + 1));
  if (!ad->params) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int t = 0; t < g->n_tensors && !st; t++) {
    const snt_tensor *x = &g->tensors[t];
    if (x->kind != SNT_T_PARAM || !snt_ad_needs(ad, t)) continue;
    int gr = snt_ad_grad(ad, t);
    if (gr < 0) return snt_diag_error(ad->d, g->src, (snt_loc){0}, "internal: no gradient reaches parameter '%s'", x->name);
    if (g->tensors[gr].kind != SNT_T_ACT || snt_ir_is_output(g, gr))
      return snt_diag_error(ad->d, g->src, (snt_loc){0}, "internal: the gradient of '%s' is not its own value", x->name);
    ad->params[ad->n_params++] = t;
    st = snt_ir_mark_output(g, gr);
  }
  for (int s = 0; s < ad->n_stats && !st; s++) st = snt_ir_mark_output(g, ad->stats[s].batch);
  return st;
}

snt_status snt_autodiff_build(snt_graph *g, snt_diag *d, snt_ad *ad) {
  memset(ad, 0, sizeof *ad);
  snt_status fst = snt_passes_run(g, d, SNT_PIPELINE_TRAINING);
  if (fst) return fst;
  ad->g = g;
  ad->d = d;
  ad->n_fwd = g->n_nodes;
  ad->loss = ad->probs = ad->labels = ad->weights = -1;
  snt_status st = snt_ad_grow(ad);
  for (int i = 0; i < ad->n_fwd && !st; i++)
    if (g->nodes[i].op->train) st = g->nodes[i].op->train(ad, i);
  if (!st) st = snt_ad_grow(ad);
  if (!st) st = mark_needs(ad);
  if (!st) st = add_loss(ad);
  if (!st) st = snt_ad_backward(ad);
  if (!st) st = mark_outputs(ad);
  return st;
}
