/* Shape inference of every op, against hand-computed shapes. */
#include "check.h"
#include "lower_util.h"

/* Lowers `input x: [IN]`, then `y = EXPR`, output y; returns y's per-sample dims or the error. */
static char result[1024];
static const char *shape(const char *in, const char *e) {
  char text[1024], err[256];
  snprintf(text, sizeof text, "model m {\n  input x: [%s]\n  y = %s\n  output out = y\n}\n", in, e);
  snt_graph *g = lower_text(text, NULL, err, sizeof err);
  if (!g) {
    snprintf(result, sizeof result, "error: %s", err);
    return result;
  }
  const snt_tensor *t = &g->tensors[g->outputs[0]];
  size_t o = 0;
  result[0] = '\0';
  for (int i = 1; i < t->rank; i++) o += (size_t)snprintf(result + o, sizeof result - o, "%s%lld", i > 1 ? "," : "", (long long)t->dims[i]);
  snt_ir_destroy(g);
  return result;
}

/* The pads a layer resolved, as "t,l,b,r". */
static const char *pads(const char *in, const char *e) {
  char text[1024], err[256];
  snprintf(text, sizeof text, "model m {\n  input x: [%s]\n  y = %s\n  output out = y\n}\n", in, e);
  snt_graph *g = lower_text(text, NULL, err, sizeof err);
  if (!g) return "error";
  int n = 0;
  const int64_t *p = snt_node_ints(&g->nodes[0], "resolved_pads", &n);
  if (!p || n != 4) {
    snt_ir_destroy(g);
    return "no resolved pads";
  }
  snprintf(result, sizeof result, "%lld,%lld,%lld,%lld", (long long)p[0], (long long)p[1], (long long)p[2], (long long)p[3]);
  snt_ir_destroy(g);
  return result;
}

static void conv(test_state *ts) {
  CHECK_STR(ts, shape("3, 10, 10", "conv2d(x, 8, 3)"), "8,8,8");
  CHECK_STR(ts, shape("3, 10, 10", "conv2d(x, 8, 3, padding = same)"), "8,10,10");
  /* TF 'same' with stride 2: out = ceil(10 / 2) = 5; total pad 1 goes to the end. */
  CHECK_STR(ts, shape("3, 10, 10", "conv2d(x, 8, 3, stride = 2, padding = same)"), "8,5,5");
  CHECK_STR(ts, pads("3, 10, 10", "conv2d(x, 8, 3, stride = 2, padding = same)"), "0,0,1,1");
  CHECK_STR(ts, pads("3, 11, 11", "conv2d(x, 8, 3, stride = 2, padding = same)"), "1,1,1,1");
  CHECK_STR(ts, pads("3, 224, 224", "conv2d(x, 64, 7, stride = 2, padding = same)"), "2,2,3,3");
  CHECK_STR(ts, shape("3, 10, 10", "conv2d(x, 8, 3, padding = [1, 2])"), "8,10,12");
  CHECK_STR(ts, shape("3, 10, 10", "conv2d(x, 8, 3, padding = [0, 1, 2, 3])"), "8,10,12");
  CHECK_STR(ts, shape("3, 10, 10", "conv2d(x, 8, [3, 1])"), "8,8,10");
  CHECK_STR(ts, shape("3, 10, 10", "conv2d(x, 8, 3, dilation = 2)"), "8,6,6");
  CHECK_STR(ts, shape("3, 10, 12", "conv2d(x, 8, 3, stride = [2, 3])"), "8,4,4");
  CHECK_STR(ts, shape("4, 9, 9", "conv2d(x, 8, 3, groups = 2)"), "8,7,7");
  CHECK_STR(ts, shape("3, 224, 224", "conv2d(pad(x, 3), 64, 7, stride = 2)"), "64,112,112");
  CHECK_STR(ts, shape("3, 4, 4", "conv2d(x, 8, 5)"),
            "error: 3:7 conv2d 'conv2d': the 5x5 kernel does not fit the input (3, 4, 4) (padding 0, 0, 0, 0)");
  CHECK_STR(ts, shape("3, 9, 9", "conv2d(x, 8, 3, groups = 2)"),
            "error: 3:7 conv2d 'conv2d': groups (2) must divide the input channels (3) and the filters (8)");
  CHECK_STR(ts, shape("27", "conv2d(x, 8, 3)"),
            "error: 3:7 conv2d 'conv2d': expects a 3-D input (channels, height, width), got shape (27,)");
}

