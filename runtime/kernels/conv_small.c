/* Direct convolution, first made for layers with few input channels (the first layer of an
 * image model: 3 -> 32 3x3, 3 -> 64 7x7 stride 2), where the implicit GEMM's K is 27-147 and
 * packing its B strips costs as much as the products; it also beats the GEMM on stride-1 convs
 * of a few more channels, and on grouped convs of few channels per group (snt_k_conv_small_applies).
 * Each thread copies the input rows an output row
 * needs into a ring of "phase rows" (padded, and split by the horizontal stride: phase p holds
 * padded columns p, p + s, p + 2s, ...), so every tap of an output-column vector is one
 * unaligned load without masks; a register tile of MO output channels x NV vectors of 16 output
 * columns sums the taps in (channel, kh, kw) order, the GEMM's k order, with broadcast weights
 * arranged at load (snt_k_conv_small_pack) or per call; bias, residual and activation are
 * applied in registers before the store. Layers with many taps whose rows fill column vectors
 * badly take channel-vector tiles instead (use_cvec): 16 output channels of one column a
 * register, the same sums in the same order, transposed to the planes. AVX-512 only; output rows
 * go to threads, each computed the same way whatever the thread count. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "act_pass.h"
#include "act_avx512.h"
#include "conv_impl.h"
#include "pool_impl.h"

#define AVX512 __attribute__((target("avx512f")))

enum {
  MO = 8,          /* output channels per register tile */
  NV = 3,          /* 16-column vectors per register tile (24 accumulators) */
  VW = 16,
  MAX_K = 16,      /* kernel width: the tap offset table */
  MAX_RING = 64,   /* rows of the ring per channel: (kh - 1) * dilation + 1 */
  /* taps: see snt_k_conv_small_applies */
  FIRST_LAYER_TAPS = 160, STRIDE1_TAPS = 288, TRAINING_STRIDE1_TAPS = 576, STRIDED_TAPS = 400,
  ARRANGED_SLOT = 1, /* the arranged weights (conv.c's packed-weights slot: unused on this path) */
  PAIR_SLOT = 3,     /* per thread, with a fused 2x2 max pool: two output rows of every channel */
  RING_SLOT = SNT_K_SCRATCH_GEMM, /* per thread (this path never runs the GEMM) */
  TEAM_MAX = 64, /* ctx.c's cap on threads */
  BAND_BYTES = 256 * 1024, /* a band of output rows pooled as it is made (snt_k_conv_maxpool): L2's share */
  MAX_GROUP_CHANNELS = 64, /* input channels per group of a grouped conv taken here */
  MIN_GROUPED_WIDTH = 7,    /* output columns of a grouped conv taken here */
  CB = 64,         /* output channels per block of the channel-vector tiles */
  NP_MAX = 12,     /* output columns per channel-vector tile, at most */
  CVEC_TAPS = 64   /* taps from which channel-vector tiles are used (see use_cvec) */
};

/* 1-D or 2-D, one group, a window of more than one tap (1x1 convs read the image in place as the
 * GEMM's B), strides and dilations up to 4, rows of at least a vector. Taps (cin x kh x kw)
 * from CPU time against the implicit GEMM, both with weights packed at load, interleaved:
 * first layers 1.3-1.7x faster (3 -> 32 3x3, 3 -> 64 7x7 stride 2, 3 -> 64 11x11 stride 4 at
 * 363 taps), stride 1 1.15-1.6x up to 288 taps (16 -> 32, 32 -> 64), but from 576 taps a tie
 * or a loss on 2 threads (64 -> 64 1.08x, 64 -> 128 0.97x, 128 -> 128 0.91x at 1152). In BF16
 * the GEMM's halved products win beyond the first layers. Training (batch 32, weights arranged
 * per call, no Winograd to take 3x3 stride 1 first) up to 576 taps: SimpleCNN's 64 -> 128 on
 * 56x56 43-51 against 51-61 ms a step, the data gradient of its 32 -> 64 on 112x112 as the
 * flipped 64 -> 32 40-48 against 60-77 ms, ResNet50V2's 64 -> 64 on 56x56 with its data
 * gradient 87-105 against 120-129 ms; at 1152 taps (128 -> 128 on 28x28) a tie or a loss. */
