/* libFuzzer target: any bytes starting with a JPEG SOI through snt_image_load (libjpeg, the
 * damage checks, CMYK conversion). Must never crash, hang or leak. */
#include "fuzz_image.h"

/* The pixel count of the first SOFn frame header, or 0 when none is found. */
static long long jpeg_pixels(const uint8_t *p, size_t n) {
  size_t i = 2;
  while (i + 4 <= n) {
    if (p[i] != 0xff) {
      i++;
      continue;
    }
    uint8_t m = p[i + 1];
    if (m == 0xff || m == 0x01 || (m >= 0xd0 && m <= 0xd9)) {  /* fill, TEM, RSTn, SOI, EOI */
      i += m == 0xff ? 1 : 2;
      continue;
    }
    size_t len = (size_t)p[i + 2] << 8 | p[i + 3];
    if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
      if (i + 9 > n) return 0;
      return (long long)((p[i + 5] << 8 | p[i + 6])) * (p[i + 7] << 8 | p[i + 8]);
    }
    i += 2 + len;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Other bytes would be sniffed as PNG or refused: that is fuzz_png's job. */
  if (size < 3 || data[0] != 0xff || data[1] != 0xd8 || data[2] != 0xff) return 0;
  if (jpeg_pixels(data, size) > FUZZ_IMAGE_MAX_PIXELS) return 0;
  fuzz_image_load(data, size);
  return 0;
}
