/* global_avg_pool and global_max_pool: reduce the spatial dims, giving (channels,);
 * ONNX keeps them as size 1 ("keepdims"). */
#include <stdio.h>

#include "compiler/onnx/export.h"
#include "compiler/autodiff.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels_train.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  if (x->rank < 3) {
    char s[128];
    snt_shape_str(s, sizeof s, x, 1);
    return snt_node_error(g, n, d, "expects a 3-D input (channels, height, width), got shape %s", s);
  }
  int64_t dims[SNT_MAX_RANK] = {x->dims[0], x->dims[1]};
  bool keep = snt_node_int(n, "keepdims", 0);
  for (int i = 2; i < x->rank; i++) dims[i] = 1;
  snt_set_output(g, node, 0, x->dtype, keep ? x->rank : 2, dims);
  return SNT_OK;
}

static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  (void)opset, (void)d;
  return snt_node_set_int(&g->nodes[node], "keepdims", 1);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t outer = x->dims[0] * x->dims[1];
  const char *outer_s = snt_format_keep(e, "%s * %lldLL", snt_emit_rows(e, n->in[0]), (long long)x->dims[1]);
  if (x->dtype == SNT_F64) { /* DOUBLE in double precision (FLOAT16 arrives as FLOAT between Casts) */
    int64_t inner = snt_tensor_numel(x) / outer;
    bool avg = n->op == &snt_op_global_avg_pool;
    snt_emit_line(e, "for (int64_t o = 0; o < %s; o++) {", outer_s);
    snt_emit_line(e, "  const double *xp = %s + o * %lld;", snt_emit_ptr(e, n->in[0]), (long long)inner);
    snt_emit_line(e, "  double r = %s;", avg ? "0" : "xp[0]");
    snt_emit_line(e, "  for (int64_t i = 0; i < %lld; i++) r = %s;", (long long)inner, avg ? "r + xp[i]" : "xp[i] > r ? xp[i] : r");
    snt_emit_line(e, "  %s[o] = r%s;", snt_emit_ptr(e, n->out[0]), avg ? snt_format_keep(e, " / %lld", (long long)inner) : "");
    snt_emit_line(e, "}");
    return SNT_OK;
  }
  snt_emit_line(e, "snt_k_global_pool(%s, %s, %lld, %s, %s);", n->op == &snt_op_global_avg_pool ? "SNT_K_POOL_AVG" : "SNT_K_POOL_MAX",
                outer_s, (long long)(snt_tensor_numel(x) / outer), snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  bool keep = snt_node_int(n, "keepdims", 0);
  const char *in = snt_ox_name(x, n->in[0]), *mid = keep ? snt_ox_name(x, n->out[0]) : snt_ox_temp(x, n->name);
  int k = snt_ox_node(x, n->op->onnx_type, n->name, 1, &in, mid);
  if (k >= 0 && !keep) {
    char name[512];
    snprintf(name, sizeof name, "%s/flatten", n->name);
    k = snt_ox_node(x, "Flatten", name, 1, &mid, snt_ox_name(x, n->out[0]));
  }
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

/* Training: the average's gradient spreads evenly over the pooled positions. */
static snt_status emit_avg_grad(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->out[0]];
  snt_emit_line(e, "snt_k_global_avg_pool_backward((%s) * %lldLL, %lld, %s, %s);", snt_emit_batch(e), (long long)x->dims[1],
                (long long)(snt_tensor_numel(x) / x->dims[0] / x->dims[1]), snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

static const snt_arg_spec no_grad_args[] = {{0}};
static const snt_op global_avg_pool_grad = {.name = "global_avg_pool_grad", .type_name = "PoolGrad", .default_layer = "grad",
                                            .doc = "gradient of global average pooling", .args = no_grad_args, .emit = emit_avg_grad};

static snt_status avg_grad(snt_ad *ad, int node) {
  int dy = snt_ad_grad(ad, ad->g->nodes[node].out[0]);
  return snt_ad_input_grad(ad, &global_avg_pool_grad, node, 1, &dy);
}

/* Training: the maximum's gradient goes to its position (the first maximum, as the forward). */
static snt_status emit_max_grad(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->out[0]];
  snt_emit_line(e, "snt_k_global_max_pool_backward((%s) * %lldLL, %lld, %s, %s, %s);", snt_emit_batch(e),
                (long long)x->dims[1], (long long)(snt_tensor_numel(x) / x->dims[0] / x->dims[1]), snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

static const snt_op global_max_pool_grad = {.name = "global_max_pool_grad", .type_name = "PoolGrad", .default_layer = "grad",
                                            .doc = "gradient of global max pooling", .args = no_grad_args, .emit = emit_max_grad};

static snt_status max_grad(snt_ad *ad, int node) {
  const snt_node *n = &ad->g->nodes[node];
  int ins[2] = {n->in[0], snt_ad_grad(ad, n->out[0])};
  return snt_ad_input_grad(ad, &global_max_pool_grad, node, 2, ins);
}

/* The DSL's global pool gives (C,); ONNX keeps 1x1 dims, which a Flatten (flatten.c) then drops. */
static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_graph *g = w->g;
  const snt_node *n = &g->nodes[node];
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  bool flat = false, square = false; /* read through a Flatten; read as (C, 1, 1) */
  for (int r = 0; r < g->n_nodes; r++)
    for (int k = 0; k < g->nodes[r].n_in; k++)
      if (g->nodes[r].in[k] == n->out[0]) *(g->nodes[r].op == &snt_op_flatten ? &flat : &square) = true;
  for (int i = 0; i < g->n_outputs; i++) square |= g->outputs[i] == n->out[0];
  if (flat && square) return snt_dsl_unsupported(w, n, "its output feeds a Flatten and something else");
  if (!square) {
    fprintf(w->out, "  %s = %s(%s, name = %s)\n", lhs, n->op->name, in, snt_dsl_lit(w, n->name));
    return SNT_OK;
  }
  /* The DSL's global pools give (C); the ONNX (C, 1, 1) comes back through a reshape. */
  const snt_tensor *y = &g->tensors[n->out[0]];
  fprintf(w->out, "  %s_flat = %s(%s, name = %s)\n", lhs, n->op->name, in, snt_dsl_lit(w, n->name));
  fprintf(w->out, "  %s = reshape(%s_flat, [0, %lld", lhs, lhs, (long long)y->dims[1]);
  for (int k = 2; k < y->rank; k++) fprintf(w->out, ", 1");
  fprintf(w->out, "])\n");
  return SNT_OK;
}

const snt_op snt_op_global_avg_pool = {
    .name = "global_avg_pool", .type_name = "GlobalAveragePooling2D",
    .default_layer = "global_average_pooling2d", .doc = "mean over height and width: global_avg_pool(x)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "GlobalAveragePool",
    .onnx_import = onnx_import, .onnx_export = onnx_export, .emit = emit, .to_dsl = to_dsl, .grad = avg_grad, .batch_rows = snt_rows_first,
    .onnx_arity = {1, 1, 1, 1}, .types = SNT_TYPES_LOOP_F64(1)};

const snt_op snt_op_global_max_pool = {
    .name = "global_max_pool", .type_name = "GlobalMaxPooling2D",
    .default_layer = "global_max_pooling2d", .doc = "maximum over height and width: global_max_pool(x)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "GlobalMaxPool",
    .onnx_import = onnx_import, .onnx_export = onnx_export, .emit = emit, .to_dsl = to_dsl, .grad = max_grad, .batch_rows = snt_rows_first,
    .onnx_arity = {1, 1, 1, 1}, .types = SNT_TYPES_LOOP_F64(1)};
