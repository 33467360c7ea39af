/* An op: everything sinter knows about one kind of layer sits in one file under
 * compiler/ops/ and is listed once in op_table.c. */
#ifndef SINTER_COMPILER_OP_H
#define SINTER_COMPILER_OP_H

#include "compiler/ir.h"

struct snt_emit;
struct snt_onnx_export;
struct snt_ad;
struct snt_dsl_writer;

/* ---- element types an op computes (issue 9; checked at import by compiler/passes/legalize_types.c) ---- */
#define SNT_TY(t) (1u << (t))
#define SNT_TY_FLOAT16S (SNT_TY(SNT_F16) | SNT_TY(SNT_BF16))
#define SNT_TY_SINTS (SNT_TY(SNT_I8) | SNT_TY(SNT_I16) | SNT_TY(SNT_I32) | SNT_TY(SNT_I64))
#define SNT_TY_UINTS (SNT_TY(SNT_U8) | SNT_TY(SNT_U16) | SNT_TY(SNT_U32) | SNT_TY(SNT_U64))
#define SNT_TY_INTS (SNT_TY_SINTS | SNT_TY_UINTS)
#define SNT_TY_NUMERIC (SNT_TY(SNT_F32) | SNT_TY(SNT_F64) | SNT_TY_FLOAT16S | SNT_TY_INTS)
#define SNT_TY_ALL (SNT_TY_NUMERIC | SNT_TY(SNT_BOOL))
#define SNT_TY_FLOATS (SNT_TY(SNT_F32) | SNT_TY(SNT_F64) | SNT_TY_FLOAT16S)
/* A float32 kernel: FLOAT16 and DOUBLE through Casts, slots bound to T given. */
#define SNT_TYPES_KERNEL(slots) \
  {.t = SNT_TY(SNT_F32), .t_f32 = SNT_TY(SNT_F16) | SNT_TY(SNT_F64), .t_slots = (slots), .note = SNT_NOTE_KERNEL}
/* An emitted loop in float or double: FLOAT16 through Casts, DOUBLE in double precision. */
#define SNT_TYPES_LOOP_F64(slots)                                                           \
  {.t = SNT_TY(SNT_F32) | SNT_TY(SNT_F64), .t_f32 = SNT_TY(SNT_F16), .t_slots = (slots),     \
   .note = "DOUBLE in double precision; FLOAT16 cast to float32 and the result rounded back"}
#define SNT_NOTE_MOVE "moves elements: any element type"
#define SNT_NOTE_KERNEL "float32 kernel: FLOAT16 and DOUBLE are cast to float32 and the result rounded back"
typedef struct snt_op_types {
  uint32_t t;       /* types of T (the schema's main type variable) the emitter computes in */
  uint32_t t_f32;   /* more types of T computed in FLOAT between Casts the importer inserts */
  uint32_t t_slots; /* input slots bound to T, which must agree (bit i = input i); 0: input 0 */
  uint32_t other;   /* types accepted at the other input slots (indices, shapes...); 0: any */
  const char *note; /* for the docs table: how the types are computed ("in float32", ...) */
} snt_op_types;

/* How a DSL argument becomes a node attribute. */
typedef enum snt_arg_type {
  SNT_ARG_INT,        /* integer -> INT */
  SNT_ARG_FLOAT,      /* number -> FLOAT */
  SNT_ARG_BOOL,       /* true/false -> INT 0/1 */
  SNT_ARG_INT2,       /* n or [h, w] -> INTS [h, w] */
  SNT_ARG_PADDING,    /* same | valid | p | [ph, pw] | [top, left, bottom, right] */
  SNT_ARG_FLOATS,     /* x or [x, ...] -> FLOATS */
  SNT_ARG_INTS,       /* n or [n, ...] -> INTS (an empty list too) */
  SNT_ARG_SYMBOL      /* one of `symbols` -> STRING */
} snt_arg_type;

typedef struct snt_arg_spec {
  const char *name;
  snt_arg_type type;
  const char *def;              /* the default, as DSL text; NULL when the argument is required */
  const char *const *symbols;   /* SNT_ARG_SYMBOL: the accepted names, NULL-terminated */
} snt_arg_spec;

/* ONNX validation (compiler/onnx/validate.c), checked on every imported node before the
 * op's onnx_import and infer. An INT or INTS attribute's accepted values. */
typedef struct snt_attr_range {
  const char *name;
  int64_t min, max;
} snt_attr_range;
/* The ONNX schema's arity (opsets 1 to 21). Inputs from min_in on are optional and may be
 * omitted as ""; max_in -1 = variadic, where every input given is required. */
typedef struct snt_onnx_arity {
  int min_in, max_in, min_out, max_out;
} snt_onnx_arity;

