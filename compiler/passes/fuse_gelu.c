/* Exporters before ONNX's Gelu (opset 20) write GELU as its formula, five elementwise nodes:
 *
 *   PyTorch:     y = (x * (Erf(x / 1.41421354) + 1)) * 0.5
 *   tf2onnx:     y = (x * 0.5) * (1 + Erf(x * 0.707106769))
 *
 * Each node is a pass over the tensor and Erf the costliest of them (ConvNeXt's MLP: five passes
 * over a tensor four times the block's width). The Erf is found first; its argument must be
 * x / sqrt 2 (a Div by sqrt 2 or a Mul by 1 / sqrt 2, within float rounding), the Erf read by an
 * Add of 1 alone, and that sum, x and 0.5 multiplied in any order by two Muls, every
 * intermediate read once and shaped as x. The last Mul becomes gelu(x). */
#include <math.h>
#include <stdlib.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

extern const snt_op snt_op_erf, snt_op_gelu;

typedef struct gelu_chain {
  int x;                  /* the tensor GELU is of */
  int scale, erf, plus;   /* x / sqrt 2, its Erf, the Add of 1 */
  int mul_a, mul_b;       /* the two Muls; mul_b makes y */
} gelu_chain;

/* Whether fixed scalar t is within float rounding of want. */
static bool near(const snt_graph *g, int t, double want) {
  double v;
  return snt_fixed_scalar(g, t, &v) && fabs(v - want) <= 1e-6 * fabs(want);
}

/* The other input of two-input node n, the one that is not t; -1 when n reads t twice. */
static int other_input(const snt_node *n, int t) {
  if (n->n_in != 2 || n->in[0] == n->in[1]) return -1;
  return n->in[0] == t ? n->in[1] : n->in[1] == t ? n->in[0] : -1;
}

static bool is_mul(const snt_graph *g, int node) { return node >= 0 && g->nodes[node].op == &snt_op_mul; }

/* From the Erf node e: its argument x / sqrt 2, then the Add of 1 that alone reads it. */
static bool find_erf_side(const snt_graph *g, int e, gelu_chain *c) {
  const snt_node *n = &g->nodes[e];
  if (n->op != &snt_op_erf || n->n_in != 1 || n->n_out != 1) return false;
  int k = -1, u = n->in[0];
  c->erf = e;
  if ((c->scale = snt_with_constant(g, NULL, u, &snt_op_div, &c->x, &k)) >= 0) {
    if (g->nodes[c->scale].in[0] != c->x || !near(g, k, M_SQRT2)) return false; /* x / c, not c / x */
  } else if ((c->scale = snt_with_constant(g, NULL, u, &snt_op_mul, &c->x, &k)) < 0 || !near(g, k, M_SQRT1_2)) {
    return false;
  }
  if (snt_sole_reader(g, u) != e || (c->plus = snt_sole_reader(g, n->out[0])) < 0 || g->nodes[c->plus].op != &snt_op_add) return false;
  int one = other_input(&g->nodes[c->plus], n->out[0]);
  return one >= 0 && near(g, one, 1.0);
}

/* The Muls of x, 1 + erf and 0.5: (x * s) * 0.5, x * (s * 0.5) or (x * 0.5) * s, any operand order. */
static bool find_muls(const snt_graph *g, gelu_chain *c) {
  int s = g->nodes[c->plus].out[0], a = snt_sole_reader(g, s);
  if (!is_mul(g, a)) return false;
  int other = other_input(&g->nodes[a], s);
  if (other < 0) return false;
  if (other != c->x && !near(g, other, 0.5)) { /* (x * 0.5) * s: other is x * 0.5, read by a alone */
    int h = g->tensors[other].producer, k = -1, v = -1;
    c->mul_a = h, c->mul_b = a;
    return is_mul(g, h) && snt_sole_reader(g, other) == a && snt_with_constant(g, NULL, other, &snt_op_mul, &v, &k) == h &&
           v == c->x && near(g, k, 0.5);
  }
  int b = snt_sole_reader(g, g->nodes[a].out[0]);
  if (!is_mul(g, b)) return false;
  int last = other_input(&g->nodes[b], g->nodes[a].out[0]);
  c->mul_a = a, c->mul_b = b;
  return other == c->x ? last >= 0 && near(g, last, 0.5) /* (x * s) * 0.5 */
                       : last == c->x;                  /* x * (s * 0.5) */
}

/* Whether chain c is exactly GELU on x's shape: FLOAT or DOUBLE, no broadcasting. */
static bool shapes_ok(const snt_graph *g, const gelu_chain *c) {
  const snt_tensor *x = &g->tensors[c->x];
  if (x->dtype != SNT_F32 && x->dtype != SNT_F64) return false;
  int nodes[] = {c->scale, c->erf, c->plus, c->mul_a, c->mul_b};
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
    const snt_tensor *y = &g->tensors[g->nodes[nodes[i]].out[0]];
    if (!snt_same_dims(y, x) || y->dtype != x->dtype) return false;
  }
  return true;
}

/* Node c->mul_b becomes gelu(x); the others die. */
static snt_status fuse(snt_graph *g, const gelu_chain *c, bool *dead, snt_diag *d) {
  snt_node *n = &g->nodes[c->mul_b];
  n->op = &snt_op_gelu;
  n->in[0] = c->x;
  n->n_in = n->n_act_in = 1;
  snt_status st = snt_node_set_string(n, "approximate", "none");
  if (st) return st;
  dead[c->scale] = dead[c->erf] = dead[c->plus] = dead[c->mul_a] = true;
  return snt_op_gelu.infer(g, c->mul_b, d);
}

snt_status snt_pass_fuse_gelu(snt_graph *g, snt_diag *d, int *changed) {
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    gelu_chain c;
    if (dead[i] || !find_erf_side(g, i, &c) || !find_muls(g, &c) || !shapes_ok(g, &c)) continue;
    if (dead[c.scale] || dead[c.plus] || dead[c.mul_a] || dead[c.mul_b]) continue;
    if ((st = fuse(g, &c, dead, d))) break;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
