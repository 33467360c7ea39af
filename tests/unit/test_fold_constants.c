/* Constant folding of shape arithmetic: graphs built as the ONNX importer builds them,
 * the graph after the pass (which nodes went, the constants' values checked by hand) and
 * the nodes that must stay (they read a graph input, a parameter, or cannot be folded). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/op.h"
#include "compiler/passes/passes.h"
#include "compiler/plan.h"

static int add_i64(snt_graph *g, const char *name, snt_tensor_kind kind, int rank, const int64_t *dims, const int64_t *v) {
  int t = snt_ir_add_tensor(g, name, kind, SNT_I64, rank, dims);
  if (t < 0) return -1;
  int64_t n = snt_tensor_numel(&g->tensors[t]);
  g->tensors[t].data = malloc(sizeof(int64_t) * (size_t)(n + 1));
  if (!g->tensors[t].data) return -1;
  if (v) memcpy(g->tensors[t].data, v, sizeof(int64_t) * (size_t)n);
  else for (int64_t i = 0; i < n; i++) ((int64_t *)g->tensors[t].data)[i] = i;
  return t;
}

static int scalar(snt_graph *g, const char *name, int64_t v) { return add_i64(g, name, SNT_T_CONST, 0, NULL, &v); }

/* A node of op `op` reading ins[], with one output named `name` (activation slots as the
 * importer counts them); returns the node. Attributes go on before infer(). */
static int add(snt_graph *g, const char *op, const char *name, const int *ins, int n) {
  const snt_op *o = snt_op_find(op);
  int node = o ? snt_ir_add_node(g, o, name, (snt_loc){0}) : -1;
  for (int k = 0; node >= 0 && k < n; k++)
    if (snt_ir_node_add_input(g, node, ins[k])) return -1;
  if (node < 0 || snt_ir_node_add_output(g, node, name) < 0) return -1;
  snt_node *nd = &g->nodes[node];
  nd->n_act_in = o->max_inputs < 0 || o->max_inputs > n ? n : o->max_inputs;
  return node;
}

/* Shape inference of node `node`; its output tensor, or -1. */
static int infer(snt_graph *g, int node, snt_diag *d) {
  if (node < 0 || g->nodes[node].op->infer(g, node, d)) return -1;
  return g->nodes[node].out[0];
}

static int op1(snt_graph *g, snt_diag *d, const char *op, const char *name, int a) { return infer(g, add(g, op, name, &a, 1), d); }
static int op2(snt_graph *g, snt_diag *d, const char *op, const char *name, int a, int b) {
  int ins[2] = {a, b};
  return infer(g, add(g, op, name, ins, 2), d);
}

/* concat along axis 0 (the attribute must be there before inference). */
static int concat0(snt_graph *g, snt_diag *d, const char *name, int a, int b) {
  int node = add(g, "concat", name, (int[]){a, b}, 2);
  if (node < 0 || snt_node_set_int(&g->nodes[node], "axis", 0)) return -1;
  return infer(g, node, d);
}

static const char *ops(const snt_graph *g, char *buf, size_t size) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < g->n_nodes && o < size; i++) o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? " " : "", g->nodes[i].op->name);
  return buf;
}

static bool values(const snt_graph *g, int t, const int64_t *want, int n) {
  const snt_tensor *x = &g->tensors[t];
  if (x->kind != SNT_T_CONST || x->dtype != SNT_I64 || snt_tensor_numel(x) != n) return false;
  return memcmp(x->data, want, sizeof(int64_t) * (size_t)n) == 0;
}

static int image_input(snt_graph *g) {
  int64_t dims[4] = {2, 3, 4, 5};
  int x = snt_ir_add_tensor(g, "x", SNT_T_INPUT, SNT_F32, 4, dims);
  if (x < 0 || snt_ir_mark_input(g, x)) return -1;
  g->tensors[x].batched = true;
  g->batch = 2;
  return x;
}

/* Shape -> Gather -> Mul -> Div -> Cast and Shape -> Gather -> Unsqueeze -> Concat fold;
 * everything that reads a graph input (also one bound to a value), a parameter, or divides
 * by zero stays. */
