/* sinter compile: a .nn or .onnx model to a standalone executable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/autodiff.h"
#include "compiler/build.h"
#include "compiler/codegen/batch.h"
#include "compiler/codegen/suite.h"
#include "compiler/explain.h"
#include "compiler/cli/cli.h"
#include "compiler/lower.h"
#include "compiler/onnx/import.h"
#include "compiler/passes/passes.h"
#include "compiler/summary.h"
#include "compiler/weights.h"
#include "support/util.h"

static const char help[] =
    "usage: sinter compile MODEL.nn|MODEL.onnx -o EXE [options]\n\n"
    "Generates C for the model, builds it with the system C compiler ($CC, $CFLAGS) against the\n"
    "prebuilt runtime, and writes a standalone executable (run it with --help).\n\n"
    "  -o EXE              the executable to write (required)\n"
    "  --batch N           the batch the executable runs (default 1); smaller batches work too\n"
    "  --threads T         split the batch into T slices, run by one model copy per thread (default:\n"
    "                      2 when the batch is even, else 1; ONNX models with small weights and\n"
    "                      large activations: slices small enough to keep them in cache); the\n"
    "                      linear algebra then runs one thread each\n"
    "  --weights W.onnx    DSL models: take the parameters from an ONNX file, by Keras layer name,\n"
    "                      else by structure; without it they start as Keras initialises them\n"
    "  --emit-c DIR        keep the generated C (model .c/.h, weights blob, main.c or the\n"
    "                      training models and their _suite.c with main) in DIR\n"
    "  --embed-weights     embed the weights in the executable (the default: they always are)\n"
    "  --set NAME=VALUE    DSL models: a model parameter (repeatable)\n"
    "  --model NAME        DSL files with several models: the one to compile\n"
    "  --no-freeze         DSL models: ignore freeze statements\n"
    "  --no-passes         skip the graph passes (BN folding, activation fusion, ...), to compare\n"
    "  --train-batch N     DSL models: the largest batch `EXE train` takes (default: the recipe's)\n"
    "  --no-train          DSL models: build for inference only (BN folded into the convolutions)\n"
    "third-party ONNX classifiers:\n"
    "  --labels A,B,...    class names for predict (as many as the output has classes)\n"
    "  --softmax           append a softmax over the classes: for models whose output is logits\n"
    "  --scale S           predict feeds (pixel * S - mean) / std; pixels are 0..255 (default 1)\n"
    "  --mean M1,M2,M3     per channel (default 0)\n"
    "  --std S1,S2,S3      per channel (default 1)\n"
    "  --nhwc              the model takes channels-last images\n"
    "  --max-memory BYTES  the most memory the model's planned arena may take (default: the\n"
    "                      machine's physical memory)\n"
    "  --precision P       fp32 (default) or bf16: inference products on bfloat16 operands with\n"
    "                      float32 sums (AVX512_BF16; where the CPU lacks it, FP32 with a warning)\n\n"
    "Numbers are checked: --batch and --train-batch 1 to 65536, --threads 1 to 64, --scale and\n"
    "--std more than 0 (at most 1e6), --mean -1e6 to 1e6. Options take --name VALUE or --name=VALUE.\n";

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static snt_status add_labels(snt_graph *g, const char *csv) {
  for (int i = 0; i < g->n_labels; i++) free(g->labels[i]);
  g->n_labels = 0;
  for (const char *p = csv; *p;) {
    size_t len = strcspn(p, ",");
    char *l = snt_strndup(p, len);
    snt_status st = l ? snt_ir_add_label(g, l) : SNT_ERR_NOMEM;
    free(l);
    if (st) return st;
    p += len;
    if (*p) p++;
  }
  return SNT_OK;
}

static char *summary_text(const snt_graph *g) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  snt_summary_print(g, f);
  fclose(f);
  return buf;
}

/* The training side of a DSL model's executable: the step graph, an inference graph at the
 * training batch for validation, and the ONNX template checkpoints are written from. */
typedef struct training {
  snt_graph *step, *eval;
  snt_ad ad;
  unsigned char *onnx_template;
  size_t onnx_template_bytes;
  snt_graph *explain_g; /* Grad-CAM's graph, or NULL with explain_why */
  snt_explain explain;
  char *explain_why;
} training;

