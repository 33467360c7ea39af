/* batchnorm: batch normalisation over the channel axis (axis 1); at inference
 * y = gamma * (x - moving_mean) / sqrt(moving_variance + eps) + beta. */
#include <string.h>

#include <stdlib.h>

#include "compiler/autodiff.h"
#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels_train.h"

static const snt_arg_spec args[] = {
    {"eps", SNT_ARG_FLOAT, "0.001", NULL},
    {"momentum", SNT_ARG_FLOAT, "0.99", NULL},
    {"center", SNT_ARG_BOOL, "true", NULL},
    {"scale", SNT_ARG_BOOL, "true", NULL},
    {0}};

static snt_status check(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  double eps = snt_node_float(n, "eps", 1e-3), m = snt_node_float(n, "momentum", 0.99);
  if (!(eps > 0)) return snt_node_error(g, n, d, "eps must be positive, got %g", eps);
  if (!(m >= 0 && m <= 1)) return snt_node_error(g, n, d, "momentum must be in [0, 1], got %g", m);
  if (snt_in(g, n, 0)->rank < 2) return snt_node_error(g, n, d, "expects an input with channels");
  return SNT_OK;
}

static snt_status params(snt_graph *g, int node, snt_diag *d) {
  snt_status st = check(g, node, d);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  int64_t c = snt_in(g, n, 0)->dims[1];
  bool scale = snt_node_int(n, "scale", 1), center = snt_node_int(&g->nodes[node], "center", 1);
  if (scale && snt_ir_add_param(g, node, "gamma", 1, &c, true) < 0) return SNT_ERR_NOMEM;
  if (center && snt_ir_add_param(g, node, "beta", 1, &c, true) < 0) return SNT_ERR_NOMEM;
  if (snt_ir_add_param(g, node, "moving_mean", 1, &c, false) < 0) return SNT_ERR_NOMEM;
  if (snt_ir_add_param(g, node, "moving_variance", 1, &c, false) < 0) return SNT_ERR_NOMEM;
  return SNT_OK;
}

snt_status snt_batchnorm_infer(snt_graph *g, int node, snt_diag *d) {
  snt_status st = check(g, node, d);
  if (st) return st;
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  for (int i = n->n_act_in; i < n->n_in; i++) {
    snt_tensor *p = snt_in(g, n, i);
    if (p->rank != 1 || p->dims[0] != x->dims[1])
      return snt_node_error(g, n, d, "parameter '%s' must have %lld values, one per channel", p->name,
                            (long long)x->dims[1]);
  }
  snt_set_output(g, node, 0, x->dtype, x->rank, x->dims);
  for (int o = 1; o < n->n_out; o++) snt_set_output(g, node, o, x->dtype, 1, &x->dims[1]); /* ONNX training's statistics */
  return SNT_OK;
}

extern const snt_op snt_op_batchnorm_onnx_train; /* compiler/ops/batchnorm_onnx.c */

/* ONNX: X, scale, B, mean, var; epsilon defaults to 1e-5. Training mode (opset 14's
 * attribute; before it, the extra outputs unless is_test) normalises with the batch's own
 * statistics: batchnorm_onnx.c. */
static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (n->n_in != 5) return snt_node_error(g, n, d, "needs 5 inputs (X, scale, B, mean, var), got %d", n->n_in);
  bool training = opset >= 14 ? snt_node_int(n, "training_mode", 0) != 0 : n->n_out > 1 && !snt_node_int(n, "is_test", 0);
  if (opset >= 14 && !training && n->n_out > 1)
    return snt_node_error(g, n, d, "running_mean and running_var are outputs of training mode only (opset %d)", opset);
  if (opset >= 14 && training && n->n_out != 3)
    return snt_node_error(g, n, d, "training mode needs 3 outputs (Y, running_mean, running_var), got %d (opset %d)", n->n_out, opset);
  snt_status st = snt_node_set_float(n, "eps", snt_node_float(n, "epsilon", 1e-5));
  if (!st) st = snt_node_set_float(n, "momentum", snt_node_float(n, "momentum", 0.9));
  snt_dtype t = snt_in(g, n, 0)->dtype;
  if (!st && training && t != SNT_F32 && t != SNT_F64) /* its statistics outputs are T: no Casts around them */
    return snt_node_error(g, n, d, "training mode computes FLOAT and DOUBLE only, not %s (opset %d)", snt_dtype_name(t), opset);
  if (!st && training) n->op = &snt_op_batchnorm_onnx_train;
  return st;
}

/* The parameter of a role, or NULL when the layer has none (center/scale off). For ONNX
 * graphs whose statistics arrive as run-time inputs (no role), the ONNX slot decides. */