typedef struct snt_op {
  const char *name;          /* the DSL and IR name: "conv2d" */
  const char *type_name;     /* the Keras class, shown in summaries: "Conv2D" */
  const char *default_layer; /* Keras's default layer name: "conv2d", "conv2d_1", ... */
  const char *doc;           /* one line for docs and help */
  int min_inputs, max_inputs; /* activation inputs; max -1 = any number */
  const snt_arg_spec *args;   /* attributes in positional order, {0}-terminated */
  /* Declares the parameter tensors of a DSL layer from its input shapes; NULL when none. */
  snt_status (*params)(snt_graph *g, int node, snt_diag *d);
  /* Checks the inputs and attributes and sets the output shapes. */
  snt_status (*infer)(snt_graph *g, int node, snt_diag *d);
  /* Multiply-adds x 2 of one forward pass at batch 1; NULL when not counted. */
  double (*flops)(const snt_graph *g, const snt_node *n);

  /* ONNX: the op_type this op imports from and exports to; NULL when it has none. */
  const char *onnx_type;
  /* Turns the ONNX attributes the importer copied onto the node (ONNX names) into this
   * op's attributes; NULL when the ONNX attributes are already this op's. */
  snt_status (*onnx_import)(snt_graph *g, int node, int opset, snt_diag *d);
  /* The newest ONNX version (18 to 21) of the op whose meaning the record follows; 0: the
   * versions up to opset 17 only. Newer versions are refused (compiler/onnx/versions.c). */
  int onnx_upto;
  /* The parameter role of each ONNX input slot ("kernel", "gamma", ...; NULL for data). */
  const char *const *onnx_roles;
  /* ONNX input slots whose values must be known at compile time (bit i = input i):
   * they determine shapes (a Reshape's shape, Resize's scales, axes, pads). */
  unsigned onnx_const_inputs;
  /* Activation input slots (below max_inputs) whose FLOAT or DOUBLE initializers are the
   * layer's weights (Gemm's B and C, MatMul's B): parameters, counted by `summary`. */
  unsigned onnx_weight_inputs;
  /* Writes the node as standard ONNX nodes (compiler/onnx/export.h); NULL: no ONNX form. */
  snt_status (*onnx_export)(struct snt_onnx_export *x, const snt_graph *g, int node);
  /* sinter import (compiler/onnx/to_dsl.h): writes the imported node as DSL text, or returns
   * snt_dsl_unsupported naming why this node cannot be. NULL: the op has no DSL form, and
   * no_dsl is the reason the importer reports. */
  snt_status (*to_dsl)(struct snt_dsl_writer *w, int node);
  const char *no_dsl;
  /* Writes the C code that computes the node. */
  snt_status (*emit)(struct snt_emit *e, int node);
  /* A C expression of type const char * naming the kernel the node runs with (evaluated at run
   * time with the model in `m`, for `EXE bench --profile`); NULL: the op's name. */
  const char *(*kernel_name)(struct snt_emit *e, int node);
  /* Constant folding (compiler/passes/fold_constants.c): computes the node's single output
   * into y (zeroed, sized for it) from inputs known at compile time, exactly as the emitted
   * code would. SNT_ERR_INPUT: leave it to run time. NULL: the op is never folded. */
  snt_status (*fold)(snt_graph *g, const snt_node *n, void *y);
  /* The op reads only its input's static shape, never its values (Shape): it folds whether
   * or not the input is known. */
  bool reads_shape_only;
  /* Bytes of kernel scratch the node needs; NULL when none. */
  size_t (*scratch)(const snt_graph *g, const snt_node *n);
  /* The output may share the input's buffer (elementwise ops). */
  bool inplace;
  /* Issue 10: may the node run on the first n samples only? Called (inference) when an input
   * carries the batch; rows[t] says tensor t's dim 0 is the batch with samples kept apart, and
   * every output's dim 0 is the batch. True when each output row depends on the same row of
   * the inputs only and emit loops over the run-time count (snt_emit_rows). NULL: not known,
   * and a model using the op on batched data runs its whole compiled batch every time. */
  bool (*batch_rows)(const snt_graph *g, const snt_node *n, const bool *rows);

  /* Training (compiler/autodiff.h). Rewrites the node for training mode (BatchNorm's batch
   * statistics, active dropout); NULL when it computes the same in training. */
  snt_status (*train)(struct snt_ad *ad, int node);
  /* Adds the backward nodes of the node from the gradients of its outputs; NULL when the op has
   * no gradient rule yet (training a model that needs one is an error naming the layer). */
  snt_status (*grad)(struct snt_ad *ad, int node);

  /* ONNX validation (compiler/onnx/validate.c); every op with an onnx_type sets the arity. */
  snt_onnx_arity onnx_arity;
  const snt_attr_range *onnx_ranges; /* {0}-terminated; NULL when none */
  /* Element types of ONNX inputs (issue 9): anything else is refused at import. */
  snt_op_types types;

  /* Why the op lacks a rule every op is expected to have (tests/unit/test_ops.c checks each
   * registered op has the rule or the reason, never both). */
  const char *no_onnx;   /* no onnx_type: no ONNX op imports to it */
  const char *no_export; /* no onnx_export: it is not written as ONNX */
  const char *no_types;  /* types.t is 0: no ONNX element types are checked for it */
} snt_op;

