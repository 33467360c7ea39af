/* Small graph edits the passes share. */
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

int snt_readers(const snt_graph *g, int t, int *first) {
  int count = 0;
  *first = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] == t) {
        if (*first < 0) *first = i;
        count++;
      }
  return count;
}

bool snt_same_dims(const snt_tensor *a, const snt_tensor *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

bool snt_param_private(const snt_graph *g, const snt_node *n, const char *role) {
  int t = snt_node_param(g, n, role), first;
  return t < 0 || (snt_readers(g, t, &first) == 1 && !snt_ir_is_output(g, t));
}

int snt_sole_reader(const snt_graph *g, int t) {
  int first;
  return snt_readers(g, t, &first) == 1 && !snt_ir_is_output(g, t) ? first : -1;
}

int snt_producer_of(const snt_graph *g, const bool *dead, int t, const snt_op *op) {
  int p = t >= 0 ? g->tensors[t].producer : -1;
  return p >= 0 && !(dead && dead[p]) && g->nodes[p].op == op && g->nodes[p].n_in >= 1 && g->nodes[p].n_out == 1 ? p : -1;
}

int snt_with_constant(const snt_graph *g, const bool *dead, int t, const snt_op *op, int *var, int *k) {
  int n = snt_producer_of(g, dead, t, op);
  if (n < 0 || g->nodes[n].n_in != 2) return -1;
  const int *in = g->nodes[n].in;
  if (snt_fixed(g, in[0]) == snt_fixed(g, in[1])) return -1;
  int side = snt_fixed(g, in[1]) ? 0 : 1;
  *var = in[side], *k = in[1 - side];
  return n;
}

void snt_clear_attrs(snt_node *n) {
  for (int a = 0; a < n->n_attrs; a++) {
    free(n->attrs[a].name);
    free(n->attrs[a].ints);
    free(n->attrs[a].floats);
    free(n->attrs[a].str);
  }
  n->n_attrs = 0;
}

void snt_replace_uses(snt_graph *g, int from, int to) {
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] == from) g->nodes[i].in[k] = to;
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == from) g->outputs[i] = to;
}

snt_status snt_remove_nodes(snt_graph *g, const bool *dead) {
  int *map = malloc(sizeof(int) * (size_t)(g->n_nodes + 1));
  if (!map) return SNT_ERR_NOMEM;
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (dead[i]) {
      snt_node *x = &g->nodes[i];
      free(x->name);
      free(x->in);
      free(x->out);
      for (int a = 0; a < x->n_attrs; a++) {
        free(x->attrs[a].name);
        free(x->attrs[a].ints);
        free(x->attrs[a].floats);
        free(x->attrs[a].str);
      }
      free(x->attrs);
      map[i] = -1;
    } else {
      map[i] = n;
      g->nodes[n++] = g->nodes[i];
    }
  }
  g->n_nodes = n;
  for (int t = 0; t < g->n_tensors; t++) {
    snt_tensor *x = &g->tensors[t];
    if (x->producer >= 0) x->producer = map[x->producer];
    if (x->owner >= 0) x->owner = map[x->owner];
  }
  free(map);
  return SNT_OK;
}
