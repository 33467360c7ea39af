/* Convolution backward passes as im2col/col2im + sinter's GEMM (on the context's threads). Per group:
 *   data:   dcol[kdim, P] = W^T[kdim, mg] * dy[mg, P], then col2im scatters dcol into dx;
 *   filter: dw[mg, kdim] += dy[mg, P] * col[kdim, P]^T, or transposed (transposed_filter):
 *           dw^T[kdim, mg] += col[kdim, P] * dy[mg, P]^T, then dw = (dw^T)^T.
 * When an image's output plane P is small, a chunk of images is laid side by side (columns
 * j*P.. of one [rows, chunk*P] matrix) so that each sgemm gets a large enough dimension.
 * Stride-1 convs on large maps take the filter gradient without col (conv_grad_filter.c), on
 * small maps (and on large ones where that conv runs direct) the data gradient as a forward conv
 * with flipped weights (conv_grad_flip.c); convs of up to 288 channels x taps on large maps the
 * filter gradient summed in registers on AVX-512 (conv_grad_direct.c: batch 32, CPU time, 3 -> 32
 * 3x3 at 224x224 67 -> 32 ms, ResNet50V2's 7x7/2 stem 94 -> 62 ms). */
#include <string.h>

#include "conv_grad.h"
#include "gemm_bf16.h"
#include "gemm_core.h"

/* Columns a GEMM should see at least: below this it runs far from its peak. */
enum { TARGET_COLS = 1024, MAX_CHUNK = 64 };

static int is_pointwise(const snt_k_conv3 *g) {
  for (int i = 0; i < 3; i++) {
    if (g->w.k[i] != 1 || g->w.s[i] != 1 || g->w.pb[i] || g->w.pe[i] || g->w.out[i] != g->w.in[i]) return 0;
  }
  return 1;
}

/* Images per sgemm: a function of the geometry only, so the scratch size is batch-independent. */
static int64_t chunk_images(const snt_k_conv3 *g) {
  int64_t p = g->w.out_size;
  if (p <= 0) return 1;
  int64_t c = TARGET_COLS / p;
  return c < 1 ? 1 : (c > MAX_CHUNK ? MAX_CHUNK : c);
}

/* Floats of scratch: the column matrix, plus a side-by-side copy of dy when chunking. */
static int64_t scratch_floats(const snt_k_conv3 *g, int64_t chunk) {
  int64_t kdim = g->cg * g->w.k_size, cols = chunk * g->w.out_size;
  if (chunk == 1) return is_pointwise(g) ? 0 : kdim * cols;
  return (kdim + g->mg) * cols;
}

/* Whether the filter gradient is computed transposed, dw^T[kdim][mg] = col * dy^T: the GEMM then
 * has kdim rows, and the blocked path instead of dot tiles for few output channels (measured on
 * Zen 5, batch 32: 3x3 convs 15-25% faster; 1x1 convs neither win nor lose, so stay as they are).
 * dw^T is accumulated in dw's own memory and turned round at the end through the scratch, which
 * must hold it: no memory is added. */
static int transposed_filter(const snt_k_conv3 *g) {
  int64_t kdim = g->cg * g->w.k_size;
  if (is_pointwise(g) || !(kdim >= g->mg || g->mg <= 64)) return 0;
  return scratch_floats(g, chunk_images(g)) >= g->cout * kdim;
}

/* Stride-1 convs on large maps sum the filter gradient without a column matrix
 * (conv_grad_filter.c): measured on Zen 5, batch 32, one thread, 3x3 convs at 112x112 1.45x
 * faster, at 56x56 1.1x, at 28x28 1.05-1.1x (and 1x1 convs gain from the packer). */
static int implicit_filter(const snt_k_conv3 *g) { return snt_k_conv_grad_implicit_applies(g); }

