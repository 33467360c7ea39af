/* The model summary table. */
#include "compiler/summary.h"

#include <string.h>

#include "compiler/op.h"
#include "support/util.h"

double snt_graph_flops(const snt_graph *g) {
  double f = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op->flops) f += g->nodes[i].op->flops(g, &g->nodes[i]);
  return f;
}

/* Whether input i of n holds its parameters: the slots past the activations, or an ONNX
 * initializer the importer made this node's weight (Gemm's B and C, MatMul's B). */
static bool param_slot(const snt_graph *g, const snt_node *n, int i) {
  if (n->in[i] < 0) return false;
  const snt_tensor *t = &g->tensors[n->in[i]];
  return i >= n->n_act_in || (t->kind == SNT_T_PARAM && t->owner == (int)(n - g->nodes));
}

/* A node whose parameters train (a frozen node's, or BatchNorm's moving statistics, do not). */
static bool trains(const snt_graph *g, const snt_node *n) {
  if (n->frozen) return false;
  for (int i = 0; i < n->n_in; i++)
    if (param_slot(g, n, i) && g->tensors[n->in[i]].kind == SNT_T_PARAM && g->tensors[n->in[i]].trainable) return true;
  return false;
}

double snt_graph_trainable_flops(const snt_graph *g) {
  double f = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op->flops && trains(g, &g->nodes[i])) f += g->nodes[i].op->flops(g, &g->nodes[i]);
  return f;
}

static int64_t node_params(const snt_graph *g, const snt_node *n) {
  int64_t p = 0;
  for (int i = 0; i < n->n_in; i++)
    if (param_slot(g, n, i) && !snt_add_ok(p, snt_tensor_numel(&g->tensors[n->in[i]]), &p)) return INT64_MAX; /* never negative */
  return p;
}

static void rule(FILE *out, char c, int width) {
  for (int i = 0; i < width; i++) fputc(c, out);
  fputc('\n', out);
}

static void format_flops(char *buf, size_t size, double f) {
  const char *unit[] = {"", " K", " M", " G", " T"};
  int u = 0;
  while (f >= 1000 && u < 4) f /= 1000, u++;
  snprintf(buf, size, "%.*f%s", f >= 100 || u == 0 ? 0 : f >= 10 ? 1 : 2, f, unit[u]);
}

void snt_summary_print(const snt_graph *g, FILE *out) {
  int name_w = (int)strlen("Layer (type)");
  char buf[512];
  for (int i = 0; i < g->n_tensors; i++) {
    const snt_tensor *t = &g->tensors[i];
    if (t->kind == SNT_T_INPUT) {
      int w = snprintf(buf, sizeof buf, "%s (InputLayer)", t->name);
      if (w > name_w) name_w = w;
    }
  }
  for (int i = 0; i < g->n_nodes; i++) {
    int w = snprintf(buf, sizeof buf, "%s (%s)", g->nodes[i].name, g->nodes[i].op->type_name);
    if (w > name_w) name_w = w;
  }
  if (name_w > 80) name_w = 80;
  const int shape_w = 22, param_w = 12;
  int width = 1 + name_w + 2 + shape_w + param_w + 11;
  fprintf(out, "Model: \"%s\"\n", g->name);
  rule(out, '_', width);
  fprintf(out, " %-*s  %-*s%*s  Trainable\n", name_w, "Layer (type)", shape_w, "Output Shape", param_w, "Param #");
  rule(out, '=', width);
  char shape[160], params[32];
  for (int i = 0; i < g->n_inputs; i++) {
    const snt_tensor *t = &g->tensors[g->inputs[i]];
    snprintf(buf, sizeof buf, "%s (InputLayer)", t->name);
    snt_shape_str(shape, sizeof shape, t, 1);
    fprintf(out, " %-*s  %-*s%*s  %s\n", name_w, buf, shape_w, shape, param_w, "0", "-");
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const snt_node *n = &g->nodes[i];
    snprintf(buf, sizeof buf, "%s (%s)", n->name, n->op->type_name);
    snt_shape_str(shape, sizeof shape, &g->tensors[n->out[0]], 1);
    int64_t p = node_params(g, n);
    snt_format_thousands(params, sizeof params, p);
    fprintf(out, " %-*s  %-*s%*s  %s\n", name_w, buf, shape_w, shape, param_w, params,
            p == 0 ? "-" : n->frozen ? "no" : "yes");
  }
  rule(out, '=', width);
  char flops[32];
  double all = snt_graph_flops(g), trainable = snt_graph_trainable_flops(g);
  /* With frozen layers, what a training step's backward pass costs (bench/train uses it). */
  if (trainable < all) {
    format_flops(flops, sizeof flops, trainable);
    fprintf(out, "FLOPs of the layers that train (one forward pass): %s\n", flops);
  }
  format_flops(flops, sizeof flops, all);
  fprintf(out, "FLOPs (one forward pass, 2 x multiply-adds of conv and dense): %s\n", flops);
  snt_param_counts c = snt_ir_count_params(g);
  char a[32], b[32], d[32];
  snt_format_thousands(a, sizeof a, c.total);
  snt_format_thousands(b, sizeof b, c.trainable);
  snt_format_thousands(d, sizeof d, c.non_trainable);
  fprintf(out, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n", a, b, d);
}
