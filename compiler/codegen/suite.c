/* The training tables of an executable, as C: parameters with their gradient outputs, moving
 * statistics, the recipe, and the ONNX template that checkpoints are written from. */
#include "compiler/codegen/suite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/codegen/emit.h"
#include "compiler/explain.h"
#include "compiler/onnx/export.h"
#include "sinter/file.h"
#include "sinter/onnx_io.h"
#include "support/util.h"

static void tables(snt_strbuf *b, const snt_suite_src *s) {
  const snt_graph *g = s->step;
  const snt_ad *ad = s->ad;
  snt_sb_printf(b, "static const snt_train_param params_[%d] = {\n", ad->n_params ? ad->n_params : 1);
  for (int i = 0; i < ad->n_params; i++) {
    const snt_tensor *t = &g->tensors[ad->params[i]];
    double l2 = strcmp(t->role ? t->role : "", "kernel") == 0 ? snt_node_float(&g->nodes[t->owner], "l2", 0) : 0;
    snt_sb_puts(b, "  {.name = ");
    snt_c_string(b, t->name);
    snt_sb_printf(b, ", .grad_output = %d, .l2 = %a},\n", 2 + i, l2);
  }
  if (!ad->n_params) snt_sb_puts(b, "  {.name = NULL},\n");
  snt_sb_printf(b, "};\n\nstatic const snt_train_stat stats_[%d] = {\n", ad->n_stats ? ad->n_stats : 1);
  for (int i = 0; i < ad->n_stats; i++) {
    snt_sb_puts(b, "  {.name = ");
    snt_c_string(b, g->tensors[ad->stats[i].param].name);
    snt_sb_printf(b, ", .output = %d, .momentum = %a},\n", 2 + ad->n_params + i, ad->stats[i].momentum);
  }
  if (!ad->n_stats) snt_sb_puts(b, "  {.name = NULL},\n");
  snt_sb_puts(b, "};\n\n");
}

/* ".field = "string"" for a recipe string (the DSL checked it; it is escaped all the same). */
static void string_field(snt_strbuf *b, const char *field, const char *v) {
  snt_sb_printf(b, ",\n    .%s = ", field);
  snt_c_string(b, v);
}

static void class_weights(snt_strbuf *b, const snt_recipe *r) {
  snt_sb_printf(b, "static const double class_weights_[%d] = {", r->n_class_weights ? r->n_class_weights : 1);
  for (int i = 0; i < r->n_class_weights; i++) snt_sb_printf(b, "%s%a", i ? ", " : "", r->class_weights[i]);
  snt_sb_puts(b, r->n_class_weights ? "};\n\n" : "0};\n\n");
}

/* The recipe as a designated initializer (the value of snt_train_info's .recipe). */
static void recipe(snt_strbuf *b, const snt_recipe *r) {
  snt_sb_puts(b, "{\n    .optimizer = ");
  snt_c_string(b, r->optimizer);
  snt_sb_printf(b, ", .lr = %a, .beta1 = %a, .beta2 = %a, .epsilon = %a, .momentum = %a, .nesterov = %d,\n"
                   "    .class_weight = %d, .n_class_weights = %d, .class_weights = class_weights_,\n"
                   "    .batch = %lld, .epochs = %lld, .seed = %lld, .split = {%a, %a, %a},\n",
                r->lr, r->beta1, r->beta2, r->epsilon, r->momentum, r->nesterov, (int)r->class_weight, r->n_class_weights,
                (long long)r->batch, (long long)r->epochs, (long long)r->seed, r->split[0], r->split[1], r->split[2]);
  snt_sb_printf(b, "    .augment = {.flip_horizontal = %d, .flip_vertical = %d, .brightness = %a, .contrast = {%a, %a},\n"
                   "                .rotation = %a, .shift = {%a, %a}, .zoom = %a},\n",
                r->augment.flip_horizontal, r->augment.flip_vertical, r->augment.brightness, r->augment.contrast[0],
                r->augment.contrast[1], r->augment.rotation, r->augment.shift[0], r->augment.shift[1], r->augment.zoom);
  snt_sb_printf(b, "    .early_stopping = {.enabled = %d, .restore_best = %d", r->early_stopping.enabled,
                r->early_stopping.restore_best);
  string_field(b, "monitor", r->early_stopping.monitor);
  snt_sb_printf(b, ", .patience = %lld, .min_delta = %a},\n    .reduce_lr = {.enabled = %d",
                (long long)r->early_stopping.patience, r->early_stopping.min_delta, r->reduce_lr.enabled);
  string_field(b, "monitor", r->reduce_lr.monitor);
  snt_sb_printf(b, ", .factor = %a, .min_lr = %a, .patience = %lld},\n    .checkpoint = {.enabled = %d, .save_best = %d",
                r->reduce_lr.factor, r->reduce_lr.min_lr, (long long)r->reduce_lr.patience, r->checkpoint.enabled,
                r->checkpoint.save_best);
  string_field(b, "monitor", r->checkpoint.monitor);
  snt_sb_printf(b, "},\n    .bn_momentum = %a}", r->bn_momentum);
}

