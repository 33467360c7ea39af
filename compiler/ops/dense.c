/* dense: a fully connected layer on flat features; the kernel is [in, out] as in Keras. */
#include <string.h>

#include "compiler/autodiff.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {
    {"units", SNT_ARG_INT, NULL, NULL},
    {"activation", SNT_ARG_SYMBOL, "none", snt_activation_symbols},
    {"bias", SNT_ARG_BOOL, "true", NULL},
    {"l2", SNT_ARG_FLOAT, "0", NULL},
    {0}};

static snt_status check(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int64_t units = snt_node_int(n, "units", 0);
  if (units < 1) return snt_node_error(g, n, d, "units must be positive, got %lld", (long long)units);
  double l2 = snt_node_float(n, "l2", 0);
  if (!(l2 >= 0)) return snt_node_error(g, n, d, "l2 must not be negative, got %g", l2);
  if (snt_in(g, n, 0)->rank != 2) {
    char s[128];
    snt_shape_str(s, sizeof s, snt_in(g, n, 0), 1);
    return snt_node_error(g, n, d, "expects flat features (n,), got shape %s: add flatten() or global_avg_pool() first", s);
  }
  return SNT_OK;
}

static snt_status params(snt_graph *g, int node, snt_diag *d) {
  snt_status st = check(g, node, d);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  int64_t units = snt_node_int(n, "units", 0);
  int64_t kdims[2] = {snt_in(g, n, 0)->dims[1], units};
  if (snt_ir_add_param(g, node, "kernel", 2, kdims, true) < 0) return SNT_ERR_NOMEM;
  if (snt_node_int(&g->nodes[node], "bias", 1) && snt_ir_add_param(g, node, "bias", 1, &units, true) < 0)
    return SNT_ERR_NOMEM;
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_status st = check(g, node, d);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  int64_t dims[2] = {snt_in(g, n, 0)->dims[0], snt_node_int(n, "units", 0)};
  snt_set_output(g, node, 0, SNT_F32, 2, dims);
  return SNT_OK;
}

/* y = act(x K + b): one GEMM with the bias as its C row, then the activation in place. */
static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  bool bias = n->n_in > 2;
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s snt_k_gemm_desc d = {.m = %s, .n = %lld, .k = %lld, .trans_a = 0, .trans_b = 0, "
                ".alpha = 1.0f, .beta = %s, .c_rows = 1, .c_cols = %lld};", snt_emit_const(e, n->in[0]),
                snt_emit_rows(e, n->in[0]),
                (long long)y->dims[1], (long long)x->dims[1], bias ? "1.0f" : "0.0f", (long long)y->dims[1]);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_gemm(m->k, &d, %s, %s, %s, %s))) return snt_k_st_;", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), bias ? snt_emit_ptr(e, n->in[2]) : "NULL", snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  const char *act = snt_node_string(n, "activation", "none");
  const char *out = snt_emit_ptr(e, n->out[0]);
  const char *rows = snt_emit_rows(e, n->out[0]), *count = snt_emit_numel(e, n->out[0]);
  long long cols = (long long)y->dims[1];
  if (strcmp(act, "softmax") == 0) snt_emit_line(e, "snt_k_softmax(%s, %lld, 1, %s, %s);", rows, cols, out, out);
  else if (strcmp(act, "relu") == 0) snt_emit_line(e, "for (int64_t i = 0; i < %s; i++) %s[i] = %s[i] > 0 ? %s[i] : 0;", count, out, out, out);
  else if (strcmp(act, "sigmoid") == 0) snt_emit_line(e, "for (int64_t i = 0; i < %s; i++) %s[i] = 1 / (1 + expf(-%s[i]));", count, out, out);
  else if (strcmp(act, "tanh") == 0) snt_emit_line(e, "for (int64_t i = 0; i < %s; i++) %s[i] = tanhf(%s[i]);", count, out, out);
  return SNT_OK;
}

static double flops(const snt_graph *g, const snt_node *n) {
  return 2.0 * (double)g->tensors[n->in[0]].dims[1] * (double)snt_node_int(n, "units", 0);
}

