/* Inference over a list of items with the eval model (inference mode, the training batch). */
#include <math.h>
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/train/train_int.h"

void snt_tr_eval_free(snt_tr_eval *e) {
  free(e->truth);
  free(e->pred);
  free(e->probs);
  free(e->item);
  memset(e, 0, sizeof *e);
}

int snt_tr_evaluate(const snt_train_info *t, const unsigned char *eval_blob, const snt_dataset *ds, const int *items,
                    int n_items, int threads, int bf16, long long max_pixels, snt_image_window window,
                    snt_tr_eval *out) {
  memset(out, 0, sizeof *out);
  const snt_model_info *em = t->eval_model;
  const snt_model_io *in = &em->inputs[0];
  int64_t b = em->batch, classes = em->outputs[0].dims[1];
  size_t sample = 1;
  for (int k = 1; k < in->rank; k++) sample *= (size_t)in->dims[k];
  snt_loader_opts lo = {.height = (int)in->dims[2], .width = (int)in->dims[3], .channels = (int)in->dims[1], .batch = (int)b,
                        .workers = threads > 1 ? 2 : 1, .max_pixels = max_pixels,
                        .window = window};
  snt_loader *l = NULL;
  snt_err e;
  float *x = calloc(sample * (size_t)b, sizeof(float)), *probs = calloc((size_t)(b * classes), sizeof(float));
  int64_t *labels = calloc((size_t)b, sizeof(int64_t));
  out->truth = calloc((size_t)n_items + 1, sizeof(int));
  out->pred = calloc((size_t)n_items + 1, sizeof(int));
  out->item = calloc((size_t)n_items + 1, sizeof(int));
  out->probs = calloc((size_t)n_items * (size_t)classes + 1, sizeof(float));
  out->classes = (int)classes;
  int *items_b = calloc((size_t)b, sizeof(int));
  void *inst = em->create();
  if (inst) em->set_threads(inst, threads > 0 ? threads : openblas_get_num_procs());
  if (inst) em->set_precision(inst, bf16);
  int rc = x && probs && labels && out->truth && out->pred && out->item && out->probs && items_b && inst ? 0 : 2;
  if (rc)
    fprintf(stderr, "%s: out of memory: cannot allocate the evaluation buffers (batch %lld, %d images)%s\n", em->name,
            (long long)b, n_items, inst ? "" : " or the model's activation arena");
  /* Non-finite weights make every prediction meaningless, even where the softmax looks finite. */
  int64_t bad_weights = 0;
  for (int p = 0; p < em->n_params; p++) {
    int64_t numel = 1;
    for (int k = 0; k < em->params[p].rank; k++) numel *= em->params[p].dims[k];
    bad_weights += snt_rt_count_nonfinite(em->params[p].dtype, eval_blob + em->params[p].offset, numel);
  }
  if (bad_weights)
    fprintf(stderr, "%s evaluate: the weights hold %lld non-finite value%s (NaN or Inf): every image is invalid\n",
            em->name, (long long)bad_weights, bad_weights == 1 ? "" : "s");
  if (!rc && snt_loader_create(ds, items, n_items, &lo, &l, &e) != SNT_OK) rc = 1;
  if (!rc && snt_loader_begin_epoch(l, 0, &e) != SNT_OK) rc = 1;
  if (!rc) em->set_weights(inst, eval_blob);
  double loss = 0;
  int64_t correct = 0;
  while (!rc) {
    int n = 0;
    if (snt_loader_next_items(l, x, labels, items_b, &n, &e) != SNT_OK) {
      rc = 1;
      break;
    }
    if (n == 0) break;
    const void *ins[1] = {x};
    void *outs[1] = {probs};
    int st = em->run_n ? em->run_n(inst, n, ins, outs) : em->run(inst, ins, outs); /* the last batch: n samples */
    if (st != 0) {
      snt_rt_report_failure(em, inst, st, "evaluate");
      rc = 2;
      break;
    }
    for (int i = 0; i < n; i++) {
      const float *p = probs + (size_t)i * (size_t)classes;
      if (bad_weights || snt_rt_count_nonfinite(SNT_F32, x + (size_t)i * sample, (int64_t)sample) ||
          snt_rt_count_nonfinite(SNT_F32, p, classes)) {
        out->invalid++;
        continue;
      }
      int best = 0;
      for (int c = 1; c < classes; c++)
        if (p[c] > p[best]) best = c;
      float pl = p[labels[i]] > 1e-7f ? p[labels[i]] : 1e-7f; /* Keras clips probabilities at epsilon */
      loss += -log((double)pl);
      correct += best == labels[i];
      out->truth[out->n] = (int)labels[i];
      out->pred[out->n] = best;
      out->item[out->n] = items_b[i];
      memcpy(out->probs + (size_t)out->n * (size_t)classes, p, sizeof(float) * (size_t)classes);
      out->n++;
    }
  }
  if (rc == 1) fprintf(stderr, "%s\n", e.msg);
  if (l) out->skipped = snt_loader_skipped(l);
  out->loss = out->n ? loss / (double)out->n : NAN;
  out->accuracy = out->n ? (double)correct / (double)out->n : NAN;
  snt_loader_destroy(l);
  if (inst) em->destroy(inst);
  free(x);
  free(probs);
  free(labels);
  free(items_b);
  return rc;
}