int snt_k_conv_small_applies(const snt_k_conv3 *g, int bf16, int training) {
  const snt_k_win3 *w = &g->w;
  if (w->in[0] != 1 || w->k[0] != 1 || w->out[0] != 1) return 0;
  /* Grouped convs with few channels per group: as GEMMs their M (mg) and K (cg taps) are too
   * small to fill a register tile, here each group is a few tiles. Depthwise has its own path. */
  if (g->groups > 1 && (g->cg == 1 || g->cg > MAX_GROUP_CHANNELS)) return 0;
  if (g->groups == 1 && w->k[1] * w->k[2] == 1) return 0;
  int64_t taps = g->cg * w->k[1] * w->k[2];
  int64_t stride1 = training ? TRAINING_STRIDE1_TAPS : STRIDE1_TAPS;
  int64_t most = bf16 ? FIRST_LAYER_TAPS : w->s[1] == 1 && w->s[2] == 1 ? stride1 : STRIDED_TAPS;
  if (taps > most || w->k[2] > MAX_K || (w->k[1] - 1) * w->dl[1] + 1 > MAX_RING) return 0;
  for (int i = 1; i < 3; i++)
    if (w->s[i] > 4 || w->dl[i] > 4) return 0;
  /* Rows narrower than a vector waste lanes, but a grouped conv's GEMMs waste more. */
  return w->out[2] >= (g->groups > 1 ? MIN_GROUPED_WIDTH : VW);
}

/* The geometry of one call, with the ring's layout. */
typedef struct small_geo {
  int64_t batch, cin, cout, kh, kw, sh, sw, dh, dw, ph, pw, in_h, in_w, out_h, out_w;
  int64_t groups, cg, mg; /* groups, and input / output channels per group */
  int64_t ring;      /* rows per channel in the ring */
  int64_t q;         /* floats per phase row */
  int64_t row;       /* floats per ring row: sw phase rows */
  int64_t taps, blocks, block_chans; /* output channels a block of arranged weights holds: MO or CB */
  int cvec;          /* channel-vector tiles (blocks of CB output channels) instead of column vectors */
  int64_t buf_rows;  /* with cvec: output columns the per-thread row buffer holds */
  int64_t off[MAX_K]; /* tap kw's column offset in a ring row */
} small_geo;

/* Channel-vector tiles hold 16 output channels of one column per register, so every column
 * counts whatever the row's width, where column vectors waste lanes past it (an 11x11 stride-4
 * stem's 55 columns fill 55 of 64); but their sums go through a 16 x 16 transpose to the planes,
 * paid once per output, which only many taps hide (3 -> 32 3x3 at full width: 0.70 against
 * 0.58 ms). Taken from CVEC_TAPS taps when the lanes they fill beat the column tiles' by 8%
 * (AlexNet's stem 0.81-0.86 against 0.88-0.93 ms, 6 alternations, 1 thread). */
static int use_cvec(const snt_k_conv3 *g) {
  int64_t w = g->w.out[2], m = g->mg, taps = g->cg * g->w.k[1] * g->w.k[2];
  double cols = (double)w / (double)((w + VW - 1) / VW * VW) * (double)m / (double)((m + MO - 1) / MO * MO);
  double chans = (double)m / (double)((m / CB) * CB + (m % CB + VW - 1) / VW * VW);
  return g->groups == 1 && taps >= CVEC_TAPS && chans >= 1.08 * cols;
}

static int64_t block_chans(int cvec) { return cvec ? CB : MO; }

/* Columns of a channel-vector tile of mcv vectors: 24 accumulators, at most NP_MAX columns. */
static inline int tile_cols(int mcv) { return 24 / mcv < NP_MAX ? 24 / mcv : NP_MAX; }

static void geo_init(const snt_k_conv3 *g, small_geo *s) {
  const snt_k_win3 *w = &g->w;
  *s = (small_geo){.batch = g->batch, .cin = g->cin, .cout = g->cout, .kh = w->k[1], .kw = w->k[2],
                   .sh = w->s[1], .sw = w->s[2], .dh = w->dl[1], .dw = w->dl[2], .ph = w->pb[1], .pw = w->pb[2], .in_h = w->in[1],
                   .in_w = w->in[2], .out_h = w->out[1], .out_w = w->out[2], .groups = g->groups, .cg = g->cg,
                   .mg = g->mg};
  s->ring = (s->kh - 1) * s->dh + 1;
  s->cvec = use_cvec(g);
  /* Loads reach column round_up(out_w, 16) - 1 + the largest tap offset within a phase; a
   * channel-vector tile's last columns up to NP_MAX - 1 past the row. */
  int64_t reach = (s->out_w + VW - 1) / VW * VW + (s->kw - 1) * s->dw / s->sw + 1 + (s->cvec ? NP_MAX : 0);
  s->q = (reach + VW - 1) / VW * VW;
  s->row = s->sw * s->q;
  s->taps = s->cg * s->kh * s->kw;
  s->block_chans = block_chans(s->cvec);
  s->blocks = (s->mg + s->block_chans - 1) / s->block_chans; /* per group */
  s->buf_rows = s->cvec ? (s->out_w + NP_MAX + VW - 1) / VW * VW : 0;
  for (int64_t k = 0; k < s->kw; k++) s->off[k] = (k * s->dw) % s->sw * s->q + k * s->dw / s->sw;
}

