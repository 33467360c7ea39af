/* rescale: y = x * scale + offset, with scalars or one value per channel
 * (Keras Rescaling; also input normalisation such as (x - mean) / std). */
#include "compiler/op.h"

static const snt_arg_spec args[] = {
    {"scale", SNT_ARG_FLOATS, NULL, NULL},
    {"offset", SNT_ARG_FLOATS, "0", NULL},
    {0}};

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  const char *names[2] = {"scale", "offset"};
  for (int i = 0; i < 2; i++) {
    int cnt = 0;
    snt_node_floats(n, names[i], &cnt);
    if (cnt != 1 && (x->rank < 2 || cnt != x->dims[1]))
      return snt_node_error(g, n, d, "%s must be one number or one per channel (%lld), got %d values", names[i],
                            (long long)(x->rank < 2 ? 1 : x->dims[1]), cnt);
  }
  snt_set_shape(g, node, 0, x->rank, x->dims);
  return SNT_OK;
}

const snt_op snt_op_rescale = {
    .name = "rescale", .type_name = "Rescaling", .default_layer = "rescaling",
    .doc = "affine map x * scale + offset, per tensor or per channel: rescale(x, scale, offset=0)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer};
