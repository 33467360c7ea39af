/* Graph passes: the graph after each pass, and the folded numbers against a direct
 * computation of BatchNorm(conv) on the same weights. */
#include <math.h>

#include "check.h"
#include "compiler/passes/passes.h"
#include "compiler/weights.h"
#include "lower_util.h"

static const char *model =
    "model m {\n input x: [2, 6, 6]\n y = conv2d(x, 3, 3, bias = false)\n y = batchnorm(y)\n y = relu(y)\n"
    " y = dropout(y, 0.5)\n y = flatten(y)\n z = dense(y, 4)\n z = batchnorm(z)\n output o = sigmoid(z)\n}";

static snt_graph *build(char *err, size_t size) {
  snt_graph *g = lower_text(model, NULL, err, size);
  if (!g) return NULL;
  snt_weights_init(g, 7);
  /* Statistics that make folding do something. */
  for (int t = 0; t < g->n_tensors; t++) {
    snt_tensor *p = &g->tensors[t];
    if (p->kind != SNT_T_PARAM || p->role[0] == 'k') continue;
    float *v = p->data;
    for (int64_t i = 0; i < snt_tensor_numel(p); i++) v[i] = p->role[0] == 'm' && p->role[7] == 'v' ? 0.5f + 0.25f * (float)i : 0.1f * (float)(i + 1);
  }
  return g;
}

static const char *ops(const snt_graph *g, char *buf, size_t size) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < g->n_nodes && o < size; i++) o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? " " : "", g->nodes[i].op->name);
  return buf;
}

