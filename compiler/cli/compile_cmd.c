/* sinter compile: a .nn or .onnx model to a standalone executable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/autodiff.h"
#include "compiler/build.h"
#include "compiler/codegen/suite.h"
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
    "  --threads T         split the batch over T threads, one model copy each (default: 2 when\n"
    "                      the batch is even, else 1); the linear algebra then runs one thread each\n"
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
    "  --labels A,B,...    class names for predict\n"
    "  --scale S           predict feeds (pixel * S - mean) / std; pixels are 0..255 (default 1)\n"
    "  --mean M1,M2,M3     per channel (default 0)\n"
    "  --std S1,S2,S3      per channel (default 1)\n"
    "  --nhwc              the model takes channels-last images\n"
    "  --max-memory BYTES  refuse a model whose planned memory (activations, weights, scratch)\n"
    "                      exceeds BYTES (default: the machine's physical memory)\n";

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int floats3(const char *s, float *out) {
  return sscanf(s, "%f,%f,%f", &out[0], &out[1], &out[2]) == 3 ? 0 : -1;
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
} training;

static void training_free(training *t) {
  snt_ad_free(&t->ad);
  snt_ir_destroy(t->step);
  snt_ir_destroy(t->eval);
  free(t->onnx_template);
}

/* The passes that keep every parameter's value (no folding), so weights map by name. */
static snt_status keep_values_passes(snt_graph *g, snt_diag *d) {
  snt_status (*const passes[])(snt_graph *, snt_diag *, int *) = {
      snt_pass_drop_identity, snt_pass_fold_pad, snt_pass_fuse_activation, snt_pass_fuse_bn_relu, snt_pass_dead_nodes};
  for (int round = 0; round < 16; round++) {
    int changed = 0;
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
      snt_status st = passes[i](g, d, &changed);
      if (st) return st;
    }
    if (!changed) break;
  }
  return SNT_OK;
}

static snt_status build_training(snt_diag *d, const char *model, const snt_lower_opts *lo, const snt_graph *g,
                                 long long train_batch, training *t) {
  snt_lower_opts o = *lo;
  o.batch = train_batch > 0 ? train_batch : g->recipe.batch > 0 ? g->recipe.batch : 32;
  snt_status st = snt_load_model(d, model, &o, &t->step);
  if (!st) st = snt_load_model(d, model, &o, &t->eval);
  if (!st) st = keep_values_passes(t->eval, d);
  if (!st) st = snt_autodiff_build(t->step, d, &t->ad);
  if (!st) st = snt_onnx_template(g, &t->onnx_template, &t->onnx_template_bytes, d);
  if (st) {
    training_free(t);
    memset(t, 0, sizeof *t);
  }
  return st;
}

int snt_parse_max_memory(const char *v, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long b = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
  if (!end || *end || errno || b < 1 || b > (1ull << 62)) {
    fprintf(stderr, "sinter: error: --max-memory takes a number of bytes from 1 to 4611686018427387904, got '%s'\n", v ? v : "");
    return 1;
  }
  *out = b;
  return 0;
}