static void test_pass(test_state *ts, snt_diag *d) {
  char buf[256];
  snt_graph *g = snt_ir_create("m");
  int x = image_input(g), three = 3;
  int64_t idx[3] = {1, 2, 3}, four = 4, minus1 = -1, kv[3] = {1, 1, 1};
  int s = op1(g, d, "tensor_shape", "s", x);
  int hw = op2(g, d, "gather", "hw", s, add_i64(g, "i123", SNT_T_CONST, 1, (int64_t[]){3}, idx));
  int p = op2(g, d, "mul", "p", hw, scalar(g, "two", 2));
  int q = op2(g, d, "div", "q", p, add_i64(g, "four", SNT_T_CONST, 1, (int64_t[]){1}, &four));
  int cn = add(g, "cast", "qf", &q, 1);
  snt_node_set_int(&g->nodes[cn], "to", SNT_F32);
  int qf = infer(g, cn, d);
  int n0 = op2(g, d, "gather", "n0", s, scalar(g, "zero_ix", 0));
  int un = add(g, "unsqueeze", "u", &n0, 1);
  snt_node_set_ints(&g->nodes[un], "axes", 1, (int64_t[]){0});
  int u = infer(g, un, d);
  int c = concat0(g, d, "c", u, add_i64(g, "m1", SNT_T_CONST, 1, (int64_t[]){1}, &minus1));
  CHECK(ts, c >= 0 && g->tensors[c].dims[0] == 2);
  /* The negative cases. */
  int k = add_i64(g, "k", SNT_T_INPUT, 1, (int64_t[]){3}, kv);
  snt_ir_mark_input(g, k);
  int kc = add_i64(g, "kc", SNT_T_CONST, 1, (int64_t[]){3}, kv); /* a given input the importer made constant */
  snt_ir_mark_input(g, kc);
  int w = add_i64(g, "w", SNT_T_PARAM, 1, &(int64_t){three}, kv);
  int bad1 = op2(g, d, "add", "bad1", hw, k);
  int bad2 = op2(g, d, "mul", "bad2", bad1, scalar(g, "two2", 2));
  int bad3 = op2(g, d, "sub", "bad3", hw, kc);
  int bad4 = op2(g, d, "add", "bad4", hw, w);
  int bad5 = op2(g, d, "div", "bad5", hw, scalar(g, "zero", 0));
  int y = op1(g, d, "relu", "y", x);
  int outs[] = {qf, c, bad2, bad3, bad4, bad5, y};
  for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) CHECK(ts, outs[i] >= 0 && !snt_ir_mark_output(g, outs[i]));

  int changed = 0;
  CHECK_INT(ts, snt_pass_fold_constants(g, d, &changed), SNT_OK);
  CHECK_INT(ts, changed, 8);
  CHECK_STR(ts, ops(g, buf, sizeof buf), "add mul sub add div relu");
  /* Shape of the batched input is the compiled one: dim 0 is the batch, 2. */
  CHECK(ts, values(g, s, (int64_t[]){2, 3, 4, 5}, 4));
  CHECK(ts, values(g, hw, (int64_t[]){3, 4, 5}, 3));
  CHECK(ts, values(g, p, (int64_t[]){6, 8, 10}, 3));
  CHECK(ts, values(g, q, (int64_t[]){1, 2, 2}, 3)); /* integer division truncates */
  CHECK(ts, values(g, c, (int64_t[]){2, -1}, 2));
  const float *qv = g->tensors[qf].data;
  CHECK(ts, g->tensors[qf].kind == SNT_T_CONST && g->tensors[qf].dtype == SNT_F32 && qv[0] == 1 && qv[1] == 2 && qv[2] == 2);
  int tensors[] = {bad1, bad2, bad3, bad4, bad5, y};
  for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) CHECK_INT(ts, g->tensors[tensors[i]].kind, SNT_T_ACT);
  CHECK_INT(ts, g->tensors[k].kind, SNT_T_INPUT);

  /* Constant outputs live in the weights blob; only the six nodes left are scheduled. */
  snt_plan plan;
  CHECK_INT(ts, snt_plan_build(g, d, &plan), SNT_OK);
  CHECK_INT(ts, plan.n_order, 6);
  CHECK_INT(ts, plan.places[qf].kind, SNT_PLACE_WEIGHTS);
  CHECK_INT(ts, plan.places[c].kind, SNT_PLACE_WEIGHTS);
  CHECK_INT(ts, plan.places[bad2].kind, SNT_PLACE_OUTPUT);
  snt_plan_free(&plan);
  changed = 0;
  CHECK_INT(ts, snt_pass_fold_constants(g, d, &changed), SNT_OK);
  CHECK_INT(ts, changed, 0);
  snt_ir_destroy(g);
}

