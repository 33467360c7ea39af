/* The GEMM driver: C is cut into one rectangle per thread (along n when n has the work, else
 * along m; whole strips, so threads meet only at strip edges), or, split along n with the
 * weights packed at load, into units of columns the threads claim; each thread runs the blocked
 * loops jc (nc) -> pc (kc) -> ic (mc) -> jr (NR) -> ir (MR) on its rectangle with its own
 * packing buffers (B is read in place instead when few rows of A share it). m = 1 or n = 1 take
 * a GEMV, few rows of A times a transposed B take dot tiles. k is never split and the k-blocks
 * do not depend on the split, so results are bit-identical whatever the thread count. */
#include <stdatomic.h>
#include <stdlib.h>

#include "act_pass.h"
#include "gemm_bf16.h"
#include "gemm_ukr.h"
#include "kernels_util.h"

/* ---- geometry ---------------------------------------------------------------------------- */

snt_k_gemm_shape snt_k_gemm_shape_of(snt_k_isa isa) {
  switch (isa) {
    /* Measured on Zen 5 (L1 48 KB, L2 1 MB): a packed B block of 256 x 1024 fits L2 with the
     * 224 x 256 A block; 2048 columns were 15% slower (B strips then come from L3). */
    case SNT_K_ISA_AVX512: return (snt_k_gemm_shape){SNT_K_AVX512_MR, SNT_K_AVX512_NR, 14 * 16, 256, 1024};
    case SNT_K_ISA_AVX2: return (snt_k_gemm_shape){SNT_K_AVX2_MR, SNT_K_AVX2_NR, 6 * 40, 256, 1024};
    case SNT_K_ISA_C: break;
  }
  return (snt_k_gemm_shape){SNT_K_C_MR, SNT_K_C_NR, 4 * 64, 256, 1024};
}

/* Equal blocks (a multiple of 8 deep) rather than full ones and a thin remainder. */
int64_t snt_k_gemm_kc(snt_k_isa isa, int64_t k) {
  int64_t kc_max = snt_k_gemm_shape_of(isa).kc;
  if (k <= 0) return 1;
  int64_t blocks = (k + kc_max - 1) / kc_max;
  int64_t kc = (k + blocks - 1) / blocks;
  return (kc + 7) / 8 * 8;
}

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static snt_k_ukr_fn ukr_of(snt_k_isa isa) {
  switch (isa) {
    case SNT_K_ISA_AVX512: return snt_k_ukr_avx512;
    case SNT_K_ISA_AVX2: return snt_k_ukr_avx2;
    case SNT_K_ISA_C: break;
  }
  return snt_k_ukr_c;
}

/* ---- packing ----------------------------------------------------------------------------- */

/* One strip of A not transposed: MR row streams read side by side, the strip written in order
 * (MR is a constant in each copy, so the inner loop unrolls). */
static inline void pack_a_strip_rows(const float *a, int64_t lda, int h, int64_t kcb, int mr, float *d) {
  const float *rows[SNT_K_MR_MAX > SNT_K_NR_MAX ? SNT_K_MR_MAX : SNT_K_NR_MAX];
  for (int ii = 0; ii < mr; ii++) rows[ii] = a + (ii < h ? ii : 0) * lda;
  if (h == mr) {
    for (int64_t kk = 0; kk < kcb; kk++, d += mr) {
      for (int ii = 0; ii < mr; ii++) d[ii] = rows[ii][kk];
    }
  } else {
    for (int64_t kk = 0; kk < kcb; kk++, d += mr) {
      for (int ii = 0; ii < mr; ii++) d[ii] = ii < h ? rows[ii][kk] : 0.0f;
    }
  }
}

/* Also a strip of B transposed (its columns are rows of b). */
static void pack_a_strip_rows_any(const float *a, int64_t lda, int h, int64_t kcb, int mr, float *d) {
  switch (mr) { /* the ISAs' MR and NR, each with a constant trip count */
    /* Only the AVX-512 path has these widths: its transposing packer (16 x 16 in registers). */
    case SNT_K_AVX512_MR:
    case SNT_K_AVX512_NR: snt_k_pack_rows_t_avx512(a, lda, h, kcb, mr, d); break;
    case SNT_K_AVX2_MR: pack_a_strip_rows(a, lda, h, kcb, SNT_K_AVX2_MR, d); break;
    case SNT_K_C_MR: pack_a_strip_rows(a, lda, h, kcb, SNT_K_C_MR, d); break;
    case SNT_K_AVX2_NR: pack_a_strip_rows(a, lda, h, kcb, SNT_K_AVX2_NR, d); break;
    default: pack_a_strip_rows(a, lda, h, kcb, mr, d); break;
  }
}

