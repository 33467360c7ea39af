/* Convolution on small feature maps as the transposed product (AVX-512 only): rows are output
 * pixels of all images stacked (the microkernel's 14), columns output channels (its 32):
 * C^T[n*P + p][co] = sum_k im2col(x[n])[k][p] * W[co][k]. Per image, P = 49 or 196 columns
 * fill the 32-wide tile to 77-88% and split badly over threads; 14-row strips of stacked pixels
 * are full, and the output channels split evenly. W^T is packed once (32-column strips, the
 * k-blocks of snt_k_gemm_kc); im2col^T strips are gathered from the image per k-block; the
 * microkernel adds the bias, and a transposing store writes NCHW with residual and activation. */
#include <immintrin.h>
#include <math.h>

#include "act_avx512.h"
#include "conv_impl.h"
#include "gemm_ukr.h"

#define AVX512 __attribute__((target("avx512f,prfchw")))

enum {
  MR = SNT_K_AVX512_MR,
  NR = SNT_K_AVX512_NR,
  MAX_TAPS = 64,     /* kernel positions; more take the other paths */
  MAX_P = 256,       /* output pixels per image of a 1x1 conv: larger maps fill the GEMM's tile */
  MAX_P_TAPS = 1024, /* with taps: 28x28 maps ran 3-13% faster here than as implicit GEMM */
  CHUNK_STRIPS = 16, /* row strips whose A block (16 x 14 x kc) stays in L2 */
  SEGS = MR          /* image runs within one strip (HW = 1: one per row) */
};

/* Small maps, one group, taps and an image that fit the gathers' int32 indices. Not the batch:
 * weights packed for a batch must suit every smaller one (the executable runs batch n). */
int snt_k_conv_t_applies(const snt_k_conv3 *g) {
  int64_t floats;
  if (g->groups != 1 || g->w.out_size > (g->w.k_size > 1 ? MAX_P_TAPS : MAX_P) || g->w.k_size > MAX_TAPS) return 0;
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

/* ---- one strip of 14 output pixels --------------------------------------------------------- */

/* Where a strip's rows come from and go to: per lane the image offset and first input
 * coordinates; runs of rows within one image (lanes [lo, hi) at y offset off). */
typedef struct strip {
  int rows;
  int spill; /* its stores may write 16 floats: the 2 past it belong to a later strip's store */
  int32_t base[16];
  int64_t i0[16], i1[16], i2[16];
  int nseg;
  struct seg {
    int lo, hi;
    int64_t off;
  } seg[SEGS];
} strip;

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

/* ---- the transposing store ----------------------------------------------------------------- */

/* relu / leaky / clip as the other stores; sigmoid and tanh lane by lane with the GEMM's formulas. */
AVX512 static inline __m512 act16(__m512 v, const snt_k_act *act) {
  if (act->kind != SNT_K_ACT_SIGMOID && act->kind != SNT_K_ACT_TANH) return snt_k_act_vec512(v, act);
  float f[16];
  _mm512_storeu_ps(f, v);
  for (int i = 0; i < 16; i++) f[i] = act->kind == SNT_K_ACT_SIGMOID ? 1.0f / (1.0f + expf(-f[i])) : tanhf(f[i]);
  return _mm512_loadu_ps(f);
}

static inline __mmask16 lanes(int lo, int hi) { return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u)); }

/* r[i] lane j to r[j] lane i: pairs, then quads within 128-bit lanes, then the 128-bit lanes. */
AVX512 static inline void transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
#pragma GCC unroll 2
  for (int h = 0; h < 16; h += 8)
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
    }
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

/* One channel's pixels of the strip (lane ii = row ii) to y[n][co][p] for each image run, with
 * residual and activation. */
