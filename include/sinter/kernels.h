/* Compute kernels that generated code calls: float32 maths with ONNX semantics (opsets 13-17)
 * and type-generic data movement. Tensors are dense row-major; images are N, C, D1..Dk.
 * Callers pass scratch of the size the ..._scratch_bytes functions give (64-byte alignment is
 * best); the GEMM's packing buffers and packed weights live in the kernel context instead,
 * grown on first use and kept, so no run after the first allocates. Inputs and outputs must not overlap unless a function says so. */
#ifndef SINTER_KERNELS_H
#define SINTER_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "sinter/dtype.h"
#include "sinter/status.h"

/* Generated code checks each kernel's status with this, keeping it in the function's
 * snt_k_st_ so that the run returns it. Without the hint gcc guesses every early return after
 * a call as likely, so after a few dozen nodes it treats the rest of the run as cold code and
 * stops vectorising its loops (BatchNorm, elementwise). */
#define SNT_K_FAILED(call) __builtin_expect((snt_k_st_ = (call)) != SNT_OK, 0)

enum { SNT_K_MAX_SPATIAL = 3 };

/* ---- context -------------------------------------------------------------------------- */

/* What the kernels run with: a team of threads and the instruction set (detected once; the
 * environment variable SINTER_ISA=avx512|avx2|c forces a lower one). One per model instance;
 * kernels given NULL run on the calling thread alone. */
typedef struct snt_k_ctx snt_k_ctx;
snt_k_ctx *snt_k_ctx_create(int threads); /* threads < 1: 1; NULL when out of memory */
void snt_k_ctx_destroy(snt_k_ctx *ctx);
/* A model's arena and packed weights: 64-byte aligned, released by free(); from 2 MB on in whole
 * 2 MB pages asked of the kernel as transparent huge pages (at batch 1 ResNet50V2 streams 100 MB
 * of weights a run: 4 KB pages cost a TLB walk each). NULL when out of memory. */
void *snt_k_alloc_big(size_t bytes);
/* Threads for the next calls (at least 1; the team grows to it, capped at 64 or by what the
 * system lets it start). Not while a kernel runs on ctx. */
void snt_k_ctx_set_threads(snt_k_ctx *ctx, int threads);
int snt_k_ctx_threads(const snt_k_ctx *ctx);
/* Runs fn(arg, t, threads) once on each of the team's `threads` members (t = 0 on the caller)
 * and returns when all are done; NULL ctx or one thread: fn(arg, 0, 1) here. */
void snt_k_ctx_parallel(snt_k_ctx *ctx, void (*fn)(void *arg, int t, int threads), void *arg);

/* Arithmetic of the matrix products: FP32, or (inference only) operands rounded to bfloat16
 * and summed in float32 where the CPU has AVX512_BF16; elsewhere BF16 runs as FP32. The
 * constant operand (weights) is rounded once and cached in ctx by its address. */
typedef enum snt_k_precision { SNT_K_FP32, SNT_K_BF16 } snt_k_precision;
void snt_k_ctx_set_precision(snt_k_ctx *ctx, snt_k_precision p);
/* Whether BF16 products run here (AVX512_BF16, and SINTER_ISA not below avx512). */
int snt_k_bf16_available(void);
/* Whether ctx's products run in BF16 now: precision SNT_K_BF16 on a CPU that has AVX512_BF16. */
int snt_k_ctx_runs_bf16(snt_k_ctx *ctx);
/* A training step's context (generated step code sets it): convolutions keep to the paths that
 * sum the products of the definition (not Winograd, whose transforms round differently, so that
 * a max-pool's gradient goes where a float64 reference sends it). */
void snt_k_ctx_set_training(snt_k_ctx *ctx, int training);
/* Data-parallel training (EXE train under mpirun): this instance's batch holds the job's
 * samples from `first` on, so dropout keys its draws by the global sample index; `sum` (NULL:
 * none) adds n doubles over every rank in place and returns 0, or nonzero when it failed:
 * BatchNorm then normalises with the job's batch statistics (--sync-bn). */
