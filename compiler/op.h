/* An op: everything sinter knows about one kind of layer sits in one file under
 * compiler/ops/ and is listed once in op_table.c. */
#ifndef SINTER_COMPILER_OP_H
#define SINTER_COMPILER_OP_H

#include "compiler/ir.h"

/* How a DSL argument becomes a node attribute. */
typedef enum snt_arg_type {
  SNT_ARG_INT,        /* integer -> INT */
  SNT_ARG_FLOAT,      /* number -> FLOAT */
  SNT_ARG_BOOL,       /* true/false -> INT 0/1 */
  SNT_ARG_INT2,       /* n or [h, w] -> INTS [h, w] */
  SNT_ARG_PADDING,    /* same | valid | p | [ph, pw] | [top, left, bottom, right] */
  SNT_ARG_FLOATS,     /* x or [x, ...] -> FLOATS */
  SNT_ARG_SYMBOL      /* one of `symbols` -> STRING */
} snt_arg_type;

typedef struct snt_arg_spec {
  const char *name;
  snt_arg_type type;
  const char *def;              /* the default, as DSL text; NULL when the argument is required */
  const char *const *symbols;   /* SNT_ARG_SYMBOL: the accepted names, NULL-terminated */
} snt_arg_spec;

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
} snt_op;

const snt_op *snt_op_find(const char *name);
int snt_op_count(void);
const snt_op *snt_op_at(int i);

/* Symbol lists shared by several ops. */
extern const char *const snt_activation_symbols[];

/* Shape helpers for infer functions (shape_util.c). */
/* Formats dims[from..rank) as "(a, b, c)". */
void snt_shape_str(char *buf, size_t size, const snt_tensor *t, int from);
/* Resolves a node's `padding` attribute for a window of size k (dilation applied) over
 * in_h x in_w with the node's stride into pads [top, left, bottom, right], as Keras does. */
snt_status snt_resolve_pads(snt_graph *g, snt_node *n, snt_diag *d, const int64_t k[2],
                            const int64_t in[2], int64_t pads[4]);
/* Output size of a window op along one axis; <= 0 when the window does not fit. */
int64_t snt_window_out(int64_t in, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end);
/* Requires the activation input i to have the given rank; names the layer otherwise. */
snt_status snt_expect_rank(snt_graph *g, int node, snt_diag *d, int i, int rank, const char *what);
/* Sets output i to the given shape (dims include the batch). */
void snt_set_shape(snt_graph *g, int node, int i, int rank, const int64_t *dims);

#endif
