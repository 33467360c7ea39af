/* The model's C file: layout, entry points and one block of code per node. */
#include "compiler/codegen/emit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler/codegen/batch.h"
#include "compiler/op.h"
#include "sinter/file.h"
#include "sinter/version.h"

void snt_emit_line(snt_emit *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = snt_vformat(fmt, ap);
  va_end(ap);
  if (!s) {
    e->c->failed = true;
    return;
  }
  snt_sb_printf(e->c, "  %s\n", s);
  free(s);
}

static const char *keep(snt_emit *e, char *s) {
  const char *r = s ? snt_arena_strdup(e->arena, s) : NULL;
  free(s);
  return r ? r : "/* out of memory */";
}

const char *snt_format_keep(snt_emit *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = snt_vformat(fmt, ap);
  va_end(ap);
  return keep(e, s);
}

const char *snt_emit_i64(snt_emit *e, int64_t v) {
  if (v == INT64_MIN) return "INT64_MIN";
  return keep(e, snt_format("%lldLL", (long long)v));
}

const char *snt_emit_f64(snt_emit *e, double v) {
  if (v != v) return "NAN";
  if (v == __builtin_inf()) return "INFINITY";
  if (v == -__builtin_inf()) return "(-INFINITY)";
  return keep(e, snt_format("%a", v)); /* hexadecimal floats are exact */
}

const char *snt_emit_ints(snt_emit *e, const int64_t *v, int n) {
  snt_strbuf b = {0};
  snt_sb_puts(&b, "{");
  for (int i = 0; i < n; i++) snt_sb_printf(&b, "%s%lld", i ? ", " : "", (long long)v[i]);
  snt_sb_puts(&b, n ? "}" : "0}");
  return keep(e, b.failed ? NULL : b.data);
}

const char *snt_emit_batch(snt_emit *e) {
  return e->step ? "n" : keep(e, snt_format("%lldLL", (long long)e->g->batch));
}

bool snt_emit_rows_dyn(const snt_emit *e, int tensor) { return e->rows && tensor >= 0 && e->rows[tensor]; }

const char *snt_emit_rows(snt_emit *e, int tensor) {
  const snt_tensor *t = &e->g->tensors[tensor];
  return snt_emit_rows_dyn(e, tensor) ? "n" : snt_emit_i64(e, t->rank ? t->dims[0] : 1);
}

/* count elements (or bytes) of the whole tensor, scaled to n rows when they are run-time. */
static const char *scaled(snt_emit *e, int tensor, int64_t count) {
  const snt_tensor *t = &e->g->tensors[tensor];
  if (!snt_emit_rows_dyn(e, tensor) || !t->dims[0]) return snt_emit_i64(e, count);
  return keep(e, snt_format("(n * %lldLL)", (long long)(count / t->dims[0])));
}

const char *snt_emit_numel(snt_emit *e, int tensor) { return scaled(e, tensor, snt_tensor_numel(&e->g->tensors[tensor])); }

const char *snt_emit_bytes(snt_emit *e, int tensor) {
  return scaled(e, tensor, (int64_t)snt_tensor_bytes(&e->g->tensors[tensor]));
}

const char *snt_emit_dims(snt_emit *e, int tensor) {
  const snt_tensor *t = &e->g->tensors[tensor];
  return snt_emit_ints(e, t->dims, t->rank);
}

const char *snt_emit_ptr(snt_emit *e, int tensor) {
  const snt_tensor *t = &e->g->tensors[tensor];
  const snt_place *p = &e->plan->places[tensor];
  const char *ct = snt_dtype_ctype(t->dtype);
  switch (p->kind) {
    case SNT_PLACE_INPUT: return keep(e, snt_format("((const %s *)in[%d])", ct, p->index));
    case SNT_PLACE_OUTPUT: return keep(e, snt_format("((%s *)out[%d])", ct, p->index));
    case SNT_PLACE_ARENA: return keep(e, snt_format("((%s *)(A + %zu))", ct, p->offset));
    case SNT_PLACE_WEIGHTS: return keep(e, snt_format("((const %s *)(W + %zu))", ct, p->offset));
    default: return "NULL";
  }
}

const char *snt_emit_load(snt_emit *e, int tensor, const char *idx) {
  const snt_tensor *t = &e->g->tensors[tensor];
  const char *p = snt_emit_ptr(e, tensor);
  if (t->dtype == SNT_F16) return keep(e, snt_format("snt_f16_to_f32(%s[%s])", p, idx));
  if (t->dtype == SNT_BF16) return keep(e, snt_format("snt_bf16_to_f32(%s[%s])", p, idx));
  return keep(e, snt_format("%s[%s]", p, idx));
}