typedef int (*snt_k_sum_fn)(void *user, double *x, int64_t n);
void snt_k_ctx_set_shard(snt_k_ctx *ctx, int64_t first, snt_k_sum_fn sum, void *user);
int64_t snt_k_ctx_first_sample(const snt_k_ctx *ctx); /* 0 for NULL */
/* A training step calls snt_k_ctx_ready(ctx, i) once output i (a gradient) is final, before the
 * rest of the backward pass runs: data-parallel training starts sending it then (NULL: no
 * callback). */
typedef void (*snt_k_ready_fn)(void *user, int output);
void snt_k_ctx_set_ready(snt_k_ctx *ctx, snt_k_ready_fn ready, void *user);
void snt_k_ctx_ready(const snt_k_ctx *ctx, int output);

/* y[n][c][i] = post(x[n][c][i] * s[n * s_batch_stride + c] + residual[n][c][i]) for i < inner:
 * a squeeze-excite gate, its block's residual (NULL: none) and ReLU (post, when relu is set),
 * each rounded as the separate Mul, Add and Relu; s_batch_stride 0: one scale per channel for
 * every sample. y may be x. */
void snt_k_channel_scale(snt_k_ctx *ctx, const float *x, const float *s, int64_t s_batch_stride, const float *residual,
                         int relu, float *y, int64_t batch, int64_t channels, int64_t inner);

/* ---- convolution ---------------------------------------------------------------------- */

typedef enum snt_k_act_kind {
  SNT_K_ACT_NONE, SNT_K_ACT_RELU, SNT_K_ACT_LEAKY_RELU, SNT_K_ACT_SIGMOID, SNT_K_ACT_TANH,
  SNT_K_ACT_CLIP,
  SNT_K_ACT_SILU,         /* x * sigmoid(x): a Mul of x and its Sigmoid (SiLU, swish) */
  SNT_K_ACT_HARD_SIGMOID, /* max(0, min(1, alpha x + beta)) */
  SNT_K_ACT_HARD_SWISH,   /* x * hard_sigmoid(x): HardSwish, alpha 1/6 and beta 0.5 */
  SNT_K_ACT_EXP,          /* exp(x): standalone Exp nodes only */
  SNT_K_ACT_MISH,         /* x * tanh(softplus(x)) */
  SNT_K_ACT_ERF,          /* erf(x): standalone Erf nodes */
  SNT_K_ACT_GELU          /* 0.5 x (1 + erf(x / sqrt 2)) */
} snt_k_act_kind;

/* A fused activation: alpha is LeakyRelu's slope or the hard ones' alpha, clip_min/clip_max
 * are Clip's bounds, beta the hard ones' offset. */
typedef struct snt_k_act {
  snt_k_act_kind kind;
  float alpha, clip_min, clip_max, beta;
} snt_k_act;

/* y[i] = act(x[i]) over n floats on ctx's team, vectorised for the ISA; y may equal x. Sigmoid
 * is 1 / (1 + exp(-x)) and tanh Cephes' tanhf, each within a few ulp of libm's. */
void snt_k_activation(snt_k_ctx *ctx, const snt_k_act *act, const float *x, float *y, int64_t n);
/* LayerNormalization over rows: y[g][m] = (x[g][m] - mean_g) / sqrt(var_g + eps) * scale[m] +
 * bias[m] for g < groups, m < members (scale, bias: NULL for 1 and 0). Mean and variance summed
 * in double; the groups shared by ctx's threads. */
void snt_k_layer_norm(snt_k_ctx *ctx, const float *x, const float *scale, const float *bias, float *y, int64_t groups,
                      int64_t members, double eps);

/* Conv and ConvTranspose. Only the first `spatial` (1..3) entries of the arrays are read.
 * ConvTranspose's output_padding and output_shape only change out[], which the caller gives. */
typedef struct snt_k_conv_desc {
  int spatial;
  int64_t batch, in_channels, out_channels, groups;
  int64_t in[SNT_K_MAX_SPATIAL], out[SNT_K_MAX_SPATIAL], kernel[SNT_K_MAX_SPATIAL];
  int64_t stride[SNT_K_MAX_SPATIAL], dilation[SNT_K_MAX_SPATIAL];
  int64_t pad_begin[SNT_K_MAX_SPATIAL], pad_end[SNT_K_MAX_SPATIAL];
  snt_k_act act;
} snt_k_conv_desc;

