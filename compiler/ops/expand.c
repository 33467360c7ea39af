/* expand and tile: the input repeated into a larger shape known at compile time (Expand's
 * shape and Tile's repeats are constant inputs), copied as strided views (strided.c). */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"
#include "sinter/kernels_shape.h"

static const snt_arg_spec expand_args[] = {{"shape", SNT_ARG_INTS, NULL, NULL}, {0}};
static const snt_arg_spec tile_args[] = {{"repeats", SNT_ARG_INTS, NULL, NULL}, {0}};

/* ---- expand: bidirectional (numpy) broadcasting of x against the shape ---- */

static snt_status expand_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t s[SNT_MAX_RANK], dims[SNT_MAX_RANK];
  int c = 0, r = snt_const_ints(g, n, 1, s, &c, SNT_MAX_RANK);
  if (r == 0) {
    const int64_t *a = snt_node_ints(n, "shape", &c);
    r = a && c <= SNT_MAX_RANK ? 1 : -1;
    for (int i = 0; r > 0 && i < c; i++) s[i] = a[i];
  }
  if (r < 0) return snt_node_error(g, n, d, "needs its shape as a constant INT64 list of at most %d values", SNT_MAX_RANK);
  int rank = c > x->rank ? c : x->rank;
  for (int i = 0; i < rank; i++) {
    int ix = i - (rank - x->rank), is = i - (rank - c);
    int64_t a = ix >= 0 ? x->dims[ix] : 1, b = is >= 0 ? s[is] : 1;
    if (b < 0 || (a != b && a != 1 && b != 1)) {
      char buf[128];
      snt_shape_str(buf, sizeof buf, x, 0);
      return snt_node_error(g, n, d, "cannot expand %s: dimension %lld does not broadcast to %lld", buf, (long long)a, (long long)b);
    }
    dims[i] = a == 1 ? b : a;
  }
  snt_set_output(g, node, 0, x->dtype, rank, dims);
  return SNT_OK;
}

/* x's element strides under y's dims: 0 along the axes x repeats. */
static void expand_view(const snt_tensor *x, const snt_tensor *y, int64_t *strides) {
  int64_t xs[SNT_MAX_RANK];
  snt_elem_strides(x, xs);
  for (int i = 0; i < y->rank; i++) {
    int ix = i - (y->rank - x->rank);
    strides[i] = ix >= 0 && x->dims[ix] != 1 ? xs[ix] : 0;
  }
}

static snt_status expand_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *y = &e->g->tensors[n->out[0]];
  int64_t strides[SNT_MAX_RANK];
  expand_view(&e->g->tensors[n->in[0]], y, strides);
  return snt_emit_strided(e, n->in[0], n->out[0], y->rank, y->dims, strides, 0);
}

static snt_status expand_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0), *o = snt_out(g, n, 0);
  int64_t strides[SNT_MAX_RANK];
  expand_view(x, o, strides);
  return snt_k_strided(snt_dtype_size(x->dtype), o->rank, o->dims, strides, 0, x->data, y);
}

const snt_op snt_op_expand = {
    .name = "expand", .type_name = "Expand", .default_layer = "expand",
    .doc = "x broadcast against a shape (numpy rules, either side may be 1): expand(x, shape)", .min_inputs = 1,
    .max_inputs = 1, .args = expand_args, .infer = expand_infer, .onnx_type = "Expand", .onnx_const_inputs = 1u << 1,
    .emit = expand_emit, .fold = expand_fold, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 2, 1, 1},
    .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE}, .no_export = SNT_NO_EXPORT_YET};

/* ---- tile: repeats per axis; Tile-1 repeats one axis (inputs tiles and axis) ---- */