AVX512 static inline void store_channel(const snt_k_conv3 *g, const strip *st, __m512 v, int64_t co,
                                        const snt_k_conv_epi *e, float *y) {
  int64_t p = g->w.out_size, end = g->batch * g->cout * p;
  if (!e->residual) v = act16(v, &e->act);
  for (int sgi = 0; sgi < st->nseg; sgi++) {
    const struct seg *sg = &st->seg[sgi];
    int64_t off = sg->off + co * p;
    __mmask16 at = lanes(sg->lo, sg->hi), low = lanes(0, sg->hi - sg->lo);
    __m512 o = v;
    if (e->residual) {
      __m512 r = off + 16 <= end ? _mm512_loadu_ps(e->residual + off) /* see load_upto */
                                 : _mm512_maskz_loadu_ps(low, e->residual + off);
      o = act16(_mm512_add_ps(v, sg->lo ? _mm512_maskz_expand_ps(at, r) : r), &e->act);
    }
    if (st->spill) _mm512_storeu_ps(y + off, o);
    else _mm512_mask_storeu_ps(y + off, low, sg->lo ? _mm512_maskz_compress_ps(at, o) : o);
  }
}

/* The channels of a strip that is one run at the start of its lanes (the common case): a
 * vector per channel, P floats apart, residual and activation in registers; 16-float stores
 * where the strip may spill (see strip.spill). The activation is a constant per call site. */
AVX512 static inline __attribute__((always_inline)) void store_run(const __m512 *r, int n, float *yo, const float *ro,
                                                                  int64_t p, __mmask16 low, int spill, int r_plain,
                                                                  const snt_k_act *act) {
#pragma GCC unroll 16
  for (int j = 0; j < 16; j++) {
    if (j >= n) break;
    __m512 o = r[j];
    if (ro) o = _mm512_add_ps(o, r_plain ? _mm512_loadu_ps(ro + j * p) : _mm512_maskz_loadu_ps(low, ro + j * p));
    o = snt_k_act_vec512(o, act);
    if (spill) _mm512_storeu_ps(yo + j * p, o);
    else _mm512_mask_storeu_ps(yo + j * p, low, o);
  }
}

/* The finished tile (rows = the strip's pixels, ldc 32, bias added) to y for its nr channels
 * from co0: each 16-channel half transposed in registers, so that a vector holds one
 * channel's pixels (rows past the strip read as 0). */
AVX512 static void store_tile(const snt_k_conv3 *g, const strip *st, const float *tile, int nr, int64_t co0,
                              const snt_k_conv_epi *e, float *y) {
  int64_t p = g->w.out_size, end = g->batch * g->cout * p;
  const struct seg *sg = &st->seg[0];
  int simple = st->nseg == 1 && sg->lo == 0 && e->act.kind != SNT_K_ACT_SIGMOID && e->act.kind != SNT_K_ACT_TANH;
  for (int h = 0; h < nr; h += 16) {
    __m512 r[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) r[i] = i < st->rows ? _mm512_loadu_ps(tile + i * NR + h) : _mm512_setzero_ps();
    transpose16(r);
    int n = nr - h < 16 ? nr - h : 16;
    if (!simple) {
      for (int j = 0; j < n; j++) store_channel(g, st, r[j], co0 + h + j, e, y);
      continue;
    }
    int64_t off = sg->off + (co0 + h) * p;
    const float *ro = e->residual ? e->residual + off : NULL;
    int r_plain = off + (n - 1) * p + 16 <= end; /* see load_upto */
    __mmask16 low = lanes(0, sg->hi);
    switch (e->act.kind) {
      case SNT_K_ACT_RELU: store_run(r, n, y + off, ro, p, low, st->spill, r_plain, &(snt_k_act){SNT_K_ACT_RELU, 0, 0, 0}); break;
      case SNT_K_ACT_NONE: store_run(r, n, y + off, ro, p, low, st->spill, r_plain, &(snt_k_act){SNT_K_ACT_NONE, 0, 0, 0}); break;
      default: store_run(r, n, y + off, ro, p, low, st->spill, r_plain, &e->act); break;
    }
  }
}

/* The lines the tile's store will write (then read: the residual), gathered for the
 * microkernel to fetch near its end: one channel's run is 56 bytes at a stride of the map,
 * which no prefetcher follows, and fetched earlier they would leave L1 to the A and B strips. */
enum { MAX_PF = 160 };

