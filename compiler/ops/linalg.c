/* reverse_sequence (ONNX ReverseSequence-10: per batch index, the first sequence_lens[b]
 * elements along the time axis reversed; lengths read at run time and checked there) and det
 * (Det-11: determinants of the trailing square matrices). runtime/kernels/linalg.c computes. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const snt_arg_spec rs_args[] = {{"batch_axis", SNT_ARG_INT, "1", NULL}, {"time_axis", SNT_ARG_INT, "0", NULL}, {0}};
static const snt_arg_spec no_args[] = {{0}};

static snt_status rs_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0), *lens = snt_in(g, n, 1);
  int64_t ba = snt_node_int(n, "batch_axis", 1), ta = snt_node_int(n, "time_axis", 0);
  if (x->rank < 2) return snt_node_error(g, n, d, "the input has rank %d, expected 2 or more", x->rank);
  if ((ba != 0 && ba != 1) || (ta != 0 && ta != 1) || ba == ta)
    return snt_node_error(g, n, d, "batch_axis %lld and time_axis %lld must be 0 and 1 in either order", (long long)ba, (long long)ta);
  if (lens->dtype != SNT_I64 || lens->rank != 1 || lens->dims[0] != x->dims[ba])
    return snt_node_error(g, n, d, "sequence_lens must be INT64 with one length per batch index (%lld)", (long long)x->dims[ba]);
  return snt_infer_same(g, node, d);
}

static snt_status rs_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  snt_emit_line(e, "{");
  snt_emit_line(e, "  static const int64_t dims[] = %s;", snt_emit_dims(e, n->in[0]));
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_reverse_sequence(%zu, %d, dims, %d, %d, %s, %s, %s))) return snt_k_st_;",
                snt_dtype_size(x->dtype), x->rank, (int)snt_node_int(n, "batch_axis", 1), (int)snt_node_int(n, "time_axis", 0),
                snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

const snt_op snt_op_reverse_sequence = {
    .name = "reverse_sequence", .type_name = "ReverseSequence", .default_layer = "reverse_sequence",
    .doc = "per batch index, the first sequence_lens[b] elements along the time axis reversed", .min_inputs = 2,
    .max_inputs = 2, .args = rs_args, .infer = rs_infer, .onnx_type = "ReverseSequence", .emit = rs_emit,
    .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 2, 1, 1},
    .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE}, .no_export = SNT_NO_EXPORT_YET};

static snt_status det_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0);
  if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2]) {
    char s[SNT_MAX_RANK * 24 + 8];
    snt_shape_str(s, sizeof s, x, 0);
    return snt_node_error(g, n, d, "the input has shape %s, expected [..., M, M]", s);
  }
  snt_set_output(g, node, 0, x->dtype, x->rank - 2, x->dims);
  return SNT_OK;
}

static snt_status det_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t m = x->dims[x->rank - 1];
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_det(%lldLL, %lldLL, %s, %s))) return snt_k_st_;", (long long)(m > 0 ? snt_tensor_numel(x) / (m * m) : snt_tensor_numel(&e->g->tensors[n->out[0]])),
                (long long)m, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  return SNT_OK;
}

const snt_op snt_op_det = {
    .name = "det", .type_name = "Det", .default_layer = "det", .doc = "determinants of the trailing square matrices: det(x)",
    .min_inputs = 1, .max_inputs = 1, .args = no_args, .infer = det_infer, .onnx_type = "Det", .emit = det_emit,
    .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {1, 1, 1, 1}, .types = SNT_TYPES_KERNEL(0),
    .no_export = SNT_NO_EXPORT_YET};