/* `static const snt_explain_info explain_`: the layers explain can look at, the explain model
 * (<prefix>_explain) when ex is set, else why not. */
void snt_codegen_explain_tables(snt_strbuf *b, const snt_explain *ex, const char *prefix, const char *why, const char *more) {
  int n = ex ? ex->n_layers : 0;
  snt_sb_printf(b, "static const snt_explain_layer_info explain_layers_[%d] = {\n", n ? n : 1);
  for (int i = 0; i < n; i++) {
    snt_sb_puts(b, "  {.name = ");
    snt_c_string(b, ex->ad.g->nodes[ex->layers[i].node].name);
    snt_sb_printf(b, ", .act_output = %d, .grad_output = %d},\n", 1 + 2 * i, 2 + 2 * i);
  }
  snt_sb_puts(b, n ? "};\n\n" : "  {.name = NULL},\n};\n\n");
  snt_sb_puts(b, "static const snt_explain_info explain_ = {");
  if (ex) snt_sb_printf(b, ".model = &%s_explain_info, ", prefix);
  snt_sb_printf(b, ".n_layers = %d, .layers = explain_layers_, .why = ", n);
  if (ex || !why) snt_sb_puts(b, "NULL");
  else snt_c_string(b, why);
  snt_sb_printf(b, "%s};\n\n", more ? more : "");
}

static void template_bytes(snt_strbuf *b, const unsigned char *p, size_t n) {
  snt_sb_printf(b, "static const unsigned char onnx_template_[%zu] = {", n ? n : 1);
  for (size_t i = 0; i < n; i++) snt_sb_printf(b, "%s%u,", i % 24 ? "" : "\n  ", p[i]);
  snt_sb_puts(b, n ? "\n};\n\n" : "0};\n\n");
}

