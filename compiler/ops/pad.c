/* pad: zero padding of height and width (Keras ZeroPadding2D). */
#include "compiler/op.h"

static const snt_arg_spec args[] = {
    {"padding", SNT_ARG_PADDING, NULL, NULL},
    {"value", SNT_ARG_FLOAT, "0", NULL},
    {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (snt_expect_rank(g, node, d, 0, 4, "a 3-D input (channels, height, width)")) return SNT_ERR_INPUT;
  const char *mode = snt_node_string(n, "padding", "explicit");
  int cnt = 0;
  const int64_t *p = snt_node_ints(n, "pads", &cnt);
  if (mode[0] != 'e' || !p || cnt != 4)
    return snt_node_error(g, n, d, "padding must be p, [ph, pw] or [top, left, bottom, right], not '%s'", mode);
  for (int i = 0; i < 4; i++)
    if (p[i] < 0) return snt_node_error(g, n, d, "padding must not be negative, got %lld", (long long)p[i]);
  snt_tensor *x = snt_in(g, n, 0);
  int64_t dims[4] = {x->dims[0], x->dims[1], x->dims[2] + p[0] + p[2], x->dims[3] + p[1] + p[3]};
  snt_set_shape(g, node, 0, 4, dims);
  return SNT_OK;
}

const snt_op snt_op_pad = {
    .name = "pad", .type_name = "ZeroPadding2D", .default_layer = "zero_padding2d",
    .doc = "constant padding of height and width: pad(x, p | [ph, pw] | [top, left, bottom, right], value=0)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer};
