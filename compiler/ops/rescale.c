/* rescale: y = x * scale + offset, with scalars or one value per channel
 * (Keras Rescaling; also input normalisation such as (x - mean) / std). */
#include <stdio.h>
#include <stdlib.h>

#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"

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

/* y = x * scale + offset, the per-channel values as constant tables. */
static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int ns = 0, no = 0;
  const double *s = snt_node_floats(n, "scale", &ns), *o = snt_node_floats(n, "offset", &no);
  int64_t c = x->rank >= 2 ? x->dims[1] : 1, inner = x->rank >= 2 ? snt_tensor_numel(x) / x->dims[0] / c : 1;
  snt_strbuf sv = {0}, ov = {0};
  for (int64_t i = 0; i < c; i++) {
    snt_sb_printf(&sv, "%s%sf", i ? ", " : "", snt_emit_f64(e, (float)s[ns == 1 ? 0 : i]));
    snt_sb_printf(&ov, "%s%sf", i ? ", " : "", snt_emit_f64(e, (float)o[no == 1 ? 0 : i]));
  }
  snt_emit_line(e, "{");
  snt_emit_line(e, "static const float s[] = {%s}, o[] = {%s};", sv.data, ov.data);
  snt_emit_line(e, "const float *x = %s;", snt_emit_ptr(e, n->in[0]));
  snt_emit_line(e, "float *y = %s;", snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "for (int64_t b = 0; b < %s; b++)", snt_emit_rows(e, n->in[0]));
  snt_emit_line(e, "  for (int64_t c = 0; c < %lld; c++)", (long long)c);
  snt_emit_line(e, "    for (int64_t i = 0; i < %lld; i++) {", (long long)inner);
  snt_emit_line(e, "      const int64_t k = (b * %lld + c) * %lld + i;", (long long)c, (long long)inner);
  snt_emit_line(e, "      y[k] = x[k] * s[c] + o[c];");
  snt_emit_line(e, "    }");
  snt_emit_line(e, "}");
  snt_sb_free(&sv);
  snt_sb_free(&ov);
  return SNT_OK;
}

static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const snt_tensor *t = &g->tensors[n->in[0]];
  int ns = 0, no = 0;
  const double *s = snt_node_floats(n, "scale", &ns), *o = snt_node_floats(n, "offset", &no);
  int count = ns > no ? ns : no;
  float *sv = malloc(sizeof(float) * (size_t)count * 2), *ov = sv + count;
  if (!sv) return SNT_ERR_NOMEM;
  for (int i = 0; i < count; i++) sv[i] = (float)s[ns == 1 ? 0 : i], ov[i] = (float)o[no == 1 ? 0 : i];
  /* Per-channel values broadcast as [C, 1, ...] against (N, C, ...). */
  int64_t dims[SNT_MAX_RANK] = {count};
  int rank = count == 1 ? 0 : t->rank - 1;
  for (int i = 1; i < rank; i++) dims[i] = 1;
  const char *mid = snt_ox_temp(x, n->name);
  const char *a[2] = {snt_ox_name(x, n->in[0]), snt_ox_const(x, "scale", SNT_F32, rank, dims, sv)};
  int k = snt_ox_node(x, "Mul", n->name, 2, a, mid);
  const char *b[2] = {mid, snt_ox_const(x, "offset", SNT_F32, rank, dims, ov)};
  char name[512];
  snprintf(name, sizeof name, "%s/offset", n->name);
  if (k >= 0) k = snt_ox_node(x, "Add", name, 2, b, snt_ox_name(x, n->out[0]));
  free(sv);
  return k < 0 ? SNT_ERR_NOMEM : SNT_OK;
}

const snt_op snt_op_rescale = {
    .name = "rescale", .type_name = "Rescaling", .default_layer = "rescaling",
    .doc = "affine map x * scale + offset, per tensor or per channel: rescale(x, scale, offset=0)",
    .min_inputs = 1, .max_inputs = 1, .args = args, .infer = infer, .onnx_export = onnx_export, .emit = emit, .inplace = true,
    .batch_rows = snt_rows_first, .no_dsl = "no ONNX op imports to it",
    .no_onnx = "a DSL layer: ONNX Mul and Add by constants import as mul and add",
    .no_types = "never imported from ONNX, whose element types the types rule checks"};