static void training_free(training *t) {
  snt_ad_free(&t->ad);
  snt_ir_destroy(t->step);
  snt_ir_destroy(t->eval);
  free(t->onnx_template);
  snt_explain_free(&t->explain);
  snt_ir_destroy(t->explain_g);
  free(t->explain_why);
}

/* Grad-CAM's graph at batch 1, from a DSL model or an ONNX graph (with the softmax --softmax
 * adds). A model it cannot explain still compiles: `EXE explain` says why (the first message
 * of the failed build). */
static void build_explain(const char *model, const snt_lower_opts *lo, bool onnx, bool softmax, training *t) {
  snt_lower_opts o = *lo;
  o.batch = 1;
  snt_onnx_import_opts io = {.batch = 1};
  snt_diag *d = snt_diag_create();
  snt_status st = !d ? SNT_ERR_NOMEM : onnx ? snt_onnx_import_file(d, model, &io, &t->explain_g) : snt_load_model(d, model, &o, &t->explain_g);
  bool added = false;
  if (!st && softmax) st = snt_cli_append_softmax(t->explain_g, d, &added);
  if (!st) st = snt_explain_build(t->explain_g, d, &t->explain);
  if (!st) return snt_diag_destroy(d);
  const snt_diag_msg *m = d && snt_diag_count(d) > 0 ? snt_diag_get(d, 0) : NULL;
  t->explain_why = snt_format("%s", m ? m->text : snt_status_str(st));
  snt_explain_free(&t->explain);
  snt_ir_destroy(t->explain_g);
  t->explain_g = NULL;
  snt_diag_destroy(d);
}

static snt_status build_training(snt_diag *d, const char *model, const snt_lower_opts *lo, const snt_graph *g,
                                 long long train_batch, training *t) {
  snt_lower_opts o = *lo;
  o.batch = train_batch > 0 ? train_batch : g->recipe.batch > 0 ? g->recipe.batch : 32;
  snt_status st = snt_load_model(d, model, &o, &t->step);
  if (!st) st = snt_load_model(d, model, &o, &t->eval);
  if (!st) st = snt_passes_run(t->eval, d, SNT_PIPELINE_KEEP_VALUES);
  if (!st) st = snt_autodiff_build(t->step, d, &t->ad);
  if (!st) st = snt_onnx_template(g, &t->onnx_template, &t->onnx_template_bytes, d);
  if (!st) build_explain(model, lo, false, false, t);
  if (st) {
    training_free(t);
    memset(t, 0, sizeof *t);
  }
  return st;
}

/* The options of `sinter compile`, parsed. */
typedef struct compile_args {
  const char *model, *out, *weights, *emit, *labels;
  snt_param_set sets[SNT_OPT_MAX_REPEAT];
  int n_sets;
  snt_lower_opts lo;
  snt_model_pre pre;
  bool has_pre, passes, trainable, softmax, explain;
  long long batch, threads, train_batch;
  int64_t max_memory; /* --max-memory BYTES: the planned arena's cap; 0 = the machine's memory */
  const char *precision; /* --precision fp32|bf16 */
} compile_args;

