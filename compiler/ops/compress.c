/* compress (ONNX Compress-9 and -11): the slices along `axis` (or, without it, the elements of
 * the flattened input) whose condition is true. The output's size depends on the condition's
 * values, so the condition must be known when compiling (an initializer, a constant or, for
 * sinter run, a given input); it becomes a Gather with constant indices. */
#include <stdlib.h>
#include <string.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{"axis", SNT_ARG_INT, "0", NULL}, {0}};

/* The selection: outer x axis_len x inner view of x and the kept positions (count of them);
 * NULL on success, else why. idx may be NULL to count only. */
static const char *select_of(const snt_graph *g, const snt_node *n, int64_t *outer, int64_t *len, int64_t *inner,
                             int64_t *idx, int64_t *count) {
  const snt_tensor *x = &g->tensors[n->in[0]], *c = &g->tensors[n->in[1]];
  if (c->dtype != SNT_BOOL || c->rank != 1 || !c->data) return "the condition must be a 1-D BOOL known when compiling";
  if (c->dims[0] > SNT_MAX_ATTR) return "the condition has more than 16777216 values";
  bool has_axis = snt_node_attr(n, "axis") != NULL;
  int64_t axis = snt_node_int(n, "axis", 0);
  if (has_axis && (axis < -x->rank || axis >= x->rank)) return "axis is out of range for the input's rank";
  if (axis < 0) axis += x->rank;
  *outer = 1, *inner = 1, *len = snt_tensor_numel(x);
  if (has_axis) {
    *len = x->dims[axis];
    for (int i = 0; i < x->rank; i++) {
      if (i < axis) *outer *= x->dims[i];
      if (i > axis) *inner *= x->dims[i];
    }
  }
  if (c->dims[0] > *len) return "the condition is longer than the axis it selects along";
  *count = 0;
  for (int64_t i = 0; i < c->dims[0]; i++)
    if (((const uint8_t *)c->data)[i]) {
      if (idx) idx[*count] = i;
      (*count)++;
    }
  return NULL;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t outer, len, inner, count;
  const char *why = select_of(g, n, &outer, &len, &inner, NULL, &count);
  if (why) return snt_node_error(g, n, d, "%s", why);
  if (!snt_node_attr(n, "axis")) {
    snt_set_output(g, node, 0, x->dtype, 1, &count);
    return SNT_OK;
  }
  int64_t dims[SNT_MAX_RANK], axis = snt_node_int(n, "axis", 0);
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[axis < 0 ? axis + x->rank : axis] = count;
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *c = &e->g->tensors[n->in[1]];
  int64_t outer, len, inner, count;
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)(c->dims[0] + 1));
  if (!idx) return SNT_ERR_NOMEM;
  if (select_of(e->g, n, &outer, &len, &inner, idx, &count)) {
    free(idx);
    return SNT_ERR_INTERNAL;
  }
  snt_emit_line(e, "{");
  snt_emit_line(e, "  static const int64_t idx[] = %s;", snt_emit_ints(e, idx, (int)count));
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_gather(%zu, %lldLL, %lldLL, %lldLL, %s, %d, idx, %lldLL, %s))) return snt_k_st_;",
                snt_dtype_size(x->dtype), (long long)outer, (long long)len, (long long)inner, snt_emit_ptr(e, n->in[0]),
                (int)SNT_I64, (long long)count, snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  free(idx);
  return SNT_OK;
}

const snt_op snt_op_compress = {
    .name = "compress", .type_name = "Compress", .default_layer = "compress",
    .doc = "the slices along an axis (or elements) whose condition, known when compiling, is true",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "Compress", .onnx_const_inputs = 1u << 1,
    .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 2, 1, 1},
    .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_BOOL), .note = SNT_NOTE_MOVE}, .no_export = SNT_NO_EXPORT_YET};
