/* depth_to_space and space_to_depth: the NCHW rearrangements of super-resolution and YOLO-style
 * CNNs. Each is a reshape to 6-D, a transpose and a reshape back, so both run through the
 * transpose kernel on the 6-D view (any element type). DepthToSpace's mode (opset 11) picks
 * the channel order: DCR (depth-column-row, the default and opset 1's only order) or CRD. */
#include <string.h>

#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

extern const snt_op snt_op_depth_to_space, snt_op_space_to_depth;

static const char *const modes[] = {"DCR", "CRD", NULL};
static const snt_arg_spec d2s_args[] = {{"blocksize", SNT_ARG_INT, NULL, NULL}, {"mode", SNT_ARG_SYMBOL, "DCR", modes}, {0}};
static const snt_arg_spec s2d_args[] = {{"blocksize", SNT_ARG_INT, NULL, NULL}, {0}};

static bool is_d2s(const snt_node *n) { return n->op == &snt_op_depth_to_space; }
static bool is_crd(const snt_node *n) { return is_d2s(n) && strcmp(snt_node_string(n, "mode", "DCR"), "CRD") == 0; }

/* Why x cannot be rearranged with blocksize b, or NULL (messages for infer and onnx_import). */
static const char *problem(const snt_node *n, const snt_tensor *x, int64_t b, char *buf, size_t size) {
  if (x->rank != 4) return snprintf(buf, size, "the input has rank %d, not 4 (N, C, H, W)", x->rank), buf;
  if (b < 1 || b > SNT_MAX_ATTR) return "blocksize must be within 1..2^24";
  if (is_d2s(n) && x->dims[1] % (b * b))
    return snprintf(buf, size, "%lld channels are not divisible by blocksize^2 = %lld", (long long)x->dims[1], (long long)(b * b)), buf;
  for (int a = 2; !is_d2s(n) && a < 4; a++)
    if (x->dims[a] % b)
      return snprintf(buf, size, "the %s %lld is not divisible by blocksize %lld", a == 2 ? "height" : "width", (long long)x->dims[a],
                      (long long)b), buf;
  return NULL;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *x = snt_in(g, n, 0);
  int64_t b = snt_node_int(n, "blocksize", 0), dims[4];
  char buf[160];
  const char *p = problem(n, x, b, buf, sizeof buf);
  if (p) return snt_node_error(g, n, d, "%s", p);
  memcpy(dims, x->dims, sizeof dims);
  if (is_d2s(n)) dims[1] /= b * b, dims[2] *= b, dims[3] *= b; /* within the caps: the count is unchanged */
  else dims[1] *= b * b, dims[2] /= b, dims[3] /= b;
  snt_set_output(g, node, 0, x->dtype, 4, dims);
  return SNT_OK;
}

/* The same checks with the ONNX op and opset named; mode is an attribute from opset 11. */
static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const char *m = snt_node_string(n, "mode", "DCR");
  if (strcmp(m, "DCR") != 0 && strcmp(m, "CRD") != 0)
    return snt_node_error(g, n, d, "%s-%d: mode '%s' is neither DCR nor CRD", n->op->onnx_type, opset, m);
  if (!snt_node_attr(n, "blocksize")) return snt_node_error(g, n, d, "%s-%d needs the blocksize attribute", n->op->onnx_type, opset);
  char buf[160];
  const char *p = problem(n, snt_in(g, n, 0), snt_node_int(n, "blocksize", 0), buf, sizeof buf);
  return p ? snt_node_error(g, n, d, "%s-%d: %s", n->op->onnx_type, opset, p) : SNT_OK;
}

