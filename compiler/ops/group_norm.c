/* GroupNormalization (ONNX opsets 18 and 21): x [N, C, D1, ...] split into num_groups groups
 * of C / num_groups channels per sample; each group normalised by its own mean and variance,
 * then scaled and shifted. Version 18's scale and bias hold one value per group, version 21's
 * one per channel (the importer records which in `per_channel`). A group's members are
 * contiguous in x, so one loop over N * num_groups runs of (C / num_groups) * D1 * ... values. */
#include <stdio.h>
#include <string.h>

#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

static const snt_arg_spec args[] = {{"num_groups", SNT_ARG_INT, NULL, NULL}, {"epsilon", SNT_ARG_FLOAT, "1e-5", NULL}, {0}};

/* Version 21 computes in the precision stash_type names: sinter offers float32's (1) only, and
 * computes in double, stored in the input's type. */
static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (!snt_node_attr(n, "num_groups")) return snt_node_error(g, n, d, "requires the attribute num_groups (opset %d)", opset);
  if (opset >= 21) {
    int64_t stash = snt_node_int(n, "stash_type", 1);
    if (stash != 1)
      return snt_node_error(g, n, d, "stash_type %lld is not supported, only 1 (FLOAT) (opset %d)", (long long)stash, opset);
  }
  return snt_node_set_int(n, "per_channel", opset >= 21);
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0);
  if (x->rank < 2) return snt_node_error(g, n, d, "expects an input (N, C, ...) of rank 2 or more, got rank %d", x->rank);
  int64_t groups = snt_node_int(n, "num_groups", 0), c = x->dims[1];
  if (groups < 1 || c % groups != 0)
    return snt_node_error(g, n, d, "num_groups %lld does not divide the %lld channels", (long long)groups, (long long)c);
  bool per_channel = snt_node_int(n, "per_channel", 1) != 0;
  for (int i = 1; i < n->n_in && i < 3; i++) {
    const snt_tensor *p = snt_in(g, n, i);
    int64_t want = per_channel ? c : groups;
    if (p->rank != 1 || p->dims[0] != want)
      return snt_node_error(g, n, d, "input %d (%s) must have %lld values, one per %s (GroupNormalization-%s)", i,
                            i == 1 ? "scale" : "bias", (long long)want, per_channel ? "channel" : "group",
                            per_channel ? "21" : "18; version 21 takes one per channel");
  }
  snt_set_output(g, node, 0, x->dtype, x->rank, x->dims);
  return SNT_OK;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t groups = snt_node_int(n, "num_groups", 1), c = x->dims[1], spatial = 1;
  for (int i = 2; i < x->rank; i++) spatial *= x->dims[i];
  int64_t runs = x->dims[0] * groups, members = c / groups * spatial;
  if (!spatial) spatial = 1; /* no members: the loops below never run, and no "m / 0" is written */
  const char *ty = x->dtype == SNT_F64 ? "double" : "float";
  /* the affine index of member m of run r: its group, or its channel */
  const char *idx = snt_node_int(n, "per_channel", 1)
                        ? snt_format_keep(e, "r %% %lld * %lld + m / %lld", (long long)groups, (long long)(c / groups), (long long)spatial)
                        : snt_format_keep(e, "r %% %lld", (long long)groups);
  snt_emit_line(e, "{");
  snt_emit_line(e, "const %s *x = %s, *sc = %s, *bi = %s;", ty, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]),
                snt_emit_ptr(e, n->in[2]));
  snt_emit_line(e, "%s *y = %s;", ty, snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "for (int64_t r = 0; r < %lld; r++) {", (long long)runs);
  snt_emit_line(e, "  const int64_t base = r * %lld;", (long long)members);
  snt_emit_line(e, "  double s = 0, v = 0;");
  snt_emit_line(e, "  for (int64_t m = 0; m < %lld; m++) s += x[base + m];", (long long)members);
  snt_emit_line(e, "  const double mean = s / %lld;", (long long)(members ? members : 1));
  snt_emit_line(e, "  for (int64_t m = 0; m < %lld; m++) v += (x[base + m] - mean) * (x[base + m] - mean);", (long long)members);
  snt_emit_line(e, "  const double inv = 1.0 / sqrt(v / %lld + %s);", (long long)(members ? members : 1),
                snt_emit_f64(e, snt_node_float(n, "epsilon", 1e-5)));
  snt_emit_line(e, "  for (int64_t m = 0; m < %lld; m++) {", (long long)members);
  snt_emit_line(e, "    const int64_t a = %s;", idx);
  snt_emit_line(e, "    y[base + m] = (%s)((x[base + m] - mean) * inv * sc[a] + bi[a]);", ty);
  snt_emit_line(e, "  }");
  snt_emit_line(e, "}");
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* Version 18's per-group scale exists in opsets 18 to 20 only, version 21's per-channel one
 * from 21 on. */
static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  bool per_channel = snt_node_int(n, "per_channel", 1) != 0;
  int o = snt_ox_opset(x);
  if (per_channel && o < 21) return snt_ox_refuse(x, node, "a per-channel scale is GroupNormalization-21's");
  if (!per_channel && (o < 18 || o > 20))
    return snt_ox_refuse(x, node, "a per-group scale is GroupNormalization-18's (opsets 18 to 20)");
  const char *ins[3] = {snt_ox_name(x, n->in[0]), snt_ox_name(x, n->in[1]), snt_ox_name(x, n->in[2])};
  int k = snt_ox_node(x, "GroupNormalization", n->name, 3, ins, snt_ox_name(x, n->out[0]));
  snt_ox_attr_int(x, k, "num_groups", snt_node_int(n, "num_groups", 1));
  snt_ox_attr_float(x, k, "epsilon", (float)snt_node_float(n, "epsilon", 1e-5));
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

static const char *const roles[] = {NULL, "gamma", "beta", NULL};
static const snt_attr_range ranges[] = {{"num_groups", 1, INT64_MAX}, {0}};

const snt_op snt_op_group_norm = {
    .name = "group_norm", .type_name = "GroupNormalization", .default_layer = "group_normalization",
    .doc = "normalisation of each sample's groups of channels, scaled and shifted (ONNX GroupNormalization)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_type = "GroupNormalization",
    .onnx_import = onnx_import, .onnx_upto = 21, .onnx_roles = roles, .onnx_export = onnx_export, .emit = emit,
    .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {3, 3, 1, 1}, .onnx_ranges = ranges, .types = SNT_TYPES_LOOP_F64(7)};
