/* grid_sample: samples a [N, C, H, W] map at the normalised (x, y) points of a [N, H_out, W_out,
 * 2] grid (Spatial Transformer Networks), or a [N, C, D, H, W] volume at the (x, y, z) points of
 * a [N, D_out, H_out, W_out, 3] grid: ONNX GridSample-16 (maps only, by its spec) and -20.
 * Version 20 names the modes linear/nearest/cubic (16: bilinear/nearest/bicubic) and allows
 * N-D maps, of which sinter computes the 2-D and 3-D ones (as ONNX Runtime; its cubic is 2-D
 * only, sinter's also 3-D as the spec's N-cubic). runtime/kernels/grid_sample.c holds the rules. */
#include <string.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const char *const modes[] = {"linear", "nearest", "cubic", NULL}; /* snt_k_gs_mode order */
static const char *const pads[] = {"zeros", "border", "reflection", NULL}; /* snt_k_gs_pad order */
static const snt_arg_spec args[] = {{"mode", SNT_ARG_SYMBOL, "linear", modes},
                                    {"padding_mode", SNT_ARG_SYMBOL, "zeros", pads},
                                    {"align_corners", SNT_ARG_BOOL, "false", NULL},
                                    {0}};

static int index_of(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return i;
  return -1;
}

/* The kernel multiplies the spatial dims even beside an empty batch or channel axis (which
 * the element count stops at): the product of the non-zero ones must fit in int64_t. */
static bool spatial_fits(const int64_t *dims, int k) {
  int64_t p = 1;
  for (int i = 0; i < k; i++)
    if (dims[i] && !snt_mul_ok(p, dims[i], &p)) return false;
  return true;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0), *grid = snt_in(g, n, 1);
  if (index_of(modes, snt_node_string(n, "mode", "linear")) < 0)
    return snt_node_error(g, n, d, "mode '%s' is none of linear, nearest and cubic", snt_node_string(n, "mode", ""));
  int pad = index_of(pads, snt_node_string(n, "padding_mode", "zeros"));
  if (pad < 0)
    return snt_node_error(g, n, d, "padding_mode '%s' is none of zeros, border and reflection",
                          snt_node_string(n, "padding_mode", ""));
  if (x->rank != 4 && x->rank != 5)
    return snt_node_error(g, n, d, "the input has rank %d: sinter samples [N, C, H, W] maps and [N, C, D, H, W] volumes only",
                          x->rank);
  int sp = x->rank - 2;
  if (grid->rank != x->rank || grid->dims[0] != x->dims[0] || grid->dims[sp + 1] != sp) {
    char gs[SNT_MAX_RANK * 24 + 8];
    snt_shape_str(gs, sizeof gs, grid, 0);
    return snt_node_error(g, n, d, "the grid has shape %s, expected (%lld, %s, %d)", gs, (long long)x->dims[0],
                          sp == 2 ? "H_out, W_out" : "D_out, H_out, W_out", sp);
  }
  if (!spatial_fits(x->dims + 2, sp) || !spatial_fits(grid->dims + 1, sp))
    return snt_node_error(g, n, d, "the input's or the grid's spatial size overflows");
  int64_t dims[5] = {x->dims[0], x->dims[1], grid->dims[1], grid->dims[2], grid->dims[3]}; /* x->rank of them */
  int64_t in_vol = 1, out_n = 0;
  for (int i = 0; i < sp; i++) in_vol *= x->dims[2 + i];
  snt_dims_numel(x->rank, dims, &out_n);
  /* Border and reflection read the map's edge: an empty map has none (zeros samples 0). */
  if (in_vol == 0 && out_n > 0 && pad != SNT_K_GS_ZEROS)
    return snt_node_error(g, n, d, "padding_mode '%s' reads the edge of an empty %s", pads[pad], sp == 2 ? "map" : "volume");
  snt_set_output(g, node, 0, x->dtype, x->rank, dims);
  return SNT_OK;
}

/* Version 16's mode names become version 20's; its spec has 4-D inputs only. */
static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int rank = snt_in(g, n, 0)->rank;
  if (opset < 20 && rank != 4)
    return snt_node_error(g, n, d, "GridSample-16 samples 4-D inputs [N, C, H, W] only, and the input has rank %d "
                          "(volumes need opset 20)", rank);
  const char *m = snt_node_string(n, "mode", opset < 20 ? "bilinear" : "linear");
  const char *v16[] = {"bilinear", "nearest", "bicubic", NULL};
  int k = index_of(opset < 20 ? v16 : modes, m);
  if (k < 0)
    return snt_node_error(g, n, d, "GridSample-%d: mode '%s' is none of %s", opset < 20 ? 16 : 20, m,
                          opset < 20 ? "bilinear, nearest and bicubic" : "linear, nearest and cubic");
  return snt_node_set_string(n, "mode", modes[k]);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  int vol = x->rank == 5, s = vol ? 3 : 2; /* s: the first of H, W */
  snt_emit_line(e, "{");
  snt_emit_line(e, "  const snt_k_grid_sample p = {.mode = %d, .pad = %d, .align_corners = %d, .volumetric = %d, "
                   ".n = %lldLL, .c = %lldLL, .d = %lldLL, .h = %lldLL, .w = %lldLL, .d_out = %lldLL, .h_out = %lldLL, "
                   ".w_out = %lldLL};",
                index_of(modes, snt_node_string(n, "mode", "linear")), index_of(pads, snt_node_string(n, "padding_mode", "zeros")),
                snt_node_int(n, "align_corners", 0) != 0, vol, (long long)x->dims[0], (long long)x->dims[1],
                (long long)(vol ? x->dims[2] : 1), (long long)x->dims[s], (long long)x->dims[s + 1],
                (long long)(vol ? y->dims[2] : 1), (long long)y->dims[s], (long long)y->dims[s + 1]);
  snt_emit_line(e, "  snt_k_grid_sample_run(&p, %s, %s, %s);", snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]),
                snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static const snt_attr_range ranges[] = {{"align_corners", 0, 1}, {0}};

const snt_op snt_op_grid_sample = {
    .name = "grid_sample", .type_name = "GridSample", .default_layer = "grid_sample",
    .doc = "samples x at the normalised points of a grid: grid_sample(x, grid, mode=linear, padding_mode=zeros, align_corners=false)",
    .min_inputs = 2, .max_inputs = 2, .args = args, .infer = infer, .onnx_type = "GridSample", .onnx_import = onnx_import,
    .onnx_upto = 20, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 2, 1, 1}, .onnx_ranges = ranges,
    .types = {.t = SNT_TY(SNT_F32), .t_f32 = SNT_TY(SNT_F16) | SNT_TY(SNT_F64), .t_slots = 3u,
              .note = "float32 kernel: FLOAT16 and DOUBLE maps and grids (of one type) cast to float32 and back"},
    .no_export = SNT_NO_EXPORT_YET};
