/* PyTorch (1.13) exports nn.LocalResponseNorm as the decomposition of
 * torch.nn.functional.local_response_norm, a dozen nodes where ONNX has LRN:
 *
 *   s = x * x; v = Reshape(Unsqueeze(s, 1), [N, 1, C, H, W])
 *   a = AveragePool(Pad(v, channels size/2 before, (size-1)/2 after), (size, 1, 1), stride 1)
 *   y = x / (Reshape(Squeeze(a, 1), [N, C, H, W]) * alpha + k) ** beta
 *
 * (the Squeeze is the branch of an If on the input's rank: the importer keeps the branch the
 * constant condition selects, then an Identity for the If's output). The pool's mean already
 * divides by size, so this is ONNX's LRN with the same alpha, bias k and beta: one lrn node
 * instead of a dozen and their five tensors the size of x, and an .nn that `sinter import` can
 * write. Only the exact form fuses: zero padding of the channel axis alone, counted in the mean,
 * window (size, 1, ...) at stride 1, scalar constants, intermediates no other node reads, and
 * shapes (static after import) that map [N, C, ...] to [N, 1, C, ...] and back. An even size
 * pads (size/2, size/2 - 1), a window one channel lower than ONNX's [c - (size-1)/2, c + size/2]:
 * it stays the decomposition (and sinter import names it). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/ops/window.h"
#include "compiler/passes/passes.h"

enum { MAX_VIEWS = 8, MAX_PADS = 4, MAX_CHAIN = 8 + 2 * MAX_VIEWS + MAX_PADS };

/* The nodes of one decomposition, found from its Div, and the LRN they make. */
typedef struct lrn_chain {
  int x;                                   /* the tensor normalised: squared, then divided */
  int div, pw, add, scale, pool, square;   /* node indices */
  int alpha_t, bias_t, beta_t;             /* the constants of the Mul, Add and Pow */
  int views[2 * MAX_VIEWS], n_views;       /* Unsqueeze/Reshape before the pads, Squeeze/Identity/Reshape after the pool */
  int pads[MAX_PADS], n_pads;              /* nearest the pool first */
  int mean;                                /* the pool's output back in x's shape, which the Mul scales */
  int v5;                                  /* the [N, 1, C, ...] tensor the pads read */
  int64_t size;
  double alpha, beta, bias;
} lrn_chain;

/* Steps back over the ops that keep the elements' order (reshape, squeeze, unsqueeze,
 * identity), recording them in c; returns the tensor before them. */
static int skip_views(const snt_graph *g, const bool *dead, int t, lrn_chain *c) {
  const snt_op *views[] = {&snt_op_reshape, &snt_op_squeeze, &snt_op_unsqueeze, &snt_op_identity};
  for (;;) {
    int p = -1;
    for (size_t k = 0; k < sizeof views / sizeof *views && p < 0; k++) p = snt_producer_of(g, dead, t, views[k]);
    if (p < 0 || c->n_views == 2 * MAX_VIEWS) return t;
    c->views[c->n_views++] = p;
    t = g->nodes[p].in[0];
  }
}

/* Whether Div node dv ends the ops of local_response_norm (Div, Pow, Add, Mul, views, AveragePool,
 * Pads, views, x * x, the x squared being the x divided); fills c. Values are checked apart. */
static bool find_chain(const snt_graph *g, const bool *dead, int dv, lrn_chain *c) {
  *c = (lrn_chain){.div = dv};
  const snt_node *n = &g->nodes[dv];
  if (dead[dv] || n->op != &snt_op_div || n->n_in != 2 || n->n_out != 1 || n->in[0] < 0) return false;
  c->x = n->in[0];
  int t = -1;
  c->pw = snt_producer_of(g, dead, n->in[1], &snt_op_pow);
  if (c->pw < 0 || g->nodes[c->pw].n_in != 2 || !snt_fixed(g, g->nodes[c->pw].in[1])) return false;
  c->beta_t = g->nodes[c->pw].in[1];
  if ((c->add = snt_with_constant(g, dead, g->nodes[c->pw].in[0], &snt_op_add, &t, &c->bias_t)) < 0 ||
      (c->scale = snt_with_constant(g, dead, t, &snt_op_mul, &t, &c->alpha_t)) < 0)
    return false;
  c->mean = t;
  if ((c->pool = snt_producer_of(g, dead, skip_views(g, dead, t, c), &snt_op_avgpool)) < 0) return false;
  t = g->nodes[c->pool].in[0];
  for (int p; c->n_pads < MAX_PADS && (p = snt_producer_of(g, dead, t, &snt_op_pad)) >= 0; t = g->nodes[p].in[0]) c->pads[c->n_pads++] = p;
  c->v5 = t;
  c->square = snt_producer_of(g, dead, skip_views(g, dead, t, c), &snt_op_mul);
  return c->square >= 0 && g->nodes[c->square].n_in == 2 && g->nodes[c->square].in[0] == c->x &&
         g->nodes[c->square].in[1] == c->x;
}

