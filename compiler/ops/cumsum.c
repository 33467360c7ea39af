/* cumsum (ONNX CumSum, opsets 11 and 14): running sums along an axis given as a constant INT32
 * or INT64 scalar input; exclusive leaves each element out of its own sum, reverse sums from the
 * end. Integers wrap (summed in unsigned); FLOAT16 and BFLOAT16 (opset 14) sum in float32. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"
#include "sinter/kernels_scatter.h"

static const snt_arg_spec args[] = {{"exclusive", SNT_ARG_BOOL, "false", NULL}, {"reverse", SNT_ARG_BOOL, "false", NULL}, {0}};

/* The constant axis input, normalised into *axis. */
static snt_status get_axis(snt_graph *g, snt_node *n, snt_diag *d, int rank, int64_t *axis) {
  int64_t a = 0;
  int c = 0;
  int r = snt_const_ints(g, n, 1, &a, &c, 1);
  if (r <= 0 || c != 1) return snt_node_error(g, n, d, "its axis must be a constant INT32 or INT64 scalar");
  *axis = a < 0 ? a + rank : a;
  if (*axis < 0 || *axis >= rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)a, rank);
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t axis = 0;
  if (x->rank < 1) return snt_node_error(g, n, d, "expects an input of rank 1 or more");
  snt_status st = get_axis(g, n, d, x->rank, &axis);
  if (st) return st;
  snt_set_output(g, node, 0, x->dtype, x->rank, x->dims);
  return snt_node_set_int(n, "_axis", axis);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t axis = snt_node_int(n, "_axis", 0), outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = (int)axis + 1; i < x->rank; i++) inner *= x->dims[i];
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_cumsum(%d, %s, %s, %s, %d, %d, %s, %s))) return snt_k_st_;", (int)x->dtype,
                snt_emit_i64(e, outer), snt_emit_i64(e, x->dims[axis]), snt_emit_i64(e, inner),
                snt_node_int(n, "exclusive", 0) != 0, snt_node_int(n, "reverse", 0) != 0, snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

static const snt_attr_range ranges[] = {{"exclusive", 0, 1}, {"reverse", 0, 1}, {0}};

const snt_op snt_op_cumsum = {
    .name = "cumsum", .type_name = "CumSum", .default_layer = "cumsum",
    .doc = "running sums along an axis (a constant input), optionally exclusive or from the end",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "CumSum", .onnx_const_inputs = 1u << 1,
    .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 2, 1, 1}, .onnx_ranges = ranges,
    .types = {.t = SNT_TY(SNT_F32) | SNT_TY(SNT_F64) | SNT_TY(SNT_I32) | SNT_TY(SNT_I64) | SNT_TY(SNT_U32) | SNT_TY(SNT_U64),
              .t_f32 = SNT_TY_FLOAT16S, .other = SNT_TY(SNT_I32) | SNT_TY(SNT_I64),
              .note = "integers wrap; FLOAT16 and BFLOAT16 summed in float32 and rounded back"},
    .no_export = "it has no DSL form, and sinter export-onnx writes DSL models only"};
