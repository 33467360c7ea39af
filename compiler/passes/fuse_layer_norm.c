/* Exporters before ONNX's LayerNormalization (opset 17) write it as its formula (PyTorch's
 * nn.LayerNorm at opset 13):
 *
 *   d = x - ReduceMean(x); v = ReduceMean(d ** 2); y = d / Sqrt(v + eps) * gamma + beta
 *
 * nine nodes, most of them a pass over x. Found from the Div: both ReduceMeans over the same
 * trailing axes with keepdims, the Pow's exponent 2, eps, gamma and beta fixed, gamma and beta
 * shaped as the normalised axes (or broadcasting to them), every intermediate read only inside
 * the chain (d twice), no graph output among them. The Div, or the Add of beta when there is
 * one, becomes layer_norm(x, gamma, beta) with axis = the first reduced axis. */
#include <stdlib.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

extern const snt_op snt_op_reduce_mean, snt_op_sqrt, snt_op_layer_norm;

typedef struct ln_chain {
  int x, d;                                 /* the input, x - mean */
  int mean, sub, pw, var, add_eps, sq, div; /* node indices */
  int mul, add;                             /* gamma's Mul and beta's Add, or -1 */
  int gamma, beta;                          /* their fixed tensors, or -1 */
  double eps;
  int axis;
} ln_chain;

/* A keepdims ReduceMean over trailing axes [axis, rank) of its input: that axis, else -1. */
static int trailing_mean(const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const snt_tensor *x = &g->tensors[n->in[0]];
  uint32_t mask = (uint32_t)snt_node_int(n, "axes_mask", 0);
  if (!snt_node_int(n, "keepdims", 1) || !mask || x->rank < 1 || x->rank > 31) return -1;
  int axis = __builtin_ctz(mask);
  return mask == ((1u << x->rank) - 1) - ((1u << axis) - 1) ? axis : -1;
}

/* From the Div dv: d / Sqrt(ReduceMean(Pow(d, 2)) + eps), d = x - ReduceMean(x). */
static bool find_core(const snt_graph *g, int dv, ln_chain *c) {
  *c = (ln_chain){.div = dv, .mul = -1, .add = -1, .gamma = -1, .beta = -1};
  const snt_node *n = &g->nodes[dv];
  if (n->op != &snt_op_div || n->n_in != 2 || n->n_out != 1 || n->in[0] < 0 || n->in[1] < 0) return false;
  int k = -1, t = -1;
  c->d = n->in[0];
  if ((c->sq = snt_producer_of(g, NULL, n->in[1], &snt_op_sqrt)) < 0 ||
      (c->add_eps = snt_with_constant(g, NULL, g->nodes[c->sq].in[0], &snt_op_add, &t, &k)) < 0 ||
      !snt_fixed_scalar(g, k, &c->eps) || (c->var = snt_producer_of(g, NULL, t, &snt_op_reduce_mean)) < 0 ||
      (c->pw = snt_producer_of(g, NULL, g->nodes[c->var].in[0], &snt_op_pow)) < 0)
    return false;
  double two;
  const snt_node *pw = &g->nodes[c->pw];
  if (pw->n_in != 2 || pw->in[0] != c->d || !snt_fixed_scalar(g, pw->in[1], &two) || two != 2.0) return false;
  if ((c->sub = snt_producer_of(g, NULL, c->d, &snt_op_sub)) < 0 || g->nodes[c->sub].n_in != 2) return false;
  c->x = g->nodes[c->sub].in[0];
  c->mean = snt_producer_of(g, NULL, g->nodes[c->sub].in[1], &snt_op_reduce_mean);
  if (c->mean < 0 || g->nodes[c->mean].in[0] != c->x || c->eps < 0) return false;
  c->axis = trailing_mean(g, c->mean);
  return c->axis >= 0 && trailing_mean(g, c->var) == c->axis;
}