/* As the importer would call it after each node's inference: Reshape's shape, computed
 * from Shape, is a constant by the time the Reshape is inferred. */
static void test_import_hook(test_state *ts, snt_diag *d) {
  char buf[128];
  snt_graph *g = snt_ir_create("m");
  int x = image_input(g);
  bool folded = false;
  int s = op1(g, d, "tensor_shape", "s", x);
  CHECK_INT(ts, snt_fold_node(g, g->n_nodes - 1, &folded), SNT_OK);
  CHECK(ts, folded);
  int n0 = op2(g, d, "gather", "n0", s, scalar(g, "i0", 0));
  CHECK_INT(ts, snt_fold_node(g, g->n_nodes - 1, &folded), SNT_OK);
  int un = add(g, "unsqueeze", "u", &n0, 1);
  snt_node_set_ints(&g->nodes[un], "axes", 1, (int64_t[]){0});
  int u = infer(g, un, d);
  CHECK_INT(ts, snt_fold_node(g, un, &folded), SNT_OK);
  int c = concat0(g, d, "c", u, add_i64(g, "m1", SNT_T_CONST, 1, (int64_t[]){1}, (int64_t[]){-1}));
  CHECK_INT(ts, snt_fold_node(g, g->n_nodes - 1, &folded), SNT_OK);
  CHECK(ts, folded && values(g, c, (int64_t[]){2, -1}, 2));
  CHECK_INT(ts, g->n_nodes, 0);
  int r = op2(g, d, "reshape", "r", x, c);
  CHECK(ts, r >= 0 && g->tensors[r].rank == 2 && g->tensors[r].dims[0] == 2 && g->tensors[r].dims[1] == 60);
  /* The reshape reads the graph input: it stays. */
  CHECK_INT(ts, snt_fold_node(g, g->n_nodes - 1, &folded), SNT_OK);
  CHECK(ts, !folded);
  CHECK_STR(ts, ops(g, buf, sizeof buf), "reshape");
  snt_ir_destroy(g);
}

/* Results over 1 MiB, indices out of range and an int32 overflow stay computed at run
 * time; a shape range and float arithmetic fold exactly as the emitted C computes them. */
