/* Convolution on small feature maps as the transposed product (AVX-512 only): rows are output
 * pixels of all images stacked (the microkernel's 14), columns output channels (its 32):
 * C^T[n*P + p][co] = sum_k im2col(x[n])[k][p] * W[co][k]. Per image, P = 49 or 196 columns
 * fill the 32-wide tile to 77-88% and split badly over threads; 14-row strips of stacked pixels
 * are full, and the output channels split evenly. W^T is packed once (32-column strips, the
 * k-blocks of snt_k_gemm_kc); im2col^T strips are read from the image per k-block (windows and
 * permutes); conv_t_tile.c's microkernel adds the bias, and its transposing store writes NCHW
 * with residual and activation. */
#include <immintrin.h>

#include "conv_t.h"

#define AVX512 __attribute__((target("avx512f,prfchw")))

enum {
  MR = SNT_K_CONV_T_MR,
  NR = SNT_K_CONV_T_NR,
  MAX_TAPS = 64,     /* kernel positions; more take the other paths */
  MAX_P = 300,       /* output pixels per image of a 1x1 conv: larger maps fill the GEMM's tile;
                        Inception's 768 -> 192 and 128 on 17x17 (289) ran 2-6% faster here at batch
                        1 (bench_conv and in the model, 3-4 alternations) and 3-25% at batch 32 */
  MAX_P_TAPS = 1296, /* with taps: 28x28 maps ran 3-13% faster here than as implicit GEMM, and Inception's
                        48 -> 64 5x5 on 35x35 in bench/zoo's model 0.73-0.79 against 0.84-0.87 ms */
  CHUNK_STRIPS = 16, /* row strips whose A block (16 x 14 x kc) stays in L2 */
  MIN_K = 192,       /* cin x taps: below, the strips' packing outweighs the products (LeNet's
                        6 -> 16 5x5 on 14x14 ran 2.8x, 3 -> 16 3x3 3.4x slower than implicit GEMM) */
  MAX_P_NARROW = 64, MIN_K_NARROW = 96, /* 1x1 on maps to 8x8 from K = 96: the GEMM's 32-column
                        tiles cover 49 pixels with 64 (MobileNet-V2's 160 -> 960 on 7x7: 0.046-0.052
                        against 0.059-0.097 ms; on 14x14 96 -> 576 a tie, so those keep MIN_K) */
  MIN_COUT = 16      /* fewer fill under half of the 32 tile columns: SqueezeNet's 512 -> 4 1x1 on
                        13x13 ran at 3% of peak here (0.055 ms), see snt_k_conv_t_applies */
};

/* Small maps, one group, enough depth, taps and an image that fit the gathers' int32 indices. Not the batch:
 * weights packed for a batch must suit every smaller one (the executable runs batch n). */
int snt_k_conv_t_applies(const snt_k_conv3 *g) {
  int64_t floats;
  if (g->groups != 1 || g->w.out_size > (g->w.k_size > 1 ? MAX_P_TAPS : MAX_P) || g->w.k_size > MAX_TAPS ||
      g->cin * g->w.k_size < (g->w.k_size == 1 && g->w.out_size <= MAX_P_NARROW ? MIN_K_NARROW : MIN_K) ||
      g->cout < MIN_COUT)
    return 0;
  return !__builtin_mul_overflow(g->cin, g->w.in_size, &floats) && floats <= INT32_MAX;
}

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

size_t snt_k_conv_t_packed_bytes(const snt_k_conv3 *g) {
  int64_t floats;
  if (__builtin_mul_overflow(round_up(g->cout, NR), g->cin * g->w.k_size, &floats) ||
      (uint64_t)floats > SIZE_MAX / sizeof(float))
    return SIZE_MAX;
  return (size_t)floats * sizeof(float);
}

/* k-block at k0 (kcb deep) starts at float k0 * np; strip s of it holds kcb rows of 32:
 * dst[k0 * np + (s * kcb + kk) * 32 + jj] = W[s * 32 + jj][k0 + kk] (0 past cout). */
