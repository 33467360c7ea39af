/* constant_of_shape, range and size: tensors known at compile time from shapes and constant
 * scalars; they fold to constants (emit exists for completeness). */
#include <math.h>
#include <string.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"

static const snt_arg_spec no_args[] = {{0}};

/* ---- constant_of_shape: the importer stores the one-element `value` tensor attribute as
 * value_dtype and value_bits (its bytes); absent, it is FLOAT 0 ---- */

static snt_status cos_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int64_t dims[SNT_MAX_RANK], numel = 1;
  int c = 0;
  if (snt_const_ints(g, n, 0, dims, &c, SNT_MAX_RANK) <= 0)
    return snt_node_error(g, n, d, "needs its shape as a constant INT64 list of at most %d values", SNT_MAX_RANK);
  if (!snt_dims_numel(c, dims, &numel)) return snt_node_error(g, n, d, "the shape has a negative dimension or overflows");
  snt_dtype t = (snt_dtype)snt_node_int(n, "value_dtype", SNT_F32);
  if (!snt_dtype_name(t) || snt_dtype_size(t) == 0 || snt_dtype_size(t) > 8)
    return snt_node_error(g, n, d, "its value has an unsupported element type");
  snt_set_output(g, node, 0, t, c, dims);
  return SNT_OK;
}

static snt_status cos_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  size_t es = snt_dtype_size(e->g->tensors[n->out[0]].dtype);
  snt_emit_line(e, "{");
  snt_emit_line(e, "const uint64_t v = %lluULL;", (unsigned long long)snt_node_int(n, "value_bits", 0));
  snt_emit_line(e, "for (int64_t i = 0; i < %s; i++) memcpy((char *)%s + i * %zu, &v, %zu);",
                snt_emit_numel(e, n->out[0]), snt_emit_ptr(e, n->out[0]), es, es);
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* The value's bytes repeated (little-endian: its first es bytes are the element). */
static snt_status cos_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *o = snt_out(g, n, 0);
  size_t es = snt_dtype_size(o->dtype);
  uint64_t v = (uint64_t)snt_node_int(n, "value_bits", 0);
  for (int64_t i = 0; i < snt_tensor_numel(o); i++) memcpy((char *)y + (size_t)i * es, &v, es);
  return SNT_OK;
}

const snt_op snt_op_constant_of_shape = {
    .name = "constant_of_shape", .type_name = "ConstantOfShape", .default_layer = "constant_of_shape",
    .doc = "a tensor of the given constant shape filled with one value (ONNX's value attribute, FLOAT 0 by default)",
    .min_inputs = 1, .max_inputs = 1, .args = no_args, .infer = cos_infer, .onnx_type = "ConstantOfShape", .onnx_upto = 21,
    .onnx_const_inputs = 1u, .emit = cos_emit, .fold = cos_fold, .reads_shape_only = false, .no_dsl = SNT_NO_DSL_YET,
    .onnx_arity = {1, 1, 1, 1}, .types = {.t = SNT_TY(SNT_I64), .note = "the shape is INT64; the value any type"},
    .no_export = SNT_NO_EXPORT_YET};

/* ---- range (tensor_range: the DSL has a range builtin): start, start + delta, ... short of
 * limit; all three constant scalars ---- */

static bool range_type(snt_dtype t) { return t == SNT_F32 || t == SNT_F64 || t == SNT_I16 || t == SNT_I32 || t == SNT_I64; }

static double scalar(const snt_tensor *t) {
  switch (t->dtype) {
    case SNT_F32: return *(const float *)t->data;
    case SNT_F64: return *(const double *)t->data;
    case SNT_I16: return *(const int16_t *)t->data;
    case SNT_I32: return *(const int32_t *)t->data;
    default: return (double)*(const int64_t *)t->data;
  }
}