/* The Mul by gamma and the Add of beta that may follow the Div (each alone reading the one before). */
static void find_affine(const snt_graph *g, ln_chain *c) {
  int y = g->nodes[c->div].out[0];
  for (int step = 0; step < 2; step++) { /* the Mul by gamma, then the Add of beta */
    int r = snt_sole_reader(g, y);
    const snt_node *m = r >= 0 ? &g->nodes[r] : NULL;
    if (!m || m->op != (step ? &snt_op_add : &snt_op_mul) || m->n_in != 2 || m->n_out != 1 || (m->in[0] != y && m->in[1] != y))
      return;
    int other = m->in[0] == y ? m->in[1] : m->in[0];
    if (!snt_fixed(g, other)) return;
    if (step) c->add = r, c->beta = other;
    else c->mul = r, c->gamma = other; /* beta only after gamma: layer_norm's inputs are positional */
    y = m->out[0];
  }
}

/* p (FLOAT, as x) broadcasts to the normalised axes alone: rank at most theirs, each dim 1 or theirs. */
static bool affine_ok(const snt_graph *g, const ln_chain *c, int p) {
  const snt_tensor *x = &g->tensors[c->x], *t = &g->tensors[p];
  if (t->dtype != x->dtype || t->rank > x->rank - c->axis) return false;
  for (int k = 0; k < t->rank; k++) {
    int64_t pd = t->dims[t->rank - 1 - k], xd = x->dims[x->rank - 1 - k];
    if (pd != 1 && pd != xd) return false;
  }
  return true;
}

/* Every intermediate read inside the chain only, all shaped as x or its reduced form. */
static bool chain_ok(const snt_graph *g, const ln_chain *c) {
  const snt_tensor *x = &g->tensors[c->x];
  if (x->dtype != SNT_F32 || c->axis == 0) return false;
  int first, single[] = {c->mean, c->pw, c->var, c->add_eps, c->sq};
  for (size_t i = 0; i < sizeof single / sizeof *single; i++) {
    int t = g->nodes[single[i]].out[0];
    if (snt_readers(g, t, &first) != 1 || snt_ir_is_output(g, t)) return false;
  }
  if (snt_readers(g, c->d, &first) != 2 || snt_ir_is_output(g, c->d)) return false; /* the Pow and the Div */
  if ((c->mul >= 0 && snt_ir_is_output(g, g->nodes[c->div].out[0])) ||
      (c->add >= 0 && snt_ir_is_output(g, g->nodes[c->mul].out[0])))
    return false;
  int same[] = {c->sub, c->pw, c->div, c->mul, c->add};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++)
    if (same[i] >= 0 && !snt_same_dims(&g->tensors[g->nodes[same[i]].out[0]], x)) return false;
  return (c->gamma < 0 || affine_ok(g, c, c->gamma)) && (c->beta < 0 || affine_ok(g, c, c->beta));
}

/* The chain's last node becomes layer_norm(x, gamma, beta); the others die. */
static snt_status fuse(snt_graph *g, const ln_chain *c, bool *dead, snt_diag *d) {
  int last = c->add >= 0 ? c->add : c->mul >= 0 ? c->mul : c->div;
  snt_node *n = &g->nodes[last];
  n->op = &snt_op_layer_norm;
  n->in[0] = c->x;
  n->n_act_in = 1;
  n->n_in = 1;
  snt_status st;
  if ((c->gamma >= 0 && (st = snt_ir_node_add_input(g, last, c->gamma))) || (c->beta >= 0 && (st = snt_ir_node_add_input(g, last, c->beta))))
    return st;
  n = &g->nodes[last];
  if ((st = snt_node_set_int(n, "axis", c->axis)) || (st = snt_node_set_float(n, "epsilon", c->eps))) return st;
  int nodes[] = {c->mean, c->sub, c->pw, c->var, c->add_eps, c->sq, c->div, c->mul, c->add};
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++)
    if (nodes[i] >= 0 && nodes[i] != last) dead[nodes[i]] = true;
  return snt_op_layer_norm.infer(g, last, d);
}

snt_status snt_pass_fuse_layer_norm(snt_graph *g, snt_diag *d, int *changed) {
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    ln_chain c;
    if (dead[i] || !find_core(g, i, &c)) continue;
    find_affine(g, &c);
    if (!chain_ok(g, &c)) continue;
    if ((st = fuse(g, &c, dead, d))) break;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
