/* affine_grid (ONNX AffineGrid-20): the sampling grid of an affine map per sample, for
 * GridSample. theta [N, 2, 3] (2-D) or [N, 3, 4] (3-D); size, known when compiling, is the map's
 * [N, C, H, W] or [N, C, D, H, W]; the grid is [N, H, W, 2] or [N, D, H, W, 3] of theta times the
 * normalised coordinates (x, y[, z], 1): with align_corners -1 and 1 at the corner pixels'
 * centres (linspace; one point sits at 1, as in ONNX Runtime), else at their outer edges
 * ((2i + 1) / L - 1). */
#include "compiler/codegen/loops.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"

static const snt_arg_spec args[] = {{"align_corners", SNT_ARG_BOOL, "false", NULL}, {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *theta = snt_in(g, n, 0);
  int64_t size[5];
  int cnt = 0;
  if (snt_const_ints(g, n, 1, size, &cnt, 5) != 1 || (cnt != 4 && cnt != 5))
    return snt_node_error(g, n, d, "size must be a constant of 4 or 5 integers ([N, C, H, W] or [N, C, D, H, W])");
  int sp = cnt - 2;
  if (theta->rank != 3 || theta->dims[1] != sp || theta->dims[2] != sp + 1 || theta->dims[0] != size[0]) {
    char ts[SNT_MAX_RANK * 24 + 8];
    snt_shape_str(ts, sizeof ts, theta, 0);
    return snt_node_error(g, n, d, "theta has shape %s, expected (%lld, %d, %d) for a size of %d values", ts, (long long)size[0],
                          sp, sp + 1, cnt);
  }
  int64_t dims[5] = {size[0]};
  for (int i = 0; i < sp; i++) {
    if (size[2 + i] < 1 || size[2 + i] > SNT_MAX_ATTR)
      return snt_node_error(g, n, d, "size value %lld is out of range (1 to %lld)", (long long)size[2 + i], (long long)SNT_MAX_ATTR);
    dims[1 + i] = size[2 + i];
  }
  dims[1 + sp] = sp;
  snt_set_output(g, node, 0, theta->dtype, sp + 2, dims);
  return SNT_OK;
}

/* The normalised coordinate of index i along an axis of L points, as a C expression. */
static const char *coord(snt_emit *e, const char *i, int64_t len, bool align) {
  if (align) return len == 1 ? "1.0" /* as ONNX Runtime (Eigen LinSpaced of one point: the end) */ : snt_format_keep(e, "(-1.0 + %s * (2.0 / %lld))", i, (long long)(len - 1));
  return snt_format_keep(e, "((2.0 * %s + 1.0) / %lld - 1.0)", i, (long long)len);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *y = &e->g->tensors[n->out[0]];
  int sp = y->rank - 2;
  bool align = snt_node_int(n, "align_corners", 0) != 0;
  const char *ct = snt_compute_ctype(y->dtype);
  int64_t d = sp == 3 ? y->dims[1] : 1, h = y->dims[sp == 3 ? 2 : 1], w = y->dims[sp == 3 ? 3 : 2];
  snt_emit_line(e, "for (int64_t b = 0; b < %lldLL; b++)", (long long)y->dims[0]);
  snt_emit_line(e, "  for (int64_t k = 0; k < %lldLL; k++) {", (long long)(d * h * w));
  snt_emit_line(e, "    const int64_t iz = k / %lldLL, iy = k / %lldLL %% %lldLL, ix = k %% %lldLL;", (long long)(h * w),
                (long long)w, (long long)h, (long long)w);
  snt_emit_line(e, "    const %s c[4] = {(%s)%s, (%s)%s, (%s)%s, 1};", ct, ct, coord(e, "ix", w, align), ct, coord(e, "iy", h, align),
                ct, sp == 3 ? coord(e, "iz", d, align) : "1"); /* (x, y, 1) or (x, y, z, 1) */
  snt_emit_line(e, "    for (int r = 0; r < %d; r++) {", sp);
  snt_emit_line(e, "      %s v = c[%d] * %s;", ct, sp, snt_emit_load(e, n->in[0], snt_format_keep(e, "(b * %d + r) * %d + %d", sp, sp + 1, sp)));
  snt_emit_line(e, "      for (int j = 0; j < %d; j++) v += %s * c[j];", sp,
                snt_emit_load(e, n->in[0], snt_format_keep(e, "(b * %d + r) * %d + j", sp, sp + 1)));
  snt_emit_line(e, "      %s;", snt_emit_store(e, n->out[0], snt_format_keep(e, "(b * %lldLL + k) * %d + r", (long long)(d * h * w), sp), "v"));
  snt_emit_line(e, "    }");
  snt_emit_line(e, "  }");
  return SNT_OK;
}

static const snt_attr_range ranges[] = {{"align_corners", 0, 1}, {0}};

const snt_op snt_op_affine_grid = {
    .name = "affine_grid", .type_name = "AffineGrid", .default_layer = "affine_grid",
    .doc = "the GridSample grid of an affine map per sample: affine_grid(theta, size, align_corners=false)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "AffineGrid", .onnx_upto = 20,
    .onnx_const_inputs = 1u << 1, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 2, 1, 1},
    .onnx_ranges = ranges, .types = SNT_TYPES_LOOP_F64(1), .no_export = SNT_NO_EXPORT_YET};