/* Gemm with the [in, out] kernel as B (no transB), or MatMul when there is no bias. */
static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *ins[3] = {snt_ox_name(x, n->in[0]), snt_ox_name(x, n->in[1]), n->n_in > 2 ? snt_ox_name(x, n->in[2]) : NULL};
  const char *pre = snt_ox_pre_activation(x, g, n);
  int k = snt_ox_node(x, n->n_in > 2 ? "Gemm" : "MatMul", n->name, n->n_in > 2 ? 3 : 2, ins, pre);
  return k < 0 ? SNT_ERR_NOMEM : snt_ox_activation(x, g, n, pre);
}

/* ---- training: dx = dy K', dK = x' dy, db = column sums of dy (over the n samples) ---- */

static snt_status emit_grad_input(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *k = &e->g->tensors[n->in[1]];
  snt_emit_line(e, "{");
  snt_emit_line(e, "const snt_k_gemm_desc d = {.m = %s, .n = %lld, .k = %lld, .trans_a = 0, .trans_b = 1, "
                ".alpha = 1.0f, .beta = 0.0f, .c_rows = 1, .c_cols = 1};", snt_emit_batch(e), (long long)k->dims[0],
                (long long)k->dims[1]);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_gemm(m->k, &d, %s, %s, NULL, %s))) return snt_k_st_;", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status emit_grad_kernel(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *k = &e->g->tensors[n->out[0]];
  snt_emit_line(e, "{");
  snt_emit_line(e, "const snt_k_gemm_desc d = {.m = %lld, .n = %lld, .k = %s, .trans_a = 1, .trans_b = 0, "
                ".alpha = 1.0f, .beta = 0.0f, .c_rows = 1, .c_cols = 1};", (long long)k->dims[0], (long long)k->dims[1],
                snt_emit_batch(e));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_gemm(m->k, &d, %s, %s, NULL, %s))) return snt_k_st_;", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->out[0]));
  if (n->n_out > 1)
    snt_emit_line(e, "snt_k_colsum(%s, %lld, %s, %s);", snt_emit_batch(e), (long long)k->dims[1], snt_emit_ptr(e, n->in[1]),
                  snt_emit_ptr(e, n->out[1]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* bench --profile: one GEMM on m's kernel context. */
static const char *kernel_name(snt_emit *e, int node) {
  (void)e, (void)node;
  return "snt_k_gemm_kernel(m->k)";
}

static const snt_arg_spec no_args[] = {{0}};
/* A gradient (data or kernel) costs the multiply-adds of its forward layer: profiles count it so. */
static double grad_flops(const snt_graph *g, const snt_node *b) {
  const snt_node *f = snt_ad_fwd(g, b);
  return f ? flops(g, f) : 0.0;
}
static const snt_op dense_grad_input = {.name = "dense_grad_input", .type_name = "DenseGrad", .default_layer = "grad",
                                        .doc = "gradient of dense's input", .args = no_args, .emit = emit_grad_input, .flops = grad_flops};
static const snt_op dense_grad_kernel = {.name = "dense_grad_kernel", .type_name = "DenseGrad", .default_layer = "grad",
                                         .doc = "gradient of dense's kernel and bias", .args = no_args, .emit = emit_grad_kernel, .flops = grad_flops};

static snt_status grad(snt_ad *ad, int node) { return snt_ad_layer_grad(ad, node, &dense_grad_input, &dense_grad_kernel); }

const snt_op snt_op_dense = {
    .name = "dense", .type_name = "Dense", .default_layer = "dense",
    .doc = "fully connected layer: dense(x, units, activation=none, bias=true, l2=0)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .params = params, .infer = infer, .flops = flops, .onnx_export = onnx_export, .emit = emit,
    .kernel_name = kernel_name, .grad = grad, .batch_rows = snt_rows_first, .no_dsl = "no ONNX op imports to it",
    .no_onnx = "a DSL layer: ONNX Gemm and MatMul import as gemm and matmul",
    .no_types = "never imported from ONNX, whose element types the types rule checks"};
