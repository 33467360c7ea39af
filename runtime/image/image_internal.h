/* Shared between the files of runtime/image/; not part of the public API. */
#ifndef SINTER_RUNTIME_IMAGE_INTERNAL_H
#define SINTER_RUNTIME_IMAGE_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "sinter/file.h"
#include "sinter/image.h"

/* Refuses zero, negative or absurd sizes (see SNT_IMAGE_MAX_SIDE) with a message naming `what`. */
snt_status snt_image__check_dims(const char *what, long long width, long long height, snt_err *e);

/* What a decoder is asked for: opts already checked and defaulted (channels 1, 3 or 4,
 * max_pixels >= 1). */
typedef struct snt_image__want {
  int channels;
  long long max_pixels;
} snt_image__want;

/* check_dims plus the pixel cap, from the header before anything is decoded: the message names
 * the file, its size and the cap. */
snt_status snt_image__check_header(const char *path, long long width, long long height,
                                   const snt_image__want *w, snt_err *e);

/* Allocates out->data for a `channels`-channel image and converts interleaved 8-bit samples
 * (hwc[(y * width + x) * channels + c]) into it. */
snt_status snt_image__from_hwc8(const char *path, int width, int height, int channels,
                                const uint8_t *hwc, snt_image *out, snt_err *e);

/* Checks o and fills in its defaults; messages name `who`. */
snt_status snt_image__want_of(const char *who, const snt_image_opts *o, snt_image__want *w, snt_err *e);

/* Sniffs the format from f's first bytes and hands f (rewound) to its decoder; path names the
 * image in messages. The caller opened f and closes it. */
snt_status snt_image__sniff_decode(const char *path, FILE *f, const snt_image__want *want, snt_image *out, snt_err *e);

/* Decoders: `f` is open at offset 0 and stays owned by the caller. */
snt_status snt_image__decode_png(const char *path, FILE *f, const snt_image__want *w, snt_image *out,
                                 snt_err *e);
snt_status snt_image__decode_jpeg(const char *path, FILE *f, const snt_image__want *w, snt_image *out,
                                  snt_err *e);

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
