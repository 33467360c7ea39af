/* Private to runtime/kernels/: convolution backward paths beside conv_grad.c's column ones. */
#ifndef SINTER_RUNTIME_KERNELS_CONV_GRAD_H
#define SINTER_RUNTIME_KERNELS_CONV_GRAD_H

#include "gemm_core.h"
#include "kernels_util.h"
#include "sinter/kernels_train.h"

/* Whether d's data gradient is a forward convolution of dy with the weights flipped in space
 * and transposed (conv_grad_flip.c: stride 1, pads within a tap's reach, one group, maps up to
 * 28x28 or a flipped conv on the direct AVX-512 path: where it was measured to win) on isa
 * (AVX-512 takes a superset of the others' cases); the floats of scratch it needs (the flipped
 * weights); and dx itself, the flipped weights built in scratch. */
int snt_k_conv_grad_flip_applies(const snt_k_conv_desc *d, const snt_k_conv3 *g, snt_k_isa isa, int training);
size_t snt_k_conv_grad_flip_floats(const snt_k_conv3 *g);
snt_status snt_k_conv_backward_data_flip(snt_k_ctx *ctx, const snt_k_conv_desc *d, const snt_k_conv3 *g,
                                         const float *dy, const float *w, float *dx, float *scratch);

/* Whether the filter gradient of g is summed on the padded grid with B packed from the padded
 * image (conv_grad_filter.c: stride 1, 1-2 spatial dims, more than 512 output positions); the
 * floats of scratch it needs; and dw itself (overwritten, summed over g->batch images). */
int snt_k_conv_grad_implicit_applies(const snt_k_conv3 *g);
size_t snt_k_conv_grad_implicit_floats(const snt_k_conv3 *g);
snt_status snt_k_conv_backward_filter_implicit(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *dy,
                                               float *dw, float *scratch);

/* Whether the filter gradient of g can be summed directly in registers (conv_grad_direct.c, an
 * AVX-512 path: one group, at most 288 of cin x taps, more than 512 output positions, any
 * stride); the floats of scratch it needs; and dw itself (overwritten, summed over g->batch
 * images; only on a context whose ISA is AVX-512). */
int snt_k_conv_grad_direct_applies(const snt_k_conv3 *g);
size_t snt_k_conv_grad_direct_floats(const snt_k_conv3 *g);
snt_status snt_k_conv_backward_filter_direct(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *dy,
                                             float *dw, float *scratch);

#endif