/* wa[group][block][c][kh][kw][MO] = w[group * mg + block * MO + o][c][kh][kw], 0 past the
 * group's mg channels. */
static void arrange_weights(const small_geo *s, const float *w, float *wa) {
  if (s->cvec) { /* wa[block][c][kh][kw][CB] */
    for (int64_t b = 0; b < s->blocks; b++)
      for (int64_t t = 0; t < s->taps; t++)
        for (int o = 0; o < CB; o++) {
          int64_t m = b * CB + o;
          wa[(b * s->taps + t) * CB + o] = m < s->mg ? w[m * s->taps + t] : 0.0f;
        }
    return;
  }
  for (int64_t gb = 0; gb < s->groups * s->blocks; gb++)
    for (int64_t t = 0; t < s->taps; t++)
      for (int o = 0; o < MO; o++) {
        int64_t grp = gb / s->blocks, m = gb % s->blocks * MO + o;
        wa[(gb * s->taps + t) * MO + o] = m < s->mg ? w[(grp * s->mg + m) * s->taps + t] : 0.0f;
      }
}

static inline __mmask16 lanes(int64_t n) {
  return n >= VW ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* dst[i] = src[start + i * step] for i < n where that lies in [0, limit), else 0. */
AVX512 static void fill_phase(float *dst, const float *src, int64_t start, int64_t step, int64_t n, int64_t limit) {
  int64_t lo, hi;
  snt_k_valid_range(start, step, n, limit, &lo, &hi);
  memset(dst, 0, (size_t)lo * sizeof(float));
  if (step == 1) {
    memcpy(dst + lo, src + start + lo, (size_t)(hi - lo) * sizeof(float));
  } else if (step == 2) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int64_t i = lo; i < hi; i += VW) {
      int64_t m = hi - i < VW ? hi - i : VW, c = start + 2 * i; /* reads columns [c, c + 2m - 1) */
      __m512 a = _mm512_maskz_loadu_ps(lanes(2 * m - 1), src + c);
      __m512 b = _mm512_maskz_loadu_ps(lanes(2 * m - 1 - VW), src + c + VW);
      _mm512_mask_storeu_ps(dst + i, lanes(m), _mm512_permutex2var_ps(a, even, b));
    }
  } else {
    for (int64_t i = lo; i < hi; i++) dst[i] = src[start + i * step];
  }
  memset(dst + hi, 0, (size_t)(n - hi) * sizeof(float));
}

typedef struct small_job {
  const small_geo *s;
  const float *x, *wa;
  const snt_k_conv_epi *e;
  float *y;
  float **rings;
  float **pairs; /* with e->pool2: two output rows; with e->pool: a band of output rows */
  int64_t band;  /* with e->pool: pooled rows per band */
} small_job;

/* One thread's state: its ring and which image row each ring row holds (-1: none). */
typedef struct ring_state {
  float *buf;
  float *cols; /* with cvec: buf_rows x CB output values of one block, column-major, then 16 rows
                * of buf_rows (store_block) */
  int64_t held[MAX_RING];
} ring_state;

/* Makes ring rows hold input row ih of image n for every channel. */
static void load_row(const small_job *j, ring_state *r, int64_t n, int64_t ih) {
  const small_geo *s = j->s;
  int64_t slot = ih % s->ring, key = n * s->in_h + ih;
  if (r->held[slot] == key) return;
  r->held[slot] = key;
  for (int64_t c = 0; c < s->cin; c++) {
    const float *src = j->x + ((n * s->cin + c) * s->in_h + ih) * s->in_w;
    float *dst = r->buf + (c * s->ring + slot) * s->row;
    for (int64_t p = 0; p < s->sw; p++) fill_phase(dst + p * s->q, src, p - s->pw, s->sw, s->q, s->in_w);
  }
}


/* What a tile reads and writes: ring rows [rows[0], rows[n_rows]) of the group's channel 0 (a channel's
 * rows are ring * row floats apart), the block's arranged weights from tap kh_lo, the output
 * corner (output channel block * MO, row h, column j0) and how many columns and channels count. */
typedef struct tile_args {
  const float *ring;
  const int64_t *rows; /* ring offsets of the valid kh taps' rows */
  int n_rows;
  int64_t kh_lo;
  const float *wa;
  float *y;
  const float *res;
  const float *bias; /* at the block's first channel, or NULL */
  int64_t plane, j0, cols, chans;
} tile_args;

