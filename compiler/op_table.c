/* The op registry: one line per op; each op lives in compiler/ops/<name>.c. */
#include <string.h>

#include "compiler/op.h"

#define OPS(X)                                                                                       \
  X(conv2d) X(dense) X(batchnorm) X(relu) X(sigmoid) X(tanh) X(softmax) X(maxpool) X(avgpool)         \
  X(global_avg_pool) X(global_max_pool) X(flatten) X(add) X(pad) X(rescale) X(dropout)              \
  X(abs) X(neg) X(exp) X(log) X(sqrt) X(erf) X(identity) X(leaky_relu) X(cast) X(clip)                \
  X(sub) X(mul) X(div) X(pow) X(sum) X(maximum) X(minimum) X(reshape) X(squeeze) X(unsqueeze)       \
  X(tensor_shape) X(transpose) X(concat) X(gather) X(log_softmax) X(reduce_mean) X(reduce_sum) \
  X(gemm) X(matmul) X(resize) X(conv_transpose) X(mod) \
  X(instance_norm) X(mvn) X(layer_norm) X(lrn) X(upsample)

#define DECLARE(id) extern const snt_op snt_op_##id;
OPS(DECLARE)
#define ENTRY(id) &snt_op_##id,
static const snt_op *const ops[] = {OPS(ENTRY)};

int snt_op_count(void) { return (int)(sizeof ops / sizeof ops[0]); }
const snt_op *snt_op_at(int i) { return ops[i]; }

const snt_op *snt_op_find(const char *name) {
  for (int i = 0; i < snt_op_count(); i++)
    if (strcmp(ops[i]->name, name) == 0) return ops[i];
  return NULL;
}
