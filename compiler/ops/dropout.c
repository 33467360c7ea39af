/* dropout: zeroes a fraction `rate` of the values while training (inverted scaling);
 * the identity at inference, where ONNX's optional mask output is all true. */
#include <stdint.h>

#include "compiler/autodiff.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/dtype.h"
#include "sinter/kernels_train.h"

static const snt_arg_spec args[] = {
    {"rate", SNT_ARG_FLOAT, NULL, NULL},
    {"seed", SNT_ARG_INT, "0", NULL},
    {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  double rate = snt_node_float(n, "rate", 0);
  if (!(rate >= 0 && rate < 1)) return snt_node_error(g, n, d, "rate must be in [0, 1), got %g", rate);
  snt_tensor *x = snt_in(g, n, 0);
  snt_set_output(g, node, 0, x->dtype, x->rank, x->dims);
  if (n->n_out > 1) snt_set_output(g, node, 1, SNT_BOOL, x->rank, x->dims);
  return SNT_OK;
}

static const snt_op dropout_draw; /* below: ONNX's training mode */

/* A constant float scalar input's value; false when it is not one. */
static bool const_scalar(const snt_tensor *t, double *v) {
  if (!t || !t->data || snt_tensor_numel(t) != 1) return false;
  if (t->dtype == SNT_F32) *v = ((const float *)t->data)[0];
  else if (t->dtype == SNT_F64) *v = ((const double *)t->data)[0];
  else if (t->dtype == SNT_F16) *v = snt_f16_to_f32(((const uint16_t *)t->data)[0]);
  else if (t->dtype == SNT_BF16) *v = snt_bf16_to_f32(((const uint16_t *)t->data)[0]);
  else return false;
  return true;
}

/* ONNX: ratio is an attribute before opset 12 and an input after; at inference it changes
 * nothing, so the input is read by no code. training_mode (input 2, opset 12 on) decides what
 * the node computes, so it must be known when compiling: absent or a constant false is the
 * identity, true draws a mask with a constant ratio (0: the identity again). */
static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *mode = snt_in_opt(g, n, 2);
  if (mode && !mode->data)
    return snt_node_error(g, n, d, "training_mode must be a constant (opset %d)", opset);
  n->n_act_in = 1;
  if (mode && ((uint8_t *)mode->data)[0]) {
    double ratio = 0.5;
    snt_tensor *r = snt_in_opt(g, n, 1);
    if (r && !const_scalar(r, &ratio))
      return snt_node_error(g, n, d, "ratio must be a constant float scalar in training mode (opset %d)", opset);
    if (!(ratio >= 0 && ratio < 1)) return snt_node_error(g, n, d, "ratio must be in [0, 1), got %g (opset %d)", ratio, opset);
    if (ratio > 0) n->op = &dropout_draw;
    return snt_node_set_float(n, "rate", ratio);
  }
  return snt_node_set_float(n, "rate", snt_node_float(n, "ratio", 0.5) < 1 ? snt_node_float(n, "ratio", 0.5) : 0.5);
}

/* ONNX training mode: keep each element with probability 1 - rate, scaled by 1 / (1 - rate).
 * The draw is splitmix64 of the element's index and the seed attribute (a fixed stream
 * without one), uniform in [0, 1): it cannot match numpy's generator, only its statistics. */
static snt_status emit_draw(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  const char *ty = x->dtype == SNT_F64 ? "double" : "float";
  double rate = snt_node_float(n, "rate", 0.5);
  snt_emit_line(e, "{");
  snt_emit_line(e, "const %s *x = %s;", ty, snt_emit_ptr(e, n->in[0]));
  snt_emit_line(e, "%s *y = %s;", ty, snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "for (int64_t i = 0; i < %lld; i++) {", (long long)snt_tensor_numel(x));
  snt_emit_line(e, "  uint64_t z = 0x%llxULL + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL;",
                (unsigned long long)snt_node_int(n, "seed", 0x5eed));
  snt_emit_line(e, "  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;");
  snt_emit_line(e, "  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;");
  snt_emit_line(e, "  const int keep = (double)((z ^ (z >> 31)) >> 11) * 0x1p-53 >= %s;", snt_emit_f64(e, rate));
  if (n->n_out > 1) snt_emit_line(e, "  ((unsigned char *)%s)[i] = (unsigned char)keep;", snt_emit_ptr(e, n->out[1]));
  snt_emit_line(e, "  y[i] = keep ? (%s)(x[i] * %s) : 0;", ty, snt_emit_f64(e, 1.0 / (1.0 - rate)));
  snt_emit_line(e, "}");
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_status st = snt_emit_copy(e, node);
  if (!st && n->n_out > 1)
    snt_emit_line(e, "memset(%s, 1, %s);", snt_emit_ptr(e, n->out[1]), snt_emit_numel(e, n->out[1]));
  return st;
}

