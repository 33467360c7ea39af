/* What compile and import check and add for a classifier: class names that match the output's
 * classes, and a softmax after an output of logits (--softmax). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/cli/cli.h"
#include "compiler/op.h"
#include "support/util.h"

/* "[2, 10]": a shape for messages. */
static void shape_text(const snt_tensor *t, char *buf, size_t size) {
  size_t at = (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < t->rank && at < size; i++)
    at += (size_t)snprintf(buf + at, size - at, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
  if (at < size) snprintf(buf + at, size - at, "]");
}

snt_status snt_cli_check_labels(const snt_graph *g, snt_diag *d, const char *from) {
  if (g->n_labels == 0) return SNT_OK;
  if (g->n_outputs != 1)
    return snt_diag_error(d, NULL, (snt_loc){0}, "%s: %d class names, but the model has %d outputs (class names name the classes of one output)",
                          from, g->n_labels, g->n_outputs);
  const snt_tensor *o = &g->tensors[g->outputs[0]];
  char shape[128];
  shape_text(o, shape, sizeof shape);
  if (o->rank != 2)
    return snt_diag_error(d, NULL, (snt_loc){0}, "%s: class names need an output of shape [batch, classes]; output '%s' is %s",
                          from, o->name, shape);
  if (o->dims[1] != g->n_labels)
    return snt_diag_error(d, NULL, (snt_loc){0}, "%s: %d class names for output '%s' of shape %s (%lld classes)", from,
                          g->n_labels, o->name, shape, (long long)o->dims[1]);
  return SNT_OK;
}

snt_status snt_cli_append_softmax(snt_graph *g, snt_diag *d, bool *added) {
  *added = false;
  if (g->n_outputs != 1)
    return snt_diag_error(d, NULL, (snt_loc){0}, "--softmax: the model has %d outputs; it applies to one output of logits",
                          g->n_outputs);
  int o = g->outputs[0], p = g->tensors[o].producer;
  if (p >= 0 && g->nodes[p].op == &snt_op_softmax) return SNT_OK; /* already probabilities */
  if (g->tensors[o].rank != 2 || g->tensors[o].dtype != SNT_F32) {
    char shape[128];
    shape_text(&g->tensors[o], shape, sizeof shape);
    return snt_diag_error(d, NULL, (snt_loc){0}, "--softmax: output '%s' is %s of %s; it needs FLOAT logits [batch, classes]",
                          g->tensors[o].name, shape, snt_dtype_name(g->tensors[o].dtype));
  }
  if (p < 0)
    return snt_diag_error(d, NULL, (snt_loc){0}, "--softmax: output '%s' is a graph input, not logits a node computes",
                          g->tensors[o].name);
  /* The graph's output keeps its name: the logits move to a new tensor the softmax reads. */
  char *name = snt_format("%s:logits", g->tensors[o].name);
  if (!name) return SNT_ERR_NOMEM;
  int n = snt_ir_add_node(g, &snt_op_softmax, "softmax_added", (snt_loc){0});
  int t = n >= 0 ? snt_ir_node_add_output(g, n, name) : -1;
  free(name);
  if (t < 0) return SNT_ERR_NOMEM;
  snt_tensor *logits = &g->tensors[t], *out = &g->tensors[o];
  logits->dtype = out->dtype, logits->rank = out->rank, logits->batched = out->batched;
  memcpy(logits->dims, out->dims, sizeof logits->dims);
  logits->producer = p, out->producer = n;
  g->nodes[n].out[0] = o;
  for (int k = 0; k < g->nodes[p].n_out; k++)
    if (g->nodes[p].out[k] == o) g->nodes[p].out[k] = t;
  for (int i = 0; i < n; i++) /* other readers of the logits keep reading them */
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] == o) g->nodes[i].in[k] = t;
  snt_status st = snt_ir_node_add_input(g, n, t);
  if (!st) st = snt_node_set_int(&g->nodes[n], "full_axis", 1);
  if (!st) st = g->nodes[n].op->infer(g, n, d);
  *added = !st;
  return st;
}
