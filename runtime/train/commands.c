/* EXE evaluate, EXE export-onnx and EXE data, and the command line of a trainable executable. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>

#include "runtime/driver/driver.h"
#include "runtime/explain/explain.h"
#include "runtime/train/train_int.h"
#include "sinter/onnx_io.h"
#include "sinter/report.h"

/* The weights to use: --weights (a file from train or export-onnx), else the built-in ones. */
static int load_state(const snt_model_info *info, const snt_train_info *t, const char *weights, snt_tr_state *s) {
  int rc = snt_tr_state_init(s, t, info);
  if (!rc && weights) rc = snt_tr_load(s, weights, true, false);
  return rc;
}

int snt_tr_parse(const snt_model_info *info, const char *cmd, const snt_opt *own, snt_rt_common *c, int argc, char **argv,
                 char **pos, int max_pos, int *n_pos) {
  int rc = snt_rt_parse(info->name, cmd, own, c, argc, argv, pos, max_pos, n_pos);
  if (!rc) openblas_set_num_threads(c->threads > 0 ? c->threads : openblas_get_num_procs());
  return rc;
}

static const char *const parts[] = {"test", "val", "train", "all", NULL};

int snt_tr_cmd_evaluate(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv) {
  const char *data = NULL, *part = "test", *out = NULL, *predictions = NULL;
  snt_opt_list thresholds = {0};
  const snt_opt own[] = {
      {.name = "data", 0, SNT_OPT_STRING, &data, "DIR", "a folder of class folders (required)"},
      {.name = "split", 0, SNT_OPT_CHOICE, &part, "PART", "the part of the split to evaluate", .choices = parts},
      {.name = "out", 0, SNT_OPT_STRING, &out, "DIR", "where confusion_matrix.png, roc.png and roc.csv go"},
      {.name = "predictions", 0, SNT_OPT_STRING, &predictions, "FILE.csv", "write every image's probabilities"},
      {.name = "threshold", 0, SNT_OPT_REPEAT, &thresholds, "CLASS=P",
       "sensitivity and specificity of CLASS called at probability >= P"},
      {.name = "max-pixels", 0, SNT_OPT_INT, &c->max_pixels, "N", "the largest image decoded", .imin = 1,
       .imax = SNT_IMAGE_MAX_PIXELS},
      {NULL}};
  int n_pos = 0;
  int prc = snt_tr_parse(info, "evaluate", own, c, argc, argv, NULL, 0, &n_pos);
  if (prc) return prc;
  const char *weights = c->weights;
  int threads = c->threads;
  if (!data) {
    fprintf(stderr, "%s evaluate: needs --data DIR\n", info->name);
    return 1;
  }
  snt_tr_threshold th[SNT_OPT_MAX_REPEAT];
  if ((prc = snt_tr_parse_thresholds(info, &thresholds, th))) return prc;
  snt_tr_clinical_opts co = {.thresholds = th, .n_thresholds = thresholds.n, .dir = out ? out : ".",
                             .predictions = predictions};
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
      all = snt_rt_alloc(info->name, sizeof(int) * (size_t)(d.ds.n_items + 1), "the item list");
      for (int i = 0; all && i < d.ds.n_items; i++) all[i] = i;
      items = all, n = d.ds.n_items;
    }
    unsigned char *blob = snt_rt_alloc(info->name, t->eval_model->weights_bytes + 64, "the weights");
    snt_tr_eval ev = {0};
    if (!blob || (part[0] == 'a' && !all)) rc = SNT_EXIT_INTERNAL;
    if (!rc) {
      snt_tr_copy_to(&s, t->eval_model, blob);
      rc = snt_tr_evaluate(t, blob, &d.ds, items, n, threads, snt_rt_bf16(info, c), c->max_pixels, c->window, &ev);
    }
    if (!rc) {
      printf("evaluated %lld images (%s part of split %g,%g,%g seed %lld)%s\n", (long long)ev.n, part, s.split[0], s.split[1],
             s.split[2], (long long)s.seed, ev.skipped ? ", some unreadable ones skipped" : "");
      if (ev.invalid)
        printf("invalid: %lld image%s whose input or output was not finite (NaN or Inf), not counted above\n",
               (long long)ev.invalid, ev.invalid == 1 ? "" : "s");
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
          rc = snt_tr_clinical(&ev, &d.ds, &c, &co);
        }
        snt_confusion_free(&c);
      }
    }
    if (!rc && ev.invalid) rc = SNT_EXIT_USER; /* said above: some images had no valid prediction */
    snt_tr_eval_free(&ev);
    free(blob);
    free(all);
  }
  snt_tr_data_close(&d);
  snt_tr_state_free(&s);
  return rc;
}

