/* Evaluation reports for the runtime: the confusion matrix and sklearn's classification
 * report as text, the notebook's pictures (training curves, a confusion heat map, a contact
 * sheet of samples per class) as PNG, and the training history as CSV.
 *
 * Nothing here prints on its own or keeps global state: text goes to the FILE * the caller
 * gives, pictures and CSV files are written atomically (temporary file, fsync, rename), and
 * errors come back as a status with a message in `e` (when not NULL).
 */
#ifndef SINTER_REPORT_H
#define SINTER_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sinter/error.h"
#include "sinter/image.h"
#include "sinter/status.h"

/* ---- metrics ------------------------------------------------------------------------- */

/* Counts of (true class, predicted class): m[t * n + p]. */
typedef struct snt_confusion {
  int n;
  int64_t *m;
} snt_confusion;

/* Counts n_samples pairs; a label outside 0..n_classes-1 is an SNT_ERR_INPUT naming the
 * sample. On error `out` is left empty ({0}), so snt_confusion_free is always safe. */
snt_status snt_confusion_build(int n_classes, int64_t n_samples, const int *truth, const int *pred,
                               snt_confusion *out, snt_err *e);
void snt_confusion_free(snt_confusion *c);

typedef struct snt_class_stats {
  double precision, recall, f1;
  int64_t support; /* samples whose true class it is (the total for the averages) */
} snt_class_stats;

/* sklearn's precision_recall_fscore_support with zero_division=0: a ratio whose denominator
 * is 0 is 0 (never NaN). The macro average is over the classes present in the truth or the
 * predictions, sklearn's default label set (a class with neither, such as a label without a
 * data folder, would only drag it towards 0); the weighted average weighs by support. accuracy is
 * the trace over the total (0 for no samples). Any output may be NULL; per_class has c->n
 * entries. */
/* Whether class k occurs in the truth or the predictions. */
bool snt_report_class_present(const snt_confusion *c, int k);
void snt_report_stats(const snt_confusion *c, snt_class_stats *per_class, snt_class_stats *macro,
                      snt_class_stats *weighted, double *accuracy);

/* sklearn.metrics.classification_report(digits=4) text, byte for byte, ending in one newline.
 * labels[k] names class k; NULL labels (or a NULL entry) print the class number. */
void snt_report_print(FILE *f, const snt_confusion *c, const char *const *labels);

/* The matrix as a table: one row per true class, one column per predicted class, headed
 * "true \ pred" and the class names (labels as in snt_report_print). */
void snt_confusion_print(FILE *f, const snt_confusion *c, const char *const *labels);

/* ---- clinical metrics: one class against the rest ------------------------------------ */

/* Class k's one-vs-rest ROC curve over n samples (scores[i * stride + k], truth[i]): a point
 * (0, 0) at threshold +inf, then one per distinct score, highest first, with every sample
 * scoring at or above it called positive; tied scores are one threshold (sklearn's roc_curve
 * with drop_intermediate=False). auc is the trapezoidal area under it, sklearn's
 * roc_auc_score; it and the rates are NaN when the class has no positives or no negatives.
 * A non-finite score is an SNT_ERR_INPUT. On error *out is left empty. */
typedef struct snt_roc {
  int64_t pos, neg; /* samples of class k and of the others */
  int n;            /* points */
  double *fpr, *tpr;
  float *thr;       /* thr[0] = +inf */
  double auc;
} snt_roc;

snt_status snt_roc_build(int64_t n, const float *scores, int64_t stride, const int *truth, int k, snt_roc *out,
                         snt_err *e);
void snt_roc_free(snt_roc *r);

/* Class k against the rest: true and false positives and negatives. */
typedef struct snt_binary_counts {
  int64_t tp, fn, fp, tn;
} snt_binary_counts;

/* At the argmax decision (the confusion matrix's), and with k called when its score is >= p. */
snt_binary_counts snt_confusion_binary(const snt_confusion *c, int k);
snt_binary_counts snt_threshold_counts(int64_t n, const float *scores, int64_t stride, const int *truth, int k,
                                       double p);
/* TP / (TP + FN) and TN / (TN + FP); NaN when the denominator is 0. */
double snt_sensitivity(snt_binary_counts b);
double snt_specificity(snt_binary_counts b);

/* ---- canvas: an RGB picture with lines, rectangles and text -------------------------- */

typedef struct snt_rgb {
  uint8_t r, g, b;
} snt_rgb;

/* px[(y * width + x) * 3 + c], c = R, G, B. */
typedef struct snt_canvas {
  int width, height;
  uint8_t *px;
} snt_canvas;

/* Allocates a width x height canvas filled with bg (sides 1..SNT_IMAGE_MAX_SIDE). On error
 * *c is left empty. */
snt_status snt_canvas_init(snt_canvas *c, int width, int height, snt_rgb bg, snt_err *e);
void snt_canvas_free(snt_canvas *c);

