/* EXE evaluate, EXE export-onnx and EXE data, and the command line of a trainable executable. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>

#include "runtime/driver/driver.h"
#include "runtime/train/train_int.h"
#include "sinter/onnx_io.h"
#include "sinter/report.h"

/* The weights to use: --weights (a file from train or export-onnx), else the built-in ones. */
static int load_state(const snt_model_info *info, const snt_train_info *t, const char *weights, snt_tr_state *s) {
  int rc = snt_tr_state_init(s, t, info);
  if (!rc && weights) rc = snt_tr_load(s, weights, true, false);
  return rc;
}

int snt_tr_cmd_evaluate(const snt_model_info *info, const snt_train_info *t, const char *weights, int threads, int argc,
                        char **argv) {
  const char *data = NULL, *part = NULL, *out = NULL;
  for (int i = 0; i < argc; i++) {
    if (i + 1 >= argc) {
      fprintf(stderr, "%s evaluate: %s needs a value\n", info->name, argv[i]);
      return 1;
    }
    if (strcmp(argv[i], "--data") == 0) data = argv[++i];
    else if (strcmp(argv[i], "--split") == 0) part = argv[++i];
    else if (strcmp(argv[i], "--out") == 0) out = argv[++i];
    else {
      fprintf(stderr, "%s evaluate: unknown option '%s'\n", info->name, argv[i]);
      return 1;
    }
  }
  if (!data) {
    fprintf(stderr, "%s evaluate: needs --data DIR\n", info->name);
    return 1;
  }
  if (!part) part = "test";
  if (strcmp(part, "test") && strcmp(part, "val") && strcmp(part, "train") && strcmp(part, "all")) {
    fprintf(stderr, "%s evaluate: --split takes test, val, train or all, got '%s'\n", info->name, part);
    return 1;
  }
  snt_tr_state s;
  int rc = load_state(info, t, weights, &s);
  snt_tr_data d = {0};
  /* The split recorded by train in the weights file, else the recipe's. */
  if (!rc) rc = snt_tr_data_open(info, data, s.split, (uint64_t)s.seed, &d);
  if (!rc) {
    const int *items = d.split.test;
    int n = d.split.n_test;
    int *all = NULL;
    if (part[0] == 'v') items = d.split.val, n = d.split.n_val;
    else if (part[0] == 't' && part[1] == 'r') items = d.split.train, n = d.split.n_train;
    else if (part[0] == 'a') {
      all = malloc(sizeof(int) * (size_t)(d.ds.n_items + 1));
      for (int i = 0; all && i < d.ds.n_items; i++) all[i] = i;
      items = all, n = d.ds.n_items;
    }
    unsigned char *blob = calloc(1, t->eval_model->weights_bytes + 64);
    snt_tr_eval ev = {0};
    if (!blob) rc = 2;
    if (!rc) {
      snt_tr_copy_to(&s, t->eval_model, blob);
      rc = snt_tr_evaluate(t, blob, &d.ds, items, n, threads, &ev);
    }
    if (!rc) {
      printf("evaluated %lld images (%s part of split %g,%g,%g seed %lld)%s\n", (long long)ev.n, part, s.split[0], s.split[1],
             s.split[2], (long long)s.seed, ev.skipped ? ", some unreadable ones skipped" : "");
      printf("loss: %.4f\naccuracy: %.4f\n\n", ev.loss, ev.accuracy);
      snt_confusion c;
      snt_err e;
      if (snt_confusion_build(d.ds.n_classes, ev.n, ev.truth, ev.pred, &c, &e) != SNT_OK) {
        fprintf(stderr, "%s\n", e.msg);
        rc = 2;
      } else {
        printf("confusion matrix (rows: true class, columns: predicted)\n");
        snt_confusion_print(stdout, &c, (const char *const *)d.ds.labels);
        printf("\n");
        snt_report_print(stdout, &c, (const char *const *)d.ds.labels);
        char path[4200];
        snprintf(path, sizeof path, "%s/confusion_matrix.png", out ? out : ".");
        if (out && snt_tr_mkdir_p(out)) {
          fprintf(stderr, "%s: cannot create: %s\n", out, strerror(errno));
          rc = 1;
        } else if (snt_plot_confusion(path, &c, (const char *const *)d.ds.labels, &e) != SNT_OK) {
          fprintf(stderr, "%s\n", e.msg);
          rc = 1;
        } else {
          printf("\nwrote %s\n", path);
        }
        snt_confusion_free(&c);
      }
    }
    snt_tr_eval_free(&ev);
    free(blob);
    free(all);
  }
  snt_tr_data_close(&d);
  snt_tr_state_free(&s);
  return rc;
}