static int store_lines(const snt_k_conv3 *g, const strip *st, int nr, int64_t co0, const snt_k_conv_epi *e,
                       const float *y, const char **pf, int *nw) {
  int64_t p = g->w.out_size;
  int n = 0;
  for (int pass = 0; pass < 1 + (e->residual != NULL); pass++) {
    const float *base = pass ? e->residual : y;
    for (int sgi = 0; sgi < st->nseg; sgi++) {
      const struct seg *sg = &st->seg[sgi];
      for (int jj = 0; jj < nr && n + 2 <= MAX_PF; jj++) {
        int64_t off = sg->off + (co0 + jj) * p;
        pf[n++] = (const char *)(base + off);
        pf[n++] = (const char *)(base + off + (sg->hi - sg->lo - 1));
      }
    }
    if (!pass) *nw = n;
  }
  return n;
}

/* ---- the microkernel ----------------------------------------------------------------------- */

/* gemm_avx512.c's 14 x 32 tile over one k-block (A strip: 14 floats a k-row, B strip: 32), into
 * this path's tile buffer (all 14 rows, ldc 32; plus the partial tile when load_c, plus bias
 * when given); b_next, when set, is the next B strip, fetched during this pass, and pf the
 * store's lines, fetched during the last k-rows (nw of them written: fetched for ownership). */
typedef struct t_tile {
  int64_t kc;
  const float *a, *b, *b_next, *bias;
  float *c;
  int nr, load_c, npf, nw;
  const char *const *pf;
  /* t_kernel7's second column strip: at b + kc * 32, its tile and bias */
  float *c2;
  const float *bias2;
  int nr2;
} t_tile;

AVX512 static inline __attribute__((always_inline)) void t_step(const float *a, const float *b, __m512 *c0,
                                                                __m512 *c1) {
  __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) {
    __m512 ai = _mm512_set1_ps(a[i]);
    c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
    c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
  }
}

AVX512 __attribute__((noinline)) static void t_kernel(const t_tile *p) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
  const float *a = p->a, *b = p->b;
  int64_t k = 0, tail = p->kc - min64(p->kc, p->npf / 2 + 24);
  if (p->b_next) {
    const float *bn = p->b_next;
    for (; k < p->kc; k++, a += MR, b += NR, bn += NR) {
      _mm_prefetch((const char *)bn, _MM_HINT_T0);
      _mm_prefetch((const char *)(bn + 16), _MM_HINT_T0);
      t_step(a, b, c0, c1);
    }
  }
#pragma GCC unroll 2
  for (; k < tail; k++, a += MR, b += NR) t_step(a, b, c0, c1);
  for (int j = 0; k < p->kc; k++, a += MR, b += NR) {
    for (int q = 0; q < 2 && j < p->npf; q++, j++) {
      if (j < p->nw) _mm_prefetch(p->pf[j], _MM_HINT_ET0);
      else _mm_prefetch(p->pf[j], _MM_HINT_T0);
    }
    t_step(a, b, c0, c1);
  }
  __mmask16 m0 = lanes(0, p->nr < 16 ? p->nr : 16), m1 = lanes(0, p->nr > 16 ? p->nr - 16 : 0);
  __m512 bias0 = p->bias ? _mm512_maskz_loadu_ps(m0, p->bias) : _mm512_setzero_ps();
  __m512 bias1 = p->bias ? _mm512_maskz_loadu_ps(m1, p->bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) {
    float *c = p->c + i * NR;
    __m512 v0 = _mm512_add_ps(c0[i], bias0), v1 = _mm512_add_ps(c1[i], bias1);
    if (p->load_c) {
      v0 = _mm512_add_ps(v0, _mm512_loadu_ps(c));
      v1 = _mm512_add_ps(v1, _mm512_loadu_ps(c + 16));
    }
    _mm512_storeu_ps(c, v0);
    _mm512_storeu_ps(c + 16, v1);
  }
}

/* A strip of at most 7 rows (the last of a batch-1 7x7 map, 49 = 3 x 14 + 7) over two column
 * strips: 7 x 64, the same 28 accumulators and FMAs per k-row as 14 x 32, none of them on empty
 * rows; each sum in the same order as t_kernel's, so either gives the same bits. */