static snt_status tile_repeats(snt_graph *g, snt_node *n, snt_diag *d, int rank, int64_t *rep) {
  int64_t v[SNT_MAX_RANK], axis = 0;
  int c = 0, r;
  if (snt_in_opt(g, n, 2)) { /* Tile-1 */
    int ca = 0;
    if (snt_const_ints(g, n, 1, v, &c, 1) <= 0 || c != 1 || snt_const_ints(g, n, 2, &axis, &ca, 1) <= 0 || ca != 1)
      return snt_node_error(g, n, d, "needs tiles and axis as constant scalars");
    if (axis < 0 || axis >= rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)axis, rank);
    for (int i = 0; i < rank; i++) rep[i] = i == axis ? v[0] : 1;
    c = rank;
  } else if ((r = snt_const_ints(g, n, 1, rep, &c, SNT_MAX_RANK)) == 0) {
    const int64_t *a = snt_node_ints(n, "repeats", &c);
    if (!a || c > SNT_MAX_RANK) return snt_node_error(g, n, d, "needs its repeats");
    for (int i = 0; i < c; i++) rep[i] = a[i];
  } else if (r < 0) {
    return snt_node_error(g, n, d, "needs its repeats as a constant INT64 list");
  }
  if (c != rank) return snt_node_error(g, n, d, "has %d repeats for rank %d", c, rank);
  for (int i = 0; i < rank; i++)
    if (rep[i] < 0) return snt_node_error(g, n, d, "repeat %lld is negative", (long long)rep[i]);
  return SNT_OK;
}

static snt_status tile_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int64_t rep[SNT_MAX_RANK], dims[SNT_MAX_RANK];
  snt_status st = tile_repeats(g, n, d, x->rank, rep);
  if (st) return st;
  for (int i = 0; i < x->rank; i++)
    if (!snt_mul_ok(x->dims[i], rep[i], &dims[i])) return snt_node_error(g, n, d, "the tiled size overflows");
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return snt_node_set_ints(n, "_repeats", x->rank, rep);
}

/* The output as [rep_0, d_0, rep_1, d_1, ...] over x: stride 0 along each repetition. */
static int tile_view(const snt_tensor *x, const snt_node *n, int64_t *dims, int64_t *strides) {
  int c = 0;
  const int64_t *rep = snt_node_ints(n, "_repeats", &c);
  int64_t xs[SNT_MAX_RANK];
  snt_elem_strides(x, xs);
  for (int i = 0; i < x->rank; i++) dims[2 * i] = rep[i], strides[2 * i] = 0, dims[2 * i + 1] = x->dims[i], strides[2 * i + 1] = xs[i];
  return 2 * x->rank;
}

static snt_status tile_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  int64_t dims[2 * SNT_MAX_RANK], strides[2 * SNT_MAX_RANK];
  int r = tile_view(&e->g->tensors[n->in[0]], n, dims, strides);
  return snt_emit_strided(e, n->in[0], n->out[0], r, dims, strides, 0);
}

static snt_status tile_fold(snt_graph *g, const snt_node *n, void *y) {
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t dims[2 * SNT_MAX_RANK], strides[2 * SNT_MAX_RANK];
  int r = tile_view(x, n, dims, strides);
  return snt_k_strided(snt_dtype_size(x->dtype), r, dims, strides, 0, x->data, y);
}

static snt_status tile_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if ((opset < 6) != (n->n_in == 3)) return snt_node_error(g, n, d, "Tile-%d takes %s", opset, opset < 6 ? "tiles and axis inputs" : "a repeats input");
  return SNT_OK;
}

const snt_op snt_op_tile = {
    .name = "tile", .type_name = "Tile", .default_layer = "tile",
    .doc = "x repeated along each axis: tile(x, repeats)", .min_inputs = 1, .max_inputs = 1, .args = tile_args,
    .infer = tile_infer, .onnx_type = "Tile", .onnx_import = tile_import, .onnx_const_inputs = 3u << 1,
    .emit = tile_emit, .fold = tile_fold, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 3, 1, 1},
    .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE}, .no_export = SNT_NO_EXPORT_YET};