/* Every node of c but the Div, which becomes the lrn. */
static int chain_nodes(const lrn_chain *c, int *nodes) {
  int n = 0;
  int ops[] = {c->pw, c->add, c->scale, c->pool, c->square};
  for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) nodes[n++] = ops[k];
  for (int k = 0; k < c->n_views; k++) nodes[n++] = c->views[k];
  for (int k = 0; k < c->n_pads; k++) nodes[n++] = c->pads[k];
  return n;
}

/* Whether v is x's elements in the shape [N, 1, C, rest...] (rest: x's other dims, merged or not):
 * a reshape or squeeze keeps the elements' order, so only the shapes need checking. */
static bool channel_view(const snt_tensor *v, const snt_tensor *x) {
  if (v->rank < 4 || v->rank > 2 + SNT_MAX_SPATIAL || v->dims[0] != x->dims[0] || v->dims[1] != 1 || v->dims[2] != x->dims[1])
    return false;
  int64_t a = 1, b = 1;
  for (int i = 3; i < v->rank; i++) a *= v->dims[i];
  for (int i = 2; i < x->rank; i++) b *= x->dims[i];
  return a == b;
}

/* The one value of constant t of type dt (FLOAT or DOUBLE), into *v; false for any other. */
static bool scalar(const snt_graph *g, int t, snt_dtype dt, double *v) {
  return (dt == SNT_F32 || dt == SNT_F64) && g->tensors[t].dtype == dt && snt_fixed_scalar(g, t, v);
}

/* A Pad that adds zeros on axis 2 of its rank-r input alone (any number of them): its begin and
 * end there; false for any other pad. */
static bool channel_zero_pad(const snt_graph *g, const snt_node *pad, int r, int64_t *begin, int64_t *end) {
  int cnt = 0;
  const int64_t *p = snt_node_ints(pad, "pads_nd", &cnt);
  if (!p || cnt != 2 * r || strcmp(snt_node_string(pad, "mode", "constant"), "constant") != 0) return false;
  double value = snt_node_float(pad, "value", 0);
  if (pad->n_in > 2 && pad->in[2] >= 0 && (!snt_fixed(g, pad->in[2]) || !scalar(g, pad->in[2], g->tensors[pad->in[2]].dtype, &value)))
    return false;
  if (value != 0) return false;
  for (int i = 0; i < 2 * r; i++)
    if (p[i] < 0 || (p[i] && i != 2 && i != r + 2)) return false;
  *begin = p[2], *end = p[r + 2];
  return true;
}

/* The pool's window over its sp spatial dims is (size, 1, ...), stride 1, dilation 1, padding only
 * on the first (the channels) and counted in the mean: size into *size, that padding into b, e. */
static const char *pool_window(const snt_node *pool, int sp, int64_t *size, int64_t *b, int64_t *e) {
  int ck = 0, cs = 0, cd = 0, cp = 0;
  const int64_t *k = snt_node_ints(pool, "pool", &ck), *s = snt_node_ints(pool, "stride", &cs);
  const int64_t *dl = snt_node_ints(pool, "dilation", &cd), *p = snt_node_ints(pool, "resolved_pads", &cp);
  if (!k || (ck != 1 && ck != sp) || !s || cs != sp || !p || cp != 2 * sp || (dl && cd != sp))
    return "the pool's attributes are not resolved";
  *size = k[0];
  for (int i = 0; i < sp; i++)
    if ((i && k[ck == 1 ? 0 : i] != 1) || s[i] != 1 || (dl && dl[i] != 1) || (i && (p[i] || p[sp + i])))
      return "the pool's window is not (size, 1, ...) at stride 1 with padding only on the channels";
  *b = p[0], *e = p[sp];
  if ((*b || *e) && !snt_node_int(pool, "count_include_pad", 0))
    return "the pool pads the channels without counting the padding in the mean (count_include_pad = 0)";
  return NULL;
}

/* A reason formatted into buf. */
static const char *say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *say(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
  return buf;
}

