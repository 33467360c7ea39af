/* gemm (ONNX Gemm): y = alpha * A' B' + beta * C; matmul (ONNX MatMul): numpy's matmul. */
#include "compiler/autodiff.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "compiler/ops/conv2d.h"
#include "sinter/kernels.h"
#include "support/util.h"

static const snt_arg_spec gemm_args[] = {
    {"alpha", SNT_ARG_FLOAT, "1", NULL}, {"beta", SNT_ARG_FLOAT, "1", NULL},
    {"transA", SNT_ARG_INT, "0", NULL},  {"transB", SNT_ARG_INT, "0", NULL}, {0}};
static const snt_arg_spec no_args[] = {{0}};

static snt_status gemm_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *a = snt_in(g, n, 0), *b = snt_in(g, n, 1), *c = snt_in_opt(g, n, 2);
  if (a->rank != 2 || b->rank != 2) return snt_node_error(g, n, d, "A and B must be matrices");
  bool ta = snt_node_int(n, "transA", 0), tb = snt_node_int(n, "transB", 0);
  int64_t m = ta ? a->dims[1] : a->dims[0], k = ta ? a->dims[0] : a->dims[1];
  int64_t kb = tb ? b->dims[1] : b->dims[0], nn = tb ? b->dims[0] : b->dims[1];
  if (k != kb) return snt_node_error(g, n, d, "A has %lld columns but B has %lld rows (after transposes)", (long long)k, (long long)kb);
  if (c) {
    int64_t rows = c->rank == 2 ? c->dims[0] : 1, cols = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    if (c->rank > 2 || (rows != 1 && rows != m) || (cols != 1 && cols != nn))
      return snt_node_error(g, n, d, "C does not broadcast to (%lld, %lld)", (long long)m, (long long)nn);
  }
  int64_t dims[2] = {m, nn};
  snt_set_output(g, node, 0, a->dtype, 2, dims);
  return SNT_OK;
}

static snt_status gemm_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_graph *g = (snt_graph *)e->g;
  const snt_tensor *a = &g->tensors[n->in[0]], *c = snt_in_opt(g, n, 2), *y = &g->tensors[n->out[0]];
  bool ta = snt_node_int(n, "transA", 0);
  int64_t rows = c && c->rank == 2 ? c->dims[0] : 1, cols = c && c->rank >= 1 ? c->dims[c->rank - 1] : 1;
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s snt_k_gemm_desc d = {.m = %s, .n = %lld, .k = %lld, .trans_a = %d, .trans_b = %d, "
                ".alpha = %sf, .beta = %sf, .c_rows = %lld, .c_cols = %lld};", snt_emit_const(e, n->out[0]),
                snt_emit_rows(e, n->out[0]),
                (long long)y->dims[1], (long long)(ta ? a->dims[0] : a->dims[1]), ta, (int)snt_node_int(n, "transB", 0),
                snt_emit_f64(e, (float)snt_node_float(n, "alpha", 1)), snt_emit_f64(e, (float)snt_node_float(n, "beta", 1)),
                (long long)rows, (long long)cols);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_gemm%s(%s&d, %s, %s, %s, %s))) return snt_k_st_;", a->dtype == SNT_F64 ? "_f64" : "", a->dtype == SNT_F64 ? "" : "m->k, ",
                snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]),
                c ? snt_emit_ptr(e, n->in[2]) : "NULL", snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* A (not transposed) carries the batch as its rows; B and C do not. */
static bool gemm_rows(const snt_graph *g, const snt_node *n, const bool *rows) {
  return !snt_node_int(n, "transA", 0) && snt_rows_first(g, n, rows);
}

static snt_status matmul_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *a = snt_in(g, n, 0), *b = snt_in(g, n, 1);
  if (a->rank < 1 || b->rank < 1) return snt_node_error(g, n, d, "operands must have at least one dimension");
  /* a third input is the bias passes/fuse_matmul.c gives a float32 product of A's rows and a [K, N] B */
  if (n->n_in > 2 && (!snt_node_int(n, "fused", 0) || a->rank < 2 || b->rank != 2 || a->dtype != SNT_F32 ||
                      snt_tensor_numel(snt_in(g, n, 2)) != b->dims[1]))
    return snt_node_error(g, n, d, "takes two inputs (a bias only as fused by sinter: rows of float32 A, a [K, N] B, N values)");
  int64_t k = a->dims[a->rank - 1], kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (k != kb) return snt_node_error(g, n, d, "inner dimensions differ: %lld and %lld", (long long)k, (long long)kb);
  /* Batch dims broadcast; a 1-D operand loses its promoted axis in the result. */
  int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0, rbat = ra > rb ? ra : rb;
  int64_t dims[SNT_MAX_RANK];
  for (int i = 0; i < rbat; i++) {
    int64_t da = i - (rbat - ra) >= 0 ? a->dims[i - (rbat - ra)] : 1, db = i - (rbat - rb) >= 0 ? b->dims[i - (rbat - rb)] : 1;
    if (da != db && da != 1 && db != 1) return snt_node_error(g, n, d, "batch dimensions %lld and %lld do not broadcast", (long long)da, (long long)db);
    dims[i] = da > db ? da : db;
  }
  int r = rbat;
  if (a->rank >= 2) dims[r++] = a->dims[a->rank - 2];
  if (b->rank >= 2) dims[r++] = b->dims[b->rank - 1];
  snt_set_output(g, node, 0, a->dtype, r, dims); /* MatMul returns its input type */
  return SNT_OK;
}

