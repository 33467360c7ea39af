/* A zero pad of the spatial dims right before a conv2d (Keras's ZeroPadding2D + 'valid'
 * convolution, as in ResNet50V2) becomes the convolution's own padding: no copy. A pad of
 * nothing on every axis (PyTorch exports one before each AveragePool) is dropped. At
 * inference a constant pad before a pool becomes the pool's padding too (see below). */
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/ops/window.h"
#include "compiler/passes/passes.h"

/* Whether pad node n adds nothing: its output is its input, whatever the mode and value. */
static bool pads_nothing(const snt_node *n) {
  int cnt = 0;
  const int64_t *p = snt_node_ints(n, "pads_nd", &cnt);
  if (n->op != &snt_op_pad || !p || cnt == 0) return false;
  for (int i = 0; i < cnt; i++)
    if (p[i] != 0) return false;
  return true;
}

/* A constant pad's fill: its value attribute, or its constant_value input when that is a
 * float32 scalar known now (tf2onnx writes an initializer); false when only a run knows it. */
static bool pad_value(const snt_graph *g, const snt_node *pad, double *v) {
  if (pad->n_in <= 2 || pad->in[2] < 0) {
    *v = snt_node_float(pad, "value", 0);
    return true;
  }
  const snt_tensor *t = &g->tensors[pad->in[2]];
  /* An ONNX initializer is a parameter: its value is the model's (DSL pads have no such input). */
  bool fixed = t->kind == SNT_T_CONST || t->kind == SNT_T_PARAM;
  if (!fixed || !t->data || t->dtype != SNT_F32 || snt_tensor_numel(t) != 1) return false;
  *v = *(const float *)t->data;
  return true;
}

/* The spatial pads of a constant pad node p producing x, x's only reader the caller, that pads
 * neither batch nor channels nor crops, into pads[2 * sp] (begins, then ends), and its fill. */
static bool constant_spatial_pad(const snt_graph *g, int p, const bool *dead, int x, int sp, int64_t *pads,
                                 double *value) {
  int first, cp = 0, r = sp + 2;
  if (p < 0 || dead[p] || snt_readers(g, x, &first) != 1 || snt_ir_is_output(g, x)) return false;
  const snt_node *pad = &g->nodes[p];
  if (pad->op != &snt_op_pad || strcmp(snt_node_string(pad, "mode", "constant"), "constant") != 0 ||
      !pad_value(g, pad, value))
    return false;
  const int64_t *pp = snt_node_ints(pad, "pads_nd", &cp);
  if (!pp || cp != 2 * r || pp[0] || pp[1] || pp[r] || pp[r + 1]) return false;
  for (int i = 0; i < sp; i++) pads[i] = pp[2 + i], pads[sp + i] = pp[r + 2 + i];
  for (int i = 0; i < 2 * sp; i++)
    if (pads[i] < 0) return false; /* a crop */
  return true;
}

snt_status snt_pass_fold_pad(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!pads_nothing(&g->nodes[i])) continue;
    snt_replace_uses(g, g->nodes[i].out[0], g->nodes[i].in[0]);
    dead[i] = true;
    (*changed)++;
  }
  for (int c = 0; c < g->n_nodes && !st; c++) {
    snt_node *conv = &g->nodes[c];
    if (conv->op != &snt_op_conv2d) continue;
    int x = conv->in[0], p = g->tensors[x].producer, sp = g->tensors[x].rank - 2, cr = 0;
    const int64_t *cv = snt_node_ints(conv, "resolved_pads", &cr);
    int64_t pads[2 * SNT_MAX_SPATIAL];
    double value;
    if (sp < 1 || sp > SNT_MAX_SPATIAL || !cv || cr != 2 * sp || !constant_spatial_pad(g, p, dead, x, sp, pads, &value) ||
        value != 0)
      continue;
    for (int i = 0; i < 2 * sp; i++) pads[i] += cv[i];
    if ((st = snt_node_set_string(conv, "padding", "explicit")) || (st = snt_node_set_ints(conv, "pads", 2 * sp, pads)) ||
        (st = snt_node_set_ints(conv, "resolved_pads", 2 * sp, pads)))
      break;
    conv->in[0] = g->nodes[p].in[0];
    dead[p] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}

static bool all_zero(const int64_t *v, int n) {
  for (int i = 0; i < n; i++)
    if (v[i]) return false;
  return true;
}

/* Inference only (the pool gradients know no pad value): a constant pad right before a max
 * pool without its own padding becomes the pool's padding filled with the pad's value (Keras's
 * ZeroPadding2D + MaxPooling2D in ResNet50V2's stem: the 3.3 MB copy is gone); a zero pad before
 * an average pool becomes padding counted in the mean. Not with ceil_mode or Indices. */
snt_status snt_pass_fold_pad_pool(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    snt_node *pool = &g->nodes[i];
    bool is_max = pool->op == &snt_op_maxpool;
    if ((!is_max && pool->op != &snt_op_avgpool) || pool->n_out != 1 || snt_node_int(pool, "ceil_mode", 0)) continue;
    int x = pool->in[0], sp = g->tensors[x].rank - 2, cr = 0, p = g->tensors[x].producer;
    int64_t pads[2 * SNT_MAX_SPATIAL];
    const int64_t *own = snt_node_ints(pool, "resolved_pads", &cr);
    double value;
    if (sp < 1 || sp > SNT_MAX_SPATIAL || !own || cr != 2 * sp || g->tensors[x].dtype != SNT_F32 ||
        !constant_spatial_pad(g, p, dead, x, sp, pads, &value))
      continue;
    bool counted = snt_node_int(pool, "count_include_pad", 0) != 0;
    if (is_max ? !all_zero(own, 2 * sp) : (value != 0 || (!counted && !all_zero(own, 2 * sp)))) continue;
    for (int k = 0; k < 2 * sp; k++) pads[k] += own[k];
    if ((st = snt_node_set_string(pool, "padding", "explicit")) || (st = snt_node_set_ints(pool, "pads", 2 * sp, pads)) ||
        (st = snt_node_set_ints(pool, "resolved_pads", 2 * sp, pads)))
      break;
    if (is_max) st = snt_node_set_int(pool, "pad_fill", 1);
    if (!st) st = is_max ? snt_node_set_float(pool, "pad_value", value) : snt_node_set_int(pool, "count_include_pad", 1);
    if (st) break;
    pool->in[0] = g->nodes[p].in[0];
    dead[p] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
