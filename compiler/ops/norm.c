/* Normalisation over groups of elements (ONNX InstanceNormalization, MeanVarianceNormalization,
 * LayerNormalization): each group's mean and variance, then (x - mean) / std, scaled and
 * shifted. One emitted loop serves all three: the reduced axes as a bit mask. */
#include <stdio.h>
#include <string.h>

#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

extern const snt_op snt_op_instance_norm, snt_op_mvn, snt_op_layer_norm; /* defined below */

static const snt_arg_spec no_args[] = {{0}};

/* The reduced axes: InstanceNormalization's spatial ones, MVN's `axes`, LayerNorm's [axis, rank). */
static snt_status reduced_mask(snt_graph *g, int node, snt_diag *d, uint32_t *mask) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0);
  *mask = 0;
  if (n->op == &snt_op_instance_norm) {
    if (x->rank < 3) return snt_node_error(g, n, d, "expects an input (N, C, D1, ...) of rank 3 or more, got rank %d", x->rank);
    for (int i = 2; i < x->rank; i++) *mask |= 1u << i;
  } else if (n->op == &snt_op_layer_norm) {
    int64_t a = snt_node_int(n, "axis", -1);
    if (a < -x->rank || a >= x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)a, x->rank);
    for (int i = (int)(a < 0 ? a + x->rank : a); i < x->rank; i++) *mask |= 1u << i;
  } else {
    int c = 0;
    static const int64_t def[] = {0, 2, 3};
    const int64_t *ax = snt_node_ints(n, "axes", &c);
    if (!snt_node_attr(n, "axes")) ax = def, c = 3;
    for (int i = 0; i < c; i++) {
      int64_t a = ax[i] < 0 ? ax[i] + x->rank : ax[i];
      if (a < 0 || a >= x->rank) return snt_node_error(g, n, d, "axis %lld is out of range for rank %d", (long long)ax[i], x->rank);
      *mask |= 1u << a;
    }
  }
  return SNT_OK;
}

/* Scale and B of LayerNormalization broadcast to X's dims from the axis on (numpy's rule,
 * one way); InstanceNormalization's are one value per channel. */
static snt_status check_affine(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0);
  for (int i = 1; i < n->n_in && i < 3; i++) {
    const snt_tensor *p = snt_in_opt(g, n, i);
    if (!p) continue;
    if (n->op == &snt_op_instance_norm) {
      if (p->rank != 1 || p->dims[0] != x->dims[1])
        return snt_node_error(g, n, d, "input %d must have %lld values, one per channel", i, (long long)x->dims[1]);
      continue;
    }
    int64_t a = snt_node_int(n, "axis", -1);
    int start = (int)(a < 0 ? a + x->rank : a);
    if (p->rank > x->rank - start) return snt_node_error(g, n, d, "input %d has rank %d, more than the %d normalised axes", i, p->rank, x->rank - start);
    for (int k = 0; k < p->rank; k++) {
      int64_t pd = p->dims[p->rank - 1 - k], xd = x->dims[x->rank - 1 - k];
      if (pd != 1 && pd != xd) return snt_node_error(g, n, d, "input %d does not broadcast to the normalised axes", i);
    }
  }
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  uint32_t mask = 0;
  snt_status st = reduced_mask(g, node, d, &mask);
  if (!st) st = check_affine(g, node, d);
  if (st) return st;
  snt_set_output(g, node, 0, x->dtype, x->rank, x->dims);
  int64_t dims[SNT_MAX_RANK];
  for (int i = 0; i < x->rank; i++) dims[i] = mask >> i & 1 ? 1 : x->dims[i];
  for (int o = 1; o < n->n_out; o++) snt_set_output(g, node, o, SNT_F32, x->rank, dims); /* LayerNorm's Mean, InvStdDev */
  return snt_node_set_int(n, "axes_mask", mask);
}

/* Emits "o = base + the offset of member m" over the collapsed reduced dims. */
static void emit_offset(snt_emit *e, const char *dst, const char *base, const char *idx, int nd, const char *dims, const char *strides) {
  snt_emit_line(e, "    int64_t %s = %s;", dst, base);
  snt_emit_line(e, "    for (int64_t k = %d, r = %s; k >= 0; k--) { %s += r %% %s[k] * %s[k]; r /= %s[k]; }", nd - 1, idx, dst, dims,
                strides, dims);
}

/* Adjacent axes of one kind (reduced or kept) merge into one (dim, stride) pair, so InstanceNorm's
 * and LayerNorm's members are one run; a class with no axes gets (1, 0). */
static int collapse(const snt_tensor *x, uint32_t mask, bool reduced, int64_t *dims, int64_t *strides) {
  int c = 0;
  int64_t stride = 1, sd[SNT_MAX_RANK];
  for (int i = x->rank - 1; i >= 0; i--) sd[i] = stride, stride *= x->dims[i];
  int last = -1;
  for (int i = 0; i < x->rank; i++) {
    if (((mask >> i & 1) != 0) != reduced) continue;
    if (last == i - 1 && c > 0) dims[c - 1] *= x->dims[i], strides[c - 1] = sd[i];
    else dims[c] = x->dims[i], strides[c] = sd[i], c++;
    last = i;
  }
  if (!c) dims[0] = 1, strides[0] = 0, c = 1;
  return c;
}

