/* flatten: (C, H, W) to (C*H*W,). The default order is Keras's channels-last (H, W, C),
 * so a Dense kernel exported from Keras loads unchanged; order = chw gives PyTorch's and
 * ONNX's. ONNX's Flatten also takes an axis: dims before it form the rows. */
#include <stdio.h>
#include <string.h>

#include "compiler/autodiff.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

static const char *const orders[] = {"hwc", "chw", NULL};
static const snt_arg_spec args[] = {{"order", SNT_ARG_SYMBOL, "hwc", orders}, {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t axis = snt_node_int(n, "axis", 1);
  if (axis < 0) axis += x->rank;
  if (axis < 0 || axis > x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)snt_node_int(n, "axis", 1), x->rank);
  if (x->rank < 2 && !snt_node_attr(n, "axis"))
    return snt_node_error(g, n, d, "expects an input with at least one dimension per sample");
  int64_t rows = 1, cols = 1;
  for (int i = 0; i < x->rank; i++) {
    int64_t *p = i < axis ? &rows : &cols;
    if (x->dims[i] && *p > INT64_MAX / x->dims[i]) return snt_node_error(g, n, d, "the flattened size overflows");
    *p *= x->dims[i];
  }
  int64_t dims[2] = {rows, cols};
  snt_set_output(g, node, 0, x->dtype, 2, dims);
  return SNT_OK;
}

static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  (void)opset, (void)d;
  return snt_node_set_string(&g->nodes[node], "order", "chw");
}

/* Channels-last order is a transpose of (N, C, spatial...) to (N, spatial..., C). */
static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  if (strcmp(snt_node_string(n, "order", "chw"), "hwc") != 0 || x->rank < 3) return snt_emit_copy(e, node);
  snt_emit_line(e, "{");
  snt_strbuf dims = {0}, perm = {0};
  for (int i = 0; i < x->rank; i++) {
    if (i == 0 && snt_emit_rows_dyn(e, n->in[0])) snt_sb_puts(&dims, "n");
    else snt_sb_printf(&dims, "%s%lld", i ? ", " : "", (long long)x->dims[i]);
    snt_sb_printf(&perm, "%s%d", i ? ", " : "", i == 0 ? 0 : i == x->rank - 1 ? 1 : i + 1);
  }
  snt_emit_line(e, "%s int64_t dims[] = {%s};", snt_emit_const(e, n->in[0]), dims.data);
  snt_emit_line(e, "static const int perm[] = {%s};", perm.data);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_transpose(%zu, %d, dims, perm, %s, %s))) return snt_k_st_;", snt_dtype_size(x->dtype),
                x->rank, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  snt_sb_free(&dims);
  snt_sb_free(&perm);
  return SNT_OK;
}

/* Keras's channels-last order is a Transpose to (N, spatial..., C) before ONNX's Flatten. */
static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const snt_tensor *t = &g->tensors[n->in[0]];
  const char *in = snt_ox_name(x, n->in[0]);
  int k = 0;
  if (strcmp(snt_node_string(n, "order", "chw"), "hwc") == 0 && t->rank >= 3) {
    int64_t perm[SNT_MAX_RANK];
    for (int i = 0; i < t->rank; i++) perm[i] = i == 0 ? 0 : i == t->rank - 1 ? 1 : i + 1;
    const char *mid = snt_ox_temp(x, n->name);
    char name[512];
    snprintf(name, sizeof name, "%s/channels_last", n->name);
    k = snt_ox_node(x, "Transpose", name, 1, &in, mid);
    snt_ox_attr_ints(x, k, "perm", t->rank, perm);
    in = mid;
  }
  if (k >= 0) k = snt_ox_node(x, "Flatten", n->name, 1, &in, snt_ox_name(x, n->out[0]));
  snt_ox_attr_int(x, k, "axis", snt_node_int(n, "axis", 1));
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

/* Training: the gradient goes back through the inverse transpose (hwc), or is a copy (chw). */
static snt_status emit_grad(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->out[0]];
  if (strcmp(snt_node_string(n, "order", "chw"), "hwc") != 0 || x->rank < 3) return snt_emit_copy(e, node);
  snt_strbuf dims = {0}, perm = {0};
  snt_sb_printf(&dims, "%lld", (long long)x->dims[0]);
  for (int i = 2; i < x->rank; i++) snt_sb_printf(&dims, ", %lld", (long long)x->dims[i]);
  snt_sb_printf(&dims, ", %lld", (long long)x->dims[1]);
  snt_sb_printf(&perm, "0, %d", x->rank - 1);
  for (int i = 1; i < x->rank - 1; i++) snt_sb_printf(&perm, ", %d", i);
  snt_emit_line(e, "{");
  snt_emit_line(e, "static const int64_t dims[] = {%s};", dims.data);
  snt_emit_line(e, "static const int perm[] = {%s};", perm.data);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_transpose(4, %d, dims, perm, %s, %s))) return snt_k_st_;", x->rank, snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  snt_sb_free(&dims);
  snt_sb_free(&perm);
  return SNT_OK;
}

static const snt_arg_spec no_args[] = {{0}};
static const snt_op flatten_grad = {.name = "flatten_grad", .type_name = "FlattenGrad", .default_layer = "grad",
                                    .doc = "gradient of flatten", .args = no_args, .emit = emit_grad};

static snt_status grad(snt_ad *ad, int node) {
  int dy = snt_ad_grad(ad, ad->g->nodes[node].out[0]);
  return snt_ad_input_grad(ad, &flatten_grad, node, 1, &dy);
}

/* Folded in ONNX order (the bytes unchanged); Keras-order flatten moves elements and is
 * left to its kernel. */
static snt_status fold(snt_graph *g, const snt_node *n, void *y) {
  if (strcmp(snt_node_string(n, "order", "chw"), "hwc") == 0 && snt_in(g, n, 0)->rank >= 3) return SNT_ERR_INPUT;
  return snt_fold_copy(g, n, y);
}

/* ONNX's Flatten (axis 1); after a global pool the DSL's tensor is flat already. */
static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_graph *g = w->g;
  const snt_node *n = &g->nodes[node];
  const snt_tensor *x = &g->tensors[n->in[0]];
  if (snt_node_int(n, "axis", 1) != 1) return snt_dsl_unsupported(w, n, SNT_NO_DSL_YET);
  int src = n->in[0];
  bool pooled = x->rank >= 2;
  for (int k = 2; k < x->rank; k++) pooled &= x->dims[k] == 1;
  int p = g->tensors[snt_dsl_root(w, src)].producer;
  pooled &= p >= 0 && (g->nodes[p].op == &snt_op_global_avg_pool || g->nodes[p].op == &snt_op_global_max_pool);
  if (x->rank == 2 || pooled) {
    w->alias[n->out[0]] = src;
    return SNT_OK;
  }
  fprintf(w->out, "  %s = flatten(%s, order = %s, name = %s)\n", snt_dsl_ident(w, n->out[0]), snt_dsl_ident(w, src),
          w->hwc[src] ? "hwc" : "chw", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

const snt_op snt_op_flatten = {
    .name = "flatten", .type_name = "Flatten", .default_layer = "flatten",
    .doc = "flatten each sample; order=hwc (Keras, default) or chw: flatten(x, order=hwc)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "Flatten", .onnx_upto = 21,
    .onnx_import = onnx_import, .onnx_export = onnx_export, .emit = emit, .fold = fold, .to_dsl = to_dsl, .grad = grad, .batch_rows = snt_rows_first,
    .onnx_arity = {1, 1, 1, 1}, .types = {.t = SNT_TY_ALL, .note = SNT_NOTE_MOVE}};