/* Drawing clips to the canvas: anything outside it is ignored. */
void snt_canvas_fill_rect(snt_canvas *c, int x, int y, int w, int h, snt_rgb col);
/* An outline `thickness` pixels wide, drawn inside the rectangle x..x+w-1, y..y+h-1. */
void snt_canvas_rect(snt_canvas *c, int x, int y, int w, int h, int thickness, snt_rgb col);
/* An anti-aliased segment of the given width with round ends; pixel centres are at
 * integer + 0.5, so a pixel whose centre lies within thickness/2 - 0.5 of the segment gets
 * exactly `col`. */
void snt_canvas_line(snt_canvas *c, double x0, double y0, double x1, double y1, double thickness,
                     snt_rgb col);

/* Text in the built-in 5x7 font (printable ASCII; other bytes draw as '?'), each font pixel
 * a scale x scale square. (x, y) is the top-left of the box snt_text_width x
 * snt_text_height: capitals fill its top 7 * scale rows, descenders (g, p, y) the rest. */
void snt_canvas_text(snt_canvas *c, int x, int y, int scale, snt_rgb col, const char *s);
int snt_text_width(const char *s, int scale);
int snt_text_height(int scale);

snt_status snt_canvas_write_png(const snt_canvas *c, const char *path, snt_err *e);

/* ---- pictures ------------------------------------------------------------------------ */

/* Training curves: two panels, loss and accuracy, each with the train (blue) and validation
 * (orange) values against epoch 1..n_epochs, tick labels, a title and a legend. A NaN value
 * is missing: no point, and the line breaks there. Any of the four arrays may be NULL (all
 * missing). */
snt_status snt_plot_history(const char *path, int n_epochs, const double *train_loss,
                            const double *val_loss, const double *train_acc, const double *val_acc,
                            snt_err *e);

/* The confusion matrix as a heat map (white to dark blue with the count, which is written in
 * each cell), true classes down the left with their names and numbers, predicted classes
 * along the bottom by name when every name fits a cell and by number otherwise. */
snt_status snt_plot_confusion(const char *path, const snt_confusion *c, const char *const *labels,
                              snt_err *e);

/* Where cell (true t, predicted p) of that picture lies: top-left corner and side. */
void snt_plot_confusion_cell(const snt_confusion *c, const char *const *labels, int t, int p, int *x, int *y,
                             int *side);

/* A grid of samples: row k shows images[k * per_row + j] (NULL entries are left as grey
 * tiles), each fitted into a tile x tile square with nearest-neighbour sampling and its
 * aspect ratio kept, the class name to the left. Images have 1 or 3 channels, 0..255. */
snt_status snt_plot_contact_sheet(const char *path, int n_classes, const char *const *labels,
                                  int per_row, const snt_image *const *images, int tile, snt_err *e);

/* Where tile (row, col) of a contact sheet drawn with these arguments starts, for callers
 * (and tests) that want to find it again. */
void snt_contact_sheet_tile_origin(int n_classes, const char *const *labels, int tile, int row,
                                   int col, int *x, int *y);

/* The ROC curves of n_classes classes in one picture: one curve per class whose AUC is
 * defined, the chance diagonal, axes from 0 to 1, and a legend naming every class with its
 * AUC ("n/a" for the others; past 40 classes, how many more). labels as in snt_report_print. */
snt_status snt_plot_roc(const char *path, int n_classes, const char *const *labels, const snt_roc *rocs, snt_err *e);

/* n rows of `path,true_class,<one column per class>` with a header naming the classes:
 * paths[i], the name of class truth[i], then probs[i * n_classes + k] as %.9g (every float
 * reads back exactly). Fields are quoted as RFC 4180 says when they need it; lines end in
 * CRLF. Written atomically. */
snt_status snt_predictions_write(const char *path, int64_t n, const char *const *paths, const int *truth,
                                 int n_classes, const char *const *labels, const float *probs, snt_err *e);

/* The ROC points, `class,threshold,fpr,tpr`, of every class whose AUC is defined, in class
 * then curve order (the first threshold of each written "inf"). Written atomically. */
snt_status snt_roc_write(const char *path, int n_classes, const char *const *labels, const snt_roc *rocs, snt_err *e);

/* ---- training history ---------------------------------------------------------------- */

/* One epoch of a training run; NaN stands for a value not measured (no validation split). */
typedef struct snt_history_row {
  int epoch;
  double loss, accuracy, val_loss, val_accuracy, lr;
  int skipped; /* training batches left out of the epoch (say, for a non-finite loss) */
} snt_history_row;

/* Writes a CSV like Keras's CSVLogger: header `epoch,loss,accuracy,val_loss,val_accuracy,lr`,
 * one line per row, numbers as %.6g, NaN as `nan`. A `skipped` column is appended only when
 * some row has skipped != 0. The file is replaced atomically, so a run killed while
 * writing leaves the previous history intact. */
snt_status snt_history_write(const char *path, int n_rows, const snt_history_row *rows, snt_err *e);

/* Reads such a file back (to resume a run). Columns are found by their header names, in any
 * order; one of the six that is absent reads as NaN (epoch as the line number, 0-based),
 * unknown columns are ignored; empty, `nan` and `NA` fields are NaN. *rows is malloc'ed
 * (free() it; NULL when there are none). */
snt_status snt_history_read(const char *path, snt_history_row **rows, int *n_rows, snt_err *e);

#endif
