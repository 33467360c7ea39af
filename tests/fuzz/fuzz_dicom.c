/* libFuzzer target: any bytes with "DICM" at offset 128 (a DICOM Part 10 file) through
 * snt_image_load_opts: DCMTK's parser and decoders (JPEG, JPEG-LS, RLE), the attribute checks,
 * the VOI LUT and the mapping to 0..255. Must never crash, hang or leak. */
#include <string.h>

#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Other bytes would be sniffed as PNG or JPEG or refused: fuzz_png's and fuzz_jpeg's job. */
  if (size < 132 || memcmp(data + 128, "DICM", 4)) return 0;
  /* The loader checks Rows x Columns against the cap before decoding (and caps the file size
   * from it), so the cap itself keeps the fuzzer's images small. The first preamble byte picks
   * the channels and whether --window overrides the file's own VOI. */
  snt_image_opts o = {.channels = data[0] % 3 == 0 ? 1 : data[0] % 3 == 1 ? 3 : 4,
                      .max_pixels = FUZZ_IMAGE_MAX_PIXELS,
                      .window = {.set = data[1] & 1, .center = (double)data[2] * 64 - 4096, .width = 1 + data[3] * 97.0}};
  fuzz_image_load_opts(data, size, &o);
  return 0;
}
