/* The training data pipeline: scanning a labelled image folder, a stratified split, "balanced"
 * class weights, augmentation, and a batch loader with a background prefetch.
 *
 * Everything random is drawn from a counter-based generator keyed by (seed, stream, index, draw),
 * never from a running state, so any epoch (its order and its augmentations) can be reproduced
 * from the seed and the epoch number alone, e.g. when a run resumes.
 *
 * Functions return SNT_OK or a status with a message in `e` (when not NULL) naming the file or
 * folder and what is wrong. Nothing here prints, exits or keeps global state.
 */
#ifndef SINTER_DATA_H
#define SINTER_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "sinter/error.h"
#include "sinter/image.h"
#include "sinter/status.h"

/* --- counter-based random numbers ------------------------------------------------------------ */

/* 64 random bits that depend only on the key (a SplitMix64-finalised hash of the four words). */
uint64_t snt_rng_u64(uint64_t seed, uint64_t stream, uint64_t index, uint64_t draw);

/* A uniform double in [0, 1) from the same key (53 random bits). */
double snt_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index, uint64_t draw);

/* Fisher-Yates shuffle of v[0..n) whose i-th swap uses draw i of key (seed, stream, index). */
void snt_rng_shuffle_int(int *v, int n, uint64_t seed, uint64_t stream, uint64_t index);

/* Streams, so that the split, the epoch order and the augmentations never share draws. */
enum { SNT_RNG_STREAM_SPLIT = 1, SNT_RNG_STREAM_ORDER = 2, SNT_RNG_STREAM_AUGMENT = 3 };

/* --- scanning -------------------------------------------------------------------------------- */

/* A labelled list of image files. Items are grouped by label index, sorted by file name (strcmp)
 * within a class; item i is paths[i] with label[i]. counts[c] is the number of items of class c. */
typedef struct snt_dataset {
  int n_classes;
  char **labels;
  int n_items;
  char **paths;
  int *label;
  int64_t *counts;
  int n_warnings;
  char **warnings; /* e.g. a label without a folder; the caller decides whether to print them */
} snt_dataset;

/* Scans DIR/<label>/images/ (Kaggle layout; a class folder uses images/ when it has one, never
 * masks/) or DIR/<label>/ for *.{png,jpg,jpeg,dcm} (any case; a folder may mix them). Hidden and
 * non-image files are ignored. A folder that is not a label is an error; a label without a folder is a warning in
 * out->warnings. A missing DIR, one without images, or a repeated label is an error. */
snt_status snt_data_scan(const char *dir, int n_labels, const char *const *labels, snt_dataset *out,
                         snt_err *e);

/* Releases everything snt_data_scan allocated and empties *ds; ds may be NULL. */
void snt_dataset_free(snt_dataset *ds);

/* --- split and class weights ---------------------------------------------------------------- */

/* Item indices (ascending) of each part of a split. */
typedef struct snt_split {
  int *train, *val, *test;
  int n_train, n_val, n_test;
} snt_split;

/* Per-class sizes of a stratified train/val/test split, with sklearn's part sizes (its
 * train_test_split called twice): held = ceil((val + test) * N), then of the held items
 * test = ceil(held * test / (val + test)). Train is sized per class by largest remainder over the
 * class counts; test by largest remainder over the original class counts, each class clamped to
 * its held count (the unit goes to the next-largest remainder); val = held - test. Ties go to the
 * lower class. fractions = {train, val, test}, each >= 0, sum 1. See docs/data-split.md. */
snt_status snt_data_split_counts(int n_classes, const int64_t *counts, const double fractions[3],
                                 int64_t *train_out, int64_t *val_out, int64_t *test_out, snt_err *e);

/* Splits ds with snt_data_split_counts; which items of a class go where is decided by a shuffle
 * of the class's items seeded by (seed, class). The same seed always gives the same split. */
snt_status snt_data_split(const snt_dataset *ds, const double fractions[3], uint64_t seed,
                          snt_split *out, snt_err *e);

/* Releases a split and empties it; s may be NULL. */
void snt_split_free(snt_split *s);

/* "Balanced" weights w_c = n_train / (n_classes * train_counts[c]); 0 for a class without items. */
void snt_data_class_weights_counts(int n_classes, const int64_t *train_counts, double *w_out);

/* The balanced weights of ds's classes over the split's training items (w_out: n_classes). */
void snt_data_class_weights(const snt_dataset *ds, const snt_split *split, double *w_out);

/* --- augmentation --------------------------------------------------------------------------- */

/* Random augmentations as Keras's preprocessing layers. brightness: RandomBrightness factor (a
 * fraction of 0..255); contrast: factor range [lo, hi] ({1, 1} or {0, 0} = off); rotation:
 * RandomRotation factor (fraction of a full turn); shift: RandomTranslation {height, width}
 * factors; zoom: RandomZoom factor (zoom in or out by up to this fraction). 0 = off. */
