/* Shared shape arithmetic for the ops. */
#include <stdio.h>
#include <string.h>

#include "compiler/op.h"

const char *const snt_activation_symbols[] = {"none", "linear", "relu", "sigmoid", "tanh", "softmax", NULL};

void snt_shape_str(char *buf, size_t size, const snt_tensor *t, int from) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, size - o, "(");
  for (int i = from; i < t->rank && o < size; i++)
    o += (size_t)snprintf(buf + o, size - o, "%s%lld", i > from ? ", " : "", (long long)t->dims[i]);
  if (o < size && t->rank - from == 1) o += (size_t)snprintf(buf + o, size - o, ",");
  if (o < size) snprintf(buf + o, size - o, ")");
}

int64_t snt_window_out(int64_t in, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end) {
  int64_t span = in + pad_begin + pad_end - k;
  if (span < 0) return 0;
  return span / stride + 1;
}

snt_status snt_resolve_pads(snt_graph *g, snt_node *nd, snt_diag *d, const int64_t k[2],
                            const int64_t in[2], int64_t pads[4]) {
  int ns = 0;
  const int64_t *stride = snt_node_ints(nd, "stride", &ns);
  const char *mode = snt_node_string(nd, "padding", NULL);
  if (mode && strcmp(mode, "same") == 0) {
    /* TensorFlow's SAME: output = ceil(in / stride), the odd pixel goes to the end. */
    for (int a = 0; a < 2; a++) {
      int64_t s = stride ? stride[a] : 1;
      int64_t out = (in[a] + s - 1) / s;
      int64_t total = (out - 1) * s + k[a] - in[a];
      if (total < 0) total = 0;
      pads[a] = total / 2;
      pads[a + 2] = total - total / 2;
    }
  } else if (!mode || strcmp(mode, "valid") == 0) {
    memset(pads, 0, 4 * sizeof *pads);
  } else {
    int n = 0;
    const int64_t *p = snt_node_ints(nd, "pads", &n);
    if (!p || n != 4) return snt_node_error(g, nd, d, "padding must be same, valid or explicit pads");
    memcpy(pads, p, 4 * sizeof *pads);
  }
  for (int i = 0; i < 4; i++)
    if (pads[i] < 0) return snt_node_error(g, nd, d, "padding must not be negative, got %lld", (long long)pads[i]);
  return SNT_OK;
}

snt_status snt_expect_rank(snt_graph *g, int node, snt_diag *d, int i, int rank, const char *what) {
  snt_node *n = &g->nodes[node];
  snt_tensor *t = snt_in(g, n, i);
  if (t->rank == rank) return SNT_OK;
  char s[128];
  snt_shape_str(s, sizeof s, t, 1);
  return snt_node_error(g, n, d, "expects %s, got shape %s", what, s);
}

void snt_set_output(snt_graph *g, int node, int i, snt_dtype dtype, int rank, const int64_t *dims) {
  snt_out(g, &g->nodes[node], i)->dtype = dtype;
  snt_set_shape(g, node, i, rank, dims);
}

snt_status snt_broadcast_shape(snt_graph *g, int node, snt_diag *d, const int *ins, int n, int *rank, int64_t *dims) {
  int r = 0;
  for (int k = 0; k < n; k++)
    if (g->tensors[ins[k]].rank > r) r = g->tensors[ins[k]].rank;
  for (int i = 0; i < r; i++) dims[i] = 1;
  for (int k = 0; k < n; k++) {
    const snt_tensor *t = &g->tensors[ins[k]];
    for (int i = 0; i < t->rank; i++) {
      int64_t *o = &dims[i + r - t->rank], v = t->dims[i];
      if (*o == v || v == 1) continue;
      if (*o == 1) {
        *o = v;
        continue;
      }
      char a[128], b[128];
      snt_shape_str(a, sizeof a, &g->tensors[ins[0]], 0);
      snt_shape_str(b, sizeof b, t, 0);
      return snt_node_error(g, &g->nodes[node], d, "shapes %s and %s do not broadcast", a, b);
    }
  }
  *rank = r;
  return SNT_OK;
}

void snt_set_shape(snt_graph *g, int node, int i, int rank, const int64_t *dims) {
  snt_tensor *t = snt_out(g, &g->nodes[node], i);
  t->rank = rank;
  memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
}
