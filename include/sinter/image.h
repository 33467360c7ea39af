/* Image decoding (PNG, JPEG, DICOM), bilinear resizing and PNG/JPEG writing for the runtime.
 *
 * Decoded images are what the Keras notebooks feed their models: tf.io.decode_png(channels=C)
 * (which, like tf.io.decode_image, also decodes JPEG), cast to float32 without rescaling.
 * So pixels are floats in 0..255, with the channel count the model declares (1, 3 or 4; 3 by
 * default), stored planar (CHW).
 *
 * Conversion rules, chosen to reproduce TensorFlow's decoders (tensorflow/core/lib/png/png_io.cc
 * CommonInitDecode, tensorflow/core/lib/jpeg/jpeg_mem.cc UncompressLow and
 * tensorflow/core/kernels/image/decode_image_op.cc):
 *  - The format is sniffed from the first bytes (89 'PNG' / FF D8 FF / "DICM" at offset 128 of
 *    a DICOM Part 10 file), never from the file name.
 *  - DICOM (single-frame MONOCHROME1/2 through DCMTK) has its own mapping to 0..255, described in
 *    docs/dicom.md: stored values -> Rescale Slope/Intercept -> VOI window or LUT (or the stored
 *    bit range) -> MONOCHROME1 inverted. Gray is replicated for 3 or 4 channels (alpha 255).
 *  - Channels (what TF's decoders give for channels=1, 3 or 4):
 *    1: gray images as they are. Colour PNGs become gray in libpng itself, called as TF calls
 *       it: png_set_rgb_to_gray(png, 1, 0.299, 0.587). libpng turns these into 15-bit fixed
 *       point coefficients (R 9797, G 19234, B = 32768 - R - G = 3737) and, for 8-bit samples
 *       without gamma, gray = (9797 R + 19234 G + 3737 B) >> 15 (truncated; R = G = B stays
 *       as it is). A PNG with a gAMA or sRGB chunk of a gamma other than 1 is converted by
 *       libpng in linear light through its gamma tables, as in TF. 16-bit colour PNGs are
 *       converted at 16 bits and rounded, gray16 = (9797 R + 19234 G + 3737 B + 16384) >> 15,
 *       then the high byte is kept. Colour JPEGs become gray in libjpeg (out_color_space =
 *       JCS_GRAYSCALE): the decoded Y (luminance) plane of YCbCr, the chroma planes unused; an
 *       RGB-coded JPEG goes through libjpeg's rgb_gray, Y = 0.299 R + 0.587 G + 0.114 B in
 *       16-bit fixed point, rounded. CMYK/YCCK JPEGs have no gray conversion in libjpeg (nor in
 *       TF) and are refused for 1 channel.
 *    3: gray is replicated to R=G=B; colour as below.
 *    4: RGBA. PNG alpha (or tRNS transparency) is kept; without it libpng adds an opaque
 *       alpha (TF's png_set_add_alpha((1 << bit depth) - 1)). JPEG has no 4-channel form in
 *       TF and is refused for 4 channels.
 *  - PNG gray (1/2/4/8/16-bit) is replicated to R=G=B for 3 or 4 channels. Bit depths below 8
 *    are scaled to 0..255 by libpng's png_set_expand_gray_1_2_4_to_8 (1-bit 1 -> 255, 2-bit
 *    v -> 85 v, 4-bit v -> 17 v).
 *  - PNG 16-bit samples become 8-bit by keeping the high byte (png_set_strip_16, which is what TF
 *    calls when dtype=uint8): 0x12ff -> 0x12, 65535 -> 255. Not value*255/65535 rounded; the two
 *    differ by at most one step.
 *  - For 1 or 3 channels, alpha (gray+alpha, RGBA, palette or gray/RGB tRNS transparency) is
 *    dropped, not composited on any background: the colour samples are kept as stored. Palettes
 *    are expanded to RGB.
 *  - Interlaced (Adam7) PNGs are de-interlaced. No gamma, sRGB or ICC handling (TF does none),
 *    except libpng's own linear-light rgb-to-gray above.
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

#include <stddef.h>
#include <stdint.h>

#include "sinter/error.h"
#include "sinter/status.h"

/* Absurd sizes are refused before any pixel buffer is allocated. The pixel count an image
 * may have is a cap checked from the header, before any decoding (SNT_IMAGE_DEFAULT_MAX_PIXELS,
 * 64 Mi = 8192 x 8192 pixels, unless the caller gives another); SNT_IMAGE_MAX_PIXELS is the
 * absolute limit of any cap (2^28 pixels of four floats is already 4 GiB). */
enum { SNT_IMAGE_MAX_SIDE = 32768 };
#define SNT_IMAGE_MAX_PIXELS (1LL << 28)
#define SNT_IMAGE_DEFAULT_MAX_PIXELS (1LL << 26)

/* A decoded image: data[(c * height + y) * width + x], floats in 0..255. */
typedef struct snt_image {
  int width, height, channels;
  float *data;
} snt_image;

/* A DICOM VOI window (--window C,W): when `set`, it replaces the file's own window or VOI LUT.
 * width >= 1 (DICOM PS3.3 C.11.2.1.2.1); ignored for PNG and JPEG. */
typedef struct snt_image_window {
  int set;
  double center, width;
} snt_image_window;

/* How snt_image_load_opts decodes: channels 1, 3 or 4 (0 = 3); max_pixels: the largest
 * width * height accepted, 1..SNT_IMAGE_MAX_PIXELS (0 = SNT_IMAGE_DEFAULT_MAX_PIXELS);
 * window: the VOI window of DICOM images (see docs/dicom.md). */
typedef struct snt_image_opts {
  int channels;
  long long max_pixels;
  snt_image_window window;
} snt_image_opts;

/* Decodes a PNG, JPEG or DICOM file into `out` with o->channels channels (o may be NULL: the
 * defaults). Only regular files are read: a FIFO, directory or device is refused without
 * blocking. On error `out` is left empty ({0}), so snt_image_free(out) is always safe. */
snt_status snt_image_load_opts(const char *path, const snt_image_opts *o, snt_image *out, snt_err *e);

/* snt_image_load_opts on an image held in memory (size bytes at data), e.g. an HTTP body:
 * the format is sniffed from the bytes as for files; name stands for the image in messages. */
snt_status snt_image_load_mem(const char *name, const void *data, size_t size, const snt_image_opts *o,
                              snt_image *out, snt_err *e);

/* snt_image_load_opts with the defaults (3 channels, the default pixel cap). */
snt_status snt_image_load(const char *path, snt_image *out, snt_err *e);

/* Checks o (channels 0, 1, 3 or 4; max_pixels 0..SNT_IMAGE_MAX_PIXELS; a set window finite with
 * width >= 1) with a message naming `who`. */
snt_status snt_image_check_opts(const char *who, const snt_image_opts *o, snt_err *e);

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

/* The PNG snt_image_write_png would write, in memory: *out is malloc'ed (*len bytes). */
snt_status snt_image_encode_png(int width, int height, int channels, const uint8_t *hwc, uint8_t **out, size_t *len,
                                snt_err *e);

/* Writes a baseline JPEG (channels 1 = gray, 3 = RGB stored as YCbCr 4:2:0), quality 1..100,
 * atomically like snt_image_write_png. */
snt_status snt_image_write_jpeg(const char *path, int width, int height, int channels,
                                const uint8_t *hwc, int quality, snt_err *e);

#endif
