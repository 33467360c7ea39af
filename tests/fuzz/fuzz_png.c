/* libFuzzer target: any bytes starting with the PNG signature through snt_image_load (libpng
 * and the conversion to planar floats). Must never crash, hang or leak. */
#include <string.h>

#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  /* Other bytes would be sniffed as JPEG or refused: that is fuzz_jpeg's job. */
  if (size < 8 || memcmp(data, sig, 8)) return 0;
  /* IHDR must come first (libpng refuses anything else): width and height at 16 and 20. */
  if (size >= 24 && (unsigned long long)fuzz_be32(data + 16) * fuzz_be32(data + 20) > FUZZ_IMAGE_MAX_PIXELS) return 0;
  fuzz_image_load(data, size);
  return 0;
}