/* y = act(conv(x, w) + bias + residual); w is [out_c, in_c/groups, k...]; bias [out_c] and
 * residual (shaped like y, not aliasing it) may be NULL. */
size_t snt_k_conv_scratch_bytes(const snt_k_conv_desc *d);
snt_status snt_k_conv(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w, const float *bias,
                      const float *residual, float *y, void *scratch);
/* A short static name of the path snt_k_conv takes for d on ctx, one word (e.g.
 * "conv-gemm-avx512-implicit", "conv-gemm-avx2-1x1", "conv-depthwise-c", "conv-direct-avx512"),
 * for profiles and summaries. */
const char *snt_k_conv_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d);
/* Weights packed once (at load) for snt_k_conv_packed: the bytes to reserve, the same for every
 * instruction set (0: d never uses them), the packing for ctx's instruction set, and the conv
 * taking them (with the same ctx, or one of the same instruction set) and w itself, which the
 * direct paths read. Pack again whenever w changes. */
size_t snt_k_conv_packed_weights_bytes(const snt_k_conv_desc *d);
snt_status snt_k_conv_pack_weights(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *w, float *packed);
snt_status snt_k_conv_packed(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w,
                             const float *packed_w, const float *bias, const float *residual, float *y, void *scratch);
/* A second output written with y: out[n][c][...] = post(y[n][c][...] * scale[c] + shift[c]),
 * post ReLU (v > 0 ? v : 0) when relu is set. It is the inference BatchNormalization (and ReLU) that reads y in
 * a pre-activation ResNet, done in the conv's store instead of its own pass over memory; out
 * is shaped like y and aliases none of the conv's buffers. */
typedef struct snt_k_conv_tap {
  const float *scale, *shift;
  float *out;
  int relu;
  /* out holds the values rounded to bfloat16 (round to nearest even, as the BF16 GEMM rounds
   * its operands), one uint16_t per element at the float's index: for readers that are BF16
   * 1x1 layers (snt_k_conv_bf16_in), at half the bytes. Only in a context that runs BF16. */
  int bf16;
} snt_k_conv_tap;
/* snt_k_conv_packed (packed_w NULL: snt_k_conv) that also writes tap (NULL: none). */
snt_status snt_k_conv_tapped(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w,
                             const float *packed_w, const float *bias, const float *residual, float *y,
                             const snt_k_conv_tap *tap, void *scratch);
/* snt_k_conv_tapped (weights rounded and cached by the BF16 GEMM) whose x is a BF16 tap's
 * output: the BF16 GEMM reads it as its B, where it would round a float x to the same values.
 * A 1x1, stride-1, unpadded, one-group conv in a context that runs BF16; else SNT_ERR_INPUT. */
snt_status snt_k_conv_bf16_in(snt_k_ctx *ctx, const snt_k_conv_desc *d, const uint16_t *x, const float *w,
                              const float *bias, const float *residual, float *y, const snt_k_conv_tap *tap,
                              void *scratch);
/* A 2-D conv and the 2x2 stride-2 max pool (no padding, the last odd row and column dropped)
 * of its output: pooled = maxpool(act(conv(x, w) + bias)), bit for bit as snt_k_conv_packed
 * then snt_k_pool_ctx. The direct path pools each pair of output rows while they are in cache
 * and never writes y; the other paths write y and pool it. */
snt_status snt_k_conv_pool2(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *w,
                            const float *packed_w, const float *bias, float *y, float *pooled);
/* Its path as snt_k_conv_kernel names it, with "+maxpool" (pooled in the store) or
 * "+maxpool-pass" (pooled after the conv). */
const char *snt_k_conv_pool2_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d);
/* A 2-D 1x1 convolution (pw: stride 1, no padding, one group) whose output only a 2-D
 * depthwise convolution (dw: one input channel per group) reads, as one kernel that never
 * writes the 1x1 output whole: y = act2(dw(act1(pw(x, w1) + b1), w2) + b2 + residual), the
 * values of snt_k_conv on each in turn on the GEMM and depthwise paths. b1, b2, residual (shaped
 * like y) may be NULL. packed1: w1 packed at load by snt_k_conv_expand_dw_pack (bytes from
 * snt_k_conv_expand_dw_packed_bytes, the same for every instruction set), or NULL. */
