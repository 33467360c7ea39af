/* Input preprocessing x * scale + offset right before a conv2d folds into its kernel and
 * bias: conv(x * s + o) = conv'(x) with W' = W * s[c] and b' = b + sum(W * o[c]). With a
 * nonzero offset that holds only when the conv has no padding (its zeros would become o). */
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "compiler/passes/passes.h"

static bool has_padding(const snt_node *conv) {
  int c = 0;
  const int64_t *p = snt_node_ints(conv, "resolved_pads", &c);
  for (int i = 0; p && i < c; i++)
    if (p[i]) return true;
  return false;
}

snt_status snt_pass_fold_rescale(snt_graph *g, snt_diag *d, int *changed) {
  (void)d;
  bool *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
  if (!dead) return SNT_ERR_NOMEM;
  snt_status st = SNT_OK;
  for (int c = 0; c < g->n_nodes && !st; c++) {
    snt_node *conv = &g->nodes[c];
    if (strcmp(conv->op->name, "conv2d") != 0 || snt_node_int(conv, "groups", 1) != 1) continue;
    int x = conv->in[0], first, r = g->tensors[x].producer;
    if (r < 0 || dead[r] || strcmp(g->nodes[r].op->name, "rescale") != 0 || snt_readers(g, x, &first) != 1 ||
        snt_ir_is_output(g, x))
      continue;
    const snt_node *rs = &g->nodes[r];
    int ns = 0, no = 0;
    const double *s = snt_node_floats(rs, "scale", &ns), *o = snt_node_floats(rs, "offset", &no);
    bool offset = false;
    for (int i = 0; i < no; i++) offset |= o[i] != 0;
    int k = snt_node_param(g, conv, "kernel");
    if (!s || !o || k < 0 || !g->tensors[k].data || (offset && has_padding(conv))) continue;
    int64_t cin = g->tensors[x].dims[1], cout = g->tensors[k].dims[0], per = snt_tensor_numel(&g->tensors[k]) / cout / cin;
    int b = snt_node_param(g, conv, "bias");
    if (offset && b < 0) {
      b = snt_ir_add_param(g, c, "bias", 1, &cout, true);
      if (b < 0 || !(g->tensors[b].data = calloc((size_t)cout, sizeof(float)))) {
        st = SNT_ERR_NOMEM;
        break;
      }
      conv = &g->nodes[c];
      if ((st = snt_node_set_int(conv, "bias", 1))) break;
    }
    float *w = g->tensors[k].data, *bias = b >= 0 ? g->tensors[b].data : NULL;
    for (int64_t oc = 0; oc < cout; oc++)
      for (int64_t ic = 0; ic < cin; ic++) {
        double sc = s[ns == 1 ? 0 : ic], of = o[no == 1 ? 0 : ic], sum = 0;
        for (int64_t i = 0; i < per; i++) {
          float *wi = &w[(oc * cin + ic) * per + i];
          sum += *wi * of;
          *wi = (float)(*wi * sc);
        }
        if (bias) bias[oc] = (float)(bias[oc] + sum);
      }
    conv->in[0] = rs->in[0];
    dead[r] = true;
    (*changed)++;
  }
  if (!st) st = snt_remove_nodes(g, dead);
  free(dead);
  return st;
}
