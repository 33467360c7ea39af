/* A 1x1 convolution read only by a depthwise one (MobileNet's and EfficientNet's inverted
 * residual blocks: expansion, then depthwise), as one kernel. The expansion's output is the
 * largest map of such a block (EfficientNet-like: 96 x 112 x 112, 4.8 MB at batch 1); written
 * whole, the depthwise conv reads it back from L3 or DRAM. Here it is made in bands of input
 * rows that stay in L2: per band, the expansion's GEMM (on the calling thread, bias and
 * activation in its store), then the depthwise conv's output rows that the band covers. Bands
 * overlap by the depthwise kernel's reach, whose rows are computed again (a tenth of the
 * expansion or less at the band heights chosen). Each element is summed as the two layers'
 * own kernels sum it, so the result does not depend on the bands or the thread count. */
#include <stdlib.h>
#include <string.h>

#include "conv_impl.h"

/* The floats of expansion output a band keeps (768 KB: three quarters of the L2 this is tuned on,
 * which the GEMM's operands and the depthwise output rows share). */
enum { BAND_FLOATS = 196608, MAX_THREADS = 64 };

typedef struct ed_geom {
  snt_k_conv3 pw, dw;
  int64_t band, bands; /* depthwise output rows per band, bands per image */
  int64_t in_rows;     /* the most input rows a band reads */
} ed_geom;

/* Input rows [*ih0, *ih1) that output rows [oh0, oh1) of dw read (clipped to the image). */
static void rows_read(const snt_k_win3 *w, int64_t oh0, int64_t oh1, int64_t *ih0, int64_t *ih1) {
  int64_t lo = oh0 * w->s[1] - w->pb[1], hi = (oh1 - 1) * w->s[1] - w->pb[1] + (w->k[1] - 1) * w->dl[1] + 1;
  *ih0 = lo < 0 ? 0 : lo;
  *ih1 = hi > w->in[1] ? w->in[1] : hi;
  if (*ih1 < *ih0) *ih1 = *ih0;
}

static int64_t band_rows_in(const snt_k_win3 *w, int64_t band) { return (band - 1) * w->s[1] + (w->k[1] - 1) * w->dl[1] + 1; }

/* Checks that the two descriptors chain (a 2-D pointwise conv, then a 2-D depthwise conv on
 * its output) and picks the band height: as many output rows as BAND_FLOATS allow (a multiple
 * of the depthwise kernel's 4-row blocks from 4 on), fewer when the batch would leave a thread
 * without two bands. */
static snt_status geometry(const snt_k_conv_desc *pwd, const snt_k_conv_desc *dwd, int threads, ed_geom *G) {
  if (pwd->spatial != 2 || dwd->spatial != 2 || snt_k_conv3_init(pwd, &G->pw) || snt_k_conv3_init(dwd, &G->dw))
    return SNT_ERR_INPUT;
  const snt_k_win3 *p = &G->pw.w, *w = &G->dw.w;
  for (int i = 1; i < 3; i++) {
    if (p->k[i] != 1 || p->s[i] != 1 || p->pb[i] || p->pe[i] || p->out[i] != p->in[i] || w->in[i] != p->out[i])
      return SNT_ERR_INPUT;
  }
  if (G->pw.groups != 1 || G->dw.cg != 1 || G->dw.cin != G->pw.cout || G->dw.batch != G->pw.batch) return SNT_ERR_INPUT;
  int64_t out_h = w->out[1], row = p->out[2] * G->pw.cout, band = 1;
  while (band < out_h && band_rows_in(w, band + 1) * row <= BAND_FLOATS) band++;
  if (band >= 8) band -= band % 4;
  int64_t want = 2 * (int64_t)threads, have = G->pw.batch * ((out_h + band - 1) / band);
  if (G->pw.batch > 0 && have < want) {
    int64_t per = (want + G->pw.batch - 1) / G->pw.batch; /* bands per image */
    band = (out_h + per - 1) / per;
    if (band < 1) band = 1;
  } else if (G->pw.batch > 0 && have % threads && have < 8 * (int64_t)threads) {
    /* few bands: a count the threads share evenly (7 bands of 8 rows at batch 1 left one thread
     * 4 and the other 3; 8 of 7 rows is 4 each) */
    int64_t per = ((have + threads - 1) / threads * threads + G->pw.batch - 1) / G->pw.batch;
    int64_t even = (out_h + per - 1) / per;
    if (G->pw.batch * ((out_h + even - 1) / even) % threads == 0) band = even;
  }
  G->band = band;
  G->bands = out_h ? (out_h + band - 1) / band : 0;
  G->in_rows = band_rows_in(w, band);
  if (G->in_rows > w->in[1]) G->in_rows = w->in[1];
  return SNT_OK;
}

