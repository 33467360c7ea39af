/* Winograd convolution F(4x4, 3x3) for 3x3 stride-1 convs on AVX-512 (Lavin and Gray): each
 * 4x4 output tile is A^T [(G g G^T) . (B^T d B)] A over a 6x6 input tile d, 36 products per
 * (tile, cin, cout) instead of 144. Tiles of the whole batch are numbered (image, tile row,
 * tile column) and taken TB at a time, the 16-lane vectors of every step running over tiles:
 * per block, each channel's 6x6 tiles are gathered from the image rows (stride-4 phases by
 * permutes) and transformed into V[xi][c][tile]; then per block of OB output channels the 36
 * products M[xi] = U[xi]^T V[xi] run with U broadcast (R channels x 3 vectors of tiles in
 * registers), and the output transform writes NCHW with bias, residual and activation. U
 * (G g G^T, 4x the weights) is made once at load, or per call in ctx's scratch slot 1.
 * Blocks x channel blocks go to ctx's threads; every output is computed the same way
 * whatever the thread count. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "act_pass.h"
#include "act_avx512.h"
#include "conv_impl.h"

#define AVX512 __attribute__((target("avx512f")))

enum {
  VW = 16,
  NV = 3,          /* 16-tile vectors per block */
  TB = NV * VW,    /* tiles per block */
  R = 8,           /* output channels per register tile: R x NV accumulators */
  XI = 36,         /* points of a 6x6 tile */
  OB = 32,         /* output channels per block: their products wait in M (36 x OB x TB floats) */
  OL = TB + VW,    /* floats per output-phase row: the store reads 16 lanes from any tile */
  PL = TB + VW,    /* floats per input-point row: the gather writes 16 lanes at any tile */
  U_SLOT = 1,      /* transformed weights per call (conv.c's packed-weights slot) */
  BUF_SLOT = SNT_K_SCRATCH_GEMM, /* per thread (this path never runs the GEMM) */
  TEAM_MAX = 64,
  U_AHEAD = 512,   /* floats of U prefetched ahead: 256-512 best of 0-2048 (bench_conv --cold) */
  MIN_CIN = 16, MIN_TILES = 9, BF16_MAX_CIN = 256 /* see snt_k_conv_winograd_applies */
};

/* Whether F(4x4, 3x3) computes g: 2-D (or depth 1), one group, 3x3, stride and dilation 1. */
int snt_k_conv_winograd_shape(const snt_k_conv3 *g) {
  const snt_k_win3 *w = &g->w;
  if (g->groups != 1 || w->in[0] != 1 || w->k[0] != 1 || w->k[1] != 3 || w->k[2] != 3) return 0;
  for (int i = 1; i < 3; i++)
    if (w->s[i] != 1 || w->dl[i] != 1) return 0;
  return 1;
}

/* Whether it wins, from A/B runs interleaved in one process (2 threads, weights packed at
 * load, batch 1 and 32) against the direct, implicit-GEMM and small-map paths: 1.4-3x on the
 * seed models' 3x3 layers from 16 input channels and 14x14 maps up, 1.8x on 12x12 (9 tiles of
 * 4x4 outputs), a tie at 10x10 x 64 channels; a tie at 8 channels (the direct path keeps
 * those, and the first layers); on 7x7 maps (4 tiles an image) it loses at batch 1 (0.4-0.7x:
 * its weights are 4x larger) and wins only at 32, and the choice may not depend on the batch
 * (weights packed for one batch serve every smaller one). In BF16 (bf16 set) it still beats
 * the BF16 GEMM at 256 channels since U is prefetched (ResNet50V2's 14x14 stage, whole model
 * 4 alternations: batch 1 20.4-20.9 -> 19.7-20.5 ms, batch 32 435-439 -> 416-424 ms); 512 is
 * unmeasured and stays on the GEMM. */
int snt_k_conv_winograd_applies(const snt_k_conv3 *g, int bf16) {
  if (!snt_k_conv_winograd_shape(g) || g->cin < MIN_CIN || g->cout < R || (bf16 && g->cin > BF16_MAX_CIN)) return 0;
  return (g->w.out[1] + 3) / 4 * ((g->w.out[2] + 3) / 4) >= MIN_TILES;
}