size_t snt_k_conv_expand_dw_packed_bytes(const snt_k_conv_desc *pw);
snt_status snt_k_conv_expand_dw_pack(snt_k_ctx *ctx, const snt_k_conv_desc *pw, const float *w1, float *packed);
snt_status snt_k_conv_expand_dw(snt_k_ctx *ctx, const snt_k_conv_desc *pw, const snt_k_conv_desc *dw, const float *x,
                                const float *w1, const float *packed1, const float *b1, const float *w2, const float *b2,
                                const float *residual, float *y);
/* Its path for profiles and summaries ("conv-expand-dw-avx512", ...). */
const char *snt_k_conv_expand_dw_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *pw, const snt_k_conv_desc *dw);
/* y = act(conv_transpose(x, w) + bias); w is [in_c, out_c/groups, k...]; bias may be NULL. */
size_t snt_k_conv_transpose_scratch_bytes(const snt_k_conv_desc *d);
snt_status snt_k_conv_transpose(const snt_k_conv_desc *d, const float *x, const float *w,
                                const float *bias, float *y, void *scratch);

/* ---- pooling -------------------------------------------------------------------------- */

typedef enum snt_k_pool_kind { SNT_K_POOL_MAX, SNT_K_POOL_AVG } snt_k_pool_kind;

/* MaxPool / AveragePool. Windows are clipped to [-pad_begin, in + pad_end) (ceil_mode outputs);
 * averages divide by the real elements in the window, or with count_include_pad by the elements
 * in the clipped padded range. A window that covers no input element gives -inf and index -1
 * (max) or 0 (average). */
typedef struct snt_k_pool_desc {
  int spatial;
  snt_k_pool_kind kind;
  int count_include_pad; /* average only */
  int storage_order;     /* MaxPool indices: 0 row-major, 1 column-major over the spatial dims */
  int64_t batch, channels;
  int64_t in[SNT_K_MAX_SPATIAL], out[SNT_K_MAX_SPATIAL], kernel[SNT_K_MAX_SPATIAL];
  int64_t stride[SNT_K_MAX_SPATIAL], dilation[SNT_K_MAX_SPATIAL];
  int64_t pad_begin[SNT_K_MAX_SPATIAL], pad_end[SNT_K_MAX_SPATIAL];
} snt_k_pool_desc;

/* indices (max only, may be NULL) get ONNX MaxPool's flat index into x, batch and channel included. */
snt_status snt_k_pool(const snt_k_pool_desc *d, const float *x, float *y, int64_t *indices);
/* The same on ctx's team and ISA (NULL: the calling thread); the same bits on any of them. */
snt_status snt_k_pool_ctx(snt_k_ctx *ctx, const snt_k_pool_desc *d, const float *x, float *y, int64_t *indices);
/* MaxPool whose padding holds pad_value instead of -inf (a constant Pad folded into the pool):
 * a window reaching into the padding takes max(pad_value, its inputs); a NaN input stays NaN. */
snt_status snt_k_maxpool_filled(snt_k_ctx *ctx, const snt_k_pool_desc *d, float pad_value, const float *x, float *y);
/* A 2-D conv and any 2-D max pool p of its output (window, strides, dilation, padding; fill:
 * the padding holds *fill, a constant pad folded in, as snt_k_maxpool_filled; NULL: -inf):
 * pooled = maxpool(act(conv(x, w) + bias)), bit for bit as snt_k_conv_packed then the pool.
 * The direct path computes bands of output rows into a per-thread buffer and pools them while
 * they are in cache, never writing y; the other paths write y and pool it. p must cover d's
 * output (in = d's out, batch, channels) with every window starting inside it or in its leading
 * padding: else SNT_ERR_INPUT. */
snt_status snt_k_conv_maxpool(snt_k_ctx *ctx, const snt_k_conv_desc *d, const snt_k_pool_desc *p, const float *fill,
                              const float *x, const float *w, const float *packed_w, const float *bias, float *y,
                              float *pooled);
/* Its path, named as snt_k_conv_pool2_kernel does. */
const char *snt_k_conv_maxpool_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d);
/* GlobalMaxPool / GlobalAveragePool: y[i] = max or mean of x[i*inner .. (i+1)*inner). */
void snt_k_global_pool(snt_k_pool_kind kind, int64_t outer, int64_t inner, const float *x, float *y);

