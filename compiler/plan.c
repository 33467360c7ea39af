/* Scheduling and memory planning. */
#include "compiler/plan.h"

#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"

enum { ALIGN = 64 };

static size_t align_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

size_t snt_tensor_bytes(const snt_tensor *t) { return (size_t)snt_tensor_numel(t) * snt_dtype_size(t->dtype); }

/* Kahn's algorithm, stable: among ready nodes the earliest in the graph runs first, so a
 * graph that is already ordered (every DSL model, most ONNX files) keeps its order. */
static snt_status schedule(const snt_graph *g, snt_diag *d, int *order) {
  int *pending = calloc((size_t)g->n_nodes + 1, sizeof *pending);
  bool *done = calloc((size_t)g->n_nodes + 1, sizeof *done);
  if (!pending || !done) {
    free(pending);
    free(done);
    return SNT_ERR_NOMEM;
  }
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++) {
      int t = g->nodes[i].in[k];
      if (t >= 0 && g->tensors[t].producer >= 0) pending[i]++;
    }
  int n = 0;
  while (n < g->n_nodes) {
    int next = -1;
    for (int i = 0; i < g->n_nodes && next < 0; i++)
      if (!done[i] && pending[i] == 0) next = i;
    if (next < 0) break;
    done[next] = true;
    order[n++] = next;
    for (int o = 0; o < g->nodes[next].n_out; o++) {
      int t = g->nodes[next].out[o];
      for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
          if (g->nodes[i].in[k] == t) pending[i]--;
    }
  }
  free(pending);
  free(done);
  if (n < g->n_nodes) return snt_diag_error(d, g->src, (snt_loc){0}, "the graph has a cycle: it cannot be scheduled");
  return SNT_OK;
}

typedef struct interval {
  int tensor, first, last;
  size_t bytes;
} interval;

static int by_size_desc(const void *a, const void *b) {
  const interval *x = a, *y = b;
  if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
  return x->first - y->first;
}

/* Greedy placement: largest tensors first, each at the lowest offset that does not
 * overlap a placed tensor whose lifetime intersects its own. */
static snt_status place_arena(interval *iv, int n, snt_place *places, size_t *arena) {
  qsort(iv, (size_t)n, sizeof *iv, by_size_desc);
  size_t top = 0;
  for (int i = 0; i < n; i++) {
    size_t off = 0;
    for (bool moved = true; moved;) {
      moved = false;
      for (int j = 0; j < i; j++) {
        if (iv[j].last < iv[i].first || iv[i].last < iv[j].first) continue;
        size_t a = places[iv[j].tensor].offset, b = a + align_up(iv[j].bytes);
        if (off < b && a < off + align_up(iv[i].bytes)) {
          off = b;
          moved = true;
        }
      }
    }
    places[iv[i].tensor].offset = off;
    if (off + align_up(iv[i].bytes) > top) top = off + align_up(iv[i].bytes);
  }
  *arena = top;
  return SNT_OK;
}

/* In place: an elementwise node whose input dies at it writes over the input, when both
 * live in the arena with the same size. The output joins the input's lifetime. */
static void plan_inplace(const snt_graph *g, snt_plan *p, int *first, int *last) {
  for (int s = 0; s < p->n_order; s++) {
    const snt_node *n = &g->nodes[p->order[s]];
    if (!n->op->inplace || n->n_out != 1 || n->n_in < 1 || n->in[0] < 0) continue;
    int x = n->in[0], y = n->out[0];
    const snt_tensor *tx = &g->tensors[x], *ty = &g->tensors[y];
    if (tx->kind != SNT_T_ACT || last[x] != s || snt_ir_is_output(g, x) || snt_ir_is_output(g, y) ||
        snt_tensor_bytes(tx) != snt_tensor_bytes(ty))
      continue;
    bool read_again = false; /* the node must not read x through another slot */
    for (int k = 1; k < n->n_in; k++) read_again |= n->in[k] == x;
    if (read_again) continue;
    int root = p->places[x].alias_of >= 0 ? p->places[x].alias_of : x;
    p->places[y].alias_of = root;
    if (last[y] > last[root]) last[root] = last[y];
    (void)first;
  }
}