snt_status snt_codegen_suite(const snt_suite_src *s, const char *dir, snt_diag *d) {
  snt_strbuf b = {0};
  const char *p = s->prefix;
  snt_sb_puts(&b, "/* Generated by sinter: how the runtime trains model '");
  snt_c_comment(&b, s->step->name);
  snt_sb_printf(&b, "'. Do not edit. */\n"
                    "#include <sinter/train.h>\n\n#include \"%s.h\"\n#include \"%s_train.h\"\n#include \"%s_eval.h\"\n",
                p, p, p);
  if (s->explain) snt_sb_printf(&b, "#include \"%s_explain.h\"\n", p);
  snt_sb_puts(&b, "\n");
  snt_codegen_explain_tables(&b, s->explain, p, s->explain_why ? s->explain_why : "the model was compiled without it", NULL);
  tables(&b, s);
  class_weights(&b, &s->step->recipe);
  template_bytes(&b, s->onnx_template, s->onnx_template_bytes);
  int64_t trainable = 0;
  for (int i = 0; i < s->ad->n_params; i++) trainable += snt_tensor_numel(&s->step->tensors[s->ad->params[i]]);
  snt_sb_printf(&b,
                "static int step_(void *m, int64_t n, uint64_t seed, const void *const *in, void *const *out) {\n"
                "  return %s_train_step(m, n, seed, in, out);\n}\n\n"
                "static void set_shard_(void *m, int64_t first, int (*sum)(void *, double *, int64_t), void *user) {\n"
                "  %s_train_set_shard(m, first, sum, user);\n}\n\n"
                "static void set_ready_(void *m, void (*ready)(void *, int), void *user) {\n"
                "  %s_train_set_ready(m, ready, user);\n}\n\n"
                "const snt_train_info %s_suite = {\n  .step_model = &%s_train_info, .step = step_, .set_shard = set_shard_,\n"
                "  .set_ready = set_ready_, .eval_model = &%s_eval_info,\n"
                "  .n_params = %d, .params = params_, .n_stats = %d, .stats = stats_, .n_trainable = %lld,\n  .recipe = ",
                p, p, p, p, p, p, s->ad->n_params, s->ad->n_stats, (long long)trainable);
  recipe(&b, &s->step->recipe);
  snt_sb_printf(&b, ",\n  .onnx_template = onnx_template_, .onnx_template_bytes = %zu", s->onnx_template_bytes);
  snt_sb_puts(&b, ",\n  .explain = &explain_");
  snt_sb_printf(&b,
                "};\n\n"
                "int main(int argc, char **argv) { return snt_rt_main_train(argc, argv, &%s_info, &%s_suite); }\n", p, p);
  snt_status st = b.failed ? SNT_ERR_NOMEM : SNT_OK;
  char *path = snt_format("%s/%s_suite.c", dir, p);
  FILE *f = !st && path ? fopen(path, "w") : NULL;
  if (!st && (!f || fwrite(b.data, 1, b.len, f) != b.len))
    st = snt_diag_error(d, NULL, (snt_loc){0}, "cannot write '%s': %s", path ? path : dir, strerror(errno));
  if (f && fclose(f) != 0 && !st) st = snt_diag_error(d, NULL, (snt_loc){0}, "cannot write '%s'", path);
  free(path);
  snt_sb_free(&b);
  return st;
}

/* Exports through a temporary file, then drops every parameter's values from the model. */
snt_status snt_onnx_template(const snt_graph *g, unsigned char **out, size_t *len, snt_diag *d) {
  char *tmpl = NULL;
  snt_err e;
  if (snt_file_tmpfile_create(NULL, ".onnx", &tmpl, NULL, &e) != SNT_OK)
    return snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  snt_status st = snt_onnx_export_file(g, tmpl, NULL, d);
  Onnx__ModelProto *m = NULL;
  if (!st && snt_onnx_load_model(tmpl, &m, &e) != SNT_OK) st = snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  snt_file_tmpfile_remove(tmpl);
  for (size_t i = 0; !st && i < m->graph->n_initializer; i++) {
    Onnx__TensorProto *t = m->graph->initializer[i];
    bool param = false;
    for (int k = 0; k < g->n_tensors && !param; k++)
      param = g->tensors[k].kind == SNT_T_PARAM && strcmp(g->tensors[k].name, t->name) == 0;
    if (!param) continue;
    free(t->raw_data.data);
    t->raw_data.data = NULL;
    t->raw_data.len = 0;
    t->has_raw_data = 1;
  }
  if (!st) {
    *len = onnx__model_proto__get_packed_size(m);
    *out = malloc(*len ? *len : 1);
    if (!*out) st = SNT_ERR_NOMEM;
    else onnx__model_proto__pack(m, *out);
  }
  if (m) snt_onnx_free_model(m);
  return st;
}
