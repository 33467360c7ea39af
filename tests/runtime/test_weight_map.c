/* The ONNX-initializer-to-parameter mapping (include/sinter/weight_map.h, docs/onnx.md
 * "Weights for DSL models") on small graphs built here: a Keras-named file, a PyTorch-named
 * one matched by structure, Gemm transB and MatMul+Add dense layers, a file with an extra
 * layer and a missing head (partial loads the rest, strict refuses), and the messages of a
 * shape mismatch, a folded BatchNorm and an ambiguous name. The expected indexes, values
 * and messages are written out by hand from the rules. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sinter/weight_map.h"

enum { MAXN = 16, MAXI = 32, MAXV = 320 };

typedef struct mb {
  Onnx__ModelProto m;
  Onnx__GraphProto g;
  Onnx__NodeProto nodes[MAXN], *np[MAXN];
  char *ins[MAXN][6], *outs[MAXN][1];
  char out_names[MAXN][16];
  Onnx__AttributeProto attr[MAXN], *ap[MAXN];
  Onnx__TensorProto inits[MAXI], *ip[MAXI];
  int64_t dims[MAXI][4];
  float data[MAXI][MAXV];
} mb;

static mb *mb_new(void) {
  mb *b = calloc(1, sizeof *b);
  onnx__model_proto__init(&b->m);
  onnx__graph_proto__init(&b->g);
  b->m.graph = &b->g;
  b->g.node = b->np;
  b->g.initializer = b->ip;
  return b;
}

/* A node named `name` (op `op`) reading `n_in` inputs; its output is "t<index>". */
static int mb_node(mb *b, const char *op, const char *name, int n_in, const char *const *in) {
  int i = (int)b->g.n_node++;
  Onnx__NodeProto *n = &b->nodes[i];
  onnx__node_proto__init(n);
  n->op_type = (char *)op;
  n->name = (char *)name;
  for (int k = 0; k < n_in; k++) b->ins[i][k] = (char *)in[k];
  n->input = b->ins[i];
  n->n_input = (size_t)n_in;
  snprintf(b->out_names[i], sizeof b->out_names[i], "t%d", i);
  b->outs[i][0] = b->out_names[i];
  n->output = b->outs[i];
  n->n_output = 1;
  b->np[i] = n;
  return i;
}

static void mb_trans_b(mb *b, int node) {
  Onnx__AttributeProto *a = &b->attr[node];
  onnx__attribute_proto__init(a);
  a->name = "transB";
  a->has_i = 1;
  a->i = 1;
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  b->ap[node] = a;
  b->nodes[node].attribute = &b->ap[node];
  b->nodes[node].n_attribute = 1;
}

/* A FLOAT initializer whose element j is base + j. Returns its index. */
static int mb_init(mb *b, const char *name, float base, int rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  int i = (int)b->g.n_initializer++;
  Onnx__TensorProto *t = &b->inits[i];
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  int64_t d[4] = {d0, d1, d2, d3}, n = 1;
  for (int k = 0; k < rank; k++) b->dims[i][k] = d[k], n *= d[k];
  t->dims = b->dims[i];
  t->n_dims = (size_t)rank;
  t->has_data_type = 1;
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  for (int64_t j = 0; j < n && j < MAXV; j++) b->data[i][j] = base + (float)j;
  t->has_raw_data = 1;
  t->raw_data.data = (uint8_t *)b->data[i];
  t->raw_data.len = sizeof(float) * (size_t)n;
  b->ip[i] = t;
  return i;
}

/* The model: conv2d (kernel [4,3,3,3], bias [4]) -> batch_normalization (4 x [4]) -> dense
 * (kernel [4,2], bias [2]), its parameters named as the compiler names them. */
enum { T_CK, T_CB, T_G, T_B, T_MM, T_MV, T_DK, T_DB, NT };
static snt_wmap_target model[NT] = {
    {"conv2d/kernel", "conv2d", "kernel", NULL, SNT_F32, 4, {4, 3, 3, 3}},
    {"conv2d/bias", "conv2d", "bias", NULL, SNT_F32, 1, {4}},
    {"batch_normalization/gamma", "batch_normalization", "gamma", NULL, SNT_F32, 1, {4}},
    {"batch_normalization/beta", "batch_normalization", "beta", NULL, SNT_F32, 1, {4}},
    {"batch_normalization/moving_mean", "batch_normalization", "moving_mean", NULL, SNT_F32, 1, {4}},
    {"batch_normalization/moving_variance", "batch_normalization", "moving_variance", NULL, SNT_F32, 1, {4}},
    {"dense/kernel", "dense", "kernel", NULL, SNT_F32, 2, {4, 2}},
    {"dense/bias", "dense", "bias", NULL, SNT_F32, 1, {2}},
};

