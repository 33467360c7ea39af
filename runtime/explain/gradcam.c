/* Grad-CAM (runtime/explain/gradcam.h): the explain model run once (twice when the predicted
 * class is not the one its first seed asked about), the channel weights, the map, the overlay. */
#include "runtime/explain/gradcam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/driver/driver.h"
#include "sinter/report.h"

int snt_gradcam_find_layer(const snt_explain_info *x, const char *layer, snt_err *e) {
  if (!x->model || x->n_layers < 1)
    return snt_err_set(e, SNT_ERR_INPUT, "this model cannot be explained: %s", x->why ? x->why : "it has no explain model"), -1;
  if (!layer) return x->n_layers - 1;
  for (int i = 0; i < x->n_layers; i++)
    if (strcmp(x->layers[i].name, layer) == 0) return i;
  char list[1024] = "";
  size_t at = 0;
  for (int i = 0; i < x->n_layers && at + 8 < sizeof list; i++)
    at += (size_t)snprintf(list + at, sizeof list - at, "%s'%.200s'", i ? ", " : "", x->layers[i].name);
  snt_err_set(e, SNT_ERR_INPUT, "--layer '%.200s' is not a convolution layer of the model; the layers are %s", layer, list);
  return -1;
}

int snt_gradcam_open(snt_gradcam *g, const snt_model_info *info, const snt_explain_info *x, const unsigned char *blob,
                     int layer, int threads, snt_err *e) {
  memset(g, 0, sizeof *g);
  const snt_model_info *xm = x->model;
  if (!xm || layer < 0 || layer >= x->n_layers) {
    snt_err_set(e, SNT_ERR_INPUT, "this model cannot be explained: %s", x->why ? x->why : "it has no explain model");
    return -1;
  }
  g->info = info, g->x = x, g->layer = layer;
  g->classes = (int)xm->outputs[0].dims[1];
  g->blob = calloc(1, xm->weights_bytes + 64);
  g->in = malloc(snt_rt_io_bytes(&xm->inputs[0]) + 64);
  g->seed = malloc(snt_rt_io_bytes(&xm->inputs[1]) + 64);
  g->out = calloc((size_t)xm->n_outputs, sizeof *g->out);
  bool ok = g->blob && g->in && g->seed && g->out;
  for (int i = 0; ok && i < xm->n_outputs; i++) ok = (g->out[i] = malloc(snt_rt_io_bytes(&xm->outputs[i]) + 64)) != NULL;
  if (ok) g->inst = xm->create();
  if (!ok || !g->inst) {
    snt_gradcam_close(g);
    snt_err_set(e, SNT_ERR_NOMEM, "out of memory opening the explain model");
    return -1;
  }
  memcpy(g->blob, blob, xm->weights_bytes);
  xm->set_weights(g->inst, g->blob);
  xm->set_threads(g->inst, threads > 0 ? threads : 1);
  return 0;
}

void snt_gradcam_close(snt_gradcam *g) {
  const snt_model_info *xm = g->x ? g->x->model : NULL;
  if (g->inst) xm->destroy(g->inst);
  for (int i = 0; g->out && xm && i < xm->n_outputs; i++) free(g->out[i]);
  free(g->out);
  free(g->in);
  free(g->seed);
  free(g->blob);
  memset(g, 0, sizeof *g);
}

void snt_gradcam_result_free(snt_gradcam_result *r) {
  free(r->probs);
  free(r->map);
  memset(r, 0, sizeof *r);
}

/* The explained class's score is the only one whose gradient is seeded. */
static int run_seeded(snt_gradcam *g, int cls, snt_err *e) {
  const snt_model_info *xm = g->x->model;
  for (int k = 0; k < g->classes; k++) g->seed[k] = k == cls ? 1.0f : 0.0f;
  const void *ins[2] = {g->in, g->seed};
  int st = xm->run(g->inst, ins, g->out);
  if (st) snt_err_set(e, SNT_ERR_INTERNAL, "the explain model failed (status %d)", st);
  return st ? -1 : 0;
}

static int argmax(const float *p, int n) {
  int best = 0;
  for (int k = 1; k < n; k++)
    if (p[k] > p[best]) best = k;
  return best;
}

/* ReLU(sum_k mean(G_k) A_k), in double: the channel sums of large layers lose digits in float. */
static int weigh(const float *a, const float *gr, int channels, int64_t plane, snt_gradcam_result *r) {
  double *acc = calloc((size_t)plane, sizeof *acc);
  r->map = malloc(sizeof(float) * (size_t)plane);
  if (!acc || !r->map) return free(acc), -1;
  for (int k = 0; k < channels; k++) {
    const float *ak = a + k * plane, *gk = gr + k * plane;
    double alpha = 0;
    for (int64_t i = 0; i < plane; i++) alpha += gk[i];
    alpha /= (double)plane;
    for (int64_t i = 0; i < plane; i++) acc[i] += alpha * ak[i];
  }
  double max = 0;
  for (int64_t i = 0; i < plane; i++) max = acc[i] > max ? acc[i] : max;
  for (int64_t i = 0; i < plane; i++) r->map[i] = acc[i] > 0 && max > 0 ? (float)(acc[i] / max) : 0.0f;
  r->max = (float)max;
  free(acc);
  return 0;
}

int snt_gradcam_run(snt_gradcam *g, const snt_image *img, int cls, snt_gradcam_result *r, snt_err *e) {
  memset(r, 0, sizeof *r);
  const snt_model_info *xm = g->x->model;
  if (cls >= g->classes) return snt_err_set(e, SNT_ERR_INPUT, "class %d is out of range (the model has %d)", cls, g->classes), -1;
  if (snt_rt_image_sample(g->info, img, g->in, e) != SNT_OK) return -1;
  if (run_seeded(g, cls >= 0 ? cls : 0, e)) return -1;
  const float *probs = g->out[0];
  if (snt_rt_count_nonfinite(SNT_F32, probs, g->classes))
    return snt_err_set(e, SNT_ERR_INPUT, "the model's probabilities are not finite for this image"), -1;
  int want = cls >= 0 ? cls : argmax(probs, g->classes);
  if (want != (cls >= 0 ? cls : 0) && run_seeded(g, want, e)) return -1;
  const snt_explain_layer_info *l = &g->x->layers[g->layer];
  const snt_model_io *aio = &xm->outputs[l->act_output];
  int64_t plane = aio->dims[2] * aio->dims[3];
  r->cls = want, r->h = (int)aio->dims[2], r->w = (int)aio->dims[3];
  r->probs = malloc(sizeof(float) * (size_t)g->classes);
  if (!r->probs || weigh(g->out[l->act_output], g->out[l->grad_output], (int)aio->dims[1], plane, r)) {
    snt_gradcam_result_free(r);
    return snt_err_set(e, SNT_ERR_NOMEM, "out of memory computing the map"), -1;
  }
  memcpy(r->probs, g->out[0], sizeof(float) * (size_t)g->classes);
  return 0;
}