AVX512 static inline __attribute__((always_inline)) void tile(const small_job *j, const tile_args *a, int nv, int KW) {
  const small_geo *s = j->s;
  const int64_t kw = KW ? KW : s->kw;
  __m512 acc[MO][NV];
#pragma GCC unroll 8
  for (int o = 0; o < MO; o++)
#pragma GCC unroll 3
    for (int v = 0; v < nv; v++) acc[o][v] = _mm512_setzero_ps();
  for (int64_t c = 0; c < s->cg; c++) {
    const float *rc = a->ring + c * s->ring * s->row;
    const float *wc = a->wa + (c * s->kh + a->kh_lo) * kw * MO;
    for (int r = 0; r < a->n_rows; r++, wc += kw * MO) {
      const float *xr = rc + a->rows[r] + a->j0;
#pragma GCC unroll 3
      for (int64_t k = 0; k < kw; k++) {
        const float *xp = xr + s->off[k], *wk = wc + k * MO;
        __m512 xv[NV];
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) xv[v] = _mm512_loadu_ps(xp + v * VW);
#pragma GCC unroll 8
        for (int o = 0; o < MO; o++) {
          __m512 wv = _mm512_set1_ps(wk[o]);
#pragma GCC unroll 3
          for (int v = 0; v < nv; v++) acc[o][v] = _mm512_fmadd_ps(xv[v], wv, acc[o][v]);
        }
      }
    }
  }
  const snt_k_act *act = &j->e->act;
  __m512 t[MO * NV]; /* the tile's values, then the exp-based activations on all of them at once */
#pragma GCC unroll 8
  for (int o = 0; o < MO; o++) {
    if (o >= a->chans) break;
    __m512 b = _mm512_set1_ps(a->bias ? a->bias[o] : 0.0f);
#pragma GCC unroll 3
    for (int v = 0; v < nv; v++) {
      __m512 x = acc[o][v];
      if (a->bias) x = _mm512_add_ps(x, b);
      if (a->res) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(lanes(a->cols - v * VW), a->res + o * a->plane + v * VW));
      t[o * nv + v] = x;
    }
  }
  const int pass = snt_k_act_needs_pass(act); /* else the store's cheap kinds */
  if (pass) snt_k_act_vecs512(act, t, (int)((a->chans < MO ? a->chans : MO) * nv));
#pragma GCC unroll 8
  for (int o = 0; o < MO; o++) {
    if (o >= a->chans) break;
#pragma GCC unroll 3
    for (int v = 0; v < nv; v++) {
      __m512 x = pass ? t[o * nv + v] : snt_k_act_vec512(t[o * nv + v], act);
      float *out = a->y + o * a->plane + v * VW;
      if (a->cols - v * VW >= VW) _mm512_storeu_ps(out, x); /* measured: beats a masked store */
      else _mm512_mask_storeu_ps(out, lanes(a->cols - v * VW), x);
    }
  }
}

AVX512 static void tile3(const small_job *j, const tile_args *a) { tile(j, a, 3, 0); }
AVX512 static void tile2(const small_job *j, const tile_args *a) { tile(j, a, 2, 0); }
AVX512 static void tile1(const small_job *j, const tile_args *a) { tile(j, a, 1, 0); }
/* 3-wide kernels (the most common first layers) with their tap loop unrolled */
AVX512 static void tile3_k3(const small_job *j, const tile_args *a) { tile(j, a, 3, 3); }
AVX512 static void tile2_k3(const small_job *j, const tile_args *a) { tile(j, a, 2, 3); }
AVX512 static void tile1_k3(const small_job *j, const tile_args *a) { tile(j, a, 1, 3); }

/* Channel-vector tile: np output columns from x0 of one block's mcv x 16 output channels, each
 * tap one broadcast input value per column and mcv weight vectors; the sums go to
 * cols[x][CB], column x - x0 at out. */
AVX512 static inline __attribute__((always_inline)) void ctile(const small_geo *s, const float *ring, const int64_t *rows,
                                                               int n_rows, const float *wa, int64_t x0, float *out,
                                                               int mcv, int np) {
  __m512 acc[4][NP_MAX];
#pragma GCC unroll 4
  for (int v = 0; v < mcv; v++)
#pragma GCC unroll 12
    for (int p = 0; p < np; p++) acc[v][p] = _mm512_setzero_ps();
  for (int64_t c = 0; c < s->cin; c++) {
    const float *rc = ring + c * s->ring * s->row;
    const float *wc = wa + c * s->kh * s->kw * CB;
    for (int r = 0; r < n_rows; r++, wc += s->kw * CB) {
      const float *xr = rc + rows[r] + x0;
      for (int64_t k = 0; k < s->kw; k++) {
        const float *xp = xr + s->off[k], *wk = wc + k * CB;
        __m512 wv[4];
#pragma GCC unroll 4
        for (int v = 0; v < mcv; v++) wv[v] = _mm512_loadu_ps(wk + v * VW);
#pragma GCC unroll 12
        for (int p = 0; p < np; p++) {
          __m512 xb = _mm512_set1_ps(xp[p]);
#pragma GCC unroll 4
          for (int v = 0; v < mcv; v++) acc[v][p] = _mm512_fmadd_ps(wv[v], xb, acc[v][p]);
        }
      }
    }
  }
#pragma GCC unroll 12
  for (int p = 0; p < np; p++)
#pragma GCC unroll 4
    for (int v = 0; v < mcv; v++) _mm512_store_ps(out + p * CB + v * VW, acc[v][p]);
}

