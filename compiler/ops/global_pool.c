/* global_avg_pool and global_max_pool: reduce height and width, giving (channels,). */
#include "compiler/op.h"

static const snt_arg_spec args[] = {{0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  if (snt_expect_rank(g, node, d, 0, 4, "a 3-D input (channels, height, width)")) return SNT_ERR_INPUT;
  snt_tensor *x = snt_in(g, &g->nodes[node], 0);
  int64_t dims[2] = {x->dims[0], x->dims[1]};
  snt_set_shape(g, node, 0, 2, dims);
  return SNT_OK;
}

const snt_op snt_op_global_avg_pool = {
    .name = "global_avg_pool", .type_name = "GlobalAveragePooling2D",
    .default_layer = "global_average_pooling2d", .doc = "mean over height and width: global_avg_pool(x)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer};

const snt_op snt_op_global_max_pool = {
    .name = "global_max_pool", .type_name = "GlobalMaxPooling2D",
    .default_layer = "global_max_pooling2d", .doc = "maximum over height and width: global_max_pool(x)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer};