/* Why chain c is not ONNX LRN (into buf), or NULL when it is, with c's size, alpha, beta and bias. */
static const char *check_chain(const snt_graph *g, lrn_chain *c, char *buf, size_t len) {
  const snt_tensor *x = &g->tensors[c->x], *v5 = &g->tensors[c->v5];
  if (x->dtype != SNT_F32 && x->dtype != SNT_F64)
    return say(buf, len, "it computes in %s; lrn is fused for FLOAT and DOUBLE", snt_dtype_name(x->dtype));
  if (x->rank < 3) return say(buf, len, "its input has rank %d, LRN's has 3 or more", x->rank);
  int nodes[MAX_CHAIN], n = chain_nodes(c, nodes), first;
  for (int i = 0; i < n; i++) {
    int t = g->nodes[nodes[i]].out[0];
    if (snt_readers(g, t, &first) != 1 || snt_ir_is_output(g, t))
      return say(buf, len, "the output of node '%s' is read elsewhere too", g->nodes[nodes[i]].name);
  }
  const struct { int t, node; double *v; const char *what; } k[] = {{c->alpha_t, c->scale, &c->alpha, "scale"},
                                                                    {c->bias_t, c->add, &c->bias, "offset"},
                                                                    {c->beta_t, c->pw, &c->beta, "exponent"}};
  for (int i = 0; i < 3; i++)
    if (!scalar(g, k[i].t, x->dtype, k[i].v))
      return say(buf, len, "the %s of node '%s' is not one %s value", k[i].what, g->nodes[k[i].node].name,
                 snt_dtype_name(x->dtype));
  /* No broadcasting anywhere: each elementwise node keeps x's shape. */
  int same[] = {c->square, c->scale, c->add, c->pw, c->div};
  bool shapes = channel_view(v5, x) && snt_same_dims(&g->tensors[g->nodes[c->pool].out[0]], v5) &&
                snt_same_dims(&g->tensors[c->mean], x);
  for (size_t i = 0; i < sizeof same / sizeof *same && shapes; i++) shapes = snt_same_dims(&g->tensors[g->nodes[same[i]].out[0]], x);
  if (!shapes) return "its reshapes do not map (N, C, ...) to (N, 1, C, ...) and back, or a constant broadcasts";
  int64_t begin = 0, end = 0, b, e;
  const char *why = pool_window(&g->nodes[c->pool], v5->rank - 2, &c->size, &begin, &end);
  if (why) return why;
  for (int i = 0; i < c->n_pads; i++) {
    if (!channel_zero_pad(g, &g->nodes[c->pads[i]], v5->rank, &b, &e))
      return say(buf, len, "node '%s' pads more than the channel axis, or not with zeros", g->nodes[c->pads[i]].name);
    begin += b, end += e;
  }
  long long s = (long long)c->size;
  if (begin != c->size / 2 || end != (c->size - 1) / 2)
    return say(buf, len, "the channels are padded (%lld, %lld), not (%lld, %lld) as for a window of %lld", (long long)begin,
               (long long)end, s / 2, (s - 1) / 2, s);
  if (c->size % 2 == 0)
    return say(buf, len, "an even size (%lld): PyTorch sums the channels [c - %lld, c + %lld], ONNX's LRN [c - %lld, c + %lld]",
               s, s / 2, s / 2 - 1, (s - 1) / 2, s / 2);
  return NULL;
}

/* Node c->div becomes lrn(x) with c's attributes; the other nodes of c die. */
static snt_status fuse(snt_graph *g, const lrn_chain *c, bool *dead, snt_diag *d) {
  snt_node *n = &g->nodes[c->div];
  snt_clear_attrs(n);
  n->op = &snt_op_lrn;
  n->in[0] = c->x;
  n->n_in = n->n_act_in = 1;
  snt_status st;
  if ((st = snt_node_set_int(n, "size", c->size)) || (st = snt_node_set_float(n, "alpha", c->alpha)) ||
      (st = snt_node_set_float(n, "beta", c->beta)) || (st = snt_node_set_float(n, "bias", c->bias)))
    return st;
  int nodes[MAX_CHAIN], k = chain_nodes(c, nodes);
  for (int i = 0; i < k; i++) dead[nodes[i]] = true;
  return snt_op_lrn.infer(g, c->div, d);
}

snt_status snt_pass_fuse_lrn(snt_graph *g, snt_diag *d, int *changed) {
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  char why[256];
  for (int i = 0; i < g->n_nodes && !st; i++) {
    lrn_chain c;
    if (!find_chain(g, dead, i, &c) || check_chain(g, &c, why, sizeof why)) continue;
    if ((st = fuse(g, &c, dead, d))) break;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}

const char *snt_lrn_unfused_why(const snt_graph *g, int pad, char *buf, size_t len) {
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  const char *why = NULL;
  for (int i = 0; dead && i < g->n_nodes && !why; i++) {
    lrn_chain c;
    if (!find_chain(g, dead, i, &c)) continue;
    for (int k = 0; k < c.n_pads && !why; k++)
      if (c.pads[k] == pad) why = check_chain(g, &c, buf, len);
  }
  free(dead);
  return why;
}
