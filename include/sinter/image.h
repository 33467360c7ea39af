/* Image decoding (PNG, JPEG), bilinear resizing and PNG/JPEG writing for the runtime.
 *
 * Decoded images are what the Keras notebooks feed their models: tf.io.decode_png(channels=3)
 * (which, like tf.io.decode_image, also decodes JPEG), cast to float32 without rescaling.
 * So pixels are floats in 0..255, always three channels, stored planar (CHW).
 *
 * Conversion rules, chosen to reproduce TensorFlow's decoders (tensorflow/core/lib/png/png_io.cc
 * CommonInitDecode, tensorflow/core/lib/jpeg/jpeg_mem.cc UncompressLow and
 * tensorflow/core/kernels/image/decode_image_op.cc):
 *  - The format is sniffed from the first bytes (89 'PNG' / FF D8 FF), never from the file name.
 *  - PNG gray (1/2/4/8/16-bit) is replicated to R=G=B. Bit depths below 8 are scaled to 0..255 by
 *    libpng's png_set_expand_gray_1_2_4_to_8 (1-bit 1 -> 255, 2-bit v -> 85 v, 4-bit v -> 17 v).
 *  - PNG 16-bit samples become 8-bit by keeping the high byte (png_set_strip_16, which is what TF
 *    calls when dtype=uint8): 0x12ff -> 0x12, 65535 -> 255. Not value*255/65535 rounded; the two
 *    differ by at most one step.
 *  - Alpha (gray+alpha, RGBA, and palette or gray/RGB tRNS transparency) is dropped, not composited
 *    on any background: the colour samples are kept as stored. Palettes are expanded to RGB.
 *  - Interlaced (Adam7) PNGs are de-interlaced. No gamma, sRGB or ICC handling (TF does none).
 *  - JPEG: grayscale is replicated, YCbCr converted to RGB by libjpeg; like TF we decode with the
 *    fast integer IDCT (JDCT_IFAST, TF's default dct_method) and fancy chroma upsampling, so
 *    values should match tf.io.decode_jpeg(channels=3) built on the same libjpeg-turbo version
 *    (JPEG decoders may differ by a level or two across versions; PNG decoding is exact).
 *  - JPEG CMYK and YCCK are decoded to CMYK by libjpeg and converted with TF's integer formula:
 *    with an Adobe APP14 marker (Photoshop's inverted CMYK, 255 = no ink) R = K*C/255, G = K*M/255,
 *    B = K*Y/255; without it (plain CMYK, 0 = no ink) R = (255-K)*(255-C)/255 and so on, where
 *    `/` truncates.
 *  - EXIF orientation is ignored, as TF does.
 *  - Possibly stricter than TF: a JPEG whose entropy-coded data is damaged or cut short
 *    (libjpeg's "premature end of data", "bad Huffman code", "must resync" warnings) is an error,
 *    where libjpeg alone only warns and returns grey or garbled blocks; harmless warnings
 *    (extraneous bytes before a marker, common in real files) are accepted. A PNG cut short
 *    anywhere, even in its final IEND chunk, is an error, as in TF.
 *
 * Every function returns SNT_OK, or a status with a message in `e` (when not NULL) that names the
 * file and what is wrong. Nothing here prints, exits or keeps global state: calls on different
 * images may run in parallel threads.
 */
#ifndef SINTER_IMAGE_H
#define SINTER_IMAGE_H

#include <stdint.h>

#include "sinter/error.h"
#include "sinter/status.h"

/* Absurd sizes are refused before any pixel buffer is allocated: 2^28 pixels of three floats
 * is already 3 GiB. */
enum { SNT_IMAGE_MAX_SIDE = 32768 };
#define SNT_IMAGE_MAX_PIXELS (1LL << 28)

/* A decoded image: data[(c * height + y) * width + x], floats in 0..255. */
typedef struct snt_image {
  int width, height, channels;
  float *data;
} snt_image;

/* Decodes a PNG or JPEG file into `out` (3 channels). On error `out` is left empty ({0}), so
 * snt_image_free(out) is always safe. */
snt_status snt_image_load(const char *path, snt_image *out, snt_err *e);

/* Releases img->data and empties *img; img may be NULL. */
void snt_image_free(snt_image *img);

/* tf.image.resize(method='bilinear', antialias=False), i.e. TF's ResizeBilinear with
 * half_pixel_centers=True (= PyTorch F.interpolate(mode='bilinear', align_corners=False)):
 * src = (dst + 0.5) * in_size / out_size - 0.5, clamped to [0, in_size - 1], computed in float
 * in TF's order (along x first, then y). Takes 1..1024 channels; a same-size resize is an
 * exact copy. `out` is allocated (free with snt_image_free) and must not alias `in`. */
snt_status snt_image_resize_bilinear(const snt_image *in, int out_h, int out_w, snt_image *out,
                                     snt_err *e);

/* Writes an 8-bit PNG from interleaved rows (hwc[(y * width + x) * channels + c]); channels is
 * 1 (gray), 3 (RGB) or 4 (RGBA). The file is written beside `path` under a temporary name and
 * renamed over it, so readers never see a partial file. */
snt_status snt_image_write_png(const char *path, int width, int height, int channels,
                               const uint8_t *hwc, snt_err *e);

/* Writes a baseline JPEG (channels 1 = gray, 3 = RGB stored as YCbCr 4:2:0), quality 1..100,
 * atomically like snt_image_write_png. */
snt_status snt_image_write_jpeg(const char *path, int width, int height, int channels,
                                const uint8_t *hwc, int quality, snt_err *e);

#endif
