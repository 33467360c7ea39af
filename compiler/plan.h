/* The static plan: a schedule of the nodes and a fixed place for every tensor.
 * Activations share one arena by liveness; weights and constants sit in one blob. */
#ifndef SINTER_COMPILER_PLAN_H
#define SINTER_COMPILER_PLAN_H

#include "compiler/ir.h"

typedef enum snt_place_kind {
  SNT_PLACE_NONE,   /* not used by any scheduled node */
  SNT_PLACE_INPUT,  /* the caller's input buffer `index` */
  SNT_PLACE_OUTPUT, /* the caller's output buffer `index` */
  SNT_PLACE_ARENA,  /* the activation arena at `offset` */
  SNT_PLACE_WEIGHTS /* the weights blob at `offset` */
} snt_place_kind;

typedef struct snt_place {
  snt_place_kind kind;
  int index;
  size_t offset;
  int alias_of; /* tensor whose buffer this one shares (in place, or inside its concat), or -1;
                   offset is then within the root's bytes */
} snt_place;

typedef struct snt_plan {
  int *order;          /* node indices in execution order */
  int n_order;
  snt_place *places;   /* one per tensor of the graph */
  size_t arena_bytes;  /* activations, 64-byte aligned */
  size_t weights_bytes;
  size_t scratch_bytes; /* the largest scratch any node asks for */
} snt_plan;

/* Plans a graph whose shapes are all known. */
snt_status snt_plan_build(const snt_graph *g, snt_diag *d, snt_plan *out);
void snt_plan_free(snt_plan *p);

/* The bytes a tensor occupies. */
size_t snt_tensor_bytes(const snt_tensor *t);

#endif
