/* The small-map convolution's microkernels and transposing store (conv_t.h): the 14 x 32
 * tile of stacked pixels x output channels (7 x 64 for a strip of at most 7 pixels) into a tile
 * buffer, then each 16-channel half transposed in registers and written to NCHW rows with the
 * residual and activation. AVX-512 only. */
#include <immintrin.h>
#include <math.h>

#include "act_pass.h"
#include "act_avx512.h"
#include "ukr_avx512.h"
#include "conv_t.h"
#include "transpose16_avx512.h"

#define AVX512 __attribute__((target("avx512f,prfchw")))

enum { MR = SNT_K_CONV_T_MR, NR = SNT_K_CONV_T_NR };
typedef snt_k_conv_t_strip strip;
typedef snt_k_conv_t_tile t_tile;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- the transposing store ----------------------------------------------------------------- */


static inline __mmask16 lanes(int lo, int hi) { return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u)); }

/* The tap (snt_k_conv_tap) of channel co's vector o: snt_k_bn_infer's multiply, add and max(v, 0) (the
 * compiler may fuse the first two into an FMA: the same to an ulp). */
AVX512 static inline __m512 tap16(__m512 o, const snt_k_conv_tap *tap, int64_t co) {
  __m512 t = _mm512_add_ps(_mm512_mul_ps(o, _mm512_set1_ps(tap->scale[co])), _mm512_set1_ps(tap->shift[co]));
  return tap->relu ? _mm512_max_ps(t, _mm512_setzero_ps()) : t;
}

/* One channel's pixels of the strip (lane ii = row ii) to y[n][co][p] for each image run, with
 * residual, activation and tap. */
AVX512 static inline void store_channel(const snt_k_conv3 *g, const strip *st, __m512 v, int64_t co,
                                        const snt_k_conv_epi *e, float *y) {
  int64_t p = g->w.out_size, end = g->batch * g->cout * p;
  if (!e->residual) v = snt_k_act_all512(v, &e->act);
  for (int sgi = 0; sgi < st->nseg; sgi++) {
    const struct seg *sg = &st->seg[sgi];
    int64_t off = sg->off + co * p;
    __mmask16 at = lanes(sg->lo, sg->hi), low = lanes(0, sg->hi - sg->lo);
    __m512 o = v;
    if (e->residual) {
      __m512 r = off + 16 <= end ? _mm512_loadu_ps(e->residual + off) /* see load_upto */
                                 : _mm512_maskz_loadu_ps(low, e->residual + off);
      o = snt_k_act_all512(_mm512_add_ps(v, sg->lo ? _mm512_maskz_expand_ps(at, r) : r), &e->act);
    }
    if (st->spill) _mm512_storeu_ps(y + off, o);
    else _mm512_mask_storeu_ps(y + off, low, sg->lo ? _mm512_maskz_compress_ps(at, o) : o);
    if (e->tap) {
      __m512 t = tap16(o, e->tap, co);
      if (st->spill) _mm512_storeu_ps(e->tap->out + off, t);
      else _mm512_mask_storeu_ps(e->tap->out + off, low, sg->lo ? _mm512_maskz_compress_ps(at, t) : t);
    }
  }
}

/* The channels of a strip that is one run at the start of its lanes (the common case): a
 * vector per channel, P floats apart, residual and activation in registers; 16-float stores
 * where the strip may spill (see strip.spill). The activation is a constant per call site. */
AVX512 static inline __attribute__((always_inline)) void store_run(const __m512 *r, int n, float *yo, const float *ro,
                                                                  int64_t p, __mmask16 low, int spill, int r_plain,
                                                                  const snt_k_act *act, const snt_k_conv_tap *tap,
                                                                  int64_t off, int64_t co) {
#pragma GCC unroll 16
  for (int j = 0; j < 16; j++) {
    if (j >= n) break;
    __m512 o = r[j];
    if (ro) o = _mm512_add_ps(o, r_plain ? _mm512_loadu_ps(ro + j * p) : _mm512_maskz_loadu_ps(low, ro + j * p));
    o = snt_k_act_vec512(o, act);
    if (spill) _mm512_storeu_ps(yo + j * p, o);
    else _mm512_mask_storeu_ps(yo + j * p, low, o);
    if (tap) {
      __m512 t = tap16(o, tap, co + j);
      if (spill) _mm512_storeu_ps(tap->out + off + j * p, t);
      else _mm512_mask_storeu_ps(tap->out + off + j * p, low, t);
    }
  }
}