/* An inference graph: the identity. */
static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *in = snt_ox_name(x, n->in[0]);
  return snt_ox_node(x, "Identity", n->name, 1, &in, snt_ox_name(x, n->out[0])) < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

/* ---- training: inverted dropout with a mask; its stream is the step's seed mixed with the layer ---- */

static uint64_t layer_key(const char *name) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a: a stable key per layer name */
  for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  return h;
}

static snt_status emit_train(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  uint64_t key = layer_key(n->name) ^ (uint64_t)snt_node_int(n, "seed", 0);
  int64_t per = snt_tensor_numel(x) / x->dims[0];
  snt_emit_line(e, "snt_k_dropout_forward_ctx(m->k, (%s) * %lldLL, %lldLL, %sf, seed ^ 0x%llxULL, %s, %s, %s);",
                snt_emit_batch(e), (long long)per, (long long)per, snt_emit_f64(e, (float)snt_node_float(n, "rate", 0)),
                (unsigned long long)key, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]), snt_emit_ptr(e, n->out[1]));
  return SNT_OK;
}

static snt_status emit_grad(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->out[0]];
  snt_emit_line(e, "snt_k_dropout_backward((%s) * %lldLL, %sf, %s, %s, %s);", snt_emit_batch(e),
                (long long)(snt_tensor_numel(x) / x->dims[0]), snt_emit_f64(e, (float)snt_node_float(n, "rate", 0)),
                snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0])); /* mask, dy, dx */
  return SNT_OK;
}

static const snt_arg_spec no_args[] = {{0}};
static snt_status grad(snt_ad *ad, int node);
static const snt_op dropout_train = {.name = "dropout_train", .type_name = "Dropout", .default_layer = "dropout",
                                     .doc = "dropout while training", .args = no_args, .emit = emit_train, .grad = grad};
static const snt_op dropout_grad = {.name = "dropout_grad", .type_name = "DropoutGrad", .default_layer = "grad",
                                    .doc = "gradient of dropout", .args = no_args, .emit = emit_grad};

static snt_status train(snt_ad *ad, int node) {
  snt_graph *g = ad->g;
  if (snt_node_float(&g->nodes[node], "rate", 0) <= 0) return SNT_OK;
  snt_tensor x = g->tensors[g->nodes[node].in[0]];
  g->nodes[node].op = &dropout_train;
  g->nodes[node].n_out = 1; /* ONNX's mask output, if any, is replaced by the training mask */
  return snt_ad_output(ad, node, "mask", SNT_U8, x.rank, x.dims) < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

static snt_status grad(snt_ad *ad, int node) {
  const snt_node *n = &ad->g->nodes[node];
  int x = n->in[0], dy = snt_ad_grad(ad, n->out[0]);
  if (n->op != &dropout_train) return snt_ad_accumulate(ad, x, dy); /* rate 0: the identity */
  int ins[2] = {dy, n->out[1]};
  return snt_ad_input_grad(ad, &dropout_grad, node, 2, ins);
}

static const snt_op dropout_draw = {
    .name = "dropout_draw", .type_name = "Dropout", .default_layer = "dropout",
    .doc = "ONNX Dropout in training mode: a random mask", .min_inputs = 1, .max_inputs = 1, .args = args,
    .infer = infer, .onnx_type = "Dropout", .emit = emit_draw, .no_dsl = "training-mode dropout has no DSL form",
    .onnx_arity = {1, 3, 1, 2}, .no_export = SNT_NO_EXPORT_YET,
    .types = {.t = SNT_TY(SNT_F32) | SNT_TY(SNT_F64), .t_f32 = SNT_TY_FLOAT16S, .other = SNT_TY_FLOATS | SNT_TY(SNT_BOOL),
              .note = "DOUBLE in double precision; FLOAT16 and BFLOAT16 cast to float32 and back"}};

const snt_op snt_op_dropout = {
    .name = "dropout", .type_name = "Dropout", .default_layer = "dropout",
    .doc = "random zeroing while training: dropout(x, rate, seed=0)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "Dropout",
    .onnx_import = onnx_import, .onnx_const_inputs = (1u << 1) | (1u << 2), .onnx_export = onnx_export, .emit = emit, .to_dsl = snt_dsl_alias, .batch_rows = snt_rows_first,
    .train = train, .grad = grad,
    .onnx_arity = {1, 3, 1, 2}, .types = {.t = SNT_TY_FLOATS, .other = SNT_TY_FLOATS | SNT_TY(SNT_BOOL), .note = "a copy at inference"}};