size_t snt_k_conv_backward_scratch_bytes(const snt_k_conv_desc *d) {
  snt_k_conv3 g;
  if (snt_k_conv3_init(d, &g) != SNT_OK) return 0;
  size_t floats = (size_t)scratch_floats(&g, chunk_images(&g));
  if (snt_k_conv_grad_flip_applies(d, &g, SNT_K_ISA_AVX512, 1) && snt_k_conv_grad_flip_floats(&g) > floats)
    floats = snt_k_conv_grad_flip_floats(&g);
  if (implicit_filter(&g) && snt_k_conv_grad_implicit_floats(&g) > floats) floats = snt_k_conv_grad_implicit_floats(&g);
  /* Whatever the ISA: the executable may run on another CPU than the one it was compiled on. */
  if (snt_k_conv_grad_direct_applies(&g) && snt_k_conv_grad_direct_floats(&g) > floats)
    floats = snt_k_conv_grad_direct_floats(&g);
  return floats * sizeof(float);
}

/* The output positions along the last axis that tap kw reads inside the input: [*lo, *hi);
 * position o reads input column start + o * step. */
typedef struct row_map {
  int64_t start, step, lo, hi;
} row_map;

static row_map last_axis_map(const snt_k_conv3 *g, int64_t kw) {
  row_map m = {kw * g->w.dl[2] - g->w.pb[2], g->w.s[2], 0, 0};
  snt_k_valid_range(m.start, m.step, g->w.out[2], g->w.in[2], &m.lo, &m.hi);
  return m;
}

/* Input row (id, ih) that output row (od, oh) reads for taps (kd, kh), or -1 in the padding. */
static int64_t input_row(const snt_k_conv3 *g, int64_t od, int64_t oh, int64_t kd, int64_t kh) {
  int64_t id = od * g->w.s[0] - g->w.pb[0] + kd * g->w.dl[0];
  int64_t ih = oh * g->w.s[1] - g->w.pb[1] + kh * g->w.dl[1];
  if (id < 0 || id >= g->w.in[0] || ih < 0 || ih >= g->w.in[1]) return -1;
  return id * g->w.in[1] + ih;
}

/* Rows of small maps are a few floats: plain loops, not library calls (memset and memcpy per
 * 14-float row were a third of a 14x14 layer's filter gradient), and gcc must not turn the
 * loops back into those calls. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static void gather_row(float *restrict dst, const float *restrict src, const row_map *m, int64_t n) {
  for (int64_t o = 0; o < m->lo; o++) dst[o] = 0.0f;
  if (m->step == 1) {
    const float *restrict s = src + m->start;
    for (int64_t o = m->lo; o < m->hi; o++) dst[o] = s[o];
  } else {
    for (int64_t o = m->lo; o < m->hi; o++) dst[o] = src[o * m->step + m->start];
  }
  for (int64_t o = m->hi; o < n; o++) dst[o] = 0.0f;
}

static void scatter_row(float *restrict dst, const float *restrict src, const row_map *m) {
  if (m->step == 1) {
    float *restrict d = dst + m->start;
    for (int64_t o = m->lo; o < m->hi; o++) d[o] += src[o];
  } else {
    for (int64_t o = m->lo; o < m->hi; o++) dst[o * m->step + m->start] += src[o];
  }
}

/* Stride 1 along the plane and rows as long as the input's ("same" convs): output row oh reads
 * input row oh + dh, so the rows that read inside x are one block of it shifted by a constant. */
static int plane_shift_applies(const snt_k_conv3 *g) {
  return g->w.s[1] == 1 && g->w.s[2] == 1 && g->w.out[2] == g->w.in[2];
}

