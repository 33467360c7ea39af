/* C code generation: one .c and one .h per model, calling the runtime's kernels. */
#ifndef SINTER_COMPILER_CODEGEN_EMIT_H
#define SINTER_COMPILER_CODEGEN_EMIT_H

#include "compiler/codegen/names.h"
#include "compiler/ir.h"
#include "compiler/plan.h"
#include "sinter/model.h"
#include "support/util.h"

typedef struct snt_emit {
  const snt_graph *g;
  const snt_plan *plan;
  snt_diag *d;
  snt_strbuf *c;      /* the body of <name>_run */
  snt_arena *arena;   /* strings handed out by snt_emit_ptr */
  const char *prefix; /* the C identifier of the model */
  bool step;          /* a training step: C variables n (samples present) and seed exist */
  bool no_pack;       /* weights change under the model (training's eval side): keep no packed copy */
  const bool *rows;   /* inference: per tensor, its rows past the run-time n are skipped; NULL: none */
  size_t packed_bytes; /* m->packed, weights packed once at the first run (inference only) */
} snt_emit;

/* Tensor t's dim 0 at run time: "n" when its code stops after the first n samples (issue 10:
 * e->rows says so), else the planned size as a literal. Emitters use it for the batch of
 * every per-sample loop and kernel descriptor; snt_emit_numel and snt_emit_bytes likewise
 * give t's element and byte counts ("(n * 1024LL)"). */
const char *snt_emit_rows(snt_emit *e, int tensor);
const char *snt_emit_numel(snt_emit *e, int tensor);
const char *snt_emit_bytes(snt_emit *e, int tensor);
/* Whether t's rows are run-time (snt_emit_rows gives "n"): descriptors holding it cannot be static. */
bool snt_emit_rows_dyn(const snt_emit *e, int tensor);

/* The number of samples a node processes: "n" in a training step (which may run fewer than
 * the planned batch), else the planned batch as a literal. Cross-sample kernels (batch
 * statistics, reductions over the batch, the loss) use it; per-sample ones use snt_emit_rows. */
const char *snt_emit_batch(snt_emit *e);

/* A typed C expression for a tensor's data: "((float *)(A + 4096))". */
const char *snt_emit_ptr(snt_emit *e, int tensor);
/* Appends a line (indented by two spaces, newline added). */
void snt_emit_line(snt_emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A formatted string that lives as long as the emission. */
const char *snt_format_keep(snt_emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A C literal for an int64 ("123LL") or double ("0x1.8p+1", exact). */
const char *snt_emit_i64(snt_emit *e, int64_t v);
const char *snt_emit_f64(snt_emit *e, double v);
/* A C initializer list "{1, 2, 3}" of n values (n may be 0: "{0}"). */
const char *snt_emit_ints(snt_emit *e, const int64_t *v, int n);
/* The dims of a tensor as an initializer list. */
const char *snt_emit_dims(snt_emit *e, int tensor);
/* An element of tensor t at C index expression idx, read as float (or double for F64). */
const char *snt_emit_load(snt_emit *e, int tensor, const char *idx);
/* Stores C expression v (float/double/integer) into element idx of tensor t, converting. */
const char *snt_emit_store(snt_emit *e, int tensor, const char *idx, const char *v);

typedef struct snt_codegen_opts {
  const char *name;           /* C prefix, an identifier; default: snt_c_ident(graph name) */
  const snt_model_pre *pre;   /* image preprocessing for predict; NULL: none (DSL models) */
  const char *summary;        /* the layer table the executable prints */
  int instances;              /* copies that split the batch between threads; 0 means 1 */
  bool step;                  /* emit <name>_step(m, n, seed, in, out), a training step */
  bool no_weights;            /* the caller always provides the weights (set_weights): none embedded */
  bool bf16;                  /* the model's products in bfloat16 where the CPU can (inference) */
} snt_codegen_opts;

/* Writes <dir>/<name>.c, <name>.h and, when the plan has weights, <name>_weights.bin and
 * <name>_weights.S (an .incbin stub), for a planned graph whose weights are all loaded. */
snt_status snt_codegen(const snt_graph *g, const snt_plan *p, const snt_codegen_opts *o, const char *dir,
                       snt_diag *d);

#endif
