/* A MatMul of a float32 tensor's rows (all dims but the last) by a [K, N] weight, whose
 * output only an Add of an N-vector weight (broadcast along the last axis) reads, is one GEMM with
 * that bias in its store: a Linear layer of a transformer-style MLP (ConvNeXt's) as PyTorch
 * exports it, MatMul then Add, instead of a second pass over the product. The Add becomes
 * matmul(a, b, bias) with `fused` set; snt_pass_fuse_activation may then give it a GELU, ReLU,
 * sigmoid or tanh. */
#include <stdlib.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

extern const snt_op snt_op_matmul;

/* A parameter or constant: the same for every sample (its values may come from --weights). */
static bool weight(const snt_graph *g, int t) {
  return t >= 0 && (g->tensors[t].kind == SNT_T_PARAM || g->tensors[t].kind == SNT_T_CONST);
}

/* A MatMul node producing t that may take a bias: float32 rows of A, a rank-2 weight B, two inputs. */
static int plain_matmul(const snt_graph *g, const bool *dead, int t) {
  int p = snt_producer_of(g, dead, t, &snt_op_matmul);
  if (p < 0 || snt_sole_reader(g, t) < 0) return -1;
  const snt_node *n = &g->nodes[p];
  const snt_tensor *a = &g->tensors[n->in[0]], *b = n->in[1] >= 0 ? &g->tensors[n->in[1]] : NULL;
  if (n->n_in != 2 || snt_node_int(n, "fused", 0) || !b || !weight(g, n->in[1])) return -1;
  return a->dtype == SNT_F32 && b->dtype == SNT_F32 && a->rank >= 2 && b->rank == 2 ? p : -1;
}

/* A float32 weight t of n values along the last axis of a rank-r result: dims (..., 1, n). */
static bool bias_vector(const snt_graph *g, int t, int64_t n, int r) {
  const snt_tensor *c = &g->tensors[t];
  if (!weight(g, t) || c->dtype != SNT_F32 || c->rank < 1 || c->rank > r || c->dims[c->rank - 1] != n) return false;
  for (int i = 0; i < c->rank - 1; i++)
    if (c->dims[i] != 1) return false;
  return true;
}

snt_status snt_pass_fuse_matmul_bias(snt_graph *g, snt_diag *d, int *changed) {
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    snt_node *ad = &g->nodes[i];
    if (dead[i] || ad->op != &snt_op_add || ad->n_in != 2 || ad->n_out != 1) continue;
    for (int side = 0; side < 2; side++) {
      int mm = plain_matmul(g, dead, ad->in[side]);
      if (mm < 0) continue;
      const snt_tensor *p = &g->tensors[g->nodes[mm].out[0]], *y = &g->tensors[ad->out[0]];
      if (!bias_vector(g, ad->in[1 - side], p->dims[p->rank - 1], p->rank) || !snt_same_dims(p, y)) continue;
      int bias = ad->in[1 - side];
      snt_clear_attrs(ad);
      ad->op = &snt_op_matmul;
      ad->in[0] = g->nodes[mm].in[0], ad->in[1] = g->nodes[mm].in[1];
      if ((st = snt_ir_node_add_input(g, i, bias))) break;
      ad = &g->nodes[i];
      ad->n_act_in = 1; /* A; the weight and the bias are parameters */
      if ((st = snt_node_set_int(ad, "fused", 1)) || (st = snt_op_matmul.infer(g, i, d))) break;
      dead[mm] = true;
      (*changed)++;
      break;
    }
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
