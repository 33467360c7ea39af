/* Shared between the files of runtime/image/; not part of the public API. */
#ifndef SINTER_RUNTIME_IMAGE_INTERNAL_H
#define SINTER_RUNTIME_IMAGE_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "sinter/file.h"
#include "sinter/image.h"

/* Refuses zero, negative or absurd sizes (see SNT_IMAGE_MAX_SIDE) with a message naming `what`. */
snt_status snt_image__check_dims(const char *what, long long width, long long height, snt_err *e);

/* Allocates out->data for a 3-channel image and converts interleaved 8-bit RGB into it. */
snt_status snt_image__from_rgb8(const char *path, int width, int height, const uint8_t *rgb,
                                snt_image *out, snt_err *e);

/* Decoders: `f` is open at offset 0 and stays owned by the caller. */
snt_status snt_image__decode_png(const char *path, FILE *f, snt_image *out, snt_err *e);
snt_status snt_image__decode_jpeg(const char *path, FILE *f, snt_image *out, snt_err *e);

/* Atomic writes: open a fresh temporary file beside `path`, then either commit it (flush, sync,
 * close, rename over `path`) or abandon it (close and remove). */
typedef struct snt_image__tmpfile {
  FILE *f;
  snt_file_atomic a; /* sinter/file.h: the temporary, removed on every exit path */
} snt_image__tmpfile;

snt_status snt_image__tmp_open(const char *path, snt_image__tmpfile *t, snt_err *e);
snt_status snt_image__tmp_commit(const char *path, snt_image__tmpfile *t, snt_err *e);
void snt_image__tmp_abandon(snt_image__tmpfile *t);

/* Checks the arguments the writers share: non-NULL pointers and a sensible size. */
snt_status snt_image__check_write_args(const char *path, int width, int height, const uint8_t *hwc,
                                       snt_err *e);

#endif
