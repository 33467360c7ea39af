/* A 1x1 conv2d whose output only a 2-D depthwise conv2d reads (the expansion and depthwise
 * layers of MobileNet-V2 and EfficientNet blocks, and MobileNet-V1's pointwise then next
 * depthwise) becomes one conv_expand_dw node: snt_k_conv_expand_dw makes the 1x1 output in
 * bands of rows that stay in cache, where the two layers apart write the block's largest map
 * and read it back. Only maps of at least MIN_FLOATS per image (below that the map stays in
 * cache anyway, and the small-map paths of the 1x1 conv beat a GEMM per band) from at most
 * MAX_K input channels. Runs with the
 * last passes, after the taps and pools (a conv that writes either is not fused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/ops/conv2d.h"
#include "compiler/passes/passes.h"
#include "support/util.h"

/* MAX_K: the 1x1 conv's input channels at most. Fusing saves the map's write and read back, which
 * only pays while the 1x1 conv is memory-bound (2 x K FLOPs per output float): measured at batch
 * 1, 2 threads (MobileNet-v1 on 384x384, each pair fused against apart): K = 16 (MobileNet-V2's
 * 16 -> 96 on 112x112) 0.94 -> 0.77 ms and K = 32 1.12 -> 0.81 ms gain, K = 64 draws (0.72 vs
 * 0.75 ms), K = 128 to 512 lose 0.08-0.24 ms a pair (the band GEMMs run below the small-map 1x1
 * paths). */
enum { MIN_FLOATS = 262144 /* 1 MB of 1x1 output an image */, MAX_K = 48 };

/* A float32 2-D conv2d with one output, no tap, pool or softmax. */
static bool plain_conv(const snt_graph *g, const snt_node *c) {
  if (c->op != &snt_op_conv2d || c->n_out != 1 || c->n_in < 2 || c->in[0] < 0 || c->in[1] < 0) return false;
  const snt_tensor *x = &g->tensors[c->in[0]], *w = &g->tensors[c->in[1]];
  if (x->rank != 4 || x->dtype != SNT_F32 || w->rank != 4 || g->tensors[c->out[0]].rank != 4) return false;
  if (snt_node_int(c, "tap", 0) || snt_node_int(c, "pool2", 0) || snt_node_int(c, "maxpool", 0)) return false;
  return strcmp(snt_node_string(c, "activation", "none"), "softmax") != 0;
}

static bool all_equal(const int64_t *v, int n, int64_t want) {
  for (int i = 0; v && i < n; i++)
    if (v[i] != want) return false;
  return true;
}

/* A 1x1, stride-1, unpadded conv of one group without a residual. */
static bool pointwise(const snt_graph *g, const snt_node *p) {
  if (!plain_conv(g, p) || snt_node_int(p, "groups", 1) != 1) return false;
  if (snt_node_int(p, "residual", 0) && p->n_in > 3 && p->in[3] >= 0) return false;
  int ck = 0, cs = 0, cp = 0;
  const int64_t *k = snt_node_ints(p, "kernel", &ck), *s = snt_node_ints(p, "stride", &cs);
  const int64_t *pads = snt_node_ints(p, "resolved_pads", &cp);
  return k && (ck == 1 || ck == 2) && all_equal(k, ck, 1) && all_equal(s, cs, 1) && pads && cp == 4 &&
         all_equal(pads, 4, 0);
}

/* The 1x1 conv node that depthwise conv n alone reads, when the pair fuses; else -1. */
static int fusable(const snt_graph *g, const snt_node *n) {
  if (!plain_conv(g, n)) return -1;
  const snt_tensor *x = &g->tensors[n->in[0]];
  int64_t groups = snt_node_int(n, "groups", 1);
  if (groups < 2 || groups != x->dims[1] || g->tensors[n->in[1]].dims[1] != 1) return -1;
  int t = n->in[0], p = x->producer, first;
  if (p < 0 || snt_readers(g, t, &first) != 1 || snt_ir_is_output(g, t) || !pointwise(g, &g->nodes[p])) return -1;
  if (x->dims[1] * x->dims[2] * x->dims[3] < MIN_FLOATS) return -1;
  if (g->tensors[g->nodes[p].in[1]].dims[1] > MAX_K) return -1;
  return p;
}

/* Copies the 1x1 conv's activation attributes onto n under "pw_" names. */
static snt_status copy_activation(const snt_node *p, snt_node *n) {
  snt_status st = snt_node_set_string(n, "pw_activation", snt_node_string(p, "activation", "none"));
  for (int i = 1; i < SNT_CONV2D_ACT_ATTRS && !st; i++) {
    char key[48];
    snprintf(key, sizeof key, "pw_%s", snt_conv2d_act_attrs[i]);
    if (snt_node_attr(p, snt_conv2d_act_attrs[i])) st = snt_node_set_float(n, key, snt_node_float(p, snt_conv2d_act_attrs[i], 0));
  }
  return st;
}

static int input_or_none(const snt_node *n, int i) { return i < n->n_in ? n->in[i] : -1; }

/* n's inputs become x, its kernel, bias, residual, then p's kernel and bias (conv_expand_dw.c). */
static snt_status rewrite(snt_graph *g, int node, int p) {
  snt_node *n = &g->nodes[node];
  const snt_node *pw = &g->nodes[p];
  int ins[6] = {pw->in[0], n->in[1], input_or_none(n, 2),
                snt_node_int(n, "residual", 0) ? input_or_none(n, 3) : -1, pw->in[1], input_or_none(pw, 2)};
  snt_status st = copy_activation(pw, n);
  if (st) return st;
  if (!SNT_GROW(n->in, 6, n->cap_in)) return SNT_ERR_NOMEM;
  for (int k = 4; k < 6; k++) /* the 1x1 layer's parameters now belong to this node */
    if (ins[k] >= 0 && g->tensors[ins[k]].owner == p) g->tensors[ins[k]].owner = node;
  memcpy(n->in, ins, sizeof ins);
  n->n_in = 6;
  n->n_act_in = 1;
  n->op = &snt_op_conv_expand_dw;
  return SNT_OK;
}

snt_status snt_pass_fuse_expand_dw(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    int p = fusable(g, &g->nodes[i]);
    if (p < 0 || dead[p]) continue;
    if ((st = rewrite(g, i, p)) != SNT_OK) break;
    dead[p] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
