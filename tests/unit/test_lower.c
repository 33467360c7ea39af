/* Lowering: names, scopes, loops, conditionals, arithmetic, --set, freezing, the recipe,
 * and the seed models' Keras layer names and freeze point. */
#include <math.h>

#include "check.h"
#include "lower_util.h"

static char err[512];

static void naming(test_state *ts) {
  snt_graph *g = lower_text(
      "block unit(x, f) {\n  y = relu(batchnorm(conv2d(x, f, 3, padding = same, name = \"conv\"), name = \"bn\"))\n"
      "  return maxpool(y)\n}\n"
      "block stage(x, n) {\n  for i in range(1, n + 1) { x = unit(x, 4 * i, name = \"unit{i}\") }\n  return x\n}\n"
      "model m {\n  input image: [3, 16, 16]\n  x = conv2d(image, 4, 1)\n  x = conv2d(x, 4, 1)\n"
      "  x = stage(x, 2, name = \"s1\")\n  x = conv2d(x, 4, 1, name = \"head\")\n  output y = x\n}\n",
      NULL, err, sizeof err);
  CHECK(ts, g != NULL);
  if (!g) return;
  const char *want[] = {"conv2d", "conv2d_1", "s1_unit1_conv", "s1_unit1_bn", "activation", "max_pooling2d",
                        "s1_unit2_conv", "s1_unit2_bn", "activation_1", "max_pooling2d_1", "head"};
  CHECK_INT(ts, g->n_nodes, 11);
  for (int i = 0; i < 11 && i < g->n_nodes; i++) CHECK_STR(ts, g->nodes[i].name, want[i]);
  char b[64];
  CHECK_STR(ts, dims_of(g, "s1_unit2_conv", b, sizeof b), "8,8,8");
  CHECK_STR(ts, dims_of(g, "head", b, sizeof b), "4,4,4");
  snt_ir_destroy(g);

  /* A default name skips a name the user took. */
  g = lower_text("model m {\n input x: [2, 4, 4]\n a = relu(x, name = \"activation_1\")\n b = relu(a)\n c = relu(b)\n"
                 " output o = c\n}", NULL, err, sizeof err);
  CHECK(ts, g && strcmp(g->nodes[1].name, "activation") == 0 && strcmp(g->nodes[2].name, "activation_2") == 0);
  snt_ir_destroy(g);
}

