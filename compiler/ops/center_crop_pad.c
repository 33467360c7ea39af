/* center_crop_pad (ONNX CenterCropPad-18): each listed axis (all by default) cropped or
 * zero-padded to the size in `shape` (known when compiling), centred: the extra element of an
 * odd difference goes to the end, as in the ONNX reference. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{"axes", SNT_ARG_INTS, "[]", NULL}, {0}};

/* y's dims and the per-axis offset into x; NULL on success, else why. */
static const char *geometry(snt_graph *g, const snt_node *n, int64_t *dims, int64_t *off) {
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t shape[SNT_MAX_RANK];
  int cnt = 0, na = 0;
  if (snt_const_ints(g, n, 1, shape, &cnt, SNT_MAX_RANK) != 1) return "shape must be a constant of at most 8 integers";
  const int64_t *axes = snt_node_ints(n, "axes", &na);
  if (na ? cnt != na : cnt != x->rank) return "shape has one size per axis in axes (all axes without them)";
  bool seen[SNT_MAX_RANK] = {false};
  for (int a = 0; a < x->rank; a++) dims[a] = x->dims[a], off[a] = 0;
  for (int i = 0; i < cnt; i++) {
    int64_t a = na ? axes[i] : i;
    if (a < 0) a += x->rank;
    if (a < 0 || a >= x->rank || seen[a]) return "an axis is out of range or repeated";
    if (shape[i] < 0 || shape[i] > SNT_MAX_ATTR) return "a size is negative or past 2^24";
    seen[a] = true;
    dims[a] = shape[i];
    off[a] = shape[i] < x->dims[a] ? (x->dims[a] - shape[i]) / 2 : -((shape[i] - x->dims[a]) / 2);
  }
  return NULL;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int64_t dims[SNT_MAX_RANK], off[SNT_MAX_RANK];
  const char *why = geometry(g, n, dims, off);
  if (why) return snt_node_error(g, n, d, "%s", why);
  snt_set_output(g, node, 0, snt_in(g, n, 0)->dtype, snt_in(g, n, 0)->rank, dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  int64_t dims[SNT_MAX_RANK], off[SNT_MAX_RANK];
  if (geometry((snt_graph *)e->g, n, dims, off)) return SNT_ERR_INTERNAL;
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  snt_emit_line(e, "{");
  snt_emit_line(e, "  static const int64_t xd[] = %s, yd[] = %s, off[] = %s;", snt_emit_dims(e, n->in[0]),
                snt_emit_ints(e, dims, x->rank), snt_emit_ints(e, off, x->rank));
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_shift_window(%zu, %d, xd, yd, off, %s, %s))) return snt_k_st_;", snt_dtype_size(x->dtype),
                x->rank, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

const snt_op snt_op_center_crop_pad = {
    .name = "center_crop_pad", .type_name = "CenterCropPad", .default_layer = "center_crop_pad",
    .doc = "each axis cropped or zero-padded to a size, centred: center_crop_pad(x, shape, axes=[])", .min_inputs = 1,
    .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "CenterCropPad", .onnx_upto = 18,
    .onnx_const_inputs = 1u << 1, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 2, 1, 1},
    .types = {.t = SNT_TY_ALL, .other = SNT_TY(SNT_I32) | SNT_TY(SNT_I64), .note = SNT_NOTE_MOVE},
    .no_export = SNT_NO_EXPORT_YET};