/* Rows [m0, m0 + rows) of A, depth [k0, k0 + kcb), as strips of mr rows (zero past rows). */
static void pack_a_block(const float *a, int64_t lda, int trans_a, int64_t m0, int64_t rows, int64_t k0,
                         int64_t kcb, int mr, float *dst) {
  for (int64_t s = 0; s * mr < rows; s++) {
    float *d = dst + s * kcb * mr;
    int64_t i0 = m0 + s * mr;
    int h = (int)min64(mr, rows - s * mr);
    if (trans_a) { /* A[i][k] = a[k][i]: a strip row is contiguous */
      for (int64_t kk = 0; kk < kcb; kk++) {
        const float *src = a + (k0 + kk) * lda + i0;
        float *dk = d + kk * mr;
        for (int ii = 0; ii < h; ii++) dk[ii] = src[ii];
        for (int ii = h; ii < mr; ii++) dk[ii] = 0.0f;
      }
    } else {
      pack_a_strip_rows_any(a + i0 * lda + k0, lda, h, kcb, mr, d);
    }
  }
}

size_t snt_k_gemm_packed_a_bytes(snt_k_isa isa, int64_t m, int64_t k) {
  int mr = snt_k_gemm_shape_of(isa).mr;
  return (size_t)(round_up(m, mr) * k) * sizeof(float);
}

void snt_k_gemm_pack_a(snt_k_isa isa, const float *a, int64_t lda, int trans_a, int64_t m, int64_t k, float *dst) {
  int mr = snt_k_gemm_shape_of(isa).mr;
  int64_t kc = snt_k_gemm_kc(isa, k), mp = round_up(m, mr);
  for (int64_t k0 = 0; k0 < k; k0 += kc)
    pack_a_block(a, lda, trans_a, 0, m, k0, min64(kc, k - k0), mr, dst + k0 * mp);
}

/* The plain B operand, as a snt_k_pack_b_fn source. */
typedef struct plain_b {
  const float *b;
  int64_t ldb;
  int trans_b;
} plain_b;

/* Row-major B: each row of the block read once, front to back (DRAM and the prefetcher like
 * that), its pieces written to the strips (which sit in L2). */
static inline void pack_b_rows(const float *b, int64_t ldb, int64_t kcb, int64_t ncb, int nr, float *dst) {
  int64_t full = ncb / nr * nr;
  for (int64_t kk = 0; kk < kcb; kk++) {
    const float *row = b + kk * ldb;
    float *d = dst + kk * nr;
    for (int64_t j = 0; j < full; j += nr, d += kcb * nr) {
      for (int jj = 0; jj < nr; jj++) d[jj] = row[j + jj];
    }
    if (full < ncb) {
      int w = (int)(ncb - full);
      for (int jj = 0; jj < w; jj++) d[jj] = row[full + jj];
      for (int jj = w; jj < nr; jj++) d[jj] = 0.0f;
    }
  }
}

static void pack_b_plain(const void *src, int64_t k0, int64_t kcb, int64_t n0, int64_t ncb, int nr, float *dst) {
  const plain_b *pb = src;
  if (!pb->trans_b) {
    const float *b = pb->b + k0 * pb->ldb + n0;
    switch (nr) { /* constant strip widths unroll */
      case SNT_K_AVX512_NR: pack_b_rows(b, pb->ldb, kcb, ncb, SNT_K_AVX512_NR, dst); break;
      case SNT_K_AVX2_NR: pack_b_rows(b, pb->ldb, kcb, ncb, SNT_K_AVX2_NR, dst); break;
      default: pack_b_rows(b, pb->ldb, kcb, ncb, nr, dst); break;
    }
    return;
  }
  for (int64_t s = 0; s * nr < ncb; s++) { /* B[k][j] = b[j][k]: strip columns are rows of b */
    int64_t j0 = n0 + s * nr;
    int w = (int)min64(nr, ncb - s * nr);
    pack_a_strip_rows_any(pb->b + j0 * pb->ldb + k0, pb->ldb, w, kcb, nr, dst + s * kcb * nr);
  }
}

/* ---- the epilogue outside the microkernel ---------------------------------------------- */

/* One element (GEMV, dot tiles, k = 0): the cheap kinds inline, the others act_pass.h's. */
static float act_one(float v, const snt_k_act *act) {
  if (!snt_k_act_needs_pass(act)) return snt_k_ukr_act(v, act);
  snt_k_act_pass_c(act, &v, &v, 1);
  return v;
}

/* The activations of act_pass.h, a pass over a finished tile while it is in L1. */
static void slow_act_tile(snt_k_isa isa, float *c, int64_t ldc, int rows, int cols, const snt_k_act *act) {
  for (int i = 0; i < rows; i++) snt_k_act_pass(isa, act, c + i * ldc, c + i * ldc, cols);
}