AVX512 __attribute__((noinline)) static void t_kernel7(const t_tile *p) {
  enum { R = MR / 2 };
  __m512 acc[R][4];
#pragma GCC unroll 7
  for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = _mm512_setzero_ps();
  const float *a = p->a, *b = p->b, *b2 = p->b + p->kc * NR;
  int64_t k = 0, tail = p->kc - min64(p->kc, p->npf / 2 + 24);
  for (int j = 0; k < p->kc; k++, a += MR, b += NR, b2 += NR) {
    if (k >= tail)
      for (int q = 0; q < 2 && j < p->npf; q++, j++) {
        if (j < p->nw) _mm_prefetch(p->pf[j], _MM_HINT_ET0);
        else _mm_prefetch(p->pf[j], _MM_HINT_T0);
      }
    __m512 v0 = _mm512_loadu_ps(b), v1 = _mm512_loadu_ps(b + 16), v2 = _mm512_loadu_ps(b2), v3 = _mm512_loadu_ps(b2 + 16);
#pragma GCC unroll 7
    for (int i = 0; i < R; i++) {
      __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, v0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, v1, acc[i][1]);
      acc[i][2] = _mm512_fmadd_ps(ai, v2, acc[i][2]);
      acc[i][3] = _mm512_fmadd_ps(ai, v3, acc[i][3]);
    }
  }
  __m512 bias[4];
  for (int h = 0; h < 4; h++) {
    const float *bp = h < 2 ? p->bias : p->bias2;
    int n = (h < 2 ? p->nr : p->nr2) - (h & 1) * 16;
    bias[h] = bp ? _mm512_maskz_loadu_ps(lanes(0, n < 0 ? 0 : n > 16 ? 16 : n), bp + (h & 1) * 16) : _mm512_setzero_ps();
  }
#pragma GCC unroll 7
  for (int i = 0; i < R; i++)
#pragma GCC unroll 4
    for (int h = 0; h < 4; h++) {
      float *c = (h < 2 ? p->c : p->c2) + i * NR + (h & 1) * 16;
      __m512 v = _mm512_add_ps(acc[i][h], bias[h]);
      if (p->load_c) v = _mm512_add_ps(v, _mm512_loadu_ps(c));
      _mm512_storeu_ps(c, v);
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
  const char *pf[MAX_PF], *early[MAX_PF];
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
          int nw, n = i + 1 < nst ? store_lines(g, &st[i + 1], tk.nr, co0, J->e, J->y, early, &nw) : 0;
          for (int q = 0; q < n; q++) _mm_prefetch(early[q], _MM_HINT_T1);
          tk.npf = store_lines(g, &st[i], tk.nr + (half ? tk.nr2 : 0), co0, J->e, J->y, pf, &tk.nw);
        }
        if (half) t_kernel7(&tk);
        else t_kernel(&tk);
        if (last) store_tile(g, &st[i], tk.c, tk.nr, co0, J->e, J->y);
        if (last && half) store_tile(g, &st[i], tk.c2, tk.nr2, co0 + NR, J->e, J->y);
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
  for (int64_t s = r0; s < r1 && c0 < c1; s += CHUNK_STRIPS) chunk(J, s, min64(r1, s + CHUNK_STRIPS), r1, c0, c1, J->bufs[t]);
}

/* The split tm x tn that minimises the busiest thread's work in half tiles: its tiles (2
 * each), its strips gathered (1 each) and its weight strips streamed per chunk (1 each): so
 * columns split when rows are few (a batch-1 7x7 map has 4 strips), rows otherwise. */
static void choose_split(t_job *J, int threads) {
  int64_t best = -1;
  for (int tm = 1; tm <= threads; tm++) {
    if (threads % tm) continue;
    int tn = threads / tm;
    int64_t rows = (J->ms + tm - 1) / tm, cols = (J->ns + tn - 1) / tn;
    int64_t cost = rows * cols * 2 + rows + cols * ((rows + CHUNK_STRIPS - 1) / CHUNK_STRIPS);
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
    snt_k_conv_epi se = {e->bias, e->residual ? e->residual + n0 * out_img : NULL, e->act};
    snt_status st = run_slice(ctx, &s, x + n0 * in_img, packed, &se, y + n0 * out_img);
    if (st != SNT_OK) return st;
  }
  return SNT_OK;
}
