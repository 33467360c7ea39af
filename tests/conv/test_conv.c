/* snt_k_conv on the ISA path SINTER_ISA selects (ctest runs this once per ISA) against a naive
 * double-precision convolution written from the ONNX definition: awkward shapes (tails in every
 * dimension, strides 2 and 4, dilation, groups, depthwise with multiplier 2, 1x1, 3x3, 7x7,
 * 11x11 stride 4, one-sided pads, 1-D and 3-D, batch 3, the direct path's tails, small maps at
 * batch 1 and 32), every
 * epilogue, the path named by snt_k_conv_kernel, weights packed once (on 1, 2 and 3 threads),
 * and 1 vs 2 threads bit for bit (depthwise also 1 vs 3). */
#include "gemm_core.h"
#include "kernels_ref.h"

/* One case: channels, groups, batch, then per axis (right-aligned, unused leading axes 1):
 * in, kernel, stride, dilation, pad begin, pad end. */
typedef struct conv_case {
  const char *name;
  int spatial;
  int64_t cin, cout, groups, batch;
  int64_t in[3], k[3], s[3], dl[3], pb[3], pe[3];
} conv_case;

static const conv_case cases[] = {
    {"3x3 tails", 2, 5, 13, 1, 1, {17, 23}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"3x3 stride 2 batch 3", 2, 6, 10, 1, 3, {15, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"11x11 stride 4", 2, 3, 9, 1, 1, {43, 39}, {11, 11}, {4, 4}, {1, 1}, {2, 2}, {2, 2}},
    {"3x3 dilation 2", 2, 4, 7, 1, 2, {13, 11}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}},
    {"3x3 groups 2", 2, 6, 10, 2, 3, {9, 12}, {3, 3}, {1, 2}, {1, 1}, {1, 0}, {1, 1}},
    {"depthwise 3x3", 2, 5, 5, 5, 3, {11, 19}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise x2 stride 2", 2, 4, 8, 4, 1, {13, 10}, {3, 5}, {2, 2}, {1, 1}, {1, 2}, {1, 2}},
    {"depthwise dilation 2", 2, 3, 3, 3, 1, {10, 21}, {3, 3}, {1, 3}, {2, 2}, {2, 0}, {2, 2}},
    {"1x1", 2, 17, 19, 1, 3, {12, 9}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"1x1 groups 2", 2, 18, 10, 2, 1, {7, 9}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"1x1 stride 2", 2, 16, 33, 1, 2, {14, 15}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}},
    {"7x7 stride 2", 2, 3, 16, 1, 1, {29, 31}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}},
    {"one-sided pads", 2, 3, 11, 1, 2, {10, 17}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {2, 2}},
    {"stride 4 one-sided", 2, 5, 6, 1, 1, {21, 26}, {5, 4}, {4, 4}, {1, 1}, {0, 2}, {2, 0}},
    {"1-D", 1, 7, 5, 1, 3, {50}, {5}, {2}, {1}, {1}, {3}},
    {"1-D dilation 2", 1, 4, 9, 1, 1, {77}, {3}, {1}, {2}, {0}, {2}},
    {"3-D", 3, 3, 6, 1, 2, {5, 6, 7}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}},
    {"3-D stride 2 groups 3", 3, 6, 9, 3, 1, {6, 7, 9}, {2, 3, 3}, {2, 1, 2}, {1, 2, 1}, {0, 2, 1}, {1, 0, 1}},
    {"direct 3x3 pads 1", 2, 3, 16, 1, 2, {20, 37}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"direct 3x3 pads 0/1", 2, 2, 24, 1, 1, {9, 33}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {1, 1}},
    {"3x3 few channels, many outputs", 2, 3, 32, 1, 1, {9, 33}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"one input channel", 2, 1, 6, 1, 2, {9, 13}, {3, 3}, {2, 1}, {1, 1}, {1, 0}, {1, 1}},
    {"direct 3x3 one channel", 2, 1, 8, 1, 3, {16, 16}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"large K and M", 2, 64, 150, 1, 1, {20, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"large N", 2, 8, 20, 1, 2, {56, 57}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"large 1x1", 2, 300, 40, 1, 1, {28, 29}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    /* the direct AVX-512 path (conv_small.c): few input channels, couts off its 8-channel
     * tile, widths off its 16-column vectors, one-sided and asymmetric pads */
    {"direct 3x3 cin 1 cout 13", 2, 1, 13, 1, 2, {19, 35}, {3, 3}, {1, 1}, {1, 1}, {1, 0}, {0, 1}},
    {"direct 3x3 stride 2 cout 70", 2, 2, 70, 1, 1, {21, 45}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"direct 5x5 cin 4", 2, 4, 32, 1, 1, {14, 53}, {5, 5}, {1, 1}, {1, 1}, {2, 0}, {1, 2}},
    {"direct 7x7 stride 2 cout 64", 2, 3, 64, 1, 2, {29, 71}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 2}},
    {"direct 5x5 stride 2 cin 1", 2, 1, 8, 1, 1, {12, 40}, {5, 5}, {2, 2}, {1, 1}, {2, 1}, {0, 2}},
    {"direct 3x5 dilation 2", 2, 3, 16, 1, 1, {13, 40}, {3, 5}, {1, 1}, {2, 2}, {2, 2}, {2, 2}},
    {"direct 1-D stride 3", 1, 2, 9, 1, 2, {100}, {4}, {3}, {1}, {2}, {1}},
    {"direct width 16", 2, 3, 24, 1, 1, {5, 16}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"direct width 15", 2, 3, 24, 1, 1, {5, 15}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"direct 11x11 stride 4 pads", 2, 3, 20, 1, 1, {30, 90}, {11, 11}, {4, 4}, {1, 1}, {0, 5}, {3, 0}},
    {"direct 32 channels", 2, 32, 40, 1, 1, {10, 50}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    /* channel-vector tiles (64 taps and more): two blocks with a tail of 6, dilation, one-sided pads */
    {"direct dilation 2 cin 8 cout 70", 2, 8, 70, 1, 2, {15, 37}, {3, 3}, {1, 1}, {2, 2}, {2, 0}, {0, 2}},
    {"direct 5x5 stride 3 cout 33", 2, 3, 33, 1, 1, {23, 70}, {5, 5}, {3, 3}, {1, 1}, {1, 2}, {2, 1}},
    /* Small maps (the transposed product on AVX-512, from 192 of cin x taps): strips across
     * images, chunks of strips, several k-blocks, output channels off the 32-column tile. */
    {"small 1x1 7x7 batch 32", 2, 197, 70, 1, 32, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"small 3x3 7x7", 2, 23, 45, 1, 3, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"small 3x3 13x9", 2, 22, 40, 1, 1, {13, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"small 1x1 14x14 batch 3", 2, 211, 64, 1, 3, {14, 14}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"small 1x1 stride 2", 2, 193, 37, 1, 3, {14, 14}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}},
    {"small 3x3 stride 2 batch 32", 2, 23, 50, 1, 32, {14, 13}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"small HW 1", 2, 201, 35, 1, 3, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"1x1 map batch 1 (GEMV)", 2, 230, 40, 1, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"1x1 map batch 5 (transposed product)", 2, 230, 40, 1, 5, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"small 3x3 on 1x1 batch 32", 2, 22, 33, 1, 32, {1, 1}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"small large K", 2, 301, 70, 1, 2, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    /* batch 1 on 7x7 (the 7-row strip over column pairs, an odd column left alone, several
     * k-blocks), stride 2 from 14x14 and 28x28 (taps from two map rows or one), 16-float stores */
    {"small 3x3 7x7 batch 1 cout 100", 2, 40, 100, 1, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"small 1x1 7x7 batch 1 deep", 2, 300, 70, 1, 1, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"small 1x1 7x7 K 96", 2, 96, 37, 1, 2, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"small 1x1 17x17", 2, 200, 40, 1, 2, {17, 17}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"small 3x3 stride 2 14 to 7", 2, 24, 40, 1, 1, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"small 3x3 stride 2 28 to 14", 2, 22, 33, 1, 2, {28, 28}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"small 1x1 14x14 batch 1", 2, 199, 64, 1, 1, {14, 14}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    /* 3x3 maps over 1024 pixels with too many taps for the direct path stay implicit GEMM */
    {"implicit past the small maps", 2, 40, 20, 1, 1, {36, 35}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    /* Depthwise on AVX-512 (conv_dw_avx512.c): widths off its 64-column groups, strides 1 and 2
     * per axis, one-sided pads, pads as large as the kernel, 7x7, 1-wide outputs. */
    {"depthwise 3x3 width 70", 2, 6, 6, 6, 2, {9, 70}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise 7x7 stride 2 one-sided", 2, 3, 3, 3, 1, {23, 37}, {7, 7}, {2, 2}, {1, 1}, {3, 0}, {0, 3}},
    {"depthwise 5x3 strides 1/2", 2, 4, 4, 4, 1, {12, 33}, {5, 3}, {1, 2}, {1, 1}, {2, 1}, {2, 1}},
    {"depthwise large pads", 2, 2, 2, 2, 1, {5, 6}, {3, 3}, {2, 1}, {1, 1}, {3, 3}, {3, 3}},
    {"depthwise 1 wide", 2, 5, 5, 5, 1, {6, 1}, {3, 3}, {1, 2}, {1, 1}, {1, 1}, {1, 1}},
    /* Grouped convs of few channels a group on the direct path: groups of 4 and 3 channels with
     * 4 and 5 outputs (tiles of 8 channels cross no group), 1x1 grouped, stride 2, residual. */
    {"direct grouped 3x3 cg 4", 2, 32, 32, 8, 2, {11, 35}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"direct grouped 3x3 cg 3 mg 5", 2, 12, 20, 4, 1, {9, 17}, {3, 3}, {1, 1}, {1, 1}, {1, 0}, {0, 1}},
    {"direct grouped 1x1 cg 16 mg 9", 2, 32, 18, 2, 2, {5, 40}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"direct grouped 3x3 stride 2 cg 8", 2, 32, 24, 4, 1, {13, 41}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"direct grouped cg 2 mg 1", 2, 6, 3, 3, 1, {6, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"direct grouped 7 wide stride 2", 2, 64, 64, 4, 3, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    /* LeNet's second conv: a small map, but too shallow for the transposed product */
    {"5x5 small map, cin x taps 150", 2, 6, 16, 1, 4, {14, 14}, {5, 5}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    /* Depthwise on small maps, 16 channels in the lanes: 7x7 and 14x14 3x3 (MobileNet-V2's),
     * 5x5 stride 2, 7x7 kernel, a partial last group of channels, one-sided pads, batch 3. */
    {"depthwise lanes 3x3 7x7 map", 2, 40, 40, 40, 2, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise lanes 3x3 14x14 map", 2, 16, 16, 16, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise lanes 5x5 stride 2", 2, 33, 33, 33, 3, {13, 11}, {5, 5}, {2, 2}, {1, 1}, {2, 2}, {2, 1}},
    {"depthwise lanes 7x7 one-sided", 2, 17, 17, 17, 1, {9, 12}, {7, 7}, {1, 1}, {1, 1}, {3, 0}, {0, 3}},
    {"depthwise lanes strides 2/1", 2, 20, 20, 20, 2, {11, 8}, {3, 3}, {2, 1}, {1, 1}, {1, 1}, {1, 1}},
    /* Depthwise on AVX-512, register-blocked: 3x3 stride 1 and 2 (the unrolled instances) with
     * row blocks off 4, column groups off 32 (one vector and two), loads masked at both edges,
     * one-sided and no pads; mixed strides and 5x5 (the general instances); multiplier 2. */
    {"depthwise 3x3 rows 19 width 33", 2, 3, 3, 3, 2, {19, 33}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise 3x3 stride 2 odd", 2, 4, 4, 4, 1, {23, 57}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise 3x3 stride 2 pads 0/1", 2, 3, 3, 3, 2, {16, 40}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {1, 1}},
    {"depthwise 3x3 no pads width 50", 2, 2, 2, 2, 1, {10, 50}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"depthwise 3x3 stride 2 pads 1/0", 2, 3, 3, 3, 1, {15, 37}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {0, 0}},
    {"depthwise 3x3 x2 stride 2 width 70", 2, 3, 6, 3, 1, {9, 139}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise 5x5 width 100", 2, 2, 2, 2, 1, {11, 100}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}},
    {"depthwise 3x3 strides 2/1", 2, 3, 3, 3, 1, {17, 35}, {3, 3}, {2, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise 3x3 strides 1/2", 2, 3, 3, 3, 1, {13, 70}, {3, 3}, {1, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise 3x3 stride 2 batch 5", 2, 7, 7, 7, 5, {24, 24}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise 3x3 width 16 height 4", 2, 2, 2, 2, 1, {4, 16}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"depthwise 7x7 stride 1", 2, 2, 2, 2, 1, {12, 20}, {7, 7}, {1, 1}, {1, 1}, {3, 3}, {3, 3}},
};

static snt_k_conv_desc desc_of(const conv_case *c) {
  snt_k_conv_desc d = {.spatial = c->spatial, .batch = c->batch, .in_channels = c->cin, .out_channels = c->cout,
                       .groups = c->groups};
  for (int a = 0; a < c->spatial; a++) {
    d.in[a] = c->in[a], d.kernel[a] = c->k[a], d.stride[a] = c->s[a], d.dilation[a] = c->dl[a];
    d.pad_begin[a] = c->pb[a], d.pad_end[a] = c->pe[a];
    d.out[a] = (c->in[a] + c->pb[a] + c->pe[a] - ((c->k[a] - 1) * c->dl[a] + 1)) / c->s[a] + 1;
  }
  return d;
}

/* Right-aligned 3-axis view of a descriptor's array (missing leading axes: fill). */
static void axes3(const snt_k_conv_desc *d, const int64_t *v, int64_t fill, int64_t *out) {
  int off = 3 - d->spatial;
  for (int a = 0; a < 3; a++) out[a] = a < off ? fill : v[a - off];
}

/* Pre-activation sums in double, and rms[i]: sqrt(sum of squared terms) + |bias| + |residual|,
 * the size of a float32 rounding error's scale. */
static void ref_conv(const snt_k_conv_desc *d, const float *x, const float *w, const float *b, const float *res,
                     double *y, double *rms) {
  int64_t in[3], out[3], k[3], s[3], dl[3], pb[3];
  axes3(d, d->in, 1, in), axes3(d, d->out, 1, out), axes3(d, d->kernel, 1, k);
  axes3(d, d->stride, 1, s), axes3(d, d->dilation, 1, dl), axes3(d, d->pad_begin, 0, pb);
  int64_t cg = d->in_channels / d->groups, mg = d->out_channels / d->groups;
  int64_t in_sz = in[0] * in[1] * in[2], out_sz = out[0] * out[1] * out[2], k_sz = k[0] * k[1] * k[2];
  for (int64_t n = 0; n < d->batch; n++)
    for (int64_t oc = 0; oc < d->out_channels; oc++)
      for (int64_t o0 = 0; o0 < out[0]; o0++)
        for (int64_t o1 = 0; o1 < out[1]; o1++)
          for (int64_t o2 = 0; o2 < out[2]; o2++) {
            int64_t yi = (n * d->out_channels + oc) * out_sz + (o0 * out[1] + o1) * out[2] + o2;
            double acc = 0, sq = 0;
            for (int64_t icg = 0; icg < cg; icg++) {
              const float *xc = x + (n * d->in_channels + oc / mg * cg + icg) * in_sz;
              const float *wc = w + (oc * cg + icg) * k_sz;
              for (int64_t k0 = 0; k0 < k[0]; k0++) {
                int64_t i0 = o0 * s[0] - pb[0] + k0 * dl[0];
                if (i0 < 0 || i0 >= in[0]) continue;
                for (int64_t k1 = 0; k1 < k[1]; k1++) {
                  int64_t i1 = o1 * s[1] - pb[1] + k1 * dl[1];
                  if (i1 < 0 || i1 >= in[1]) continue;
                  for (int64_t k2 = 0; k2 < k[2]; k2++) {
                    int64_t i2 = o2 * s[2] - pb[2] + k2 * dl[2];
                    if (i2 < 0 || i2 >= in[2]) continue;
                    double t = (double)xc[(i0 * in[1] + i1) * in[2] + i2] * wc[(k0 * k[1] + k1) * k[2] + k2];
                    acc += t;
                    sq += t * t;
                  }
                }
              }
            }
            rms[yi] = sqrt(sq);
            if (b) acc += b[oc], rms[yi] += fabs(b[oc]);
            if (res) acc += res[yi], rms[yi] += fabs(res[yi]);
            y[yi] = acc;
          }
}

/* Whether conv_small.c's rule (FP32) takes a case: at most 288 taps of a group with stride 1
 * (576 in a training context), else 400; grouped convs of 2 to 64 channels a group, 1x1 too;
 * not depthwise. */
static int direct_applies_in(const conv_case *c, const snt_k_conv_desc *d, int training) {
  int64_t cg = c->cin / c->groups, taps = cg, last = c->spatial - 1, window = 1, stride1 = 1;
  for (int a = 0; a < c->spatial; a++) {
    taps *= c->k[a], window *= c->k[a], stride1 = stride1 && c->s[a] == 1;
    if (c->s[a] > 4 || c->dl[a] > 4) return 0;
  }
  int shape_ok = c->groups == 1 ? window > 1 : cg > 1 && cg <= 64;
  int64_t most = stride1 ? (training ? 576 : 288) : 400;
  return shape_ok && c->spatial <= 2 && taps <= most && d->out[last] >= (c->groups > 1 ? 7 : 16);
}

/* Whether conv_winograd.c's rule (FP32) takes a case: 2-D 3x3, stride and dilation 1, one
 * group, at least 16 input and 8 output channels, at least 9 tiles of 4x4 outputs an image. */
static int winograd_applies(const conv_case *c, const snt_k_conv_desc *d) {
  if (c->spatial != 2 || c->groups != 1 || c->cin < 16 || c->cout < 8) return 0;
  for (int a = 0; a < 2; a++)
    if (c->k[a] != 3 || c->s[a] != 1 || c->dl[a] != 1) return 0;
  return (d->out[0] + 3) / 4 * ((d->out[1] + 3) / 4) >= 9;
}

/* conv_dw_lanes.c's small maps: multiplier 1, 16 channels or more, 2-D windows to 7x7, strides
 * 1-2, no dilation, the padded input to 400 pixels, the output to 256 pixels and 16 columns. */
static int dw_lanes_applies(const conv_case *c, const snt_k_conv_desc *d) {
  if (c->spatial != 2 || c->cout != c->cin || c->groups < 16) return 0;
  for (int a = 0; a < 2; a++)
    if (c->k[a] > 7 || c->dl[a] != 1 || c->s[a] > 2) return 0;
  int64_t ph = c->in[0] + c->pb[0] + c->pe[0], pw = c->in[1] + c->pb[1] + c->pe[1];
  return ph * pw <= 400 && d->out[0] * d->out[1] <= 256 && d->out[1] <= 16;
}

/* The path snt_k_conv_kernel must name for a case on this ISA (training: in a training context,
 * which runs no Winograd). */
static void expected_kernel_in(const conv_case *c, snt_k_isa isa, int training, char *buf, size_t n) {
  int pointwise = 1;
  for (int a = 0; a < c->spatial; a++) {
    pointwise = pointwise && c->k[a] == 1 && c->s[a] == 1 && c->pb[a] == 0 && c->pe[a] == 0;
  }
  const char *in = isa == SNT_K_ISA_AVX512 ? "avx512" : isa == SNT_K_ISA_AVX2 ? "avx2" : "c";
  snt_k_conv_desc d = desc_of(c);
  int64_t out = prod64(d.out, d.spatial), taps = prod64(d.kernel, d.spatial);
  if (isa == SNT_K_ISA_AVX512 && !training && winograd_applies(c, &d)) snprintf(buf, n, "conv-winograd-avx512");
  else if (isa == SNT_K_ISA_AVX512 && direct_applies_in(c, &d, training)) snprintf(buf, n, "conv-direct-avx512");
  else if (c->cin / c->groups == 1 && c->groups > 1)
    snprintf(buf, n, isa == SNT_K_ISA_AVX512 && dw_lanes_applies(c, &d) ? "conv-depthwise-lanes-avx512" : "conv-depthwise-%s", in);
  else if (isa == SNT_K_ISA_AVX512 && c->groups == 1 && out <= (taps > 1 ? 1024 : 300) && taps <= 64 &&
           c->cin * taps >= (taps == 1 && out <= 64 ? 96 : 192) && c->cout >= 16 && !(pointwise && out == 1 && c->batch <= 4))
    snprintf(buf, n, "conv-gemmt-avx512");
  else snprintf(buf, n, "conv-gemm-%s-%s", in, pointwise ? "1x1" : "implicit");
}

static void expected_kernel(const conv_case *c, snt_k_isa isa, char *buf, size_t n) {
  expected_kernel_in(c, isa, 0, buf, n);
}

typedef struct bufs {
  float *x, *w, *b, *res, *y1, *y2;
  double *pre, *rms;
  int64_t nx, nw, ny;
} bufs;

static bufs bufs_make(rng *r, const snt_k_conv_desc *d) {
  bufs B;
  int64_t cg = d->in_channels / d->groups;
  B.nx = d->batch * d->in_channels * prod64(d->in, d->spatial);
  B.nw = d->out_channels * cg * prod64(d->kernel, d->spatial);
  B.ny = d->batch * d->out_channels * prod64(d->out, d->spatial);
  B.x = alloc_f(B.nx), B.w = alloc_f(B.nw), B.b = alloc_f(d->out_channels), B.res = alloc_f(B.ny);
  B.y1 = alloc_f(B.ny), B.y2 = alloc_f(B.ny), B.pre = alloc_d(B.ny), B.rms = alloc_d(B.ny);
  rng_fill(r, B.x, B.nx), rng_fill(r, B.w, B.nw), rng_fill(r, B.b, d->out_channels), rng_fill(r, B.res, B.ny);
  return B;
}

static void bufs_free(bufs *B) {
  free(B->x), free(B->w), free(B->b), free(B->res), free(B->y1), free(B->y2), free(B->pre), free(B->rms);
}

static const snt_k_act acts[] = {{SNT_K_ACT_NONE, 0, 0, 0, 0},           {SNT_K_ACT_RELU, 0, 0, 0, 0},
                                 {SNT_K_ACT_LEAKY_RELU, 0.1f, 0, 0, 0},    {SNT_K_ACT_SIGMOID, 0, 0, 0, 0},
                                 {SNT_K_ACT_TANH, 0, 0, 0, 0},             {SNT_K_ACT_CLIP, 0, -0.5f, 0.75f, 0},    {SNT_K_ACT_SILU, 0, 0, 0, 0},
                                 {SNT_K_ACT_HARD_SIGMOID, 0.2f, 0, 0, 0.5f}, {SNT_K_ACT_HARD_SWISH, 1 / 6.0f, 0, 0, 0.5f},
                                 {SNT_K_ACT_EXP, 0, 0, 0, 0},              {SNT_K_ACT_MISH, 0, 0, 0, 0}};
enum { N_ACTS = 11 };

/* Runs d with one epilogue on both contexts: output equal bit for bit, and close to the reference. */
static void run_epilogue(test_state *ts, snt_k_ctx *c1, snt_k_ctx *c2, const char *name, snt_k_conv_desc d,
                         bufs *B, int act, int use_b, int use_res) {
  d.act = acts[act];
  const float *b = use_b ? B->b : NULL, *res = use_res ? B->res : NULL;
  for (int64_t i = 0; i < B->ny; i++) B->y1[i] = B->y2[i] = NAN;
  CHECK_INT(ts, snt_k_conv_scratch_bytes(&d), 0);
  CHECK_INT(ts, snt_k_conv(c1, &d, B->x, B->w, b, res, B->y1, NULL), SNT_OK);
  CHECK_INT(ts, snt_k_conv(c2, &d, B->x, B->w, b, res, B->y2, NULL), SNT_OK);
  char what[160];
  snprintf(what, sizeof what, "%s (act %d, bias %d, residual %d)", name, act, use_b, use_res);
  ts->checks++;
  if (memcmp(B->y1, B->y2, (size_t)B->ny * sizeof(float)) != 0) {
    ts->failures++;
    fprintf(stderr, "%s: 1 and 2 threads differ\n", what);
  }
  ref_conv(&d, B->x, B->w, b, res, B->pre, B->rms);
  double kdim = (double)(d.in_channels / d.groups) * (double)prod64(d.kernel, d.spatial);
  double tol = 1e-5 * sqrt(kdim);
  ts->checks++;
  for (int64_t i = 0; i < B->ny; i++) {
    double want = ref_act(&d.act, B->pre[i]);
    if (!close_to(B->y1[i], want, B->rms[i], tol)) {
      ts->failures++;
      fprintf(stderr, "%s: element %lld: got %.9g, want %.9g (scale %.3g)\n", what, (long long)i, (double)B->y1[i],
              want, B->rms[i]);
      break;
    }
  }
}

/* Weights packed once (snt_k_conv_pack_weights) give the same output bit for bit as packed per
 * call, on 1, 2 and 3 threads (an odd team: uneven regions, and the GEMM's column units
 * claimed by three); depthwise convs need no packed weights. */
static void run_packed(test_state *ts, snt_k_ctx *const ctx[3], const conv_case *c, snt_k_conv_desc d, bufs *B) {
  snt_k_ctx *c1 = ctx[0];
  d.act = acts[SNT_K_ACT_RELU];
  size_t bytes = snt_k_conv_packed_weights_bytes(&d);
  int depthwise = c->cin / c->groups == 1 && c->groups > 1;
  CHECK(ts, depthwise ? bytes == 0 : bytes >= (size_t)B->nw * sizeof(float));
  float *packed = alloc_nan((int64_t)(bytes / sizeof(float)));
  CHECK_INT(ts, snt_k_conv_pack_weights(c1, &d, B->w, packed), SNT_OK);
  CHECK_INT(ts, snt_k_conv(c1, &d, B->x, B->w, B->b, B->res, B->y1, NULL), SNT_OK);
  for (int t = 0; t < 3; t++) {
    for (int64_t i = 0; i < B->ny; i++) B->y2[i] = NAN;
    CHECK_INT(ts, snt_k_conv_packed(ctx[t], &d, B->x, B->w, bytes ? packed : NULL, B->b, B->res, B->y2, NULL),
              SNT_OK);
    ts->checks++;
    if (memcmp(B->y1, B->y2, (size_t)B->ny * sizeof(float)) != 0) {
      ts->failures++;
      fprintf(stderr, "%s: weights packed once differ (%d threads)\n", c->name, t + 1);
    }
  }
  free(packed);
}

static void test_cases(test_state *ts, snt_k_ctx *c1, snt_k_ctx *c2, snt_k_ctx *c3) {
  snt_k_ctx *const ctx[3] = {c1, c2, c3};
  rng r = {0xc0deface};
  snt_k_isa isa = snt_k_ctx_isa(c1);
  for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
    snt_k_conv_desc d = desc_of(&cases[i]);
    char want[64];
    expected_kernel(&cases[i], isa, want, sizeof want);
    CHECK_STR(ts, snt_k_conv_kernel(c1, &d), want);
    bufs B = bufs_make(&r, &d);
    /* Two epilogues per case, the activations rotating over the cases. */
    run_epilogue(ts, c1, c2, cases[i].name, d, &B, i % N_ACTS, 1, 0);
    run_epilogue(ts, c1, c2, cases[i].name, d, &B, (i + 3) % N_ACTS, i % 2, 1);
    run_packed(ts, ctx, &cases[i], d, &B);
    bufs_free(&B);
  }
}

/* Every activation with bias alone and with bias and residual, on one small case per path. */
static void test_epilogues(test_state *ts, snt_k_ctx *c1, snt_k_ctx *c2) {
  rng r = {0xe9109e};
  /* implicit, depthwise, 1x1, direct, direct stride 2, small maps at batch 3 and batch 1 */
  static const int picks[] = {0, 5, 25, 18, 27, 38, 46};
  for (int p = 0; p < (int)(sizeof picks / sizeof picks[0]); p++) {
    const conv_case *c = &cases[picks[p]];
    snt_k_conv_desc d = desc_of(c);
    bufs B = bufs_make(&r, &d);
    for (int a = 0; a < N_ACTS; a++) {
      run_epilogue(ts, c1, c2, c->name, d, &B, a, 1, 0);
      run_epilogue(ts, c1, c2, c->name, d, &B, a, 1, 1);
    }
    bufs_free(&B);
  }
}

/* A training context (no Winograd, weights arranged per call) takes the direct path up to 576
 * taps with stride 1 where inference takes 288: its path named, its output against the
 * reference on 1 and 2 threads, and weights packed in that context (the size snt_k_conv_packed_
 * weights_bytes gives suits either context) on 1, 2 and 3 threads. 360 and 576 taps (a partial
 * channel block, one-sided pads), and 585 taps, past the bound. */
static void test_training_paths(test_state *ts, snt_k_ctx *const infer[3]) {
  static const conv_case tc[] = {
      {"training 3x3 cin 40 cout 20", 2, 40, 20, 1, 2, {20, 37}, {3, 3}, {1, 1}, {1, 1}, {1, 0}, {0, 1}},
      {"training 3x3 cin 64 cout 36", 2, 64, 36, 1, 1, {17, 33}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      {"training 3x3 cin 65 cout 8", 2, 65, 8, 1, 1, {35, 40}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
  };
  snt_k_ctx *ctx[3];
  for (int t = 0; t < 3; t++) {
    if (!(ctx[t] = snt_k_ctx_create(t + 1))) {
      ts->checks++, ts->failures++;
      return;
    }
    snt_k_ctx_set_training(ctx[t], 1);
  }
  rng r = {0x7a1b};
  snt_k_isa isa = snt_k_ctx_isa(ctx[0]);
  for (int i = 0; i < (int)(sizeof tc / sizeof tc[0]); i++) {
    snt_k_conv_desc d = desc_of(&tc[i]);
    char want[64];
    expected_kernel_in(&tc[i], isa, 1, want, sizeof want);
    CHECK_STR(ts, snt_k_conv_kernel(ctx[0], &d), want);
    expected_kernel_in(&tc[i], isa, 0, want, sizeof want);
    CHECK_STR(ts, snt_k_conv_kernel(infer[0], &d), want);
    bufs B = bufs_make(&r, &d);
    run_epilogue(ts, ctx[0], ctx[1], tc[i].name, d, &B, SNT_K_ACT_RELU, 1, 1);
    run_packed(ts, ctx, &tc[i], d, &B);
    bufs_free(&B);
  }
  for (int t = 0; t < 3; t++) snt_k_ctx_destroy(ctx[t]);
}

/* Depthwise planes split over 3 threads (an odd share each) give the 1-thread output bit for bit. */
static void test_depthwise_threads(test_state *ts, snt_k_ctx *c1, snt_k_ctx *c3) {
  rng r = {0xd3d3};
  for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
    const conv_case *c = &cases[i];
    if (!(c->cin / c->groups == 1 && c->groups > 1)) continue;
    snt_k_conv_desc d = desc_of(c);
    d.act = acts[SNT_K_ACT_CLIP];
    bufs B = bufs_make(&r, &d);
    CHECK_INT(ts, snt_k_conv(c1, &d, B.x, B.w, B.b, B.res, B.y1, NULL), SNT_OK);
    CHECK_INT(ts, snt_k_conv(c3, &d, B.x, B.w, B.b, B.res, B.y2, NULL), SNT_OK);
    ts->checks++;
    if (memcmp(B.y1, B.y2, (size_t)B.ny * sizeof(float)) != 0) {
      ts->failures++;
      fprintf(stderr, "%s: 1 and 3 threads differ\n", c->name);
    }
    bufs_free(&B);
  }
}

/* The batchnorm tap (snt_k_conv_tapped) on every case, so on every path: y unchanged bit for
 * bit, the tap equal to snt_k_bn_infer over y (the node it replaces) up to rounding, the same
 * on 1 and 2 threads and with weights packed once. */
static void run_tap(test_state *ts, snt_k_ctx *c1, snt_k_ctx *c2, const conv_case *c, snt_k_conv_desc d, bufs *B,
                    int relu) {
  int64_t ch = d.out_channels, plane = B->ny / d.batch / ch;
  float *gamma = alloc_f(ch), *beta = alloc_f(ch), *mean = alloc_f(ch), *var = alloc_f(ch), *scale = alloc_f(ch),
        *shift = alloc_f(ch), *t1 = alloc_nan(B->ny), *t2 = alloc_nan(B->ny), *want = alloc_f(B->ny);
  rng r = {0x7a9 + (uint64_t)ch};
  rng_fill(&r, gamma, ch), rng_fill(&r, beta, ch), rng_fill(&r, mean, ch), rng_fill(&r, var, ch);
  const float eps = 1e-3f;
  for (int64_t i = 0; i < ch; i++) { /* as snt_pass_fuse_bn_tap computes them */
    var[i] = var[i] * var[i] + 0.25f;
    scale[i] = gamma[i] / sqrtf(var[i] + eps);
    shift[i] = beta[i] - mean[i] * scale[i];
  }
  d.act = acts[relu ? SNT_K_ACT_NONE : SNT_K_ACT_RELU];
  CHECK_INT(ts, snt_k_conv(c1, &d, B->x, B->w, B->b, B->res, B->y1, NULL), SNT_OK);
  CHECK_INT(ts, snt_k_bn_infer(c1, d.batch, ch, plane, B->y1, gamma, beta, mean, var, eps, relu, want), SNT_OK);
  size_t bytes = snt_k_conv_packed_weights_bytes(&d);
  float *packed = bytes ? alloc_nan((int64_t)(bytes / sizeof(float))) : NULL;
  if (packed) CHECK_INT(ts, snt_k_conv_pack_weights(c2, &d, B->w, packed), SNT_OK);
  snt_k_conv_tap tap1 = {scale, shift, t1, relu, 0}, tap2 = {scale, shift, t2, relu, 0};
  for (int64_t i = 0; i < B->ny; i++) B->y2[i] = NAN;
  CHECK_INT(ts, snt_k_conv_tapped(c1, &d, B->x, B->w, NULL, B->b, B->res, B->y2, &tap1, NULL), SNT_OK);
  ts->checks++;
  if (memcmp(B->y1, B->y2, (size_t)B->ny * sizeof(float)) != 0) {
    ts->failures++;
    fprintf(stderr, "%s: tap (relu %d) changed y\n", c->name, relu);
  }
  CHECK_INT(ts, snt_k_conv_tapped(c2, &d, B->x, B->w, packed, B->b, B->res, B->y2, &tap2, NULL), SNT_OK);
  ts->checks++;
  if (memcmp(t1, t2, (size_t)B->ny * sizeof(float)) != 0) {
    ts->failures++;
    fprintf(stderr, "%s: tap (relu %d): 1 thread and 2 threads with packed weights differ\n", c->name, relu);
  }
  ts->checks++;
  for (int64_t i = 0; i < B->ny; i++) {
    int64_t k = i / plane % ch;
    double tol = 1e-6 * (fabs((double)B->y1[i] * scale[k]) + fabs((double)shift[k])) + 1e-30;
    if (!(fabs((double)t1[i] - (double)want[i]) <= tol)) {
      ts->failures++;
      fprintf(stderr, "%s: tap (relu %d) element %lld: got %.9g, want %.9g\n", c->name, relu, (long long)i, (double)t1[i],
              (double)want[i]);
      break;
    }
  }
  snt_k_conv_tap bad = {scale, NULL, t1, relu, 0};
  CHECK_INT(ts, snt_k_conv_tapped(c1, &d, B->x, B->w, NULL, B->b, B->res, B->y2, &bad, NULL), SNT_ERR_INPUT);
  free(gamma), free(beta), free(mean), free(var), free(scale), free(shift), free(t1), free(t2), free(want), free(packed);
}

static void test_taps(test_state *ts, snt_k_ctx *c1, snt_k_ctx *c2) {
  rng r = {0x7a97a9};
  for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
    snt_k_conv_desc d = desc_of(&cases[i]);
    bufs B = bufs_make(&r, &d);
    run_tap(ts, c1, c2, &cases[i], d, &B, i % 2);
    bufs_free(&B);
  }
}

/* Streaming stores (outputs past the context's stream size; 0 here): a 1x1 conv on the GEMM
 * with 64-byte-aligned maps whose rows are whole vectors, with residual and tap, and an
 * implicit 3x3 one, give what plain stores give, bit for bit, on 1 and 2 threads. */
static void test_stream(test_state *ts) {
  if (snt_k_isa_detect() != SNT_K_ISA_AVX512) return;
  static const conv_case sc[] = {
      {"stream 1x1 24 -> 40, 32x32", 2, 24, 40, 1, 2, {32, 32}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
      /* dilation 5: none of the direct, Winograd or small-map paths, so the implicit GEMM */
      {"stream 3x3 dilation 5, 24 -> 64, 48x32", 2, 24, 64, 1, 2, {48, 32}, {3, 3}, {1, 1}, {5, 5}, {5, 5}, {5, 5}},
  };
  setenv("SINTER_STREAM_BYTES", "0", 1);
  snt_k_ctx *s1 = snt_k_ctx_create(1), *s2 = snt_k_ctx_create(2);
  unsetenv("SINTER_STREAM_BYTES");
  snt_k_ctx *p1 = snt_k_ctx_create(1);
  rng r = {0x57e4};
  for (int i = 0; i < 2; i++) {
    snt_k_conv_desc d = desc_of(&sc[i]);
    d.act = acts[SNT_K_ACT_RELU];
    bufs B = bufs_make(&r, &d);
    const char *path = snt_k_conv_kernel(p1, &d);
    CHECK(ts, strstr(path, "conv-gemm-avx512") == path);
    int64_t ch = d.out_channels, n = (B.ny + 15) / 16 * 16;
    float *y[3], *t[3], *scale = alloc_f(ch), *shift = alloc_f(ch);
    rng_fill(&r, scale, ch), rng_fill(&r, shift, ch);
    snt_k_ctx *ctxs[3] = {p1, s1, s2};
    for (int k = 0; k < 3; k++) {
      y[k] = aligned_alloc(64, (size_t)n * sizeof(float));
      t[k] = aligned_alloc(64, (size_t)n * sizeof(float));
      snt_k_conv_tap tap = {scale, shift, t[k], 1, 0};
      CHECK_INT(ts, snt_k_conv_tapped(ctxs[k], &d, B.x, B.w, NULL, B.b, B.res, y[k], &tap, NULL), SNT_OK);
    }
    for (int k = 1; k < 3; k++) {
      ts->checks++;
      if (memcmp(y[0], y[k], (size_t)B.ny * sizeof(float)) || memcmp(t[0], t[k], (size_t)B.ny * sizeof(float))) {
        ts->failures++;
        fprintf(stderr, "%s: streamed output (%d threads) differs from plain stores\n", sc[i].name, k);
      }
    }
    for (int k = 0; k < 3; k++) free(y[k]), free(t[k]);
    free(scale), free(shift);
    bufs_free(&B);
  }
  snt_k_ctx_destroy(s1), snt_k_ctx_destroy(s2), snt_k_ctx_destroy(p1);
}

/* snt_k_conv_pool2 = snt_k_conv_packed then snt_k_pool_ctx (2x2, stride 2), bit for bit, on 1
 * and 2 threads, with weights packed once and per call: 2-D cases (odd output sizes drop their
 * last row and column), the direct path's first layers among them, and every activation. */
static void test_pool2(test_state *ts, snt_k_ctx *c1, snt_k_ctx *c2) {
  static const conv_case pc[] = {
      {"pool2 first layer 3 -> 32, 23x37", 2, 3, 32, 1, 2, {23, 37}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      {"pool2 3 -> 13, 34x66 (channel tail)", 2, 3, 13, 1, 3, {34, 66}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      {"pool2 5x5 stride 2, 2 -> 9", 2, 2, 9, 1, 1, {40, 57}, {5, 5}, {2, 2}, {1, 1}, {2, 2}, {2, 2}},
      {"pool2 16 -> 24, 19x20", 2, 16, 24, 1, 2, {19, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
      {"pool2 1x1 64 -> 16, 9x9", 2, 64, 16, 1, 1, {9, 9}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
      {"pool2 groups 2, 8 -> 8, 12x18", 2, 8, 8, 2, 2, {12, 18}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
  };
  rng r = {0x9001};
  for (int i = 0; i < (int)(sizeof pc / sizeof pc[0]); i++) {
    snt_k_conv_desc d = desc_of(&pc[i]);
    bufs B = bufs_make(&r, &d);
    int64_t ph = d.out[0] / 2, pw = d.out[1] / 2, np = d.batch * d.out_channels * ph * pw;
    snt_k_pool_desc pd = {.spatial = 2, .kind = SNT_K_POOL_MAX, .batch = d.batch, .channels = d.out_channels,
                          .in = {d.out[0], d.out[1]}, .out = {ph, pw}, .kernel = {2, 2}, .stride = {2, 2},
                          .dilation = {1, 1}};
    size_t bytes = snt_k_conv_packed_weights_bytes(&d);
    float *packed = bytes ? alloc_nan((int64_t)(bytes / sizeof(float))) : NULL, *want = alloc_nan(np),
          *got = alloc_nan(np);
    for (int a = 0; a < N_ACTS; a += (i == 0 ? 1 : 5)) {
      d.act = acts[a];
      const float *b = a % 2 ? NULL : B.b;
      CHECK_INT(ts, snt_k_conv(c1, &d, B.x, B.w, b, NULL, B.y1, NULL), SNT_OK);
      CHECK_INT(ts, snt_k_pool_ctx(c1, &pd, B.y1, want, NULL), SNT_OK);
      if (packed) CHECK_INT(ts, snt_k_conv_pack_weights(c2, &d, B.w, packed), SNT_OK);
      for (int t = 0; t < 3; t++) {
        for (int64_t k = 0; k < np; k++) got[k] = NAN;
        snt_k_ctx *c = t == 1 ? c1 : c2;
        CHECK_INT(ts, snt_k_conv_pool2(c, &d, B.x, B.w, t == 2 ? packed : NULL, b, B.y2, got), SNT_OK);
        ts->checks++;
        if (memcmp(want, got, (size_t)np * sizeof(float)) != 0) {
          ts->failures++;
          fprintf(stderr, "%s (act %d, %s): fused pool differs from conv then pool\n", pc[i].name, a,
                  t == 0 ? "2 threads" : t == 1 ? "1 thread" : "2 threads, packed weights");
        }
      }
    }
    d.out[0] = 1; /* a map the pool would leave empty is refused */
    CHECK_INT(ts, snt_k_conv_pool2(c1, &d, B.x, B.w, NULL, NULL, B.y2, got), SNT_ERR_INPUT);
    free(packed), free(want), free(got);
    bufs_free(&B);
  }
}

/* snt_k_conv_maxpool = snt_k_conv_packed then snt_k_pool_ctx (or snt_k_maxpool_filled with a
 * fill), bit for bit, on 1, 2 and 3 threads and with weights packed once: stems (7x7 stride 2
 * then 3x3 stride 2 padded; 11x11 stride 4 then 3x3 stride 2), maps large enough for many bands
 * per thread, pool strides 1 (bands overlap by two rows) and 3 over a window of 2 (rows no
 * window reads), a dilated pool with one-sided pads, a last window reaching past the map (ceil
 * mode), a filled padding, a NaN in the image, and a conv off the direct path (pooled after). */
typedef struct maxpool_case {
  conv_case c;
  int64_t k, s, dl, pb, pe, ceil;
  int fill;
  float fill_value;
} maxpool_case;

static int64_t pool_out(int64_t in, const maxpool_case *m) {
  int64_t span = in + m->pb + m->pe - ((m->k - 1) * m->dl + 1);
  return (m->ceil ? (span + m->s - 1) / m->s : span / m->s) + 1;
}

static void run_maxpool(test_state *ts, snt_k_ctx *const ctx[3], const maxpool_case *m, rng *r) {
  snt_k_conv_desc d = desc_of(&m->c);
  bufs B = bufs_make(r, &d);
  if (m->fill) B.x[5] = NAN; /* one image column's outputs are NaN: the pool's rule for NaN holds */
  snt_k_pool_desc pd = {.spatial = 2, .kind = SNT_K_POOL_MAX, .batch = d.batch, .channels = d.out_channels,
                        .in = {d.out[0], d.out[1]}, .kernel = {m->k, m->k}, .stride = {m->s, m->s},
                        .dilation = {m->dl, m->dl}, .pad_begin = {m->pb, m->pb}, .pad_end = {m->pe, m->pe}};
  pd.out[0] = pool_out(d.out[0], m), pd.out[1] = pool_out(d.out[1], m);
  int64_t np = d.batch * d.out_channels * pd.out[0] * pd.out[1];
  size_t bytes = snt_k_conv_packed_weights_bytes(&d);
  float *packed = bytes ? alloc_nan((int64_t)(bytes / sizeof(float))) : NULL, *want = alloc_nan(np),
        *got = alloc_nan(np);
  const float *fill = m->fill ? &m->fill_value : NULL;
  for (int a = 0; a < 3; a++) {
    d.act = acts[a];
    const float *b = a == 1 ? NULL : B.b;
    CHECK_INT(ts, snt_k_conv(ctx[0], &d, B.x, B.w, b, NULL, B.y1, NULL), SNT_OK);
    CHECK_INT(ts, fill ? snt_k_maxpool_filled(ctx[0], &pd, *fill, B.y1, want) : snt_k_pool_ctx(ctx[0], &pd, B.y1, want, NULL),
              SNT_OK);
    if (packed) CHECK_INT(ts, snt_k_conv_pack_weights(ctx[1], &d, B.w, packed), SNT_OK);
    for (int t = 0; t < 4; t++) {
      for (int64_t k = 0; k < np; k++) got[k] = -1234.5f;
      CHECK_INT(ts, snt_k_conv_maxpool(ctx[t % 3], &d, &pd, fill, B.x, B.w, t == 3 ? packed : NULL, b, B.y2, got),
                SNT_OK);
      ts->checks++;
      if (memcmp(want, got, (size_t)np * sizeof(float)) != 0) {
        ts->failures++;
        fprintf(stderr, "%s (act %d, %d threads%s): fused max pool differs from conv then pool\n", m->c.name, a,
                t % 3 + 1, t == 3 ? ", packed weights" : "");
      }
    }
  }
  snt_k_pool_desc bad = pd;
  bad.channels++;
  CHECK_INT(ts, snt_k_conv_maxpool(ctx[0], &d, &bad, fill, B.x, B.w, NULL, NULL, B.y2, got), SNT_ERR_INPUT);
  bad = pd, bad.out[0] = (d.out[0] + m->pb + m->s - 1) / m->s + 1; /* its last window starts past the map */
  CHECK_INT(ts, snt_k_conv_maxpool(ctx[0], &d, &bad, fill, B.x, B.w, NULL, NULL, B.y2, got), SNT_ERR_INPUT);
  bad = pd, bad.kernel[1] = d.out[1] + m->pb + m->pe + 1; /* a window wider than the padded map */
  CHECK_INT(ts, snt_k_conv_maxpool(ctx[0], &d, &bad, fill, B.x, B.w, NULL, NULL, B.y2, got), SNT_ERR_INPUT);
  bad = pd, bad.stride[0] = INT64_MAX / 2; /* (out - 1) x stride overflows */
  CHECK_INT(ts, snt_k_conv_maxpool(ctx[0], &d, &bad, fill, B.x, B.w, NULL, NULL, B.y2, got), SNT_ERR_INPUT);
  free(packed), free(want), free(got);
  bufs_free(&B);
}

static void test_maxpool(test_state *ts, snt_k_ctx *c1, snt_k_ctx *c2, snt_k_ctx *c3) {
  static const maxpool_case mc[] = { /* outputs of 1 MB and more are pooled in bands */
      {{"7x7/2 stem, 3x3/2 pool padded", 2, 3, 32, 1, 2, {131, 150}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}}, 3, 2, 1, 1, 1, 0, 0, 0},
      {{"11x11/4 stem, 3x3/2 pool", 2, 3, 64, 1, 2, {227, 227}, {11, 11}, {4, 4}, {1, 1}, {2, 2}, {2, 2}}, 3, 2, 1, 0, 0, 0, 0, 0},
      {{"3x3 on 150x130, many bands, pool filled with 0", 2, 3, 32, 1, 1, {150, 130}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
       3, 2, 1, 1, 1, 0, 1, 0.0f},
      {{"pool 3x3 stride 1 filled with -0.75", 2, 3, 16, 1, 2, {150, 120}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}, 3, 1, 1, 1, 1, 0, 1, -0.75f},
      {{"pool 2x2 stride 3", 2, 4, 32, 1, 1, {100, 120}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}}, 2, 3, 1, 0, 0, 0, 0, 0},
      {{"pool 3x3 dilation 2, pads 2/0", 2, 3, 32, 1, 1, {120, 100}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}}, 3, 2, 2, 2, 0, 0, 0, 0},
      {{"ceil-mode pool 3x3/2 on 92x92", 2, 3, 32, 1, 2, {92, 92}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}, 3, 2, 1, 0, 0, 1, 0, 0},
      {{"a small map (conv, then the pool)", 2, 3, 16, 1, 2, {67, 90}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}}, 3, 2, 1, 1, 1, 0, 0, 0},
      {{"64 -> 32 3x3 (off the direct path), 3x3/2 pool", 2, 64, 32, 1, 1, {30, 33}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
       3, 2, 1, 1, 1, 0, 0, 0},
  };
  snt_k_ctx *const ctx[3] = {c1, c2, c3};
  rng r = {0x9002};
  for (int i = 0; i < (int)(sizeof mc / sizeof mc[0]); i++) run_maxpool(ts, ctx, &mc[i], &r);
  snt_k_conv_desc d = desc_of(&mc[0].c), small = desc_of(&mc[7].c);
  const char *name = snt_k_conv_maxpool_kernel(c1, &d);
  if (snt_k_ctx_isa(c1) == SNT_K_ISA_AVX512) CHECK_STR(ts, name, "conv-direct-avx512+maxpool");
  else CHECK(ts, strstr(name, "+maxpool-pass") != NULL);
  if (snt_k_ctx_isa(c1) == SNT_K_ISA_AVX512) CHECK_STR(ts, snt_k_conv_maxpool_kernel(c1, &small), "conv-direct-avx512+maxpool-pass");
}

int main(void) {
  test_state ts = {0};
  snt_k_ctx *c1 = snt_k_ctx_create(1), *c2 = snt_k_ctx_create(2);
  if (!c1 || !c2) return 2;
  CHECK_INT(&ts, snt_k_ctx_threads(c2), 2);
  printf("isa %s\n", snt_k_isa_name(snt_k_ctx_isa(c1)));
  snt_k_ctx *c3 = snt_k_ctx_create(3);
  if (!c3) return 2;
  test_cases(&ts, c1, c2, c3);
  test_epilogues(&ts, c1, c2);
  test_taps(&ts, c1, c2);
  test_pool2(&ts, c1, c2);
  test_stream(&ts);
  test_maxpool(&ts, c1, c2, c3);
  test_depthwise_threads(&ts, c1, c3);
  snt_k_ctx *const infer[3] = {c1, c2, c3};
  test_training_paths(&ts, infer);
  snt_k_ctx_destroy(c3);
  snt_k_ctx_destroy(c1);
  snt_k_ctx_destroy(c2);
  return test_report("test_conv", &ts);
}