/* ---- weights: U[xi][chunk][c][r] = (G g G^T)[xi] of output channel chunk * R + r ---------- */

static int64_t chunks_of(const snt_k_conv3 *g) { return (g->cout + R - 1) / R; }

size_t snt_k_conv_winograd_weights_bytes(const snt_k_conv3 *g) {
  int64_t floats;
  if (__builtin_mul_overflow(chunks_of(g) * R, g->cin, &floats) || __builtin_mul_overflow(floats, XI, &floats) ||
      (uint64_t)floats > SIZE_MAX / sizeof(float))
    return SIZE_MAX;
  return (size_t)floats * sizeof(float);
}

/* One (chunk, channel): the R channels' 3x3 kernels to 6x6, in double, rounded once. */
static void weights_one(const snt_k_conv3 *g, const float *w, int64_t chunk, int64_t c, float *u) {
  static const double G[6][3] = {{0.25, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  double k[9][R], t[6][3][R];
  for (int r = 0; r < R; r++) {
    int64_t co = chunk * R + r;
    for (int i = 0; i < 9; i++) k[i][r] = co < g->cout ? w[(co * g->cin + c) * 9 + i] : 0.0;
  }
  for (int i = 0; i < 6; i++)
    for (int b = 0; b < 3; b++)
      for (int r = 0; r < R; r++) t[i][b][r] = G[i][0] * k[b][r] + G[i][1] * k[3 + b][r] + G[i][2] * k[6 + b][r];
  int64_t stride = chunks_of(g) * g->cin * R; /* floats between xi */
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++)
      for (int r = 0; r < R; r++)
        u[(i * 6 + j) * stride + r] = (float)(t[i][0][r] * G[j][0] + t[i][1][r] * G[j][1] + t[i][2][r] * G[j][2]);
}

typedef struct weights_job {
  const snt_k_conv3 *g;
  const float *w;
  float *u;
} weights_job;

static void weights_part(void *arg, int t, int threads) {
  const weights_job *j = arg;
  int64_t total = chunks_of(j->g) * j->g->cin;
  for (int64_t i = total * t / threads; i < total * (t + 1) / threads; i++)
    weights_one(j->g, j->w, i / j->g->cin, i % j->g->cin, j->u + i * R);
}

void snt_k_conv_winograd_pack(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *w, float *u) {
  weights_job j = {g, w, u};
  snt_k_ctx_parallel(ctx, weights_part, &j);
}

/* ---- geometry ------------------------------------------------------------------------------ */

typedef struct wg_geo {
  int64_t batch, cin, cout, in_h, in_w, out_h, out_w, ph, pw;
  int64_t trows, tcols, tiles, blocks, chunks, coblocks;
} wg_geo;

static void geo_init(const snt_k_conv3 *g, wg_geo *s) {
  const snt_k_win3 *w = &g->w;
  *s = (wg_geo){.batch = g->batch, .cin = g->cin, .cout = g->cout, .in_h = w->in[1], .in_w = w->in[2],
                .out_h = w->out[1], .out_w = w->out[2], .ph = w->pb[1], .pw = w->pb[2]};
  s->trows = (s->out_h + 3) / 4;
  s->tcols = (s->out_w + 3) / 4;
  s->tiles = s->batch * s->trows * s->tcols;
  s->blocks = (s->tiles + TB - 1) / TB;
  s->chunks = chunks_of(g);
  s->coblocks = (s->chunks * R + OB - 1) / OB;
}

/* A run of at most 16 tiles of one tile row within a block: image n, tile row tr, first tile
 * column tc, m tiles, at lane `lane` of the block. */
typedef struct seg {
  int64_t n, tr, tc;
  int m, lane;
} seg;

/* The first tile of block b: TB apart, but the last two blocks share their vectors evenly (3 + 1
 * becomes 2 + 2), so that a map of 49 tiles and one channel block (128 -> 32 on 28x28) is not one
 * thread's 48 tiles and the other's 1. Lanes are independent: any split gives the same bits. */
static int64_t block_first(const wg_geo *s, int64_t b) {
  if (b >= s->blocks) return s->tiles;
  if (b < s->blocks - 1 || s->blocks < 2) return b * TB;
  int64_t left = (s->tiles - (s->blocks - 2) * TB + VW - 1) / VW; /* vectors of the last two */
  return (s->blocks - 2) * TB + (left + 1) / 2 * VW;
}

static int block_segs(const wg_geo *s, int64_t b, seg *out) {
  int64_t first = block_first(s, b), last = block_first(s, b + 1);
  int count = 0;
  for (int64_t t = first; t < last;) {
    int64_t tc = t % s->tcols, row = t / s->tcols, m = s->tcols - tc;
    if (m > VW) m = VW;
    if (m > last - t) m = last - t;
    out[count++] = (seg){row / s->trows, row % s->trows, tc, (int)m, (int)(t - first)};
    t += m;
  }
  return count;
}

static inline __mmask16 lanes16(int64_t lo, int64_t hi) {
  if (lo < 0) lo = 0;
  if (hi > VW) hi = VW;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* ---- input: tiles of one channel to V ------------------------------------------------------ */

/* Where a row's loads may read: [lo, hi) of x, the whole input. Zen's masked loads are slow
 * (conv_t.c): a vector wholly inside it is a plain load whose unwanted lanes a blend clears. */
typedef struct bounds {
  const float *lo, *hi;
} bounds;

AVX512 static inline __m512 load_lanes(const float *p, __mmask16 k, const bounds *bd) {
  if (k == 0xFFFF) return _mm512_loadu_ps(p);
  if (k == 0) return _mm512_setzero_ps();
  if (p >= bd->lo && p + VW <= bd->hi) {
    __m512 v = _mm512_loadu_ps(p);
    __asm__("" : "+v"(v)); /* else gcc folds the blend back into a masked load */
    return _mm512_maskz_mov_ps(k, v);
  }
  return _mm512_maskz_loadu_ps(k, p);
}

/* ph[p][t] = xr[col0 + 4t + p] for p < 6, t < m (0 outside [0, in_w) or for a padding row,
 * xr NULL). Columns col0 .. col0 + 4m + 1 come in five loads; phase p of tiles 0-7 is in the
 * first two, of tiles 8-15 in the next two; phases 4 and 5 are 0 and 1 one tile on. */
AVX512 static inline void row_phases(const float *xr, int64_t in_w, int64_t col0, int m, const bounds *bd,
                                     __m512 ph[6]) {
  if (!xr) {
    for (int p = 0; p < 6; p++) ph[p] = _mm512_setzero_ps();
    return;
  }
  __m512 a[5];
  int64_t need = 4 * (int64_t)m + 2;
  for (int i = 0; i < 5; i++) {
    int64_t s = col0 + VW * i;
    a[i] = load_lanes(xr + s, lanes16(-s, in_w - s) & lanes16(0, need - VW * i), bd);
  }
  const __m512i base = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
  for (int p = 0; p < 4; p++) {
    __m512i idx = _mm512_add_epi32(base, _mm512_set1_epi32(p));
    ph[p] = _mm512_mask_blend_ps(0xFF00, _mm512_permutex2var_ps(a[0], idx, a[1]),
                                 _mm512_permutex2var_ps(a[2], idx, a[3]));
  }
  const __m512i next = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  ph[4] = _mm512_permutex2var_ps(ph[0], next, a[4]);
  ph[5] = _mm512_permutex2var_ps(ph[1], _mm512_mask_add_epi32(next, 0x8000, next, _mm512_set1_epi32(1)), a[4]);
}

/* v = B^T d over six vectors. */
AVX512 static inline void bt6(const __m512 d[6], __m512 v[6]) {
  const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f);
  __m512 a = _mm512_fnmadd_ps(four, d[2], d[4]), b = _mm512_fnmadd_ps(four, d[1], d[3]);
  __m512 c = _mm512_sub_ps(d[4], d[2]), e = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
  v[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
  v[1] = _mm512_add_ps(a, b);
  v[2] = _mm512_sub_ps(a, b);
  v[3] = _mm512_add_ps(c, e);
  v[4] = _mm512_sub_ps(c, e);
  v[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}

/* o = A^T m over six vectors. */
AVX512 static inline void at6(const __m512 m[6], __m512 o[4]) {
  __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
  o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
  o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d34, d12);
  o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s34, s12);
  o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d34, d12), m[5]);
}

