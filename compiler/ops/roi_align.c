/* roi_align (ONNX RoiAlign-10 and -16): bins of regions of interest sampled bilinearly from a
 * [N, C, H, W] map, averaged or maxed (detection heads). Version 10 has no
 * coordinate_transformation_mode (its output_half_pixel behaviour); 16 adds it, half_pixel by
 * default. runtime/kernels/roi_align.c computes, checking batch indices and rois at run time. */
#include <string.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const char *const modes[] = {"avg", "max", NULL};
static const snt_arg_spec args[] = {{"mode", SNT_ARG_SYMBOL, "avg", modes},
                                    {"output_height", SNT_ARG_INT, "1", NULL},
                                    {"output_width", SNT_ARG_INT, "1", NULL},
                                    {"sampling_ratio", SNT_ARG_INT, "0", NULL},
                                    {"spatial_scale", SNT_ARG_FLOAT, "1", NULL},
                                    {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0), *rois = snt_in(g, n, 1), *bi = snt_in(g, n, 2);
  const char *mode = snt_node_string(n, "mode", "avg");
  if (strcmp(mode, "avg") != 0 && strcmp(mode, "max") != 0) return snt_node_error(g, n, d, "mode '%s' is neither avg nor max", mode);
  if (x->rank != 4) return snt_node_error(g, n, d, "the input has rank %d, expected [N, C, H, W]", x->rank);
  if (rois->rank != 2 || rois->dims[1] != 4) {
    char s[SNT_MAX_RANK * 24 + 8];
    snt_shape_str(s, sizeof s, rois, 0);
    return snt_node_error(g, n, d, "rois has shape %s, expected (num_rois, 4)", s);
  }
  if (bi->dtype != SNT_I64 || bi->rank != 1 || bi->dims[0] != rois->dims[0])
    return snt_node_error(g, n, d, "batch_indices must be INT64 with one index per roi (%lld)", (long long)rois->dims[0]);
  int64_t dims[4] = {rois->dims[0], x->dims[1], snt_node_int(n, "output_height", 1), snt_node_int(n, "output_width", 1)};
  snt_set_output(g, node, 0, x->dtype, 4, dims);
  return SNT_OK;
}

static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const char *m = snt_node_string(n, "coordinate_transformation_mode", opset < 16 ? "output_half_pixel" : "half_pixel");
  if (strcmp(m, "half_pixel") != 0 && strcmp(m, "output_half_pixel") != 0)
    return snt_node_error(g, n, d, "coordinate_transformation_mode '%s' is neither half_pixel nor output_half_pixel", m);
  return snt_node_set_int(n, "half_pixel", strcmp(m, "half_pixel") == 0);
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]], *y = &e->g->tensors[n->out[0]];
  snt_emit_line(e, "{");
  snt_emit_line(e, "  const snt_k_roi_align p = {.max_mode = %d, .half_pixel = %d, .n = %lldLL, .c = %lldLL, "
                ".h = %lldLL, .w = %lldLL, .rois = %lldLL, .out_h = %lldLL, .out_w = %lldLL, .sampling_ratio = %lldLL, "
                ".spatial_scale = (float)%s};", strcmp(snt_node_string(n, "mode", "avg"), "max") == 0,
                (int)snt_node_int(n, "half_pixel", 1), (long long)x->dims[0], (long long)x->dims[1],
                (long long)x->dims[2], (long long)x->dims[3], (long long)y->dims[0], (long long)y->dims[2],
                (long long)y->dims[3], (long long)snt_node_int(n, "sampling_ratio", 0),
                snt_emit_f64(e, (float)snt_node_float(n, "spatial_scale", 1.0)));
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_roi_align_run(&p, %s, %s, %s, %s))) return snt_k_st_;", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->in[2]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static const snt_attr_range ranges[] = {
    {"output_height", 1, SNT_MAX_ATTR}, {"output_width", 1, SNT_MAX_ATTR}, {"sampling_ratio", 0, 65536}, {0}};

const snt_op snt_op_roi_align = {
    .name = "roi_align", .type_name = "RoiAlign", .default_layer = "roi_align",
    .doc = "bins of regions of interest sampled bilinearly, averaged or maxed: roi_align(x, rois, batch_indices)",
    .min_inputs = 3, .max_inputs = 3, .args = args, .infer = infer, .onnx_type = "RoiAlign", .onnx_import = onnx_import,
    .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {3, 3, 1, 1}, .onnx_ranges = ranges,
    .types = {.t = SNT_TY(SNT_F32), .t_f32 = SNT_TY(SNT_F16) | SNT_TY(SNT_F64), .t_slots = 3u, .other = SNT_TY(SNT_I64),
              .note = SNT_NOTE_KERNEL},
    .no_export = SNT_NO_EXPORT_YET};