/* ---- normalisation, dense layers, softmax -------------------------------------------- */

/* BatchNormalization (inference) over x = [batch, channels, inner]; y may equal x. */
void snt_k_batchnorm(int64_t batch, int64_t channels, int64_t inner, const float *x,
                     const float *scale, const float *bias, const float *mean, const float *var,
                     float epsilon, float *y);
/* The same as generated code runs it, on ctx's team: per channel s = gamma / sqrtf(var + eps)
 * and t = beta - mean * s in float (gamma NULL: 1, beta NULL: 0), then y = x * s + t rounded
 * after the multiply and the add (no FMA), and with relu max(y, 0) (NaN gives 0). Every ISA
 * and thread count gives the same bits; y may equal x. */
snt_status snt_k_bn_infer(snt_k_ctx *ctx, int64_t batch, int64_t channels, int64_t inner, const float *x,
                          const float *gamma, const float *beta, const float *mean, const float *var, float eps,
                          int relu, float *y);

/* Gemm: y[M,N] = alpha * A' * B' + beta * C. A is [M,K] ([K,M] if trans_a), B is [K,N] ([N,K]
 * if trans_b). C may be NULL; else it is [c_rows, c_cols] with c_rows in {1, M}, c_cols in {1, N}
 * (a scalar is 1x1, a vector [N] is 1xN). */
typedef struct snt_k_gemm_desc {
  int64_t m, n, k;
  int trans_a, trans_b;
  float alpha, beta;
  int64_t c_rows, c_cols;
  snt_k_act act; /* applied in the store (zero: none) */
} snt_k_gemm_desc;
snt_status snt_k_gemm(snt_k_ctx *ctx, const snt_k_gemm_desc *d, const float *a, const float *b, const float *c,
                      float *y);

/* DOUBLE in double precision (runtime/kernels/f64.c): Gemm, Conv (residual may be NULL),
 * ConvTranspose and MaxPool/AveragePool, with the descriptors and semantics of the float32 kernels. */
snt_status snt_k_gemm_f64(const snt_k_gemm_desc *d, const double *a, const double *b, const double *c, double *y);
snt_status snt_k_conv_f64(const snt_k_conv_desc *d, const double *x, const double *w, const double *bias,
                          const double *residual, double *y);
snt_status snt_k_conv_transpose_f64(const snt_k_conv_desc *d, const double *x, const double *w, const double *bias,
                                    double *y);
snt_status snt_k_pool_f64(const snt_k_pool_desc *d, const double *x, double *y, int64_t *indices);

/* MatMul with numpy rules: 1-D operands are promoted, batch dims broadcast. y's shape is the
 * broadcast one (the caller computes it). */
snt_status snt_k_matmul(snt_k_ctx *ctx, int a_rank, const int64_t *a_dims, const float *a, int b_rank,
                        const int64_t *b_dims, const float *b, float *y);

/* Softmax / LogSoftmax over the middle axis of x = [outer, axis_len, inner]; y may equal x. */
void snt_k_softmax(int64_t outer, int64_t axis_len, int64_t inner, const float *x, float *y);
void snt_k_log_softmax(int64_t outer, int64_t axis_len, int64_t inner, const float *x, float *y);

/* ---- DeformConv ----------------------------------------------------------------------- */

/* ONNX DeformConv (2-D): x [n, c, h, w], w [oc, c / group, kh, kw], offset [n, offset_group * 2 *
 * kh * kw, out_h, out_w], optional bias [oc] and mask [n, offset_group * kh * kw, out_h, out_w].
 * The end pads only shape out_h and out_w. */
typedef struct snt_k_deform_conv {
  int64_t n, c, h, w, oc, kh, kw, out_h, out_w;
  int64_t stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, group, offset_group;
} snt_k_deform_conv;