void snt_k_conv_t_pack_weights(const snt_k_conv3 *g, const float *w, float *dst) {
  int64_t k = g->cin * g->w.k_size, kc = snt_k_gemm_kc(SNT_K_ISA_AVX512, k), np = round_up(g->cout, NR);
  for (int64_t k0 = 0; k0 < k; k0 += kc) {
    int64_t kcb = min64(kc, k - k0);
    for (int64_t s = 0; s < np / NR; s++) {
      float *d = dst + k0 * np + s * kcb * NR;
      for (int jj = 0; jj < NR; jj++) {
        int64_t co = s * NR + jj;
        const float *row = w + co * k + k0;
        for (int64_t kk = 0; kk < kcb; kk++) d[kk * NR + jj] = co < g->cout ? row[kk] : 0.0f;
      }
    }
  }
}

typedef snt_k_conv_t_strip strip;
typedef snt_k_conv_t_tile t_tile;

/* ---- one strip of 14 output pixels --------------------------------------------------------- */


static void strip_init(const snt_k_conv3 *g, int64_t s, strip *st) {
  const snt_k_win3 *w = &g->w;
  int64_t m = g->batch * w->out_size, first = s * MR, prev_n = -1;
  st->rows = (int)min64(MR, m - first);
  st->nseg = 0;
  for (int ii = 0; ii < 16; ii++) {
    int64_t i = first + (ii < st->rows ? ii : 0), n = i / w->out_size, p = i % w->out_size;
    st->base[ii] = (int32_t)(n * g->cin * w->in_size);
    st->i0[ii] = p / (w->out[1] * w->out[2]) * w->s[0] - w->pb[0];
    st->i1[ii] = p / w->out[2] % w->out[1] * w->s[1] - w->pb[1];
    st->i2[ii] = p % w->out[2] * w->s[2] - w->pb[2];
    if (ii >= st->rows) continue;
    if (n != prev_n) st->seg[st->nseg++] = (struct seg){ii, ii + 1, (n * g->cout) * w->out_size + p};
    else st->seg[st->nseg - 1].hi = ii + 1;
    prev_n = n;
  }
}

/* One kernel position of a strip, read from a channel's plane at xc: lane ii is xc[lo + perm[ii]]
 * (perm < 16) or xc[lo2 + perm[ii] - 16] inside the image, else 0; so one or two windows of 16
 * floats and one permute (none when the lanes read consecutive floats) replace a gather (two
 * rows of a map, stride 2 included). GATHER (lanes spread wider) reads xc[perm[ii]]. Zen's
 * gathers cost several cycles a lane; a permute one. */
enum { TAP_ZERO, TAP_ID, TAP_P16, TAP_P32, TAP_GATHER };

typedef struct tap {
  int32_t perm[16];
  int32_t lo, lo2;
  __mmask16 mask;
  uint16_t kind;
} tap;

/* Its lanes' places from the channel's base (0 outside the image) and the mask of those inside. */
static __mmask16 tap_places(const snt_k_win3 *w, const strip *st, int64_t kd, int64_t kh, int64_t kw, int32_t *idx) {
  __mmask16 mask = 0;
  for (int ii = 0; ii < 16; ii++) {
    int64_t a = st->i0[ii] + kd * w->dl[0], b = st->i1[ii] + kh * w->dl[1], c = st->i2[ii] + kw * w->dl[2];
    int ok = ii < st->rows && a >= 0 && a < w->in[0] && b >= 0 && b < w->in[1] && c >= 0 && c < w->in[2];
    idx[ii] = ok ? st->base[ii] + (int32_t)((a * w->in[1] + b) * w->in[2] + c) : 0;
    if (ok) mask |= (__mmask16)(1u << ii);
  }
  return mask;
}

