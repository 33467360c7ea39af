/* BF16 GEMM for inference (sinter compile --precision bf16): operands rounded to bfloat16
 * (round to nearest even), products summed in float32 by AVX512_BF16's vdpbf16ps, which
 * does two multiply-adds per lane and so twice the FP32 FMA rate.
 *
 * The constant operand A (weights) is rounded and packed once, on first use, into a cache
 * owned by the kernel context, keyed by its address and geometry: weights never change in an
 * inference model. B is packed per call through the same fp32 packers as the FP32 GEMM
 * (so convolution's implicit im2col serves both), then rounded into k-pairs; or, for a
 * convolution whose image conv.c rounded once into channel pairs (pair_taps), the packer copies
 * the pairs as they are and A is taken in the same (channel pair, tap) order.
 *
 * Layouts (K rounded up to even, K2 = K / 2 pairs):
 *   A: strips of MR rows; strip s, pair p: MR uint32 (a[2p] low half, a[2p+1] high half).
 *   B: strips of NR columns; strip s, pair p: NR pairs of bf16 (b[2p][j], b[2p+1][j]).
 * The microkernel runs the whole K for an MR x NR tile and applies the epilogue in its store:
 * no partial sums go through C. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "act_avx512.h"
#include "gemm_bf16.h"
#include "kernels_util.h"

enum { MR = 8, NR = 48, NV = NR / 16, MAX_ENTRIES = 4096 };
/* Bytes of packed B a thread keeps in its L2 (1 MiB on Zen 4/5) while every strip of A passes. */
enum { B_BUDGET = 512 * 1024 };
/* Rows of B a convolution's packer writes in fp32 before they are rounded (even: whole pairs). */
enum { KC = 64 };

typedef struct a_entry {
  const float *src;
  int64_t m, k, lda;
  int trans;
  int64_t pair_taps, pair_channels; /* snt_k_gemm_call's: A's K order */
  uint32_t *packed; /* (m rounded up to MR) x K2 pairs */
} a_entry;

struct snt_k_bf16_cache {
  int n, cap;
  a_entry *e;
  /* Per-thread B buffers, grown on demand and kept: a fresh large block per call would be a
   * fresh mapping, page-faulted on every run. */
  float *fbuf[64];
  uint16_t *bbuf[64];
  size_t fcap[64], bcap[64];
};

snt_k_bf16_cache *snt_k_bf16_cache_create(void) { return calloc(1, sizeof(snt_k_bf16_cache)); }

void snt_k_bf16_cache_destroy(snt_k_bf16_cache *c) {
  if (!c) return;
  for (int i = 0; i < c->n; i++) free(c->e[i].packed);
  for (int t = 0; t < 64; t++) {
    free(c->fbuf[t]);
    free(c->bbuf[t]);
  }
  free(c->e);
  free(c);
}

int snt_k_bf16_available(void) {
  __builtin_cpu_init();
  return snt_k_isa_detect() == SNT_K_ISA_AVX512 && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bf16");
}

/* float32 -> bfloat16, round to nearest even; NaN stays a (quiet) NaN. */
static uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float snt_k_bf16_round(float f) {
  uint32_t u = (uint32_t)to_bf16(f) << 16;
  float r;
  memcpy(&r, &u, 4);
  return r;
}

static float a_at(const a_entry *a, int64_t i, int64_t k) {
  if (i >= a->m || k >= (a->pair_taps ? a->pair_channels * a->pair_taps : a->k)) return 0.0f;
  return a->trans ? a->src[k * a->lda + i] : a->src[i * a->lda + k];
}

static int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

/* Column h (0, 1) of pair p: 2p + h, or with channel pairs channel 2 (p / taps) + h's tap p % taps
 * (-1: past the channels). */
static int64_t pair_column(const a_entry *a, int64_t p, int h) {
  if (!a->pair_taps) return 2 * p + h;
  int64_t c = 2 * (p / a->pair_taps) + h;
  return c < a->pair_channels ? c * a->pair_taps + p % a->pair_taps : -1;
}

static void pack_a(a_entry *a) {
  int64_t strips = round_up(a->m, MR) / MR, k2 = round_up(a->k, 2) / 2;
  for (int64_t s = 0; s < strips; s++)
    for (int64_t p = 0; p < k2; p++)
      for (int r = 0; r < MR; r++) {
        int64_t i = s * MR + r, k0 = pair_column(a, p, 0), k1 = pair_column(a, p, 1);
        uint32_t lo = k0 < 0 ? 0 : to_bf16(a_at(a, i, k0)), hi = k1 < 0 ? 0 : to_bf16(a_at(a, i, k1));
        a->packed[(s * k2 + p) * MR + r] = lo | hi << 16;
      }
}

