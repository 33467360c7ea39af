/* The filter gradient of a convolution with few taps in all (a first layer: 3 channels x 3x3 or
 * 7x7; 32 channels x 3x3) on a large map, on AVX-512 (conv_grad.h). dw[m][q] = sum over
 * positions of dy[m][p] times tap q's input; with kdim = cin x taps that small the GEMM paths
 * spend more on the column matrix and its packing than on the products. Here per image the
 * zero-padded input is split into its column phases (stride s: columns j*s + ph), so that every
 * tap of an output row reads one contiguous run, and 4 output channels x 6 taps are summed in
 * registers, 16 positions a step, over bands of rows that keep dy's rows in L1. Each (m, q) sums
 * its terms in the same order whatever the thread count: threads take whole blocks of output
 * channels. */
#include <immintrin.h>
#include <string.h>

#include "conv_grad.h"
#include "gemm_core.h"

/* MAX_KDIM: SimpleCNN's 32 -> 64 3x3 on 112x112 (kdim 288), batch 32, 49-54 against 82-85 ms a
 * step on the implicit GEMM (3 alternations); its 64 -> 128 on 56x56 (576) 61-68 against 59-64:
 * from there the GEMM's packed B is used by enough output channels. PASS_KDIM: taps summed per
 * pass over the image, their sums on the stack (48 KB). */
enum { MB = 4, QB = 6, BAND = 8, PASS_KDIM = 192, MAX_KDIM = 288 };
_Static_assert(PASS_KDIM % QB == 0, "a pass ends on a whole tap block: only the last pass has a partial one");

/* The phase grid: per input channel s2 phases of hp rows of wq columns. */
typedef struct phase_grid {
  int64_t hp, wp, wq, s1, s2, plane;
} phase_grid;

static phase_grid grid_of(const snt_k_conv3 *g) {
  const snt_k_win3 *w = &g->w;
  phase_grid r = {(w->out[1] - 1) * w->s[1] + (w->k[1] - 1) * w->dl[1] + 1,
                  (w->out[2] - 1) * w->s[2] + (w->k[2] - 1) * w->dl[2] + 1, 0, w->s[1], w->s[2], 0};
  r.wq = (r.wp + r.s2 - 1) / r.s2;
  r.plane = r.hp * r.wq;
  return r;
}

int snt_k_conv_grad_direct_applies(const snt_k_conv3 *g) {
  const snt_k_win3 *w = &g->w;
  int64_t kdim = g->cg * w->k_size;
  if (g->groups != 1 || kdim > MAX_KDIM || w->k_size == 1) return 0;
  if (w->in[0] != 1 || w->out[0] != 1 || w->k[0] != 1 || w->out_size <= 512) return 0;
  phase_grid r = grid_of(g);
  return snt_k_fits_int(g->cin * r.s2 * r.plane + 16);
}

size_t snt_k_conv_grad_direct_floats(const snt_k_conv3 *g) {
  phase_grid r = grid_of(g);
  return (size_t)(g->cin * r.s2 * r.plane + 16);
}

/* xq[(c * s2 + ph) * plane + row * wq + j] = the padded image at (c, row, j * s2 + ph), 0 outside:
 * channels [c0, c1). */
static void fill_phases(const snt_k_conv3 *g, const phase_grid *r, const float *x, float *xq, int64_t c0, int64_t c1) {
  const snt_k_win3 *w = &g->w;
  for (int64_t c = c0; c < c1; c++)
    for (int64_t ph = 0; ph < r->s2; ph++)
      for (int64_t row = 0; row < r->hp; row++) {
        float *d = xq + ((c * r->s2 + ph) * r->hp + row) * r->wq;
        int64_t ih = row - w->pb[1];
        if (r->s2 == 1 && ih >= 0 && ih < w->in[1] && w->pb[2] + w->in[2] <= r->wq) { /* one run and its pads */
          memset(d, 0, (size_t)w->pb[2] * sizeof(float));
          memcpy(d + w->pb[2], x + (c * w->in[1] + ih) * w->in[2], (size_t)w->in[2] * sizeof(float));
          memset(d + w->pb[2] + w->in[2], 0, (size_t)(r->wq - w->pb[2] - w->in[2]) * sizeof(float));
          continue;
        }
        for (int64_t j = 0; j < r->wq; j++) {
          int64_t iw = j * r->s2 + ph - w->pb[2];
          d[j] = ih >= 0 && ih < w->in[1] && iw >= 0 && iw < w->in[2] ? x[(c * w->in[1] + ih) * w->in[2] + iw] : 0.0f;
        }
      }
}

typedef struct direct_job {
  const snt_k_conv3 *g;
  phase_grid r;
  const float *x, *dy; /* this image's */
  float *xq;
  float *dw;
  int accumulate;
  int64_t off[MAX_KDIM]; /* tap q's first element in xq */
} direct_job;

/* sums[i][j] += sum over rows [oh0, oh1) of dy row m0 + i times tap q0 + j (rows and taps past
 * the end repeat the last one; their sums are dropped). */
