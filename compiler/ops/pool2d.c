/* maxpool and avgpool: 2-D windows over NCHW. Keras's default stride is the pool size;
 * 'same' average pooling divides by the number of real (unpadded) pixels. */
#include <string.h>

#include "compiler/op.h"

static const snt_arg_spec max_args[] = {
    {"pool", SNT_ARG_INT2, "2", NULL},
    {"stride", SNT_ARG_INT2, "0", NULL}, /* 0: the pool size */
    {"padding", SNT_ARG_PADDING, "valid", NULL},
    {0}};

static const snt_arg_spec avg_args[] = {
    {"pool", SNT_ARG_INT2, "2", NULL},
    {"stride", SNT_ARG_INT2, "0", NULL},
    {"padding", SNT_ARG_PADDING, "valid", NULL},
    {"count_include_pad", SNT_ARG_BOOL, "false", NULL},
    {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (snt_expect_rank(g, node, d, 0, 4, "a 3-D input (channels, height, width)")) return SNT_ERR_INPUT;
  int cnt = 0;
  const int64_t *k = snt_node_ints(n, "pool", &cnt);
  if (!k || cnt != 2 || k[0] < 1 || k[1] < 1) return snt_node_error(g, n, d, "pool must be positive");
  const int64_t *s = snt_node_ints(n, "stride", &cnt);
  int64_t stride[2] = {s && s[0] ? s[0] : k[0], s && s[1] ? s[1] : k[1]};
  if (stride[0] < 1 || stride[1] < 1) return snt_node_error(g, n, d, "stride must be positive");
  snt_status st = snt_node_set_ints(n, "stride", 2, stride);
  if (st) return st;
  int64_t kk[2] = {k[0], k[1]};
  snt_tensor *x = snt_in(g, n, 0);
  int64_t in[2] = {x->dims[2], x->dims[3]}, pads[4];
  if ((st = snt_resolve_pads(g, n, d, kk, in, pads))) return st;
  if ((st = snt_node_set_ints(n, "pads", 4, pads))) return st;
  int64_t oh = snt_window_out(in[0], kk[0], stride[0], pads[0], pads[2]);
  int64_t ow = snt_window_out(in[1], kk[1], stride[1], pads[1], pads[3]);
  if (oh < 1 || ow < 1) {
    char sh[128];
    snt_shape_str(sh, sizeof sh, x, 1);
    return snt_node_error(g, n, d, "the %lldx%lld pool does not fit the input %s", (long long)kk[0],
                          (long long)kk[1], sh);
  }
  int64_t dims[4] = {x->dims[0], x->dims[1], oh, ow};
  snt_set_shape(g, node, 0, 4, dims);
  return SNT_OK;
}

const snt_op snt_op_maxpool = {
    .name = "maxpool", .type_name = "MaxPooling2D", .default_layer = "max_pooling2d",
    .doc = "2-D max pooling: maxpool(x, pool=2, stride=pool, padding=valid)",
    .min_inputs = 1, .max_inputs = 1, .args = max_args, .infer = infer};

const snt_op snt_op_avgpool = {
    .name = "avgpool", .type_name = "AveragePooling2D", .default_layer = "average_pooling2d",
    .doc = "2-D average pooling: avgpool(x, pool=2, stride=pool, padding=valid, count_include_pad=false)",
    .min_inputs = 1, .max_inputs = 1, .args = avg_args, .infer = infer};