/* The element offset of a batch operand: its batch dims (right-aligned to the output's rbat
 * loop counters i0..) with a stride each, broadcast dims (size 1) left out. */
static void batch_offset(snt_strbuf *s, const snt_tensor *x, int rbat, int64_t matrix) {
  int rx = x->rank > 2 ? x->rank - 2 : 0;
  int64_t stride = matrix;
  snt_sb_puts(s, "0");
  for (int d = rx - 1; d >= 0; d--) {
    if (x->dims[d] != 1) snt_sb_printf(s, " + i%d * %lld", d + (rbat - rx), (long long)stride);
    stride *= x->dims[d];
  }
}

/* Integer MatMul: exact, in wrapping uint64_t arithmetic (no float32 kernel, no overflow UB);
 * DOUBLE MatMul: the same loops with a double accumulator. */
static snt_status matmul_loop_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *a = &e->g->tensors[n->in[0]], *b = &e->g->tensors[n->in[1]], *y = &e->g->tensors[n->out[0]];
  int64_t M = a->rank >= 2 ? a->dims[a->rank - 2] : 1, K = a->dims[a->rank - 1], N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
  int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0, rbat = ra > rb ? ra : rb;
  const char *ct = snt_dtype_ctype(y->dtype), *acc = y->dtype == SNT_F64 ? "double" : "uint64_t";
  snt_strbuf ao = {0}, bo = {0};
  batch_offset(&ao, a, rbat, M * K);
  batch_offset(&bo, b, rbat, K * N);
  if (ao.failed || bo.failed) return SNT_ERR_NOMEM;
  snt_emit_line(e, "{");
  snt_emit_line(e, "const %s *A = %s, *B = %s;", ct, snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->in[1]));
  snt_emit_line(e, "%s *Y = %s;", ct, snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "int64_t yo = 0;");
  for (int d = 0; d < rbat; d++) snt_emit_line(e, "for (int64_t i%d = 0; i%d < %lld; i%d++)", d, d, (long long)y->dims[d], d);
  snt_emit_line(e, "{");
  snt_emit_line(e, "  const int64_t ao = %s, bo = %s;", ao.data, bo.data);
  snt_emit_line(e, "  for (int64_t m = 0; m < %lld; m++)", (long long)M);
  snt_emit_line(e, "    for (int64_t j = 0; j < %lld; j++) {", (long long)N);
  snt_emit_line(e, "      %s acc = 0;", acc);
  snt_emit_line(e, "      for (int64_t k = 0; k < %lld; k++) acc += (%s)A[ao + m * %lld + k] * (%s)B[bo + k * %lld + j];",
                (long long)K, acc, (long long)K, acc, (long long)N);
  snt_emit_line(e, "      Y[yo + m * %lld + j] = (%s)acc;", (long long)N, ct);
  snt_emit_line(e, "    }");
  snt_emit_line(e, "  yo += %lld;", (long long)(M * N));
  snt_emit_line(e, "}");
  snt_emit_line(e, "}");
  snt_sb_free(&ao);
  snt_sb_free(&bo);
  return SNT_OK;
}

/* A float32 matmul that passes/fuse_matmul.c gave a bias (input 2) and maybe an activation: the
 * rows of A (dims but the last) times the [K, N] matrix B as one GEMM, both in its store. */
