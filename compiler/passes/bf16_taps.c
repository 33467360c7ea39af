/* A batchnorm tap (fuse_bn_tap.c) whose every reader is a 1x1, stride-1, unpadded conv of one
 * group, reading it as its image: the tap may then be written rounded to bfloat16 and read so
 * (snt_k_conv_tap.bf16, snt_k_conv_bf16_in) whenever the context runs BF16 (the generated code
 * asks at run time: a model's precision can change after compile). Those readers' BF16 GEMM
 * rounds its image to the same values, so nothing changes but the bytes: half of them for
 * the tap's write and every reader's read (a pre-activation ResNet's BN + ReLU before each
 * block's first 1x1 conv and its shortcut). Marks the conv "tap_bf16" and the readers
 * "x_bf16"; runs after every pass that could fuse a reader into something else. */
#include <stdbool.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/ops/conv2d.h"
#include "compiler/passes/passes.h"

/* Node r reads tensor t only as the image of a float32 1x1, stride-1, unpadded, one-group 2-D conv. */
static bool bf16_reader(const snt_graph *g, const snt_node *r, int t) {
  if (r->op != &snt_op_conv2d || r->n_in < 2 || r->in[0] != t || r->n_out < 1) return false;
  for (int k = 1; k < r->n_in; k++)
    if (r->in[k] == t) return false;
  const snt_tensor *x = &g->tensors[t], *y = &g->tensors[r->out[0]];
  if (x->rank != 4 || x->dtype != SNT_F32 || y->dtype != SNT_F32) return false;
  if (snt_node_int(r, "pool2", 0) || snt_node_int(r, "maxpool", 0)) return false;
  if (strcmp(snt_node_string(r, "activation", "none"), "softmax") == 0) return false;
  snt_k_conv_desc k;
  if (snt_conv2d_desc(g, r, &k) != SNT_OK || k.spatial != 2 || k.groups != 1) return false;
  for (int i = 0; i < 2; i++)
    if (k.kernel[i] != 1 || k.stride[i] != 1 || k.pad_begin[i] != 0 || k.pad_end[i] != 0) return false;
  return true;
}

/* Whether every reader of the tap output t takes it in bfloat16 (and there is one). */
static bool readers_take_bf16(const snt_graph *g, int t) {
  int count = 0;
  if (snt_ir_is_output(g, t)) return false;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] == t) {
        if (!bf16_reader(g, &g->nodes[i], t)) return false;
        count++;
      }
  return count > 0;
}

snt_status snt_pass_bf16_taps(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  for (int c = 0; c < g->n_nodes; c++) {
    snt_node *n = &g->nodes[c];
    if (n->op != &snt_op_conv2d || !snt_node_int(n, "tap", 0) || n->n_out < 2 || snt_node_int(n, "tap_bf16", 0)) continue;
    int t = n->out[1];
    if (g->tensors[t].dtype != SNT_F32 || !readers_take_bf16(g, t)) continue;
    snt_status st = snt_node_set_int(n, "tap_bf16", 1);
    for (int i = 0; i < g->n_nodes && !st; i++)
      for (int k = 0; k < g->nodes[i].n_in && !st; k++)
        if (g->nodes[i].in[k] == t) st = snt_node_set_int(&g->nodes[i], "x_bf16", 1);
    if (st) return st;
    (*changed)++;
  }
  return SNT_OK;
}
