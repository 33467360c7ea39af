/* Constant folding of shape arithmetic: a cheap, data-independent node whose value inputs
 * are all compile-time constants becomes a SNT_T_CONST tensor holding its result, so the
 * planner puts it in the weights blob and no code runs for it. Only shape-determining
 * inputs are ever bound at compile time: a node reading a graph input or a parameter (or
 * anything computed from one) is never evaluated here. This is the driver; each op's
 * evaluator is its record's fold rule, in its file under compiler/ops/, computing as the
 * emitted code does (the same kernels, the same C conversions), so folding never changes a
 * number. */
#include <stdlib.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"
#include "compiler/plan.h"

/* Larger results stay computed at run time rather than bloat the weights blob. */
enum { FOLD_MAX_BYTES = 1 << 20 };

static bool is_graph_input(const snt_graph *g, int t) {
  for (int i = 0; i < g->n_inputs; i++)
    if (g->inputs[i] == t) return true;
  return false;
}

/* A value known at compile time. A graph input the importer bound to a given value is not
 * one when a shape slot reads it directly (every other reader reads it at run time), but is
 * when it is `fixed`: a chain of nodes from it determines a shape, and the chain must fold. */
static bool known(const snt_graph *g, int t) {
  return t >= 0 && g->tensors[t].kind == SNT_T_CONST && g->tensors[t].data &&
         (!is_graph_input(g, t) || g->tensors[t].fixed);
}

/* Whether every input the node's values come from is known. Slots in onnx_const_inputs
 * (a reshape's shape, axes) only determined the output shape, already inferred.
 * An op that reads_shape_only (tensor_shape) reads no values, only its input's static
 * shape, and that holds for dim 0 of a batched input too: an inference executable always
 * runs the graph at its compiled batch (the driver pads a smaller batch with zeros up to it
 * and cuts the outputs back, threads split a larger one into copies compiled at g->batch:
 * runtime/driver/main.c, predict.c, model.c; `_run` is `_step` at g->batch). Only the
 * training step takes a shorter run-time batch, and its graphs do not go through this
 * pass; even there shape_emit writes the compiled dims, as folding does. */
static bool inputs_known(const snt_graph *g, const snt_node *n) {
  if (n->op->reads_shape_only) return true;
  for (int k = 0; k < n->n_in; k++) {
    bool shape_only = k < 32 && (n->op->onnx_const_inputs >> k) & 1u;
    if (!shape_only && !known(g, n->in[k])) return false;
  }
  return n->n_in > 0;
}

static bool foldable(const snt_graph *g, const snt_node *n) {
  if (n->n_out != 1 || !n->op->fold || !inputs_known(g, n)) return false;
  const snt_tensor *y = &g->tensors[n->out[0]];
  return y->kind == SNT_T_ACT && snt_dtype_size(y->dtype) > 0 && snt_tensor_bytes(y) <= FOLD_MAX_BYTES;
}

/* Evaluates node i into its output, which becomes a constant; *folded says whether it did. */
static snt_status fold_one(snt_graph *g, int i, bool *folded) {
  const snt_node *n = &g->nodes[i];
  *folded = false;
  if (!foldable(g, n)) return SNT_OK;
  snt_tensor *y = &g->tensors[n->out[0]];
  void *buf = calloc(snt_tensor_bytes(y) + 1, 1);
  if (!buf) return SNT_ERR_NOMEM;
  snt_status st = n->op->fold(g, n, buf);
  if (st) {
    free(buf);
    return st == SNT_ERR_INPUT ? SNT_OK : st;
  }
  y->kind = SNT_T_CONST;
  y->data = buf;
  y->producer = -1;
  *folded = true;
  return SNT_OK;
}

snt_status snt_fold_node(snt_graph *g, int node, bool *folded) {
  snt_status st = fold_one(g, node, folded);
  if (st || !*folded) return st;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  dead[node] = true;
  st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}

snt_status snt_pass_fold_constants(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  /* Sweeps in graph order reach a whole chain at once when the graph is ordered; the loop
   * catches the rest. Each fold turns one more node into a constant, so it ends. */
  for (bool again = true; again && !st;) {
    again = false;
    for (int i = 0; i < g->n_nodes && !st; i++) {
      bool folded = false;
      if (!dead[i]) st = fold_one(g, i, &folded);
      if (folded) dead[i] = again = true, (*changed)++;
    }
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