int snt_tr_cmd_export(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv) {
  const char *out = NULL;
  const snt_opt own[] = {{.name = "out", 'o', SNT_OPT_STRING, &out, "OUT.onnx", "the ONNX file to write"}, {NULL}};
  int n_pos = 0;
  int prc = snt_tr_parse(info, "export-onnx", own, c, argc, argv, NULL, 0, &n_pos);
  if (prc) return prc;
  const char *weights = c->weights;
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
          "        [--max-pixels N]            the largest image (width x height) decoded\n"
          "        [--window C,W]              the VOI window of DICOM images (center, width >= 1)\n"
          "        under mpirun -np N (data-parallel; --batch is the whole job's):\n"
          "        [--sync-bn]                 BatchNorm statistics of the whole batch (default: each rank's)\n"
          "        [--deterministic [--parts P]] the batch as P parts (2) added in order: the same bits for\n"
          "                                    any N dividing P, one process included\n"
          "        [--overlap on|off|auto]     send the gradients during the backward pass (auto: on when\n"
          "                                    the ranks span machines)\n"
          "        [--comm-timeout S]          end the job when the ranks wait S s for one another (300)\n"
          "        ranges: --epochs 1 to 1000000, --batch 1 to the compiled training batch, --patience 0 to\n"
          "        1000000, --lr more than 0 and at most 1e6, --bn-momentum and --split fractions 0 to 1,\n"
          "        --seed 0 to 2^63-1. A loss that is not finite stops training (exit 1) naming the epoch\n"
          "        and step; last.onnx and best.onnx keep the last completed epoch's weights.\n"
          "  evaluate --data DIR [--split test|val|train|all] [--out DIR] [--max-pixels N] [--window C,W]\n"
          "        [--predictions FILE.csv] [--threshold CLASS=P]\n"
          "                                    loss, accuracy, confusion matrix, per-class report; images\n"
          "                                    whose input or output is not finite are counted apart;\n"
          "                                    per class (one vs rest) ROC AUC, sensitivity, specificity,\n"
          "                                    the macro AUC, roc.png and roc.csv; --predictions: every\n"
          "                                    image's path, true class and probabilities; --threshold\n"
          "                                    (repeatable): CLASS called at probability >= P (0 to 1)\n"
          "  export-onnx -o OUT.onnx           the weights as a standard ONNX inference model\n"
          "  data --data DIR [--out DIR] [--split A,B,C] [--seed N] [--max-pixels N] [--window C,W]\n"
          "                                    class counts per split, class weights, a contact sheet\n"
          "  explain IMAGE... -o DIR [--class NAME] [--layer NAME] [--max-pixels N]\n"
          "                                    Grad-CAM: an overlay PNG and a JSON (probabilities, map) per image\n"
          "  gradients X.pb LABELS.pb [W.pb] -o DIR [--seed S]\n"
          "                                    one step's loss and gradients as ONNX tensors (no update)\n",
          m->name);
}

/* The explain model's parameters have the step model's names: copied from the training state
 * (--weights, else the built-in weights). */
typedef struct tr_model {
  const snt_model_info *info;
  const snt_train_info *t;
} tr_model;

static int train_weights(void *ctx, const snt_explain_info *x, const char *weights, unsigned char *blob) {
  const tr_model *m = ctx;
  snt_tr_state s;
  int rc = load_state(m->info, m->t, weights, &s);
  if (rc) return rc;
  if (!rc) snt_tr_copy_to(&s, x->model, blob);
  snt_tr_state_free(&s);
  return rc;
}