AVX512 static void ctile4(const small_geo *s, const float *ring, const int64_t *rows, int n, const float *wa, int64_t x0,
                          float *out) { ctile(s, ring, rows, n, wa, x0, out, 4, tile_cols(4)); }
AVX512 static void ctile3(const small_geo *s, const float *ring, const int64_t *rows, int n, const float *wa, int64_t x0,
                          float *out) { ctile(s, ring, rows, n, wa, x0, out, 3, tile_cols(3)); }
AVX512 static void ctile2(const small_geo *s, const float *ring, const int64_t *rows, int n, const float *wa, int64_t x0,
                          float *out) { ctile(s, ring, rows, n, wa, x0, out, 2, tile_cols(2)); }
AVX512 static void ctile1(const small_geo *s, const float *ring, const int64_t *rows, int n, const float *wa, int64_t x0,
                          float *out) { ctile(s, ring, rows, n, wa, x0, out, 1, tile_cols(1)); }

AVX512 static inline __m512 unpacklo64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
AVX512 static inline __m512 unpackhi64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

/* r[i][k] -> r[k][i] for a 16 x 16 block: 32-bit, then 64-bit unpacks within 128-bit lanes, then
 * two rounds of lane shuffles. */
AVX512 static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) { /* r[4i + j]: lane L holds column 4L + j of rows 4i .. 4i + 3 */
    r[4 * i] = unpacklo64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = unpackhi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = unpacklo64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = unpackhi64(t[4 * i + 1], t[4 * i + 3]);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; j++) {
    t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
    t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
  }
#pragma GCC unroll 8
  for (int j = 0; j < 8; j++) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
  }
}

/* One block's chans output channels from cols[x][CB] to their rows (dst, plane floats apart), with
 * bias, residual (res, res_plane apart) and activation: 16 channels at a time transposed into
 * rows[16][buf_rows], then each channel's row stored in order (storing a transposed 16 x 16 block
 * straight away writes 16 planes at once, whose rows at a plane size of a multiple of 4 KB share
 * an L1 set: 2.4x slower for SimpleCNN's first layer). */
AVX512 static void store_block(const small_job *j, const float *cols, float *rows, int64_t chans, float *dst, int64_t plane,
                               const float *res, int64_t res_plane, const float *bias) {
  const snt_k_act *act = &j->e->act;
  int64_t w = j->s->out_w, stride = j->s->buf_rows;
  for (int64_t v = 0; v * VW < chans; v++) {
    for (int64_t x0 = 0; x0 < w; x0 += VW) {
      __m512 t[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++) t[i] = _mm512_load_ps(cols + (x0 + i) * CB + v * VW);
      transpose16(t);
#pragma GCC unroll 16
      for (int k = 0; k < 16; k++) _mm512_store_ps(rows + k * stride + x0, t[k]);
    }
    for (int64_t k = 0; k < VW && v * VW + k < chans; k++) {
      int64_t o = v * VW + k;
      __m512 b = _mm512_set1_ps(bias ? bias[o] : 0.0f);
      for (int64_t x0 = 0; x0 < w; x0 += VW) {
        __mmask16 m = lanes(w - x0);
        __m512 y = _mm512_load_ps(rows + k * stride + x0);
        if (bias) y = _mm512_add_ps(y, b);
        if (res) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, res + o * res_plane + x0));
        y = snt_k_act_all512(y, act);
        if (w - x0 >= VW) _mm512_storeu_ps(dst + o * plane + x0, y);
        else _mm512_mask_storeu_ps(dst + o * plane + x0, m, y);
      }
    }
  }
}

/* output_row's channel-vector form: per block of CB output channels, the row's columns in tiles
 * into the thread's column buffer, then to the planes. */
