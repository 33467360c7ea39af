/* sinter's own single-precision GEMM (private to runtime/kernels/): packed panels, a
 * register-blocked microkernel chosen at run time by CPU features, work split over the
 * context's threads, and the epilogue (bias, residual, activation) applied in the
 * microkernel's store. Convolution feeds it through a B-panel packer (implicit im2col).
 *
 * Packed layouts (both zero-padded to whole strips, so microkernels never branch on edges):
 *   A block (mc x kc at rows m0.., depth k0..): strips of MR rows; strip s holds kc columns of MR
 *     floats: dst[(s * kc + kk) * MR + ii] = A[m0 + s * MR + ii][k0 + kk]  (0 past m).
 *   B block (kc x nc at depth k0.., columns n0..): strips of NR columns; strip s holds kc rows of
 *     NR floats: dst[(s * kc + kk) * NR + jj] = B[k0 + kk][n0 + s * NR + jj]  (0 past n). */
#ifndef SINTER_RUNTIME_KERNELS_GEMM_CORE_H
#define SINTER_RUNTIME_KERNELS_GEMM_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "sinter/kernels.h"

/* The instruction set a kernel runs with; SINTER_ISA=avx512|avx2|c forces a lower one (for
 * tests and comparisons); asking for more than the CPU has gives what it has. */
typedef enum snt_k_isa { SNT_K_ISA_C, SNT_K_ISA_AVX2, SNT_K_ISA_AVX512 } snt_k_isa;
snt_k_isa snt_k_isa_detect(void); /* CPU features, capped by SINTER_ISA */
const char *snt_k_isa_name(snt_k_isa isa);

/* The microkernel geometry of an ISA: MR x NR register tile, and cache blocking (kc is the
 * largest k-block; snt_k_gemm_kc gives the one used for a given k). AVX-512: 14 x 32,
 * AVX2: 6 x 16, C: 4 x 16. */
typedef struct snt_k_gemm_shape {
  int mr, nr;
  int64_t mc, kc, nc;
} snt_k_gemm_shape;
snt_k_gemm_shape snt_k_gemm_shape_of(snt_k_isa isa);

/* Writes a packed B block as described above; nr is the strip width of the ISA in use. The
 * driver calls it from every thread of the team at once (on disjoint dst), for blocks of at
 * most shape.kc x shape.nc, so it must only read src. */
typedef void (*snt_k_pack_b_fn)(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr,
                                float *dst);

/* The fused epilogue: C = act(alpha * A*B + beta_c + row_bias[i] + col_bias[j] + residual[i][j]),
 * where beta_c is C's previous value when accumulate is set (else 0). Each pointer may be NULL. */
typedef struct snt_k_epilogue_desc {
  float alpha;             /* 1 for convolution */
  int accumulate;          /* C += instead of C = */
  const float *row_bias;   /* [m]: conv bias, folded BatchNorm shift */
  const float *col_bias;   /* [n]: Gemm's bias vector */
  const float *residual;   /* [m][ldr], not aliasing C */
  int64_t ldr;
  snt_k_act act;
  /* A second output (NULL: none), written after C: tap[i][j] (row stride ldt, aliasing
   * nothing) = C[i][j] * tap_scale[i] + tap_shift[i], then ReLU when tap_relu is set. */
  float *tap;
  int64_t ldt;
  const float *tap_scale, *tap_shift;
  int tap_relu;
  /* Or the same tap rounded to bfloat16 (as vcvtneps2bf16 rounds: the BF16 GEMM's rounding of
   * its B), tap16[i][j] with the same ldt; only where the CPU has AVX512_BF16, never with tap.
   * The next 1x1 layer reads it in place as its B (b16), at half the bytes. */
  uint16_t *tap16;
  /* A hint: C (and the tap) are far larger than the caches and read again only by later layers,
   * so whole tiles go out with streaming stores (no read for ownership, no prefetch of C). */
  int stream;
} snt_k_epilogue_desc;

/* One GEMM: C[m][n] (row stride ldc) = epilogue(A[m][k] * B[k][n]).
 * A: a (row-major, lda; trans_a: a is [k][m]) or packed_a (the whole matrix packed by
 *    snt_k_gemm_pack_a for the same ISA, e.g. weights packed once at load).
 * B: pack_b(pack_b_src, ...) when set, else b (row-major, ldb; trans_b: b is [n][k]). */