static void tap_init(const snt_k_win3 *w, const strip *st, int64_t kd, int64_t kh, int64_t kw, tap *tp) {
  int32_t idx[16], lo = INT32_MAX, lo2 = INT32_MAX, hi2 = -1;
  *tp = (tap){.mask = tap_places(w, st, kd, kh, kw, idx), .kind = TAP_ZERO};
  if (!tp->mask) return;
  for (int ii = 0; ii < 16; ii++)
    if ((tp->mask >> ii) & 1 && idx[ii] < lo) lo = idx[ii];
  for (int ii = 0; ii < 16; ii++) /* the lanes past the first window: the second's span */
    if ((tp->mask >> ii) & 1 && idx[ii] >= lo + 16) {
      lo2 = idx[ii] < lo2 ? idx[ii] : lo2;
      hi2 = idx[ii] > hi2 ? idx[ii] : hi2;
    }
  /* Consecutive floats from lane 0's place (the first lanes may be padding): one plain load. */
  int first = __builtin_ctz(tp->mask), id = idx[first] >= first;
  for (int ii = first; ii < 16; ii++)
    if (((tp->mask >> ii) & 1) && idx[ii] != idx[first] - first + ii) id = 0;
  tp->kind = id ? TAP_ID : hi2 < 0 ? TAP_P16 : hi2 - lo2 < 16 ? TAP_P32 : TAP_GATHER;
  tp->lo = id ? idx[first] - first : tp->kind == TAP_GATHER ? 0 : lo;
  tp->lo2 = tp->kind == TAP_P32 ? lo2 : 0;
  for (int ii = 0; ii < 16; ii++) {
    int32_t v = idx[ii] - tp->lo;
    if (tp->kind == TAP_P32 && idx[ii] >= lo + 16) v = 16 + idx[ii] - lo2;
    tp->perm[ii] = (tp->mask >> ii) & 1 ? v : 0;
  }
}

static void taps_init(const snt_k_win3 *w, const strip *st, tap *taps) {
  int t = 0;
  for (int64_t kd = 0; kd < w->k[0]; kd++)
    for (int64_t kh = 0; kh < w->k[1]; kh++)
      for (int64_t kw = 0; kw < w->k[2]; kw++) tap_init(w, st, kd, kh, kw, &taps[t++]);
}

/* Floats [0, n) of p, the rest 0; a plain load wherever 16 floats are inside the buffer (Zen's
 * masked loads are slow: a residual read that way cost a third of a layer). */
AVX512 static inline __m512 load_upto(const float *p, int64_t n) {
  if (n >= 16) return _mm512_loadu_ps(p);
  return _mm512_maskz_loadu_ps(n <= 0 ? 0 : (__mmask16)((1u << n) - 1u), p);
}

/* One tap of one channel (xc its plane, room the floats from xc to the end of x). */
AVX512 static inline __m512 tap_load(const tap *tp, const float *xc, int64_t room) {
  const float *p = xc + tp->lo;
  room -= tp->lo;
  switch (tp->kind) {
    case TAP_ID: return _mm512_maskz_mov_ps(tp->mask, load_upto(p, room));
    case TAP_P16: return _mm512_maskz_permutexvar_ps(tp->mask, _mm512_loadu_si512(tp->perm), load_upto(p, room));
    case TAP_P32:
      return _mm512_maskz_permutex2var_ps(tp->mask, load_upto(p, room), _mm512_loadu_si512(tp->perm),
                                          load_upto(xc + tp->lo2, room + tp->lo - tp->lo2));
    case TAP_GATHER:
      return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), tp->mask, _mm512_loadu_si512(tp->perm), xc, 4);
    default: return _mm512_setzero_ps();
  }
}

/* The strips' im2col^T over depth [k0, k0 + kcb): strip s at dst + s * astride holds
 * B[k0 + kk][row ii] at [kk * 14 + ii]. Depth outermost, so each channel's plane is read once
 * for all strips while it is in L1; 16-float stores spill 2 into the next row (written next)
 * or the strip's padding. */