static void output_row_cvec(const small_job *j, ring_state *r, const int64_t *rows, int n_rows, int64_t kh_lo, int64_t n,
                            int64_t h, float *dst, int64_t plane) {
  const small_geo *s = j->s;
  int64_t res_plane = s->out_h * s->out_w;
  for (int64_t b = 0; b < s->blocks; b++) {
    int64_t oc = b * CB, chans = s->cout - oc < CB ? s->cout - oc : CB;
    int mcv = (int)((chans + VW - 1) / VW), np = tile_cols(mcv);
    const float *wa = j->wa + (b * s->taps + kh_lo * s->kw) * CB;
    for (int64_t x0 = 0; x0 < s->out_w; x0 += np) {
      float *out = r->cols + x0 * CB;
      if (mcv == 4) ctile4(s, r->buf, rows, n_rows, wa, x0, out);
      else if (mcv == 3) ctile3(s, r->buf, rows, n_rows, wa, x0, out);
      else if (mcv == 2) ctile2(s, r->buf, rows, n_rows, wa, x0, out);
      else ctile1(s, r->buf, rows, n_rows, wa, x0, out);
    }
    const float *res = j->e->residual ? j->e->residual + (n * s->cout + oc) * res_plane + h * s->out_w : NULL;
    store_block(j, r->cols, r->cols + s->buf_rows * CB, chans, dst + oc * plane, plane, res, res_plane, j->e->bias ? j->e->bias + oc : NULL);
  }
}

/* Output row h of image n, every output channel, to dst (channel 0's row; channels plane
 * floats apart). */
static void output_row(const small_job *j, ring_state *r, int64_t n, int64_t h, float *dst, int64_t plane) {
  const small_geo *s = j->s;
  int64_t rows[MAX_RING], kh_lo = -1;
  int n_rows = 0;
  for (int64_t k = 0; k < s->kh; k++) {
    int64_t ih = h * s->sh - s->ph + k * s->dh;
    if (ih < 0 || ih >= s->in_h) continue;
    if (kh_lo < 0) kh_lo = k;
    load_row(j, r, n, ih);
    rows[n_rows++] = ih % s->ring * s->row;
  }
  if (s->cvec) {
    output_row_cvec(j, r, rows, n_rows, kh_lo < 0 ? 0 : kh_lo, n, h, dst, plane);
    return;
  }
  for (int64_t gb = 0; gb < s->groups * s->blocks; gb++) {
    int64_t grp = gb / s->blocks, m0 = gb % s->blocks * MO, oc = grp * s->mg + m0;
    int64_t at = (n * s->cout + oc) * s->out_h * s->out_w + h * s->out_w; /* the residual's (y's layout) */
    tile_args a = {r->buf + grp * s->cg * s->ring * s->row, rows, n_rows, kh_lo < 0 ? 0 : kh_lo,
                   j->wa + gb * s->taps * MO, dst + oc * plane, j->e->residual ? j->e->residual + at : NULL,
                   j->e->bias ? j->e->bias + oc : NULL, plane, 0, 0, s->mg - m0 < MO ? s->mg - m0 : MO};
    /* The row's vectors spread evenly over the fewest tiles (7: 3 + 2 + 2, not 3 + 3 + 1). */
    int64_t vecs = (s->out_w + VW - 1) / VW, tiles = (vecs + NV - 1) / NV;
    for (int64_t t = 0, j0 = 0; t < tiles; t++) {
      int64_t nv = (vecs - j0 / VW) / (tiles - t) + ((vecs - j0 / VW) % (tiles - t) != 0);
      a.j0 = j0;
      a.cols = s->out_w - j0;
      if (s->kw == 3) nv == 3 ? tile3_k3(j, &a) : nv == 2 ? tile2_k3(j, &a) : tile1_k3(j, &a);
      else if (nv == 3) tile3(j, &a);
      else if (nv == 2) tile2(j, &a);
      else tile1(j, &a);
      a.y += nv * VW;
      if (a.res) a.res += nv * VW;
      j0 += nv * VW;
    }
  }
}

/* dst[i] = max of the 2x2 window at (0, 2i) of rows r0, r1, for i < n, its taps in snt_k_pool's
 * order (row-major, a later one only when strictly greater: maxps(v, m)). */
AVX512 static void pool2_row(const float *r0, const float *r1, int64_t n, float *dst) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int64_t i = 0; i < n; i += VW) {
    int64_t m = n - i < VW ? n - i : VW;
    __mmask16 lo = lanes(2 * m), hi = lanes(2 * m - VW);
    __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * i), b0 = _mm512_maskz_loadu_ps(hi, r0 + 2 * i + VW);
    __m512 a1 = _mm512_maskz_loadu_ps(lo, r1 + 2 * i), b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * i + VW);
    __m512 v = _mm512_permutex2var_ps(a0, even, b0);
    v = _mm512_max_ps(_mm512_permutex2var_ps(a0, odd, b0), v);
    v = _mm512_max_ps(_mm512_permutex2var_ps(a1, even, b1), v);
    v = _mm512_max_ps(_mm512_permutex2var_ps(a1, odd, b1), v);
    _mm512_mask_storeu_ps(dst + i, lanes(m), v);
  }
}