/* Returns 0, -1 when help was printed, or an exit code. */
static int parse_compile(int argc, char **argv, compile_args *a) {
  static const char prog[] = "sinter compile";
  snt_opt_list sets = {0};
  bool embed = false, no_freeze = false, no_passes = false, no_train = false, nhwc = false;
  int64_t batch = 1, threads = 0, train_batch = 0;
  double scale = 1, mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
  const snt_opt table[] = {
      {.name = "out", 'o', SNT_OPT_STRING, &a->out, "EXE", "the executable to write (required)"},
      {.name = "batch", 0, SNT_OPT_INT, &batch, "N", "the batch the executable runs", .imin = 1, .imax = 65536},
      {.name = "threads", 0, SNT_OPT_INT, &threads, "T", "split the batch over T threads", .imin = 1, .imax = 64},
      {.name = "weights", 0, SNT_OPT_STRING, &a->weights, "W.onnx", "DSL models: the parameters from an ONNX file"},
      {.name = "emit-c", 0, SNT_OPT_STRING, &a->emit, "DIR", "keep the generated C in DIR"},
      {.name = "embed-weights", 0, SNT_OPT_FLAG, &embed, NULL, "embed the weights (the default)"},
      {.name = "set", 0, SNT_OPT_REPEAT, &sets, "NAME=VALUE", "DSL models: a model parameter"},
      {.name = "model", 0, SNT_OPT_STRING, &a->lo.model, "NAME", "DSL files with several models: the one to compile"},
      {.name = "no-freeze", 0, SNT_OPT_FLAG, &no_freeze, NULL, "DSL models: ignore freeze statements"},
      {.name = "no-passes", 0, SNT_OPT_FLAG, &no_passes, NULL, "skip the graph passes"},
      {.name = "train-batch", 0, SNT_OPT_INT, &train_batch, "N", "DSL models: the largest batch EXE train takes", .imin = 1,
       .imax = 65536},
      {.name = "no-train", 0, SNT_OPT_FLAG, &no_train, NULL, "DSL models: build for inference only"},
      {.name = "explain", 0, SNT_OPT_FLAG, &a->explain, NULL, "ONNX models: also Grad-CAM's model (EXE explain)"},
      {.name = "max-memory", 0, SNT_OPT_INT, &a->max_memory, "BYTES", "the most memory the planned arena may take",
       .imin = 1, .imax = INT64_MAX},
      {.name = "labels", 0, SNT_OPT_STRING, &a->labels, "A,B,...", "class names for predict"},
      {.name = "softmax", 0, SNT_OPT_FLAG, &a->softmax, NULL, "ONNX models: a softmax after the logits"},
      {.name = "scale", 0, SNT_OPT_DOUBLE, &scale, "S", "predict feeds (pixel * S - mean) / std", .dmin = 0, .dmax = 1e6,
       .min_open = true},
      {.name = "mean", 0, SNT_OPT_DOUBLES, mean, "M1,M2,M3", "per channel", .dmin = -1e6, .dmax = 1e6, .count = 3},
      {.name = "std", 0, SNT_OPT_DOUBLES, std, "S1,S2,S3", "per channel", .dmin = 0, .dmax = 1e6, .min_open = true, .count = 3},
      {.name = "nhwc", 0, SNT_OPT_FLAG, &nhwc, NULL, "the model takes channels-last images"},
      {.name = "precision", 0, SNT_OPT_STRING, &a->precision, "fp32|bf16", "the arithmetic of the products"},
      {NULL}};
  char *pos[1];
  int n_pos = 0;
  int rc = snt_opt_parse_cmd(prog, table, argc, argv, pos, 1, &n_pos);
  if (rc < 0) fputs(help, stdout);
  if (rc) return rc;
  if (!n_pos || !a->out) {
    fprintf(stderr, "%s: needs MODEL and -o EXE\nrun '%s --help' for usage\n", prog, prog);
    return SNT_EXIT_USER;
  }
  a->model = pos[0];
  if (a->precision && strcmp(a->precision, "fp32") != 0 && strcmp(a->precision, "bf16") != 0) {
    fprintf(stderr, "%s: --precision: '%s' is not a precision (fp32 or bf16)\n", prog, a->precision);
    return SNT_EXIT_USER;
  }
  a->lo.no_freeze = no_freeze;
  a->passes = !no_passes;
  a->trainable = !no_train;
  a->batch = batch, a->threads = threads, a->train_batch = train_batch;
  a->pre = (snt_model_pre){(float)scale, {(float)mean[0], (float)mean[1], (float)mean[2]},
                           {(float)std[0], (float)std[1], (float)std[2]}, nhwc};
  /* Preprocessing other than the identity makes the model carry its own. */
  a->has_pre = nhwc || scale != 1;
  for (int c = 0; c < 3; c++) a->has_pre |= mean[c] != 0 || std[c] != 1;
  rc = snt_cli_sets(prog, &sets, a->sets);
  if (rc) return rc;
  a->n_sets = sets.n;
  return 0;
}

/* Samples per model copy for an ONNX model compiled without --threads (g imported at `per`
 * samples, the batch over 2 threads): a copy's activations should stay in cache between its
 * nodes, while its weights, read once per run of a copy, want large copies. Bytes moved per
 * sample are estimated as W / c (all weights per run of c samples) plus, for every node whose
 * inputs and outputs for c samples pass the cache budget, those bytes; the cheapest divisor c
 * of per wins, keeping at most 64 slices of the whole batch, if it saves a quarter of per's
 * bytes (an AlexNet stem at a little less lost speed). Models whose weights alone pass the
 * budget keep per (not measured to win there), and so do models that mix samples (a slice's
 * result would depend on its size). */