/* The tap (gemm_core.h) of a finished block of C: rows [i0, i0 + rows), columns [j0, j0 + cols). */
static void tap_block(const snt_k_epilogue_desc *e, const float *c, int64_t ldc, int64_t i0, int64_t rows, int64_t j0,
                      int64_t cols) {
  for (int64_t i = i0; i < i0 + rows; i++) {
    if (e->tap16)
      snt_k_tap_run16(c + i * ldc + j0, e->tap16 + i * e->ldt + j0, cols, e->tap_scale[i], e->tap_shift[i], e->tap_relu);
    else
      snt_k_tap_run(c + i * ldc + j0, e->tap + i * e->ldt + j0, cols, e->tap_scale[i], e->tap_shift[i], e->tap_relu);
  }
}

void snt_k_tap_run16(const float *y, uint16_t *out, int64_t n, float s, float b, int relu) {
  float v[256]; /* the float tap as snt_k_tap_run computes it (this file has no FMA), then rounded */
  for (int64_t i = 0; i < n; i += 256) {
    int64_t len = n - i < 256 ? n - i : 256;
    snt_k_tap_run(y + i, v, len, s, b, relu);
    snt_k_bf16_round_run(v, out + i, len);
  }
}

/* C[i][j] for one element whose product (already scaled by alpha) is v. */
static float epi_one(const snt_k_epilogue_desc *e, float v, float c_old, int64_t i, int64_t j) {
  if (e->accumulate) v += c_old;
  if (e->row_bias) v += e->row_bias[i];
  if (e->col_bias) v += e->col_bias[j];
  if (e->residual) v += e->residual[i * e->ldr + j];
  return act_one(v, &e->act);
}

/* k = 0: the product is 0 and only the epilogue remains. */
static void epilogue_only(const snt_k_gemm_call *g) {
  for (int64_t i = 0; i < g->m; i++) {
    float *c = g->c + i * g->ldc;
    for (int64_t j = 0; j < g->n; j++) c[j] = epi_one(&g->epi, 0.0f, c[j], i, j);
  }
}

/* ---- GEMV: m = 1 or n = 1 ---------------------------------------------------------------- */

/* out[o] = sum_k x[k] * W(o, k) for o in [0, outs); W is w with ldw, dot (W(o,k) = w[o*ldw+k])
 * or axpy (W(o,k) = w[k*ldw+o]); C[o] sits at c + o * c_step and is C's element
 * (i, j) = (o * ri, o * rj) for the epilogue. */
typedef struct gemv_job {
  const snt_k_gemm_call *g;
  snt_k_isa isa;
  int64_t outs, k, ldw;
  const float *x, *w;
  int dot;
  int64_t c_step, ri, rj;
  int64_t chunk;
} gemv_job;

enum { GEMV_CHUNK = 256 };

static void gemv_thread(void *arg, int t, int threads) {
  const gemv_job *J = arg;
  const snt_k_gemm_call *g = J->g;
  int64_t chunks = (J->outs + J->chunk - 1) / J->chunk;
  int64_t c0 = chunks * t / threads, c1 = chunks * (t + 1) / threads;
  float y[GEMV_CHUNK];
  for (int64_t ch = c0; ch < c1; ch++) {
    int64_t o0 = ch * J->chunk, cnt = min64(J->chunk, J->outs - o0);
    for (int64_t p = 0; p < cnt; p += GEMV_CHUNK) {
      int64_t q = min64(GEMV_CHUNK, cnt - p), o = o0 + p;
      if (J->dot) {
        const float *w = J->w + o * J->ldw;
        switch (J->isa) {
          case SNT_K_ISA_AVX512: snt_k_gemv_dot_avx512(q, J->k, J->x, w, J->ldw, y); break;
          case SNT_K_ISA_AVX2: snt_k_gemv_dot_avx2(q, J->k, J->x, w, J->ldw, y); break;
          case SNT_K_ISA_C: snt_k_gemv_dot_c(q, J->k, J->x, w, J->ldw, y); break;
        }
      } else {
        const float *w = J->w + o;
        switch (J->isa) {
          case SNT_K_ISA_AVX512: snt_k_gemv_axpy_avx512(q, J->k, J->x, w, J->ldw, y); break;
          case SNT_K_ISA_AVX2: snt_k_gemv_axpy_avx2(q, J->k, J->x, w, J->ldw, y); break;
          case SNT_K_ISA_C: snt_k_gemv_axpy_c(q, J->k, J->x, w, J->ldw, y); break;
        }
      }
      /* The exp-based activations as one vector pass over the chunk, not a call per element. */
      snt_k_epilogue_desc e = g->epi;
      int pass = snt_k_act_needs_pass(&e.act);
      if (pass) e.act.kind = SNT_K_ACT_NONE;
      for (int64_t r = 0; r < q; r++)
        y[r] = epi_one(&e, g->epi.alpha * y[r], g->c[(o + r) * J->c_step], (o + r) * J->ri, (o + r) * J->rj);
      if (pass) snt_k_act_pass(J->isa, &g->epi.act, y, y, q);
      for (int64_t r = 0; r < q; r++) g->c[(o + r) * J->c_step] = y[r];
    }
  }
}

