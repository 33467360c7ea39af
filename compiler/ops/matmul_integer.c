/* MatMulInteger (opset 10) and QLinearMatMul (10, 21): 8-bit matrix products of quantized
 * models with numpy's batch broadcasting, summed exactly in int32 (runtime/kernels/
 * int_linear.c); QLinearMatMul requantizes with a_scale * b_scale / y_scale (b_scale per tensor
 * or per column). Both operands have rank 2 or more. */
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const snt_arg_spec no_args[] = {{0}};

static bool int8_type(snt_dtype t) { return t == SNT_U8 || t == SNT_I8; }

static bool per_ok(const snt_tensor *t, int64_t per) {
  int64_t n = snt_tensor_numel(t);
  return t->rank <= 1 && (n == 1 || (per > 0 && n == per));
}

/* The product's geometry; false with a message in buf when the shapes do not multiply. */
static bool geometry(const snt_tensor *a, const snt_tensor *b, snt_k_matmul_int *p, char *buf, size_t size) {
  if (a->rank < 2 || b->rank < 2 || !int8_type(a->dtype) || !int8_type(b->dtype)) {
    snprintf(buf, size, "A and B must be UINT8 or INT8 of rank 2 or more, got %s rank %d and %s rank %d",
             snt_dtype_name(a->dtype), a->rank, snt_dtype_name(b->dtype), b->rank);
    return false;
  }
  *p = (snt_k_matmul_int){.m = a->dims[a->rank - 2], .k = a->dims[a->rank - 1], .n = b->dims[b->rank - 1], .at = a->dtype,
                          .bt = b->dtype};
  if (b->dims[b->rank - 2] != p->k) {
    snprintf(buf, size, "A has %lld columns and B %lld rows", (long long)p->k, (long long)b->dims[b->rank - 2]);
    return false;
  }
  int br = (a->rank > b->rank ? a->rank : b->rank) - 2;
  if (br > SNT_K_MAX_BATCH_RANK) {
    snprintf(buf, size, "more than %d batch dimensions", SNT_K_MAX_BATCH_RANK);
    return false;
  }
  p->batch_rank = br;
  for (int i = 0; i < br; i++) {
    int ia = i - (br - (a->rank - 2)), ib = i - (br - (b->rank - 2));
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      snprintf(buf, size, "batch dimensions %lld and %lld do not broadcast", (long long)da, (long long)db);
      return false;
    }
    p->a_batch[i] = da, p->b_batch[i] = db, p->y_batch[i] = da == 1 ? db : da;
  }
  return true;
}

static snt_status set_out(snt_graph *g, int node, snt_diag *d, int a_slot, int b_slot, snt_dtype t) {
  snt_node *n = &g->nodes[node];
  snt_k_matmul_int p;
  char why[160];
  if (!geometry(snt_in(g, n, a_slot), snt_in(g, n, b_slot), &p, why, sizeof why)) return snt_node_error(g, n, d, "%s", why);
  int64_t dims[SNT_MAX_RANK];
  for (int i = 0; i < p.batch_rank; i++) dims[i] = p.y_batch[i];
  dims[p.batch_rank] = p.m, dims[p.batch_rank + 1] = p.n;
  snt_set_output(g, node, 0, t, p.batch_rank + 2, dims);
  return SNT_OK;
}

static snt_status mi_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *a = snt_in(g, n, 0), *b = snt_in(g, n, 1), *az = snt_in_opt(g, n, 2), *bz = snt_in_opt(g, n, 3);
  if (az && (az->dtype != a->dtype || !per_ok(az, a->rank >= 2 ? a->dims[a->rank - 2] : 0)))
    return snt_node_error(g, n, d, "a_zero_point must be one value or one per row of A, of A's type");
  if (bz && (bz->dtype != b->dtype || !per_ok(bz, b->rank >= 2 ? b->dims[b->rank - 1] : 0)))
    return snt_node_error(g, n, d, "b_zero_point must be one value or one per column of B, of B's type");
  return set_out(g, node, d, 0, 1, SNT_I32);
}

static snt_status qm_infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  const snt_tensor *a = snt_in(g, n, 0), *as = snt_in(g, n, 1), *az = snt_in(g, n, 2), *b = snt_in(g, n, 3);
  const snt_tensor *bs = snt_in(g, n, 4), *bz = snt_in(g, n, 5), *ys = snt_in(g, n, 6), *yz = snt_in(g, n, 7);
  int64_t cols = b->rank >= 2 ? b->dims[b->rank - 1] : 0;
  if (as->dtype != SNT_F32 || bs->dtype != SNT_F32 || ys->dtype != SNT_F32 || !per_ok(as, 0) || !per_ok(ys, 0) || !per_ok(bs, cols))
    return snt_node_error(g, n, d, "the scales must be FLOAT: a_scale and y_scale one value, b_scale one or one per column");
  if (az->dtype != a->dtype || !per_ok(az, 0) || bz->dtype != b->dtype || !per_ok(bz, cols) || !int8_type(yz->dtype) || !per_ok(yz, 0))
    return snt_node_error(g, n, d, "the zero points must be of their tensor's type (a, b, y), b's one or one per column");
  return set_out(g, node, d, 0, 3, yz->dtype);
}

