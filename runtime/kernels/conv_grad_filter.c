/* The filter gradient of a stride-1 convolution on a large map without a column matrix
 * (conv_grad.h). Per image and group, dw[mg][kdim] += dy[mg][P] * col[kdim][P]^T, where the
 * GEMM's B = col^T is packed straight from a zero-padded copy of the image: summing over the
 * positions of the padded grid (output rows widened to the padded width Wp, dy zero in the
 * extra columns), row (c, kh, kw) of col is the padded plane c read from offset kh*Wp + kw, one
 * contiguous run. The materialised column matrix (9x the image for 3x3) was written and read
 * back once per image, and its transposing pack was as slow as the products themselves. */
#include <string.h>

#include "conv_grad.h"
#include "gemm_core.h"
#include "gemm_ukr.h"

/* The padded grid: planes of hp x wp, with slack after the last one for the widened rows'
 * reads (kw - 1 floats, rounded up). */
typedef struct grid {
  int64_t hp, wp, plane, slack;
} grid;

static grid grid_of(const snt_k_conv3 *g) {
  const snt_k_win3 *w = &g->w;
  grid r = {w->out[1] + w->dl[1] * (w->k[1] - 1), w->out[2] + w->dl[2] * (w->k[2] - 1), 0, 0};
  r.plane = r.hp * r.wp;
  r.slack = (w->dl[2] * (w->k[2] - 1) + 15) / 16 * 16;
  return r;
}

int snt_k_conv_grad_implicit_applies(const snt_k_conv3 *g) {
  const snt_k_win3 *w = &g->w;
  if (w->in[0] != 1 || w->out[0] != 1 || w->k[0] != 1 || w->k_size == 1) return 0;
  for (int i = 1; i < 3; i++) {
    if (w->s[i] != 1 || w->in[i] + w->pb[i] + w->pe[i] != w->out[i] + w->dl[i] * (w->k[i] - 1)) return 0;
  }
  grid r = grid_of(g);
  /* Large maps only: small ones are summed several images per GEMM on the column path. */
  return w->out_size > 512 && snt_k_fits_int(r.plane * g->cin + r.slack) && snt_k_fits_int(g->cg * w->k_size);
}

size_t snt_k_conv_grad_implicit_floats(const snt_k_conv3 *g) {
  grid r = grid_of(g);
  return (size_t)(g->cin * r.plane + r.slack + g->cout * g->w.out[1] * r.wp);
}

/* What the B packer reads: the group's first padded plane and the tap offsets. */
typedef struct col_src {
  const float *xp;
  int64_t plane, wp, kh, kw, dlh, dlw;
} col_src;

static void row_pointers(const col_src *s, int64_t i0, int h, int64_t k0, const float **rows) {
  int64_t taps = s->kh * s->kw;
  for (int j = 0; j < h; j++) {
    int64_t i = i0 + j, c = i / taps, t = i % taps;
    rows[j] = s->xp + c * s->plane + t / s->kw * s->dlh * s->wp + t % s->kw * s->dlw + k0;
  }
}

/* B[k][n] = col[n][k]: strips of nr taps, each a transposed copy of nr contiguous runs. */
static void pack_col_t(const void *src, int64_t k0, int64_t kcb, int64_t n0, int64_t ncb, int nr, float *dst) {
  const col_src *s = src;
  const float *rows[SNT_K_NR_MAX];
  for (int64_t st = 0; st * nr < ncb; st++) {
    int h = (int)(ncb - st * nr < nr ? ncb - st * nr : nr);
    float *d = dst + st * kcb * nr;
    row_pointers(s, n0 + st * nr, h, k0, rows);
    if (nr == SNT_K_AVX512_NR) { /* only the AVX-512 path has this width */
      snt_k_pack_ptrs_t_avx512(rows, h, kcb, nr, d);
      continue;
    }
    for (int64_t kk = 0; kk < kcb; kk++, d += nr) {
      for (int j = 0; j < h; j++) d[j] = rows[j][kk];
      for (int j = h; j < nr; j++) d[j] = 0.0f;
    }
  }
}

/* The padded copies of image n: x's planes into xp's interiors, dy's rows widened into dyp.
 * Borders, widening columns and slack are zeroed once by the caller and never written. */
typedef struct fill_job {
  const snt_k_conv3 *g;
  grid r;
  const float *x, *dy;
  float *xp, *dyp;
} fill_job;

static void fill_part(void *arg, int t, int threads) {
  const fill_job *j = arg;
  const snt_k_win3 *w = &j->g->w;
  int64_t planes = j->g->cin + j->g->cout;
  for (int64_t q = planes * t / threads; q < planes * (t + 1) / threads; q++) {
    if (q < j->g->cin) {
      float *dst = j->xp + q * j->r.plane + w->pb[1] * j->r.wp + w->pb[2];
      for (int64_t ih = 0; ih < w->in[1]; ih++)
        memcpy(dst + ih * j->r.wp, j->x + (q * w->in[1] + ih) * w->in[2], (size_t)w->in[2] * sizeof(float));
    } else {
      int64_t m = q - j->g->cin;
      float *dst = j->dyp + m * w->out[1] * j->r.wp;
      for (int64_t oh = 0; oh < w->out[1]; oh++)
        memcpy(dst + oh * j->r.wp, j->dy + (m * w->out[1] + oh) * w->out[2], (size_t)w->out[2] * sizeof(float));
    }
  }
}

snt_status snt_k_conv_backward_filter_implicit(snt_k_ctx *ctx, const snt_k_conv3 *g, const float *x, const float *dy,
                                               float *dw, float *scratch) {
  grid r = grid_of(g);
  int64_t kdim = g->cg * g->w.k_size, pw = g->w.out[1] * r.wp; /* positions of the widened grid */
  fill_job j = {g, r, NULL, NULL, scratch, scratch + g->cin * r.plane + r.slack};
  memset(scratch, 0, snt_k_conv_grad_implicit_floats(g) * sizeof(float));
  snt_status st = SNT_OK;
  for (int64_t n = 0; n < g->batch && !st; n++) {
    j.x = x + n * g->cin * g->w.in_size;
    j.dy = dy + n * g->cout * g->w.out_size;
    snt_k_ctx_parallel(ctx, fill_part, &j);
    for (int64_t grp = 0; grp < g->groups && !st; grp++) {
      col_src src = {j.xp + grp * g->cg * r.plane, r.plane, r.wp, g->w.k[1], g->w.k[2], g->w.dl[1], g->w.dl[2]};
      snt_k_gemm_call c = {.m = g->mg, .n = kdim, .k = pw, .a = j.dyp + grp * g->mg * pw, .lda = pw,
                           .pack_b = pack_col_t, .pack_b_src = &src, .c = dw + grp * g->mg * kdim, .ldc = kdim,
                           .epi = {.alpha = 1.0f, .accumulate = n != 0}};
      st = snt_k_gemm_run(ctx, &c);
    }
  }
  return st;
}