const char *snt_emit_store(snt_emit *e, int tensor, const char *idx, const char *v) {
  const snt_tensor *t = &e->g->tensors[tensor];
  const char *p = snt_emit_ptr(e, tensor);
  if (t->dtype == SNT_F16) return keep(e, snt_format("%s[%s] = snt_f32_to_f16((float)(%s))", p, idx, v));
  if (t->dtype == SNT_BF16) return keep(e, snt_format("%s[%s] = snt_f32_to_bf16((float)(%s))", p, idx, v));
  if (t->dtype == SNT_BOOL) return keep(e, snt_format("%s[%s] = (uint8_t)((%s) != 0)", p, idx, v));
  return keep(e, snt_format("%s[%s] = (%s)(%s)", p, idx, snt_dtype_ctype(t->dtype), v));
}

/* ---- files ---- */

static snt_status write_file(snt_diag *d, const char *dir, const char *name, const void *data, size_t len) {
  char *path = snt_format("%s/%s", dir, name);
  if (!path) return SNT_ERR_NOMEM;
  FILE *f = fopen(path, "wb");
  snt_status st = SNT_OK;
  if (!f || fwrite(data, 1, len, f) != len) st = SNT_ERR_IO;
  if (f && fclose(f) != 0) st = SNT_ERR_IO;
  if (st) snt_diag_error(d, NULL, (snt_loc){0}, "cannot write '%s': %s", path, strerror(errno));
  free(path);
  return st;
}

/* Outputs count as batched when an input is and their first dim is the batch. */
static bool batched(const snt_graph *g, const snt_tensor *t, bool is_input) {
  if (is_input) return t->batched;
  bool any = false;
  for (int i = 0; i < g->n_inputs; i++) any |= g->tensors[g->inputs[i]].batched;
  return any && t->rank > 0 && t->dims[0] == g->batch;
}

/* One entry of a name/dtype/dims table, as designated fields: ".name = "x", .dtype = 1, ...". */
static void named_dims(snt_strbuf *s, const snt_tensor *t) {
  snt_sb_puts(s, "  {.name = ");
  snt_c_string(s, t->name); /* ONNX names may hold any byte */
  snt_sb_printf(s, ", .dtype = %d, .rank = %d, .dims = {", (int)t->dtype, t->rank);
  for (int k = 0; k < t->rank; k++) snt_sb_printf(s, "%s%lld", k ? ", " : "", (long long)t->dims[k]);
  snt_sb_puts(s, t->rank ? "}" : "0}");
}

static void io_table(snt_strbuf *s, const snt_graph *g, const char *prefix, const char *what, const int *ts, int n) {
  snt_sb_printf(s, "static const snt_model_io %s_%s[%d] = {\n", prefix, what, n ? n : 1);
  for (int i = 0; i < n; i++) {
    named_dims(s, &g->tensors[ts[i]]);
    snt_sb_printf(s, ", .batched = %d},\n", batched(g, &g->tensors[ts[i]], what[0] == 'i'));
  }
  if (!n) snt_sb_puts(s, "  {.name = NULL},\n");
  snt_sb_puts(s, "};\n");
}

/* The first line of every generated file: which model it comes from (escaped: a comment). */
static void generated_by(snt_strbuf *s, const snt_graph *g) {
  snt_sb_printf(s, "/* Generated by sinter %s from model '", SINTER_VERSION);
  snt_c_comment(s, g->name);
  snt_sb_puts(s, "'. Do not edit. */\n");
}

static snt_status header(const snt_graph *g, const char *prefix, const char *dir, snt_diag *d, bool step) {
  snt_strbuf h = {0};
  char *run_n_decl = step ? snt_strdup("")
                          : snt_format("/* Runs the first n (1 to %lld) samples: batched inputs and outputs hold n rows.\n"
                                       " * Returns 0, or 1 when n is out of range. */\n"
                                       "int %s_run_n(%s *m, int64_t n, const void *const *in, void *const *out);\n",
                                       (long long)g->batch, prefix, prefix);
  if (!run_n_decl) return SNT_ERR_NOMEM;
  generated_by(&h, g);
  snt_sb_printf(&h,
                "#ifndef %s_H\n#define %s_H\n\n#include <sinter/model.h>\n\n"
                "/* The model's state: its activation memory and scratch space. No globals: any number\n"
                " * of instances (and of different models) can live in one program. */\n"
                "typedef struct %s %s;\n\n"
                "/* Allocates a model; NULL when out of memory. */\n%s *%s_create(void);\n"
                "/* Runs one batch of %lld: in[i] and out[i] point at dense row-major buffers of the\n"
                " * shapes in %s_info.inputs / .outputs. Returns 0. */\n"
                "int %s_run(%s *m, const void *const *in, void *const *out);\n"
                "%s"
                "void %s_destroy(%s *m);\n\n"
                "/* Names, types and shapes of the inputs and outputs, labels, and the entry points. */\n"
                "extern const snt_model_info %s_info;\n\n",
                prefix, prefix, prefix, prefix, prefix, prefix, (long long)g->batch, prefix, prefix, prefix, run_n_decl,
                prefix, prefix, prefix);
  if (step)
    snt_sb_printf(&h, "/* One training step on n <= %lld samples (dropout seeded by seed). Returns 0. */\n"
                      "int %s_step(struct %s *m, int64_t n, uint64_t seed, const void *const *in, void *const *out);\n"
                      "/* Data-parallel training: snt_k_ctx_set_shard on the step's kernels. */\n"
                      "void %s_set_shard(struct %s *m, int64_t first, int (*sum)(void *, double *, int64_t), void *user);\n"
                      "/* Data-parallel training: ready(user, i) once output i is final, during the step. */\n"
                      "void %s_set_ready(struct %s *m, void (*ready)(void *, int), void *user);\n\n",
                  (long long)g->batch, prefix, prefix, prefix, prefix, prefix, prefix);
  snt_sb_puts(&h, "#endif\n");
  char *name = snt_format("%s.h", prefix);
  snt_status st = h.failed || !name ? SNT_ERR_NOMEM : write_file(d, dir, name, h.data, h.len);
  free(name);
  free(run_n_decl);
  snt_sb_free(&h);
  return st;
}

