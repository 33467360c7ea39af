/* Shared by fuzz_png.c, fuzz_jpeg.c and fuzz_dicom.c: feeds bytes to snt_image_load through an in-memory
 * file (memfd), so the loader runs exactly as on a real path and nothing touches the disk. */
#ifndef SINTER_FUZZ_IMAGE_H
#define SINTER_FUZZ_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sinter/image.h"

/* The fuzzers skip images larger than this (from the header, before decoding): a 60 KB file
 * can declare 2^28 pixels, which the loader's own cap still accepts and which costs GBs and
 * tens of seconds; that is issue #9 point 7 (a pixel cap in the loader), not news. */
#define FUZZ_IMAGE_MAX_PIXELS (4LL << 20)

static inline uint32_t fuzz_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* snt_image_load_opts with o (NULL: the defaults). */
static inline void fuzz_image_load_opts(const uint8_t *data, size_t size, const snt_image_opts *o) {
  int fd = memfd_create("fuzz-image", MFD_CLOEXEC);
  if (fd < 0) return;
  size_t off = 0;
  while (off < size) {
    ssize_t w = write(fd, data + off, size - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  if (off == size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    snt_image img = {0};
    snt_err e;
    if (snt_image_load_opts(path, o, &img, &e) == SNT_OK) {
      /* Touch every pixel, so ASan sees a buffer shorter than the size it claims. */
      volatile float sink = 0;
      size_t n = (size_t)img.width * (size_t)img.height * (size_t)img.channels;
      for (size_t i = 0; i < n; i++) sink += img.data[i];
      (void)sink;
    }
    snt_image_free(&img);
  }
  close(fd);
}

static inline void fuzz_image_load(const uint8_t *data, size_t size) { fuzz_image_load_opts(data, size, NULL); }

#endif
