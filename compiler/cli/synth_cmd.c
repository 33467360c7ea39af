/* sinter synth-data: writes the built-in SYNTHETIC chest X-ray set (compiler/synth.h) in the
 * Kaggle layout DIR/<Class>/images/<Class>-<k>.png, so the demo runs without a download. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sinter/file.h"
#include "compiler/cli/cli.h"
#include "compiler/synth.h"
#include "sinter/image.h"
#include "support/util.h"

typedef struct synth_opts {
  const char *dir;
  long per_class, size;
  unsigned long long seed;
} synth_opts;

static const char synth_usage[] =
    "usage: sinter synth-data -o DIR [--per-class N] [--size S] [--seed K]\n"
    "\n"
    "Writes a deterministic, SYNTHETIC 4-class chest-X-ray-like image set in the Kaggle layout\n"
    "DIR/<Class>/images/<Class>-<k>.png (k = 1..N; classes COVID, Normal, Viral Pneumonia,\n"
    "Lung_Opacity), 8-bit grayscale, and DIR/README.txt saying what it is. The same seed gives\n"
    "the same bytes on every machine.\n"
    "\n"
    "  -o DIR           the output folder (created with its parents; files are overwritten)\n"
    "  --per-class N    images per class, 1..100000 (default 150)\n"
    "  --size S         width and height in pixels, 32..1024 (default 128)\n"
    "  --seed K         any unsigned 64-bit number (default 1)\n";

/* Returns -1 when help was printed, else an exit code (0 = parsed). */
static int parse_synth_args(int argc, char **argv, synth_opts *o) {
  int64_t per_class = o->per_class, size = o->size;
  const snt_opt table[] = {
      {.name = "out", 'o', SNT_OPT_STRING, &o->dir, "DIR", "the output folder"},
      {.name = "per-class", 0, SNT_OPT_INT, &per_class, "N", "images per class", .imin = 1, .imax = 100000},
      {.name = "size", 0, SNT_OPT_INT, &size, "S", "width and height in pixels", .imin = SNT_SYNTH_MIN_SIZE,
       .imax = SNT_SYNTH_MAX_SIZE},
      {.name = "seed", 0, SNT_OPT_UINT64, &o->seed, "K", "any unsigned 64-bit number"},
      {NULL}};
  int n_pos = 0;
  int rc = snt_opt_parse_cmd("sinter synth-data", table, argc, argv, NULL, 0, &n_pos);
  if (rc < 0) fputs(synth_usage, stdout);
  if (rc) return rc;
  o->per_class = (long)per_class, o->size = (long)size;
  if (!o->dir) {
    fprintf(stderr, "sinter synth-data: needs -o DIR\nrun 'sinter synth-data --help' for usage\n");
    return SNT_EXIT_USER;
  }
  return 0;
}

/* mkdir -p (sinter/file.h): creates the missing parents of `path` too. */
static snt_status make_dirs(const char *path, snt_err *e) { return snt_file_mkdir_p(path, e); }
static snt_status make_dir(const char *path, snt_err *e) { return snt_file_mkdir_p(path, e); }

static snt_status write_readme(const synth_opts *o, snt_err *e) {
  char *path = snt_format("%s/README.txt", o->dir);
  FILE *f = path ? fopen(path, "w") : NULL;
  if (!f) {
    snt_status st = path ? snt_err_set(e, SNT_ERR_IO, "cannot write %s: %s", path, strerror(errno))
                         : snt_err_set(e, SNT_ERR_NOMEM, "out of memory");
    free(path);
    return st;
  }
  fprintf(f,
          "SYNTHETIC chest-X-ray-like images written by `sinter synth-data --per-class %ld "
          "--size %ld --seed %llu`.\nThey are not real X-rays and are not for medical use; they "
          "exist so the demo runs without the Kaggle download.\n\n%s.\n\nLayout: "
          "<Class>/images/<Class>-<k>.png, k = 1..%ld, %ldx%ld 8-bit grayscale.\n",
          o->per_class, o->size, o->seed, snt_synth_description(), o->per_class, o->size, o->size);
  bool bad = ferror(f) != 0;
  bad |= fclose(f) != 0;
  snt_status st = bad ? snt_err_set(e, SNT_ERR_IO, "cannot write %s", path) : SNT_OK;
  free(path);
  return st;
}

/* Makes DIR/<Class>/images and fills it with that class's images. */
static snt_status write_class(const synth_opts *o, int cls, uint8_t *pix, snt_err *e) {
  const char *name = snt_synth_class_name(cls);
  char *cdir = snt_format("%s/%s", o->dir, name), *idir = snt_format("%s/%s/images", o->dir, name);
  snt_status st = cdir && idir ? SNT_OK : snt_err_set(e, SNT_ERR_NOMEM, "out of memory");
  if (st == SNT_OK) st = make_dir(cdir, e);
  if (st == SNT_OK) st = make_dir(idir, e);
  for (long k = 1; k <= o->per_class && st == SNT_OK; k++) {
    char *path = snt_format("%s/%s-%ld.png", idir, name, k);
    if (!path) st = snt_err_set(e, SNT_ERR_NOMEM, "out of memory");
    if (st == SNT_OK) st = snt_synth_image(o->seed, cls, (int)k, (int)o->size, pix, e);
    if (st == SNT_OK) st = snt_image_write_png(path, (int)o->size, (int)o->size, 1, pix, e);
    free(path);
  }
  free(cdir);
  free(idir);
  return st;
}

int snt_cmd_synth_data(int argc, char **argv) {
  synth_opts o = {NULL, 150, 128, 1};
  int rc = parse_synth_args(argc, argv, &o);
  if (rc) return rc < 0 ? SNT_EXIT_OK : rc;
  snt_err e = {{0}};
  uint8_t *pix = malloc((size_t)(o.size * o.size));
  snt_status st = pix ? make_dirs(o.dir, &e) : snt_err_set(&e, SNT_ERR_NOMEM, "out of memory");
  for (int c = 0; c < SNT_SYNTH_CLASSES && st == SNT_OK; c++) st = write_class(&o, c, pix, &e);
  if (st == SNT_OK) st = write_readme(&o, &e);
  free(pix);
  if (st != SNT_OK) {
    fprintf(stderr, "sinter synth-data: error: %s\n", e.msg);
    return st == SNT_ERR_IO || st == SNT_ERR_INPUT ? SNT_EXIT_USER : SNT_EXIT_INTERNAL;
  }
  printf("sinter synth-data: wrote %ld images (%ld per class, %ldx%ld, seed %llu) to %s; %s\n",
         o.per_class * SNT_SYNTH_CLASSES, o.per_class, o.size, o.size, o.seed, o.dir,
         snt_synth_description());
  return SNT_EXIT_OK;
}
