/* max_unpool (ONNX MaxUnpool, opsets 9 and 11): the inverse of MaxPool with Indices. The output
 * is zero but for x's values at the flat offsets its INT64 indices give (over the whole NCHW
 * unpooled tensor, as MaxPool's Indices are over its input), (in - 1) * stride + kernel - pads per
 * spatial axis. The optional output_shape input (a compile-time constant) follows the ONNX
 * reference and node suite: pads are ignored and the unpooled tensor sits at the output's
 * origin, zero-padded (ONNX Runtime instead takes the indices as offsets into output_shape). */
#include <string.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"
#include "sinter/kernels_scatter.h"

static const snt_arg_spec args[] = {{"kernel_shape", SNT_ARG_INTS, NULL, NULL},
                                    {"strides", SNT_ARG_INTS, "[]", NULL},
                                    {"pads", SNT_ARG_INTS, "[]", NULL},
                                    {0}};

/* The attribute's sp values (count sp, or `per` x sp for pads), def when absent. */
static snt_status spatial_ints(snt_graph *g, snt_node *n, snt_diag *d, const char *name, int count, int64_t def,
                               int64_t *out) {
  int c = 0;
  const int64_t *v = snt_node_ints(n, name, &c);
  if (v && c != count) return snt_node_error(g, n, d, "%s has %d values, want %d", name, c, count);
  for (int i = 0; i < count; i++) out[i] = v ? v[i] : def;
  return SNT_OK;
}

/* The output's dims, and into `in` the dims the indices address: computed from the window
 * (without pads when output_shape is given: the ONNX reference ignores them then), the output
 * that shape, or output_shape with that shape at its origin (each dim at least as large). */
static snt_status out_dims(snt_graph *g, snt_node *n, snt_diag *d, const snt_tensor *x, int64_t *in, int64_t *dims) {
  int sp = x->rank - 2, c = 0;
  int64_t k[SNT_MAX_RANK], s[SNT_MAX_RANK], p[2 * SNT_MAX_RANK], numel;
  snt_status st = spatial_ints(g, n, d, "kernel_shape", sp, 0, k);
  if (!st && !snt_node_attr(n, "kernel_shape")) return snt_node_error(g, n, d, "needs kernel_shape");
  if (!st) st = spatial_ints(g, n, d, "strides", sp, 1, s);
  if (!st) st = spatial_ints(g, n, d, "pads", 2 * sp, 0, p);
  if (st) return st;
  int r = snt_const_ints(g, n, 2, dims, &c, SNT_MAX_RANK);
  if (r < 0) return snt_node_error(g, n, d, "its output_shape must be a constant INT64 list of at most %d values", SNT_MAX_RANK);
  in[0] = x->dims[0], in[1] = x->dims[1];
  for (int i = 0; i < sp; i++) {
    /* attributes are capped at SNT_MAX_ATTR (onnx_ranges), dims by the size caps: no overflow */
    in[2 + i] = (x->dims[2 + i] - 1) * s[i] + k[i] - (r > 0 ? 0 : p[i] + p[sp + i]);
    if (in[2 + i] < 0) return snt_node_error(g, n, d, "the pads leave spatial axis %d a negative size", i);
  }
  if (r == 0) {
    memcpy(dims, in, sizeof(int64_t) * (size_t)x->rank);
    return SNT_OK;
  }
  if (c != x->rank) return snt_node_error(g, n, d, "output_shape has %d values for an input of rank %d", c, x->rank);
  if (!snt_dims_numel(c, dims, &numel)) return snt_node_error(g, n, d, "output_shape has a negative dimension or overflows");
  for (int i = 0; i < c; i++)
    if (dims[i] < in[i])
      return snt_node_error(g, n, d, "output_shape's dim %d (%lld) is below the unpooled size %lld", i, (long long)dims[i], (long long)in[i]);
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0), *ix = snt_in(g, n, 1);
  if (x->rank < 3) return snt_node_error(g, n, d, "expects an input of rank 3 or more (N, C, spatial...), got rank %d", x->rank);
  if (ix->dtype != SNT_I64) return snt_node_error(g, n, d, "its indices must be INT64");
  if (ix->rank != x->rank || memcmp(ix->dims, x->dims, sizeof(int64_t) * (size_t)x->rank) != 0)
    return snt_node_error(g, n, d, "its indices must have the input's shape");
  int64_t in[SNT_MAX_RANK], dims[SNT_MAX_RANK];
  snt_status st = out_dims(g, n, d, x, in, dims);
  if (st) return st;
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return snt_node_set_ints(n, "_unpooled", x->rank, in);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int c = 0;
  const int64_t *in = snt_node_ints(n, "_unpooled", &c);
  snt_emit_line(e, "{");
  snt_emit_line(e, "static const int64_t ud[] = %s, yd[] = %s;", snt_emit_ints(e, in, c), snt_emit_dims(e, n->out[0]));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_max_unpool(%zu, %d, ud, yd, %s, %s, %s, %s))) return snt_k_st_;", snt_dtype_size(x->dtype),
                c, snt_emit_i64(e, snt_tensor_numel(x)), snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]),
                snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (!snt_node_attr(n, "kernel_shape")) return snt_node_error(g, n, d, "needs kernel_shape (opset %d)", opset);
  return SNT_OK;
}

static const snt_attr_range ranges[] = {
    {"kernel_shape", 1, SNT_MAX_ATTR}, {"strides", 1, SNT_MAX_ATTR}, {"pads", 0, SNT_MAX_ATTR}, {0}};

const snt_op snt_op_max_unpool = {
    .name = "max_unpool", .type_name = "MaxUnpool", .default_layer = "max_unpool",
    .doc = "the inverse of max pooling: x's values at the flat output offsets of MaxPool's indices, zero elsewhere",
    .min_inputs = 2, .max_inputs = 2, .args = args, .infer = infer, .onnx_type = "MaxUnpool",
    .onnx_import = onnx_import, .onnx_const_inputs = 1u << 2, .emit = emit,
    .no_dsl = "it reads MaxPool's indices, which the DSL cannot name", .onnx_arity = {2, 3, 1, 1},
    .onnx_ranges = ranges,
    .types = {.t = SNT_TY(SNT_F32) | SNT_TY(SNT_F64) | SNT_TY(SNT_F16), .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE},
    .no_export = "it has no DSL form, and sinter export-onnx writes DSL models only"};