/* One tap's plane of col for such a conv: the block copied whole from its first to its last
 * valid element (the elements between rows are x's own), then the columns and rows that read
 * the padding zeroed. xp is the input plane (depth id). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static void gather_plane(float *restrict dst, const float *restrict xp, const snt_k_conv3 *g, int64_t kh,
                         const row_map *m) {
  int64_t w = g->w.out[2], h = g->w.out[1], dh = kh * g->w.dl[1] - g->w.pb[1], lo, hi;
  snt_k_valid_range(dh, 1, h, g->w.in[1], &lo, &hi);
  if (lo >= hi || m->lo >= m->hi) {
    for (int64_t i = 0; i < h * w; i++) dst[i] = 0.0f;
    return;
  }
  int64_t first = lo * w + m->lo, last = (hi - 1) * w + m->hi, off = dh * w + m->start;
  for (int64_t i = 0; i < first; i++) dst[i] = 0.0f;
  for (int64_t i = first; i < last; i++) dst[i] = xp[i + off];
  for (int64_t i = last; i < h * w; i++) dst[i] = 0.0f;
  for (int64_t r = lo; r < hi; r++) {
    for (int64_t o = 0; o < m->lo; o++) dst[r * w + o] = 0.0f;
    for (int64_t o = m->hi; o < w; o++) dst[r * w + o] = 0.0f;
  }
}

/* col[(c, kd, kh, kw), (od, oh, ow)] (row stride ld) from channels [c0, c1) of an image group. */
static void im2col_part(const snt_k_conv3 *g, const float *x, float *col, int64_t ld, int64_t c0, int64_t c1) {
  const int64_t *k = g->w.k, *o = g->w.out;
  int shift = plane_shift_applies(g);
  for (int64_t c = c0; c < c1; c++) {
    const float *xc = x + c * g->w.in_size;
    for (int64_t kd = 0; kd < k[0]; kd++)
      for (int64_t kh = 0; kh < k[1]; kh++)
        for (int64_t kw = 0; kw < k[2]; kw++) {
          float *row = col + (((c * k[0] + kd) * k[1] + kh) * k[2] + kw) * ld;
          row_map m = last_axis_map(g, kw);
          for (int64_t od = 0; od < o[0]; od++) {
            int64_t id = od * g->w.s[0] - g->w.pb[0] + kd * g->w.dl[0];
            if (shift && id >= 0 && id < g->w.in[0]) {
              gather_plane(row + od * o[1] * o[2], xc + id * g->w.in[1] * g->w.in[2], g, kh, &m);
              continue;
            }
            for (int64_t oh = 0; oh < o[1]; oh++) {
              float *dst = row + (od * o[1] + oh) * o[2];
              int64_t r = input_row(g, od, oh, kd, kh);
              if (r < 0) {
                memset(dst, 0, (size_t)o[2] * sizeof(float));
              } else {
                gather_row(dst, xc + r * g->w.in[2], &m, o[2]);
              }
            }
          }
        }
  }
}

/* The adjoint of im2col: dx (channels [c0, c1) of an image group) = sum of col's taps. */
static void col2im_part(const snt_k_conv3 *g, const float *col, int64_t ld, float *dx, int64_t c0, int64_t c1) {
  const int64_t *k = g->w.k, *o = g->w.out;
  for (int64_t c = c0; c < c1; c++) {
    float *dxc = dx + c * g->w.in_size;
    memset(dxc, 0, (size_t)g->w.in_size * sizeof(float));
    for (int64_t kd = 0; kd < k[0]; kd++)
      for (int64_t kh = 0; kh < k[1]; kh++)
        for (int64_t kw = 0; kw < k[2]; kw++) {
          const float *row = col + (((c * k[0] + kd) * k[1] + kh) * k[2] + kw) * ld;
          row_map m = last_axis_map(g, kw);
          for (int64_t od = 0; od < o[0]; od++)
            for (int64_t oh = 0; oh < o[1]; oh++) {
              int64_t r = input_row(g, od, oh, kd, kh);
              if (r >= 0) scatter_row(dxc + r * g->w.in[2], row + (od * o[1] + oh) * o[2], &m);
            }
        }
  }
}

/* im2col (x -> col) or col2im (col -> dx) of nb images side by side in col (image j at column
 * j * P), split over the team by (image, channel): the GEMM between them runs on every thread,
 * and one thread alone left the others waiting (a 3x3 256-channel 14x14 layer at batch 32: a
 * fifth of its filter gradient). */
typedef struct col_job {
  const snt_k_conv3 *g;
  const float *src;
  float *dst;
  int64_t ld, nb, img_stride;
  int to_col;
} col_job;

