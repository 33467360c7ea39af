/* The small-map convolution (conv_t.c) and its microkernels and store (conv_t_tile.c), private
 * to these two files: a strip of 14 stacked output pixels and a microkernel call. */
#ifndef SINTER_RUNTIME_KERNELS_CONV_T_H
#define SINTER_RUNTIME_KERNELS_CONV_T_H

#include "conv_impl.h"
#include "gemm_ukr.h"

enum { SNT_K_CONV_T_MR = SNT_K_AVX512_MR, SNT_K_CONV_T_NR = SNT_K_AVX512_NR, SNT_K_CONV_T_MAX_PF = 160 };

/* Where a strip's rows come from and go to: per lane the image offset and first input
 * coordinates; runs of rows within one image (lanes [lo, hi) at y offset off). */
typedef struct snt_k_conv_t_strip {
  int rows;
  int spill; /* its stores may write 16 floats: the 2 past it belong to a later strip's store */
  int32_t base[16];
  int64_t i0[16], i1[16], i2[16];
  int nseg;
  struct seg {
    int lo, hi;
    int64_t off;
  } seg[SNT_K_AVX512_MR];
} snt_k_conv_t_strip;

/* gemm_avx512.c's 14 x 32 tile over one k-block (A strip: 14 floats a k-row, B strip: 32), into
 * this path's tile buffer (all 14 rows, ldc 32; plus the partial tile when load_c, plus bias
 * when given); b_next, when set, is the next B strip, fetched during this pass, and pf the
 * store's lines, fetched during the last k-rows (nw of them written: fetched for ownership). */
typedef struct snt_k_conv_t_tile {
  int64_t kc;
  const float *a, *b, *b_next, *bias;
  float *c;
  int nr, load_c, npf, nw;
  const char *const *pf;
  /* snt_k_conv_t_kernel7's second column strip: at b + kc * 32, its tile and bias */
  float *c2;
  const float *bias2;
  int nr2;
} snt_k_conv_t_tile;

/* The lines the tile's store will write (then read: the residual), gathered for the
 * microkernel to fetch near its end: one channel's run is 56 bytes at a stride of the map,
 * which no prefetcher follows, and fetched earlier they would leave L1 to the A and B strips. */
int snt_k_conv_t_store_lines(const snt_k_conv3 *g, const snt_k_conv_t_strip *st, int nr, int64_t co0,
                             const snt_k_conv_epi *e, const float *y, const char **pf, int *nw);

/* The finished tile (rows = the strip's pixels, ldc 32, bias added) to y for its nr channels
 * from co0, with e's residual and activation. */
void snt_k_conv_t_store_tile(const snt_k_conv3 *g, const snt_k_conv_t_strip *st, const float *tile, int nr,
                             int64_t co0, const snt_k_conv_epi *e, float *y);

/* The 14 x 32 tile; the 7 x 64 one over column strips b and b + kc * 32 (c2, bias2, nr2). */
void snt_k_conv_t_kernel(const snt_k_conv_t_tile *p);
void snt_k_conv_t_kernel7(const snt_k_conv_t_tile *p);

#endif