typedef struct snt_augment {
  int flip_horizontal, flip_vertical;
  double brightness;
  double contrast[2];
  double rotation;
  double shift[2];
  double zoom;
} snt_augment;

/* The values drawn for one image: what snt_augment_apply does to it. */
typedef struct snt_augment_params {
  int flip_h, flip_v;
  double angle;      /* radians; positive turns the content counter-clockwise, as Keras */
  double dy, dx;     /* translation in pixels (content moves down / right) */
  double zoom;       /* sampling scale: > 1 zooms out, < 1 zooms in; 1 = none */
  double brightness; /* delta added to every pixel, in 0..255 units */
  double contrast;   /* factor; 1 = none */
} snt_augment_params;

/* Draws the parameters of item `item` in epoch `epoch` (the key is (seed, epoch, item); each
 * option has its own draw, so turning one on or off does not change the others). */
void snt_augment_draw(const snt_augment *opts, uint64_t seed, int epoch, int64_t item, int height,
                      int width, snt_augment_params *out);

/* Applies p to a C x H x W image (any channel count) in place: flips, then one affine warp (rotation about the centre,
 * translation, zoom; bilinear, 'reflect' fill as Keras's default fill_mode), then brightness, then
 * contrast (x' = (x - mean) f + mean per channel, as tf.image.adjust_contrast), each of the last
 * two clipped to 0..255 as Keras does. Steps that are off leave the pixels bit-identical. */
snt_status snt_augment_apply(const snt_augment_params *p, snt_image *img, snt_err *e);

/* snt_augment_draw followed by snt_augment_apply. */
snt_status snt_augment_image(const snt_augment *opts, uint64_t seed, int epoch, int64_t item,
                             snt_image *img, snt_err *e);

/* --- loader --------------------------------------------------------------------------------- */

typedef struct snt_loader snt_loader;

/* height, width: the model's input size; channels: its channel count, 1, 3 or 4 (0 = 3: images
 * are decoded to it, see sinter/image.h); max_pixels: the pixel cap of the images (0 = the
 * default, SNT_IMAGE_DEFAULT_MAX_PIXELS); batch >= 1; shuffle: a new order each epoch keyed by
 * (seed, epoch); augment: apply `aug` (training only); cache_bytes: memory for the decoded and
 * resized images, kept across epochs (0 = 2 GiB; the items beyond the budget are decoded every
 * epoch); no_cache: 1 to keep nothing; workers: decoding threads (0 = 2). An item's augmentation
 * is keyed by (seed, epoch, its index in the data set), so it does not depend on the order. */
typedef struct snt_loader_opts {
  int height, width, batch;
  int channels;
  long long max_pixels;
  snt_image_window window; /* the VOI window of DICOM images (sinter/image.h) */
  int shuffle, augment;
  snt_augment aug;
  uint64_t seed;
  size_t cache_bytes;
  int no_cache;
  int workers;
  /* shard_count > 1 (data-parallel training): of every batch of the epoch's order this loader
   * yields only part shard_rank, positions [B * r / N, B * (r + 1) / N) of the batch's B; a
   * step may then be empty, and an unreadable image leaves its batch short (no refill). */
  int shard_rank, shard_count;
} snt_loader_opts;

/* A loader over ds's items items[0..n_items) (copied); ds must outlive the loader. */
snt_status snt_loader_create(const snt_dataset *ds, const int *items, int n_items,
                             const snt_loader_opts *opts, snt_loader **out, snt_err *e);

/* Starts epoch `epoch` (>= 0): fixes its order and starts decoding ahead in the background.
 * Abandons whatever is left of the previous epoch. */
snt_status snt_loader_begin_epoch(snt_loader *l, int epoch, snt_err *e);

/* Fills x [batch, C, H, W] (floats 0..255) and labels [batch] with the next batch; *n_out is its
 * size (< batch for the last one, 0 at the end of the epoch). Unreadable images are skipped and
 * counted; the batch is filled from the following items. Any other failure (out of memory) is
 * returned with *n_out = 0. */
snt_status snt_loader_next(snt_loader *l, float *x, int64_t *labels, int *n_out, snt_err *e);
/* The same, also writing each image's data set item (its index in ds) to items[0..*n_out), so
 * a caller can name the file behind every row even when some were skipped. */
snt_status snt_loader_next_items(snt_loader *l, float *x, int64_t *labels, int *items, int *n_out, snt_err *e);

/* Images skipped so far in the current epoch, and the message of the first ("" if none). */
int snt_loader_skipped(const snt_loader *l);
const char *snt_loader_first_error(const snt_loader *l);

/* Batches per epoch: ceil(n_items / batch) (fewer when images are skipped; exactly this many,
 * some maybe empty, when sharded). */
int snt_loader_steps(const snt_loader *l);

/* Items the loader was made over (n_items). */
int snt_loader_items(const snt_loader *l);

/* Stops the background threads (also mid-epoch) and frees the loader; l may be NULL. */
void snt_loader_destroy(snt_loader *l);

#endif