/* Concat in place. With nothing before the axis (a batch of 1), each input of a concat is one
 * run of its output: an input placed there is written by its producer where the concat would
 * copy it, and snt_k_concat skips a copy onto itself (SqueezeNet's Fire and DenseNet's growing
 * Concat spent 6% of a batch-1 run copying). The input moves with its group: the tensors that
 * share its bytes (an in-place chain, the inputs of an earlier concat it is), which must all be
 * made before this concat and be dead before anything overwrites the output in place. Their
 * root becomes the output's; delta holds each tensor's bytes from its root's. */
static int root_of(const snt_plan *p, int t) { return p->places[t].alias_of >= 0 ? p->places[t].alias_of : t; }

/* The first step at which a node overwrites y's bytes in place (n_order when none). */
static int overwritten_at(const snt_graph *g, const snt_plan *p, int y, const int *first) {
  int at = p->n_order;
  for (int t = 0; t < g->n_tensors; t++)
    if (t != y && root_of(p, t) == y && first[t] >= 0 && first[t] < at) at = first[t];
  return at;
}

/* Whether input t of the concat at step s may move inside its output (y's bytes overwritten
 * from step over), at byte offset off. */
static bool can_join(const snt_graph *g, const snt_plan *p, const int *first, const int *last, const size_t *delta,
                     int t, int s, int over, size_t off) {
  int r = root_of(p, t);
  if (off % ALIGN || delta[t] || snt_tensor_bytes(&g->tensors[t]) != snt_tensor_bytes(&g->tensors[r])) return false;
  for (int m = 0; m < g->n_tensors; m++) {
    if (m != r && root_of(p, m) != r) continue;
    if (g->tensors[m].kind != SNT_T_ACT || p->places[m].kind == SNT_PLACE_INPUT || snt_ir_is_output(g, m) ||
        first[m] < 0 || first[m] >= s || last[m] >= over)
      return false;
  }
  return true;
}

static void plan_concat(const snt_graph *g, snt_plan *p, const int *first, const int *last, size_t *delta) {
  for (int s = 0; s < p->n_order; s++) {
    const snt_node *n = &g->nodes[p->order[s]];
    if (n->op != &snt_op_concat || n->n_out != 1) continue;
    int y = n->out[0];
    const snt_tensor *ty = &g->tensors[y];
    int64_t axis = snt_node_int(n, "axis", 1), outer = 1;
    if (axis < 0) axis += ty->rank;
    for (int i = 0; i < axis && i < ty->rank; i++) outer *= ty->dims[i];
    if (ty->kind != SNT_T_ACT || outer != 1 || axis < 0 || axis >= ty->rank || snt_ir_is_output(g, y) ||
        p->places[y].alias_of >= 0)
      continue;
    int over = overwritten_at(g, p, y, first);
    size_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
      int t = n->in[k], twice = 0;
      for (int j = 0; j < n->n_in; j++) twice += j != k && n->in[j] == t;
      if (t >= 0 && !twice && can_join(g, p, first, last, delta, t, s, over, off)) {
        int r = root_of(p, t);
        for (int m = 0; m < g->n_tensors; m++)
          if (m != r && root_of(p, m) == r) p->places[m].alias_of = y, delta[m] += off;
        p->places[r].alias_of = y;
        delta[r] = off;
      }
      if (t >= 0) off += snt_tensor_bytes(&g->tensors[t]);
    }
  }
}

/* The planned bytes against the cap: the graph's max_memory (--max-memory), else the
 * machine's physical memory. Sizes add with overflow checks. */
static snt_status check_memory(const snt_graph *g, snt_diag *d, const snt_plan *p) {
  uint64_t cap = g->max_memory ? g->max_memory : snt_default_max_memory();
  size_t total = 0;
  bool ok = snt_size_add_ok(p->arena_bytes, p->weights_bytes, &total) && snt_size_add_ok(total, p->scratch_bytes, &total);
  if (ok && total <= cap) return SNT_OK;
  return snt_diag_error(d, g->src, (snt_loc){0},
                        "model '%s': the planned model needs %s%zu bytes (arena %zu, weights %zu, scratch %zu), more than the "
                        "memory cap of %llu bytes (%s)", g->name, ok ? "" : "more than ", total, p->arena_bytes, p->weights_bytes,
                        p->scratch_bytes, (unsigned long long)cap, g->max_memory ? "--max-memory" : "the physical memory; --max-memory changes it");
}

