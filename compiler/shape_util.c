/* Shared shape arithmetic for the ops. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
  if (rank > 0) memcpy(t->dims, dims, (size_t)rank * sizeof *dims); /* a scalar passes no dims */
}

bool snt_dims_numel(int rank, const int64_t *dims, int64_t *out) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++)
    if (dims[i] < 0 || !snt_mul_ok(n, dims[i], &n)) return false;
  *out = n;
  return true;
}

/* "(a, b, c)" for any dims, even ones no tensor holds. */
static void dims_str(char *buf, size_t size, int rank, const int64_t *dims) {
  snt_tensor t = {.rank = rank};
  memcpy(t.dims, dims, sizeof(int64_t) * (size_t)rank);
  snt_shape_str(buf, size, &t, 0);
}

const char *snt_size_problem(const snt_tensor *t) {
  int64_t n = 0;
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i] < 0) return "a negative dimension";
  if (!snt_dims_numel(t->rank, t->dims, &n)) return "more elements than 64-bit arithmetic can count";
  if (n > SNT_MAX_ELEMENTS) return "more than 4294967296 (2^32) elements, the cap per tensor";
  return NULL;
}

snt_status snt_check_node_sizes(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  for (int k = 0; k < n->n_in + n->n_out; k++) {
    int t = k < n->n_in ? n->in[k] : n->out[k - n->n_in];
    if (t < 0) continue;
    const char *why = snt_size_problem(&g->tensors[t]);
    if (!why) continue;
    char s[SNT_MAX_RANK * 24 + 8];
    dims_str(s, sizeof s, g->tensors[t].rank, g->tensors[t].dims);
    const char *what = k < n->n_act_in ? "input" : k < n->n_in ? "parameter" : "output";
    return snt_node_error(g, n, d, "%s '%s' would have shape %s: %s", what, g->tensors[t].name, s, why);
  }
  return SNT_OK;
}

uint64_t snt_default_max_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || size <= 0) return UINT64_C(1) << 62;
  return (uint64_t)pages * (uint64_t)size;
}