static int gemv_applies(const snt_k_gemm_call *g) {
  return !g->pack_b && !g->packed_a && (g->m == 1 || g->n == 1);
}

static snt_status gemv_run(snt_k_ctx *ctx, const snt_k_gemm_call *g, snt_k_isa isa, int threads) {
  gemv_job J = {.g = g, .isa = isa, .k = g->k};
  const float *xs; /* x with its stride */
  int64_t x_step;
  if (g->m == 1) { /* x = A's row, W(j, k) = B[k][j] */
    xs = g->a;
    x_step = g->trans_a ? g->lda : 1;
    J.outs = g->n;
    J.w = g->b;
    J.ldw = g->ldb;
    J.dot = g->trans_b;
    J.c_step = 1;
    J.rj = 1;
  } else { /* x = B's column, W(i, k) = A[i][k] */
    xs = g->b;
    x_step = g->trans_b ? 1 : g->ldb;
    J.outs = g->m;
    J.w = g->a;
    J.ldw = g->lda;
    J.dot = !g->trans_a;
    J.c_step = g->ldc;
    J.ri = 1;
  }
  float *copy = NULL, *own = NULL;
  if (x_step != 1) {
    size_t bytes = (size_t)g->k * sizeof(float);
    copy = ctx ? snt_k_ctx_scratch(ctx, SNT_K_SCRATCH_GEMM, 0, bytes) : (own = malloc(bytes));
    if (!copy) return SNT_ERR_NOMEM;
    for (int64_t kk = 0; kk < g->k; kk++) copy[kk] = xs[kk * x_step];
    xs = copy;
  }
  J.x = xs;
  /* Chunks of 16 outputs at least, so threads split the outputs, never a sum. */
  int64_t per = (J.outs + threads - 1) / threads;
  J.chunk = round_up(per < 16 ? 16 : per, 16);
  if (J.chunk >= J.outs || threads == 1) gemv_thread(&J, 0, 1);
  else snt_k_ctx_parallel(ctx, gemv_thread, &J);
  free(own);
  return SNT_OK;
}

/* ---- few rows of A times a transposed B: dot tiles, nothing packed ------------------------- */

/* Up to this many rows of A (measured on Zen 5 against the packed path: m 2..64, n 128..1000,
 * k 512..100352; AVX2's 2-row tiles lose from m = 64). */
enum { DOT_MAX_ROWS = 64, DOT_MAX_ROWS_AVX2 = 32 };

typedef struct dot_job {
  const snt_k_gemm_call *g;
  snt_k_dot_tile_fn tile;
} dot_job;

/* Thread t takes a range of column groups (16 columns, so threads meet at cache-line edges). */
static void dot_thread(void *arg, int t, int threads) {
  enum { T = SNT_K_DOT_TILE, GROUP = 16 };
  const dot_job *J = arg;
  const snt_k_gemm_call *g = J->g;
  int64_t groups = (g->n + GROUP - 1) / GROUP;
  int64_t j0 = groups * t / threads * GROUP, j1 = min64(g->n, groups * (t + 1) / threads * GROUP);
  float out[T * T];
  for (int64_t j = j0; j < j1; j += T) {
    int nr = (int)min64(T, j1 - j);
    for (int64_t i = 0; i < g->m; i += T) {
      int mr = (int)min64(T, g->m - i);
      J->tile(g->k, g->a + i * g->lda, g->lda, g->b + j * g->ldb, g->ldb, mr, nr, out);
      for (int ii = 0; ii < mr; ii++) {
        float *c = g->c + (i + ii) * g->ldc + j;
        for (int jj = 0; jj < nr; jj++) c[jj] = epi_one(&g->epi, g->epi.alpha * out[ii * T + jj], c[jj], i + ii, j + jj);
      }
    }
  }
}

static int dot_applies(const snt_k_gemm_call *g, snt_k_isa isa) {
  int64_t rows = isa == SNT_K_ISA_AVX2 ? DOT_MAX_ROWS_AVX2 : DOT_MAX_ROWS;
  return !g->pack_b && !g->packed_a && g->trans_b && !g->trans_a && g->m <= rows;
}

