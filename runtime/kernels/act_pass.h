/* The activation pass: an activation applied to stored float32 outputs, vectorised per ISA
 * (private to runtime/kernels/). The exp-based ones (sigmoid, tanh, silu, mish, exp) and the hard
 * ones do not fit the AVX2 and C microkernels' stores, so those paths run this pass over a
 * finished tile while it is in L1; standalone activation nodes run it through
 * snt_k_activation; the AVX-512 stores compute them in registers (act_avx512.h). Every path
 * computes the same formulas (Cephes' expf and tanhf, exp's argument clamped where its result
 * is 0 or infinite in float), so results agree to a few ulp whatever the ISA. */
#ifndef SINTER_RUNTIME_KERNELS_ACT_PASS_H
#define SINTER_RUNTIME_KERNELS_ACT_PASS_H

#include "gemm_core.h"

/* Whether act needs a pass of its own (the stores do relu, leaky relu and clip). */
static inline int snt_k_act_needs_pass(const snt_k_act *act) {
  return act->kind == SNT_K_ACT_SIGMOID || act->kind == SNT_K_ACT_TANH || act->kind == SNT_K_ACT_SILU ||
         act->kind == SNT_K_ACT_HARD_SIGMOID || act->kind == SNT_K_ACT_HARD_SWISH || act->kind == SNT_K_ACT_EXP ||
         act->kind == SNT_K_ACT_MISH || act->kind == SNT_K_ACT_ERF || act->kind == SNT_K_ACT_GELU;
}

/* y[i] = act(x[i]) for i < n; y may equal x. Any kind (the cheap ones too). */
void snt_k_act_pass(snt_k_isa isa, const snt_k_act *act, const float *x, float *y, int64_t n);
void snt_k_act_pass_avx512(const snt_k_act *act, const float *x, float *y, int64_t n);
void snt_k_act_pass_avx2(const snt_k_act *act, const float *x, float *y, int64_t n);
void snt_k_act_pass_c(const snt_k_act *act, const float *x, float *y, int64_t n);

#endif