typedef struct snt_k_gemm_call {
  int64_t m, n, k;
  const float *a, *packed_a;
  int64_t lda;
  int trans_a;
  const float *b;
  int64_t ldb;
  int trans_b;
  snt_k_pack_b_fn pack_b;
  const void *pack_b_src;
  float *c;
  int64_t ldc;
  snt_k_epilogue_desc epi;
  int a_constant; /* a holds weights that never change: a BF16 context may round and cache it */
  /* Column blocks (BF16 GEMM only; 0: none): the n columns are blocks of col_block, side by side
   * in the product but col_stride floats apart in C, the residual and the tap (and b_stride in a
   * plain B): a convolution's images in one product, so that a small map fills whole strips. */
  int64_t col_block, col_stride, b_stride;
  /* Channel pairs (BF16 GEMM only; 0: off): a convolution whose image was rounded once into
   * bf16 pairs of channels (snt_k_conv_pad_pairs). pack_b writes B's k / 2 pair rows as 32-bit
   * words, and pair row p is (channel pair p / pair_taps, tap p % pair_taps): A ([m][channels x
   * taps], lda) is taken in that order, a channel past pair_channels as zero. */
  int64_t pair_taps, pair_channels;
  /* B is b16 (BF16 GEMM only, NULL: b): bfloat16 values, untransposed, ldb and b_stride in
   * elements, as a tap16 wrote them; the GEMM's own rounding then has nothing left to do. */
  const uint16_t *b16;
} snt_k_gemm_call;

/* snt_k_tap_run's values rounded to bfloat16 (bf16_avx512.h), for a tap16; and n floats
 * rounded so (AVX-512F: only where the CPU has AVX512_BF16, as every tap16). */
void snt_k_tap_run16(const float *y, uint16_t *out, int64_t n, float s, float b, int relu);
void snt_k_bf16_round_run(const float *src, uint16_t *dst, int64_t n);

/* Runs the GEMM on ctx's threads (ctx NULL: one thread) with ctx's ISA; the packing buffers
 * come from ctx (or a local allocation when ctx is NULL): SNT_ERR_NOMEM when they cannot. */
snt_status snt_k_gemm_run(snt_k_ctx *ctx, const snt_k_gemm_call *call);

/* The blocked GEMM on the calling thread alone, its packing buffer `buf` given (at least
 * snt_k_gemm_local_floats floats, 64-byte aligned): for kernels that split their own work over
 * the team and run a small product per part. No column blocks, no BF16. */
size_t snt_k_gemm_local_floats(snt_k_isa isa, const snt_k_gemm_call *g);
snt_status snt_k_gemm_local(snt_k_isa isa, const snt_k_gemm_call *g, float *buf);

/* The depth of the k-blocks for isa and k: blocks start at 0, kc, 2 kc, ... (the last may be
 * shorter). It depends on nothing else, so every C element is summed in the same order
 * whatever the thread count or the split of the work. */
int64_t snt_k_gemm_kc(snt_k_isa isa, int64_t k);

/* Bytes of A packed whole for isa, and the packing itself (a row-major [m][k], lda; trans_a: a
 * is [k][m]). Layout, with MR = shape.mr, mp = m rounded up to MR, kc = snt_k_gemm_kc(isa, k):
 * k-block p (depth k0 = p * kc, kcb = min(kc, k - k0) columns) starts at float k0 * mp and holds
 * the mp / MR strips of the A block layout above, each kcb * MR floats:
 *   dst[k0 * mp + (s * kcb + kk) * MR + ii] = A[s * MR + ii][k0 + kk]  (0 for rows past m).
 * So the rows [i0, i0 + mc) of a k-block (i0 a multiple of MR) are one contiguous A block. */
size_t snt_k_gemm_packed_a_bytes(snt_k_isa isa, int64_t m, int64_t k);
void snt_k_gemm_pack_a(snt_k_isa isa, const float *a, int64_t lda, int trans_a, int64_t m, int64_t k, float *dst);

/* The context's ISA (detected once at create); and its thread team: fn(arg, t, threads) runs
 * once on each of `threads` threads (t = 0 on the caller) and returns when all are done. */
snt_k_isa snt_k_ctx_isa(const snt_k_ctx *ctx);
int snt_k_ctx_training(const snt_k_ctx *ctx); /* snt_k_ctx_set_training's flag (0 for NULL) */
/* snt_k_ctx_set_shard's sum over the ranks (0: done, or no sum set), and whether one is set. */
int snt_k_ctx_sum(const snt_k_ctx *ctx, double *x, int64_t n);
int snt_k_ctx_has_sum(const snt_k_ctx *ctx);
/* Outputs of at least this many bytes are written with streaming stores (the epilogue's
 * `stream`): 24 MB, or SINTER_STREAM_BYTES at create. */
double snt_k_ctx_stream_bytes(const snt_k_ctx *ctx);
/* Whether a BF16 context may take an FP32 path that beats its GEMM (Winograd): 1 unless the
 * environment had SINTER_BF16_WINOGRAD=0 at create. */
int snt_k_ctx_bf16_fp32_paths(const snt_k_ctx *ctx);

/* Scratch of member t (64-byte aligned, at least `bytes`, grown on demand and kept by ctx until
 * destroy; its contents are not preserved across growth). NULL when ctx is NULL or out of
 * memory. Slots keep users apart: GEMM takes slot 0 of every member during snt_k_gemm_run
 * (pack_b callbacks must not use it); slots 1..3 are free for other kernels. Call it on the
 * caller's thread, before snt_k_ctx_parallel (it is not thread-safe). */
enum { SNT_K_SCRATCH_SLOTS = 4, SNT_K_SCRATCH_GEMM = 0 };
void *snt_k_ctx_scratch(snt_k_ctx *ctx, int slot, int t, size_t bytes);

#endif