static void dot_run(snt_k_ctx *ctx, const snt_k_gemm_call *g, snt_k_isa isa, int threads) {
  dot_job J = {.g = g, .tile = isa == SNT_K_ISA_AVX512 ? snt_k_dot_tile_avx512
                              : isa == SNT_K_ISA_AVX2  ? snt_k_dot_tile_avx2
                                                       : snt_k_dot_tile_c};
  if (threads == 1) dot_thread(&J, 0, 1);
  else snt_k_ctx_parallel(ctx, dot_thread, &J);
}

/* ---- the blocked GEMM -------------------------------------------------------------------- */

typedef struct gemm_job {
  const snt_k_gemm_call *g;
  snt_k_gemm_shape sh;
  snt_k_ukr_fn ukr;
  int64_t kc, mp; /* k-block depth; m rounded up to MR (packed A's row count) */
  int tm, tn, used;
  int64_t ms, ns; /* strips of MR rows, of NR columns */
  snt_k_pack_b_fn pack_b;
  const void *pack_b_src;
  int direct_b; /* B's full strips read in place (few A strips to share a packed copy) */
  /* Columns split by claims (see dynamic_units): units of `unit` columns, the next unclaimed
   * one in `next`; 0: each thread its region_of. */
  int64_t unit;
  _Alignas(64) _Atomic int64_t next; /* a line of its own: each claim moves it between cores */
  _Alignas(64) float *bufs[64];
  snt_k_isa isa;
} gemm_job;

/* Floats of packing buffer a thread needs for a rectangle of `rows` x `cols`. */
static int64_t buf_floats(const gemm_job *J, int64_t rows, int64_t cols) {
  int64_t a = J->g->packed_a ? 0 : round_up(min64(J->sh.mc, rows), J->sh.mr) * J->kc;
  int64_t b = (J->direct_b ? J->sh.nr : round_up(min64(J->sh.nc, cols), J->sh.nr)) * J->kc;
  return round_up(a, 16) + b;
}

/* Thread t's rectangle: rows [*i0, *i1), columns [*j0, *j1) (empty when t has no work). */
static void region_of(const gemm_job *J, int t, int64_t *i0, int64_t *i1, int64_t *j0, int64_t *j1) {
  int tmi = t / J->tn, tni = t % J->tn;
  *i0 = min64(J->g->m, J->ms * tmi / J->tm * J->sh.mr);
  *i1 = min64(J->g->m, J->ms * (tmi + 1) / J->tm * J->sh.mr);
  *j0 = min64(J->g->n, J->ns * tni / J->tn * J->sh.nr);
  *j1 = min64(J->g->n, J->ns * (tni + 1) / J->tn * J->sh.nr);
}

/* The tiles of one packed A block x B block (packed, or in place but for a packed tail strip). */
static void macro_kernel(const gemm_job *J, snt_k_ukr_args *u, const float *ablk, const float *bblk, int64_t ic,
                         int64_t mcb, int64_t jc, int64_t ncb, int64_t k0, int64_t kcb) {
  const snt_k_gemm_call *g = J->g;
  const snt_k_epilogue_desc *e = &g->epi;
  int mr = J->sh.mr, nr = J->sh.nr;
  /* The AVX-512 microkernel applies every activation and writes the tap in its store; the
   * others leave the exp-based activations and the tap to a pass over the tile in L1. */
  int slow = u->last && J->isa != SNT_K_ISA_AVX512 && snt_k_act_needs_pass(&e->act);
  int tapped = e->tap || e->tap16;
  int tap_ukr = u->last && tapped && J->isa == SNT_K_ISA_AVX512 && !slow, tap_pass = u->last && tapped && !tap_ukr;
  u->kc = kcb;
  for (int64_t jr = 0; jr < ncb; jr += nr) {
    u->nr = (int)min64(nr, ncb - jr);
    if (!J->direct_b) {
      u->b = bblk + jr * kcb;
      u->ldb = nr;
      u->b_next = kcb * nr;
    } else if (u->nr == nr) {
      u->b = g->b + k0 * g->ldb + jc + jr;
      u->ldb = g->ldb;
      u->b_next = nr; /* past the last full strip: a prefetch, which never faults */
    } else {
      u->b = bblk;
      u->ldb = nr;
    }
    for (int64_t ir = 0; ir < mcb; ir += mr) {
      int64_t i = ic + ir, j = jc + jr;
      u->a = ablk + ir * kcb;
      u->prefetch_b = ir == 0 && jr + nr < ncb;
      u->mr = (int)min64(mr, mcb - ir);
      u->c = g->c + i * g->ldc + j;
      u->row_bias = e->row_bias ? e->row_bias + i : NULL;
      u->col_bias = e->col_bias ? e->col_bias + j : NULL;
      u->residual = e->residual ? e->residual + i * e->ldr + j : NULL;
      u->tap = tap_ukr && e->tap ? e->tap + i * e->ldt + j : NULL;
      u->tap16 = tap_ukr && e->tap16 ? e->tap16 + i * e->ldt + j : NULL;
      u->tap_scale = tap_ukr ? e->tap_scale + i : NULL;
      u->tap_shift = tap_ukr ? e->tap_shift + i : NULL;
      J->ukr(u);
      if (slow) slow_act_tile(J->isa, u->c, g->ldc, u->mr, u->nr, &e->act);
      if (tap_pass) tap_block(e, g->c, g->ldc, i, u->mr, j, u->nr);
    }
  }
}

