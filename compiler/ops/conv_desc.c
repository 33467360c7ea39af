/* The C initializer of a snt_k_conv_desc, which several conv emitters write: one place that
 * names its fields, designated so that reordering the struct cannot shift generated data. */
#include <math.h>

#include "compiler/ops/common.h"
#include "sinter/kernels.h"

/* No activation and all-zero parameters (bit for bit): left to the initializer's zero fill. */
static bool zero_act(const snt_k_act *a) {
  const float v[4] = {a->alpha, a->clip_min, a->clip_max, a->beta};
  for (int i = 0; i < 4; i++)
    if (v[i] != 0 || signbit(v[i])) return false;
  return a->kind == SNT_K_ACT_NONE;
}

const char *snt_emit_conv_desc(snt_emit *e, const snt_k_conv_desc *k, const char *batch) {
  const snt_k_act *a = &k->act;
  const char *act = zero_act(a) ? ""
                                : snt_format_keep(e, ", .act = {.kind = %d, .alpha = (float)%s, .clip_min = (float)%s, "
                                                  ".clip_max = (float)%s, .beta = (float)%s}", (int)a->kind,
                                                  snt_emit_f64(e, a->alpha), snt_emit_f64(e, a->clip_min),
                                                  snt_emit_f64(e, a->clip_max), snt_emit_f64(e, a->beta));
  return snt_format_keep(e, "{.spatial = %d, .batch = %s, .in_channels = %lld, .out_channels = %lld, .groups = %lld, "
                         ".in = %s, .out = %s, .kernel = %s, .stride = %s, .dilation = %s, .pad_begin = %s, "
                         ".pad_end = %s%s}",
                         k->spatial, batch, (long long)k->in_channels, (long long)k->out_channels, (long long)k->groups,
                         snt_emit_ints(e, k->in, 3), snt_emit_ints(e, k->out, 3), snt_emit_ints(e, k->kernel, 3),
                         snt_emit_ints(e, k->stride, 3), snt_emit_ints(e, k->dilation, 3),
                         snt_emit_ints(e, k->pad_begin, 3), snt_emit_ints(e, k->pad_end, 3), act);
}