/* The reason of the ops sinter export-onnx cannot write yet. */
#define SNT_NO_EXPORT_YET "no ONNX export rule yet: sinter export-onnx refuses a model that uses it"

const snt_op *snt_op_find(const char *name);
int snt_op_count(void);
const snt_op *snt_op_at(int i);

/* The records passes and rules match nodes by (n->op == &snt_op_conv2d, never by name); each is
 * defined in its file under compiler/ops/. */
extern const snt_op snt_op_conv2d, snt_op_dense, snt_op_batchnorm, snt_op_relu, snt_op_sigmoid, snt_op_tanh, snt_op_clip,
    snt_op_softmax, snt_op_add, snt_op_sub, snt_op_mul, snt_op_div, snt_op_pad, snt_op_rescale, snt_op_dropout,
    snt_op_identity, snt_op_concat, snt_op_cast, snt_op_flatten, snt_op_global_avg_pool, snt_op_global_max_pool,
    snt_op_hard_sigmoid, snt_op_hard_swish, snt_op_mish, snt_op_hann_window, snt_op_hamming_window, snt_op_maxpool,
    snt_op_avgpool, snt_op_pow, snt_op_reshape, snt_op_squeeze, snt_op_unsqueeze, snt_op_lrn;

/* Made by passes only, never parsed or imported (so not in op_table.c). */
extern const snt_op snt_op_conv_expand_dw, snt_op_channel_scale;
extern const snt_op snt_op_sum; /* broadcasting Add of computed tensors */

/* Symbol lists shared by several ops. */
extern const char *const snt_activation_symbols[];

/* Shape helpers for infer functions (shape_util.c). */
/* Formats dims[from..rank) as "(a, b, c)". */
void snt_shape_str(char *buf, size_t size, const snt_tensor *t, int from);
/* Requires the activation input i to have the given rank; names the layer otherwise. */
snt_status snt_expect_rank(snt_graph *g, int node, snt_diag *d, int i, int rank, const char *what);
/* Sets output i to the given shape (dims include the batch); the type stays. */
void snt_set_shape(snt_graph *g, int node, int i, int rank, const int64_t *dims);
/* Sets output i's type and shape. */
void snt_set_output(snt_graph *g, int node, int i, snt_dtype dtype, int rank, const int64_t *dims);
/* Numpy broadcasting of the shapes of tensors ins[0..n); error names both shapes. */
snt_status snt_broadcast_shape(snt_graph *g, int node, snt_diag *d, const int *ins, int n, int *rank, int64_t *dims);
/* Input i of a node, or NULL when it is absent (past the end, or an omitted ONNX input). */
static inline snt_tensor *snt_in_opt(snt_graph *g, const snt_node *n, int i) {
  return i < n->n_in && n->in[i] >= 0 ? &g->tensors[n->in[i]] : NULL;
}

/* Size caps and checked arithmetic (shape_util.c); docs/onnx.md "Validation and limits". */
#define SNT_MAX_ELEMENTS ((int64_t)1 << 32) /* elements of one tensor */
#define SNT_MAX_ATTR (INT64_C(1) << 24)     /* strides, kernels, dilations, pads (the DSL's dim cap) */
static inline bool snt_mul_ok(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool snt_add_ok(int64_t a, int64_t b, int64_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool snt_size_add_ok(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }
/* The element count of dims[0..rank): false when a dim is negative or the product overflows. */
bool snt_dims_numel(int rank, const int64_t *dims, int64_t *out);
/* Why a tensor's shape is refused (a negative dim, a count past int64 or SNT_MAX_ELEMENTS),
 * or NULL when it is within the caps. */
const char *snt_size_problem(const snt_tensor *t);
/* Checks the tensors a node reads and writes with snt_size_problem; the error names the
 * layer, the op, the tensor and its shape. */
snt_status snt_check_node_sizes(snt_graph *g, int node, snt_diag *d);
/* The default memory cap: the machine's physical memory (sysconf), else 2^62. */
uint64_t snt_default_max_memory(void);

#endif
