/* Shared between the files of runtime/image/; not part of the public API. */
#ifndef SINTER_RUNTIME_IMAGE_INTERNAL_H
#define SINTER_RUNTIME_IMAGE_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "sinter/file.h"
#include "sinter/image.h"

/* Refuses zero, negative or absurd sizes (see SNT_IMAGE_MAX_SIDE) with a message naming `what`. */
snt_status snt_image__check_dims(const char *what, long long width, long long height, snt_err *e);

/* What a decoder is asked for: opts already checked and defaulted (channels 1, 3 or 4,
 * max_pixels >= 1). */
typedef struct snt_image__want {
  int channels;
  long long max_pixels;
  snt_image_window window;
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

/* DICOM: `f` is open at offset 0 and stays owned by the caller. Decodes through dicom_read and
 * maps through dicom_map (docs/dicom.md). */
snt_status snt_image__decode_dicom(const char *path, FILE *f, const snt_image__want *w, snt_image *out,
                                   snt_err *e);

/* VOI LUT functions (0028,1056) of a file's window. */
typedef enum snt_image__voi_fn { SNT_VOI_LINEAR, SNT_VOI_LINEAR_EXACT, SNT_VOI_SIGMOID } snt_image__voi_fn;

/* One single-frame gray DICOM image as stored, and what maps it to 0..255. */
typedef struct snt_image__dicom {
  int width, height;
  int bits_stored;      /* 1..16 */
  int is_signed;        /* Pixel Representation 1: two's complement stored values */
  int monochrome1;      /* 1: the lowest value is white */
  double slope, intercept; /* the modality LUT: Rescale Slope (never 0) and Intercept */
  snt_image_window window; /* the file's first Window Center/Width, when it has one */
  snt_image__voi_fn voi_fn;
  uint16_t *lut;        /* the first VOI LUT of the VOI LUT Sequence, or NULL */
  long lut_n, lut_first; /* its entry count and first mapped input value */
  int lut_bits;         /* its output bits, 1..16 */
  int32_t *values;      /* width * height stored values, sign-extended */
} snt_image__dicom;

/* Reads one DICOM Part 10 file through DCMTK (runtime/image/dicom_codec.cc) into `out`,
 * refusing what the mapping does not cover (colour, multi-frame, ...) with a message naming
 * the file; the pixel cap is checked from Rows x Columns before decoding. Free with
 * snt_image__dicom_free, also after an error. Never throws. */
snt_status snt_image__dicom_read(const char *path, FILE *f, long long max_pixels, snt_image__dicom *out,
                                 snt_err *e);
void snt_image__dicom_free(snt_image__dicom *d);

/* Checks every element header of a Part 10 file in memory (p[0..len), "DICM" at 128): each
 * declared length fits in the bytes left, each explicit VR is a real one; deflated data sets are
 * refused. Run before DCMTK parses, which allocates declared lengths up front. uid (of
 * SNT_IMAGE__UID_SIZE bytes) gets the transfer syntax UID, "" when the file has none. */
enum { SNT_IMAGE__UID_SIZE = 65 };

/* Checks the first fragment of JPEG pixel data up to its frame header: SOI, then marker
 * segments of valid lengths. DCMTK 3.6.7 scans that part itself for the bit depth and can
 * loop forever on some malformed ones (found by fuzz_dicom). */
snt_status snt_image__dicom_jpeg_check(const char *path, const unsigned char *p, size_t len, snt_err *e);
snt_status snt_image__dicom_walk(const char *path, const unsigned char *p, size_t len, char *uid, snt_err *e);

/* Maps d's stored values to 0..255 floats (width * height of them) as docs/dicom.md says;
 * `override` (may be NULL or unset) replaces the file's window and VOI LUT. */
snt_status snt_image__dicom_map(const char *path, const snt_image__dicom *d, const snt_image_window *override,
                                float *out, snt_err *e);

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

#ifdef __cplusplus
}
#endif

#endif