/* Pooled row p of image n: output rows 2p and 2p + 1 into the thread's pair buffer, pooled
 * from there while they are in cache. */
static void pooled_row(const small_job *j, ring_state *r, float *pair, int64_t n, int64_t p) {
  const small_geo *s = j->s;
  int64_t ph = s->out_h / 2, pw = s->out_w / 2;
  output_row(j, r, n, 2 * p, pair, 2 * s->out_w);
  output_row(j, r, n, 2 * p + 1, pair + s->out_w, 2 * s->out_w);
  for (int64_t c = 0; c < s->cout; c++)
    pool2_row(pair + c * 2 * s->out_w, pair + c * 2 * s->out_w + s->out_w, pw,
              j->e->pool2 + ((n * s->cout + c) * ph + p) * pw);
}

/* Output rows a band of bp pooled rows reads: (bp - 1) strides and one window. */
static int64_t band_cap(const snt_k_pool_desc *p, int64_t bp) {
  return (bp - 1) * p->stride[0] + (p->kernel[0] - 1) * p->dilation[0] + 1;
}

/* Output rows a band buffer holds: band_cap, never more than the map (huge pads). */
static int64_t band_held(const small_geo *s, const snt_k_pool_desc *p, int64_t bp) {
  int64_t c = band_cap(p, bp);
  return c < s->out_h ? c : s->out_h;
}

/* Pooled rows per band: as many as keep the band's output rows, every channel, in BAND_BYTES. */
static int64_t band_rows(const small_geo *s, const snt_k_pool_desc *p) {
  int64_t per_row = s->cout * s->out_w * (int64_t)sizeof(float), fit = BAND_BYTES / per_row;
  int64_t bp = (fit - band_cap(p, 1)) / p->stride[0] + 1;
  return bp < 1 ? 1 : bp > p->out[0] ? p->out[0] : bp;
}

/* Pooled rows [p0, p1) of image n: each band's output rows go to buf (every channel, planes of
 * band_cap rows) and are pooled there by pool.c's own code, the band's windows described as a
 * pool of those rows (the image's padding only where the band meets the image's edge), so the
 * bits are the pool's. Rows two bands share are moved up, not computed again. */
static void pooled_band_rows(const small_job *j, ring_state *r, float *buf, int64_t n, int64_t p0, int64_t p1) {
  const small_geo *s = j->s;
  const snt_k_pool_desc *p = j->e->pool;
  int64_t st = p->stride[0], pt = p->pad_begin[0], plane = band_held(s, p, j->band) * s->out_w;
  int64_t h0 = 0, h1 = 0; /* the output rows buf holds */
  for (int64_t pa = p0; pa < p1; pa += j->band) {
    int64_t pb = pa + j->band < p1 ? pa + j->band : p1;
    int64_t r0 = pa * st - pt, r1 = (pb - 1) * st - pt + band_cap(p, 1);
    r0 = r0 < 0 ? 0 : r0 > s->out_h ? s->out_h : r0;
    r1 = r1 > s->out_h ? s->out_h : r1 < r0 ? r0 : r1;
    int64_t next = r0;
    if (r0 < h1 && r0 >= h0) { /* rows [r0, h1) are there already, (r0 - h0) rows down */
      next = h1 < r1 ? h1 : r1;
      size_t bytes = (size_t)((next - r0) * s->out_w) * sizeof(float);
      for (int64_t c = 0; r0 > h0 && c < s->cout; c++)
        memmove(buf + c * plane, buf + c * plane + (r0 - h0) * s->out_w, bytes);
    }
    for (int64_t h = next; h < r1; h++) output_row(j, r, n, h, buf + (h - r0) * s->out_w, plane);
    h0 = r0, h1 = r1;
    snt_k_pool_desc d = *p;
    d.batch = 1;
    d.in[0] = r1 - r0, d.out[0] = pb - pa;
    d.pad_begin[0] = r0 - (pa * st - pt), d.pad_end[0] = r1 == s->out_h ? p->pad_end[0] : 0;
    snt_k_pool_local(SNT_K_ISA_AVX512, &d, j->e->pool_fill, buf, plane,
                     j->e->pooled + (n * s->cout * p->out[0] + pa) * p->out[1], p->out[0] * p->out[1]);
  }
}