__attribute__((target("avx512f"))) static void block_rows(const direct_job *jb, int64_t m0, int64_t q0, int64_t oh0,
                                                          int64_t oh1, __m512 sums[MB][QB]) {
  const snt_k_conv3 *g = jb->g;
  __m512 acc[MB][QB]; /* in registers: __m512 memory may alias the loads */
  for (int i = 0; i < MB; i++)
    for (int j = 0; j < QB; j++) acc[i][j] = sums[i][j];
  int64_t ow_n = g->w.out[2], p = g->w.out_size, kdim = g->cg * g->w.k_size;
  const float *d[MB], *x[QB];
  for (int i = 0; i < MB; i++) d[i] = jb->dy + (m0 + i < g->cout ? m0 + i : g->cout - 1) * p;
  for (int j = 0; j < QB; j++) x[j] = jb->xq + jb->off[q0 + j < kdim ? q0 + j : kdim - 1];
  __mmask16 tail = (__mmask16)((1u << (ow_n % 16)) - 1);
  for (int64_t oh = oh0; oh < oh1; oh++) {
    int64_t dro = oh * ow_n, xro = oh * jb->r.s1 * jb->r.wq, ow = 0;
    for (; ow + 16 <= ow_n; ow += 16) {
      __m512 dv[MB];
      for (int i = 0; i < MB; i++) dv[i] = _mm512_loadu_ps(d[i] + dro + ow);
      for (int j = 0; j < QB; j++) {
        __m512 xv = _mm512_loadu_ps(x[j] + xro + ow);
        for (int i = 0; i < MB; i++) acc[i][j] = _mm512_fmadd_ps(dv[i], xv, acc[i][j]);
      }
    }
    if (ow < ow_n) {
      __m512 dv[MB];
      for (int i = 0; i < MB; i++) dv[i] = _mm512_maskz_loadu_ps(tail, d[i] + dro + ow);
      for (int j = 0; j < QB; j++) {
        __m512 xv = _mm512_maskz_loadu_ps(tail, x[j] + xro + ow);
        for (int i = 0; i < MB; i++) acc[i][j] = _mm512_fmadd_ps(dv[i], xv, acc[i][j]);
      }
    }
  }
  for (int i = 0; i < MB; i++)
    for (int j = 0; j < QB; j++) sums[i][j] = acc[i][j];
}

/* Output channels [m0, m0 + MB) of one image and taps [q0, q1) (q0 a multiple of PASS_KDIM, at
 * most PASS_KDIM taps): bands of rows, all tap blocks per band. */
__attribute__((target("avx512f"))) static void channel_pass(const direct_job *jb, int64_t m0, int64_t q0, int64_t q1) {
  const snt_k_conv3 *g = jb->g;
  int64_t kdim = g->cg * g->w.k_size, nqb = (q1 - q0 + QB - 1) / QB;
  __m512 sums[PASS_KDIM / QB][MB][QB];
  for (int64_t b = 0; b < nqb; b++)
    for (int i = 0; i < MB; i++)
      for (int j = 0; j < QB; j++) sums[b][i][j] = _mm512_setzero_ps();
  for (int64_t oh0 = 0; oh0 < g->w.out[1]; oh0 += BAND) {
    int64_t oh1 = oh0 + BAND < g->w.out[1] ? oh0 + BAND : g->w.out[1];
    for (int64_t b = 0; b < nqb; b++) block_rows(jb, m0, q0 + b * QB, oh0, oh1, sums[b]);
  }
  for (int i = 0; i < MB && m0 + i < g->cout; i++)
    for (int64_t q = q0; q < q1; q++) {
      float s = _mm512_reduce_add_ps(sums[(q - q0) / QB][i][(q - q0) % QB]);
      float *o = jb->dw + (m0 + i) * kdim + q;
      *o = jb->accumulate ? *o + s : s;
    }
}

static void channel_block(const direct_job *jb, int64_t m0) {
  int64_t kdim = jb->g->cg * jb->g->w.k_size;
  for (int64_t q0 = 0; q0 < kdim; q0 += PASS_KDIM)
    channel_pass(jb, m0, q0, q0 + PASS_KDIM < kdim ? q0 + PASS_KDIM : kdim);
}

/* The phase grid of this image, its channels split over the threads. */
static void fill_part(void *arg, int t, int threads) {
  const direct_job *jb = arg;
  int64_t cin = jb->g->cin;
  fill_phases(jb->g, &jb->r, jb->x, jb->xq, cin * t / threads, cin * (t + 1) / threads);
}

static void direct_part(void *arg, int t, int threads) {
  const direct_job *jb = arg;
  int64_t blocks = (jb->g->cout + MB - 1) / MB;
  for (int64_t b = blocks * t / threads; b < blocks * (t + 1) / threads; b++) channel_block(jb, b * MB);
}

snt_status snt_k_conv_backward_filter_direct(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *dy,
                                             float *dw, float *scratch) {
  direct_job jb = {.g = g, .r = grid_of(g), .xq = scratch, .dw = dw};
  const snt_k_win3 *w = &g->w;
  for (int64_t q = 0; q < g->cg * w->k_size; q++) {
    int64_t c = q / w->k_size, t = q % w->k_size, kh = t / w->k[2], kw = t % w->k[2];
    int64_t col = kw * w->dl[2];
    jb.off[q] = ((c * jb.r.s2 + col % jb.r.s2) * jb.r.hp + kh * w->dl[1]) * jb.r.wq + col / jb.r.s2;
  }
  for (int64_t n = 0; n < g->batch; n++) {
    jb.x = x + n * g->cin * w->in_size;
    snt_k_ctx_parallel(ctx, fill_part, &jb);
    jb.dy = dy + n * g->cout * w->out_size;
    jb.accumulate = n != 0;
    snt_k_ctx_parallel(ctx, direct_part, &jb);
  }
  return SNT_OK;
}
