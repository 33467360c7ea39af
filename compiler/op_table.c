/* The op registry: one line per op; each op lives in compiler/ops/<name>.c. */
#include <string.h>

#include "compiler/op.h"

extern const snt_op snt_op_conv2d, snt_op_dense, snt_op_batchnorm, snt_op_relu, snt_op_sigmoid,
    snt_op_tanh, snt_op_softmax, snt_op_maxpool, snt_op_avgpool, snt_op_global_avg_pool,
    snt_op_global_max_pool, snt_op_flatten, snt_op_add, snt_op_pad, snt_op_rescale, snt_op_dropout;

static const snt_op *const ops[] = {
    &snt_op_conv2d,  &snt_op_dense,   &snt_op_batchnorm,       &snt_op_relu,
    &snt_op_sigmoid, &snt_op_tanh,    &snt_op_softmax,         &snt_op_maxpool,
    &snt_op_avgpool, &snt_op_global_avg_pool, &snt_op_global_max_pool, &snt_op_flatten,
    &snt_op_add,     &snt_op_pad,     &snt_op_rescale,         &snt_op_dropout,
};

int snt_op_count(void) { return (int)(sizeof ops / sizeof ops[0]); }
const snt_op *snt_op_at(int i) { return ops[i]; }

const snt_op *snt_op_find(const char *name) {
  for (int i = 0; i < snt_op_count(); i++)
    if (strcmp(ops[i]->name, name) == 0) return ops[i];
  return NULL;
}