static void col_part(void *arg, int t, int threads) {
  const col_job *j = arg;
  int64_t cg = j->g->cg, p = j->g->w.out_size, total = j->nb * cg, hi = total * (t + 1) / threads;
  for (int64_t q = total * t / threads; q < hi;) {
    int64_t img = q / cg, c0 = q % cg, c1 = hi - q < cg - c0 ? c0 + (hi - q) : cg;
    if (j->to_col) im2col_part(j->g, j->src + img * j->img_stride, j->dst + img * p, j->ld, c0, c1);
    else col2im_part(j->g, j->src + img * p, j->ld, j->dst + img * j->img_stride, c0, c1);
    q += c1 - c0;
  }
}

/* x and dx point at the first image's group planes; images follow at cin planes each. */
static void im2col(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, float *col, int64_t ld, int64_t nb) {
  col_job j = {g, x, col, ld, nb, g->cin * g->w.in_size, 1};
  snt_k_ctx_parallel(ctx, col_part, &j);
}

static void col2im(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *col, int64_t ld, int64_t nb, float *dx) {
  col_job j = {g, col, dx, ld, nb, g->cin * g->w.in_size, 0};
  snt_k_ctx_parallel(ctx, col_part, &j);
}

/* Copies the mg output-channel planes of group grp of images n0..n0+nb side by side. */
static void gather_dy(const snt_k_conv3 *g, const float *dy, int64_t n0, int64_t nb, int64_t grp, float *dst) {
  int64_t p = g->w.out_size, ld = nb * p;
  for (int64_t j = 0; j < nb; j++) {
    const float *src = dy + ((n0 + j) * g->cout + grp * g->mg) * p;
    for (int64_t m = 0; m < g->mg; m++) memcpy(dst + m * ld + j * p, src + m * p, (size_t)p * sizeof(float));
  }
}

static snt_status check_sizes(const snt_k_conv3 *g, int64_t chunk) {
  int64_t kdim = g->cg * g->w.k_size;
  if (!snt_k_fits_int(kdim) || !snt_k_fits_int(chunk * g->w.out_size) || !snt_k_fits_int(g->mg))
    return SNT_ERR_INPUT;
  return SNT_OK;
}

/* c = a' * b' (+ c when accumulate), row-major, a' = a or a^T. */
static snt_status sgemm(snt_k_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a,
                        int64_t lda, const float *b, int64_t ldb, int accumulate, float *c, int64_t ldc) {
  snt_k_gemm_call g = {.m = m, .n = n, .k = k, .a = a, .lda = lda, .trans_a = trans_a, .b = b, .ldb = ldb,
                       .trans_b = trans_b, .c = c, .ldc = ldc, .epi = {.alpha = 1.0f, .accumulate = accumulate}};
  return snt_k_gemm_run(ctx, &g);
}

static void zero(float *p, int64_t n) {
  if (n > 0) memset(p, 0, (size_t)n * sizeof(float));
}

/* dx for images n0..n0+nb of group grp. */
static snt_status data_chunk(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *dy, const float *w, float *dx,
                             float *scratch, int64_t n0, int64_t nb, int64_t grp) {
  int64_t kdim = g->cg * g->w.k_size, p = g->w.out_size, ld = nb * p;
  const float *wg = w + grp * g->mg * kdim;
  if (nb == 1) {
    const float *dyg = dy + (n0 * g->cout + grp * g->mg) * p;
    float *dxg = dx + (n0 * g->cin + grp * g->cg) * g->w.in_size;
    float *dst = is_pointwise(g) ? dxg : scratch;
    snt_status st = sgemm(ctx, 1, 0, kdim, p, g->mg, wg, kdim, dyg, p, 0, dst, p);
    if (!st && dst != dxg) col2im(ctx, g, scratch, p, 1, dxg);
    return st;
  }
  float *col = scratch, *dyc = scratch + kdim * ld;
  gather_dy(g, dy, n0, nb, grp, dyc);
  snt_status st = sgemm(ctx, 1, 0, kdim, ld, g->mg, wg, kdim, dyc, ld, 0, col, ld);
  if (!st) col2im(ctx, g, col, ld, nb, dx + (n0 * g->cin + grp * g->cg) * g->w.in_size);
  return st;
}