/* Channel c of the block's tiles: d into P[k][p][lane] (6x6 points x PL), then
 * V[xi][c][lane] = (B^T d B)[xi] for the block's nv vectors. */
AVX512 static void input_channel(const wg_geo *s, const float *x, int64_t c, const seg *segs, int nseg, int nv,
                                 const bounds *bd, float *P, float *V) {
  for (int i = 0; i < nseg; i++) {
    const seg *sg = &segs[i];
    const float *plane = x + (sg->n * s->cin + c) * s->in_h * s->in_w;
    for (int k = 0; k < 6; k++) {
      int64_t ih = 4 * sg->tr - s->ph + k;
      __m512 ph[6];
      row_phases(ih >= 0 && ih < s->in_h ? plane + ih * s->in_w : NULL, s->in_w, 4 * sg->tc - s->pw, sg->m, bd, ph);
      /* whole vectors: lanes past the run are garbage the next run (in lane order) overwrites,
       * or the block's unused lanes, which nothing reads back */
      for (int p = 0; p < 6; p++) _mm512_storeu_ps(P + (k * 6 + p) * PL + sg->lane, ph[p]);
    }
  }
  for (int g = 0; g < nv; g++) {
    __m512 t[6][6], d[6], v[6];
    for (int p = 0; p < 6; p++) {
      for (int k = 0; k < 6; k++) d[k] = _mm512_load_ps(P + (k * 6 + p) * PL + g * VW);
      bt6(d, v);
      for (int i = 0; i < 6; i++) t[i][p] = v[i];
    }
    for (int i = 0; i < 6; i++) {
      bt6(t[i], v);
      for (int j = 0; j < 6; j++) _mm512_store_ps(V + ((i * 6 + j) * s->cin + c) * TB + g * VW, v[j]);
    }
  }
}