int snt_tr_cmd_export(const snt_model_info *info, const snt_train_info *t, const char *weights, int argc, char **argv) {
  const char *out = NULL;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
    else {
      fprintf(stderr, "%s export-onnx: unknown argument '%s' (usage: %s export-onnx -o OUT.onnx [--weights W.onnx])\n",
              info->name, argv[i], info->name);
      return 1;
    }
  }
  if (!out) {
    fprintf(stderr, "%s export-onnx: needs -o OUT.onnx\n", info->name);
    return 1;
  }
  snt_tr_state s;
  int rc = load_state(info, t, weights, &s);
  if (!rc) rc = snt_tr_save(&s, out, false);
  if (!rc) printf("wrote %s\n", out);
  snt_tr_state_free(&s);
  return rc;
}

static void usage_train(FILE *f, const snt_model_info *m) {
  fprintf(f,
          "training commands of '%s':\n"
          "  train --data DIR [--out DIR]      the model file's recipe; writes best.onnx, last.onnx, history.csv,\n"
          "        [--epochs N] [--batch N]    curves.png into --out (default run)\n"
          "        [--lr X] [--patience N] [--bn-momentum X] [--split A,B,C] [--seed N] [--no-augment]\n"
          "        [--init-from W.onnx]        start from the parameters this file has (the rest fresh)\n"
          "        [--resume]                  continue from DIR/last.onnx as if never interrupted\n"
          "  evaluate --data DIR [--split test|val|train|all] [--out DIR]\n"
          "                                    loss, accuracy, confusion matrix, per-class report\n"
          "  export-onnx -o OUT.onnx           the weights as a standard ONNX inference model\n"
          "  data --data DIR [--out DIR]       class counts per split, class weights, a contact sheet\n"
          "  gradients X.pb LABELS.pb [W.pb] -o DIR [--seed S]\n"
          "                                    one step's loss and gradients as ONNX tensors (no update)\n",
          m->name);
}

int snt_rt_main_train(int argc, char **argv, const snt_model_info *info, const snt_train_info *t) {
  const char *cmd = argc > 1 ? argv[1] : "";
  bool ours = strcmp(cmd, "train") == 0 || strcmp(cmd, "evaluate") == 0 || strcmp(cmd, "export-onnx") == 0 ||
              strcmp(cmd, "data") == 0 || strcmp(cmd, "gradients") == 0;
  if (!ours) {
    int rc = snt_rt_main(argc, argv, info);
    if (argc < 2 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
      usage_train(argc < 2 ? stderr : stdout, info);
    return rc;
  }
  const char *weights = NULL;
  int threads = 0, n = 0;
  char **args = malloc(sizeof(char *) * (size_t)argc);
  if (!args) return 2;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage_train(stdout, info);
      free(args);
      return 0;
    }
    if ((strcmp(argv[i], "--weights") == 0 || strcmp(argv[i], "--threads") == 0) && i + 1 >= argc) {
      fprintf(stderr, "%s: %s needs a value\n", info->name, argv[i]);
      free(args);
      return 1;
    }
    if (strcmp(argv[i], "--weights") == 0) weights = argv[++i];
    else if (strcmp(argv[i], "--threads") == 0) {
      threads = atoi(argv[++i]);
      if (threads < 1 || threads > 256) {
        fprintf(stderr, "%s: --threads takes 1 to 256, got '%s'\n", info->name, argv[i]);
        free(args);
        return 1;
      }
    } else args[n++] = argv[i];
  }
  openblas_set_num_threads(threads > 0 ? threads : openblas_get_num_procs());
  int rc;
  if (strcmp(cmd, "train") == 0) rc = snt_tr_cmd_train(info, t, weights, threads, n, args);
  else if (strcmp(cmd, "evaluate") == 0) rc = snt_tr_cmd_evaluate(info, t, weights, threads, n, args);
  else if (strcmp(cmd, "export-onnx") == 0) rc = snt_tr_cmd_export(info, t, weights, n, args);
  else if (strcmp(cmd, "gradients") == 0) rc = snt_tr_cmd_gradients(info, t, weights, n, args);
  else rc = snt_tr_cmd_data(info, t, n, args);
  free(args);
  return rc;
}

/* The step's outputs as ONNX tensors: output_0.pb (loss), output_1.pb (probabilities, n rows),
 * grad/<param>.pb and stat/<moving statistic>.pb ('/' in names becomes '.'). */
