/* slice and split: strided views of the input along some axes, known at compile time. Slice
 * reads starts/ends/axes as attributes in opset 1 and as constant inputs (with steps) from 10;
 * Split reads `split` as an attribute (or input) before 13 and as an input from 13. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"
#include "sinter/kernels_shape.h"

static const snt_arg_spec slice_args[] = {{"starts", SNT_ARG_INTS, NULL, NULL}, {"ends", SNT_ARG_INTS, NULL, NULL},
                                          {"axes", SNT_ARG_INTS, "[]", NULL}, {"steps", SNT_ARG_INTS, "[]", NULL}, {0}};
static const snt_arg_spec split_args[] = {{"axis", SNT_ARG_INT, "0", NULL}, {"split", SNT_ARG_INTS, "[]", NULL}, {0}};

/* The list at input `slot` or else attribute `name`; *count -1 when neither is given. */
static snt_status list_arg(snt_graph *g, snt_node *n, snt_diag *d, int slot, const char *name, int64_t *v, int *count) {
  *count = -1;
  int r = snt_const_ints(g, n, slot, v, count, SNT_MAX_RANK);
  if (r < 0) return snt_node_error(g, n, d, "its %s must be a constant INT32 or INT64 list of at most %d values", name, SNT_MAX_RANK);
  if (r > 0) return SNT_OK;
  const int64_t *a = snt_node_ints(n, name, count);
  if (!a) return *count = -1, SNT_OK;
  if (*count > SNT_MAX_RANK) return snt_node_error(g, n, d, "its %s has more than %d values", name, SNT_MAX_RANK);
  for (int i = 0; i < *count; i++) v[i] = a[i];
  return SNT_OK;
}

/* One axis of a slice, clamped as ONNX says: the first index, and the count taken. */
static void slice_axis(int64_t dim, int64_t s, int64_t e, int64_t step, int64_t *start, int64_t *len) {
  if (s < 0) s += dim;
  if (e < 0) e += dim;
  if (step > 0) {
    s = s < 0 ? 0 : s > dim ? dim : s;
    e = e < 0 ? 0 : e > dim ? dim : e;
    *len = e > s ? 1 + (e - s - 1) / step : 0;
  } else {
    s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
    e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
    *len = s > e ? 1 + (s - e - 1) / (step == INT64_MIN ? INT64_MAX : -step) : 0;
  }
  *start = *len ? s : 0;
}

static snt_status slice_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t st[SNT_MAX_RANK], en[SNT_MAX_RANK], ax[SNT_MAX_RANK], sp[SNT_MAX_RANK];
  int ns, ne, na, np;
  snt_status s;
  if ((s = list_arg(g, n, d, 1, "starts", st, &ns)) || (s = list_arg(g, n, d, 2, "ends", en, &ne)) ||
      (s = list_arg(g, n, d, 3, "axes", ax, &na)) || (s = list_arg(g, n, d, 4, "steps", sp, &np)))
    return s;
  if (ns < 0 || ne < 0) return snt_node_error(g, n, d, "needs starts and ends");
  if (ne != ns || (na >= 0 && na != ns) || (np >= 0 && np != ns))
    return snt_node_error(g, n, d, "starts, ends, axes and steps must have the same length");
  int64_t start[SNT_MAX_RANK], step[SNT_MAX_RANK], dims[SNT_MAX_RANK];
  bool seen[SNT_MAX_RANK] = {0};
  for (int a = 0; a < x->rank; a++) start[a] = 0, step[a] = 1, dims[a] = x->dims[a];
  for (int i = 0; i < ns; i++) {
    int64_t a = na >= 0 ? ax[i] : i, k = np >= 0 ? sp[i] : 1;
    if (a < 0) a += x->rank;
    if (a < 0 || a >= x->rank || seen[a]) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d or repeated", (long long)(na >= 0 ? ax[i] : i), x->rank);
    if (k == 0) return snt_node_error(g, n, d, "a step is 0");
    seen[a] = true, step[a] = k;
    slice_axis(x->dims[a], st[i], en[i], k, &start[a], &dims[a]);
  }
  snt_status e1 = snt_node_set_ints(n, "_start", x->rank, start);
  if (e1 || (e1 = snt_node_set_ints(n, "_step", x->rank, step))) return e1;
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return SNT_OK;
}