/* As ONNX Runtime computes it: tap (i, j) of output pixel (oy, ox) samples channel c bilinearly
 * at (oy * stride_h - pad_top + i * dil_h + dy, ox * stride_w - pad_left + j * dil_w + dx), with
 * (dy, dx) the tap's pair of channels (dy first) in c's offset group, times the mask (NULL: 1); a
 * point at or past -1 or the map's size, NaN too, samples 0, and each corner outside the map
 * counts 0. Then y = conv of the samples with w, + bias (NULL: none). SNT_ERR_INPUT for an
 * inconsistent descriptor or one whose sizes overflow (scratch_bytes then gives SIZE_MAX);
 * scratch holds one block of sampled columns. */
size_t snt_k_deform_conv_scratch_bytes(const snt_k_deform_conv *p);
snt_status snt_k_deform_conv_run(snt_k_ctx *ctx, const snt_k_deform_conv *p, const float *x, const float *w,
                                 const float *offset, const float *bias, const float *mask, float *y, void *scratch);

/* ---- RoiAlign ------------------------------------------------------------------------- */

typedef struct snt_k_roi_align {
  int max_mode;       /* 0: average of the samples, 1: ONNX Runtime's max of weighted corners */
  int half_pixel;     /* coordinate_transformation_mode half_pixel (16's default) */
  int64_t n, c, h, w, rois, out_h, out_w, sampling_ratio;
  float spatial_scale;
} snt_k_roi_align;
/* ONNX RoiAlign: x [n, c, h, w], rois [rois, 4] of (x1, y1, x2, y2), batch indices [rois];
 * y [rois, c, out_h, out_w]. A batch index outside [0, n), a non-finite roi or more than 65536
 * samples per bin side is SNT_ERR_INPUT (checked before anything is written). */
snt_status snt_k_roi_align_run(const snt_k_roi_align *p, const float *x, const float *rois, const int64_t *batch, float *y);

/* ---- grid sample ---------------------------------------------------------------------- */

typedef enum snt_k_gs_mode { SNT_K_GS_LINEAR, SNT_K_GS_NEAREST, SNT_K_GS_CUBIC } snt_k_gs_mode;
typedef enum snt_k_gs_pad { SNT_K_GS_ZEROS, SNT_K_GS_BORDER, SNT_K_GS_REFLECTION } snt_k_gs_pad;
typedef struct snt_k_grid_sample {
  snt_k_gs_mode mode;
  snt_k_gs_pad pad;
  int align_corners;
  int volumetric; /* 3-D: x [n, c, d, h, w], grid points (x, y, z); else d = d_out = 1 */
  int64_t n, c, d, h, w, d_out, h_out, w_out;
} snt_k_grid_sample;
/* ONNX GridSample on 2-D maps: x [n, c, h, w], grid [n, h_out, w_out, 2] of (x, y) in [-1, 1],
 * y [n, c, h_out, w_out]; on volumes: x [n, c, d, h, w], grid [n, d_out, h_out, w_out, 3] of
 * (x, y, z), y [n, c, d_out, h_out, w_out]. */
void snt_k_grid_sample_run(const snt_k_grid_sample *p, const float *x, const float *grid, float *y);

/* ---- resize --------------------------------------------------------------------------- */

typedef enum snt_k_resize_mode {
  SNT_K_RESIZE_NEAREST, SNT_K_RESIZE_LINEAR, SNT_K_RESIZE_CUBIC
} snt_k_resize_mode;
typedef enum snt_k_resize_coord {
  SNT_K_COORD_HALF_PIXEL, SNT_K_COORD_PYTORCH_HALF_PIXEL, SNT_K_COORD_ALIGN_CORNERS,
  SNT_K_COORD_ASYMMETRIC, SNT_K_COORD_TF_CROP_AND_RESIZE, SNT_K_COORD_TF_HALF_PIXEL_FOR_NN,
  SNT_K_COORD_HALF_PIXEL_SYMMETRIC /* opset 19 */
} snt_k_resize_coord;
typedef enum snt_k_nearest_mode {
  SNT_K_NEAREST_ROUND_PREFER_FLOOR, SNT_K_NEAREST_ROUND_PREFER_CEIL, SNT_K_NEAREST_FLOOR,
  SNT_K_NEAREST_CEIL
} snt_k_nearest_mode;

/* Resize (opsets 10 to 19). scales are per axis: the given ones, or out/in when sizes were given
 * (or the one scale of keep_aspect_ratio_policy).
 * roi (tf_crop_and_resize only) is ONNX's [starts..., ends...], normalised. */