/* The finished tile (rows = the strip's pixels, ldc 32, bias added) to y for its nr channels
 * from co0: each 16-channel half transposed in registers, so that a vector holds one
 * channel's pixels (rows past the strip read as 0). */
AVX512 void snt_k_conv_t_store_tile(const snt_k_conv3 *g, const strip *st, const float *tile, int nr, int64_t co0,
                              const snt_k_conv_epi *e, float *y) {
  int64_t p = g->w.out_size, end = g->batch * g->cout * p;
  const struct seg *sg = &st->seg[0];
  int simple = st->nseg == 1 && sg->lo == 0 && !snt_k_act_needs_pass(&e->act);
  for (int h = 0; h < nr; h += 16) {
    __m512 r[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) r[i] = i < st->rows ? _mm512_loadu_ps(tile + i * NR + h) : _mm512_setzero_ps();
    snt_k_transpose16(r);
    int n = nr - h < 16 ? nr - h : 16;
    if (!simple) {
      for (int j = 0; j < n; j++) store_channel(g, st, r[j], co0 + h + j, e, y);
      continue;
    }
    int64_t off = sg->off + (co0 + h) * p;
    const float *ro = e->residual ? e->residual + off : NULL;
    int r_plain = off + (n - 1) * p + 16 <= end; /* see load_upto */
    __mmask16 low = lanes(0, sg->hi);
    static const snt_k_act relu = {SNT_K_ACT_RELU, 0, 0, 0, 0}, none = {SNT_K_ACT_NONE, 0, 0, 0, 0};
    int64_t co = co0 + h;
    if (e->tap) { /* one general copy: a tap's layers are few */
      store_run(r, n, y + off, ro, p, low, st->spill, r_plain, &e->act, e->tap, off, co);
      continue;
    }
    switch (e->act.kind) {
      case SNT_K_ACT_RELU: store_run(r, n, y + off, ro, p, low, st->spill, r_plain, &relu, NULL, off, co); break;
      case SNT_K_ACT_NONE: store_run(r, n, y + off, ro, p, low, st->spill, r_plain, &none, NULL, off, co); break;
      default: store_run(r, n, y + off, ro, p, low, st->spill, r_plain, &e->act, NULL, off, co); break;
    }
  }
}

/* The lines the tile's store will write (then read: the residual), gathered for the
 * microkernel to fetch near its end: one channel's run is 56 bytes at a stride of the map,
 * which no prefetcher follows, and fetched earlier they would leave L1 to the A and B strips. */
int snt_k_conv_t_store_lines(const snt_k_conv3 *g, const strip *st, int nr, int64_t co0, const snt_k_conv_epi *e,
                       const float *y, const char **pf, int *nw) {
  int64_t p = g->w.out_size;
  int n = 0;
  for (int pass = 0; pass < 1 + (e->residual != NULL); pass++) {
    const float *base = pass ? e->residual : y;
    for (int sgi = 0; sgi < st->nseg; sgi++) {
      const struct seg *sg = &st->seg[sgi];
      for (int jj = 0; jj < nr && n + 2 <= SNT_K_CONV_T_MAX_PF; jj++) {
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

AVX512 void snt_k_conv_t_kernel(const t_tile *p) {
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
      snt_k_ukr_step_avx512(a, b, c0, c1);
    }
  }
#pragma GCC unroll 2
  for (; k < tail; k++, a += MR, b += NR) snt_k_ukr_step_avx512(a, b, c0, c1);
  for (int j = 0; k < p->kc; k++, a += MR, b += NR) {
    for (int q = 0; q < 2 && j < p->npf; q++, j++) {
      if (j < p->nw) _mm_prefetch(p->pf[j], _MM_HINT_ET0);
      else _mm_prefetch(p->pf[j], _MM_HINT_T0);
    }
    snt_k_ukr_step_avx512(a, b, c0, c1);
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
AVX512 void snt_k_conv_t_kernel7(const t_tile *p) {
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
    __m512 v0 = _mm512_loadu_ps(b), v1 = _mm512_loadu_ps(b + 16);
    __m512 v2 = _mm512_loadu_ps(b2), v3 = _mm512_loadu_ps(b2 + 16);
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
    __mmask16 m = lanes(0, n < 0 ? 0 : n > 16 ? 16 : n);
    bias[h] = bp ? _mm512_maskz_loadu_ps(m, bp + (h & 1) * 16) : _mm512_setzero_ps();
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