snt_status snt_plan_build(const snt_graph *g, snt_diag *d, snt_plan *p) {
  memset(p, 0, sizeof *p);
  p->order = malloc(sizeof(int) * (size_t)(g->n_nodes + 1));
  p->places = calloc((size_t)g->n_tensors + 1, sizeof *p->places);
  int *first = malloc(sizeof(int) * (size_t)(g->n_tensors + 1)), *last = malloc(sizeof(int) * (size_t)(g->n_tensors + 1));
  interval *iv = malloc(sizeof *iv * (size_t)(g->n_tensors + 1));
  size_t *delta = calloc((size_t)g->n_tensors + 1, sizeof *delta);
  snt_status st = p->order && p->places && first && last && iv && delta ? SNT_OK : SNT_ERR_NOMEM;
  if (!st) st = schedule(g, d, p->order);
  if (!st) {
    p->n_order = g->n_nodes;
    for (int t = 0; t < g->n_tensors; t++) first[t] = last[t] = -1, p->places[t].alias_of = -1;
    for (int s = 0; s < p->n_order; s++) {
      const snt_node *n = &g->nodes[p->order[s]];
      for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0) last[n->in[k]] = s;
      for (int k = 0; k < n->n_out; k++) first[n->out[k]] = s, last[n->out[k]] = last[n->out[k]] > s ? last[n->out[k]] : s;
    }
    for (int i = 0; i < g->n_inputs; i++) p->places[g->inputs[i]] = (snt_place){SNT_PLACE_INPUT, i, 0, -1};
    plan_inplace(g, p, first, last);
    plan_concat(g, p, first, last, delta);
    for (int t = 0; t < g->n_tensors; t++) { /* a root lives as long as any tensor on its bytes */
      int r = p->places[t].alias_of;
      if (r < 0 || first[t] < 0) continue;
      if (first[r] < 0 || first[t] < first[r]) first[r] = first[t];
      if (last[t] > last[r]) last[r] = last[t];
    }
    size_t woff = 0;
    int n_iv = 0;
    for (int t = 0; t < g->n_tensors; t++) {
      const snt_tensor *x = &g->tensors[t];
      bool read = first[t] >= 0 || last[t] >= 0 || snt_ir_is_output(g, t);
      if ((x->kind == SNT_T_PARAM || x->kind == SNT_T_CONST) && read) {
        p->places[t] = (snt_place){SNT_PLACE_WEIGHTS, 0, woff, -1};
        if (!snt_size_add_ok(woff, align_up(snt_tensor_bytes(x)), &woff)) woff = SIZE_MAX / 2; /* refused by check_memory */
      } else if (x->kind == SNT_T_ACT && first[t] >= 0 && p->places[t].alias_of >= 0) {
        p->places[t].kind = SNT_PLACE_ARENA; /* shares its root's bytes, placed below */
      } else if (x->kind == SNT_T_ACT && first[t] >= 0) {
        p->places[t] = (snt_place){SNT_PLACE_ARENA, 0, 0, -1};
        iv[n_iv++] = (interval){t, first[t], last[t], snt_tensor_bytes(x)};
      }
    }
    /* Graph outputs live in the caller's buffers (an output that is also a graph input
     * or a constant is copied there at the end). */
    for (int i = 0; i < g->n_outputs; i++) {
      int t = g->outputs[i];
      if (g->tensors[t].kind == SNT_T_ACT && p->places[t].kind == SNT_PLACE_ARENA) {
        p->places[t] = (snt_place){SNT_PLACE_OUTPUT, i, 0, -1};
        for (int k = 0; k < n_iv; k++)
          if (iv[k].tensor == t) iv[k] = iv[--n_iv];
      }
    }
    p->weights_bytes = woff;
    for (int i = 0; i < g->n_nodes; i++) {
      const snt_node *n = &g->nodes[i];
      size_t s = n->op->scratch ? n->op->scratch(g, n) : 0;
      if (s > p->scratch_bytes) p->scratch_bytes = s;
    }
    st = place_arena(iv, n_iv, p->places, &p->arena_bytes);
    if (!st) st = check_memory(g, d, p);
    for (int t = 0; t < g->n_tensors; t++)
      if (p->places[t].alias_of >= 0) p->places[t].offset = p->places[p->places[t].alias_of].offset + delta[t];
  }
  free(delta);
  free(first);
  free(last);
  free(iv);
  if (st) snt_plan_free(p);
  return st;
}

void snt_plan_free(snt_plan *p) {
  free(p->order);
  free(p->places);
  memset(p, 0, sizeof *p);
}