/* The packed A of the call, from the cache or made now; NULL when out of memory. */
static const uint32_t *cached_a(snt_k_bf16_cache *c, const snt_k_gemm_call *g) {
  for (int i = 0; i < c->n; i++) {
    a_entry *e = &c->e[i];
    if (e->src == g->a && e->m == g->m && e->k == g->k && e->lda == g->lda && e->trans == g->trans_a &&
        e->pair_taps == g->pair_taps && e->pair_channels == g->pair_channels)
      return e->packed;
  }
  if (c->n == MAX_ENTRIES) return NULL;
  if (c->n == c->cap) {
    int cap = c->cap ? 2 * c->cap : 64;
    a_entry *ne = realloc(c->e, sizeof(a_entry) * (size_t)cap);
    if (!ne) return NULL;
    c->e = ne;
    c->cap = cap;
  }
  a_entry e = {g->a, g->m, g->k, g->lda, g->trans_a, g->pair_taps, g->pair_channels, NULL};
  size_t bytes = (size_t)(round_up(g->m, MR) * (round_up(g->k, 2) / 2)) * sizeof(uint32_t);
  if (!(e.packed = aligned_alloc(64, (size_t)round_up((int64_t)bytes, 64)))) return NULL;
  pack_a(&e);
  c->e[c->n++] = e;
  return e.packed;
}

/* fp32 strips of NR columns (K rows each, the layout of gemm_core.h with kc = K) from a plain B. */
static void pack_b_plain(const snt_k_gemm_call *g, int64_t n0, int64_t nc, float *dst) {
  int64_t strips = round_up(nc, NR) / NR, cb = g->col_block;
  if (!g->trans_b) { /* row by row: each B row is read once, in order; cut where a column block ends */
    for (int64_t k = 0; k < g->k; k++)
      for (int64_t s = 0; s < strips; s++) {
        float *d = dst + (s * g->k + k) * NR;
        int64_t w = nc - s * NR < NR ? nc - s * NR : NR;
        for (int64_t done = 0, len; done < w; done += len) {
          int64_t col = n0 + s * NR + done;
          len = cb && cb - col % cb < w - done ? cb - col % cb : w - done;
          memcpy(d + done, g->b + k * g->ldb + (cb ? col / cb * g->b_stride + col % cb : col), (size_t)len * sizeof(float));
        }
        for (int64_t j = w; j < NR; j++) d[j] = 0.0f;
      }
    return;
  }
  for (int64_t s = 0; s < strips; s++)
    for (int64_t k = 0; k < g->k; k++) {
      float *d = dst + (s * g->k + k) * NR;
      for (int j = 0; j < NR; j++) {
        int64_t col = n0 + s * NR + j;
        d[j] = col >= n0 + nc ? 0.0f : (g->trans_b ? g->b[col * g->ldb + k] : g->b[k * g->ldb + col]);
      }
    }
}

/* One fp32 strip (K rows of NR) into K2 bf16 pair rows; an odd K gets a zero last row. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void round_strip(const float *src, int64_t k,
                                                                             uint16_t *dst) {
  static const uint16_t order[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                     8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  __m512i idx = _mm512_loadu_si512(order);
  for (int64_t p = 0; 2 * p < k; p++) {
    const float *r0 = src + 2 * p * NR, *r1 = 2 * p + 1 < k ? r0 + NR : NULL;
    for (int v = 0; v < NV; v++) {
      __m512 lo = _mm512_loadu_ps(r0 + 16 * v), hi = r1 ? _mm512_loadu_ps(r1 + 16 * v) : _mm512_setzero_ps();
      __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo); /* lo's 16 values, then hi's */
      _mm512_storeu_si512(dst + (p * NR + 16 * v) * 2, _mm512_permutexvar_epi16(idx, both));
    }
  }
}

typedef struct job {
  const snt_k_gemm_call *g;
  const uint32_t *a;
  int64_t k2;
  int split_n; /* threads take column strips (else row strips) */
  float *fbuf[64];
  uint16_t *bbuf[64];
  int64_t nc; /* columns per packed B block */
} job;