static const char *param(snt_emit *e, const snt_node *n, const char *role, int onnx_slot) {
  int t = snt_node_param(e->g, n, role);
  if (t < 0 && onnx_slot < n->n_in && n->in[onnx_slot] >= 0 && !e->g->tensors[n->in[onnx_slot]].role) t = n->in[onnx_slot];
  return t >= 0 ? snt_emit_ptr(e, t) : NULL;
}

/* y = x * s + t per channel, s = gamma / sqrt(var + eps), t = beta - mean * s, and the
 * fused relu of the pre-activation blocks: float32 in the kernel (vectorised, on the team),
 * double in one loop the compiler vectorises. */
static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  const char *gamma = param(e, n, "gamma", 1), *beta = param(e, n, "beta", 2);
  const char *mean = param(e, n, "moving_mean", 3), *var = param(e, n, "moving_variance", 4);
  int64_t c = x->dims[1], inner = snt_tensor_numel(x) / x->dims[0] / c;
  bool relu = snt_node_int(n, "relu", 0);
  double eps = snt_node_float(n, "eps", 1e-3);
  /* FLOAT, or DOUBLE in double precision (FLOAT16 arrives as FLOAT between Casts). */
  if (x->dtype != SNT_F64) {
    snt_emit_line(e, "if (SNT_K_FAILED(snt_k_bn_infer(m->k, %s, %lld, %lld, %s, %s, %s, %s, %s, %sf, %d, %s))) return snt_k_st_;",
                  snt_emit_rows(e, n->in[0]), (long long)c, (long long)inner, snt_emit_ptr(e, n->in[0]), gamma ? gamma : "NULL",
                  beta ? beta : "NULL", mean, var, snt_emit_f64(e, (float)eps), (int)relu, snt_emit_ptr(e, n->out[0]));
    return SNT_OK;
  }
  snt_emit_line(e, "{");
  snt_emit_line(e, "const double *x = %s, *mean = %s, *var = %s;", snt_emit_ptr(e, n->in[0]), mean, var);
  snt_emit_line(e, "double *y = %s;", snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "for (int64_t c = 0; c < %lld; c++) {", (long long)c);
  snt_emit_line(e, "  const double s = %s / sqrt(var[c] + %s), t = %s - mean[c] * s;",
                gamma ? snt_format_keep(e, "%s[c]", gamma) : "1.0", snt_emit_f64(e, eps),
                beta ? snt_format_keep(e, "%s[c]", beta) : "0.0");
  snt_emit_line(e, "  for (int64_t b = 0; b < %s; b++) {", snt_emit_rows(e, n->in[0]));
  snt_emit_line(e, "    const double *xi = x + (b * %lld + c) * %lld;", (long long)c, (long long)inner);
  snt_emit_line(e, "    double *yi = y + (b * %lld + c) * %lld;", (long long)c, (long long)inner);
  snt_emit_line(e, "    for (int64_t i = 0; i < %lld; i++) {", (long long)inner);
  snt_emit_line(e, "      const double v = xi[i] * s + t;");
  snt_emit_line(e, relu ? "      yi[i] = v > 0 ? v : 0;" : "      yi[i] = v;");
  snt_emit_line(e, "    }");
  snt_emit_line(e, "  }");
  snt_emit_line(e, "}");
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* A layer without gamma or beta (scale / center off) exports ones or zeros for it. */
static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  int64_t c = g->tensors[n->in[0]].dims[1];
  const char *ins[5] = {snt_ox_name(x, n->in[0])};
  static const char *const roles[] = {"gamma", "beta", "moving_mean", "moving_variance"};
  for (int r = 0; r < 4; r++) {
    for (int i = n->n_act_in; i < n->n_in && !ins[r + 1]; i++) {
      const snt_tensor *t = &g->tensors[n->in[i]];
      if (t->role ? strcmp(t->role, roles[r]) == 0 : i == r + 1) ins[r + 1] = snt_ox_name(x, n->in[i]);
    }
    if (!ins[r + 1]) {
      float *v = calloc((size_t)c, sizeof(float));
      if (!v) return SNT_ERR_NOMEM;
      for (int64_t k = 0; r == 0 && k < c; k++) v[k] = 1.0f;
      ins[r + 1] = snt_ox_const(x, roles[r], SNT_F32, 1, &c, v);
      free(v);
    }
  }
  int k = snt_ox_node(x, "BatchNormalization", n->name, 5, ins, snt_ox_name(x, n->out[0]));
  snt_ox_attr_float(x, k, "epsilon", (float)snt_node_float(n, "eps", 1e-3));
  snt_ox_attr_float(x, k, "momentum", (float)snt_node_float(n, "momentum", 0.99));
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

/* ---- training: batch statistics forward, their gradient; frozen layers keep the moving ones ---- */