/* Rows [i0, i1) x columns [j0, j1) of C with part t's buffer. */
static void gemm_region(const gemm_job *J, int t, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const snt_k_gemm_call *g = J->g;
  if (i0 >= i1 || j0 >= j1) return;
  float *abuf = J->bufs[t];
  float *bbuf = abuf + (g->packed_a ? 0 : round_up(round_up(min64(J->sh.mc, i1 - i0), J->sh.mr) * J->kc, 16));
  snt_k_ukr_args u = {.ldc = g->ldc, .alpha = g->epi.alpha, .ldr = g->epi.ldr, .act = g->epi.act,
                      .ldt = g->epi.ldt, .tap_relu = g->epi.tap_relu,
                      .stream = g->epi.stream && J->isa == SNT_K_ISA_AVX512};
  for (int64_t jc = j0; jc < j1; jc += J->sh.nc) {
    int64_t ncb = min64(J->sh.nc, j1 - jc);
    for (int64_t k0 = 0; k0 < g->k; k0 += J->kc) {
      int64_t kcb = min64(J->kc, g->k - k0);
      if (!J->direct_b) {
        J->pack_b(J->pack_b_src, k0, kcb, jc, ncb, J->sh.nr, bbuf);
      } else if (ncb % J->sh.nr) { /* only the partial strip, which in place would read past n */
        int64_t full = ncb / J->sh.nr * J->sh.nr;
        J->pack_b(J->pack_b_src, k0, kcb, jc + full, ncb - full, J->sh.nr, bbuf);
      }
      u.load_c = k0 > 0 || g->epi.accumulate;
      u.last = k0 + kcb >= g->k;
      for (int64_t ic = i0; ic < i1; ic += J->sh.mc) {
        int64_t mcb = min64(J->sh.mc, i1 - ic);
        const float *ablk;
        if (g->packed_a) {
          ablk = g->packed_a + k0 * J->mp + ic * kcb;
        } else {
          pack_a_block(g->a, g->lda, g->trans_a, ic, mcb, k0, kcb, J->sh.mr, abuf);
          ablk = abuf;
        }
        macro_kernel(J, &u, ablk, bbuf, ic, mcb, jc, ncb, k0, kcb);
      }
    }
  }
  if (u.stream) __builtin_ia32_sfence(); /* streamed stores visible before the team's hand-back */
}

/* Part t: its region, or units of columns claimed until none is left, so that a thread whose
 * core runs slower (a virtual machine's cores do, by turns) takes fewer. Each tile is summed
 * the same whoever takes it: the bits do not depend on the claims. */
static void gemm_thread(void *arg, int t, int threads) {
  (void)threads;
  gemm_job *J = arg;
  if (t >= J->used) return;
  int64_t i0, i1, j0, j1;
  if (!J->unit) {
    region_of(J, t, &i0, &i1, &j0, &j1);
    gemm_region(J, t, i0, i1, j0, j1);
    return;
  }
  for (int64_t u; (u = atomic_fetch_add_explicit(&J->next, 1, memory_order_relaxed)) * J->unit < J->g->n;)
    gemm_region(J, t, 0, J->g->m, u * J->unit, min64(J->g->n, (u + 1) * J->unit));
}

/* Column units for a split by columns with the weights packed at load (no A to pack again per
 * unit): about 8 per thread, 4 to 32 strips each (at most a B block, so no more A is read than
 * region by region) and 2^20 multiply-adds at least. Not for products under 2^24: a claim
 * costs a cache line moved between cores, and SqueezeNet's small layers (at most 3M) ran its
 * batch-1 model 12-17% slower with units. */
enum { UNIT_MIN_MACS = 1 << 20, DYNAMIC_MIN_MACS = 1 << 24 };
static int64_t dynamic_units(const gemm_job *J) {
  const snt_k_gemm_call *g = J->g;
  if (J->tm != 1 || J->tn < 2 || !g->packed_a || (double)g->m * (double)g->n * (double)g->k < DYNAMIC_MIN_MACS)
    return 0;
  int64_t strips = (J->ns + 8 * J->tn - 1) / (8 * J->tn), most = J->sh.nc / J->sh.nr;
  double per_strip = (double)g->m * (double)g->k * (double)J->sh.nr; /* sizes from a model: no int64 product */
  int64_t least = per_strip >= UNIT_MIN_MACS ? 4 : (int64_t)(UNIT_MIN_MACS / per_strip) + 1;
  if (least < 4) least = 4;
  strips = strips < least ? least : strips > most ? most : strips;
  return strips * J->sh.nr;
}