/* Writes the weights blob tensor by tensor at each one's offset (the gaps stay zero), so
 * the weights are never held a second time in one big buffer. */
static snt_status weights_blob(const snt_graph *g, const snt_plan *p, const char *dir, const char *bin, snt_diag *d) {
  char *path = snt_format("%s/%s", dir, bin);
  if (!path) return SNT_ERR_NOMEM;
  snt_err e;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  snt_status st = fd < 0 ? snt_err_set(&e, SNT_ERR_IO, "cannot write '%s': %s", path, strerror(errno)) : SNT_OK;
  if (!st && ftruncate(fd, (off_t)p->weights_bytes) != 0)
    st = snt_err_set(&e, SNT_ERR_IO, "cannot write '%s' (%zu bytes): %s", path, p->weights_bytes, strerror(errno));
  for (int t = 0; !st && t < g->n_tensors; t++) {
    const snt_tensor *x = &g->tensors[t];
    if (p->places[t].kind != SNT_PLACE_WEIGHTS) continue;
    if (!x->data) {
      free(path);
      close(fd);
      return snt_diag_error(d, g->src, (snt_loc){0}, "no value for %s '%s': give weights with --weights",
                            x->kind == SNT_T_PARAM ? "parameter" : "constant", x->name);
    }
    st = snt_file_pwrite_all(fd, path, x->data, snt_tensor_bytes(x), p->places[t].offset, &e);
  }
  if (fd >= 0 && close(fd) != 0 && !st) st = snt_err_set(&e, SNT_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
  if (st) snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  free(path);
  return st;
}

static snt_status weights(const snt_graph *g, const snt_plan *p, const char *prefix, const char *dir, snt_diag *d) {
  char *bin = snt_format("%s_weights.bin", prefix), *asm_name = snt_format("%s_weights.S", prefix);
  char *asm_text = snt_format("/* Generated by sinter: embeds the weights without a C array literal. */\n"
                              "  .section .rodata\n  .balign 64\n  .global %s_weights\n%s_weights:\n"
                              "  .incbin \"%s_weights.bin\"\n  .section .note.GNU-stack,\"\",@progbits\n",
                              prefix, prefix, prefix);
  snt_status st = bin && asm_name && asm_text ? SNT_OK : SNT_ERR_NOMEM;
  if (!st) st = weights_blob(g, p, dir, bin, d);
  if (!st) st = write_file(d, dir, asm_name, asm_text, strlen(asm_text));
  free(bin);
  free(asm_name);
  free(asm_text);
  return st;
}

/* Inside the model's own functions the state is `struct <prefix>`: a struct tag cannot be
 * hidden by a local (m, in, out, n, seed, A, S, W, ...), so any prefix is safe there. */
static void preamble(snt_strbuf *s, const snt_graph *g, const snt_plan *p, const char *prefix, bool embed, bool step,
                     size_t stage, bool bf16, size_t packed) {
  char weights_sym[300], packed_alloc[64];
  snprintf(weights_sym, sizeof weights_sym, "%s_weights", prefix);
  snprintf(packed_alloc, sizeof packed_alloc, "snt_k_alloc_big(%zu)", packed);
  bool has_w = p->weights_bytes && embed;
  char stage_alloc[64] = "NULL";
  if (stage) snprintf(stage_alloc, sizeof stage_alloc, "aligned_alloc(64, %zu)", (stage + 63) / 64 * 64);
  generated_by(s, g);
  snt_sb_printf(s,
                "#include <math.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
                "#include <sinter/dtype.h>\n#include <sinter/kernels.h>\n#include <sinter/kernels_int.h>\n"
                "#include <sinter/kernels_loss.h>\n#include <sinter/kernels_quant.h>\n#include <sinter/kernels_scatter.h>\n"
                "#include <sinter/kernels_shape.h>\n#include <sinter/kernels_train.h>\n"
                "#include <sinter/profile.h>\n\n#include \"%s.h\"\n\n",
                prefix); /* every kernel's prototype: an op's emitter may call any of them */
  if (has_w) snt_sb_printf(s, "extern const unsigned char %s_weights[];\n\n", prefix);
  snt_sb_printf(s,
                "struct %s {\n  unsigned char *arena;  /* %zu bytes of activations */\n"
                "  unsigned char *scratch; /* %zu bytes for kernels */\n"
                "  const unsigned char *weights; /* %zu bytes, embedded or loaded */\n"
                "  snt_k_ctx *k; /* the kernels' threads and instruction set */\n"
                "  unsigned char *stage; /* %zu bytes: a short batch's inputs and outputs, padded to the whole */\n"
                "  double *prof; /* bench --profile: the time after each node; NULL when off */\n"
                "  unsigned char *packed; /* %zu bytes: conv weights packed for the GEMM */\n"
                "  int at; /* the node running: the one that failed when a run returns a status */\n"
                "  const unsigned char *packed_for; /* the weights they were packed from; NULL: not yet */\n};\n\n",
                prefix, p->arena_bytes, p->scratch_bytes, p->weights_bytes, stage, packed);
  snt_sb_printf(s,
                "struct %s *%s_create(void) {\n  struct %s *m = calloc(1, sizeof *m);\n  if (!m) return NULL;\n"
                "  m->weights = %s;\n"
                "  m->arena = snt_k_alloc_big(%zu);\n  m->scratch = snt_k_alloc_big(%zu);\n  m->k = snt_k_ctx_create(1);\n"
                "  m->stage = %s;\n  m->packed = %s;\n"
                "  if (!m->arena || !m->scratch || !m->k || (%d && !m->stage) || (%d && !m->packed)) {\n"
                "    %s_destroy(m);\n    return NULL;\n  }\n"
                "  /* Touched once here, not on the first runs; rows past a short batch stay finite. */\n"
                "  memset(m->arena, 0, %zu);\n"
                "%s%s"
                "  return m;\n}\n\n"
                "void %s_destroy(struct %s *m) {\n  if (!m) return;\n  snt_k_ctx_destroy(m->k);\n  free(m->arena);\n  free(m->scratch);\n"
                "  free(m->stage);\n  free(m->packed);\n  free(m);\n}\n\n",
                prefix, prefix, prefix, has_w ? weights_sym : "NULL", p->arena_bytes ? p->arena_bytes : 64, p->scratch_bytes ? (p->scratch_bytes + 63) / 64 * 64 : 64,
                stage_alloc, packed ? packed_alloc : "NULL", stage > 0, packed > 0, prefix, p->arena_bytes ? p->arena_bytes : 64,
                bf16 ? "  snt_k_ctx_set_precision(m->k, SNT_K_BF16); /* sinter compile --precision bf16 */\n" : "",
                step ? "  snt_k_ctx_set_training(m->k, 1); /* convolutions as the definition sums them */\n" : "",
                prefix, prefix);
}

/* A training step: after which position of the order each graph output is final (the last
 * writer of its buffer: its producer, or a tensor placed in it, in place or inside a concat);
 * n_order for outputs copied at the end. Data-parallel training sends gradients from there on,
 * while the backward pass goes on (snt_k_ctx_set_ready). NULL when out of memory. */
static int *output_ready_at(const snt_graph *g, const snt_plan *p) {
  int *pos = malloc(sizeof(int) * (size_t)(g->n_nodes + 1)), *at = malloc(sizeof(int) * (size_t)(g->n_outputs + 1));
  int *out_of = malloc(sizeof(int) * (size_t)(g->n_tensors + 1)); /* tensor -> output index, or -1 */
  if (!pos || !at || !out_of) return free(pos), free(at), free(out_of), NULL;
  for (int i = 0; i < g->n_nodes; i++) pos[i] = -1;
  for (int s = 0; s < p->n_order; s++) pos[p->order[s]] = s;
  for (int t = 0; t < g->n_tensors; t++) out_of[t] = -1;
  for (int i = 0; i < g->n_outputs; i++) {
    at[i] = p->places[g->outputs[i]].kind == SNT_PLACE_OUTPUT ? -1 : p->n_order;
    if (at[i] < 0) out_of[g->outputs[i]] = i;
  }
  for (int u = 0; u < g->n_tensors; u++) { /* every writer of an output's buffer, once */
    int root = u, w = g->tensors[u].producer;
    for (int hops = 0; p->places[root].alias_of >= 0 && hops < g->n_tensors; hops++) root = p->places[root].alias_of;
    int i = out_of[root];
    if (i >= 0 && w >= 0 && pos[w] > at[i]) at[i] = pos[w];
  }
  for (int i = 0; i < g->n_outputs; i++)
    if (at[i] < 0) at[i] = p->n_order;
  free(pos);
  free(out_of);
  return at;
}

static void ready_calls(snt_strbuf *body, const snt_graph *g, const int *at, int s) {
  for (int i = 0; at && i < g->n_outputs; i++)
    if (at[i] == s) snt_sb_printf(body, "  snt_k_ctx_ready(m->k, %d);\n", i);
}

/* Copies graph outputs that no node writes (an input or a constant passed through). */
static void passthrough_outputs(snt_emit *e) {
  for (int i = 0; i < e->g->n_outputs; i++) {
    int t = e->g->outputs[i];
    if (e->plan->places[t].kind == SNT_PLACE_OUTPUT) continue;
    snt_emit_line(e, "memcpy(out[%d], %s, %s);", i, snt_emit_ptr(e, t), snt_emit_bytes(e, t));
  }
}

static void param_table(snt_strbuf *s, const snt_graph *g, const snt_plan *p, const char *prefix) {
  int n = 0;
  snt_sb_printf(s, "static const snt_model_param %s_params[] = {\n", prefix);
  for (int t = 0; t < g->n_tensors; t++) {
    if (p->places[t].kind != SNT_PLACE_WEIGHTS) continue;
    named_dims(s, &g->tensors[t]);
    snt_sb_printf(s, ", .offset = %zu},\n", p->places[t].offset);
    n++;
  }
  if (!n) snt_sb_puts(s, "  {.name = NULL},\n");
  snt_sb_puts(s, "};\n");
}

static void labels(snt_strbuf *s, const snt_graph *g, const char *prefix) {
  snt_sb_printf(s, "static const char *const %s_labels[%d] = {", prefix, g->n_labels ? g->n_labels : 1);
  for (int i = 0; i < g->n_labels; i++) {
    snt_sb_puts(s, i ? ", " : "");
    snt_c_string(s, g->labels[i]);
  }
  snt_sb_printf(s, "%s};\n\n", g->n_labels ? "" : "NULL");
}

/* The model's snt_model_info, field by field (designated: the struct's order does not matter). */
static void info(snt_strbuf *s, const snt_graph *g, const snt_plan *p, const snt_codegen_opts *o, const char *prefix,
                 bool scalable, size_t stage, const char *batch_note, size_t packed) {
  bool has_w = p->weights_bytes && !(o && o->no_weights);
  io_table(s, g, prefix, "inputs", g->inputs, g->n_inputs);
  io_table(s, g, prefix, "outputs", g->outputs, g->n_outputs);
  labels(s, g, prefix);
  param_table(s, g, p, prefix);
  int n_params = 0;
  for (int t = 0; t < g->n_tensors; t++) n_params += p->places[t].kind == SNT_PLACE_WEIGHTS;
  snt_model_pre pre = o && o->pre ? *o->pre : (snt_model_pre){.scale = 1, .std = {1, 1, 1}};
  snt_sb_printf(s,
                "\nstatic void *create_(void) { return %s_create(); }\n"
                "static int run_(void *m, const void *const *in, void *const *out) { return %s_run(m, in, out); }\n"
                "%s%s%s"
                "static void destroy_(void *m) { %s_destroy(m); }\n"
                "static void set_weights_(void *m, const void *w) {\n"
                "  ((struct %s *)m)->weights = w;\n  ((struct %s *)m)->packed_for = NULL; /* packed again at the next run */\n}\n"
                "static void set_threads_(void *m, int t) { snt_k_ctx_set_threads(((struct %s *)m)->k, t); }\n"
                "static void set_precision_(void *m, int bf16) {\n"
                "  snt_k_ctx_set_precision(((struct %s *)m)->k, bf16 ? SNT_K_BF16 : SNT_K_FP32);\n}\n\n",
                prefix, prefix, o && o->step ? "" : "static int run_n_(void *m, int64_t n, const void *const *in, void *const *out) { return ",
                o && o->step ? "" : prefix, o && o->step ? "" : "_run_n(m, n, in, out); }\n", prefix, prefix, prefix, prefix, prefix);
  snt_sb_printf(s, "const snt_model_info %s_info = {\n  .name = ", prefix);
  snt_c_string(s, g->name);
  snt_sb_printf(s, ",\n  .batch = %lld, .instances = %d, .n_inputs = %d, .n_outputs = %d,\n"
                   "  .inputs = %s_inputs, .outputs = %s_outputs, .n_labels = %d, .labels = %s_labels,\n",
                (long long)g->batch, o && o->instances > 1 ? o->instances : 1, g->n_inputs, g->n_outputs, prefix, prefix,
                g->n_labels, prefix);
  snt_sb_printf(s, "  .pre = {.scale = %a, .mean = {%a, %a, %a}, .std = {%a, %a, %a}, .nhwc = %d},\n  .summary = ",
                pre.scale, pre.mean[0], pre.mean[1], pre.mean[2], pre.std[0], pre.std[1], pre.std[2], pre.nhwc);
  snt_c_string(s, o && o->summary ? o->summary : "");
  if (batch_note) snt_sb_puts(s, " ");
  /* What <prefix>_create allocates, for the executable's out-of-memory message. */
  size_t memory = (p->arena_bytes ? p->arena_bytes : 64) + (p->scratch_bytes ? (p->scratch_bytes + 63) / 64 * 64 : 64) +
                  (stage + 63) / 64 * 64 + packed;
  if (batch_note) snt_c_string(s, batch_note);
  snt_sb_printf(s, ",\n  .n_params = %d, .params = %s_params, .weights_bytes = %zu, .weights = %s%s,\n"
                   "  .create = create_, .run = run_, .destroy = destroy_, .set_weights = set_weights_,\n"
                   "  .set_threads = set_threads_, .set_precision = set_precision_, .run_n = %s, .batch_scalable = %d, .bf16 = %d,\n"
                   "  .memory_bytes = %zu,\n",
                n_params, prefix, p->weights_bytes, has_w ? prefix : "NULL", has_w ? "_weights" : "",
                o && o->step ? "NULL" : "run_n_", scalable, o && o->bf16, memory);
}

/* ---- profiling (EXE bench --profile): a timestamp after each node while m->prof is set ---- */

/* One branch per node when profiling is off. */
static void profile_stamp(snt_strbuf *body, int i) {
  snt_sb_printf(body, "  if (m->prof) m->prof[%d] = snt_prof_now();\n", i);
}

/* The node table (names through snt_c_string: they are untrusted), kernel_ naming each node's
 * kernel through the op's kernel_name hook, and set_profile_. */
static void profile_tables(snt_strbuf *s, snt_emit *e) {
  const snt_graph *g = e->g;
  const snt_plan *p = e->plan;
  snt_sb_printf(s, "static const snt_model_node %s_nodes[%d] = {\n", e->prefix, p->n_order ? p->n_order : 1);
  for (int i = 0; i < p->n_order; i++) {
    const snt_node *n = &g->nodes[p->order[i]];
    snt_sb_puts(s, "  {.name = ");
    snt_c_string(s, n->name ? n->name : "");
    snt_sb_printf(s, ", .op = \"%s\", .flops = %a},\n", n->op->name, n->op->flops ? n->op->flops(g, n) : 0.0);
  }
  if (!p->n_order) snt_sb_puts(s, "  {.name = NULL},\n");
  /* Without an instance (EXE summary) the names come from a zeroed one: no kernel context, so
   * the kernels answer for this CPU's ISA and FP32. */
  snt_sb_printf(s, "};\n\nstatic const char *kernel_(void *mv, int i) {\n  struct %s m0_ = {0}, *m = mv ? mv : &m0_;\n"
                   "  (void)m;\n  switch (i) {\n",
                e->prefix);
  for (int i = 0; i < p->n_order; i++) {
    const snt_node *n = &g->nodes[p->order[i]];
    if (n->op->kernel_name) snt_sb_printf(s, "    case %d: return %s;\n", i, n->op->kernel_name(e, p->order[i]));
  }
  snt_sb_printf(s, "    default: return NULL;\n  }\n}\n\n"
                   "static void set_profile_(void *m, double *t) { ((struct %s *)m)->prof = t; }\n"
                   "static int failed_node_(void *m) { return ((struct %s *)m)->at; }\n\n", e->prefix, e->prefix);
}

static void profile_info(snt_strbuf *s, const snt_emit *e) {
  snt_sb_printf(s, "  .n_nodes = %d, .nodes = %s_nodes, .set_profile = set_profile_, .kernel = kernel_,\n"
                   "  .failed_node = failed_node_};\n",
                e->plan->n_order, e->prefix);
}

/* The C prefix: the caller's (an identifier it made, as <prefix>_train), else the model's name
 * mapped by snt_c_ident. */
static snt_status codegen_prefix(const snt_graph *g, const snt_codegen_opts *o, snt_diag *d, char **prefix) {
  *prefix = !(o && o->name) ? snt_c_ident(g->name) : NULL;
  if (!(o && o->name)) return *prefix ? SNT_OK : SNT_ERR_NOMEM;
  bool ok = isalpha((unsigned char)o->name[0]);
  for (const char *c = o->name; *c; c++) ok &= isalnum((unsigned char)*c) || *c == '_';
  if (!ok) {
    snt_diag_error(d, NULL, (snt_loc){0}, "internal: the C prefix '%s' is not an identifier", o->name);
    return SNT_ERR_INTERNAL;
  }
  return (*prefix = snt_strdup(o->name)) ? SNT_OK : SNT_ERR_NOMEM;
}

/* Bytes of the batched inputs and outputs, each 64-byte aligned: a short batch's stage. */
static size_t stage_bytes(const snt_graph *g) {
  size_t b = 0;
  for (int i = 0; i < g->n_inputs; i++)
    if (batched(g, &g->tensors[g->inputs[i]], true)) b += (snt_tensor_bytes(&g->tensors[g->inputs[i]]) + 63) / 64 * 64;
  for (int i = 0; i < g->n_outputs; i++)
    if (batched(g, &g->tensors[g->outputs[i]], false)) b += (snt_tensor_bytes(&g->tensors[g->outputs[i]]) + 63) / 64 * 64;
  return b;
}

/* Copies the batched rows of one io table between the caller's n rows and the stage. */
static void stage_io(snt_strbuf *s, const snt_graph *g, const int *ts, int count, bool is_input, size_t *off) {
  const char *name = is_input ? "in" : "out";
  for (int i = 0; i < count; i++) {
    const snt_tensor *t = &g->tensors[ts[i]];
    if (!batched(g, t, is_input)) {
      snt_sb_printf(s, "  s%s[%d] = %s[%d];\n", name, i, name, i);
      continue;
    }
    size_t row = snt_tensor_bytes(t) / (size_t)t->dims[0];
    snt_sb_printf(s, "  s%s[%d] = m->stage + %zu;\n", name, i, *off);
    if (is_input)
      snt_sb_printf(s, "  memcpy(m->stage + %zu, in[%d], (size_t)n * %zu);\n  memset(m->stage + %zu + (size_t)n * %zu, 0, (size_t)(%lld - n) * %zu);\n",
                    *off, i, row, *off, row, (long long)t->dims[0], row);
    *off += (snt_tensor_bytes(t) + 63) / 64 * 64;
  }
}

static void copy_back(snt_strbuf *s, const snt_graph *g, size_t off) {
  for (int i = 0; i < g->n_inputs; i++)
    if (batched(g, &g->tensors[g->inputs[i]], true)) off += (snt_tensor_bytes(&g->tensors[g->inputs[i]]) + 63) / 64 * 64;
  for (int i = 0; i < g->n_outputs; i++) {
    const snt_tensor *t = &g->tensors[g->outputs[i]];
    if (!batched(g, t, false)) continue;
    snt_sb_printf(s, "  memcpy(out[%d], m->stage + %zu, (size_t)n * %zu);\n", i, off, snt_tensor_bytes(t) / (size_t)t->dims[0]);
    off += (snt_tensor_bytes(t) + 63) / 64 * 64;
  }
}

/* <prefix>_run_n: the body on n rows when the model keeps samples apart; else the whole batch,
 * a short one staged with zero rows (the memset then is the price of an op that mixes samples). */
static void run_n_fn(snt_strbuf *s, const snt_graph *g, const char *prefix, bool scalable, size_t stage) {
  long long b = (long long)g->batch;
  snt_sb_printf(s, "int %s_run_n(struct %s *m, int64_t n, const void *const *in, void *const *out) {\n"
                   "  m->at = -1;\n  if (n < 1 || n > %lld) return n == 0 ? 0 : 1;\n", prefix, prefix, b);
  if (scalable || !stage) {
    if (scalable) snt_sb_printf(s, "  return %s_rows_(m, n, in, out);\n}\n\n", prefix);
    else snt_sb_printf(s, "  return %s_rows_(m, %lld, in, out);\n}\n\n", prefix, b);
    return;
  }
  snt_sb_printf(s, "  if (n == %lld) return %s_rows_(m, n, in, out);\n", b, prefix);
  snt_sb_printf(s, "  const void *sin[%d];\n  void *sout[%d];\n", g->n_inputs + 1, g->n_outputs + 1);
  size_t off = 0;
  stage_io(s, g, g->inputs, g->n_inputs, true, &off);
  stage_io(s, g, g->outputs, g->n_outputs, false, &off);
  snt_sb_printf(s, "  const int rc = %s_rows_(m, %lld, sin, sout);\n", prefix, b);
  copy_back(s, g, 0);
  snt_sb_puts(s, "  return rc;\n}\n\n");
}

snt_status snt_codegen(const snt_graph *g, const snt_plan *p, const snt_codegen_opts *o, const char *dir,
                       snt_diag *d) {
  char *prefix = NULL;
  snt_status st = codegen_prefix(g, o, d, &prefix);
  snt_strbuf src = {0}, body = {0};
  snt_emit e = {.g = g, .plan = p, .d = d, .c = &body, .arena = snt_arena_create(), .prefix = prefix,
                .step = o && o->step, .no_pack = o && o->no_weights};
  bool embed = !(o && o->no_weights);
  snt_batch_scan scan = {.blocker = -1};
  if (!st) st = snt_batch_scan_run(g, p, &scan);
  if (!st && !e.step && scan.scalable && g->batch > 1) e.rows = scan.rows;
  size_t stage = !st && !e.step && !scan.scalable && g->batch > 1 ? stage_bytes(g) : 0;
  char *note = !st && !e.step ? snt_batch_scan_note(g, &scan) : NULL;
  if (!st && !e.step && !note) st = SNT_ERR_NOMEM;
  if (!st && !e.arena) st = SNT_ERR_NOMEM;
  int *ready_at = !st && e.step ? output_ready_at(g, p) : NULL;
  if (!st && e.step && !ready_at) st = SNT_ERR_NOMEM;
  if (!st) profile_stamp(&body, 0);
  for (int s = 0; !st && s < p->n_order; s++) {
    const snt_node *n = &g->nodes[p->order[s]];
    snt_sb_printf(&body, "  /* %s '", n->op->name);
    snt_c_comment(&body, n->name);
    snt_sb_puts(&body, "' */\n");
    snt_sb_printf(&body, "  m->at = %d;\n", s);
    if (!n->op->emit)
      st = snt_node_error(g, n, d, "cannot be compiled yet: sinter has no code for op '%s'", n->op->name);
    else
      st = n->op->emit(&e, p->order[s]);
    profile_stamp(&body, s + 1);
    ready_calls(&body, g, ready_at, s);
  }
  if (!st) passthrough_outputs(&e);
  if (!st) ready_calls(&body, g, ready_at, p->n_order);
  free(ready_at);
  if (!st) {
    preamble(&src, g, p, prefix, embed, e.step, stage, o && o->bf16, e.packed_bytes);
    if (e.step)
      snt_sb_printf(&src, "int %s_step(struct %s *m, int64_t n, uint64_t seed, const void *const *in, void *const *out) {\n"
                          "  (void)n, (void)seed;\n", prefix, prefix);
    else
      snt_sb_printf(&src, "/* The nodes in order, on the first n samples (n is the whole batch when the model mixes them). */\n"
                          "static int %s_rows_(struct %s *m, int64_t n, const void *const *in, void *const *out) {\n"
                          "  (void)n;\n", prefix, prefix);
    snt_sb_printf(&src, "  unsigned char *A = m->arena;\n  void *S = m->scratch;\n");
    snt_sb_printf(&src, "  const unsigned char *W = m->weights;\n  snt_status snt_k_st_ = SNT_OK;\n"
                        "  (void)A, (void)S, (void)W, (void)in, (void)out, (void)snt_k_st_;\n");
    snt_sb_puts(&src, body.data ? body.data : "");
    if (e.packed_bytes) snt_sb_puts(&src, "  m->packed_for = m->weights;\n");
    snt_sb_puts(&src, "  return 0;\n}\n\n");
    if (e.step)
      snt_sb_printf(&src, "int %s_run(struct %s *m, const void *const *in, void *const *out) {\n"
                          "  return %s_step(m, %lld, 0, in, out);\n}\n\n"
                          "void %s_set_shard(struct %s *m, int64_t first, int (*sum)(void *, double *, int64_t), void *user) {\n"
                          "  snt_k_ctx_set_shard(m->k, first, sum, user);\n}\n\n"
                          "void %s_set_ready(struct %s *m, void (*ready)(void *, int), void *user) {\n"
                          "  snt_k_ctx_set_ready(m->k, ready, user);\n}\n\n",
                    prefix, prefix, prefix, (long long)g->batch, prefix, prefix, prefix, prefix);
    else {
      run_n_fn(&src, g, prefix, scan.scalable, stage);
      snt_sb_printf(&src, "int %s_run(struct %s *m, const void *const *in, void *const *out) {\n"
                          "  return %s_run_n(m, %lld, in, out);\n}\n\n", prefix, prefix, prefix, (long long)g->batch);
    }
    profile_tables(&src, &e);
    info(&src, g, p, o, prefix, scan.scalable, stage, note, e.packed_bytes);
    profile_info(&src, &e);
    if (src.failed || body.failed) st = SNT_ERR_NOMEM;
  }
  char *cname = prefix ? snt_format("%s.c", prefix) : NULL;
  if (!st) st = cname ? write_file(d, dir, cname, src.data, src.len) : SNT_ERR_NOMEM;
  if (!st) st = header(g, prefix, dir, d, e.step);
  if (!st && p->weights_bytes && embed) st = weights(g, p, prefix, dir, d);
  free(cname);
  free(note);
  snt_batch_scan_free(&scan);
  snt_sb_free(&src);
  snt_sb_free(&body);
  snt_arena_destroy(e.arena);
  free(prefix);
  return st;
}
