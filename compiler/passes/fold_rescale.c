/* Input preprocessing x * scale + offset right before a conv2d folds into its kernel and
 * bias: conv(x * s + o) = conv'(x) with W' = W * s[c] and b' = b + sum(W * o[c]). With a
 * nonzero offset that holds only when the conv has no padding (its zeros would become o).
 * The preprocessing is the DSL's rescale, or an ONNX Mul/Div by a constant (x / 255 as
 * exporters write it), per tensor or per channel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

static bool has_padding(const snt_node *conv) {
  int c = 0;
  const int64_t *p = snt_node_ints(conv, "resolved_pads", &c);
  for (int i = 0; p && i < c; i++)
    if (p[i]) return true;
  return false;
}

/* A float32 constant of one value, or one per channel of a rank-4 NCHW x ([C,1,1] or
 * [1,C,1,1] broadcast): its value for channel c, or NULL. */
static const float *channel_constant(const snt_graph *g, int t, int64_t cin, int64_t *stride) {
  const snt_tensor *k = &g->tensors[t];
  if (k->kind == SNT_T_INPUT || k->kind == SNT_T_ACT || !k->data || k->trainable || k->dtype != SNT_F32) return NULL;
  int64_t n = snt_tensor_numel(k);
  *stride = n == 1 ? 0 : 1;
  if (n == 1) return k->data;
  if (n != cin || k->rank < 3 || k->rank > 4 || k->dims[k->rank - 1] != 1 || k->dims[k->rank - 2] != 1) return NULL;
  return k->data;
}

/* The scale (and offset) per input channel of producer p of conv's x, in s[] and o[]; false
 * when p is not such a preprocessing. x's own shape must be the product's (no broadcast up). */
static bool preprocessing(const snt_graph *g, const snt_node *p, int64_t cin, double *s, double *o) {
  if (p->op == &snt_op_rescale) {
    int ns = 0, no = 0;
    const double *sc = snt_node_floats(p, "scale", &ns), *of = snt_node_floats(p, "offset", &no);
    if (!sc || !of || !ns || !no) return false;
    for (int64_t c = 0; c < cin; c++) s[c] = sc[ns == 1 ? 0 : c], o[c] = of[no == 1 ? 0 : c];
    return true;
  }
  bool div = p->op == &snt_op_div;
  if ((!div && p->op != &snt_op_mul) || p->n_in != 2) return false;
  int64_t stride = 0;
  int xi = 0;
  const float *v = channel_constant(g, p->in[1], cin, &stride);
  if (!v && !div) v = channel_constant(g, p->in[0], cin, &stride), xi = 1;
  const snt_tensor *x = &g->tensors[p->in[xi]], *y = &g->tensors[p->out[0]];
  if (!v || x->dtype != SNT_F32 || x->rank != y->rank || memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)x->rank))
    return false;
  for (int64_t c = 0; c < cin; c++) {
    double k = v[c * stride];
    if (!isfinite(k) || (div && k == 0)) return false;
    s[c] = div ? 1 / k : k, o[c] = 0;
  }
  return true;
}

/* W' = W * s[c], b' = b + sum(W * o[c]) for conv node c reading a tensor scaled by s, o. */
static snt_status fold_into(snt_graph *g, int c, int64_t cin, const double *s, const double *o, bool offset) {
  snt_node *conv = &g->nodes[c];
  int k = snt_node_param(g, conv, "kernel"), b = snt_node_param(g, conv, "bias");
  int64_t cout = g->tensors[k].dims[0], per = snt_tensor_numel(&g->tensors[k]) / cout / cin;
  if (offset && b < 0) {
    b = snt_ir_add_param(g, c, "bias", 1, &cout, true);
    if (b < 0 || !(g->tensors[b].data = calloc((size_t)cout, sizeof(float)))) return SNT_ERR_NOMEM;
    snt_status st = snt_node_set_int(&g->nodes[c], "bias", 1);
    if (st) return st;
  }
  float *w = g->tensors[k].data, *bias = b >= 0 ? g->tensors[b].data : NULL;
  for (int64_t oc = 0; oc < cout; oc++)
    for (int64_t ic = 0; ic < cin; ic++) {
      double sum = 0;
      for (int64_t i = 0; i < per; i++) {
        float *wi = &w[(oc * cin + ic) * per + i];
        sum += *wi * o[ic];
        *wi = (float)(*wi * s[ic]);
      }
      if (bias) bias[oc] = (float)(bias[oc] + sum);
    }
  return SNT_OK;
}

snt_status snt_pass_fold_rescale(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int c = 0; c < g->n_nodes && !st; c++) {
    const snt_node *conv = &g->nodes[c];
    if (conv->op != &snt_op_conv2d || snt_node_int(conv, "groups", 1) != 1) continue;
    int x = conv->in[0], first, r = g->tensors[x].producer, k = snt_node_param(g, conv, "kernel");
    if (r < 0 || dead[r] || k < 0 || !g->tensors[k].data || snt_readers(g, x, &first) != 1 || snt_ir_is_output(g, x) ||
        g->tensors[x].rank < 2 || !snt_param_private(g, conv, "kernel") || !snt_param_private(g, conv, "bias"))
      continue;
    int64_t cin = g->tensors[x].dims[1];
    double *so = cin > 0 ? malloc(sizeof(double) * 2 * (size_t)cin) : NULL;
    if (!so) {
      st = cin > 0 ? SNT_ERR_NOMEM : SNT_OK;
      continue;
    }
    bool offset = false, ok = preprocessing(g, &g->nodes[r], cin, so, so + cin);
    for (int64_t i = 0; ok && i < cin; i++) offset |= so[cin + i] != 0;
    if (ok && !(offset && has_padding(conv))) {
      int from = g->nodes[r].in[0];
      if (g->nodes[r].op == &snt_op_mul && g->tensors[from].kind != SNT_T_INPUT && g->tensors[from].kind != SNT_T_ACT)
        from = g->nodes[r].in[1];
      if (!(st = fold_into(g, c, cin, so, so + cin, offset))) {
        g->nodes[c].in[0] = from;
        dead[r] = true;
        (*changed)++;
      }
    }
    free(so);
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
