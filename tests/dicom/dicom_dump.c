/* Test harness for tests/dicom/dicom.py: what sinter decodes from image files, for comparison
 * with pydicom and numpy. Reads jobs from stdin, one a line, so one process serves a whole test:
 *
 *   stored IN OUT                      the stored values (snt_image__dicom_read), int32
 *   image CHANNELS MAXPIX WINDOW IN OUT  snt_image_load_opts, float32 planar; WINDOW is C,W or -
 *
 * OUT gets "ok W H C\n" and the raw little-endian values, or "error MESSAGE\n". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/image/image_internal.h"

static int write_out(const char *out, const char *head, const void *data, size_t bytes) {
  FILE *f = fopen(out, "wb");
  if (!f) return perror(out), 1;
  fputs(head, f);
  if (bytes) fwrite(data, 1, bytes, f);
  return fclose(f) != 0;
}

static int job_stored(const char *in, const char *out) {
  snt_err e = {{0}};
  snt_image__dicom d;
  FILE *f = fopen(in, "rb");
  if (!f) return perror(in), 1;
  snt_status st = snt_image__dicom_read(in, f, 0 + SNT_IMAGE_DEFAULT_MAX_PIXELS, &d, &e);
  fclose(f);
  char head[1100];
  if (st != SNT_OK) {
    snprintf(head, sizeof head, "error %s\n", e.msg);
    return write_out(out, head, NULL, 0);
  }
  snprintf(head, sizeof head, "ok %d %d 1\n", d.width, d.height);
  int rc = write_out(out, head, d.values, (size_t)d.width * (size_t)d.height * sizeof *d.values);
  snt_image__dicom_free(&d);
  return rc;
}

static int job_image(const char *channels, const char *maxpix, const char *window, const char *in, const char *out) {
  snt_image_opts o = {.channels = atoi(channels), .max_pixels = atoll(maxpix)};
  if (strcmp(window, "-") != 0) {
    o.window.set = 1;
    if (sscanf(window, "%lf,%lf", &o.window.center, &o.window.width) != 2) return fprintf(stderr, "bad window %s\n", window), 1;
  }
  snt_err e = {{0}};
  snt_image img;
  char head[1100];
  if (snt_image_load_opts(in, &o, &img, &e) != SNT_OK) {
    snprintf(head, sizeof head, "error %s\n", e.msg);
    return write_out(out, head, NULL, 0);
  }
  snprintf(head, sizeof head, "ok %d %d %d\n", img.width, img.height, img.channels);
  int rc = write_out(out, head, img.data, (size_t)img.width * (size_t)img.height * (size_t)img.channels * sizeof *img.data);
  snt_image_free(&img);
  return rc;
}

int main(void) {
  char line[8192];
  int rc = 0;
  while (fgets(line, sizeof line, stdin)) {
    char *w[6] = {0};
    int n = 0;
    for (char *t = strtok(line, " \n"); t && n < 6; t = strtok(NULL, " \n")) w[n++] = t;
    if (n == 3 && strcmp(w[0], "stored") == 0) rc |= job_stored(w[1], w[2]);
    else if (n == 6 && strcmp(w[0], "image") == 0) rc |= job_image(w[1], w[2], w[3], w[4], w[5]);
    else if (n) return fprintf(stderr, "dicom_dump: bad job line (%d words)\n", n), 2;
  }
  return rc;
}