static int write_step_outputs(const snt_train_info *t, const snt_tr_bufs *b, int64_t n, const char *dir) {
  const snt_model_info *sm = t->step_model;
  char path[4200];
  snprintf(path, sizeof path, "%s/grad", dir);
  int bad = snt_tr_mkdir_p(path);
  snprintf(path, sizeof path, "%s/stat", dir);
  if (bad || snt_tr_mkdir_p(path)) return fprintf(stderr, "%s: cannot create: %s\n", dir, strerror(errno)), 1;
  for (int o = 0; o < sm->n_outputs; o++) {
    snt_model_io io = sm->outputs[o];
    const char *name = NULL, *kind = "grad";
    for (int i = 0; i < t->n_params; i++)
      if (t->params[i].grad_output == o) name = t->params[i].name;
    for (int i = 0; i < t->n_stats; i++)
      if (t->stats[i].output == o) name = t->stats[i].name, kind = "stat";
    if (o == 1) io.dims[0] = n; /* only the probabilities have a row per sample */
    snt_tensor_buf tb = {.dtype = io.dtype, .rank = io.rank, .data = b->out[o], .name = (char *)(name ? name : io.name)};
    memcpy(tb.dims, io.dims, sizeof tb.dims);
    if (name) {
      snprintf(path, sizeof path, "%s/%s/%s.pb", dir, kind, name);
      for (char *c = path + strlen(dir) + strlen(kind) + 2; *c; c++)
        if (*c == '/') *c = '.';
    } else {
      snprintf(path, sizeof path, "%s/output_%d.pb", dir, o);
    }
    snt_err e;
    if (snt_onnx_write_tensor_file(path, &tb, &e) != SNT_OK) return fprintf(stderr, "%s\n", e.msg), 1;
  }
  return 0;
}

/* EXE gradients IMAGES.pb LABELS.pb [SAMPLE_WEIGHTS.pb] -o DIR [--seed S]: one training step's
 * loss, probabilities, parameter gradients and batch statistics, without updating anything, so
 * other frameworks can check them. */
int snt_tr_cmd_gradients(const snt_model_info *info, const snt_train_info *t, const char *weights, int argc, char **argv) {
  const char *files[3] = {0}, *dir = NULL;
  int n_files = 0;
  uint64_t seed = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) dir = argv[++i];
    else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
    else if (n_files < 3 && argv[i][0] != '-') files[n_files++] = argv[i];
    else return fprintf(stderr, "%s gradients: unexpected argument '%s'\n", info->name, argv[i]), 1;
  }
  if (n_files < 2 || !dir)
    return fprintf(stderr, "%s gradients: needs IMAGES.pb LABELS.pb [WEIGHTS.pb] -o DIR\n", info->name), 1;
  const snt_model_info *sm = t->step_model;
  snt_tr_state s;
  int rc = load_state(info, t, weights, &s);
  snt_tensor_buf in[3] = {0};
  snt_err e;
  for (int i = 0; i < n_files && !rc; i++)
    if (snt_onnx_read_tensor_file(files[i], &in[i], &e) != SNT_OK) fprintf(stderr, "%s\n", e.msg), rc = 1;
  int64_t n = rc ? 0 : in[0].dims[0];
  if (!rc && (in[0].dtype != SNT_F32 || in[1].dtype != SNT_I64 || in[1].dims[0] != n || n < 1 || n > sm->batch ||
              snt_tensor_buf_nbytes(&in[0]) != (size_t)n * snt_rt_io_bytes(&sm->inputs[0]) / (size_t)sm->batch ||
              (n_files > 2 && (in[2].dtype != SNT_F32 || snt_tensor_buf_nbytes(&in[2]) != (size_t)n * sizeof(float)))))
    fprintf(stderr, "%s gradients: want float images [n, ...], int64 labels [n] and float weights [n], n <= %lld\n",
            info->name, (long long)sm->batch), rc = 1;
  snt_tr_bufs b = {0};
  if (!rc) rc = snt_tr_bufs_init(&b, sm);
  void *inst = rc ? NULL : sm->create();
  if (!rc && !inst) rc = 2;
  if (!rc) {
    memcpy(b.x, in[0].data, snt_tensor_buf_nbytes(&in[0]));
    memcpy(b.labels, in[1].data, snt_tensor_buf_nbytes(&in[1]));
    for (int64_t i = 0; i < n; i++) b.w[i] = n_files > 2 ? ((const float *)in[2].data)[i] : 1.0f;
    sm->set_weights(inst, s.blob);
    const void *ins[3] = {b.x, b.labels, b.w};
    if (t->step(inst, n, seed, ins, b.out) != 0) rc = 2;
  }
  if (!rc) rc = write_step_outputs(t, &b, n, dir);
  if (inst) sm->destroy(inst);
  snt_tr_bufs_free(&b);
  for (int i = 0; i < 3; i++) snt_tensor_buf_free(&in[i]);
  snt_tr_state_free(&s);
  return rc;
}
