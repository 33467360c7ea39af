/* Issue 10: which tensors of an inference model may run on the first n samples of its batch. */
#ifndef SINTER_COMPILER_CODEGEN_BATCH_H
#define SINTER_COMPILER_CODEGEN_BATCH_H

#include <stdbool.h>

#include "compiler/ir.h"
#include "compiler/plan.h"

typedef struct snt_batch_scan {
  bool *rows;        /* per tensor: dim 0 is the batch and its samples stay apart (owned) */
  bool scalable;     /* every node on batched data keeps samples apart: run_n costs n samples */
  int blocker;       /* the first node that does not (-1 when scalable) */
} snt_batch_scan;

/* Walks the planned order from the batched inputs, asking each op's batch_rows. A batch of 1
 * is scalable whatever the ops. SNT_ERR_NOMEM when out of memory. */
snt_status snt_batch_scan_run(const snt_graph *g, const snt_plan *p, snt_batch_scan *s);
void snt_batch_scan_free(snt_batch_scan *s);
/* A line for summaries: "batch: runs n samples at the cost of n" or why it runs the whole
 * batch, naming the node (a new string, NULL when out of memory). */
char *snt_batch_scan_note(const snt_graph *g, const snt_batch_scan *s);

#endif