enum { CACHE_BUDGET = 16 << 20, MAX_SLICES = 64 };

static bool keeps_samples_apart(const snt_graph *g) {
  snt_plan p = {0};
  snt_batch_scan s = {0};
  snt_diag *d = snt_diag_create();
  bool apart = d && snt_plan_build(g, d, &p) == SNT_OK && snt_batch_scan_run(g, &p, &s) == SNT_OK && s.scalable;
  snt_batch_scan_free(&s);
  snt_plan_free(&p);
  snt_diag_destroy(d);
  return apart;
}

/* Bytes a node reads and writes for one sample (omitted ONNX inputs and outputs skipped). */
static double node_bytes_per_sample(const snt_graph *g, const snt_node *n) {
  double bytes = 0;
  for (int k = 0; k < n->n_act_in + n->n_out; k++) {
    int t = k < n->n_act_in ? n->in[k] : n->out[k - n->n_act_in];
    if (t >= 0) bytes += (double)snt_tensor_bytes(&g->tensors[t]);
  }
  return bytes / (double)(g->batch > 0 ? g->batch : 1);
}

static int64_t samples_per_copy(const snt_graph *g, int64_t per, int64_t batch) {
  double weights = 0;
  for (int t = 0; t < g->n_tensors; t++)
    if (g->tensors[t].kind == SNT_T_PARAM || g->tensors[t].kind == SNT_T_CONST)
      weights += (double)snt_tensor_bytes(&g->tensors[t]);
  if (weights > CACHE_BUDGET || !keeps_samples_apart(g)) return per;
  double *node = malloc(sizeof(double) * (size_t)(g->n_nodes + 1));
  if (!node) return per;
  for (int i = 0; i < g->n_nodes; i++) node[i] = node_bytes_per_sample(g, &g->nodes[i]);
  int64_t best = per;
  double best_cost = -1, per_cost = -1;
  for (int64_t c = per; c >= 1; c--) {
    if (per % c || batch / c > MAX_SLICES) continue;
    double cost = weights / (double)c;
    for (int i = 0; i < g->n_nodes; i++)
      if (node[i] * (double)c > CACHE_BUDGET) cost += node[i];
    if (c == per) per_cost = cost;
    if (best_cost < 0 || cost < best_cost) best = c, best_cost = cost;
  }
  free(node);
  return best_cost < 0.75 * per_cost ? best : per;
}

