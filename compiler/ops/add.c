/* add: elementwise sum of two or more tensors of the same shape (residual connections). */
#include "compiler/autodiff.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

static const snt_arg_spec args[] = {{0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  /* ONNX's Add broadcasts; the DSL's add is Keras's, which wants one shape. */
  if (snt_node_int(n, "broadcast", 0)) return snt_infer_broadcast(g, node, d);
  snt_tensor *a = snt_in(g, n, 0);
  for (int i = 1; i < n->n_act_in; i++) {
    snt_tensor *b = snt_in(g, n, i);
    bool same = a->rank == b->rank;
    for (int k = 1; same && k < a->rank; k++) same = a->dims[k] == b->dims[k];
    if (!same) {
      char sa[128], sb[128];
      snt_shape_str(sa, sizeof sa, a, 1);
      snt_shape_str(sb, sizeof sb, b, 1);
      return snt_node_error(g, n, d, "input shapes differ: %s (input 1) vs %s (input %d)", sa, sb, i + 1);
    }
  }
  snt_set_shape(g, node, 0, a->rank, a->dims);
  return SNT_OK;
}

static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  (void)opset, (void)d;
  return snt_node_set_int(&g->nodes[node], "broadcast", 1);
}

static snt_status emit(snt_emit *e, int node) { return snt_emit_fold(e, node, "a + b"); }

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *ins[64];
  if (n->n_in > 64) return SNT_ERR_INTERNAL;
  for (int i = 0; i < n->n_in; i++) ins[i] = snt_ox_name(x, n->in[i]);
  return snt_ox_node(x, n->n_in == 2 ? "Add" : "Sum", n->name, n->n_in, ins, snt_ox_name(x, n->out[0])) < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

/* Training: each input gets dy itself (Keras's add has one shape, so nothing is broadcast). */
static snt_status grad(snt_ad *ad, int node) {
  const snt_node *n = &ad->g->nodes[node];
  if (snt_node_int(n, "broadcast", 0)) return snt_node_error(ad->g, n, ad->d, "cannot be trained yet: broadcasting add has no gradient rule");
  int dy = snt_ad_grad(ad, n->out[0]);
  snt_status st = SNT_OK;
  for (int i = 0; i < ad->g->nodes[node].n_act_in && !st; i++) {
    int x = ad->g->nodes[node].in[i];
    if (snt_ad_needs(ad, x)) st = snt_ad_accumulate(ad, x, dy);
  }
  return st;
}

static snt_status fold(snt_graph *g, const snt_node *n, void *y) { return snt_fold_arith(g, n, y, '+'); }
static snt_status to_dsl(snt_dsl_writer *w, int node) { return snt_dsl_arith(w, node, '+'); }

const snt_op snt_op_add = {
    .name = "add", .type_name = "Add", .default_layer = "add",
    .doc = "elementwise sum of tensors of one shape: add(a, b, ...) or a + b",
    .min_inputs = 2, .max_inputs = -1, .args = args, .infer = infer,
    .onnx_type = "Add", .onnx_import = onnx_import, .onnx_export = onnx_export, .emit = emit, .fold = fold, .to_dsl = to_dsl, .grad = grad,
    .batch_rows = snt_rows_elementwise, .onnx_arity = {2, 2, 1, 1}, .types = {.t = SNT_TY_FLOATS | SNT_TY_INTS, .t_slots = ~0u, .note = "loop in the type (FLOAT16, BFLOAT16 in float32, rounded per element; integers wrap)"}};