static void evaluation(test_state *ts) {
  /* Arithmetic: / is float, // floors, % follows the divisor's sign, ** on ints stays int. */
  snt_graph *g = lower_text(
      "model m {\n  input x: [1 + 2, 10 // 3, 2 ** 3]\n"
      "  ok = (-7 // 2 == -4) and (-7 % 3 == 2) and (7 / 2 == 3.5) and (2 ** -1 == 0.5) and (7.5 // 2 == 3.0)\n"
      "  ok2 = len([1, 2, 3]) == 3 and min(4, 2, 9) == 2 and max([1, 5]) == 5 and int(3.9) == 3 and str(1.5) == \"1.5\"\n"
      "  ok3 = \"a\" + \"b\" == \"ab\" and [1] + [2] == [1, 2] and not (1 > 2) and float(2) == 2.0 and 1 == 1.0\n"
      "  s = \"{1.0}/{true}/{[1, 2]}\"\n"
      "  y = ok and ok2 and ok3 and s == \"1.0/true/[1, 2]\" ? relu(x) : sigmoid(x)\n"
      "  z = shape(y)[0] == 3 ? y : tanh(y)\n"
      "  output o = z\n}\n",
      NULL, err, sizeof err);
  CHECK(ts, g != NULL);
  if (g) {
    char b[64];
    CHECK_STR(ts, dims_of(g, "activation", b, sizeof b), "3,3,8");
    CHECK_STR(ts, g->nodes[0].op->name, "relu"); /* the untaken branch made no layer */
    CHECK_INT(ts, g->n_nodes, 1);
  }
  snt_ir_destroy(g);

  /* The latest binding above a use wins; loops and ifs bind in the enclosing scope. */
  g = lower_text("model m {\n input x: [2, 8, 8]\n y = x\n for k in [3, 1] { y = conv2d(y, 2, k) }\n"
                 " if shape(y)[1] == 6 { y = relu(y) } else { y = tanh(y) }\n r = x\n output o = y\n}",
                 NULL, err, sizeof err);
  CHECK(ts, g && g->n_nodes == 3 && strcmp(g->nodes[2].op->name, "relu") == 0);
  snt_ir_destroy(g);

  /* Floats print as Python does, also in layer names. */
  g = lower_text("model m {\n input x: [3, 2, 2]\n output o = relu(x, name = \"r{100.0}_{0.1}_{1e-7}_{2 / 3}\")\n}",
                 NULL, err, sizeof err);
  CHECK(ts, g != NULL);
  if (g) CHECK_STR(ts, g->nodes[0].name, "r100.0_0.1_1e-07_0.6666666666666666");
  snt_ir_destroy(g);
  CHECK(ts, !lower_text("model m {\n input x: [3, 2, 2]\n output o = relu(x, name = \"a\", name = \"b\")\n}", NULL, err, sizeof err));
  CHECK_STR(ts, err, "3:33 argument 'name' is given twice");
  CHECK(ts, !lower_text("model m {\n input x: [3, 2, 2]\n output o = relu(x, name = \"\")\n}", NULL, err, sizeof err));
  CHECK_STR(ts, err, "3:28 name must not be empty");
  CHECK(ts, !lower_text("model m {\n input x: [3, 8, 8]\n output o = conv2d(x, 4, 3, 0)\n}", NULL, err, sizeof err));
  CHECK_STR(ts, err, "3:13 conv2d 'conv2d': kernel, stride and dilation must be positive, got kernel [3, 3], stride [0, 0], dilation [1, 1]");

  /* A rescale scale is a float attribute. */
  g = lower_text("model m {\n input x: [3, 2, 2]\n output o = rescale(x, 1 / 255, -1)\n}", NULL, err, sizeof err);
  CHECK(ts, g && fabs(snt_node_float(&g->nodes[0], "scale", 0) - 1.0 / 255) < 1e-15 &&
                snt_node_float(&g->nodes[0], "offset", 0) == -1.0);
  snt_ir_destroy(g);
}

static void sets(test_state *ts) {
  const char *text = "model m(size = 32, f = 4, scale = 1.0, act = \"relu\", use_bn = true) {\n"
                     " input x: [3, size, size]\n y = conv2d(x, f, 3, activation = act)\n"
                     " y = use_bn ? batchnorm(y) : y\n output o = rescale(y, scale)\n}";
  snt_param_set s[] = {{"size", "20"}, {"f", "6"}, {"scale", "0.5"}, {"act", "tanh"}, {"use_bn", "false"}};
  snt_lower_opts o = {.sets = s, .n_sets = 5};
  snt_graph *g = lower_text(text, &o, err, sizeof err);
  CHECK(ts, g != NULL);
  if (g) {
    char b[64];
    CHECK_STR(ts, dims_of(g, "conv2d", b, sizeof b), "6,18,18");
    CHECK_STR(ts, snt_node_string(&g->nodes[0], "activation", ""), "tanh");
    CHECK_INT(ts, g->n_nodes, 2);
    CHECK(ts, snt_node_float(&g->nodes[1], "scale", 0) == 0.5);
  }
  snt_ir_destroy(g);
  snt_param_set bad[] = {{"sise", "20"}};
  snt_lower_opts ob = {.sets = bad, .n_sets = 1};
  CHECK(ts, lower_text(text, &ob, err, sizeof err) == NULL);
  CHECK_STR(ts, err, "0:0 --set sise: model 'm' has no parameter 'sise' (did you mean 'size'?)");
  /* A --set value is an expression: lists, arithmetic on earlier parameters, strings. */
  const char *text2 = "model m(base = 4, widths = [8], f = base, tag = \"t\") {\n input x: [3, 8, 8]\n y = x\n"
                      " for w in widths { y = conv2d(y, w * f, 1, name = \"{tag}_{w}\") }\n output o = y\n}";
  snt_param_set s2[] = {{"widths", "[2, 3]"}, {"f", "base * 2 + 1"}, {"tag", "stage"}};
  snt_lower_opts o2 = {.sets = s2, .n_sets = 3};
  g = lower_text(text2, &o2, err, sizeof err);
  CHECK(ts, g && g->n_nodes == 2 && strcmp(g->nodes[1].name, "stage_3") == 0);
  CHECK(ts, g && snt_node_int(&g->nodes[1], "filters", 0) == 27);
  snt_ir_destroy(g);
  snt_param_set s3[] = {{"widths", "[2, 3"}};
  snt_lower_opts o3 = {.sets = s3, .n_sets = 1};
  CHECK(ts, lower_text(text2, &o3, err, sizeof err) == NULL);
  CHECK_STR(ts, err, "1:5 syntax error, unexpected end of file, expecting ']' or ','");
  snt_param_set s4[] = {{"base", "1 // 0"}};
  snt_lower_opts o4 = {.sets = s4, .n_sets = 1};
  CHECK(ts, lower_text(text2, &o4, err, sizeof err) == NULL);
  CHECK_STR(ts, err, "1:1 division by zero");

  snt_param_set badv[] = {{"f", "four"}};
  snt_lower_opts ov = {.sets = badv, .n_sets = 1};
  CHECK(ts, lower_text(text, &ov, err, sizeof err) == NULL);
  CHECK_STR(ts, err, "3:16 conv2d: 'filters' must be an integer, got string");
}