static void test_limits(test_state *ts, snt_diag *d) {
  char buf[128];
  snt_graph *g = snt_ir_create("m");
  int x = image_input(g);
  int64_t big = 70000, small = 1000, bad_ix = 7;
  int a = add_i64(g, "a", SNT_T_CONST, 1, &big, NULL), b = add_i64(g, "b", SNT_T_CONST, 1, &big, NULL);
  int sa = add_i64(g, "sa", SNT_T_CONST, 1, &small, NULL);
  int huge = concat0(g, d, "huge", a, b); /* 1.12 MB */
  int fine = concat0(g, d, "fine", sa, sa);
  int out_of_range = op2(g, d, "gather", "oor", sa, add_i64(g, "ix", SNT_T_CONST, 1, (int64_t[]){1}, (int64_t[]){small + bad_ix}));
  int sn = add(g, "tensor_shape", "mid", &x, 1);
  snt_node_set_int(&g->nodes[sn], "start", 1);
  snt_node_set_int(&g->nodes[sn], "end", -1);
  int mid = infer(g, sn, d);
  int f1 = snt_ir_add_tensor(g, "f1", SNT_T_CONST, SNT_F32, 1, (int64_t[]){2});
  int f3 = snt_ir_add_tensor(g, "f3", SNT_T_CONST, SNT_F32, 0, NULL);
  g->tensors[f1].data = malloc(8), g->tensors[f3].data = malloc(4);
  ((float *)g->tensors[f1].data)[0] = 1, ((float *)g->tensors[f1].data)[1] = 3, *(float *)g->tensors[f3].data = 3;
  int fq = op2(g, d, "div", "fq", f1, f3);
  int i32 = snt_ir_add_tensor(g, "i32", SNT_T_CONST, SNT_I32, 0, NULL);
  g->tensors[i32].data = malloc(4);
  *(int32_t *)g->tensors[i32].data = INT32_MAX;
  int ovf = op2(g, d, "add", "ovf", i32, i32);
  /* int64 to float rounds once: through double this value would round the other way. */
  int64_t tricky = (INT64_C(1) << 54) + (INT64_C(1) << 30) + 1;
  int cn = add(g, "cast", "cf", (int[]){scalar(g, "tricky", tricky)}, 1);
  snt_node_set_int(&g->nodes[cn], "to", SNT_F32);
  int cf = infer(g, cn, d);
  int outs[] = {huge, fine, out_of_range, mid, fq, ovf, cf};
  for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) CHECK(ts, outs[i] >= 0 && !snt_ir_mark_output(g, outs[i]));
  int changed = 0;
  CHECK_INT(ts, snt_pass_fold_constants(g, d, &changed), SNT_OK);
  CHECK_INT(ts, changed, 4);
  CHECK_STR(ts, ops(g, buf, sizeof buf), "concat gather add");
  CHECK_INT(ts, g->tensors[fine].kind, SNT_T_CONST);
  CHECK_INT(ts, ((int64_t *)g->tensors[fine].data)[small + 5], 5);
  CHECK(ts, values(g, mid, (int64_t[]){3, 4}, 2));
  volatile float one = 1, three = 3; /* the quotient as float arithmetic gives it */
  const float *fv = g->tensors[fq].data;
  CHECK(ts, g->tensors[fq].kind == SNT_T_CONST && fv[0] == one / three && fv[1] == 1);
  volatile int64_t t = tricky;
  CHECK(ts, g->tensors[cf].kind == SNT_T_CONST && *(float *)g->tensors[cf].data == (float)t &&
                *(float *)g->tensors[cf].data != (float)(double)t);
  snt_ir_destroy(g);
}

/* The whole pipeline: a Shape is all an activation's producer fed, so it goes too; the
 * graph output, now a constant, is still an output. */
static void test_pipeline(test_state *ts, snt_diag *d) {
  snt_graph *g = snt_ir_create("m");
  int x = image_input(g);
  int r = op1(g, d, "relu", "r", x);
  int s = op1(g, d, "tensor_shape", "s", r);
  CHECK(ts, s >= 0 && !snt_ir_mark_output(g, s));
  CHECK_INT(ts, snt_passes_inference(g, d), SNT_OK);
  CHECK_INT(ts, g->n_nodes, 0);
  CHECK(ts, g->n_outputs == 1 && g->outputs[0] == s && values(g, s, (int64_t[]){2, 3, 4, 5}, 4));
  snt_plan plan;
  CHECK_INT(ts, snt_plan_build(g, d, &plan), SNT_OK);
  CHECK_INT(ts, plan.places[s].kind, SNT_PLACE_WEIGHTS); /* copied to out[0] by passthrough_outputs */
  snt_plan_free(&plan);
  snt_ir_destroy(g);
}

int main(void) {
  test_state ts = {0};
  snt_diag *d = snt_diag_create();
  test_pass(&ts, d);
  test_import_hook(&ts, d);
  test_limits(&ts, d);
  test_pipeline(&ts, d);
  CHECK_INT(&ts, snt_diag_error_count(d), 0);
  snt_diag_destroy(d);
  return test_report("test_fold_constants", &ts);
}
