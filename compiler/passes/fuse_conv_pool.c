/* A 2-D conv2d read only by a max pool writes the pool as its second output. A 2x2 stride-2
 * pool without padding (Keras's MaxPooling2D(2) after a convolution: every block of SimpleCNN
 * and DeepCNN) is snt_k_conv_pool2, which pools each pair of output rows while it is in cache;
 * any other 2-D max pool (a stem's 3x3 stride 2, padded or with a folded constant pad) is
 * snt_k_conv_maxpool, which pools bands of output rows: either way the pool does not read the
 * whole map back from memory. The full map keeps its tensor (and arena space) for the paths
 * that cannot pool as they go. Runs with the last passes, after the taps. */
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"
#include "support/util.h"

typedef enum pool_kind { NOT_FUSED, POOL2, MAXPOOL } pool_kind;

/* The pool's geometry per axis (kernel, stride, dilation, pads). */
typedef struct pool_geo {
  int64_t k[2], s[2], dl[2], pads[4];
} pool_geo;

/* Which kernel can take max pool node p: 2-D float32 maps, no Indices output, every window
 * starting inside the map or its leading padding and no wider than the padded map
 * (snt_k_conv_maxpool's conditions); the 2x2 stride-2 floor pool without padding or dilation is
 * POOL2. */
static pool_kind pool_of(const snt_graph *g, const snt_node *p, pool_geo *pg) {
  if (p->op != &snt_op_maxpool || p->n_out != 1 || p->n_in < 1) return NOT_FUSED;
  const snt_tensor *x = &g->tensors[p->in[0]], *y = &g->tensors[p->out[0]];
  if (x->rank != 4 || x->dtype != SNT_F32 || y->rank != 4 || y->dtype != SNT_F32) return NOT_FUSED;
  int ck = 0, cs = 0, cd = 0, cp = 0;
  const int64_t *k = snt_node_ints(p, "pool", &ck), *s = snt_node_ints(p, "stride", &cs);
  const int64_t *dl = snt_node_ints(p, "dilation", &cd), *pads = snt_node_ints(p, "resolved_pads", &cp);
  if (!k || (ck != 1 && ck != 2) || (s && cs != 2) || (dl && cd != 2) || !pads || cp != 4) return NOT_FUSED;
  bool two = !snt_node_int(p, "pad_fill", 0);
  for (int i = 0; i < 2; i++) {
    pg->k[i] = k[ck == 1 ? 0 : i], pg->s[i] = s ? s[i] : 1, pg->dl[i] = dl ? dl[i] : 1;
    pg->pads[i] = pads[i], pg->pads[2 + i] = pads[2 + i];
    int64_t in = x->dims[2 + i], out = y->dims[2 + i];
    if (pg->k[i] < 1 || pg->s[i] < 1 || pg->dl[i] < 1 || pads[i] < 0 || pads[2 + i] < 0 || out < 1) return NOT_FUSED;
    int64_t last, ext, padded;
    if (__builtin_mul_overflow(out - 1, pg->s[i], &last) || last - pads[i] >= in) return NOT_FUSED; /* reads no row */
    if (__builtin_mul_overflow(pg->k[i] - 1, pg->dl[i], &ext) || __builtin_add_overflow(in, pads[i], &padded) ||
        __builtin_add_overflow(padded, pads[2 + i], &padded) || ext >= padded)
      return NOT_FUSED; /* wider than the padded map */
    two = two && pg->k[i] == 2 && pg->s[i] == 2 && pg->dl[i] == 1 && !pads[i] && !pads[2 + i] && in >= 2 &&
          out == in / 2;
  }
  return two ? POOL2 : MAXPOOL;
}

/* The conv2d whose output pool p reads, when it can take the pool; else -1. */
static int poolable(const snt_graph *g, const snt_node *p, pool_kind *kind, pool_geo *pg) {
  if ((*kind = pool_of(g, p, pg)) == NOT_FUSED) return -1;
  int x = p->in[0], c = g->tensors[x].producer, first;
  if (c < 0 || snt_readers(g, x, &first) != 1 || snt_ir_is_output(g, x)) return -1;
  const snt_node *conv = &g->nodes[c];
  if (conv->op != &snt_op_conv2d || conv->n_out != 1 || conv->out[0] != x || snt_node_int(conv, "tap", 0) ||
      snt_node_int(conv, "pool2", 0) || snt_node_int(conv, "maxpool", 0))
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
    pool_kind kind;
    pool_geo pg;
    int c = poolable(g, &g->nodes[p], &kind, &pg);
    if (c < 0) continue;
    snt_node *conv = &g->nodes[c];
    const snt_node *pool = &g->nodes[p];
    int y = pool->out[0];
    if (kind == POOL2) {
      st = snt_node_set_int(conv, "pool2", 1);
    } else if (!(st = snt_node_set_int(conv, "maxpool", 1)) && !(st = snt_node_set_ints(conv, "mp_kernel", 2, pg.k)) &&
               !(st = snt_node_set_ints(conv, "mp_stride", 2, pg.s)) &&
               !(st = snt_node_set_ints(conv, "mp_dilation", 2, pg.dl)) &&
               !(st = snt_node_set_ints(conv, "mp_pads", 4, pg.pads)) &&
               !(st = snt_node_set_int(conv, "mp_fill", snt_node_int(pool, "pad_fill", 0)))) {
      st = snt_node_set_float(conv, "mp_value", snt_node_float(pool, "pad_value", 0));
    }
    if (st != SNT_OK) break;
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