AVX512 static void pack_strips(const snt_k_conv3 *g, const float *x, const tap *taps, int nst, int64_t k0,
                               int64_t kcb, int64_t astride, float *dst) {
  int64_t ks = g->w.k_size, c = k0 / ks, t = k0 % ks, end = g->batch * g->cin * g->w.in_size;
  for (int64_t kk = 0; kk < kcb; kk++) {
    const float *xc = x + c * g->w.in_size;
    int64_t room = end - c * g->w.in_size;
    for (int s = 0; s < nst; s++) _mm512_storeu_ps(dst + s * astride + kk * MR, tap_load(&taps[s * ks + t], xc, room));
    if (++t == ks) t = 0, c++;
  }
}

/* ---- the driver ---------------------------------------------------------------------------- */

typedef struct t_job {
  const snt_k_conv3 *g;
  const float *x, *wt;
  const snt_k_conv_epi *e;
  float *y;
  int64_t k, kc, np, ms, ns; /* depth, k-block, cout rounded to 32, row and column strips */
  int tm, tn;
  float *bufs[64];
} t_job;

static void region_of(const t_job *J, int t, int64_t *r0, int64_t *r1, int64_t *c0, int64_t *c1) {
  int tmi = t / J->tn, tni = t % J->tn;
  *r0 = J->ms * tmi / J->tm;
  *r1 = J->ms * (tmi + 1) / J->tm;
  *c0 = J->ns * tni / J->tn;
  *c1 = J->ns * (tni + 1) / J->tn;
}

/* A thread's buffer: the chunk's taps, its A block (CHUNK_STRIPS strips of kc x 14, each
 * padded for the packer's spill), then the chunk's tiles of the thread's columns. */
static int64_t astride(const t_job *J) { return J->kc * MR + 16; }
static int64_t taps_floats(const t_job *J) {
  return (CHUNK_STRIPS * J->g->w.k_size * (int64_t)sizeof(tap) + 63) / 64 * 16;
}
static int64_t buf_floats(const t_job *J, int64_t cols) {
  return taps_floats(J) + CHUNK_STRIPS * astride(J) + CHUNK_STRIPS * MR * NR * cols;
}

/* The weight strip after (k0, cs): the next column, else the first column of the next k-block
 * or (more chunks to come) of the first; NULL at the end. Fetched during strip cs's first pass,
 * so that no k-block starts on a strip from DRAM (weights are read once per batch-1 run). */
static const float *next_strip(const t_job *J, int64_t k0, int64_t cs, int64_t c0, int64_t c1, int more_chunks) {
  int64_t kcb = min64(J->kc, J->k - k0);
  if (cs + 1 < c1) return J->wt + k0 * J->np + (cs + 1) * kcb * NR;
  if (k0 + kcb < J->k) return J->wt + (k0 + kcb) * J->np + c0 * min64(J->kc, J->k - k0 - kcb) * NR;
  return more_chunks ? J->wt + c0 * min64(J->kc, J->k) * NR : NULL;
}

/* One chunk of row strips [s0, s1) x the thread's column strips [c0, c1), k-block by k-block:
 * partial tiles wait in cbuf; the last k-block's tile goes straight to y. */