static snt_status run(const mb *b, bool strict, bool exact_first, snt_wmap_match *mt, snt_wmap_how *by, snt_err *e) {
  snt_wmap_opts o = {.path = "w.onnx", .model = "tiny", .exact_first = exact_first, .strict = strict};
  e->msg[0] = '\0';
  return snt_wmap_match_targets(&b->m, model, NT, &o, mt, by, e);
}

/* A Keras/tf2onnx-style file, initializers listed in another order than the layers. */
static mb *keras_file(bool with_head, bool extra_layer, int64_t kh) {
  mb *b = mb_new();
  if (with_head) {
    mb_init(b, "sequential/dense/BiasAdd/ReadVariableOp:0", 700, 1, 2, 0, 0, 0);
    mb_init(b, "sequential/dense/MatMul/ReadVariableOp:0", 600, 2, 4, 2, 0, 0);
  }
  mb_init(b, "sequential/batch_normalization/ReadVariableOp_1:0", 300, 1, 4, 0, 0, 0);  /* beta */
  mb_init(b, "sequential/batch_normalization/ReadVariableOp:0", 200, 1, 4, 0, 0, 0);    /* gamma */
  mb_init(b, "sequential/batch_normalization/FusedBatchNormV3/mean", 400, 1, 4, 0, 0, 0);
  mb_init(b, "sequential/batch_normalization/FusedBatchNormV3/var", 500, 1, 4, 0, 0, 0);
  mb_init(b, "sequential/conv2d/Conv2D/ReadVariableOp:0", 0, 4, 4, 3, kh, kh);
  mb_init(b, "sequential/conv2d/BiasAdd/ReadVariableOp:0", 100, 1, 4, 0, 0, 0);
  if (extra_layer) mb_init(b, "aux_conv/kernel", 900, 4, 4, 4, 1, 1);
  const char *c[] = {"x", "sequential/conv2d/Conv2D/ReadVariableOp:0", "sequential/conv2d/BiasAdd/ReadVariableOp:0"};
  mb_node(b, "Conv", "sequential/conv2d/Conv2D", 3, c);
  const char *n[] = {"t0", "sequential/batch_normalization/ReadVariableOp:0", "sequential/batch_normalization/ReadVariableOp_1:0",
                     "sequential/batch_normalization/FusedBatchNormV3/mean", "sequential/batch_normalization/FusedBatchNormV3/var"};
  mb_node(b, "BatchNormalization", "sequential/batch_normalization/FusedBatchNormV3", 5, n);
  if (extra_layer) {
    const char *a[] = {"t1", "aux_conv/kernel"};
    mb_node(b, "Conv", "aux_conv", 2, a);
  }
  if (with_head) {
    const char *f[] = {"flat", "sequential/dense/MatMul/ReadVariableOp:0"};
    int mm = mb_node(b, "MatMul", "sequential/dense/MatMul", 2, f);
    char *o = b->out_names[mm];
    static const char *add[2];
    add[0] = o;
    add[1] = "sequential/dense/BiasAdd/ReadVariableOp:0";
    mb_node(b, "Add", "sequential/dense/BiasAdd", 2, add);
  }
  return b;
}

static void test_keras_names(test_state *ts) {
  mb *b = keras_file(true, false, 3);
  snt_wmap_match mt[NT];
  snt_wmap_how by;
  snt_err e;
  CHECK_INT(ts, run(b, true, false, mt, &by, &e), SNT_OK);
  CHECK_STR(ts, e.msg, "");
  CHECK_INT(ts, by, SNT_WMAP_LAYER);
  /* initializer indexes as listed in keras_file */
  const int want[NT] = {6, 7, 3, 2, 4, 5, 1, 0};
  for (int i = 0; i < NT; i++) {
    CHECK_INT(ts, mt[i].init, want[i]);
    CHECK_INT(ts, mt[i].how, SNT_WMAP_LAYER);
    CHECK(ts, !mt[i].transpose); /* MatMul's kernel is [in, out] already */
  }
  /* The same with exact_first (the runtime's --weights): no exact names, so the mapping. */
  CHECK_INT(ts, run(b, true, true, mt, &by, &e), SNT_OK);
  CHECK_INT(ts, by, SNT_WMAP_LAYER);
  for (int i = 0; i < NT; i++) CHECK_INT(ts, mt[i].init, want[i]);
  /* Partial mode (the runtime's --init-from) finds the same. */
  CHECK_INT(ts, run(b, false, true, mt, &by, &e), SNT_OK);
  for (int i = 0; i < NT; i++) CHECK_INT(ts, mt[i].init, want[i]);
  free(b);
}