static void freezing(test_state *ts) {
  const char *text = "block b(x) {\n y = conv2d(x, 2, 1, name = \"c\")\n return batchnorm(y, name = \"bn\")\n}\n"
                     "model m {\n input x: [2, 4, 4]\n a = b(x, name = \"one\")\n a = b(a, name = \"two\", trainable = false)\n"
                     " a = conv2d(a, 2, 1, name = \"three\")\n a = conv2d(a, 2, 1, name = \"four\", trainable = false)\n"
                     " output o = dense(flatten(a), 3)\n freeze \"one_*\"\n}";
  snt_graph *g = lower_text(text, NULL, err, sizeof err);
  CHECK(ts, g != NULL);
  if (g) {
    const char *frozen[] = {"one_c", "one_bn", "two_c", "two_bn", "four"};
    for (int i = 0; i < 5; i++) CHECK(ts, g->nodes[snt_ir_find_node(g, frozen[i])].frozen);
    CHECK(ts, !g->nodes[snt_ir_find_node(g, "three")].frozen);
    CHECK(ts, !g->nodes[snt_ir_find_node(g, "dense")].frozen);
    snt_param_counts c = snt_ir_count_params(g);
    CHECK_INT(ts, c.trainable, 6 + 32 * 3 + 3);
  }
  snt_ir_destroy(g);
  snt_lower_opts nf = {.no_freeze = true};
  g = lower_text(text, &nf, err, sizeof err);
  CHECK(ts, g && snt_ir_count_params(g).non_trainable == 8);
  snt_ir_destroy(g);
}

static void recipe(test_state *ts) {
  snt_graph *g = lower_text(
      "model m(bs = 16) {\n input x: [2]\n output o = dense(x, 3, activation = softmax)\n labels \"a\", \"b\", \"c\"\n"
      " train {\n  optimizer = sgd(lr = 0.01, momentum = 0.9, nesterov = true)\n  batch = bs * 2\n  epochs = 3\n"
      "  split = [0.6, 0.1, 0.3]\n  class_weight = [1, 2, 0.5]\n"
      "  augment = [flip_vertical, rotation(0.1), shift(0.1, 0.2), zoom(0.2), contrast(0.8, 1.2)]\n"
      "  early_stopping(monitor = val_accuracy, patience = 4)\n  reduce_lr_on_plateau(factor = 0.2, min_lr = 1e-6)\n"
      " }\n}", NULL, err, sizeof err);
  CHECK(ts, g != NULL);
  if (!g) return;
  const snt_recipe *r = &g->recipe;
  CHECK(ts, r->present);
  CHECK_STR(ts, r->optimizer, "sgd");
  CHECK(ts, r->lr == 0.01 && r->momentum == 0.9 && r->nesterov);
  CHECK_INT(ts, r->batch, 32);
  CHECK_INT(ts, r->epochs, 3);
  CHECK(ts, r->split[0] == 0.6 && r->split[2] == 0.3);
  CHECK(ts, r->class_weight == SNT_CW_EXPLICIT && r->n_class_weights == 3 && r->class_weights[1] == 2);
  CHECK(ts, r->augment.flip_vertical && !r->augment.flip_horizontal && r->augment.rotation == 0.1);
  CHECK(ts, r->augment.shift[1] == 0.2 && r->augment.zoom == 0.2 && r->augment.contrast[0] == 0.8);
  CHECK(ts, r->early_stopping.enabled && r->early_stopping.patience == 4);
  CHECK_STR(ts, r->early_stopping.monitor, "val_accuracy");
  CHECK(ts, r->reduce_lr.enabled && r->reduce_lr.factor == 0.2 && r->reduce_lr.patience == 5);
  CHECK(ts, !r->checkpoint.enabled);
  CHECK_STR(ts, r->loss, "sparse_categorical_crossentropy");
  CHECK_INT(ts, g->n_labels, 3);
  snt_ir_destroy(g);
}