AVX512 static void chunk(const t_job *J, int64_t s0, int64_t s1, int64_t r1, int64_t c0, int64_t c1, float *buf) {
  const snt_k_conv3 *g = J->g;
  strip st[CHUNK_STRIPS];
  tap *taps = (tap *)(void *)buf;
  float *abuf = buf + taps_floats(J), *cbuf = abuf + CHUNK_STRIPS * astride(J);
  int nst = (int)(s1 - s0);
  uintptr_t yb = (uintptr_t)J->y, ye = yb + (uintptr_t)(g->batch * g->cout * g->w.out_size) * sizeof(float);
  uintptr_t rb = (uintptr_t)J->e->residual, re = rb + (ye - yb);
  int aliased = J->e->residual && rb < ye && yb < re;
  const char *pf[SNT_K_CONV_T_MAX_PF], *early[SNT_K_CONV_T_MAX_PF];
  for (int i = 0; i < nst; i++) {
    strip_init(g, s0 + i, &st[i]);
    st[i].spill = s0 + i + 1 < r1 && st[i].rows == MR && st[i].nseg == 1 &&
                  st[i].seg[0].off % g->w.out_size + 16 <= g->w.out_size && !aliased;
    taps_init(&g->w, &st[i], taps + i * g->w.k_size);
  }
  for (int64_t k0 = 0; k0 < J->k; k0 += J->kc) {
    int64_t kcb = min64(J->kc, J->k - k0);
    int last = k0 + kcb >= J->k;
    pack_strips(g, J->x, taps, nst, k0, kcb, astride(J), abuf);
    t_tile tk = {.kc = kcb, .load_c = k0 > 0, .pf = pf};
    for (int64_t cs = c0; cs < c1; cs++) {
      tk.b = J->wt + k0 * J->np + cs * kcb * NR;
      tk.nr = (int)min64(NR, g->cout - cs * NR);
      tk.bias = last && J->e->bias ? J->e->bias + cs * NR : NULL;
      for (int i = 0; i < nst; i++) {
        tk.a = abuf + i * astride(J);
        tk.c = cbuf + ((cs - c0) * CHUNK_STRIPS + i) * MR * NR;
        tk.b_next = i == 0 ? next_strip(J, k0, cs, c0, c1, s1 < r1) : NULL;
        tk.npf = 0;
        /* A strip of at most 7 rows takes column strips in pairs (c0, c0 + 1), ..., at the
         * second of each: the earlier strips' stores, which may spill into it, come first. */
        int half = st[i].rows <= MR / 2 && (cs - c0) % 2 == 1;
        if (st[i].rows <= MR / 2 && (cs - c0) % 2 == 0 && cs + 1 < c1) continue;
        if (half) {
          tk.c2 = tk.c;
          tk.nr2 = tk.nr;
          tk.bias2 = tk.bias;
          tk.b -= kcb * NR;
          tk.c -= CHUNK_STRIPS * MR * NR;
          tk.nr = NR;
          tk.bias = last && J->e->bias ? J->e->bias + (cs - 1) * NR : NULL;
        }
        int64_t co0 = (cs - half) * NR;
        if (last) { /* the next strip's lines towards L2 now, this one's into L1 at the end */
          int nw, n = i + 1 < nst ? snt_k_conv_t_store_lines(g, &st[i + 1], tk.nr, co0, J->e, J->y, early, &nw) : 0;
          for (int q = 0; q < n; q++) _mm_prefetch(early[q], _MM_HINT_T1);
          tk.npf = snt_k_conv_t_store_lines(g, &st[i], tk.nr + (half ? tk.nr2 : 0), co0, J->e, J->y, pf, &tk.nw);
        }
        if (half) snt_k_conv_t_kernel7(&tk);
        else snt_k_conv_t_kernel(&tk);
        if (last) snt_k_conv_t_store_tile(g, &st[i], tk.c, tk.nr, co0, J->e, J->y);
        if (last && half) snt_k_conv_t_store_tile(g, &st[i], tk.c2, tk.nr2, co0 + NR, J->e, J->y);
      }
    }
  }
}

static void t_thread(void *arg, int t, int threads) {
  const t_job *J = arg;
  (void)threads;
  if (t >= J->tm * J->tn) return;
  int64_t r0, r1, c0, c1;
  region_of(J, t, &r0, &r1, &c0, &c1);
  for (int64_t s = r0; s < r1 && c0 < c1; s += CHUNK_STRIPS)
    chunk(J, s, min64(r1, s + CHUNK_STRIPS), r1, c0, c1, J->bufs[t]);
}