/* Where the 16 columns from j sit, as offsets from a row's start: lanes [0, split) at o0 and
 * the others at o1 + lane (o1: the next column block's start minus split); split is 16 unless
 * the vector crosses into the next block (blocks are at least 16 columns: check_call). */
typedef struct vec_at {
  int64_t o0, o1;
  int split;
} vec_at;

static inline vec_at vec_at_in(const snt_k_gemm_call *g, int64_t j, int64_t stride) {
  vec_at v = {j, 0, 16};
  if (!g->col_block) return v;
  int64_t in = j % g->col_block, blk = j / g->col_block;
  v.o0 = blk * stride + in;
  if (g->col_block - in < 16) {
    v.split = (int)(g->col_block - in);
    v.o1 = (blk + 1) * stride - v.split;
  }
  return v;
}

/* In C, the residual and the tap (col_stride apart); in a plain B (b_stride). */
static inline vec_at vec_at_of(const snt_k_gemm_call *g, int64_t j) { return vec_at_in(g, j, g->col_stride); }

__attribute__((target("avx512f"))) static inline __mmask16 low_lanes(int n) {
  return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

__attribute__((target("avx512f"))) static inline __m512 load_at(const float *row, vec_at v, __mmask16 mk) {
  __m512 x = _mm512_maskz_loadu_ps(mk & low_lanes(v.split), row + v.o0);
  if (v.split < 16) x = _mm512_mask_loadu_ps(x, mk & (__mmask16)~low_lanes(v.split), row + v.o1);
  return x;
}

__attribute__((target("avx512f"))) static inline void store_at(float *row, vec_at v, __mmask16 mk, __m512 x) {
  _mm512_mask_storeu_ps(row + v.o0, mk & low_lanes(v.split), x);
  if (v.split < 16) _mm512_mask_storeu_ps(row + v.o1, mk & (__mmask16)~low_lanes(v.split), x);
}

/* x rounded to bfloat16 into a tap16 row, as store_at places floats. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static inline void store_at16(uint16_t *row, vec_at v,
                                                                                             __mmask16 mk, __m512 x,
                                                                                             int stream) {
  __m256i h = (__m256i)_mm512_cvtneps_pbh(x);
  if (stream) {
    _mm256_stream_si256((__m256i *)(row + v.o0), h);
    return;
  }
  _mm256_mask_storeu_epi16(row + v.o0, mk & low_lanes(v.split), h);
  if (v.split < 16) _mm256_mask_storeu_epi16(row + v.o1, mk & (__mmask16)~low_lanes(v.split), h);
}

/* act(alpha * acc + C? + biases + residual) into C's rows i0.. (rows < m) and columns j0.. . */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void store_tile(const snt_k_gemm_call *g,
                                                                            __m512 *acc, int64_t i0,
                                                                            int64_t j0) {
  const snt_k_epilogue_desc *e = &g->epi;
  int rows = g->m - i0 < MR ? (int)(g->m - i0) : MR;
  for (int v = 0; v < NV; v++) {
    int64_t j = j0 + 16 * v, left = g->n - j;
    if (left <= 0) break;
    __mmask16 mk = low_lanes(left >= 16 ? 16 : (int)left);
    vec_at at = vec_at_of(g, j);
    __m512 cb = e->col_bias ? _mm512_maskz_loadu_ps(mk, e->col_bias + j) : _mm512_setzero_ps();
    for (int r = 0; r < rows; r++) {
      int64_t i = i0 + r;
      float *cp = g->c + i * g->ldc;
      __m512 x = _mm512_mul_ps(acc[r * NV + v], _mm512_set1_ps(e->alpha));
      if (e->accumulate) x = _mm512_add_ps(x, load_at(cp, at, mk));
      if (e->row_bias) x = _mm512_add_ps(x, _mm512_set1_ps(e->row_bias[i]));
      x = _mm512_add_ps(x, cb);
      if (e->residual) x = _mm512_add_ps(x, load_at(e->residual + i * e->ldr, at, mk));
      switch (e->act.kind) {
        case SNT_K_ACT_RELU: /* NaN passes, as max(x, 0) in numpy */
          x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), x, _mm512_setzero_ps());
          break;
        case SNT_K_ACT_LEAKY_RELU:
          x = _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), x,
                                 _mm512_set1_ps(e->act.alpha));
          break;
        case SNT_K_ACT_CLIP:
          x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(e->act.clip_min), _CMP_LT_OQ), x,
                                   _mm512_set1_ps(e->act.clip_min));
          x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(e->act.clip_max), _CMP_GT_OQ), x,
                                   _mm512_set1_ps(e->act.clip_max));
          break;
        default: x = snt_k_act_all512(x, &e->act); break; /* the exp-based and hard ones; none */
      }
      float *tp = e->tap ? e->tap + i * e->ldt : NULL;
      uint16_t *tp16 = e->tap16 ? e->tap16 + i * e->ldt : NULL;
      /* A whole aligned vector of a streamed C (gemm_core.h) skips the read for ownership. */
      int stream = e->stream && left >= 16 && at.split == 16 && ((uintptr_t)(cp + at.o0) & 63) == 0 &&
                   (!tp || ((uintptr_t)(tp + at.o0) & 63) == 0);
      if (stream) _mm512_stream_ps(cp + at.o0, x);
      else store_at(cp, at, mk, x);
      if (tp || tp16) { /* snt_k_bn_infer's multiply, add, max(v, 0) (NaN to 0); maybe fused into an FMA */
        __m512 t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(e->tap_scale[i])), _mm512_set1_ps(e->tap_shift[i]));
        if (e->tap_relu) t = _mm512_max_ps(t, _mm512_setzero_ps());
        if (tp16) store_at16(tp16, at, mk, t, stream && ((uintptr_t)(tp16 + at.o0) & 31) == 0);
        else if (stream) _mm512_stream_ps(tp + at.o0, t);
        else store_at(tp, at, mk, t);
      }
    }
  }
}