typedef struct ed_job {
  const ed_geom *G;
  snt_k_isa isa;
  const float *x, *packed, *b1, *w2, *b2, *r;
  float *y;
  const snt_k_act *act1, *act2;
  float *bufs[MAX_THREADS];
  size_t band_floats; /* the band's part of each buffer, then the GEMM's */
  snt_status st[MAX_THREADS];
} ed_job;

/* Band b of image n: the expansion's rows into the buffer, then the depthwise rows. */
static snt_status run_band(const ed_job *j, float *buf, int64_t n, int64_t b) {
  const ed_geom *G = j->G;
  const snt_k_win3 *w = &G->dw.w;
  int64_t oh0 = b * G->band, oh1 = oh0 + G->band < w->out[1] ? oh0 + G->band : w->out[1], ih0, ih1;
  rows_read(w, oh0, oh1, &ih0, &ih1);
  int64_t rows = ih1 - ih0, width = w->in[2], mid = G->pw.cout;
  if (rows > 0) {
    snt_k_gemm_call c = {.m = mid, .n = rows * width, .k = G->pw.cin, .packed_a = j->packed,
                         .b = j->x + n * G->pw.cin * G->pw.w.in_size + ih0 * width, .ldb = G->pw.w.in_size,
                         .c = buf, .ldc = rows * width,
                         .epi = {.alpha = 1.0f, .row_bias = j->b1, .act = *j->act1}};
    snt_status st = snt_k_gemm_local(j->isa, &c, buf + j->band_floats);
    if (st) return st;
  }
  for (int64_t oc = 0; oc < G->dw.cout; oc++) {
    int64_t plane = (n * G->dw.cout + oc) * w->out_size;
    snt_k_conv_dw_rows(j->isa, &G->dw, oc, buf + oc / G->dw.mg * rows * width, ih0, rows, j->w2, j->b2,
                       j->r ? j->r + plane : NULL, j->y + plane, oh0, oh1, j->act2);
  }
  return SNT_OK;
}

static void ed_part(void *arg, int t, int threads) {
  ed_job *j = arg;
  int64_t total = j->G->pw.batch * j->G->bands;
  for (int64_t i = total * t / threads; i < total * (t + 1) / threads && !j->st[t]; i++)
    j->st[t] = run_band(j, j->bufs[t], i / j->G->bands, i % j->G->bands);
}

size_t snt_k_conv_expand_dw_packed_bytes(const snt_k_conv_desc *pw) {
  size_t most = 0;
  for (int isa = SNT_K_ISA_C; isa <= SNT_K_ISA_AVX512; isa++) {
    size_t b = snt_k_gemm_packed_a_bytes((snt_k_isa)isa, pw->out_channels, pw->in_channels);
    if (b > most) most = b;
  }
  return most;
}

snt_status snt_k_conv_expand_dw_pack(snt_k_ctx *ctx, const snt_k_conv_desc *pw, const float *w, float *packed) {
  if (!w || !packed || pw->out_channels < 1 || pw->in_channels < 1) return SNT_ERR_INPUT;
  snt_k_gemm_pack_a(snt_k_ctx_isa(ctx), w, pw->in_channels, 0, pw->out_channels, pw->in_channels, packed);
  return SNT_OK;
}