/* The split tm x tn that minimises the busiest thread's work in half tiles: its tiles (2
 * each), its strips gathered (1 each) and its weight strips streamed per chunk (3 each: at
 * batch 1 they come from DRAM, and split by rows both threads stream all of them; ResNet50V2's
 * 1024 -> 256 on 14x14 ran 0.37-0.38 ms split by rows, 0.33-0.35 by columns): so columns split
 * when rows are few (a batch-1 7x7 or 14x14 map has 4 or 14 strips), rows otherwise. */
static void choose_split(t_job *J, int threads) {
  int64_t best = -1;
  for (int tm = 1; tm <= threads; tm++) {
    if (threads % tm) continue;
    int tn = threads / tm;
    int64_t rows = (J->ms + tm - 1) / tm, cols = (J->ns + tn - 1) / tn;
    int64_t cost = rows * cols * 2 + rows + 3 * cols * ((rows + CHUNK_STRIPS - 1) / CHUNK_STRIPS);
    if (best < 0 || cost < best) {
      best = cost;
      J->tm = tm;
      J->tn = tn;
    }
  }
}

/* Images [n0, n0 + nb) as one stacked product. */
static snt_status run_slice(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *wt,
                            const snt_k_conv_epi *e, float *y) {
  t_job J = {.g = g, .x = x, .wt = wt, .e = e, .y = y};
  J.k = g->cin * g->w.k_size;
  J.kc = snt_k_gemm_kc(SNT_K_ISA_AVX512, J.k);
  J.np = round_up(g->cout, NR);
  J.ms = (g->batch * g->w.out_size + MR - 1) / MR;
  J.ns = J.np / NR;
  int threads = snt_k_ctx_threads(ctx);
  if (threads > 64) threads = 64;
  choose_split(&J, threads);
  for (int t = 0; t < J.tm * J.tn; t++) {
    int64_t r0, r1, c0, c1;
    region_of(&J, t, &r0, &r1, &c0, &c1);
    J.bufs[t] = snt_k_ctx_scratch(ctx, 3, t, (size_t)buf_floats(&J, c1 - c0) * sizeof(float));
    if (!J.bufs[t]) return SNT_ERR_NOMEM;
  }
  if (J.tm * J.tn == 1) t_thread(&J, 0, 1);
  else snt_k_ctx_parallel(ctx, t_thread, &J);
  return SNT_OK;
}

/* The batch in slices whose gather indices fit int32 (one slice for any real model). */
snt_status snt_k_conv_t(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *w, const float *packed,
                        const snt_k_conv_epi *e, float *y) {
  if (!packed) { /* weights packed per call (training's forward, direct kernel calls) */
    float *wt = snt_k_ctx_scratch(ctx, 1, 0, snt_k_conv_t_packed_bytes(g));
    if (!wt) return SNT_ERR_NOMEM;
    snt_k_conv_t_pack_weights(g, w, wt);
    packed = wt;
  }
  int64_t in_img = g->cin * g->w.in_size, out_img = g->cout * g->w.out_size;
  int64_t per = INT32_MAX / (in_img > 0 ? in_img : 1);
  for (int64_t n0 = 0; n0 < g->batch; n0 += per) {
    snt_k_conv3 s = *g;
    s.batch = min64(per, g->batch - n0);
    snt_k_conv_tap ts = e->tap ? *e->tap : (snt_k_conv_tap){0};
    ts.out = e->tap ? e->tap->out + n0 * out_img : NULL;
    snt_k_conv_epi se = {.bias = e->bias, .residual = e->residual ? e->residual + n0 * out_img : NULL, .act = e->act,
                         .tap = e->tap ? &ts : NULL};
    snt_status st = run_slice(ctx, &s, x + n0 * in_img, packed, &se, y + n0 * out_img);
    if (st != SNT_OK) return st;
  }
  return SNT_OK;
}