static const char *opt_ptr(snt_emit *e, const snt_node *n, int slot) {
  return slot < n->n_in && n->in[slot] >= 0 ? snt_emit_ptr(e, n->in[slot]) : "NULL";
}

static int64_t opt_numel(const snt_emit *e, const snt_node *n, int slot) {
  return slot < n->n_in && n->in[slot] >= 0 ? snt_tensor_numel(&e->g->tensors[n->in[slot]]) : 0;
}

static snt_status emit_product(snt_emit *e, const snt_node *n, int a_slot, int b_slot, int az, int bz, const char *y,
                               snt_k_matmul_int *p) {
  char why[160];
  if (!geometry(&e->g->tensors[n->in[a_slot]], &e->g->tensors[n->in[b_slot]], p, why, sizeof why)) return SNT_ERR_INTERNAL;
  snt_emit_line(e, "  const snt_k_matmul_int p = {.batch_rank = %d, .y_batch = %s, .a_batch = %s, .b_batch = %s, "
                ".m = %lldLL, .k = %lldLL, .n = %lldLL, .at = %d, .bt = %d};", p->batch_rank,
                snt_emit_ints(e, p->y_batch, p->batch_rank), snt_emit_ints(e, p->a_batch, p->batch_rank),
                snt_emit_ints(e, p->b_batch, p->batch_rank), (long long)p->m, (long long)p->k, (long long)p->n, (int)p->at,
                (int)p->bt);
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_matmul_integer(&p, %s, (snt_k_zp){.v = %s, .n = %lldLL}, %s, "
                "(snt_k_zp){.v = %s, .n = %lldLL}, %s))) return snt_k_st_;", snt_emit_ptr(e, n->in[a_slot]),
                opt_ptr(e, n, az), (long long)opt_numel(e, n, az), snt_emit_ptr(e, n->in[b_slot]), opt_ptr(e, n, bz),
                (long long)opt_numel(e, n, bz), y);
  return SNT_OK;
}

static snt_status mi_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_k_matmul_int p;
  snt_emit_line(e, "{");
  snt_status st = emit_product(e, n, 0, 1, 2, 3, snt_emit_ptr(e, n->out[0]), &p);
  snt_emit_line(e, "}");
  return st;
}

/* The int32 products go to scratch, then requantized per column into y. */
static snt_status qm_emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  const snt_tensor *y = &e->g->tensors[n->out[0]];
  snt_k_matmul_int p;
  snt_emit_line(e, "{");
  snt_status st = emit_product(e, n, 0, 3, 2, 5, "(int32_t *)S", &p);
  int64_t rows = p.n > 0 ? snt_tensor_numel(y) / p.n : 0;
  snt_emit_line(e, "  const snt_k_requant r = {.outer = %lldLL, .channels = %lldLL, .inner = 1, .a_scale = *%s, "
                ".y_scale = *%s, .b_scale = %s, .n_b_scale = %lldLL, .yt = %d};", (long long)rows, (long long)p.n,
                snt_emit_ptr(e, n->in[1]), snt_emit_ptr(e, n->in[6]), snt_emit_ptr(e, n->in[4]), (long long)opt_numel(e, n, 4),
                (int)y->dtype);
  snt_emit_line(e, "  if (SNT_K_FAILED(snt_k_requantize(&r, (const int32_t *)S, NULL, %s, %s))) return snt_k_st_;",
                snt_emit_ptr(e, n->in[7]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  return st;
}

static size_t qm_scratch(const snt_graph *g, const snt_node *n) {
  return (size_t)snt_tensor_numel(&g->tensors[n->out[0]]) * sizeof(int32_t);
}

#define INT8S (SNT_TY(SNT_U8) | SNT_TY(SNT_I8))

const snt_op snt_op_matmul_integer = {
    .name = "matmul_integer", .type_name = "MatMulInteger", .default_layer = "matmul_integer",
    .doc = "matrix product of 8-bit integers minus their zero points, summed in INT32", .min_inputs = 4, .max_inputs = 4,
    .args = no_args, .infer = mi_infer, .onnx_type = "MatMulInteger", .emit = mi_emit, .no_dsl = SNT_NO_DSL_YET,
    .onnx_arity = {2, 4, 1, 1},
    .types = {.t = INT8S, .t_slots = 5u, .other = INT8S, .note = "exact INT32 sums (wrapping past INT32)"},
    .no_export = SNT_NO_EXPORT_YET};

const snt_op snt_op_qlinear_matmul = {
    .name = "qlinear_matmul", .type_name = "QLinearMatMul", .default_layer = "qlinear_matmul",
    .doc = "quantized matrix product: INT32 sums requantized by a_scale * b_scale / y_scale", .min_inputs = 8,
    .max_inputs = 8, .args = no_args, .infer = qm_infer, .onnx_type = "QLinearMatMul", .onnx_upto = 21, .emit = qm_emit,
    .scratch = qm_scratch, .no_dsl = SNT_NO_DSL_YET, .onnx_arity = {8, 8, 1, 1},
    .types = {.t = INT8S, .t_slots = 5u, .other = INT8S | SNT_TY(SNT_F32),
              .note = "exact INT32 sums, float32 requantization rounded half to even (ONNX Runtime's rule)"},
    .no_export = SNT_NO_EXPORT_YET};
