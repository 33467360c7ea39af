/* BF16 GEMM (private to runtime/kernels/): see gemm_bf16.c. */
#ifndef SINTER_RUNTIME_KERNELS_GEMM_BF16_H
#define SINTER_RUNTIME_KERNELS_GEMM_BF16_H

#include "gemm_core.h"

/* Rounded, packed constant operands and per-thread buffers; one per kernel context. */
typedef struct snt_k_bf16_cache snt_k_bf16_cache;
snt_k_bf16_cache *snt_k_bf16_cache_create(void);
void snt_k_bf16_cache_destroy(snt_k_bf16_cache *c);

/* f rounded to bfloat16 (nearest even) and back: what the BF16 GEMM multiplies. */
float snt_k_bf16_round(float f);

/* The call with A (plain, a constant: cached by address) and B rounded to bfloat16, sums in
 * float32, on ctx's threads. The caller checks snt_k_bf16_available(). SNT_ERR_INPUT for a call
 * it does not take (packed_a, empty sizes), SNT_ERR_NOMEM. */
/* ctx's cache when ctx runs BF16 on this CPU, else NULL (ctx.c). */
snt_k_bf16_cache *snt_k_ctx_bf16(snt_k_ctx *ctx);

snt_status snt_k_gemm_run_bf16(snt_k_ctx *ctx, snt_k_bf16_cache *cache, const snt_k_gemm_call *g);

#endif
