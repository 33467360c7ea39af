/* The op registry: one line per op; each op lives in compiler/ops/<name>.c. */
#include <string.h>

#include "compiler/op.h"

#define OPS(X)                                                                                       \
  X(conv2d) X(dense) X(batchnorm) X(relu) X(sigmoid) X(tanh) X(softmax) X(maxpool) X(avgpool)         \
  X(global_avg_pool) X(global_max_pool) X(flatten) X(add) X(pad) X(rescale) X(dropout)              \
  X(abs) X(neg) X(exp) X(log) X(sqrt) X(erf) X(identity) X(leaky_relu) X(cast) X(clip)                \
  X(sub) X(mul) X(div) X(pow) X(sum) X(maximum) X(minimum) X(reshape) X(squeeze) X(unsqueeze)       \
  X(tensor_shape) X(transpose) X(concat) X(gather) X(log_softmax) X(reduce_mean) X(reduce_sum) \
  X(gemm) X(matmul) X(resize) X(conv_transpose) X(mod)                                             \
  X(instance_norm) X(mvn) X(layer_norm) X(lrn) X(upsample)                                          \
  X(hard_sigmoid) X(hard_swish) X(selu) X(elu) X(thresholded_relu) X(prelu) X(mean) X(ceil) X(floor) X(round) X(sign) X(reciprocal) X(sin) X(cos) X(tan) X(asin) X(acos) X(atan) X(sinh) X(cosh) X(asinh) X(acosh) X(atanh) X(softplus) X(softsign) X(isnan) X(isinf) X(logical_not) X(equal) X(less) X(greater) X(less_equal) X(greater_equal) X(logical_and) X(logical_or) X(logical_xor) X(where) \
  X(slice) X(split) X(reduce_max) X(reduce_min) X(reduce_prod) X(reduce_l1) X(reduce_l2) X(reduce_log_sum) X(reduce_log_sum_exp) X(reduce_sum_square) X(argmax) X(argmin) X(top_k) X(gather_elements) X(expand) X(tile) X(constant_of_shape) X(range) X(size) \
  X(depth_to_space) X(space_to_depth) X(celu) X(shrink) X(hardmax) X(cast_like) X(trilu) X(eye_like) X(mish) X(gelu) X(group_norm) \
  X(max_unpool) X(gather_nd) X(scatter_elements) X(scatter) X(scatter_nd) X(cumsum) X(one_hot) X(nll_loss) X(softmax_ce_loss) X(grid_sample) X(bit_shift) X(bitwise_and) X(bitwise_or) X(bitwise_xor) X(bitwise_not) X(quantize_linear) X(dequantize_linear) X(dynamic_quantize_linear) X(conv_integer) X(qlinear_conv) X(matmul_integer) X(qlinear_matmul) X(affine_grid) X(reverse_sequence) X(det) X(roi_align) X(deform_conv) X(einsum) X(hann_window) X(hamming_window) X(blackman_window) X(center_crop_pad) X(col2im) X(lp_pool) X(compress)

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