static snt_status range_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *in[3];
  for (int i = 0; i < 3; i++) {
    in[i] = snt_in(g, n, i);
    if (!in[i]->data || snt_tensor_numel(in[i]) != 1 || in[i]->dtype != in[0]->dtype || !range_type(in[i]->dtype))
      return snt_node_error(g, n, d, "start, limit and delta must be constant scalars of one type (FLOAT, DOUBLE, INT16, INT32 or INT64)");
  }
  double start = scalar(in[0]), limit = scalar(in[1]), delta = scalar(in[2]);
  if (delta == 0) return snt_node_error(g, n, d, "delta is 0");
  double count = ceil((limit - start) / delta);
  if (!(count < (double)SNT_MAX_ELEMENTS)) return snt_node_error(g, n, d, "the range has too many elements");
  int64_t len = count > 0 ? (int64_t)count : 0;
  snt_set_output(g, node, 0, in[0]->dtype, 1, &len);
  return SNT_OK;
}

static snt_status range_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *s = snt_in(g, n, 0), *dl = snt_in(g, n, 2), *o = snt_out(g, n, 0);
  for (int64_t i = 0; i < o->dims[0]; i++) {
    switch (o->dtype) {
      case SNT_F32: ((float *)y)[i] = *(const float *)s->data + (float)i * *(const float *)dl->data; break;
      case SNT_F64: ((double *)y)[i] = *(const double *)s->data + (double)i * *(const double *)dl->data; break;
      case SNT_I16: ((int16_t *)y)[i] = (int16_t)(*(const int16_t *)s->data + i * *(const int16_t *)dl->data); break;
      case SNT_I32: ((int32_t *)y)[i] = (int32_t)(uint32_t)((uint64_t)(int64_t) * (const int32_t *)s->data + (uint64_t)i * (uint64_t)(int64_t) * (const int32_t *)dl->data); break;
      default: ((int64_t *)y)[i] = (int64_t)((uint64_t) * (const int64_t *)s->data + (uint64_t)i * (uint64_t) * (const int64_t *)dl->data);
    }
  }
  return SNT_OK;
}

/* Always folded (its inputs are constants): the emitted code is the folded values' copy. */
static snt_status range_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *s = &e->g->tensors[n->in[0]], *dl = &e->g->tensors[n->in[2]];
  snt_emit_line(e, "for (int64_t i = 0; i < %s; i++) %s;", snt_emit_numel(e, n->out[0]),
                snt_emit_store(e, n->out[0], "i", snt_format_keep(e, "(%s + i * %s)", snt_emit_f64(e, scalar(s)), snt_emit_f64(e, scalar(dl)))));
  return SNT_OK;
}

const snt_op snt_op_range = {
    .name = "tensor_range", .type_name = "Range", .default_layer = "range",
    .doc = "start, start + delta, ... before limit, from constant scalars (folded at compile time)", .min_inputs = 3,
    .max_inputs = 3, .args = no_args, .infer = range_infer, .onnx_type = "Range", .onnx_const_inputs = 7u,
    .emit = range_emit, .fold = range_fold, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {3, 3, 1, 1},
    .types = {.t = SNT_TY(SNT_F32) | SNT_TY(SNT_F64) | SNT_TY(SNT_I16) | SNT_TY(SNT_I32) | SNT_TY(SNT_I64), .t_slots = 7u,
              .note = "folded at compile time"},
    .no_export = SNT_NO_EXPORT_YET};

/* ---- size (tensor_size, as tensor_shape): the element count as an INT64 scalar ---- */

static snt_status size_infer(snt_graph *g, int node, snt_diag *d) {
  (void)d;
  snt_set_output(g, node, 0, SNT_I64, 0, NULL);
  return SNT_OK;
}

static snt_status size_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_emit_line(e, "%s[0] = %s;", snt_emit_ptr(e, n->out[0]), snt_emit_i64(e, snt_tensor_numel(&e->g->tensors[n->in[0]])));
  return SNT_OK;
}

static snt_status size_fold(snt_graph *g, const snt_node *n, void *y) {
  *(int64_t *)y = snt_tensor_numel(snt_in(g, n, 0));
  return SNT_OK;
}

const snt_op snt_op_size = {
    .name = "tensor_size", .type_name = "Size", .default_layer = "size",
    .doc = "the element count of x as an INT64 scalar", .min_inputs = 1, .max_inputs = 1, .args = no_args,
    .infer = size_infer, .onnx_type = "Size", .onnx_upto = 21, .emit = size_emit, .fold = size_fold, .reads_shape_only = true,
    .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {1, 1, 1, 1}, .types = {.t = SNT_TY_ALL, .note = "reads the shape only"},
    .no_export = SNT_NO_EXPORT_YET};