int snt_cmd_compile(int argc, char **argv) {
  compile_args a = {0};
  int rc = parse_compile(argc, argv, &a);
  if (rc) return rc < 0 ? SNT_EXIT_OK : rc;
  const char *model = a.model, *out = a.out, *weights = a.weights, *emit = a.emit, *labels = a.labels;
  snt_param_set *sets = a.sets;
  int n_sets = a.n_sets;
  snt_lower_opts lo = a.lo;
  snt_model_pre pre = a.pre;
  bool has_pre = a.has_pre, passes = a.passes, trainable = a.trainable;
  long long batch = a.batch, threads = a.threads, train_batch = a.train_batch;
  /* Each thread runs a copy of the model on its share of the batch. */
  if (!threads) threads = batch >= 2 && batch % 2 == 0 ? 2 : 1;
  if (batch % threads) {
    fprintf(stderr, "sinter compile: --threads %lld does not divide --batch %lld\n", threads, batch);
    snt_cli_sets_free(sets, n_sets);
    return SNT_EXIT_USER;
  }
  snt_diag *d = snt_diag_create();
  snt_graph *g = NULL;
  snt_status st;
  lo.sets = sets;
  lo.n_sets = n_sets;
  lo.batch = batch / threads;
  bool onnx = ends_with(model, ".onnx");
  if (onnx) {
    snt_onnx_import_opts io = {.batch = batch / threads};
    st = snt_onnx_import_file(d, model, &io, &g);
    /* Without --threads, copies of fewer samples when that keeps the activations in cache. */
    int64_t per = !st && !a.threads ? samples_per_copy(g, batch / threads, batch) : batch / threads;
    if (per < batch / threads) {
      snt_ir_destroy(g);
      g = NULL;
      threads = batch / per;
      io.batch = per;
      st = snt_onnx_import_file(d, model, &io, &g);
    }
    if (!st && weights) st = snt_diag_error(d, NULL, (snt_loc){0}, "--weights is for .nn models: an ONNX model has its own");
  } else {
    st = snt_load_model(d, model, &lo, &g);
    if (!st) st = weights ? snt_weights_load(g, weights, d, stderr) : snt_weights_init(g, (uint64_t)g->recipe.seed);
  }
  if (!st && a.softmax && !onnx) st = snt_diag_error(d, NULL, (snt_loc){0}, "--softmax is for ONNX models: a DSL model says its own activation");
  bool added = false;
  if (!st && a.softmax) st = snt_cli_append_softmax(g, d, &added);
  if (!st && a.softmax && !added) snt_diag_warning(d, NULL, (snt_loc){0}, "--softmax: the output already is a softmax's; none added");
  if (!st && labels) st = add_labels(g, labels);
  if (!st) st = snt_cli_check_labels(g, d, labels ? "--labels" : "the model's labels metadata");
  if (g) g->max_memory = (uint64_t)a.max_memory;
  char *summary = !st ? summary_text(g) : NULL;
  training tr = {0};
  snt_diag *td = snt_diag_create();
  if (!st && !onnx && trainable && td) {
    /* A model that cannot be trained yet (an op without a gradient rule, no softmax output)
     * still compiles for inference; why it does not train is a warning. */
    snt_status ts = build_training(td, model, &lo, g, train_batch, &tr);
    if (ts == SNT_ERR_INPUT) {
      for (int i = 0; i < snt_diag_count(td); i++) {
        const snt_diag_msg *m = snt_diag_get(td, i);
        snt_diag_warning(d, m->src, m->loc, "%s; the executable will predict but not train (--no-train: no warning)", m->text);
      }
    } else if (ts) {
      st = ts;
      snt_diag_print(td, stderr);
    }
  }
  /* Opt-in for ONNX graphs: the explain graph is a second import, a second copy of the weights
   * in the compiler's memory (DSL explain graphs hold none). */
  if (!st && onnx && a.explain) build_explain(model, &lo, true, a.softmax, &tr);
  if (!st && !onnx && a.explain) st = snt_diag_error(d, NULL, (snt_loc){0}, "--explain is for ONNX models: a DSL model's executable explains unless compiled --no-train");
  if (!st && passes) st = snt_passes_run(g, d, tr.step ? SNT_PIPELINE_KEEP_VALUES : SNT_PIPELINE_INFERENCE);
  if (!st) {
    /* Splitting needs every input and output to carry the batch. */
    bool all_batched = true;
    for (int i = 0; i < g->n_inputs; i++) all_batched &= g->tensors[g->inputs[i]].batched;
    for (int i = 0; i < g->n_outputs; i++) all_batched &= g->tensors[g->outputs[i]].rank > 0 && g->tensors[g->outputs[i]].dims[0] == g->batch;
    if (threads > 1 && !all_batched)
      st = snt_diag_error(d, NULL, (snt_loc){0}, "--threads %lld: the model has inputs or outputs without a batch dimension", threads);
    snt_build_opts bo = {.output = out, .emit_dir = emit, .pre = has_pre ? &pre : NULL, .summary = summary,
                         .instances = (int)threads, .name_note = true,
                         .bf16 = a.precision && strcmp(a.precision, "bf16") == 0, .train_step = tr.step, .ad = &tr.ad, .eval = tr.eval,
                         .onnx_template = tr.onnx_template, .onnx_template_bytes = tr.onnx_template_bytes,
                         .explain_graph = tr.explain_g, .explain = &tr.explain, .explain_why = tr.explain_why};
    if (!st)
      st = snt_build_executable(g, &bo, d);
  }
  snt_diag_print(d, stderr);
  /* Every failure has a message: one without a diagnostic (out of memory deep inside) says what. */
  if (st != SNT_OK && (!d || snt_diag_error_count(d) == 0))
    fprintf(stderr, "sinter compile: error: %s while processing %s\n", snt_status_str(st), model);
  free(summary);
  training_free(&tr);
  snt_diag_destroy(td);
  snt_ir_destroy(g);
  snt_diag_destroy(d);
  snt_cli_sets_free(sets, n_sets);
  return st == SNT_OK ? 0 : st == SNT_ERR_INPUT || st == SNT_ERR_IO ? SNT_EXIT_USER : SNT_EXIT_INTERNAL;
}
