/* transpose: permutes the axes (ONNX default: reversed). */
#include "compiler/autodiff.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{"perm", SNT_ARG_INTS, "[]", NULL}, {0}};

static void get_perm(const snt_node *n, int rank, int *perm) {
  int c = 0;
  const int64_t *p = snt_node_ints(n, "perm", &c);
  for (int i = 0; i < rank; i++) perm[i] = p && c == rank ? (int)p[i] : rank - 1 - i;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int c = 0, perm[SNT_MAX_RANK];
  if (snt_node_ints(n, "perm", &c) && c > 0 && c != x->rank)
    return snt_node_error(g, n, d, "perm has %d entries for a rank-%d input", c, x->rank);
  get_perm(n, x->rank, perm);
  bool seen[SNT_MAX_RANK] = {0};
  int64_t dims[SNT_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    if (perm[i] < 0 || perm[i] >= x->rank || seen[perm[i]]) return snt_node_error(g, n, d, "perm is not a permutation of the axes");
    seen[perm[i]] = true;
    dims[i] = x->dims[perm[i]];
  }
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int perm[SNT_MAX_RANK];
  int64_t p64[SNT_MAX_RANK];
  get_perm(n, x->rank, perm);
  for (int i = 0; i < x->rank; i++) p64[i] = perm[i];
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s int64_t dims[] = %s;", snt_emit_const(e, n->in[0]), snt_emit_dims_rows(e, n->in[0]));
  snt_emit_line(e, "static const int perm[] = %s;", snt_emit_ints(e, p64, x->rank));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_transpose(%zu, %d, dims, perm, %s, %s))) return snt_k_st_;", snt_dtype_size(x->dtype),
                x->rank, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* A constant input (shape arithmetic: PyTorch's LocalResponseNorm builds its pads so) folds
 * through the kernel the generated code calls. */
static snt_status fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  int perm[SNT_MAX_RANK];
  get_perm(n, x->rank, perm);
  return snt_k_transpose(snt_dtype_size(x->dtype), x->rank, x->dims, perm, x->data, y) == SNT_OK ? SNT_OK : SNT_ERR_INPUT;
}

/* The batch axis stays first. */
static bool rows(const snt_graph *g, const snt_node *n, const bool *r) {
  int perm[SNT_MAX_RANK];
  get_perm(n, g->tensors[n->in[0]].rank, perm);
  return perm[0] == 0 && snt_rows_first(g, n, r);
}

/* ONNX attribute ranges (compiler/onnx/validate.c); perm is also checked against the rank. */
static const snt_attr_range ranges[] = {{"perm", 0, SNT_MAX_RANK - 1}, {0}};

/* Keras's channels-last Flatten exports as this Transpose before a Flatten: the DSL reads the
 * NCHW input, and the flatten (flatten.c) is written with order = hwc (when only Flattens read
 * it). Other permutations
 * that keep the batch first are the DSL's transpose (full-rank perm). */
static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  const snt_tensor *x = &w->g->tensors[n->in[0]];
  int c = 0;
  const int64_t *perm = snt_node_ints(n, "perm", &c);
  if (!perm || c != x->rank || perm[0] != 0) return snt_dsl_unsupported(w, n, "it moves the batch axis");
  bool to_flatten = !snt_dsl_used_but_by(w->g, n->out[0], &snt_op_flatten);
  if (x->rank != 4 || perm[1] != 2 || perm[2] != 3 || perm[3] != 1 || !to_flatten) {
    fprintf(w->out, "  %s = transpose(%s, ", snt_dsl_ident(w, n->out[0]), snt_dsl_ident(w, n->in[0]));
    snt_dsl_ints(w->out, perm, c);
    fprintf(w->out, ", name = %s)\n", snt_dsl_lit(w, n->name));
    return SNT_OK;
  }
  w->alias[n->out[0]] = n->in[0];
  w->hwc[n->out[0]] = true;
  return SNT_OK;
}

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  int perm[SNT_MAX_RANK], rank = g->tensors[n->in[0]].rank;
  int64_t p[SNT_MAX_RANK];
  get_perm(n, rank, perm);
  for (int i = 0; i < rank; i++) p[i] = perm[i];
  const char *in = snt_ox_name(x, n->in[0]);
  int k = snt_ox_node(x, "Transpose", n->name, 1, &in, snt_ox_name(x, n->out[0]));
  snt_ox_attr_ints(x, k, "perm", rank, p);
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

extern const snt_op snt_op_transpose;

/* The gradient goes back through the inverse permutation: a transpose node whose perm undoes
 * the forward one. */
static snt_status grad(snt_ad *ad, int node) {
  const snt_node *n = &ad->g->nodes[node];
  int x = n->in[0], rank = ad->g->tensors[x].rank, perm[SNT_MAX_RANK];
  int64_t inv[SNT_MAX_RANK];
  get_perm(n, rank, perm);
  for (int i = 0; i < rank; i++) inv[perm[i]] = i;
  int dy = snt_ad_grad(ad, n->out[0]);
  int b = snt_ad_node(ad, &snt_op_transpose, node, "grad", 1, &dy); /* n moves when the node table grows */
  if (b < 0 || snt_node_set_ints(&ad->g->nodes[b], "perm", rank, inv)) return SNT_ERR_NOMEM;
  int dx = snt_ad_output_like(ad, b, x, "dx");
  return dx < 0 ? SNT_ERR_NOMEM : snt_ad_accumulate(ad, x, dx);
}

const snt_op snt_op_transpose = {
    .name = "transpose", .type_name = "Permute", .default_layer = "permute",
    .doc = "permutes the axes: transpose(x, perm)", .min_inputs = 1, .max_inputs = 1, .args = args,
    .infer = infer, .onnx_type = "Transpose", .onnx_upto = 21, .emit = emit, .fold = fold, .to_dsl = to_dsl, .batch_rows = rows,
    .grad = grad,
    .onnx_arity = {1, 1, 1, 1}, .onnx_ranges = ranges, .types = {.t = SNT_TY_ALL, .note = SNT_NOTE_MOVE},
    .onnx_export = onnx_export};