int snt_cmd_compile(int argc, char **argv) {
  const char *model = NULL, *out = NULL, *weights = NULL, *emit = NULL, *labels = NULL;
  snt_param_set sets[64];
  int n_sets = 0;
  snt_lower_opts lo = {0};
  uint64_t max_memory = 0; /* 0: the physical memory */
  snt_model_pre pre = {1, {0, 0, 0}, {1, 1, 1}, 0};
  bool has_pre = false, passes = true, trainable = true;
  long long batch = 1, threads = 0, train_batch = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(help, stdout);
      return 0;
    }
    bool takes = strcmp(a, "-o") == 0 || strcmp(a, "--weights") == 0 || strcmp(a, "--emit-c") == 0 ||
                 strcmp(a, "--batch") == 0 || strcmp(a, "--set") == 0 || strcmp(a, "--model") == 0 ||
                 strcmp(a, "--labels") == 0 || strcmp(a, "--scale") == 0 || strcmp(a, "--mean") == 0 || strcmp(a, "--std") == 0 ||
                 strcmp(a, "--threads") == 0 || strcmp(a, "--train-batch") == 0 || strcmp(a, "--max-memory") == 0;
    if (takes && !v) {
      fprintf(stderr, "sinter compile: %s needs a value\nrun 'sinter compile --help' for usage\n", a);
      return SNT_EXIT_USER;
    }
    if (strcmp(a, "-o") == 0) out = argv[++i];
    else if (strcmp(a, "--weights") == 0) weights = argv[++i];
    else if (strcmp(a, "--emit-c") == 0) emit = argv[++i];
    else if (strcmp(a, "--model") == 0) lo.model = argv[++i];
    else if (strcmp(a, "--labels") == 0) labels = argv[++i];
    else if (strcmp(a, "--no-freeze") == 0) lo.no_freeze = true;
    else if (strcmp(a, "--embed-weights") == 0) continue;
    else if (strcmp(a, "--no-passes") == 0) passes = false;
    else if (strcmp(a, "--no-train") == 0) trainable = false;
    else if (strcmp(a, "--train-batch") == 0) {
      char *end;
      train_batch = strtoll(argv[++i], &end, 10);
      if (*end || train_batch < 1 || train_batch > 65536) {
        fprintf(stderr, "sinter compile: --train-batch takes a number from 1 to 65536, got '%s'\n", argv[i]);
        return SNT_EXIT_USER;
      }
    }
    else if (strcmp(a, "--nhwc") == 0) pre.nhwc = 1, has_pre = true;
    else if (strcmp(a, "--max-memory") == 0) {
      if (snt_parse_max_memory(argv[++i], &max_memory)) return SNT_EXIT_USER;
    }
    else if (strcmp(a, "--batch") == 0) {
      char *end;
      batch = strtoll(argv[++i], &end, 10);
      if (*end || batch < 1 || batch > 65536) {
        fprintf(stderr, "sinter compile: --batch takes a number from 1 to 65536, got '%s'\n", argv[i]);
        return SNT_EXIT_USER;
      }
    } else if (strcmp(a, "--threads") == 0) {
      char *end;
      threads = strtoll(argv[++i], &end, 10);
      if (*end || threads < 1 || threads > 64) {
        fprintf(stderr, "sinter compile: --threads takes a number from 1 to 64, got '%s'\n", argv[i]);
        return SNT_EXIT_USER;
      }
    } else if (strcmp(a, "--scale") == 0) {
      pre.scale = strtof(argv[++i], NULL), has_pre = true;
    } else if (strcmp(a, "--mean") == 0 || strcmp(a, "--std") == 0) {
      if (floats3(argv[++i], a[2] == 'm' ? pre.mean : pre.std)) {
        fprintf(stderr, "sinter compile: %s takes three numbers, as 0.485,0.456,0.406; got '%s'\n", a, argv[i]);
        return SNT_EXIT_USER;
      }
      has_pre = true;
    } else if (strcmp(a, "--set") == 0) {
      const char *kv = argv[++i], *eq = strchr(kv, '=');
      if (!eq || eq == kv || n_sets == 64) {
        fprintf(stderr, "sinter compile: --set takes NAME=VALUE, got '%s'\n", kv);
        return SNT_EXIT_USER;
      }
      sets[n_sets++] = (snt_param_set){snt_strndup(kv, (size_t)(eq - kv)), eq + 1};
    } else if (a[0] == '-') {
      fprintf(stderr, "sinter compile: unknown option '%s'\nrun 'sinter compile --help' for usage\n", a);
      return SNT_EXIT_USER;
    } else if (model) {
      fprintf(stderr, "sinter compile: takes one model, got a second: '%s'\n", a);
      return SNT_EXIT_USER;
    } else {
      model = a;
    }
  }
  if (!model || !out) {
    fprintf(stderr, "sinter compile: needs MODEL and -o EXE\nrun 'sinter compile --help' for usage\n");
    return SNT_EXIT_USER;
  }
  /* Each thread runs a copy of the model on its share of the batch. */
  if (!threads) threads = batch >= 2 && batch % 2 == 0 ? 2 : 1;
  if (batch % threads) {
    fprintf(stderr, "sinter compile: --threads %lld does not divide --batch %lld\n", threads, batch);
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
    if (!st && weights) st = snt_diag_error(d, NULL, (snt_loc){0}, "--weights is for .nn models: an ONNX model has its own");
  } else {
    st = snt_load_model(d, model, &lo, &g);
    if (!st) st = weights ? snt_weights_load(g, weights, d, stderr) : snt_weights_init(g, (uint64_t)g->recipe.seed);
  }
  if (!st && labels) st = add_labels(g, labels);
  if (g) g->max_memory = max_memory;
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
  if (!st && passes) st = tr.step ? keep_values_passes(g, d) : snt_passes_inference(g, d);
  if (!st) {
    /* Splitting needs every input and output to carry the batch. */
    bool all_batched = true;
    for (int i = 0; i < g->n_inputs; i++) all_batched &= g->tensors[g->inputs[i]].batched;
    for (int i = 0; i < g->n_outputs; i++) all_batched &= g->tensors[g->outputs[i]].rank > 0 && g->tensors[g->outputs[i]].dims[0] == g->batch;
    if (threads > 1 && !all_batched)
      st = snt_diag_error(d, NULL, (snt_loc){0}, "--threads %lld: the model has inputs or outputs without a batch dimension", threads);
    snt_build_opts bo = {.output = out, .emit_dir = emit, .pre = has_pre ? &pre : NULL, .summary = summary,
                         .instances = (int)threads, .train_step = tr.step, .ad = &tr.ad, .eval = tr.eval,
                         .onnx_template = tr.onnx_template, .onnx_template_bytes = tr.onnx_template_bytes};
    if (!st)
      st = snt_build_executable(g, &bo, d);
  }
  snt_diag_print(d, stderr);
  free(summary);
  training_free(&tr);
  snt_diag_destroy(td);
  snt_ir_destroy(g);
  snt_diag_destroy(d);
  for (int i = 0; i < n_sets; i++) free((char *)sets[i].name);
  return st == SNT_OK ? 0 : st == SNT_ERR_INPUT || st == SNT_ERR_IO ? SNT_EXIT_USER : SNT_EXIT_INTERNAL;
}