/* The view of the output in the input: element strides and the first element. */
static void slice_view(const snt_graph *g, const snt_node *n, int64_t *strides, int64_t *offset) {
  const snt_tensor *x = &g->tensors[n->in[0]];
  int c = 0;
  const int64_t *start = snt_node_ints(n, "_start", &c), *step = snt_node_ints(n, "_step", &c);
  int64_t xs[SNT_MAX_RANK];
  snt_elem_strides(x, xs);
  *offset = 0;
  for (int a = 0; a < x->rank; a++) strides[a] = step[a] * xs[a], *offset += start[a] * xs[a];
}

static snt_status slice_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *y = &e->g->tensors[n->out[0]];
  int64_t strides[SNT_MAX_RANK], off;
  slice_view(e->g, n, strides, &off);
  return snt_emit_strided(e, n->in[0], n->out[0], y->rank, y->dims, strides, off);
}

static snt_status slice_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0), *o = snt_out(g, n, 0);
  int64_t strides[SNT_MAX_RANK], off;
  slice_view(g, n, strides, &off);
  return snt_k_strided(snt_dtype_size(x->dtype), o->rank, o->dims, strides, off, x->data, y);
}

/* Opset 1 has the attributes, 10 on the inputs; one form only. */
static snt_status slice_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (opset < 10 && (n->n_in > 1 || !snt_node_attr(n, "starts") || !snt_node_attr(n, "ends")))
    return snt_node_error(g, n, d, "Slice-1 takes starts and ends as attributes (inputs from opset 10)");
  if (opset >= 10 && (n->n_in < 3 || n->in[1] < 0 || n->in[2] < 0))
    return snt_node_error(g, n, d, "Slice-%d takes starts and ends as inputs", opset);
  return SNT_OK;
}

const snt_op snt_op_slice = {
    .name = "slice", .type_name = "Slice", .default_layer = "slice",
    .doc = "a strided part of x: slice(x, starts, ends, axes=[], steps=[]) (negative indices count from the end)",
    .min_inputs = 1, .max_inputs = 1, .args = slice_args, .infer = slice_infer, .onnx_type = "Slice",
    .onnx_import = slice_import, .onnx_const_inputs = 0x1eu, .emit = slice_emit, .fold = slice_fold,
    .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {1, 5, 1, 1},
    .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I32) | SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE},
    .no_export = SNT_NO_EXPORT_YET};

/* ---- split ---- */

static snt_status split_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t axis = snt_node_int(n, "axis", 0), sizes[64], sum = 0;
  if (axis < 0) axis += x->rank;
  if (axis < 0 || axis >= x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)snt_node_int(n, "axis", 0), x->rank);
  if (n->n_out > 64) return snt_node_error(g, n, d, "more than 64 outputs");
  int c = -1, r = snt_const_ints(g, n, 1, sizes, &c, 64);
  if (r < 0) return snt_node_error(g, n, d, "its split must be a constant INT64 list of at most 64 values");
  const int64_t *a = r ? NULL : snt_node_ints(n, "split", &c);
  for (int i = 0; a && i < c && i < 64; i++) sizes[i] = a[i];
  if (c < 0 || (c == 0 && !r)) { /* equal parts */
    if (x->dims[axis] % n->n_out)
      return snt_node_error(g, n, d, "cannot split %lld along axis %lld into %d equal parts", (long long)x->dims[axis], (long long)axis, n->n_out);
    c = n->n_out;
    for (int i = 0; i < c; i++) sizes[i] = x->dims[axis] / n->n_out;
  }
  if (c != n->n_out) return snt_node_error(g, n, d, "split has %d sizes for %d outputs", c, n->n_out);
  for (int i = 0; i < c; i++) {
    if (sizes[i] < 0 || !snt_add_ok(sum, sizes[i], &sum)) return snt_node_error(g, n, d, "split size %d is negative", i + 1);
    int64_t dims[SNT_MAX_RANK];
    for (int k = 0; k < x->rank; k++) dims[k] = k == axis ? sizes[i] : x->dims[k];
    snt_set_output(g, node, i, x->dtype, x->rank, dims);
  }
  if (sum != x->dims[axis]) return snt_node_error(g, n, d, "the split sizes add up to %lld, not %lld", (long long)sum, (long long)x->dims[axis]);
  return snt_node_set_int(n, "_axis", axis);
}