const char *snt_k_conv_expand_dw_kernel(snt_k_ctx *ctx, const snt_k_conv_desc *pw, const snt_k_conv_desc *dw) {
  (void)pw;
  snt_k_conv3 g;
  int fast = snt_k_conv3_init(dw, &g) == SNT_OK && snt_k_conv_dw_fast_applies(&g);
  switch (snt_k_ctx_isa(ctx)) {
    case SNT_K_ISA_AVX512: return fast ? "conv-expand-dw-avx512" : "conv-expand-dw-avx512-generic";
    case SNT_K_ISA_AVX2: return "conv-expand-dw-avx2";
    default: return "conv-expand-dw-c";
  }
}

/* One buffer per thread: the band, then the GEMM's packing space (slot 0: this kernel runs
 * no other GEMM meanwhile). Without a context, one thread and a buffer of its own. */
snt_status snt_k_conv_expand_dw(snt_k_ctx *ctx, const snt_k_conv_desc *pwd, const snt_k_conv_desc *dwd, const float *x,
                                const float *w1, const float *packed1, const float *b1, const float *w2, const float *b2,
                                const float *residual, float *y) {
  if (!pwd || !dwd || !x || !w1 || !w2 || !y) return SNT_ERR_INPUT;
  int threads = snt_k_ctx_threads(ctx);
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  ed_geom G;
  snt_status st = geometry(pwd, dwd, threads, &G);
  if (st || G.pw.batch == 0 || G.bands == 0) return st;
  ed_job j = {.G = &G, .isa = snt_k_ctx_isa(ctx), .x = x, .b1 = b1, .w2 = w2, .b2 = b2, .r = residual, .y = y,
              .act1 = &pwd->act, .act2 = &dwd->act};
  float *own = NULL;
  if (!packed1) { /* weights not packed at load: packed here, into the slot conv.c packs into */
    size_t bytes = snt_k_gemm_packed_a_bytes(j.isa, G.pw.cout, G.pw.cin);
    float *p = ctx ? snt_k_ctx_scratch(ctx, 1, 0, bytes) : (own = aligned_alloc(64, (bytes + 63) / 64 * 64));
    if (!p) return SNT_ERR_NOMEM;
    snt_k_gemm_pack_a(j.isa, w1, G.pw.cin, 0, G.pw.cout, G.pw.cin, p);
    packed1 = p;
  }
  j.packed = packed1;
  /* the largest band's product sizes the GEMM's buffer */
  int64_t cols = G.in_rows * G.dw.w.in[2];
  snt_k_gemm_call probe = {.m = G.pw.cout, .n = cols, .k = G.pw.cin, .packed_a = packed1, .b = x,
                           .ldb = G.pw.w.in_size, .c = y, .ldc = cols};
  size_t band = (size_t)(G.pw.cout * cols + 15) / 16 * 16;
  j.band_floats = band;
  size_t bytes = (band + snt_k_gemm_local_floats(j.isa, &probe)) * sizeof(float);
  float *mine = NULL;
  for (int t = 0; t < (ctx ? threads : 1); t++) {
    j.bufs[t] = ctx ? snt_k_ctx_scratch(ctx, SNT_K_SCRATCH_GEMM, t, bytes) : (mine = aligned_alloc(64, (bytes + 63) / 64 * 64));
    if (!j.bufs[t]) {
      free(own);
      return SNT_ERR_NOMEM;
    }
  }
  if (ctx && threads > 1) snt_k_ctx_parallel(ctx, ed_part, &j);
  else ed_part(&j, 0, 1);
  free(own);
  free(mine);
  for (int t = 0; t < MAX_THREADS; t++)
    if (j.st[t]) return j.st[t];
  return SNT_OK;
}