/* The lines of C (and of the residual) the tile at rows i0, columns j0 will read or write:
 * fetched during the tile before it, since its rows lie a whole map apart, where no
 * prefetcher follows them. Returns how many (at most 2 * MR * NV). */
static int tile_lines(const snt_k_gemm_call *g, int64_t i0, int64_t j0, const char **pf) {
  int n = 0;
  if (i0 >= g->m || (!g->epi.residual && g->epi.stream)) return 0; /* streamed C is not read */
  int rows = g->m - i0 < MR ? (int)(g->m - i0) : MR;
  for (int v = 0; v < NV && j0 + 16 * v < g->n; v++) {
    vec_at at = vec_at_of(g, j0 + 16 * v);
    for (int r = 0; r < rows; r++) {
      if (g->epi.residual) pf[n++] = (const char *)(g->epi.residual + (i0 + r) * g->epi.ldr + at.o0);
      if (!g->epi.stream) pf[n++] = (const char *)(g->c + (i0 + r) * g->ldc + at.o0);
    }
  }
  return n;
}

/* An MR x NR tile over all K2 pairs, then its store; fetching the npf lines pf (the next tile's)
 * one per pair on the way. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void tile(const snt_k_gemm_call *g, const uint32_t *a,
                                                                      const uint16_t *b, int64_t k2, int64_t i0,
                                                                      int64_t j0, const char *const *pf, int npf) {
  __m512 acc[MR * NV];
#pragma GCC unroll 24
  for (int q = 0; q < MR * NV; q++) acc[q] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k2; p++) {
    if (p < npf) _mm_prefetch(pf[p], _MM_HINT_T0);
    __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32),
             b2 = (__m512bh)_mm512_loadu_si512(b + 64);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[r]);
      acc[r * NV + 0] = _mm512_dpbf16_ps(acc[r * NV + 0], av, b0);
      acc[r * NV + 1] = _mm512_dpbf16_ps(acc[r * NV + 1], av, b1);
      acc[r * NV + 2] = _mm512_dpbf16_ps(acc[r * NV + 2], av, b2);
    }
    a += MR;
    b += 2 * NR;
  }
  store_tile(g, acc, i0, j0);
}

/* 16 bfloat16 values of a b16 row, placed as load_at places floats, in the low half. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static inline __m512i load_at16(const uint16_t *row, vec_at v,
                                                                                   __mmask16 mk) {
  __m256i x = _mm256_maskz_loadu_epi16(mk & low_lanes(v.split), row + v.o0);
  if (v.split < 16) x = _mm256_mask_loadu_epi16(x, mk & (__mmask16)~low_lanes(v.split), row + v.o1);
  return _mm512_castsi256_si512(x);
}

/* The lines of `bytes` from `at` bytes into row r0 and the row after it (`ld` bytes on). The
 * addresses are integers: the second row may lie past B (a prefetch never faults). */