/* The split tm x tn = threads that minimises the busiest thread's cost: multiply-adds over
 * 32 per cycle plus an element packed per cycle (B always; A unless packed). */
static void choose_split(gemm_job *J, int threads) {
  const snt_k_gemm_call *g = J->g;
  double best = -1.0;
  for (int tm = 1; tm <= threads; tm++) {
    if (threads % tm) continue;
    int tn = threads / tm;
    double rows = (double)((J->ms + tm - 1) / tm * J->sh.mr), cols = (double)((J->ns + tn - 1) / tn * J->sh.nr);
    double a_packs = g->packed_a ? 0.0 : rows * (double)((int64_t)cols + J->sh.nc - 1) / (double)J->sh.nc;
    double cost = rows * cols / 32.0 + cols + a_packs;
    if (best < 0.0 || cost < best || (cost == best && tn > J->tn)) {
      best = cost;
      J->tm = tm;
      J->tn = tn;
    }
  }
}

/* Up to this many rows of A, B is read in place: packing it costs about as much as the few
 * tiles that share each packed strip (measured on Zen 5: in place wins to m = 512 at least,
 * packed from m = 1000). */
enum { DIRECT_B_MAX_ROWS = 512 };

static int64_t isa_threads(snt_k_ctx *ctx, const snt_k_gemm_call *g) {
  /* Small products run on one thread: a wake-up costs more than they do. */
  double macs = (double)g->m * (double)g->n * (double)g->k;
  int64_t useful = (int64_t)(macs / 262144.0);
  int64_t threads = snt_k_ctx_threads(ctx);
  if (useful < threads) threads = useful < 1 ? 1 : useful;
  return threads;
}

static snt_status check_call(const snt_k_gemm_call *g) {
  int64_t w = g->col_block ? g->col_block : g->n, block; /* w: the columns a row of C holds */
  if (g->col_block && (g->col_block < 16 || g->n % g->col_block || g->trans_b ||
                       __builtin_mul_overflow(g->m, g->ldc, &block) || g->col_stride < block))
    return SNT_ERR_INPUT;
  if (g->m < 0 || g->n < 0 || g->k < 0 || !g->c || g->ldc < w) return SNT_ERR_INPUT;
  if (g->m == 0 || g->n == 0 || g->k == 0) return SNT_OK;
  if (g->pair_taps && (g->pair_taps < 0 || g->pair_channels <= 0 || g->trans_a || !g->pack_b || g->k % 2 ||
                       g->k / 2 != (g->pair_channels + 1) / 2 * g->pair_taps))
    return SNT_ERR_INPUT;
  int64_t a_cols = g->pair_taps ? g->pair_channels * g->pair_taps : g->k;
  if (!g->packed_a && (!g->a || g->lda < (g->trans_a ? g->m : a_cols))) return SNT_ERR_INPUT;
  if (!g->pack_b && !g->b16 && (!g->b || g->ldb < (g->trans_b ? g->k : w))) return SNT_ERR_INPUT;
  if (g->epi.residual && g->epi.ldr < w) return SNT_ERR_INPUT;
  if ((g->epi.tap || g->epi.tap16) && (g->epi.ldt < w || !g->epi.tap_scale || !g->epi.tap_shift)) return SNT_ERR_INPUT;
  if (g->epi.tap16 && (g->epi.tap || !snt_k_bf16_available())) return SNT_ERR_INPUT;
  if (g->b16 && (g->pack_b || g->trans_b || g->ldb < w)) return SNT_ERR_INPUT;
  return SNT_OK;
}

/* The paths other than the blocked GEMM, then the tap as a pass over C. */
static snt_status run_other(const snt_k_gemm_call *g, snt_status st) {
  if (st == SNT_OK && (g->epi.tap || g->epi.tap16)) tap_block(&g->epi, g->c, g->ldc, 0, g->m, 0, g->n);
  return st;
}

/* The blocked GEMM's job for one thread, without the GEMV and dot paths: the same microkernel
 * and k-blocks as snt_k_gemm_run's blocked path, so every element is summed alike. */
static void local_job(snt_k_isa isa, const snt_k_gemm_call *g, const plain_b *pb, gemm_job *J) {
  *J = (gemm_job){.g = g, .isa = isa, .sh = snt_k_gemm_shape_of(isa), .ukr = ukr_of(isa)};
  J->kc = snt_k_gemm_kc(isa, g->k);
  J->mp = round_up(g->m, J->sh.mr);
  J->ms = J->mp / J->sh.mr;
  J->ns = (g->n + J->sh.nr - 1) / J->sh.nr;
  J->tm = J->tn = J->used = 1;
  J->direct_b = !g->pack_b && !g->trans_b && J->mp <= DIRECT_B_MAX_ROWS;
  J->pack_b = g->pack_b ? g->pack_b : pack_b_plain;
  J->pack_b_src = g->pack_b ? g->pack_b_src : pb;
}

