/* A float32 Mul of x by a per-channel computed tensor (a squeeze-excite gate: [N, C, 1, 1]
 * against [N, C, H, W]) becomes one channel_scale node, which also takes the Add of the block's
 * residual and the ReLU after it when they alone read its result (SE-ResNet's joint): one pass
 * over the map on the team, where the generated loops made up to three on one thread. */
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"
#include "support/util.h"

/* Whether s is [N or 1, C, 1, ...] against y [N, C, ...]. */
static bool per_channel(const snt_tensor *s, const snt_tensor *y) {
  if (s->rank != y->rank || s->dtype != SNT_F32 || (s->dims[0] != y->dims[0] && s->dims[0] != 1) || s->dims[1] != y->dims[1])
    return false;
  for (int k = 2; k < s->rank; k++)
    if (s->dims[k] != 1) return false;
  return true;
}

/* The operand of Mul node m that is scaled (x: y's shape) when the other is per channel; -1. */
static int scaled_operand(const snt_graph *g, const snt_node *m) {
  if (m->op != &snt_op_mul || m->n_in != 2 || m->n_out != 1 || m->in[0] < 0 || m->in[1] < 0) return -1;
  const snt_tensor *y = &g->tensors[m->out[0]];
  if (y->dtype != SNT_F32 || y->rank < 3) return -1;
  for (int k = 0; k < 2; k++) {
    const snt_tensor *x = &g->tensors[m->in[k]];
    if (x->dtype == SNT_F32 && snt_same_dims(x, y) && per_channel(&g->tensors[m->in[1 - k]], y)) return k;
  }
  return -1;
}

/* The only reader of tensor t when it is a node of op `op` (and t is no graph output); else -1. */
static int sole_reader(const snt_graph *g, int t, const snt_op *op) {
  int first;
  if (snt_readers(g, t, &first) != 1 || snt_ir_is_output(g, t) || g->nodes[first].op != op) return -1;
  return first;
}

/* An Add (or 2-input Sum) of t and a tensor of t's shape, t's only reader: that other input. */
static int residual_of(const snt_graph *g, int t, int *add) {
  *add = sole_reader(g, t, &snt_op_add);
  if (*add < 0) *add = sole_reader(g, t, &snt_op_sum);
  if (*add < 0) return -1;
  const snt_node *a = &g->nodes[*add];
  if (a->n_in != 2 || a->n_out != 1 || a->in[0] == a->in[1]) return *add = -1;
  int r = a->in[0] == t ? a->in[1] : a->in[0];
  const snt_tensor *y = &g->tensors[a->out[0]];
  if (r < 0 || !snt_same_dims(&g->tensors[r], &g->tensors[t]) || g->tensors[r].dtype != SNT_F32 || !snt_same_dims(y, &g->tensors[t]))
    return *add = -1;
  return r;
}

/* Rewrites the last node of the chain (the Relu, the Add or the Mul: the residual may be made
 * after the Mul, never after the Add) as the channel_scale; the others die. */
static snt_status fuse_one(snt_graph *g, int i, int k, bool *dead, int *changed) {
  int x = g->nodes[i].in[k], s = g->nodes[i].in[1 - k], out = g->nodes[i].out[0], add, host = i;
  int r = residual_of(g, out, &add);
  if (add >= 0) host = add, out = g->nodes[add].out[0];
  int relu = sole_reader(g, out, &snt_op_relu);
  if (relu >= 0 && g->nodes[relu].n_out == 1) host = relu;
  else relu = -1;
  snt_node *h = &g->nodes[host];
  if (!SNT_GROW(h->in, 3, h->cap_in)) return SNT_ERR_NOMEM;
  snt_status st = snt_node_set_int(h, "relu", relu >= 0);
  if (st) return st;
  h->in[0] = x, h->in[1] = s, h->in[2] = r;
  h->n_in = h->n_act_in = 3;
  h->op = &snt_op_channel_scale;
  if (host != i) dead[i] = true;
  if (add >= 0 && host != add) dead[add] = true;
  (*changed)++;
  return SNT_OK;
}

snt_status snt_pass_fuse_channel_scale(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    int k = dead[i] ? -1 : scaled_operand(g, &g->nodes[i]);
    if (k >= 0) st = fuse_one(g, i, k, dead, changed);
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