snt_status snt_k_conv_backward_data(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *dy, const float *w, float *dx,
                                    void *scratch) {
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  int64_t chunk = chunk_images(&g);
  if ((st = check_sizes(&g, chunk)) != SNT_OK) return st;
  if (g.w.out_size == 0) {
    zero(dx, g.batch * g.cin * g.w.in_size);
    return SNT_OK;
  }
  /* Not on a BF16 context: its GEMM would cache the flipped weights as constants. */
  if (snt_k_conv_grad_flip_applies(d, &g, snt_k_ctx_isa(ctx), snt_k_ctx_training(ctx)) && !snt_k_ctx_bf16(ctx))
    return snt_k_conv_backward_data_flip(ctx, d, &g, dy, w, dx, scratch);
  for (int64_t n0 = 0; n0 < g.batch && !st; n0 += chunk) {
    int64_t nb = g.batch - n0 < chunk ? g.batch - n0 : chunk;
    for (int64_t grp = 0; grp < g.groups && !st; grp++) st = data_chunk(ctx, &g, dy, w, dx, scratch, n0, nb, grp);
  }
  return st;
}

const char *snt_k_conv_backward_data_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d) {
  static const char *const column[3] = {"conv-grad-data-column-c", "conv-grad-data-column-avx2",
                                        "conv-grad-data-column-avx512"};
  snt_k_conv3 g;
  if (snt_k_conv3_init(d, &g) != SNT_OK) return "conv-grad-invalid";
  if (snt_k_conv_grad_flip_applies(d, &g, snt_k_ctx_isa(ctx), snt_k_ctx_training(ctx)) && !snt_k_ctx_bf16(ctx))
    return "conv-grad-data-flip";
  return column[snt_k_ctx_isa(ctx)];
}

const char *snt_k_conv_backward_filter_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *d) {
  static const char *const implicit[3] = {"conv-grad-filter-implicit-c", "conv-grad-filter-implicit-avx2",
                                          "conv-grad-filter-implicit-avx512"};
  static const char *const column[3] = {"conv-grad-filter-column-c", "conv-grad-filter-column-avx2",
                                        "conv-grad-filter-column-avx512"};
  snt_k_conv3 g;
  if (snt_k_conv3_init(d, &g) != SNT_OK) return "conv-grad-invalid";
  snt_k_isa isa = snt_k_ctx_isa(ctx);
  if (isa == SNT_K_ISA_AVX512 && snt_k_conv_grad_direct_applies(&g)) return "conv-grad-filter-direct-avx512";
  return implicit_filter(&g) ? implicit[isa] : column[isa];
}

/* dw (group grp) += the contribution of images n0..n0+nb; beta 0 on the first chunk. Transposed:
 * group grp's block of dw holds dw^T ([kdim][mg]) until the end. */
static snt_status filter_chunk(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *dy, float *dw,
                               int transposed, float *scratch, int64_t n0, int64_t nb, int64_t grp, int accumulate) {
  int64_t kdim = g->cg * g->w.k_size, p = g->w.out_size, ld = nb * p;
  const float *a = dy + (n0 * g->cout + grp * g->mg) * p, *b = x + (n0 * g->cin + grp * g->cg) * g->w.in_size;
  if (nb > 1) {
    gather_dy(g, dy, n0, nb, grp, scratch + kdim * ld);
    a = scratch + kdim * ld;
  }
  if (nb > 1 || !is_pointwise(g)) {
    im2col(ctx, g, b, scratch, ld, nb);
    b = scratch;
  }
  float *dwg = dw + grp * g->mg * kdim;
  if (!transposed) return sgemm(ctx, 0, 1, g->mg, kdim, ld, a, ld, b, ld, accumulate, dwg, kdim);
  return sgemm(ctx, 0, 1, kdim, g->mg, ld, b, ld, a, ld, accumulate, dwg, g->mg);
}

/* One channel's sum over batch and space in double, in eight interleaved partial sums: one
 * chain of dependent adds was latency-bound (ResNet50V2 at batch 32: ~25 ms for a 256-channel
 * 56x56 bias, single-threaded); eight independent chains vectorise. */