static snt_graph *load(const char *name, const snt_lower_opts *o) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.nn", SINTER_MODELS_DIR, name);
  snt_diag *d = snt_diag_create();
  snt_graph *g = NULL;
  snt_lower_opts none = {0};
  if (snt_load_model(d, path, o ? o : &none, &g) != SNT_OK) snt_diag_print(d, stderr);
  snt_diag_destroy(d);
  return g;
}

static void seed_models(test_state *ts) {
  snt_graph *g = load("resnet50v2", NULL);
  CHECK(ts, g != NULL);
  if (!g) return;
  /* Keras's base_model.layers: input_1, then the 189 backbone layers conv1_pad .. post_relu. */
  int first = snt_ir_find_node(g, "conv1_pad"), last = snt_ir_find_node(g, "post_relu");
  CHECK_INT(ts, last - first + 1, 189);
  /* layers[:160] are frozen: index 159 (counting input_1 as 0) is conv5_block1_2_pad. */
  CHECK_STR(ts, g->nodes[first + 158].name, "conv5_block1_2_pad");
  CHECK_STR(ts, g->nodes[first + 159].name, "conv5_block1_2_conv");
  for (int i = first; i <= last; i++) CHECK_INT(ts, g->nodes[i].frozen, i <= first + 158);
  const char *names[] = {"conv1_conv", "pool1_pool", "conv2_block1_preact_bn", "conv2_block1_0_conv",
                         "conv2_block3_2_pad", "max_pooling2d", "max_pooling2d_2", "conv4_block6_out",
                         "conv5_block3_3_conv", "post_bn", "gap", "batch_normalization", "dropout", "dense",
                         "batch_normalization_1", "activation", "dropout_1", "output"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) CHECK(ts, snt_ir_find_node(g, names[i]) >= 0);
  CHECK(ts, param_of(g, "conv2_block1_preact_bn/moving_variance") != NULL);
  CHECK(ts, param_of(g, "dense/bias") == NULL && param_of(g, "output/bias") != NULL);
  char b[64];
  CHECK_STR(ts, dims_of(g, "conv4_block6_out", b, sizeof b), "1024,7,7");
  CHECK_STR(ts, dims_of(g, "conv5_block3_out", b, sizeof b), "2048,7,7");
  CHECK_INT(ts, g->n_labels, 4);
  CHECK(ts, g->recipe.checkpoint.enabled && g->recipe.reduce_lr.patience == 2);
  snt_ir_destroy(g);

  snt_graph *d = load("deep_cnn", NULL);
  CHECK(ts, d && strcmp(snt_node_string(&d->nodes[snt_ir_find_node(d, "flatten")], "order", ""), "hwc") == 0);
  CHECK(ts, d && param_of(d, "dense/kernel")->dims[0] == 14 * 14 * 256);
  CHECK(ts, d && d->recipe.reduce_lr.patience == 3);
  snt_ir_destroy(d);
}

int main(void) {
  test_state ts = {0};
  naming(&ts);
  evaluation(&ts);
  sets(&ts);
  freezing(&ts);
  recipe(&ts);
  seed_models(&ts);
  return test_report("test_lower", &ts);
}