int main(void) {
  test_state ts = {0};
  char err[256], buf[512];
  snt_diag *d = snt_diag_create();
  snt_graph *g = build(err, sizeof err);
  CHECK(&ts, g != NULL);
  if (!g) return test_report("test_passes", &ts);
  CHECK_STR(&ts, ops(g, buf, sizeof buf), "conv2d batchnorm relu dropout flatten dense batchnorm sigmoid");
  int changed = 0;
  CHECK_INT(&ts, snt_pass_drop_identity(g, d, &changed), SNT_OK);
  CHECK_STR(&ts, ops(g, buf, sizeof buf), "conv2d batchnorm relu flatten dense batchnorm sigmoid");
  CHECK_INT(&ts, changed, 1);

  /* Folding: the conv's new kernel and bias must equal BN(conv) computed directly. */
  const snt_node *conv = &g->nodes[0], *bn = &g->nodes[1];
  const float *w0 = g->tensors[conv->in[1]].data;
  float w_before[3 * 2 * 9];
  memcpy(w_before, w0, sizeof w_before);
  float gamma[3], beta[3], mean[3], var[3];
  memcpy(gamma, g->tensors[bn->in[1]].data, sizeof gamma);
  memcpy(beta, g->tensors[bn->in[2]].data, sizeof beta);
  memcpy(mean, g->tensors[bn->in[3]].data, sizeof mean);
  memcpy(var, g->tensors[bn->in[4]].data, sizeof var);
  changed = 0;
  CHECK_INT(&ts, snt_pass_fold_batchnorm(g, d, &changed), SNT_OK);
  CHECK_INT(&ts, changed, 2);
  CHECK_STR(&ts, ops(g, buf, sizeof buf), "conv2d relu flatten dense sigmoid");
  const snt_node *c2 = &g->nodes[0];
  CHECK_INT(&ts, c2->n_in, 3); /* a bias appeared */
  const float *w1 = g->tensors[c2->in[1]].data, *b1 = g->tensors[c2->in[2]].data;
  double worst = 0;
  for (int o = 0; o < 3; o++) {
    double s = gamma[o] / sqrt(var[o] + 1e-3);
    for (int i = 0; i < 18; i++) worst = fmax(worst, fabs(w1[o * 18 + i] - w_before[o * 18 + i] * s));
    worst = fmax(worst, fabs(b1[o] - (beta[o] - mean[o] * s)));
  }
  CHECK(&ts, worst < 1e-6);
  CHECK_STR(&ts, g->tensors[c2->out[0]].name, "batch_normalization");

  changed = 0;
  CHECK_INT(&ts, snt_pass_fuse_activation(g, d, &changed), SNT_OK);
  CHECK_STR(&ts, ops(g, buf, sizeof buf), "conv2d flatten dense");
  CHECK_STR(&ts, snt_node_string(&g->nodes[0], "activation", ""), "relu");
  CHECK_STR(&ts, snt_node_string(&g->nodes[2], "activation", ""), "sigmoid");
  CHECK_INT(&ts, g->tensors[g->outputs[0]].producer, 2);

  changed = 0;
  CHECK_INT(&ts, snt_pass_dead_nodes(g, d, &changed), SNT_OK);
  CHECK_INT(&ts, changed, 0);
  /* A layer whose result nobody reads goes; the output stays. */
  snt_graph *h = lower_text("model m {\n input x: [2, 4, 4]\n unused = relu(x)\n output o = sigmoid(x)\n}", NULL, err, sizeof err);
  CHECK(&ts, h != NULL);
  if (h) {
    CHECK_INT(&ts, snt_pass_dead_nodes(h, d, &changed), SNT_OK);
    CHECK_INT(&ts, changed, 1);
    CHECK_STR(&ts, ops(h, buf, sizeof buf), "sigmoid");
  }
  snt_ir_destroy(h);

  /* A residual add joins the conv; a BatchNorm after it must then stay (BN(conv + r) is not
   * a folded conv plus r), and a zero pad before a conv becomes its padding. */
  h = lower_text("model m {\n input x: [2, 4, 4]\n a = conv2d(pad(x, 1), 2, 3)\n s = add(x, a)\n"
                 " output o = batchnorm(s)\n}", NULL, err, sizeof err);
  CHECK(&ts, h != NULL);
  if (h) {
    snt_weights_init(h, 1);
    changed = 0;
    CHECK_INT(&ts, snt_pass_fold_pad(h, d, &changed), SNT_OK);
    CHECK_STR(&ts, ops(h, buf, sizeof buf), "conv2d add batchnorm");
    int n = 0;
    const int64_t *p = snt_node_ints(&h->nodes[0], "resolved_pads", &n);
    CHECK(&ts, p && n == 4 && p[0] == 1 && p[1] == 1 && p[2] == 1 && p[3] == 1);
    CHECK_INT(&ts, snt_pass_fuse_residual(h, d, &changed), SNT_OK);
    CHECK_STR(&ts, ops(h, buf, sizeof buf), "conv2d batchnorm");
    CHECK_INT(&ts, snt_node_int(&h->nodes[0], "residual", 0), 1);
    CHECK_INT(&ts, snt_pass_fold_batchnorm(h, d, &changed), SNT_OK);
    CHECK_STR(&ts, ops(h, buf, sizeof buf), "conv2d batchnorm");
  }
  snt_ir_destroy(h);

  /* Preprocessing folds into the first conv: a scale always, an offset only without padding. */
  h = lower_text("model m {\n input x: [3, 5, 5]\n output o = conv2d(rescale(x, 1 / 255), 2, 3, padding = same)\n}",
                 NULL, err, sizeof err);
  if (h) {
    snt_weights_init(h, 3);
    float before = ((float *)h->tensors[h->nodes[1].in[1]].data)[4];
    changed = 0;
    CHECK_INT(&ts, snt_pass_fold_rescale(h, d, &changed), SNT_OK);
    CHECK_STR(&ts, ops(h, buf, sizeof buf), "conv2d");
    CHECK(&ts, fabsf(((float *)h->tensors[h->nodes[0].in[1]].data)[4] - before / 255) < 1e-9f);
  }
  snt_ir_destroy(h);
  h = lower_text("model m {\n input x: [3, 5, 5]\n output o = conv2d(rescale(x, 2, -1), 2, 3, padding = same)\n}",
                 NULL, err, sizeof err);
  if (h) {
    snt_weights_init(h, 3);
    changed = 0;
    CHECK_INT(&ts, snt_pass_fold_rescale(h, d, &changed), SNT_OK);
    CHECK_STR(&ts, ops(h, buf, sizeof buf), "rescale conv2d");
  }
  snt_ir_destroy(h);
  snt_ir_destroy(g);
  snt_diag_destroy(d);
  return test_report("test_passes", &ts);
}