static snt_status matmul_fused_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *a = &e->g->tensors[n->in[0]], *b = &e->g->tensors[n->in[1]];
  int64_t inner = 1;
  for (int i = 1; i < a->rank - 1; i++) inner *= a->dims[i];
  snt_k_act act = snt_conv2d_act(n, "");
  bool bias = n->n_in > 2 && n->in[2] >= 0;
  snt_emit_line(e, "{");
  snt_emit_line(e, "const snt_k_gemm_desc d = {.m = (%s) * %lld, .n = %lld, .k = %lld, .alpha = 1.0f, .beta = %s, .c_rows = 1, "
                ".c_cols = %lld, .act = {.kind = (snt_k_act_kind)%d, .alpha = (float)%s, .clip_min = (float)%s, .clip_max = (float)%s, "
                ".beta = (float)%s}};",
                snt_emit_rows(e, n->in[0]), (long long)inner, (long long)b->dims[1], (long long)b->dims[0], bias ? "1.0f" : "0.0f",
                (long long)b->dims[1], (int)act.kind, snt_emit_f64(e, act.alpha), snt_emit_f64(e, act.clip_min),
                snt_emit_f64(e, act.clip_max), snt_emit_f64(e, act.beta));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_gemm(m->k, &d, %s, %s, %s, %s))) return snt_k_st_;", snt_emit_ptr(e, n->in[0]),
                snt_emit_ptr(e, n->in[1]), bias ? snt_emit_ptr(e, n->in[2]) : "NULL", snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static snt_status matmul_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *a = &e->g->tensors[n->in[0]], *b = &e->g->tensors[n->in[1]];
  if (snt_node_int(n, "fused", 0)) return matmul_fused_emit(e, node);
  if (a->dtype != SNT_F32) return matmul_loop_emit(e, node);
  snt_emit_line(e, "{");
  snt_emit_line(e, "%s int64_t ad[] = %s, bd[] = %s;", snt_emit_const(e, n->in[0]), snt_emit_dims_rows(e, n->in[0]),
                snt_emit_dims(e, n->in[1]));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_matmul(m->k, %d, ad, %s, %d, bd, %s, %s))) return snt_k_st_;", a->rank, snt_emit_ptr(e, n->in[0]),
                b->rank, snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

/* The float kernel with A carrying the batch as its dim 0: its rows when A is a matrix (and B
 * has no batch dims), else its first batch dim, which B must not have or must broadcast. */
static bool matmul_rows(const snt_graph *g, const snt_node *n, const bool *rows) {
  const snt_tensor *a = &g->tensors[n->in[0]], *b = &g->tensors[n->in[1]];
  bool b_ok = a->rank == 2 ? b->rank <= 2 : b->rank < a->rank || b->dims[0] == 1;
  return a->dtype == SNT_F32 && a->rank >= 2 && b_ok && snt_rows_first(g, n, rows);
}

/* 2 x K x N per row of A (a row is a sample, as in dense). */
static double gemm_flops(const snt_graph *g, const snt_node *n) {
  const snt_tensor *a = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
  return 2.0 * (double)(snt_node_int(n, "transA", 0) ? a->dims[0] : a->dims[1]) * (double)y->dims[1];
}

/* bench --profile: float32 runs on the GEMM of m's kernel context. */
static const char *gemm_kernel_name(snt_emit *e, int node) {
  return e->g->tensors[e->g->nodes[node].in[0]].dtype == SNT_F64 ? "\"gemm-f64\"" : "snt_k_gemm_kernel(m->k)";
}

/* ONNX attribute ranges (compiler/onnx/validate.c). */
static const snt_attr_range gemm_ranges[] = {{"transA", 0, 1}, {"transB", 0, 1}, {0}};
static const char *const gemm_roles[] = {NULL, "kernel", "bias", NULL}, *const matmul_roles[] = {NULL, "kernel", NULL};

