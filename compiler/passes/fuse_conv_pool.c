/* A 2-D conv2d read only by a 2x2 stride-2 max pool without padding (Keras's MaxPooling2D(2)
 * after a convolution: every block of SimpleCNN and DeepCNN) writes the pool as its second
 * output: snt_k_conv_pool2 pools each pair of output rows while it is in cache, where the pool
 * would read the whole map back from memory. The full map keeps its tensor (and arena space)
 * for the paths that cannot pool as they go. Runs with the last passes, after the taps. */
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"
#include "support/util.h"

/* Whether node p is a max pool the conv can do: 2-D, 2x2, stride 2, no padding or dilation,
 * floor sizes, no Indices output. */
static bool pool2(const snt_graph *g, const snt_node *p) {
  if (p->op != &snt_op_maxpool || p->n_out != 1 || p->n_in < 1) return false;
  const snt_tensor *x = &g->tensors[p->in[0]], *y = &g->tensors[p->out[0]];
  if (x->rank != 4 || x->dtype != SNT_F32 || y->rank != 4) return false;
  int ck = 0, cs = 0, cd = 0, cp = 0;
  const int64_t *k = snt_node_ints(p, "pool", &ck), *s = snt_node_ints(p, "stride", &cs);
  const int64_t *dl = snt_node_ints(p, "dilation", &cd), *pads = snt_node_ints(p, "resolved_pads", &cp);
  if (!k || !s || (ck != 1 && ck != 2) || cs != 2 || !pads || cp != 4) return false;
  for (int i = 0; i < 2; i++) {
    if (k[ck == 1 ? 0 : i] != 2 || s[i] != 2 || (dl && cd == 2 && dl[i] != 1)) return false;
    if (y->dims[2 + i] != x->dims[2 + i] / 2 || x->dims[2 + i] < 2) return false;
  }
  return !pads[0] && !pads[1] && !pads[2] && !pads[3];
}

/* The conv2d whose output pool p reads, when it can take the pool; else -1. */
static int poolable(const snt_graph *g, const snt_node *p) {
  if (!pool2(g, p)) return -1;
  int x = p->in[0], c = g->tensors[x].producer, first;
  if (c < 0 || snt_readers(g, x, &first) != 1 || snt_ir_is_output(g, x)) return -1;
  const snt_node *conv = &g->nodes[c];
  if (conv->op != &snt_op_conv2d || conv->n_out != 1 || conv->out[0] != x || snt_node_int(conv, "tap", 0) ||
      snt_node_int(conv, "pool2", 0))
    return -1;
  if (conv->n_in > 3 && conv->in[3] >= 0) return -1; /* a residual: the direct path has none */
  if (conv->n_in < 2 || g->tensors[conv->in[1]].rank != 4) return -1;
  /* Softmax as a conv's activation runs after the kernel, over the full map. */
  if (strcmp(snt_node_string(conv, "activation", "none"), "softmax") == 0) return -1;
  return c;
}

snt_status snt_pass_fuse_conv_pool(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int p = 0; p < g->n_nodes && !st; p++) {
    int c = poolable(g, &g->nodes[p]);
    if (c < 0) continue;
    snt_node *conv = &g->nodes[c];
    int y = g->nodes[p].out[0];
    if ((st = snt_node_set_int(conv, "pool2", 1)) != SNT_OK) break;
    if (!SNT_GROW(conv->out, conv->n_out + 1, conv->cap_out)) {
      st = SNT_ERR_NOMEM;
      break;
    }
    conv->out[conv->n_out++] = y;
    g->tensors[y].producer = c;
    dead[p] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