static inline void prefetch_rows(const void *r0, size_t ld, size_t at, size_t bytes) {
  uintptr_t end = (uintptr_t)r0 + at + bytes;
  for (uintptr_t a = ((uintptr_t)r0 + at) & ~(uintptr_t)63; a < end; a += 64) {
    _mm_prefetch((const char *)a, _MM_HINT_T0);
    _mm_prefetch((const char *)(a + ld), _MM_HINT_T0);
  }
}

/* A plain, untransposed B straight into bf16 pair strips (pack_b_plain then round_strip, in one
 * pass: the fp32 copy cost as much as the products of a 1x1 layer with few output channels). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void pack_round_plain(const snt_k_gemm_call *g,
                                                                                  int64_t n0, int64_t nc,
                                                                                  uint16_t *dst) {
  static const uint16_t order[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                     8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  __m512i idx = _mm512_loadu_si512(order);
  int64_t strips = round_up(nc, NR) / NR, k2 = round_up(g->k, 2) / 2;
  for (int64_t s = 0; s < strips; s++) {
    vec_at at[NV];
    __mmask16 mk[NV];
    for (int v = 0; v < NV; v++) {
      int64_t j = n0 + s * NR + 16 * v, left = n0 + nc - j;
      mk[v] = low_lanes(left <= 0 ? 0 : left >= 16 ? 16 : (int)left);
      at[v] = vec_at_in(g, left > 0 ? j : 0, g->b_stride); /* a vector past nc reads nothing */
    }
    uint16_t *d = dst + s * k2 * NR * 2;
    /* Where the next strip starts in a row (-1: past B). Its rows' lines are fetched while this
     * strip is packed: K rows a map apart are K streams, more than the hardware prefetcher
     * follows, and each gives a strip only 2-4 lines (ResNet50V2's 256 -> 64 at batch 32 in
     * BF16: 9.5-9.8 -> 6.3-6.6 ms; 1, 2 or 3 strips ahead within noise, 1 kept). */
    int64_t ahead = n0 + (s + 1) * NR;
    ahead = ahead < g->n ? vec_at_in(g, ahead, g->b_stride).o0 : -1;
    if (g->b16) { /* rounded already (a tap16): rows 2p and 2p + 1 interleaved as they are */
      for (int64_t p = 0; p < k2; p++, d += 2 * NR) {
        const uint16_t *r0 = g->b16 + 2 * p * g->ldb;
        if (ahead >= 0)
          prefetch_rows(r0, g->ldb * sizeof(uint16_t), ahead * sizeof(uint16_t), NR * sizeof(uint16_t));
        for (int v = 0; v < NV; v++) {
          __m512i lo = load_at16(r0, at[v], mk[v]);
          __m512i hi = 2 * p + 1 < g->k ? load_at16(r0 + g->ldb, at[v], mk[v]) : _mm512_setzero_si512();
          _mm512_storeu_si512(d + 32 * v, _mm512_permutexvar_epi16(idx, _mm512_inserti64x4(lo, _mm512_castsi512_si256(hi), 1)));
        }
      }
      continue;
    }
    for (int64_t p = 0; p < k2; p++, d += 2 * NR) { /* rows 2p and 2p + 1, 48 columns each */
      const float *r0 = g->b + 2 * p * g->ldb;
      if (ahead >= 0) prefetch_rows(r0, g->ldb * sizeof(float), ahead * sizeof(float), NR * sizeof(float));
      for (int v = 0; v < NV; v++) {
        __m512 lo = load_at(r0, at[v], mk[v]);
        __m512 hi = 2 * p + 1 < g->k ? load_at(r0 + g->ldb, at[v], mk[v]) : _mm512_setzero_ps();
        _mm512_storeu_si512(d + 32 * v, _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(hi, lo)));
      }
    }
  }
}