size_t snt_k_gemm_local_floats(snt_k_isa isa, const snt_k_gemm_call *g) {
  gemm_job J;
  plain_b pb = {g->b, g->ldb, g->trans_b};
  local_job(isa, g, &pb, &J);
  return (size_t)buf_floats(&J, g->m, g->n);
}

snt_status snt_k_gemm_local(snt_k_isa isa, const snt_k_gemm_call *g, float *buf) {
  snt_status st = check_call(g);
  if (st != SNT_OK || g->m == 0 || g->n == 0) return st;
  if (g->col_block || g->b16 || !buf) return SNT_ERR_INPUT;
  if (g->k == 0) {
    epilogue_only(g);
    return run_other(g, SNT_OK);
  }
  gemm_job J;
  plain_b pb = {g->b, g->ldb, g->trans_b};
  local_job(isa, g, &pb, &J);
  J.bufs[0] = buf;
  gemm_thread(&J, 0, 1);
  return SNT_OK;
}

snt_status snt_k_gemm_run(snt_k_ctx *ctx, const snt_k_gemm_call *g) {
  snt_status st = check_call(g);
  if (st != SNT_OK || g->m == 0 || g->n == 0) return st;
  if (g->col_block && (g->k == 0 || !g->a_constant || !g->a || g->packed_a || !snt_k_ctx_bf16(ctx)))
    return SNT_ERR_INPUT; /* column blocks: the BF16 GEMM only */
  if ((g->pair_taps || g->b16) && (!g->a_constant || !g->a || g->packed_a || !snt_k_ctx_bf16(ctx)))
    return SNT_ERR_INPUT; /* so are channel pairs and a bfloat16 B */
  if (g->k == 0) {
    epilogue_only(g);
    return run_other(g, SNT_OK);
  }
  snt_k_bf16_cache *bf16 = g->a_constant && g->a && !g->packed_a ? snt_k_ctx_bf16(ctx) : NULL;
  if (bf16) return snt_k_gemm_run_bf16(ctx, bf16, g); /* writes the tap in its store */
  snt_k_isa isa = snt_k_ctx_isa(ctx);
  int threads = (int)isa_threads(ctx, g);
  if (gemv_applies(g)) return run_other(g, gemv_run(ctx, g, isa, threads));
  if (dot_applies(g, isa)) {
    dot_run(ctx, g, isa, threads);
    return run_other(g, SNT_OK);
  }

  gemm_job J = {.g = g, .isa = isa, .sh = snt_k_gemm_shape_of(isa), .ukr = ukr_of(isa)};
  J.kc = snt_k_gemm_kc(isa, g->k);
  J.mp = round_up(g->m, J.sh.mr);
  J.ms = J.mp / J.sh.mr;
  J.ns = (g->n + J.sh.nr - 1) / J.sh.nr;
  if (threads > 64) threads = 64;
  choose_split(&J, threads);
  J.used = J.tm * J.tn;
  J.direct_b = !g->pack_b && !g->trans_b && J.mp <= DIRECT_B_MAX_ROWS;
  plain_b pb = {g->b, g->ldb, g->trans_b};
  J.pack_b = g->pack_b ? g->pack_b : pack_b_plain;
  J.pack_b_src = g->pack_b ? g->pack_b_src : &pb;
  J.unit = dynamic_units(&J);
  atomic_init(&J.next, 0);

  float *own = NULL;
  for (int t = 0; t < J.used; t++) {
    int64_t i0, i1, j0, j1;
    region_of(&J, t, &i0, &i1, &j0, &j1);
    if (J.unit) { /* a unit may be wider than the thread's region */
      i0 = 0, i1 = g->m;
      j0 = 0, j1 = J.unit;
    }
    size_t bytes = (size_t)buf_floats(&J, i1 - i0, j1 - j0) * sizeof(float);
    if (ctx) {
      J.bufs[t] = snt_k_ctx_scratch(ctx, SNT_K_SCRATCH_GEMM, t, bytes);
    } else { /* one thread without a context: a buffer for this call */
      J.bufs[t] = own = aligned_alloc(64, (bytes + 63) / 64 * 64);
    }
    if (!J.bufs[t]) return SNT_ERR_NOMEM;
  }
  if (J.used == 1) gemm_thread(&J, 0, 1);
  else snt_k_ctx_parallel(ctx, gemm_thread, &J);
  free(own);
  return SNT_OK;
}