/* The 6-D view of the input and the permutation taking it to the output's 6-D view. */
static void view(const snt_node *n, const snt_tensor *x, int64_t *v, int *perm) {
  int64_t b = snt_node_int(n, "blocksize", 1), N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
  static const int dcr[] = {0, 3, 4, 1, 5, 2}, crd[] = {0, 1, 4, 2, 5, 3}, s2d[] = {0, 3, 5, 1, 2, 4};
  const int *p = !is_d2s(n) ? s2d : is_crd(n) ? crd : dcr;
  memcpy(perm, p, 6 * sizeof *perm);
  if (!is_d2s(n)) { /* [N, C, H/b, b, W/b, b] -> [N, b, b, C, H/b, W/b] */
    int64_t s[] = {N, C, H / b, b, W / b, b};
    memcpy(v, s, sizeof s);
  } else if (is_crd(n)) { /* [N, C/b^2, b, b, H, W] -> [N, C/b^2, H, b, W, b] */
    int64_t s[] = {N, C / (b * b), b, b, H, W};
    memcpy(v, s, sizeof s);
  } else { /* DCR: [N, b, b, C/b^2, H, W] -> [N, C/b^2, H, b, W, b] */
    int64_t s[] = {N, b, b, C / (b * b), H, W};
    memcpy(v, s, sizeof s);
  }
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *x = &e->g->tensors[n->in[0]];
  int64_t v[6];
  int perm[6];
  view(n, x, v, perm);
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s int64_t dims[] = {%s, %lld, %lld, %lld, %lld, %lld};", snt_emit_const(e, n->in[0]), snt_emit_rows(e, n->in[0]),
                (long long)v[1], (long long)v[2], (long long)v[3], (long long)v[4], (long long)v[5]);
  snt_emit_line(e, "static const int perm[] = {%d, %d, %d, %d, %d, %d};", perm[0], perm[1], perm[2], perm[3], perm[4], perm[5]);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_transpose(%zu, 6, dims, perm, %s, %s))) return snt_k_st_;", snt_dtype_size(x->dtype),
                snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  fprintf(w->out, "  %s = %s(%s, %lld", lhs, n->op->name, in, (long long)snt_node_int(n, "blocksize", 1));
  if (is_d2s(n)) fprintf(w->out, ", mode = %s", is_crd(n) ? "CRD" : "DCR");
  fprintf(w->out, ", name = %s)\n", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

/* Opset 13's form (mode from 11). */
static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  const char *in = snt_ox_name(x, n->in[0]);
  int k = snt_ox_node(x, n->op->onnx_type, n->name, 1, &in, snt_ox_name(x, n->out[0]));
  if (k < 0) return SNT_ERR_NOMEM;
  snt_ox_attr_int(x, k, "blocksize", snt_node_int(n, "blocksize", 1));
  if (is_d2s(n)) snt_ox_attr_string(x, k, "mode", is_crd(n) ? "CRD" : "DCR");
  return SNT_OK;
}

static const snt_attr_range ranges[] = {{"blocksize", 1, SNT_MAX_ATTR}, {0}};

/* Each sample is rearranged on its own: the batch axis stays first. */
const snt_op snt_op_depth_to_space = {
    .name = "depth_to_space", .type_name = "DepthToSpace", .default_layer = "depth_to_space",
    .doc = "moves channel blocks into blocksize x blocksize spatial blocks (NCHW): depth_to_space(x, blocksize, mode=DCR)",
    .min_inputs = 1, .max_inputs = 1, .args = d2s_args, .infer = infer, .onnx_type = "DepthToSpace", .onnx_import = onnx_import,
    .emit = emit, .to_dsl = to_dsl, .onnx_export = onnx_export, .batch_rows = snt_rows_first, .onnx_arity = {1, 1, 1, 1},
    .onnx_ranges = ranges, .types = {.t = SNT_TY_ALL, .note = SNT_NOTE_MOVE}};

const snt_op snt_op_space_to_depth = {
    .name = "space_to_depth", .type_name = "SpaceToDepth", .default_layer = "space_to_depth",
    .doc = "moves blocksize x blocksize spatial blocks into channels (NCHW): space_to_depth(x, blocksize)",
    .min_inputs = 1, .max_inputs = 1, .args = s2d_args, .infer = infer, .onnx_type = "SpaceToDepth", .onnx_import = onnx_import,
    .emit = emit, .to_dsl = to_dsl, .onnx_export = onnx_export, .batch_rows = snt_rows_first, .onnx_arity = {1, 1, 1, 1},
    .onnx_ranges = ranges, .types = {.t = SNT_TY_ALL, .note = SNT_NOTE_MOVE}};