/* A LayerNorm Scale or B whose shape is not the whole normalised one: its index from the member
 * index m, by broadcasting. */
static const char *affine_index(snt_emit *e, const snt_tensor *x, int start, const snt_tensor *p, const char *name) {
  int nd = x->rank - start;
  int64_t full = 1;
  for (int k = start; k < x->rank; k++) full *= x->dims[k];
  if (snt_tensor_numel(p) == full) return "m";
  int64_t dims[SNT_MAX_RANK], st[SNT_MAX_RANK], s = 1;
  for (int k = nd - 1; k >= 0; k--) {
    int pk = p->rank - (nd - k);
    dims[k] = x->dims[start + k];
    st[k] = pk >= 0 && p->dims[pk] != 1 ? s : 0;
    if (pk >= 0) s *= p->dims[pk];
  }
  snt_emit_line(e, "    static const int64_t %sd[] = %s, %ss[] = %s;", name, snt_emit_ints(e, dims, nd), name, snt_emit_ints(e, st, nd));
  emit_offset(e, snt_format_keep(e, "%si", name), "0", "m", nd, snt_format_keep(e, "%sd", name), snt_format_keep(e, "%ss", name));
  return snt_format_keep(e, "%si", name);
}

/* A float32 LayerNorm over contiguous rows (the trailing axes) with Scale and B whole or absent:
 * the vectorised kernel snt_k_layer_norm (ConvNeXt's over 96 channels: 3136 rows). */
static bool emit_layer_rows(snt_emit *e, const snt_node *n, const snt_tensor *x, int64_t groups, int64_t members, bool rows,
                            double eps) {
  if (n->op != &snt_op_layer_norm || x->dtype != SNT_F32 || n->n_out != 1 || !rows) return false;
  const char *p[2] = {"NULL", "NULL"};
  for (int i = 1; i < 3; i++) {
    const snt_tensor *t = i < n->n_in && n->in[i] >= 0 ? &e->g->tensors[n->in[i]] : NULL;
    if (!t) continue;
    if (t->dtype != SNT_F32 || snt_tensor_numel(t) != members) return false;
    p[i - 1] = snt_format_keep(e, "(const float *)%s", snt_emit_ptr(e, n->in[i]));
  }
  snt_emit_line(e, "snt_k_layer_norm(m->k, %s, %s, %s, %s, %lld, %lld, %s);", snt_emit_ptr(e, n->in[0]), p[0], p[1],
                snt_emit_ptr(e, n->out[0]), (long long)groups, (long long)members, snt_emit_f64(e, eps));
  return true;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  uint32_t mask = (uint32_t)snt_node_int(n, "axes_mask", 0);
  int64_t gd[SNT_MAX_RANK], gs[SNT_MAX_RANK], rd[SNT_MAX_RANK], rs[SNT_MAX_RANK], groups = 1, members = 1;
  int gn = collapse(x, mask, false, gd, gs), rn = collapse(x, mask, true, rd, rs);
  for (int i = 0; i < gn; i++) groups *= gd[i];
  for (int i = 0; i < rn; i++) members *= rd[i];
  const char *ty = x->dtype == SNT_F64 ? "double" : "float";
  bool mvn = n->op == &snt_op_mvn, inst = n->op == &snt_op_instance_norm;
  double eps = snt_node_float(n, "epsilon", 1e-5);
  if (emit_layer_rows(e, n, x, groups, members, gn == 1 && rn == 1 && rs[0] == 1 && (groups == 1 || gs[0] == members), eps))
    return SNT_OK;
  snt_emit_line(e, "{");
  snt_emit_line(e, "const %s *x = %s;", ty, snt_emit_ptr(e, n->in[0]));
  snt_emit_line(e, "%s *y = %s;", ty, snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "static const int64_t gd[] = %s, gs[] = %s, rd[] = %s, rs[] = %s;", snt_emit_ints(e, gd, gn), snt_emit_ints(e, gs, gn),
                snt_emit_ints(e, rd, rn), snt_emit_ints(e, rs, rn));
  snt_emit_line(e, "for (int64_t g = 0; g < %lld; g++) {", (long long)groups);
  emit_offset(e, "base", "0", "g", gn, "gd", "gs");
  snt_emit_line(e, "  double s = 0, v = 0;");
  snt_emit_line(e, "  for (int64_t m = 0; m < %lld; m++) {", (long long)members);
  emit_offset(e, "o", "base", "m", rn, "rd", "rs");
  snt_emit_line(e, "    s += x[o];");
  snt_emit_line(e, "  }");
  snt_emit_line(e, "  const double mean = s / %lld;", (long long)(members ? members : 1));
  snt_emit_line(e, "  for (int64_t m = 0; m < %lld; m++) {", (long long)members);
  emit_offset(e, "o", "base", "m", rn, "rd", "rs");
  snt_emit_line(e, "    v += (x[o] - mean) * (x[o] - mean);");
  snt_emit_line(e, "  }");
  /* MVN's function divides by sqrt(var) + 1e-9; the others by sqrt(var + epsilon). */
  if (mvn) snt_emit_line(e, "  const double inv = 1.0 / (sqrt(v / %lld) + 1e-9);", (long long)(members ? members : 1));
  else snt_emit_line(e, "  const double inv = 1.0 / sqrt(v / %lld + %s);", (long long)(members ? members : 1), snt_emit_f64(e, eps));
  if (n->n_out > 1) snt_emit_line(e, "  ((float *)%s)[g] = (float)mean;", snt_emit_ptr(e, n->out[1]));
  if (n->n_out > 2) snt_emit_line(e, "  ((float *)%s)[g] = (float)inv;", snt_emit_ptr(e, n->out[2]));
  snt_emit_line(e, "  for (int64_t m = 0; m < %lld; m++) {", (long long)members);
  emit_offset(e, "o", "base", "m", rn, "rd", "rs");
  const snt_tensor *sc = n->n_in > 1 && n->in[1] >= 0 ? &e->g->tensors[n->in[1]] : NULL;
  const snt_tensor *b = n->n_in > 2 && n->in[2] >= 0 ? &e->g->tensors[n->in[2]] : NULL;
  int start = 0;
  while (start < x->rank && !(mask >> start & 1)) start++;
  const char *ci = inst ? snt_format_keep(e, "g %% %lld", (long long)x->dims[1]) : NULL; /* groups are (n, c) */
  const char *si = sc ? (inst ? ci : affine_index(e, x, start, sc, "sc")) : "";
  const char *bi = b ? (inst ? ci : affine_index(e, x, start, b, "bi")) : "";
  snt_emit_line(e, "    y[o] = (%s)((x[o] - mean) * inv%s%s);", ty,
                sc ? snt_format_keep(e, " * ((const %s *)%s)[%s]", ty, snt_emit_ptr(e, n->in[1]), si) : "",
                b ? snt_format_keep(e, " + ((const %s *)%s)[%s]", ty, snt_emit_ptr(e, n->in[2]), bi) : "");
  snt_emit_line(e, "  }");
  snt_emit_line(e, "}");
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* LayerNormalization's stash_type 1 (float) is how sinter computes anyway (in double, stored as
 * float); other values ask for a precision it does not offer. */