static const char *param_ptr(snt_emit *e, const snt_node *n, const char *role) {
  int t = snt_node_param(e->g, n, role);
  return t >= 0 ? snt_emit_ptr(e, t) : "NULL";
}

static void dims3(const snt_graph *g, int x, int64_t *c, int64_t *inner) {
  const snt_tensor *t = &g->tensors[x];
  *c = t->dims[1];
  *inner = snt_tensor_numel(t) / t->dims[0] / t->dims[1];
}

/* out: y, batch mean, biased batch variance, 1/sqrt(var + eps). */
static snt_status emit_train(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  int64_t c, inner;
  dims3(e->g, n->in[0], &c, &inner);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_bn_train_forward_ctx(m->k, %s, %lld, %lld, %s, %s, %s, %sf, %d, %s, %s, %s, %s))) "
                "return snt_k_st_;", snt_emit_batch(e),
                (long long)c, (long long)inner, snt_emit_ptr(e, n->in[0]), param_ptr(e, n, "gamma"), param_ptr(e, n, "beta"),
                snt_emit_f64(e, (float)snt_node_float(n, "eps", 1e-3)), (int)snt_node_int(n, "relu", 0), snt_emit_ptr(e, n->out[0]),
                snt_emit_ptr(e, n->out[1]),
                snt_emit_ptr(e, n->out[2]), snt_emit_ptr(e, n->out[3]));
  return SNT_OK;
}

/* in: x, dy, mean, invstd (+ the forward node's gamma and beta); out: dx?, dgamma?, dbeta? by
 * attributes. A fused relu (BN then ReLU, one pass each way) masks dy where y was 0, which the
 * kernel recomputes from x: y is not read back. */
static snt_status emit_train_grad(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_node *f = snt_ad_fwd(e->g, n);
  int64_t c, inner;
  dims3(e->g, n->in[0], &c, &inner);
  int o = 0;
  const char *dx = snt_node_int(n, "want_dx", 0) ? snt_emit_ptr(e, n->out[o++]) : "NULL";
  const char *dg = snt_node_int(n, "want_dgamma", 0) ? snt_emit_ptr(e, n->out[o++]) : "NULL";
  const char *db = snt_node_int(n, "want_dbeta", 0) ? snt_emit_ptr(e, n->out[o++]) : "NULL";
  int relu = (int)snt_node_int(f, "relu", 0);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_bn_train_backward_ctx(m->k, %s, %lld, %lld, %s, %s, %s, %s, %s, %s, %d, %s, %s, "
                "%s))) return snt_k_st_;", snt_emit_batch(e),
                (long long)c, (long long)inner, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]), param_ptr(e, f, "gamma"),
                param_ptr(e, f, "beta"), snt_emit_ptr(e, n->in[2]), snt_emit_ptr(e, n->in[3]), relu, dx, dg, db);
  return SNT_OK;
}

