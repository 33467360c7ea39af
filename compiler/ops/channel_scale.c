/* channel_scale: x times a per-channel computed tensor s ([N or 1, C, 1, ...]: a
 * squeeze-excite gate), plus the block's residual and a ReLU when they follow, in one pass
 * (compiler/passes/fuse_channel_scale.c makes it from Mul [, Add [, Relu]]). Inputs: x, s,
 * the residual or -1; attribute relu. Internal: no DSL or ONNX form. */
#include "compiler/codegen/emit.h"
#include "compiler/ops/common.h"

/* The output keeps x's shape; s must be one value per sample (or one for all) and channel. */
static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (n->n_in != 3 || n->in[0] < 0 || n->in[1] < 0)
    return snt_node_error(g, n, d, "expects x, the per-channel scale and the residual (or none)");
  const snt_tensor *x = &g->tensors[n->in[0]], *s = &g->tensors[n->in[1]];
  bool ok = x->rank >= 3 && s->rank == x->rank && (s->dims[0] == x->dims[0] || s->dims[0] == 1) && s->dims[1] == x->dims[1];
  for (int k = 2; ok && k < s->rank; k++) ok = s->dims[k] == 1;
  const snt_tensor *r = n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
  if (ok && r) ok = r->rank == x->rank && snt_tensor_numel(r) == snt_tensor_numel(x);
  if (!ok) return snt_node_error(g, n, d, "the scale must hold one value per channel, the residual x's shape");
  snt_set_output(g, node, 0, x->dtype, x->rank, x->dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *y = &e->g->tensors[n->out[0]], *s = &e->g->tensors[n->in[1]];
  int64_t inner = snt_tensor_numel(y) / (y->dims[0] * y->dims[1]);
  snt_emit_line(e, "snt_k_channel_scale(m->k, %s, %s, %lld, %s, %d, %s, %s, %lld, %lld);", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), (long long)(s->dims[0] == 1 ? 0 : y->dims[1]),
                n->in[2] >= 0 ? snt_emit_ptr(e, n->in[2]) : "NULL", (int)snt_node_int(n, "relu", 0),
                snt_emit_ptr(e, n->out[0]), snt_emit_rows(e, n->out[0]), (long long)y->dims[1], (long long)inner);
  return SNT_OK;
}

/* Samples stay apart: x and the residual carry the batch; s does, or is shared. */
static bool rows(const snt_graph *g, const snt_node *n, const bool *r) { return snt_rows_elementwise(g, n, r); }

static const snt_arg_spec no_args[] = {{0}};

const snt_op snt_op_channel_scale = {
    .name = "channel_scale", .type_name = "Multiply", .default_layer = "multiply",
    .doc = "x times a per-channel tensor, plus a residual, then ReLU, in one pass (made by a pass)",
    .args = no_args, .infer = infer, .emit = emit, .batch_rows = rows,
    .no_onnx = "made by the passes from Mul, Add and Relu nodes", .no_export = "exported as its Mul, Add and Relu",
    .no_types = "made after import from float32 nodes", .no_dsl = "made by the passes"};