static float channel_sum(const float *dy, int64_t batch, int64_t stride, int64_t p) {
  double acc[8] = {0};
  for (int64_t n = 0; n < batch; n++) {
    const float *r = dy + n * stride;
    int64_t i = 0;
    for (; i + 8 <= p; i += 8)
      for (int j = 0; j < 8; j++) acc[j] += r[i + j];
    for (; i < p; i++) acc[i & 7] += r[i];
  }
  return (float)(((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])));
}

typedef struct bias_job {
  const snt_k_conv3 *g;
  const float *dy;
  float *db;
} bias_job;

/* Channels split over the team: each is summed by one thread in one order, whatever the count. */
static void bias_part(void *arg, int t, int threads) {
  const bias_job *j = arg;
  int64_t c0 = j->g->cout * t / threads, c1 = j->g->cout * (t + 1) / threads, p = j->g->w.out_size;
  for (int64_t oc = c0; oc < c1; oc++) j->db[oc] = channel_sum(j->dy + oc * p, j->g->batch, j->g->cout * p, p);
}

/* dst[c][r] = src[r][c] for a rows x cols src, in 32 x 32 tiles: a plain column walk of a
 * 4608 x 512 dw^T missed the cache at every element (8% of a 7x7 layer's filter gradient). */
static void transpose_block(const float *restrict src, int64_t rows, int64_t cols, float *restrict dst) {
  enum { T = 32 };
  for (int64_t r0 = 0; r0 < rows; r0 += T)
    for (int64_t c0 = 0; c0 < cols; c0 += T) {
      int64_t r1 = r0 + T < rows ? r0 + T : rows, c1 = c0 + T < cols ? c0 + T : cols;
      for (int64_t c = c0; c < c1; c++)
        for (int64_t r = r0; r < r1; r++) dst[c * rows + r] = src[r * cols + c];
    }
}

/* db[oc] = sum of dy over batch and space. */
static void bias_grad(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *dy, float *db) {
  bias_job j = {g, dy, db};
  snt_k_ctx_parallel(ctx, bias_part, &j);
}

snt_status snt_k_conv_backward_filter(snt_k_ctx *ctx, const snt_k_conv_desc *d, const float *x, const float *dy, float *dw,
                                      float *db, void *scratch) {
  snt_k_conv3 g;
  snt_status st = snt_k_conv3_init(d, &g);
  if (st != SNT_OK) return st;
  int64_t chunk = chunk_images(&g);
  if ((st = check_sizes(&g, chunk)) != SNT_OK) return st;
  if (db) bias_grad(ctx, &g, dy, db);
  if (g.batch == 0 || g.w.out_size == 0) {
    zero(dw, g.cout * g.cg * g.w.k_size);
    return SNT_OK;
  }
  if (snt_k_ctx_isa(ctx) == SNT_K_ISA_AVX512 && snt_k_conv_grad_direct_applies(&g))
    return snt_k_conv_backward_filter_direct(ctx, &g, x, dy, dw, scratch);
  if (implicit_filter(&g)) return snt_k_conv_backward_filter_implicit(ctx, &g, x, dy, dw, scratch);
  int transposed = transposed_filter(&g);
  for (int64_t n0 = 0; n0 < g.batch && !st; n0 += chunk) {
    int64_t nb = g.batch - n0 < chunk ? g.batch - n0 : chunk;
    for (int64_t grp = 0; grp < g.groups && !st; grp++)
      st = filter_chunk(ctx, &g, x, dy, dw, transposed, scratch, n0, nb, grp, n0 != 0);
  }
  if (!st && transposed) {
    int64_t kdim = g.cg * g.w.k_size;
    float *t = scratch;
    memcpy(t, dw, (size_t)(g.cout * kdim) * sizeof(float));
    for (int64_t grp = 0; grp < g.groups; grp++) transpose_block(t + grp * kdim * g.mg, kdim, g.mg, dw + grp * g.mg * kdim);
  }
  return st;
}
