/* POST /v1/explain: Grad-CAM of one image (the body, or a multipart body's first part) for
 * the predicted class at the last convolution, as `EXE explain` computes it. The explain model
 * is its own instance, apart from the batching queue's; one explanation runs at a time. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/driver/serve.h"
#include "runtime/explain/gradcam.h"
#include "sinter/explain.h"

enum { OVERLAY_MAX_SIDE = 1024 };

void snt_srv_explain_open(snt_srv *s) {
  const snt_rt_explain_src *xs = s->common->explain;
  snt_err e = {0};
  if (!xs) {
    snprintf(s->xp_why, sizeof s->xp_why, "this executable has no explain model (a DSL model compiled with --no-train, "
                                          "or an ONNX graph compiled without --explain)");
    return;
  }
  int layer = snt_gradcam_find_layer(xs->x, NULL, &e);
  unsigned char *blob = layer >= 0 ? malloc(xs->x->model->weights_bytes + 64) : NULL;
  s->xp = layer >= 0 ? calloc(1, sizeof *s->xp) : NULL;
  int rc = !blob || !s->xp ? -1 : xs->weights(xs->ctx, xs->x, s->common->weights, blob);
  if (!rc && snt_gradcam_open(s->xp, s->info, xs->x, blob, layer, s->common->threads, &e)) rc = -1;
  if (rc) {
    snprintf(s->xp_why, sizeof s->xp_why, "%.1023s", e.msg[0] ? e.msg : "the explain model could not be opened");
    free(s->xp);
    s->xp = NULL;
  }
  free(blob);
  pthread_mutex_init(&s->xp_mu, NULL);
}

void snt_srv_explain_close(snt_srv *s) {
  if (s->xp) snt_gradcam_close(s->xp);
  free(s->xp);
  s->xp = NULL;
  pthread_mutex_destroy(&s->xp_mu);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(snt_srv_buf *b, const uint8_t *p, size_t n) {
  char q[4];
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    q[0] = b64[v >> 18 & 63], q[1] = b64[v >> 12 & 63];
    q[2] = i + 1 < n ? b64[v >> 6 & 63] : '=', q[3] = i + 2 < n ? b64[v & 63] : '=';
    snt_srv_buf_append(b, q, 4);
  }
}

static void answer(snt_srv *s, const snt_srv_req *req, const snt_srv_part *part, const snt_gradcam_result *r,
                   const uint8_t *png, size_t png_len, snt_srv_reply *rep) {
  snt_srv_buf *b = &rep->body;
  char nbuf[32];
  const char *name;
  snt_srv_buf_printf(b, "{\"file\": ");
  snt_srv_buf_json_string(b, part->name);
  name = snt_rt_label(s->info, r->cls, nbuf, sizeof nbuf);
  snt_srv_buf_printf(b, ", \"class\": ");
  snt_srv_buf_json_string(b, name);
  snt_srv_buf_printf(b, ", \"probability\": %.9g, \"probabilities\": {", r->probs[r->cls]);
  for (int k = 0; k < s->xp->classes; k++) {
    name = snt_rt_label(s->info, k, nbuf, sizeof nbuf);
    snt_srv_buf_printf(b, "%s", k ? ", " : "");
    snt_srv_buf_json_string(b, name);
    snt_srv_buf_printf(b, ": %.9g", r->probs[k]);
  }
  snt_srv_buf_printf(b, "}, \"layer\": ");
  snt_srv_buf_json_string(b, s->xp->x->layers[s->xp->layer].name);
  snt_srv_buf_printf(b, ", \"map\": {\"height\": %d, \"width\": %d, \"max\": %.9g, \"values\": [", r->h, r->w, r->max);
  for (int64_t i = 0; i < (int64_t)r->h * r->w; i++) snt_srv_buf_printf(b, "%s%.6g", i ? ", " : "", r->map[i]);
  snt_srv_buf_printf(b, "]}, \"timings_ms\": {\"total\": %.3f}, \"overlay_png_base64\": \"", (snt_srv_now() - req->start) * 1e3);
  base64(b, png, png_len);
  snt_srv_buf_printf(b, "\"}\n");
}

/* Decodes the image and explains it under the explainer's lock; 0, or -1 with rep set. */
static int explain_part(snt_srv *s, const snt_srv_req *req, const snt_srv_part *part, snt_srv_reply *rep) {
  snt_image img = {0};
  snt_image_opts io = {.channels = snt_rt_image_channels(s->info), .max_pixels = s->common->max_pixels,
                       .window = s->common->window};
  snt_gradcam_result r = {0};
  snt_err e = {0};
  uint8_t *rgb = NULL, *png = NULL;
  size_t png_len = 0;
  int w = 0, h = 0;
  while (sem_wait(&s->decoders) != 0) continue; /* EINTR only */
  snt_status st = snt_image_load_mem(part->name, part->data, part->size, &io, &img, &e);
  sem_post(&s->decoders);
  if (st != SNT_OK) return snt_srv_error(rep, st == SNT_ERR_NOMEM ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_BAD_REQUEST, "%s", e.msg), -1;
  pthread_mutex_lock(&s->xp_mu);
  int rc = snt_gradcam_run(s->xp, &img, -1, &r, &e);
  pthread_mutex_unlock(&s->xp_mu);
  char caption[300], nbuf[32];
  const char *name;
  if (!rc) {
    name = snt_rt_label(s->info, r.cls, nbuf, sizeof nbuf);
    snprintf(caption, sizeof caption, "%.200s %.1f%%", name, 100.0 * r.probs[r.cls]);
    rc = snt_gradcam_overlay(&img, &r, caption, OVERLAY_MAX_SIDE, &rgb, &w, &h, &e);
  }
  if (!rc && snt_image_encode_png(w, h, 3, rgb, &png, &png_len, &e) != SNT_OK) rc = -1;
  if (rc) snt_srv_error(rep, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e.msg);
  else answer(s, req, part, &r, png, png_len, rep);
  free(png);
  free(rgb);
  snt_gradcam_result_free(&r);
  snt_image_free(&img);
  return rc;
}

void snt_srv_handle_explain(snt_srv *s, const snt_srv_req *req, snt_srv_reply *rep) {
  if (!s->xp) {
    snt_srv_error(rep, MHD_HTTP_NOT_IMPLEMENTED, "cannot explain: %s", s->xp_why);
    return;
  }
  snt_srv_part parts[2]; /* a second part is only seen to be refused */
  int n = 0;
  if (snt_srv_request_parts(req, parts, 2, &n, rep) == 0 && n != 1)
    snt_srv_error(rep, MHD_HTTP_BAD_REQUEST, "/v1/explain takes one image, got %s", n ? "more" : "none");
  if (rep->status != MHD_HTTP_OK) return;
  explain_part(s, req, &parts[0], rep);
}
