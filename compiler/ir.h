/* The IR: a graph of tensors and nodes. Activations carry the batch as dim 0.
 * The graph owns every name, attribute and tensor it holds. */
#ifndef SINTER_COMPILER_IR_H
#define SINTER_COMPILER_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler/recipe.h"
#include "sinter/diag.h"
#include "sinter/dtype.h"

typedef enum snt_tensor_kind {
  SNT_T_INPUT,  /* fed by the user at run time */
  SNT_T_PARAM,  /* a weight of a layer (trainable or a statistic) */
  SNT_T_ACT,    /* produced by a node */
  SNT_T_CONST   /* a value fixed at compile time (shapes, axes, constant nodes) */
} snt_tensor_kind;

typedef struct snt_tensor {
  char *name;
  snt_dtype dtype;
  snt_tensor_kind kind;
  int rank;
  int64_t dims[SNT_MAX_RANK];
  bool trainable;   /* params: learned by the optimizer (BN moving statistics never are) */
  const char *role; /* params: "kernel", "bias", "gamma", "beta", "moving_mean", ... */
  int producer;     /* node index for activations, -1 otherwise */
  int owner;        /* params: the node (layer) the weight belongs to */
  void *data;       /* CONST: always; PARAM: the loaded weights, or NULL (owned) */
  bool batched;     /* inputs: dim 0 is the batch (DSL inputs, symbolic ONNX dims) */
  bool fixed;       /* inputs: the value given when compiling is compiled in (a chain from it
                     * determines a shape, compiler/onnx/import.c), so its readers fold */
} snt_tensor;

typedef enum snt_attr_kind { SNT_ATTR_INT, SNT_ATTR_FLOAT, SNT_ATTR_INTS, SNT_ATTR_FLOATS, SNT_ATTR_STRING } snt_attr_kind;

typedef struct snt_attr {
  char *name;
  snt_attr_kind kind;
  int n;
  int64_t *ints;  /* INT (n = 1) and INTS */
  double *floats; /* FLOAT (n = 1) and FLOATS */
  char *str;
} snt_attr;

struct snt_op;

typedef struct snt_node {
  const struct snt_op *op;
  char *name;   /* the layer name (Keras names for DSL models) */
  snt_loc loc;  /* the call in the .nn source, line 0 when there is none */
  int *in;      /* activation inputs first, then parameters */
  int n_in, n_act_in, cap_in;
  int *out;
  int n_out, cap_out;
  snt_attr *attrs;
  int n_attrs, cap_attrs;
  bool frozen; /* excluded from training: its params are not trainable */
} snt_node;

typedef struct snt_graph {
  char *name;
  const snt_source *src; /* where node locations point, may be NULL */
  int64_t batch;         /* dim 0 of every activation */
  snt_tensor *tensors;
  int n_tensors, cap_tensors;
  snt_node *nodes;
  int n_nodes, cap_nodes;
  int *inputs, n_inputs, cap_inputs;
  int *outputs, n_outputs, cap_outputs;
  char **labels;
  int n_labels, cap_labels;
  snt_recipe recipe;
  uint64_t max_memory; /* bytes the planned model may use (arena, weights, scratch); 0: physical memory */
} snt_graph;

snt_graph *snt_ir_create(const char *name);
void snt_ir_destroy(snt_graph *g);

/* Adds a tensor; returns its index or -1 when out of memory. */
int snt_ir_add_tensor(snt_graph *g, const char *name, snt_tensor_kind kind, snt_dtype dtype, int rank,
                      const int64_t *dims);
/* Adds a node of op `op` named `name`; returns its index or -1. */
int snt_ir_add_node(snt_graph *g, const struct snt_op *op, const char *name, snt_loc loc);
snt_status snt_ir_node_add_input(snt_graph *g, int node, int tensor);
/* Creates the activation output of a node (shape set later by inference). */
int snt_ir_node_add_output(snt_graph *g, int node, const char *name);
/* Declares a parameter `<layer>/<role>` of node with the given shape, appended to its inputs. */
int snt_ir_add_param(snt_graph *g, int node, const char *role, int rank, const int64_t *dims, bool trainable);
snt_status snt_ir_add_label(snt_graph *g, const char *label);
snt_status snt_ir_mark_input(snt_graph *g, int tensor);
snt_status snt_ir_mark_output(snt_graph *g, int tensor);

int64_t snt_tensor_numel(const snt_tensor *t);
/* A value fixed when compiling: a constant, or an initializer nobody trains (t < 0: false). */
bool snt_fixed(const snt_graph *g, int t);
/* The one value of fixed FLOAT or DOUBLE tensor t, into *v; false for anything else. */
bool snt_fixed_scalar(const snt_graph *g, int t, double *v);
/* The parameter of a node with a role ("kernel", "gamma", ...): its tensor index, or -1. */
int snt_node_param(const snt_graph *g, const snt_node *n, const char *role);
/* Whether tensor t is one of the graph's outputs. */
bool snt_ir_is_output(const snt_graph *g, int t);
/* Index of the node named `name`, or -1. */
int snt_ir_find_node(const snt_graph *g, const char *name);

/* Attributes (replacing an attribute of the same name). */
snt_status snt_node_set_int(snt_node *n, const char *name, int64_t v);
snt_status snt_node_set_float(snt_node *n, const char *name, double v);
snt_status snt_node_set_ints(snt_node *n, const char *name, int count, const int64_t *v);
snt_status snt_node_set_floats(snt_node *n, const char *name, int count, const double *v);
snt_status snt_node_set_string(snt_node *n, const char *name, const char *v);
const snt_attr *snt_node_attr(const snt_node *n, const char *name);
int64_t snt_node_int(const snt_node *n, const char *name, int64_t def);
double snt_node_float(const snt_node *n, const char *name, double def);
const char *snt_node_string(const snt_node *n, const char *name, const char *def);
/* The INTS attribute `name` (count in *n), or NULL. */
const int64_t *snt_node_ints(const snt_node *n, const char *name, int *count);
const double *snt_node_floats(const snt_node *n, const char *name, int *count);

/* Shorthands for the tensors a node reads and writes. */
static inline snt_tensor *snt_in(snt_graph *g, const snt_node *n, int i) { return &g->tensors[n->in[i]]; }
static inline snt_tensor *snt_out(snt_graph *g, const snt_node *n, int i) { return &g->tensors[n->out[i]]; }

/* Reports an error about a node: at its source location when it has one, else naming it. */
snt_status snt_node_error(const snt_graph *g, const snt_node *n, snt_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Counts the parameters as Keras does: trainable ones belong to unfrozen layers. */
typedef struct snt_param_counts {
  int64_t total, trainable, non_trainable;
} snt_param_counts;
snt_param_counts snt_ir_count_params(const snt_graph *g);

#endif
