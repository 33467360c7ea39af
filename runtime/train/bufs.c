/* The buffers a training step reads and writes, shared by train and gradients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/driver/driver.h"
#include "runtime/train/train_int.h"

int snt_tr_bufs_init(snt_tr_bufs *b, const snt_model_info *sm) {
  memset(b, 0, sizeof *b);
  b->x = calloc(1, snt_rt_io_bytes(&sm->inputs[0]));
  b->labels = calloc(1, snt_rt_io_bytes(&sm->inputs[1]));
  b->w = calloc(1, snt_rt_io_bytes(&sm->inputs[2]));
  b->out = calloc((size_t)sm->n_outputs + 1, sizeof *b->out);
  int ok = b->x && b->labels && b->w && b->out;
  if (ok) b->n_out = sm->n_outputs;
  for (int i = 0; ok && i < sm->n_outputs; i++) ok = (b->out[i] = calloc(1, snt_rt_io_bytes(&sm->outputs[i]) + 4)) != NULL;
  if (ok) return 0;
  size_t total = snt_rt_io_bytes(&sm->inputs[0]) + snt_rt_io_bytes(&sm->inputs[1]) + snt_rt_io_bytes(&sm->inputs[2]);
  for (int i = 0; i < sm->n_outputs; i++) total += snt_rt_io_bytes(&sm->outputs[i]) + 4;
  fprintf(stderr, "%s: out of memory: cannot allocate %zu bytes for the training step's inputs and outputs (batch %lld)\n",
          sm->name, total, (long long)sm->batch);
  snt_tr_bufs_free(b);
  return SNT_EXIT_INTERNAL;
}

void snt_tr_bufs_free(snt_tr_bufs *b) {
  free(b->x), free(b->labels), free(b->w);
  for (int i = 0; i < b->n_out; i++) free(b->out[i]);
  free(b->out);
  memset(b, 0, sizeof *b);
}