static snt_status split_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t axis = snt_node_int(n, "_axis", 0), xs[SNT_MAX_RANK], off = 0;
  snt_elem_strides(x, xs);
  for (int i = 0; i < n->n_out; i++) {
    const snt_tensor *y = &e->g->tensors[n->out[i]];
    snt_status st = snt_emit_strided(e, n->in[0], n->out[i], y->rank, y->dims, xs, off);
    if (st) return st;
    off += y->dims[axis] * xs[axis];
  }
  return SNT_OK;
}

/* Split-18's num_outputs: parts of ceil(dim / num_outputs), the last one smaller. */
static snt_status split_num_outputs(snt_graph *g, snt_node *n, snt_diag *d, int opset) {
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t k = snt_node_int(n, "num_outputs", 0), axis = snt_node_int(n, "axis", 0);
  if (n->n_in > 1) return snt_node_error(g, n, d, "takes the split input or num_outputs, not both (opset %d)", opset);
  if (k != n->n_out) return snt_node_error(g, n, d, "num_outputs is %lld but the node has %d outputs (opset %d)", (long long)k, n->n_out, opset);
  if (axis < -x->rank || axis >= x->rank) return SNT_OK; /* split_infer names the bad axis */
  int64_t dim = x->dims[axis < 0 ? axis + x->rank : axis], chunk = (dim + k - 1) / k, sizes[64];
  for (int64_t i = 0; i < k; i++) {
    sizes[i] = dim - i * chunk < chunk ? dim - i * chunk : chunk;
    if (sizes[i] < 0) sizes[i] = 0;
  }
  if (k > 1 && sizes[k - 1] == 0)
    return snt_node_error(g, n, d, "cannot split %lld along axis %lld into %lld parts of %lld (opset %d)", (long long)dim,
                          (long long)axis, (long long)k, (long long)chunk, opset);
  return snt_node_set_ints(n, "split", (int)k, sizes);
}

/* Split-1 and -2 take `split` as an attribute or an input, 11 as an attribute, 13 as an input;
 * 18 adds num_outputs. */
static snt_status split_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (opset >= 2 && opset < 13 && n->n_in > 1) return snt_node_error(g, n, d, "Split-%d takes split as an attribute, not an input", opset);
  if (opset >= 18 && snt_node_attr(n, "num_outputs") && n->n_out <= 64) return split_num_outputs(g, n, d, opset);
  return SNT_OK;
}

const snt_op snt_op_split = {
    .name = "split", .type_name = "Split", .default_layer = "split",
    .doc = "parts of x along an axis (equal unless sizes are given): split(x, axis=0, split=[])",
    .min_inputs = 1, .max_inputs = 1, .args = split_args, .infer = split_infer, .onnx_type = "Split",
    .onnx_import = split_import, .onnx_upto = 18, .onnx_const_inputs = 1u << 1, .emit = split_emit,
    .no_dsl = "it has several outputs, which the DSL cannot name", .onnx_arity = {1, 2, 1, 64},
    .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE}, .no_export = SNT_NO_EXPORT_YET};