static void small_part(void *arg, int t, int threads) {
  const small_job *j = arg;
  const small_geo *s = j->s;
  ring_state r;
  r.buf = j->rings[t];
  r.cols = r.buf + s->cin * s->ring * s->row; /* a multiple of 16 floats: 64-byte aligned */
  for (int i = 0; i < MAX_RING; i++) r.held[i] = -1;
  if (j->e->pool) { /* pooled rows of the batch go to threads; a thread's rows in bands per image */
    int64_t ph = j->e->pool->out[0], q0 = s->batch * ph * t / threads, q1 = s->batch * ph * (t + 1) / threads;
    for (int64_t n = q0 / ph; q0 < q1; n++) {
      int64_t end = (n + 1) * ph < q1 ? (n + 1) * ph : q1;
      pooled_band_rows(j, &r, j->pairs[t], n, q0 - n * ph, end - n * ph);
      q0 = end;
    }
    return;
  }
  if (j->e->pool2) {
    int64_t rows = s->batch * (s->out_h / 2);
    for (int64_t i = rows * t / threads; i < rows * (t + 1) / threads; i++)
      pooled_row(j, &r, j->pairs[t], i / (s->out_h / 2), i % (s->out_h / 2));
    return;
  }
  int64_t rows = s->batch * s->out_h, plane = s->out_h * s->out_w;
  for (int64_t i = rows * t / threads; i < rows * (t + 1) / threads; i++) {
    int64_t n = i / s->out_h, h = i % s->out_h;
    output_row(j, &r, n, h, j->y + n * s->cout * plane + h * s->out_w, plane);
  }
}

/* A ring per thread in ctx's RING_SLOT, a pair buffer per thread in PAIR_SLOT when pooling,
 * and, when the weights were not arranged at load, their arrangement in ARRANGED_SLOT; without
 * ctx, one block of our own (*own, freed by the caller). */
static snt_status buffers(snt_k_ctx *ctx, const small_geo *s, int need_wa, size_t pair_bytes, float **wa,
                          float **rings, float **pairs, void **own) {
  size_t wa_bytes = need_wa ? (size_t)(s->groups * s->blocks * s->taps * s->block_chans) * sizeof(float) : 0;
  size_t ring_bytes = (size_t)(s->cin * s->ring * s->row + s->buf_rows * (CB + VW)) * sizeof(float);
  int pool = pair_bytes > 0;
  *own = NULL;
  if (!ctx) {
    size_t first = (wa_bytes + 63) / 64 * 64, second = (ring_bytes + 63) / 64 * 64;
    if (!(*own = aligned_alloc(64, first + second + (pair_bytes + 63) / 64 * 64 + 64))) return SNT_ERR_NOMEM;
    if (need_wa) *wa = *own;
    rings[0] = (float *)((char *)*own + first);
    pairs[0] = (float *)((char *)*own + first + second);
    return SNT_OK;
  }
  if (need_wa && !(*wa = snt_k_ctx_scratch(ctx, ARRANGED_SLOT, 0, wa_bytes))) return SNT_ERR_NOMEM;
  for (int t = 0; t < snt_k_ctx_threads(ctx); t++) {
    if (!(rings[t] = snt_k_ctx_scratch(ctx, RING_SLOT, t, ring_bytes))) return SNT_ERR_NOMEM;
    if (pool && !(pairs[t] = snt_k_ctx_scratch(ctx, PAIR_SLOT, t, pair_bytes))) return SNT_ERR_NOMEM;
  }
  return SNT_OK;
}

size_t snt_k_conv_small_weights_bytes(const snt_k_conv3 *g) {
  int64_t bc = block_chans(use_cvec(g)), floats, chans = (g->mg + bc - 1) / bc * bc;
  if (__builtin_mul_overflow(g->groups * chans, g->cg * g->w.k_size, &floats) ||
      (uint64_t)floats > SIZE_MAX / sizeof(float))
    return SIZE_MAX;
  return (size_t)floats * sizeof(float);
}

void snt_k_conv_small_pack(const snt_k_conv3 *g, const float *w, float *packed) {
  small_geo s;
  geo_init(g, &s);
  arrange_weights(&s, w, packed);
}

snt_status snt_k_conv_small(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w,
                            const float *packed, const snt_k_conv_epi *e, float *y) {
  small_geo s;
  geo_init(g, &s);
  float *wa = NULL, *rings[TEAM_MAX], *pairs[TEAM_MAX] = {NULL};
  void *own;
  int64_t band = e->pool ? band_rows(&s, e->pool) : 0;
  size_t pair_bytes = e->pool2 ? (size_t)(s.cout * 2 * s.out_w) * sizeof(float)
                      : e->pool ? (size_t)(s.cout * band_held(&s, e->pool, band) * s.out_w) * sizeof(float) : 0;
  snt_status st = buffers(ctx, &s, packed == NULL, pair_bytes, &wa, rings, pairs, &own);
  if (st == SNT_OK) {
    if (!packed) arrange_weights(&s, w, wa);
    small_job j = {&s, x, packed ? packed : wa, e, y, rings, pairs, band};
    snt_k_ctx_parallel(ctx, small_part, &j);
  }
  free(own);
  return st;
}