int snt_rt_main_train(int argc, char **argv, const snt_model_info *info, const snt_train_info *t) {
  const char *cmd = argc > 1 ? argv[1] : "";
  bool ours = strcmp(cmd, "train") == 0 || strcmp(cmd, "evaluate") == 0 || strcmp(cmd, "export-onnx") == 0 ||
              strcmp(cmd, "data") == 0 || strcmp(cmd, "gradients") == 0 || strcmp(cmd, "explain") == 0;
  if (!ours) {
    tr_model tm = {info, t};
    snt_rt_explain_src xs = {t->explain, train_weights, &tm};
    int rc = snt_rt_main_with(argc, argv, info, t->explain && t->explain->model ? &xs : NULL);
    if (argc < 2 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
      usage_train(argc < 2 ? stderr : stdout, info);
    return rc;
  }
  snt_rt_common c = {0};
  int n = argc - 2;
  char **args = argv + 2;
  int rc;
  if (strcmp(cmd, "train") == 0) rc = snt_tr_cmd_train(info, t, &c, n, args);
  else if (strcmp(cmd, "evaluate") == 0) rc = snt_tr_cmd_evaluate(info, t, &c, n, args);
  else if (strcmp(cmd, "export-onnx") == 0) rc = snt_tr_cmd_export(info, t, &c, n, args);
  else if (strcmp(cmd, "gradients") == 0) rc = snt_tr_cmd_gradients(info, t, &c, n, args);
  else if (strcmp(cmd, "explain") == 0) rc = snt_xp_cmd(info, t->explain, train_weights, &(tr_model){info, t}, &c, n, args);
  else rc = snt_tr_cmd_data(info, t, &c, n, args);
  if (rc < 0) {
    usage_train(stdout, info);
    rc = 0;
  }
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
int snt_tr_cmd_gradients(const snt_model_info *info, const snt_train_info *t, snt_rt_common *c, int argc, char **argv) {
  const char *dir = NULL;
  char *files[3] = {0};
  int n_files = 0;
  uint64_t seed = 0;
  const snt_opt own[] = {{.name = "out", 'o', SNT_OPT_STRING, &dir, "DIR", "the folder for the outputs"},
                         {.name = "seed", 0, SNT_OPT_UINT64, &seed, "S", "the step's seed (dropout)"},
                         {NULL}};
  int prc = snt_tr_parse(info, "gradients", own, c, argc, argv, files, 3, &n_files);
  if (prc) return prc;
  const char *weights = c->weights;
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
  /* The loss kernel would refuse a label out of range with a bare status: say which one. */
  for (int64_t i = 0; !rc && i < n; i++) {
    int64_t label = ((const int64_t *)in[1].data)[i], classes = sm->outputs[1].dims[1];
    if (label < 0 || label >= classes)
      fprintf(stderr, "%s: label %lld of sample %lld is out of range (0 to %lld)\n", files[1], (long long)label,
              (long long)i, (long long)(classes - 1)), rc = 1;
  }
  snt_tr_bufs b = {0};
  if (!rc) rc = snt_tr_bufs_init(&b, sm);
  void *inst = rc ? NULL : sm->create();
  if (inst) sm->set_threads(inst, c->threads > 0 ? c->threads : openblas_get_num_procs());
  if (!rc && !inst)
    fprintf(stderr, "%s gradients: out of memory: cannot allocate the training step's activation arena (batch %lld)\n",
            info->name, (long long)sm->batch), rc = SNT_EXIT_INTERNAL;
  if (!rc) {
    memcpy(b.x, in[0].data, snt_tensor_buf_nbytes(&in[0]));
    memcpy(b.labels, in[1].data, snt_tensor_buf_nbytes(&in[1]));
    for (int64_t i = 0; i < n; i++) b.w[i] = n_files > 2 ? ((const float *)in[2].data)[i] : 1.0f;
    sm->set_weights(inst, s.blob);
    const void *ins[3] = {b.x, b.labels, b.w};
    int st = t->step(inst, n, seed, ins, b.out);
    if (st != 0) snt_rt_report_failure(sm, inst, st, "gradients"), rc = SNT_EXIT_INTERNAL;
  }
  if (!rc) rc = write_step_outputs(t, &b, n, dir);
  if (inst) sm->destroy(inst);
  snt_tr_bufs_free(&b);
  for (int i = 0; i < 3; i++) snt_tensor_buf_free(&in[i]);
  snt_tr_state_free(&s);
  return rc;
}