static snt_status layer_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int64_t stash = snt_node_int(n, "stash_type", 1);
  if (stash != 1) return snt_node_error(g, n, d, "stash_type %lld is not supported, only 1 (FLOAT) (opset %d)", (long long)stash, opset);
  return SNT_OK;
}

/* ONNX attribute ranges (compiler/onnx/validate.c): MVN's axes, LayerNormalization's axis. */
static const snt_attr_range ranges[] = {{"axes", -SNT_MAX_RANK, SNT_MAX_RANK - 1}, {"axis", -SNT_MAX_RANK, SNT_MAX_RANK - 1}, {0}};
static const char *const inst_roles[] = {NULL, "gamma", "beta", NULL};

const snt_op snt_op_instance_norm = {
    .name = "instance_norm", .type_name = "InstanceNormalization", .default_layer = "instance_normalization",
    .doc = "normalisation of each sample's channel over its spatial axes (ONNX InstanceNormalization)",
    .min_inputs = 1, .max_inputs = 1, .args = no_args, .infer = infer, .onnx_type = "InstanceNormalization",
    .onnx_roles = inst_roles, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {3, 3, 1, 1}, .onnx_ranges = ranges,
    .types = SNT_TYPES_LOOP_F64(7), .no_export = SNT_NO_EXPORT_YET};

const snt_op snt_op_mvn = {
    .name = "mvn", .type_name = "MeanVarianceNormalization", .default_layer = "mean_variance_normalization",
    .doc = "(x - mean) / std over axes (ONNX MeanVarianceNormalization, default axes [0, 2, 3])",
    .min_inputs = 1, .max_inputs = 1, .args = no_args, .infer = infer, .onnx_type = "MeanVarianceNormalization",
    .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {1, 1, 1, 1}, .onnx_ranges = ranges,
    .types = SNT_TYPES_LOOP_F64(1), .no_export = SNT_NO_EXPORT_YET};

const snt_op snt_op_layer_norm = {
    .name = "layer_norm", .type_name = "LayerNormalization", .default_layer = "layer_normalization",
    .doc = "normalisation over the axes from `axis` on, scaled and shifted (ONNX LayerNormalization)",
    .min_inputs = 1, .max_inputs = 1, .args = no_args, .infer = infer, .onnx_type = "LayerNormalization",
    .onnx_import = layer_import, .onnx_roles = inst_roles, .emit = emit, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {2, 3, 1, 3},
    .onnx_ranges = ranges, .types = SNT_TYPES_LOOP_F64(7), .no_export = SNT_NO_EXPORT_YET};