/* A frozen layer in the gradient's path: dx = dy * gamma / sqrt(moving_variance + eps). */
static snt_status emit_frozen_grad(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_node *f = snt_ad_fwd(e->g, n);
  int64_t c, inner;
  dims3(e->g, n->in[0], &c, &inner);
  bool relu = snt_node_int(n, "relu", 0) && n->n_in > 1;
  snt_emit_line(e, "snt_k_bn_infer_backward(%s, %lld, %lld, %s, %s, %s, %s, %sf, %d, %s);", snt_emit_batch(e), (long long)c,
                (long long)inner, relu ? snt_emit_ptr(e, n->in[1]) : "NULL", snt_emit_ptr(e, n->in[0]), param_ptr(e, f, "gamma"),
                param_ptr(e, f, "moving_variance"), snt_emit_f64(e, (float)snt_node_float(f, "eps", 1e-3)), relu,
                snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

static const snt_arg_spec no_args[] = {{0}};
static snt_status grad(snt_ad *ad, int node);
static const snt_op batchnorm_train = {
    .name = "batchnorm_train", .type_name = "BatchNormalization", .default_layer = "batch_normalization",
    .doc = "batch normalisation on batch statistics (training)", .args = no_args, .emit = emit_train, .grad = grad};
static const snt_op batchnorm_train_grad = {.name = "batchnorm_train_grad", .type_name = "BatchNormGrad", .default_layer = "grad",
                                            .doc = "gradient of training-mode batchnorm", .args = no_args, .emit = emit_train_grad};
static const snt_op batchnorm_frozen_grad = {.name = "batchnorm_frozen_grad", .type_name = "BatchNormGrad", .default_layer = "grad",
                                             .doc = "gradient of inference-mode batchnorm", .args = no_args, .emit = emit_frozen_grad};

/* Unfrozen layers normalise with the batch's statistics and move their moving ones (the
 * layer's momentum when it differs from Keras's default, else the recipe's). */
static snt_status train(snt_ad *ad, int node) {
  snt_graph *g = ad->g;
  if (g->nodes[node].frozen) return SNT_OK;
  int x = g->nodes[node].in[0];
  int64_t c = g->tensors[x].dims[1];
  g->nodes[node].op = &batchnorm_train;
  int mean = snt_ad_output(ad, node, "batch_mean", SNT_F32, 1, &c);
  int var = mean >= 0 ? snt_ad_output(ad, node, "batch_variance", SNT_F32, 1, &c) : -1;
  int inv = var >= 0 ? snt_ad_output(ad, node, "invstd", SNT_F32, 1, &c) : -1;
  if (inv < 0) return SNT_ERR_NOMEM;
  double m = snt_node_float(&g->nodes[node], "momentum", 0.99);
  double momentum = m == 0.99 ? -1 : m;
  int pm = snt_node_param(g, &g->nodes[node], "moving_mean"), pv = snt_node_param(g, &g->nodes[node], "moving_variance");
  snt_status st = pm >= 0 ? snt_ad_add_stat(ad, pm, mean, momentum) : SNT_OK;
  if (!st && pv >= 0) st = snt_ad_add_stat(ad, pv, var, momentum);
  return st;
}

static snt_status grad(snt_ad *ad, int node) {
  snt_graph *g = ad->g;
  const snt_node *n = &g->nodes[node];
  int x = n->in[0], dy = snt_ad_grad(ad, n->out[0]);
  int gamma = snt_node_param(g, n, "gamma"), beta = snt_node_param(g, n, "beta");
  bool want_dx = snt_ad_needs(ad, x), want_g = gamma >= 0 && snt_ad_needs(ad, gamma), want_b = beta >= 0 && snt_ad_needs(ad, beta);
  snt_status st = SNT_OK;
  if (n->op != &batchnorm_train) { /* frozen */
    if (!want_dx) return SNT_OK;
    int fins[2] = {dy, n->out[0]}; /* the output masks dy when the layer's relu is fused */
    int b = snt_ad_node(ad, &batchnorm_frozen_grad, node, "grad", 2, fins);
    int dx = b >= 0 ? snt_ad_output_like(ad, b, x, "dx") : -1;
    return dx < 0 ? SNT_ERR_NOMEM : snt_ad_accumulate(ad, x, dx);
  }
  int ins[4] = {x, dy, n->out[1], n->out[3]};
  int b = snt_ad_node(ad, &batchnorm_train_grad, node, "grad", 4, ins);
  if (b < 0 || snt_node_set_int(&g->nodes[b], "want_dx", want_dx) || snt_node_set_int(&g->nodes[b], "want_dgamma", want_g) ||
      snt_node_set_int(&g->nodes[b], "want_dbeta", want_b))
    return SNT_ERR_NOMEM;
  int dx = want_dx ? snt_ad_output_like(ad, b, x, "dx") : 0;
  int dg = want_g ? snt_ad_output_like(ad, b, gamma, "dgamma") : 0;
  int db = want_b ? snt_ad_output_like(ad, b, beta, "dbeta") : 0;
  if (dx < 0 || dg < 0 || db < 0) return SNT_ERR_NOMEM;
  if (want_dx && (st = snt_ad_accumulate(ad, x, dx))) return st;
  if (want_g && (st = snt_ad_accumulate(ad, gamma, dg))) return st;
  if (want_b && (st = snt_ad_accumulate(ad, beta, db))) return st;
  return SNT_OK;
}

static const char *const roles[] = {NULL, "gamma", "beta", "moving_mean", "moving_variance", NULL};

static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  if (!snt_dsl_is_param(w->g, n, 1) || !snt_dsl_is_param(w->g, n, 4)) return snt_dsl_unsupported(w, n, "its statistics must be constants");
  fprintf(w->out, "  %s = batchnorm(%s, eps = %.9g, momentum = %.9g, name = %s)\n", lhs, in, snt_node_float(n, "eps", 1e-5),
          snt_node_float(n, "momentum", 0.9), snt_dsl_lit(w, n->name));
  return SNT_OK;
}

const snt_op snt_op_batchnorm = {
    .name = "batchnorm", .type_name = "BatchNormalization", .default_layer = "batch_normalization",
    .doc = "batch normalisation over channels: batchnorm(x, eps=0.001, momentum=0.99, center=true, scale=true)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .params = params, .infer = snt_batchnorm_infer,
    .onnx_type = "BatchNormalization", .onnx_import = onnx_import, .onnx_roles = roles, .onnx_export = onnx_export, .emit = emit, .to_dsl = to_dsl, .inplace = true,
    .batch_rows = snt_rows_first,
    .train = train, .grad = grad,
    .onnx_arity = {5, 5, 1, 5}, .types = SNT_TYPES_LOOP_F64(31)};
