/* Shared pieces of the ops' ONNX export rules. */
#include <string.h>

#include "compiler/onnx/export.h"
#include "compiler/ops/common.h"

static bool has_activation(const snt_node *n) {
  const char *a = snt_node_string(n, "activation", "none");
  return strcmp(a, "none") != 0 && strcmp(a, "linear") != 0;
}

const char *snt_ox_pre_activation(struct snt_onnx_export *x, const snt_graph *g, const snt_node *n) {
  (void)g;
  return has_activation(n) ? snt_ox_temp(x, n->name) : snt_ox_name(x, n->out[0]);
}

snt_status snt_ox_activation(struct snt_onnx_export *x, const snt_graph *g, const snt_node *n, const char *from) {
  if (!has_activation(n)) return SNT_OK;
  const char *a = snt_node_string(n, "activation", "none");
  const char *type = strcmp(a, "relu") == 0 ? "Relu" : strcmp(a, "sigmoid") == 0 ? "Sigmoid"
                   : strcmp(a, "tanh") == 0 ? "Tanh" : "Softmax";
  char name[512];
  snprintf(name, sizeof name, "%s/%s", n->name, a);
  int k = snt_ox_node(x, type, name, 1, &from, snt_ox_name(x, n->out[0]));
  if (type[1] == 'o') snt_ox_attr_int(x, k, "axis", 1); /* the channel or class axis */
  (void)g;
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

snt_status snt_ox_unary(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *in = snt_ox_name(x, n->in[0]);
  return snt_ox_node(x, n->op->onnx_type, n->name, 1, &in, snt_ox_name(x, n->out[0])) < 0 ? SNT_ERR_NOMEM : SNT_OK;
}
