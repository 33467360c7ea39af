/* col2im (ONNX Col2Im-18): the sliding blocks of an im2col matrix [N, C * prod(block_shape), L]
 * summed back into an image [N, C, image_shape...] (1 to 3 spatial dims); image_shape and
 * block_shape known when compiling; strides, dilations and pads as a convolution's. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/const_ints.h"
#include "sinter/kernels.h"

static const snt_arg_spec args[] = {{"dilations", SNT_ARG_INTS, "[]", NULL}, {"pads", SNT_ARG_INTS, "[]", NULL},
                                    {"strides", SNT_ARG_INTS, "[]", NULL}, {0}};

/* One of dilations/strides (default 1) or pads (2 * sp, default 0) per spatial dim, or false. */
static bool per_dim(const snt_node *n, const char *name, int sp, int64_t def, int64_t *v, int64_t *end) {
  int cnt = 0;
  const int64_t *a = snt_node_ints(n, name, &cnt);
  int want = end ? 2 * sp : sp;
  if (a && cnt != want) return false;
  for (int i = 0; i < sp; i++) {
    v[i] = a ? a[i] : def;
    if (end) end[i] = a ? a[sp + i] : def;
  }
  return true;
}

static const char *geometry(snt_graph *g, const snt_node *n, snt_k_col2im *p, char *buf, size_t size) {
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t img[3], blk[3], pe[3];
  int ci = 0, cb = 0;
  if (snt_const_ints(g, n, 1, img, &ci, 3) != 1 || snt_const_ints(g, n, 2, blk, &cb, 3) != 1 || ci != cb || ci < 1)
    return "image_shape and block_shape must be constants of 1 to 3 sizes each, as many of one as of the other";
  int sp = ci;
  *p = (snt_k_col2im){.sp = sp};
  if (!per_dim(n, "strides", sp, 1, p->stride, NULL) || !per_dim(n, "dilations", sp, 1, p->dil, NULL) ||
      !per_dim(n, "pads", sp, 0, p->pad, pe))
    return "strides and dilations need one value per spatial dim, pads two";
  if (x->rank != 3) return "the input must be [N, C * prod(block_shape), L]";
  int64_t blocks = 1, cols = 1;
  for (int a = 0; a < sp; a++) {
    if (img[a] < 1 || blk[a] < 1 || img[a] > SNT_MAX_ATTR || blk[a] > SNT_MAX_ATTR || p->stride[a] < 1 || p->dil[a] < 1 ||
        p->pad[a] < 0 || pe[a] < 0)
      return "sizes, strides and dilations must be positive and pads not negative";
    p->image[a] = img[a], p->block[a] = blk[a];
    int64_t span = img[a] + p->pad[a] + pe[a] - p->dil[a] * (blk[a] - 1) - 1;
    if (span < 0) return "a block is larger than the padded image";
    p->out[a] = span / p->stride[a] + 1;
    blocks *= blk[a], cols *= p->out[a];
  }
  if (x->dims[1] % blocks || x->dims[2] != cols) {
    snprintf(buf, size, "the input has shape (%lld, %lld, %lld): dim 1 must be a multiple of %lld and dim 2 be %lld",
             (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2], (long long)blocks, (long long)cols);
    return buf;
  }
  p->n = x->dims[0], p->c = x->dims[1] / blocks;
  return NULL;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_k_col2im p;
  char buf[200];
  const char *why = geometry(g, n, &p, buf, sizeof buf);
  if (why) return snt_node_error(g, n, d, "%s", why);
  int64_t dims[5] = {p.n, p.c};
  for (int a = 0; a < p.sp; a++) dims[2 + a] = p.image[a];
  snt_set_output(g, node, 0, snt_in(g, n, 0)->dtype, 2 + p.sp, dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_k_col2im p;
  char buf[200];
  if (geometry((snt_graph *)e->g, n, &p, buf, sizeof buf)) return SNT_ERR_INTERNAL;
  snt_emit_line(e, "{");
  snt_emit_line(e, "  static const snt_k_col2im p = {.sp = %d, .n = %lldLL, .c = %lldLL, .image = %s, .block = %s, "
                ".out = %s, .stride = %s, .dil = %s, .pad = %s};", p.sp, (long long)p.n, (long long)p.c,
                snt_emit_ints(e, p.image, 3), snt_emit_ints(e, p.block, 3), snt_emit_ints(e, p.out, 3),
                snt_emit_ints(e, p.stride, 3), snt_emit_ints(e, p.dil, 3), snt_emit_ints(e, p.pad, 3));
  snt_emit_line(e, "  snt_k_col2im_run(&p, %s, %s);", snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

const snt_op snt_op_col2im = {
    .name = "col2im", .type_name = "Col2Im", .default_layer = "col2im",
    .doc = "sliding blocks summed back into an image: col2im(x, image_shape, block_shape, strides, dilations, pads)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "Col2Im", .onnx_upto = 18,
    .onnx_const_inputs = 6u, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {3, 3, 1, 1},
    .types = SNT_TYPES_KERNEL(1u), .no_export = SNT_NO_EXPORT_YET};