static void params(test_state *ts) {
  char err[256];
  snt_graph *g = lower_text("model m {\n input x: [4, 9, 9]\n"
                            " a = conv2d(x, 8, 3, groups = 2)\n b = batchnorm(a, center = false)\n"
                            " c = dense(flatten(b), 10, bias = false)\n output o = c\n}", NULL, err, sizeof err);
  CHECK(ts, g != NULL);
  if (!g) return;
  const snt_tensor *k = param_of(g, "conv2d/kernel");
  CHECK(ts, k && k->rank == 4 && k->dims[0] == 8 && k->dims[1] == 2 && k->dims[2] == 3 && k->dims[3] == 3);
  CHECK(ts, param_of(g, "conv2d/bias") && param_of(g, "conv2d/bias")->dims[0] == 8);
  CHECK(ts, param_of(g, "batch_normalization/gamma") && param_of(g, "batch_normalization/gamma")->trainable);
  CHECK(ts, param_of(g, "batch_normalization/beta") == NULL);
  CHECK(ts, !param_of(g, "batch_normalization/moving_mean")->trainable);
  CHECK(ts, !param_of(g, "batch_normalization/moving_variance")->trainable);
  const snt_tensor *dk = param_of(g, "dense/kernel");
  CHECK(ts, dk && dk->dims[0] == 8 * 7 * 7 && dk->dims[1] == 10);
  CHECK(ts, param_of(g, "dense/bias") == NULL);
  snt_param_counts c = snt_ir_count_params(g);
  CHECK_INT(ts, c.total, 8 * 2 * 9 + 8 + 3 * 8 + 392 * 10);
  CHECK_INT(ts, c.non_trainable, 16);
  snt_ir_destroy(g);
}

static void others(test_state *ts) {
  CHECK_STR(ts, shape("3, 7, 7", "maxpool(x, 2)"), "3,3,3");
  CHECK_STR(ts, shape("3, 7, 7", "maxpool(x, 2, padding = same)"), "3,4,4");
  CHECK_STR(ts, shape("64, 114, 114", "maxpool(x, 3, stride = 2)"), "64,56,56");
  CHECK_STR(ts, shape("8, 14, 14", "maxpool(x, 1, stride = 2)"), "8,7,7");
  CHECK_STR(ts, shape("3, 8, 6", "avgpool(x, [2, 3])"), "3,4,2");
  CHECK_STR(ts, shape("3, 7, 7", "avgpool(x, 3, stride = 1, padding = same)"), "3,7,7");
  CHECK_STR(ts, shape("3, 1, 1", "maxpool(x, 2)"), "error: 3:7 maxpool 'max_pooling2d': the 2x2 pool does not fit the input (3, 1, 1)");
  CHECK_STR(ts, shape("5, 7, 9", "global_avg_pool(x)"), "5");
  CHECK_STR(ts, shape("5, 7, 9", "global_max_pool(x)"), "5");
  CHECK_STR(ts, shape("4, 3, 5", "flatten(x)"), "60");
  CHECK_STR(ts, shape("4, 3, 5", "flatten(x, order = chw)"), "60");
  CHECK_STR(ts, shape("60", "dense(x, 10, activation = softmax)"), "10");
  CHECK_STR(ts, shape("4, 3, 5", "dense(x, 10)"),
            "error: 3:7 dense 'dense': expects flat features (n,), got shape (4, 3, 5): add flatten() or global_avg_pool() first");
  CHECK_STR(ts, shape("2, 5, 5", "pad(x, [1, 2, 3, 4])"), "2,9,11");
  CHECK_STR(ts, shape("2, 5, 5", "pad(x, [1, 2])"), "2,7,9");
  CHECK_STR(ts, shape("2, 5, 5", "pad(x, 1)"), "2,7,7");
  CHECK_STR(ts, shape("2, 5, 5", "pad(x, same)"),
            "error: 3:7 pad 'zero_padding2d': padding must be p, [ph, pw] or [top, left, bottom, right], not 'same'");
  CHECK_STR(ts, shape("3, 4, 4", "rescale(x, [1, 2, 3], [0.5, 0, 0])"), "3,4,4");
  CHECK_STR(ts, shape("3, 4, 4", "rescale(x, [1, 2])"),
            "error: 3:7 rescale 'rescaling': scale must be one number or one per channel (3), got 2 values");
  CHECK_STR(ts, shape("3, 4, 4", "dropout(relu(sigmoid(tanh(x))), 0.5)"), "3,4,4");
  CHECK_STR(ts, shape("3, 4, 4", "dropout(x, 1.0)"), "error: 3:7 dropout 'dropout': rate must be in [0, 1), got 1");
  CHECK_STR(ts, shape("10", "softmax(x)"), "10");
  CHECK_STR(ts, shape("10", "softmax(x, axis = 1)"), "error: 3:7 softmax 'activation': axis 1 is out of range for a 1-D input");
  CHECK_STR(ts, shape("3, 4, 4", "batchnorm(x, eps = 0)"), "error: 3:7 batchnorm 'batch_normalization': eps must be positive, got 0");
  CHECK_STR(ts, shape("3, 4, 4", "x + batchnorm(x)"), "3,4,4");
  CHECK_STR(ts, shape("3, 4, 4", "add(x, x, x)"), "3,4,4");
  CHECK_STR(ts, shape("3, 4, 4", "add(x, conv2d(x, 3, 3))"),
            "error: 3:7 add 'add': input shapes differ: (3, 4, 4) (input 1) vs (3, 2, 2) (input 2)");
}

int main(void) {
  test_state ts = {0};
  conv(&ts);
  params(&ts);
  others(&ts);
  return test_report("test_shapes", &ts);
}