/* A Gemm or MatMul that is a dense layer (sinter import). */
static snt_status dense_dsl(snt_dsl_writer *w, int node, bool gemm) {
  const snt_graph *g = w->g;
  const snt_node *n = &g->nodes[node];
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  if (g->tensors[n->in[0]].rank != 2 || !snt_dsl_is_param(g, n, 1) ||
      (gemm && (snt_node_int(n, "transA", 0) || snt_node_float(n, "alpha", 1) != 1 || snt_node_float(n, "beta", 1) != 1 ||
                (n->n_in > 2 && !snt_dsl_is_param(g, n, 2)))))
    return snt_dsl_unsupported(w, n, "dense layers (constant B and C, no transA, alpha = beta = 1) only");
  const snt_tensor *b = &g->tensors[n->in[1]];
  int64_t units = gemm && snt_node_int(n, "transB", 0) ? b->dims[0] : b->dims[1];
  fprintf(w->out, "  %s = dense(%s, %lld, bias = %s, name = %s)\n", lhs, in, (long long)units,
          gemm && n->n_in > 2 ? "true" : "false", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

static snt_status gemm_dsl(snt_dsl_writer *w, int node) { return dense_dsl(w, node, true); }
static snt_status matmul_dsl(snt_dsl_writer *w, int node) { return dense_dsl(w, node, false); }

/* The gradient of A (what explain needs of a classifier's last layer): alpha dY B'^T, or
 * alpha B' dY^T when A is transposed. Reads dY and B; the forward node's attributes. */
static snt_status gemm_grad_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *dy = &e->g->tensors[n->in[0]], *b = &e->g->tensors[n->in[1]];
  int ta = (int)snt_node_int(n, "transA", 0), tb = (int)snt_node_int(n, "transB", 0);
  long long m = dy->dims[0], nn = dy->dims[1], k = tb ? b->dims[1] : b->dims[0];
  const char *alpha = snt_emit_f64(e, (float)snt_node_float(n, "alpha", 1));
  snt_emit_line(e, "{");
  if (!ta)
    snt_emit_line(e, "const snt_k_gemm_desc d = {.m = %lld, .n = %lld, .k = %lld, .trans_a = 0, .trans_b = %d, "
                  ".alpha = %sf, .beta = 0.0f, .c_rows = 1, .c_cols = 1};", m, k, nn, !tb, alpha);
  else
    snt_emit_line(e, "const snt_k_gemm_desc d = {.m = %lld, .n = %lld, .k = %lld, .trans_a = %d, .trans_b = 1, "
                  ".alpha = %sf, .beta = 0.0f, .c_rows = 1, .c_cols = 1};", k, m, nn, tb, alpha);
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_gemm(m->k, &d, %s, %s, NULL, %s))) return snt_k_st_;",
                snt_emit_ptr(e, n->in[ta ? 1 : 0]), snt_emit_ptr(e, n->in[ta ? 0 : 1]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return SNT_OK;
}

static const snt_op gemm_grad_input = {.name = "gemm_grad_input", .type_name = "GemmGrad", .default_layer = "grad",
                                       .doc = "gradient of gemm's input A", .args = no_args, .emit = gemm_grad_emit};

static snt_status gemm_grad(snt_ad *ad, int node) {
  const snt_graph *g = ad->g;
  const snt_node *n = &g->nodes[node];
  const char *purpose = ad->purpose ? ad->purpose : "trained";
  if (snt_ad_needs(ad, n->in[1]) || (n->n_in > 2 && n->in[2] >= 0 && snt_ad_needs(ad, n->in[2])))
    return snt_node_error(g, n, ad->d, "cannot be %s yet: gemm's gradient rule covers its input A, not B or C", purpose);
  if (g->tensors[n->in[0]].dtype != SNT_F32)
    return snt_node_error(g, n, ad->d, "cannot be %s yet: gemm's gradient rule is for FLOAT", purpose);
  int ins[2] = {snt_ad_grad(ad, n->out[0]), n->in[1]};
  return snt_ad_input_grad(ad, &gemm_grad_input, node, 2, ins);
}

const snt_op snt_op_gemm = {
    .name = "gemm", .type_name = "Gemm", .default_layer = "gemm",
    .doc = "y = alpha * A' B' + beta * C: gemm(a, b, c, alpha=1, beta=1, transA=0, transB=0)", .min_inputs = 2,
    .max_inputs = 3, .args = gemm_args, .infer = gemm_infer, .flops = gemm_flops, .onnx_type = "Gemm", .emit = gemm_emit, .to_dsl = gemm_dsl,
    .onnx_roles = gemm_roles, .onnx_weight_inputs = 6,
    .kernel_name = gemm_kernel_name, .batch_rows = gemm_rows, .grad = gemm_grad,
    .onnx_arity = {2, 3, 1, 1}, .onnx_ranges = gemm_ranges, .types = SNT_TYPES_LOOP_F64(7),
    .no_export = SNT_NO_EXPORT_YET};

const snt_op snt_op_matmul = {
    .name = "matmul", .type_name = "MatMul", .default_layer = "matmul",
    .doc = "matrix product with numpy's broadcasting: matmul(a, b)", .min_inputs = 2, .max_inputs = 3,
    .args = no_args, .infer = matmul_infer, .onnx_type = "MatMul", .emit = matmul_emit, .to_dsl = matmul_dsl, .batch_rows = matmul_rows,
    .onnx_roles = matmul_roles, .onnx_weight_inputs = 2,
    .onnx_arity = {2, 2, 1, 1}, .types = {.t = SNT_TY(SNT_F32) | SNT_TY(SNT_F64) | SNT_TY(SNT_I32) | SNT_TY(SNT_I64) | SNT_TY(SNT_U32) | SNT_TY(SNT_U64),
              .t_f32 = SNT_TY(SNT_F16), .t_slots = 3,
              .note = "DOUBLE in double precision; FLOAT16 cast to float32 and the result rounded back; integers exact, in the type (wrapping)"},
    .no_export = SNT_NO_EXPORT_YET};