/* A file named exactly as the model's parameters (what export-onnx writes): exact matches. */
static void test_exact_names(test_state *ts) {
  mb *b = mb_new();
  for (int i = NT - 1; i >= 0; i--) mb_init(b, model[i].name, (float)(100 * i), model[i].rank, model[i].dims[0],
                                            model[i].dims[1], model[i].dims[2], model[i].dims[3]);
  /* no nodes at all: roles are not needed for exact names */
  snt_wmap_match mt[NT];
  snt_wmap_how by;
  snt_err e;
  CHECK_INT(ts, run(b, true, true, mt, &by, &e), SNT_OK);
  CHECK_INT(ts, by, SNT_WMAP_EXACT);
  for (int i = 0; i < NT; i++) {
    CHECK_INT(ts, mt[i].init, NT - 1 - i);
    CHECK_INT(ts, mt[i].how, SNT_WMAP_EXACT);
  }
  /* An exactly named dense/kernel that a Gemm transB=1 reads is [out, in]: transposed. */
  b->dims[1][0] = 2, b->dims[1][1] = 4; /* dense/kernel is initializer NT-1-T_DK = 1 */
  const char *f[] = {"flat", "dense/kernel", "dense/bias"};
  int gemm = mb_node(b, "Gemm", "dense", 3, f);
  mb_trans_b(b, gemm);
  CHECK_INT(ts, run(b, true, true, mt, &by, &e), SNT_OK);
  CHECK_INT(ts, by, SNT_WMAP_EXACT);
  CHECK_INT(ts, mt[T_DK].init, 1);
  CHECK(ts, mt[T_DK].transpose);
  /* ... and refused untransposed when the Gemm has no transB (shapes are checked). */
  b->nodes[gemm].n_attribute = 0;
  CHECK_INT(ts, run(b, true, true, mt, &by, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, "w.onnx: weights do not fit the model: 'dense/kernel' (FLOAT (2, 4)) does not fit parameter 'dense/kernel' (4, 2)");
  b->g.n_node = 0;
  b->dims[1][0] = 4, b->dims[1][1] = 2;
  /* Without exact_first (the compiler) the file has no weight layers: structure fails. */
  CHECK_INT(ts, run(b, true, false, mt, &by, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, "w.onnx: the file has 0 weight layers; the model's layer 'conv2d' (conv2d) has none");
  free(b);
}

/* PyTorch names: no segment is a model layer name, so strict mode pairs layers in order;
 * the Linear is a Gemm with transB=1 whose [out, in] weight is transposed. */
static mb *torch_file(bool with_bn) {
  mb *b = mb_new();
  mb_init(b, "backbone.conv1.weight", 0, 4, 4, 3, 3, 3);
  mb_init(b, "backbone.conv1.bias", 100, 1, 4, 0, 0, 0);
  if (with_bn) {
    mb_init(b, "backbone.bn1.weight", 200, 1, 4, 0, 0, 0);
    mb_init(b, "backbone.bn1.bias", 300, 1, 4, 0, 0, 0);
    mb_init(b, "backbone.bn1.running_mean", 400, 1, 4, 0, 0, 0);
    mb_init(b, "backbone.bn1.running_var", 500, 1, 4, 0, 0, 0);
  }
  mb_init(b, "fc.weight", 600, 2, 2, 4, 0, 0);
  mb_init(b, "fc.bias", 700, 1, 2, 0, 0, 0);
  const char *c[] = {"x", "backbone.conv1.weight", "backbone.conv1.bias"};
  mb_node(b, "Conv", "/backbone/conv1/Conv", 3, c);
  if (with_bn) {
    const char *n[] = {"t0", "backbone.bn1.weight", "backbone.bn1.bias", "backbone.bn1.running_mean", "backbone.bn1.running_var"};
    mb_node(b, "BatchNormalization", "/backbone/bn1/BatchNormalization", 5, n);
  }
  const char *f[] = {"flat", "fc.weight", "fc.bias"};
  mb_trans_b(b, mb_node(b, "Gemm", "/fc/Gemm", 3, f));
  return b;
}

static void test_torch_structure(test_state *ts) {
  mb *b = torch_file(true);
  snt_wmap_match mt[NT];
  snt_wmap_how by;
  snt_err e;
  CHECK_INT(ts, run(b, true, true, mt, &by, &e), SNT_OK);
  CHECK_STR(ts, e.msg, "");
  CHECK_INT(ts, by, SNT_WMAP_STRUCTURE);
  for (int i = 0; i < NT; i++) {
    CHECK_INT(ts, mt[i].init, i);
    CHECK_INT(ts, mt[i].how, SNT_WMAP_STRUCTURE);
    CHECK_INT(ts, mt[i].transpose, i == T_DK);
  }
  /* The copy transposes fc.weight [2, 4] (element [o][i] = 600 + 4o + i) into [4, 2]. */
  snt_tensor_buf src = {.dtype = SNT_F32, .rank = 2, .dims = {2, 4}, .data = b->data[T_DK], .name = "fc.weight"};
  float dk[8];
  CHECK_INT(ts, snt_wmap_copy_f32(&src, &mt[T_DK], &model[T_DK], dk, &e), SNT_OK);
  const float want[8] = {600, 604, 601, 605, 602, 606, 603, 607};
  CHECK(ts, memcmp(dk, want, sizeof want) == 0);
  /* Partial mode maps by name only: nothing of this file is named for the model. */
  CHECK_INT(ts, run(b, false, true, mt, &by, &e), SNT_OK);
  CHECK_INT(ts, by, SNT_WMAP_NONE);
  for (int i = 0; i < NT; i++) CHECK_INT(ts, mt[i].how, SNT_WMAP_NONE);
  free(b);
  /* BatchNorm folded away: the model's second layer meets the file's Gemm. */
  b = torch_file(false);
  CHECK_INT(ts, run(b, true, true, mt, &by, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, "w.onnx: weights do not fit the model: layer 'batch_normalization' (batchnorm) needs a gamma, but "
                       "weight layer 2 of the file ('/fc/Gemm') has none of that kind");
  free(b);
}

/* A Keras-named Gemm with transB=1: dense/kernel stored [2, 4], matched by name, transposed. */
static void test_gemm_transb_by_name(test_state *ts) {
  mb *b = keras_file(false, false, 3);
  int k = mb_init(b, "dense/kernel", 600, 2, 2, 4, 0, 0);
  int bias = mb_init(b, "dense/bias", 700, 1, 2, 0, 0, 0);
  const char *f[] = {"flat", "dense/kernel", "dense/bias"};
  mb_trans_b(b, mb_node(b, "Gemm", "dense", 3, f));
  snt_wmap_match mt[NT];
  snt_wmap_how by;
  snt_err e;
  CHECK_INT(ts, run(b, true, false, mt, &by, &e), SNT_OK);
  CHECK_INT(ts, by, SNT_WMAP_LAYER);
  CHECK_INT(ts, mt[T_DK].init, k);
  CHECK(ts, mt[T_DK].transpose);
  CHECK_INT(ts, mt[T_DB].init, bias);
  CHECK(ts, !mt[T_DB].transpose);
  float dk[8];
  snt_tensor_buf src = {.dtype = SNT_F32, .rank = 2, .dims = {2, 4}, .data = b->data[k], .name = "dense/kernel"};
  CHECK_INT(ts, snt_wmap_copy_f32(&src, &mt[T_DK], &model[T_DK], dk, &e), SNT_OK);
  for (int i = 0; i < 4; i++)
    for (int o = 0; o < 2; o++) CHECK(ts, dk[i * 2 + o] == 600 + (float)(o * 4 + i));
  /* The same kernel without transB is [out, in] = [2, 4] read as [in, out]: a mismatch. */
  b->nodes[b->g.n_node - 1].n_attribute = 0;
  CHECK_INT(ts, run(b, true, false, mt, &by, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, "w.onnx: weights do not fit the model: 'dense/kernel' (FLOAT (2, 4)) does not fit parameter 'dense/kernel' (4, 2)");
  free(b);
}

/* An extra layer the model lacks and no head: partial loads conv2d and batch_normalization
 * and leaves dense fresh; strict names the first parameter left empty. */
static void test_partial_extra_layer(test_state *ts) {
  mb *b = keras_file(false, true, 3);
  snt_wmap_match mt[NT];
  snt_wmap_how by;
  snt_err e;
  CHECK_INT(ts, run(b, false, true, mt, &by, &e), SNT_OK);
  CHECK_STR(ts, e.msg, "");
  CHECK_INT(ts, by, SNT_WMAP_LAYER);
  const int want[NT] = {4, 5, 1, 0, 2, 3, -1, -1};
  for (int i = 0; i < NT; i++) {
    CHECK_INT(ts, mt[i].init, want[i]);
    CHECK_INT(ts, mt[i].how, want[i] < 0 ? SNT_WMAP_NONE : SNT_WMAP_LAYER);
  }
  CHECK_INT(ts, run(b, true, true, mt, &by, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, "w.onnx: weights do not fit the model: no weight for parameter 'dense/kernel'");
  free(b);
  /* With the head, strict mode still refuses the extra layer's weight. */
  b = keras_file(true, true, 3);
  CHECK_INT(ts, run(b, true, true, mt, &by, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, "w.onnx: weights do not fit the model: weight 'aux_conv/kernel' (kernel of 'aux_conv') has no place in model 'tiny'");
  CHECK_INT(ts, run(b, false, true, mt, &by, &e), SNT_OK);
  for (int i = 0; i < NT; i++) CHECK(ts, mt[i].how == SNT_WMAP_LAYER);
  free(b);
  /* Exact names for part of the model and Keras-style ones for the rest (partial). */
  b = keras_file(false, false, 3);
  int dk = mb_init(b, "dense/kernel", 600, 2, 4, 2, 0, 0);
  CHECK_INT(ts, run(b, false, true, mt, &by, &e), SNT_OK);
  CHECK_INT(ts, mt[T_DK].init, dk);
  CHECK_INT(ts, mt[T_DK].how, SNT_WMAP_EXACT);
  CHECK_INT(ts, mt[T_DB].how, SNT_WMAP_NONE);
  CHECK_INT(ts, mt[T_CK].how, SNT_WMAP_LAYER);
  free(b);
}

static void test_mismatch_messages(test_state *ts) {
  mb *b = keras_file(true, false, 5); /* a 5x5 kernel for the model's 3x3 */
  snt_wmap_match mt[NT];
  snt_wmap_how by;
  snt_err e;
  const char *want = "w.onnx: weights do not fit the model: 'sequential/conv2d/Conv2D/ReadVariableOp:0' (FLOAT (4, 3, 5, 5)) "
                     "does not fit parameter 'conv2d/kernel' (4, 3, 3, 3)";
  CHECK_INT(ts, run(b, true, false, mt, &by, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, want);
  CHECK_INT(ts, run(b, false, true, mt, &by, &e), SNT_ERR_INPUT); /* partial refuses a wrong shape too */
  CHECK_STR(ts, e.msg, want);
  /* A rank-1 shape prints as "(n,)". */
  b->dims[7][0] = 3;
  b->dims[6][2] = b->dims[6][3] = 3;
  b->inits[7].raw_data.len = 3 * sizeof(float);
  CHECK_INT(ts, run(b, true, false, mt, &by, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, "w.onnx: weights do not fit the model: 'sequential/conv2d/BiasAdd/ReadVariableOp:0' (FLOAT (3,)) "
                       "does not fit parameter 'conv2d/bias' (4,)");
  free(b);
  /* Two weights whose names both have the segment 'conv2d' with the role kernel. */
  b = keras_file(true, false, 3);
  mb_init(b, "other/conv2d/kernel", 0, 4, 4, 3, 3, 3);
  const char *c[] = {"x", "other/conv2d/kernel"};
  mb_node(b, "Conv", "other", 2, c);
  CHECK_INT(ts, run(b, true, false, mt, &by, &e), SNT_ERR_INPUT);
  CHECK_STR(ts, e.msg, "w.onnx: both 'sequential/conv2d/Conv2D/ReadVariableOp:0' and 'other/conv2d/kernel' could be parameter 'conv2d/kernel'");
  free(b);
}

static void test_split_name(test_state *ts) {
  char buf[64];
  const char *role = NULL;
  CHECK(ts, snt_wmap_split_name("conv2_block1_1_conv/kernel", buf, sizeof buf, &role));
  CHECK_STR(ts, buf, "conv2_block1_1_conv");
  CHECK_STR(ts, role, "kernel");
  CHECK(ts, snt_wmap_split_name("a/b/moving_mean", buf, sizeof buf, &role));
  CHECK_STR(ts, buf, "a/b");
  CHECK_STR(ts, role, "moving_mean");
  CHECK(ts, !snt_wmap_split_name("nolayer", buf, sizeof buf, &role));
  CHECK(ts, snt_wmap_is_role("moving_variance") && !snt_wmap_is_role("scale") && !snt_wmap_is_role(NULL));
}

int main(void) {
  test_state ts = {0, 0};
  test_keras_names(&ts);
  test_exact_names(&ts);
  test_torch_structure(&ts);
  test_gemm_transb_by_name(&ts);
  test_partial_extra_layer(&ts);
  test_mismatch_messages(&ts);
  test_split_name(&ts);
  return test_report("test_weight_map", &ts);
}