typedef struct snt_k_resize_desc {
  int rank;
  int64_t in[SNT_MAX_RANK], out[SNT_MAX_RANK];
  float scales[SNT_MAX_RANK];
  float roi[2 * SNT_MAX_RANK];
  snt_k_resize_mode mode;
  snt_k_resize_coord coord;
  snt_k_nearest_mode nearest;
  float cubic_coeff_a; /* ONNX default -0.75 */
  int exclude_outside;
  float extrapolation_value;
} snt_k_resize_desc;
size_t snt_k_resize_scratch_bytes(const snt_k_resize_desc *d);
snt_status snt_k_resize(const snt_k_resize_desc *d, const float *x, float *y, void *scratch);
/* The same with each pass's rows split over ctx's team (the values do not depend on the split). */
snt_status snt_k_resize_ctx(snt_k_ctx *ctx, const snt_k_resize_desc *d, const float *x, float *y, void *scratch);

/* ---- data movement (any element type, by size in bytes) -------------------------------- */

/* Transpose: y's axis i is x's axis perm[i]. */
snt_status snt_k_transpose(size_t elem_size, int rank, const int64_t *in_dims, const int *perm,
                           const void *x, void *y);

/* y (y_dims) at index i reads x (x_dims) at i + offset per axis, or is zero where that falls
 * outside x: CenterCropPad's crops (offset > 0) and zero pads (offset < 0) in one pass. */
snt_status snt_k_shift_window(size_t elem_size, int rank, const int64_t *x_dims, const int64_t *y_dims,
                              const int64_t *offset, const void *x, void *y);

typedef enum snt_k_pad_mode { SNT_K_PAD_CONSTANT, SNT_K_PAD_EDGE, SNT_K_PAD_REFLECT, SNT_K_PAD_WRAP } snt_k_pad_mode;
/* Pad with ONNX's pads = [begin_0..begin_{r-1}, end_0..end_{r-1}], all >= 0; value is one
 * element (constant mode). Reflect repeats its mirror when a pad exceeds the axis, as numpy. */
snt_status snt_k_pad(size_t elem_size, int rank, const int64_t *in_dims, const int64_t *pads,
                     snt_k_pad_mode mode, const void *value, const void *x, void *y);

/* Concat n inputs along an axis: input i is [outer, axis_sizes[i], inner]. */
void snt_k_concat(size_t elem_size, int n, const void *const *xs, const int64_t *axis_sizes,
                  int64_t outer, int64_t inner, void *y);

/* Gather along the middle axis of x = [outer, axis_len, inner]; indices (SNT_I64 or SNT_I32)
 * may be negative; y is [outer, n_indices, inner]. An index out of range is SNT_ERR_INPUT. */
snt_status snt_k_gather(size_t elem_size, int64_t outer, int64_t axis_len, int64_t inner,
                        const void *x, snt_dtype index_type, const void *indices,
                        int64_t n_indices, void *y);

/* ---- reductions ----------------------------------------------------------------------- */

typedef enum snt_k_reduce_kind {
  SNT_K_REDUCE_SUM, SNT_K_REDUCE_MEAN, SNT_K_REDUCE_MAX, SNT_K_REDUCE_MIN
} snt_k_reduce_kind;
/* Reduce the axes whose bit is set in axes_mask (bit i = axis i); y holds the kept axes in order. */
snt_status snt_k_reduce(snt_k_reduce_kind kind, int rank, const int64_t *dims, uint32_t axes_mask,
                        const float *x, float *y);
/* The same on ctx's team when every kept axis lies outside the reduced ones (rows reduced to
 * one value each) and x is large enough to share; otherwise snt_k_reduce. */
snt_status snt_k_reduce_ctx(snt_k_ctx *ctx, snt_k_reduce_kind kind, int rank, const int64_t *dims, uint32_t axes_mask,
                            const float *x, float *y);

#include "sinter/kernels_shape.h" /* the shape and index ops */
#include "sinter/kernels_loss.h"  /* the ONNX loss ops */
#include "sinter/kernels_quant.h" /* QuantizeLinear, DequantizeLinear */
#include "sinter/kernels_int.h"   /* ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul */

#endif