/* ---- the products and the output ----------------------------------------------------------- */

/* M[r][lane] = sum_c U[c][r] V[c][lane] for R channels and nv vectors of tiles (v: V[xi] at
 * c = 0, TB floats a channel; u: U[xi][chunk] at c = 0, R floats a channel). */
AVX512 static inline __attribute__((always_inline)) void product(int64_t cin, const float *v, const float *u,
                                                                 float *m, int nv) {
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 3
    for (int j = 0; j < nv; j++) acc[r][j] = _mm512_setzero_ps();
  for (int64_t c = 0; c < cin; c++, v += TB, u += R) {
    __m512 xv[NV];
    /* At batch 1 U comes from DRAM a run (4x the weights) and is read once per vector of
     * tiles: the hardware prefetcher restarts at every 8 KB chunk and loses ~10% there. */
    _mm_prefetch((const char *)(u + U_AHEAD), _MM_HINT_T0);
#pragma GCC unroll 3
    for (int j = 0; j < nv; j++) xv[j] = _mm512_load_ps(v + j * VW);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      __m512 wv = _mm512_set1_ps(u[r]);
#pragma GCC unroll 3
      for (int j = 0; j < nv; j++) acc[r][j] = _mm512_fmadd_ps(xv[j], wv, acc[r][j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 3
    for (int j = 0; j < nv; j++) _mm512_store_ps(m + r * TB + j * VW, acc[r][j]);
}

AVX512 static void product3(int64_t cin, const float *v, const float *u, float *m) { product(cin, v, u, m, 3); }
AVX512 static void product2(int64_t cin, const float *v, const float *u, float *m) { product(cin, v, u, m, 2); }
AVX512 static void product1(int64_t cin, const float *v, const float *u, float *m) { product(cin, v, u, m, 1); }

/* Output channel co of the block: O[a][b][lane] = (A^T M A)[a][b] (m: M at co, OB * TB floats
 * between xi), then per run of tiles and output row the four column phases interleaved to
 * 16 consecutive columns, bias, residual and activation added, stored. */
AVX512 static void output_channel(const wg_geo *s, const float *m, int64_t co, const seg *segs, int nseg, int nv,
                                  const snt_k_conv_epi *e, float *O, float *y) {
  for (int g = 0; g < nv; g++) {
    __m512 t[4][6], d[6], o[4];
    for (int j = 0; j < 6; j++) {
      for (int i = 0; i < 6; i++) d[i] = _mm512_load_ps(m + (i * 6 + j) * OB * TB + g * VW);
      at6(d, o);
      for (int a = 0; a < 4; a++) t[a][j] = o[a];
    }
    for (int a = 0; a < 4; a++) {
      at6(t[a], o);
      for (int b = 0; b < 4; b++) _mm512_storeu_ps(O + (a * 4 + b) * OL + g * VW, o[b]);
    }
  }
  const __m512i pick = _mm512_setr_epi32(0, 16, 0, 16, 1, 17, 1, 17, 2, 18, 2, 18, 3, 19, 3, 19);
  __m512 bias = _mm512_set1_ps(e->bias ? e->bias[co] : 0.0f);
  int64_t ny = s->batch * s->cout * s->out_h * s->out_w;
  bounds rb = {e->residual, e->residual ? e->residual + ny : NULL};
  for (int i = 0; i < nseg; i++) {
    const seg *sg = &segs[i];
    for (int a = 0; a < 4 && 4 * sg->tr + a < s->out_h; a++) {
      int64_t at = ((sg->n * s->cout + co) * s->out_h + 4 * sg->tr + a) * s->out_w, col0 = 4 * sg->tc;
      const float *ob = O + a * 4 * OL + sg->lane;
      __m512 p0 = _mm512_loadu_ps(ob), p1 = _mm512_loadu_ps(ob + OL);
      __m512 p2 = _mm512_loadu_ps(ob + 2 * OL), p3 = _mm512_loadu_ps(ob + 3 * OL);
      int64_t cols = s->out_w - col0 < 4 * sg->m ? s->out_w - col0 : 4 * sg->m;
      for (int q = 0; 16 * q < cols; q++) {
        __m512i idx = _mm512_add_epi32(pick, _mm512_set1_epi32(4 * q));
        __m512 v = _mm512_mask_blend_ps(0xCCCC, _mm512_permutex2var_ps(p0, idx, p1),
                                        _mm512_permutex2var_ps(p2, idx, p3));
        __mmask16 k = lanes16(0, cols - 16 * q);
        int64_t off = at + col0 + 16 * q;
        v = _mm512_add_ps(v, bias);
        if (e->residual) v = _mm512_add_ps(v, load_lanes(e->residual + off, k, &rb));
        if (k == 0xFFFF) _mm512_storeu_ps(y + off, snt_k_act_all512(v, &e->act));
        else _mm512_mask_storeu_ps(y + off, k, snt_k_act_all512(v, &e->act));
      }
    }
  }
}

/* ---- the driver ---------------------------------------------------------------------------- */

typedef struct wg_job {
  const wg_geo *s;
  const float *x, *u;
  const snt_k_conv_epi *e;
  float *y;
  float *bufs[TEAM_MAX];
} wg_job;

static size_t buf_floats(const wg_geo *s) {
  return (size_t)XI * PL + (size_t)XI * (size_t)s->cin * TB + (size_t)XI * OB * TB + 16 * OL;
}

/* Output channels [ob * OB, +OB) of block b, whose V is ready. */
AVX512 static void block_outputs(const wg_job *J, int64_t ob, const seg *segs, int nseg, int nv, const float *V,
                                 float *M, float *O) {
  const wg_geo *s = J->s;
  int64_t ch0 = ob * OB / R, nch = s->chunks - ch0 < OB / R ? s->chunks - ch0 : OB / R;
  for (int xi = 0; xi < XI; xi++) {
    const float *v = V + (int64_t)xi * s->cin * TB;
    for (int64_t ch = 0; ch < nch; ch++) {
      const float *u = J->u + ((xi * s->chunks + ch0 + ch) * s->cin) * R;
      float *m = M + (xi * OB + ch * R) * TB;
      if (nv == 3) product3(s->cin, v, u, m);
      else if (nv == 2) product2(s->cin, v, u, m);
      else product1(s->cin, v, u, m);
    }
  }
  int64_t co_end = ob * OB + OB < s->cout ? ob * OB + OB : s->cout;
  for (int64_t co = ob * OB; co < co_end; co++)
    output_channel(s, M + (co - ob * OB) * TB, co, segs, nseg, nv, J->e, O, J->y);
}

/* Vectors of tiles in block b (the last block may be short). */
static int64_t block_vectors(const wg_geo *s, int64_t b) {
  return (block_first(s, b + 1) - block_first(s, b) + VW - 1) / VW;
}

/* Where thread t's pairs start: the pair boundary whose work before it (pairs weighted by their
 * block's tile vectors) is nearest to t / threads of the whole. Counting pairs alone gave a
 * SqueezeNet 27x27 map's two blocks (48 tiles and 1) x 4 channel blocks as 12 : 4 vectors. */
static int64_t split_at(const wg_geo *s, int t, int threads) {
  int64_t total = s->blocks * s->coblocks, weight = 0;
  for (int64_t b = 0; b < s->blocks; b++) weight += block_vectors(s, b) * s->coblocks;
  int64_t best = 0, cum = 0, target = weight * t; /* compared in units of 1 / threads */
  int64_t best_gap = target;
  for (int64_t i = 1; i <= total; i++) {
    cum += block_vectors(s, (i - 1) / s->coblocks);
    int64_t gap = cum * threads > target ? cum * threads - target : target - cum * threads;
    if (gap < best_gap) best = i, best_gap = gap;
  }
  return best;
}

/* Thread t's share of the (block, output-channel block) pairs, block-major: a block's input
 * transform is made once per thread that has any of its pairs. */
static void wg_part(void *arg, int t, int threads) {
  const wg_job *J = arg;
  const wg_geo *s = J->s;
  float *P = J->bufs[t], *V = P + XI * PL, *M = V + (size_t)XI * s->cin * TB, *O = M + XI * OB * TB;
  seg segs[TB];
  bounds bd = {J->x, J->x + s->batch * s->cin * s->in_h * s->in_w};
  int nseg = 0, nv = 0;
  int64_t have = -1, end = split_at(s, t + 1, threads);
  memset(P, 0, (size_t)XI * PL * sizeof(float)); /* lanes no run writes: finite, once per call */
  for (int64_t i = split_at(s, t, threads); i < end; i++) {
    int64_t b = i / s->coblocks;
    if (b != have) {
      nseg = block_segs(s, b, segs);
      nv = (int)block_vectors(s, b);
      for (int64_t c = 0; c < s->cin; c++) input_channel(s, J->x, c, segs, nseg, nv, &bd, P, V);
      have = b;
    }
    block_outputs(J, i % s->coblocks, segs, nseg, nv, V, M, O);
  }
}

snt_status snt_k_conv_winograd(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w,
                               const float *packed, const snt_k_conv_epi *e, float *y) {
  wg_geo s;
  geo_init(g, &s);
  if (!packed) {
    float *u = snt_k_ctx_scratch(ctx, U_SLOT, 0, snt_k_conv_winograd_weights_bytes(g));
    if (!u) return SNT_ERR_NOMEM;
    snt_k_conv_winograd_pack(ctx, g, w, u);
    packed = u;
  }
  wg_job J = {.s = &s, .x = x, .u = packed, .e = e, .y = y};
  int threads = snt_k_ctx_threads(ctx);
  for (int t = 0; t < threads && t < TEAM_MAX; t++)
    if (!(J.bufs[t] = snt_k_ctx_scratch(ctx, BUF_SLOT, t, buf_floats(&s) * sizeof(float)))) return SNT_ERR_NOMEM;
  snt_k_ctx_parallel(ctx, wg_part, &J);
  return SNT_OK;
}