/* Packs columns [n0, n0 + nc) and runs every row strip in [s0, s1) against them. */
static void block(job *jb, int t, int64_t n0, int64_t nc, int64_t s0, int64_t s1) {
  const snt_k_gemm_call *g = jb->g;
  int64_t strips = round_up(nc, NR) / NR;
  if (!g->pack_b && !g->trans_b) {
    pack_round_plain(g, n0, nc, jb->bbuf[t]);
  } else if (g->pair_taps) { /* rounded already: the packer's 32-bit rows are the pair rows */
    g->pack_b(g->pack_b_src, 0, jb->k2, n0, nc, NR, (float *)jb->bbuf[t]);
  } else if (g->pack_b) { /* KC rows of a strip at a time: the fp32 copy stays in L1 */
    for (int64_t s = 0; s < strips; s++) {
      int64_t w = nc - s * NR < NR ? nc - s * NR : NR;
      for (int64_t k0 = 0; k0 < g->k; k0 += KC) {
        int64_t kc = g->k - k0 < KC ? g->k - k0 : KC;
        g->pack_b(g->pack_b_src, k0, kc, n0 + s * NR, w, NR, jb->fbuf[t]);
        round_strip(jb->fbuf[t], kc, jb->bbuf[t] + (s * jb->k2 + k0 / 2) * NR * 2);
      }
    }
  } else {
    pack_b_plain(g, n0, nc, jb->fbuf[t]);
    for (int64_t s = 0; s < strips; s++)
      round_strip(jb->fbuf[t] + s * g->k * NR, g->k, jb->bbuf[t] + s * jb->k2 * NR * 2);
  }
  const char *pf[2 * MR * NV];
  for (int64_t s = 0; s < strips; s++)
    for (int64_t i = s0; i < s1; i++) {
      int npf = tile_lines(g, (i + 1) * MR, n0 + s * NR, pf);
      tile(g, jb->a + i * jb->k2 * MR, jb->bbuf[t] + s * jb->k2 * NR * 2, jb->k2, i * MR, n0 + s * NR, pf, npf);
    }
}

static void run_thread(void *arg, int t, int threads) {
  job *jb = arg;
  const snt_k_gemm_call *g = jb->g;
  int64_t mstrips = round_up(g->m, MR) / MR, nstrips = round_up(g->n, NR) / NR;
  int64_t s0 = 0, s1 = mstrips, c0 = 0, c1 = nstrips;
  if (jb->split_n) c0 = nstrips * t / threads, c1 = nstrips * (t + 1) / threads;
  else s0 = mstrips * t / threads, s1 = mstrips * (t + 1) / threads;
  if (s0 >= s1) return;
  for (int64_t c = c0 * NR; c < c1 * NR && c < g->n; c += jb->nc) {
    int64_t nc = c1 * NR - c < jb->nc ? c1 * NR - c : jb->nc;
    if (c + nc > g->n) nc = g->n - c;
    block(jb, t, c, nc, s0, s1);
  }
  if (g->epi.stream) __builtin_ia32_sfence(); /* streamed stores visible before the team's hand-back */
}

/* *p at least `bytes` long (64-byte aligned, contents not kept); 0 when out of memory. */
static int grow(void **p, size_t *cap, size_t bytes) {
  if (*cap >= bytes) return 1;
  free(*p);
  *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
  *cap = *p ? bytes : 0;
  return *p != NULL;
}

snt_status snt_k_gemm_run_bf16(snt_k_ctx *ctx, snt_k_bf16_cache *cache, const snt_k_gemm_call *g) {
  if (!g->a || g->packed_a || g->m <= 0 || g->n <= 0 || g->k <= 0) return SNT_ERR_INPUT;
  job jb = {.g = g, .k2 = round_up(g->k, 2) / 2};
  if (!(jb.a = cached_a(cache, g))) return SNT_ERR_NOMEM;
  int threads = snt_k_ctx_threads(ctx);
  if (threads > 64) threads = 64;
  int64_t nstrips = round_up(g->n, NR) / NR, mstrips = round_up(g->m, MR) / MR;
  jb.split_n = nstrips >= 2 * threads || nstrips >= mstrips;
  int64_t per = B_BUDGET / (jb.k2 * 2 * NR * 2);
  jb.nc = (per < 1 ? 1 : per) * NR;
  /* block()'s fp32 staging: KC rows of a strip for a conv's packer, a whole block for a
   * transposed B, none for pairs or a plain B (rounded straight into bbuf). */
  size_t bbytes = (size_t)(round_up(g->k, 2) * jb.nc) * sizeof(uint16_t), fbytes = 64;
  if (g->pack_b && !g->pair_taps) fbytes = (size_t)(KC * NR) * sizeof(float);
  else if (!g->pack_b && g->trans_b) fbytes = 2 * bbytes;
  for (int t = 0; t < threads; t++) {
    if (!grow((void **)&cache->fbuf[t], &cache->fcap[t], fbytes) ||
        !grow((void **)&cache->bbuf[t], &cache->bcap[t], bbytes))
      return SNT_ERR_NOMEM;
    jb.fbuf[t] = cache->fbuf[t];
    jb.bbuf[t] = cache->bbuf[t];
  }
  snt_k_ctx_parallel(ctx, run_thread, &jb);
  return SNT_OK;
}
