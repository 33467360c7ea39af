/* conv_expand_dw: a 1x1 conv2d and the depthwise conv2d that alone reads it, as one node
 * (compiler/passes/fuse_expand_dw.c makes it; snt_k_conv_expand_dw runs it in bands of rows
 * that stay in cache). Inputs: x (the 1x1 conv's input), the depthwise kernel, its bias, the
 * residual (each -1 when absent), the 1x1 kernel and its bias. Attributes: the depthwise
 * conv's, and the 1x1 conv's activation under "pw_" names. Internal: no DSL or ONNX form. */
#include <string.h>

#include "compiler/codegen/emit.h"
#include "compiler/ops/common.h"
#include "compiler/ops/conv2d.h"
#include "compiler/ops/window.h"

enum { IN_X, IN_DW_W, IN_DW_B, IN_RES, IN_PW_W, IN_PW_B };

/* The two descriptors: the 1x1 conv over x, the depthwise conv over its output (same map). */
static void descs(const snt_graph *g, const snt_node *n, snt_k_conv_desc *pw, snt_k_conv_desc *dw) {
  snt_conv2d_desc(g, n, dw);
  const snt_tensor *x = &g->tensors[n->in[IN_X]], *w = &g->tensors[n->in[IN_PW_W]];
  dw->in_channels = w->dims[0];
  *pw = (snt_k_conv_desc){.spatial = 2, .batch = x->dims[0], .in_channels = x->dims[1], .out_channels = w->dims[0],
                          .groups = 1, .in = {x->dims[2], x->dims[3]}, .out = {x->dims[2], x->dims[3]},
                          .kernel = {1, 1}, .stride = {1, 1}, .dilation = {1, 1}};
  pw->act = snt_conv2d_act(n, "pw_");
}

/* Checks the chain: x [N, C, H, W], the 1x1 kernel [M, C, 1, 1], the depthwise kernel
 * [M * mult, 1, kh, kw] over M groups; the output as the depthwise conv's. */
static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (n->n_in != 6 || n->in[IN_X] < 0 || n->in[IN_DW_W] < 0 || n->in[IN_PW_W] < 0)
    return snt_node_error(g, n, d, "expects x, the depthwise kernel, bias, residual, the 1x1 kernel and bias");
  const snt_tensor *x = &g->tensors[n->in[IN_X]], *pw = &g->tensors[n->in[IN_PW_W]], *dw = &g->tensors[n->in[IN_DW_W]];
  int64_t groups = snt_node_int(n, "groups", 1);
  if (x->rank != 4 || pw->rank != 4 || dw->rank != 4 || pw->dims[1] != x->dims[1] || pw->dims[2] != 1 ||
      pw->dims[3] != 1 || dw->dims[1] != 1 || groups != pw->dims[0] || dw->dims[0] % groups)
    return snt_node_error(g, n, d, "the 1x1 and depthwise kernels do not chain on a 4-D input");
  int cnt = 0;
  const int64_t *kv = snt_node_ints(n, "kernel", &cnt);
  if (!kv || cnt != 2) return snt_node_error(g, n, d, "kernel must have 2 sizes");
  snt_window win;
  snt_status st = snt_window_resolve(g, node, d, kv, "kernel", &win);
  if (st) return st;
  int64_t dims[4] = {x->dims[0], dw->dims[0], win.out[0], win.out[1]};
  snt_set_output(g, node, 0, x->dtype, 4, dims);
  return SNT_OK;
}

static double flops(const snt_graph *g, const snt_node *n) {
  const snt_tensor *x = &g->tensors[n->in[IN_X]], *w = &g->tensors[n->in[IN_PW_W]], *y = &g->tensors[n->out[0]];
  const snt_tensor *k = &g->tensors[n->in[IN_DW_W]];
  double map = (double)(x->dims[2] * x->dims[3]), taps = (double)(k->dims[2] * k->dims[3]);
  return 2.0 * (double)x->dims[1] * (double)w->dims[0] * map + 2.0 * taps * (double)(snt_tensor_numel(y) / y->dims[0]);
}

static const char *opt_ptr(snt_emit *e, const snt_node *n, int i) {
  return snt_in_opt((snt_graph *)e->g, n, i) ? snt_emit_ptr(e, n->in[i]) : "NULL";
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_k_conv_desc pw, dw;
  descs(e->g, n, &pw, &dw);
  const char *kw = e->step || snt_emit_rows_dyn(e, n->in[IN_X]) ? "const" : "static const";
  const char *batch = e->step ? "n" : snt_emit_rows(e, n->in[IN_X]);
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s snt_k_conv_desc p = %s;", kw, snt_emit_conv_desc(e, &pw, batch));
  snt_emit_line(e, "%s snt_k_conv_desc d = %s;", kw, snt_emit_conv_desc(e, &dw, batch));
  /* the 1x1 kernel packed once, at the first run after create or set_weights */
  const char *packed = "NULL";
  if (!e->step && !e->no_pack && e->plan->places[n->in[IN_PW_W]].kind == SNT_PLACE_WEIGHTS) {
    snt_emit_line(e, "float *P = (float *)(m->packed + %zu);", e->packed_bytes);
    snt_emit_line(e, "if (m->packed_for != m->weights && SNT_K_FAILED(snt_k_conv_expand_dw_pack(m->k, &p, %s, P))) return snt_k_st_;",
                  snt_emit_ptr(e, n->in[IN_PW_W]));
    e->packed_bytes += (snt_k_conv_expand_dw_packed_bytes(&pw) + 63) / 64 * 64;
    packed = "P";
  }
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_conv_expand_dw(m->k, &p, &d, %s, %s, %s, %s, %s, %s, %s, %s))) return snt_k_st_;",
                snt_emit_ptr(e, n->in[IN_X]), snt_emit_ptr(e, n->in[IN_PW_W]), packed, opt_ptr(e, n, IN_PW_B),
                snt_emit_ptr(e, n->in[IN_DW_W]), opt_ptr(e, n, IN_DW_B), opt_ptr(e, n, IN_RES), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static const char *kernel_name(snt_emit *e, int node) {
  snt_k_conv_desc pw, dw;
  descs(e->g, &e->g->nodes[node], &pw, &dw);
  char batch[32];
  snprintf(batch, sizeof batch, "%lldLL", (long long)pw.batch);
  return snt_format_keep(e, "snt_k_conv_expand_dw_kernel(m->k, &(const snt_k_conv_desc)%s, &(const snt_k_conv_desc)%s)",
                         snt_emit_conv_desc(e, &pw, batch), snt_emit_conv_desc(e, &dw, batch));
}

/* Samples stay apart; the residual (input 3) carries the batch like x. */
static bool rows(const snt_graph *g, const snt_node *n, const bool *r) { return snt_rows_slots(g, n, r, 1u | 8u); }

static const snt_arg_spec no_args[] = {{0}};

const snt_op snt_op_conv_expand_dw = {
    .name = "conv_expand_dw", .type_name = "Conv2D", .default_layer = "conv2d",
    .doc = "a 1x1 conv2d and the depthwise conv2d reading it, as one kernel (made by a pass)",
    .args = no_args, .infer = infer, .flops = flops, .emit = emit, .kernel_name = kernel_name, .batch_rows = rows,
    .no_onnx = "made by the inference passes from two conv2d nodes", .no_export = "exported as its two conv2d nodes",
    .no_types = "made after import from float32 conv2d nodes", .no_dsl = "made by the inference passes"};
