/* Window geometry shared by conv and pooling. */
#include "compiler/ops/window.h"

#include <stdio.h>
#include <string.h>

/* One value per spatial dim (or one for all); written back with one per dim, so every later
 * reader (kernel descriptors, export) sees the same values. */
static snt_status read_pair(snt_graph *g, snt_node *n, snt_diag *d, const char *name, int spatial, int64_t def,
                            int64_t *out) {
  int c = 0;
  const int64_t *v = snt_node_ints(n, name, &c);
  if (v && c != spatial && c != 1)
    return snt_node_error(g, n, d, "%s has %d values, expected %d (one per spatial dimension)", name, c, spatial);
  for (int i = 0; i < spatial; i++) out[i] = v && c == spatial ? v[i] : v ? v[0] : def;
  return v ? snt_node_set_ints(n, name, spatial, out) : SNT_OK;
}

/* "3x3" or "[3, 3]"-style lists for messages. */
static void join(char *buf, size_t size, const int64_t *v, int n, const char *sep) {
  size_t o = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && o < size; i++) o += (size_t)snprintf(buf + o, size - o, "%s%lld", i ? sep : "", (long long)v[i]);
}

snt_status snt_window_resolve(snt_graph *g, int node, snt_diag *d, const int64_t *k, const char *what, snt_window *w) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  int sp = x->rank - 2;
  if (sp < 1 || sp > SNT_MAX_SPATIAL) {
    char s[128];
    snt_shape_str(s, sizeof s, x, 1);
    return snt_node_error(g, n, d, "expects a 3-D input (channels, height, width), got shape %s", s);
  }
  memset(w, 0, sizeof *w);
  w->spatial = sp;
  snt_status st = read_pair(g, n, d, "stride", sp, 1, w->stride);
  if (!st) st = read_pair(g, n, d, "dilation", sp, 1, w->dil);
  if (st) return st;
  for (int i = 0; i < sp; i++) {
    w->in[i] = x->dims[2 + i];
    w->k[i] = k[i];
  }
  for (int i = 0; i < sp; i++) {
    if (w->k[i] < 1 || w->stride[i] < 1 || w->dil[i] < 1) {
      char a[64], b[64], c[64];
      join(a, sizeof a, w->k, sp, ", ");
      join(b, sizeof b, w->stride, sp, ", ");
      join(c, sizeof c, w->dil, sp, ", ");
      return snt_node_error(g, n, d, "%s, stride and dilation must be positive, got %s [%s], stride [%s], dilation [%s]",
                            what, what, a, b, c);
    }
  }
  const char *mode = snt_node_string(n, "padding", "valid");
  bool ceil_mode = snt_node_int(n, "ceil_mode", 0);
  int c = 0;
  const int64_t *pads = snt_node_ints(n, "pads", &c);
  for (int i = 0; i < sp; i++) {
    int64_t eff = (w->k[i] - 1) * w->dil[i] + 1;
    if (strncmp(mode, "same", 4) == 0) {
      /* TensorFlow's SAME (SAME_UPPER): out = ceil(in / stride), the odd pixel at the end. */
      int64_t out = (w->in[i] + w->stride[i] - 1) / w->stride[i];
      int64_t total = (out - 1) * w->stride[i] + eff - w->in[i];
      if (total < 0) total = 0;
      bool lower = strcmp(mode, "same_lower") == 0;
      w->pad_begin[i] = lower ? total - total / 2 : total / 2;
      w->pad_end[i] = total - w->pad_begin[i];
    } else if (strcmp(mode, "explicit") == 0) {
      if (!pads || c != 2 * sp) return snt_node_error(g, n, d, "pads must have %d values, got %d", 2 * sp, c);
      w->pad_begin[i] = pads[i];
      w->pad_end[i] = pads[sp + i];
      if (pads[i] < 0 || pads[sp + i] < 0) return snt_node_error(g, n, d, "pads must not be negative");
    } else if (strcmp(mode, "valid") != 0) {
      return snt_node_error(g, n, d, "unknown padding '%s'", mode);
    }
    int64_t span = w->in[i] + w->pad_begin[i] + w->pad_end[i] - eff;
    w->out[i] = span < 0 ? 0 : (ceil_mode ? (span + w->stride[i] - 1) / w->stride[i] : span / w->stride[i]) + 1;
  }
  for (int i = 0; i < sp; i++) {
    if (w->out[i] >= 1) continue;
    char s[128], ks[64], ps[128];
    int64_t eff[SNT_MAX_SPATIAL], pads[2 * SNT_MAX_SPATIAL];
    for (int j = 0; j < sp; j++) eff[j] = (w->k[j] - 1) * w->dil[j] + 1, pads[j] = w->pad_begin[j], pads[sp + j] = w->pad_end[j];
    snt_shape_str(s, sizeof s, x, 1);
    join(ks, sizeof ks, eff, sp, "x");
    join(ps, sizeof ps, pads, 2 * sp, ", ");
    if (strcmp(what, "pool") == 0) return snt_node_error(g, n, d, "the %s pool does not fit the input %s", ks, s);
    return snt_node_error(g, n, d, "the %s %s does not fit the input %s (padding %s)", ks, what, s, ps);
  }
  /* Record the resolved pads for later passes (explicit from here on). */
  int64_t all[2 * SNT_MAX_SPATIAL];
  for (int i = 0; i < sp; i++) all[i] = w->pad_begin[i], all[sp + i] = w->pad_end[i];
  return snt_node_set_ints(n, "resolved_pads", 2 * sp, all);
}

static snt_status rename_ints(snt_node *n, const char *from, const char *to) {
  int c = 0;
  const int64_t *v = snt_node_ints(n, from, &c);
  return v ? snt_node_set_ints(n, to, c, v) : SNT_OK;
}

snt_status snt_window_import(snt_graph *g, int node, snt_diag *d, const char *kernel_attr) {
  snt_node *n = &g->nodes[node];
  snt_status st = rename_ints(n, "strides", "stride");
  if (!st) st = rename_ints(n, "dilations", "dilation");
  if (!st && kernel_attr) st = rename_ints(n, "kernel_shape", kernel_attr);
  if (st) return st;
  const char *ap = snt_node_string(n, "auto_pad", "NOTSET");
  if (strcmp(ap, "SAME_UPPER") == 0) return snt_node_set_string(n, "padding", "same");
  if (strcmp(ap, "SAME_LOWER") == 0) return snt_node_set_string(n, "padding", "same_lower");
  if (strcmp(ap, "VALID") == 0) return snt_node_set_string(n, "padding", "valid");
  if (strcmp(ap, "NOTSET") != 0) return snt_node_error(g, n, d, "unknown auto_pad '%s'", ap);
  if (!snt_node_attr(n, "pads")) return snt_node_set_string(n, "padding", "valid");
  return snt_node_set_string(n, "padding", "explicit");
}
