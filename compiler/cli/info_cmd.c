/* sinter info: what an ONNX file holds, without compiling it: IR version and opsets, producer,
 * inputs and outputs with types and shapes, an op histogram, the parameter count, and the nodes
 * sinter cannot compile, each with why. Every name comes from an untrusted file: printed with
 * control characters escaped. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/cli/cli.h"
#include "compiler/onnx/functions.h"
#include "compiler/onnx/import.h"
#include "sinter/onnx_io.h"
#include "support/util.h"

/* A name as text a terminal shows as is: bytes below 0x20 and 0x7f as \xNN. */
static void put_name(FILE *f, const char *s) {
  if (!s) s = "";
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch < 0x20 || ch == 0x7f || ch == '\\') fprintf(f, "\\x%02x", ch);
    else fputc(ch, f);
  }
}

static void put_type(FILE *f, const Onnx__TypeProto *t) {
  if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type) {
    fputs(t ? "(not a tensor)" : "(type not given)", f);
    return;
  }
  const Onnx__TypeProto__Tensor *tt = t->tensor_type;
  const char *name = snt_dtype_name((snt_dtype)tt->elem_type);
  if (name) fputs(name, f);
  else fprintf(f, "type %d", tt->elem_type);
  if (!tt->shape) {
    fputs(" (rank not given)", f);
    return;
  }
  fputs(" [", f);
  for (size_t i = 0; i < tt->shape->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[i];
    if (i) fputs(", ", f);
    if (dm && dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) fprintf(f, "%lld", (long long)dm->dim_value);
    else if (dm && dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) put_name(f, dm->dim_param);
    else fputc('?', f);
  }
  fputc(']', f);
}

static int is_initializer(const Onnx__GraphProto *gp, const char *name) {
  for (size_t i = 0; i < gp->n_initializer; i++)
    if (gp->initializer[i]->name && name && strcmp(gp->initializer[i]->name, name) == 0) return 1;
  return 0;
}

static void put_values(FILE *f, const char *title, Onnx__ValueInfoProto **v, size_t n, const Onnx__GraphProto *gp) {
  fprintf(f, "%s:\n", title);
  for (size_t i = 0; i < n; i++) {
    if (gp && is_initializer(gp, v[i]->name)) continue; /* IR < 4 lists initializers as inputs */
    fputs("  ", f);
    put_name(f, v[i]->name);
    fputs("  ", f);
    put_type(f, v[i]->type);
    fputc('\n', f);
  }
}

/* Op kinds and their counts, most frequent first (ties in order of appearance). */
static void put_ops(FILE *f, const Onnx__GraphProto *gp) {
  size_t n = gp->n_node, kinds = 0;
  const Onnx__NodeProto **first = calloc(n + 1, sizeof *first);
  size_t *count = calloc(n + 1, sizeof *count);
  if (!first || !count) {
    free(first), free(count);
    fputs("ops: (out of memory)\n", f);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    size_t k = 0;
    while (k < kinds && !(strcmp(first[k]->op_type, np->op_type) == 0 &&
                          strcmp(first[k]->domain ? first[k]->domain : "", np->domain ? np->domain : "") == 0))
      k++;
    if (k == kinds) first[kinds++] = np;
    count[k]++;
  }
  fprintf(f, "ops: %zu nodes of %zu kinds\n", n, kinds);
  for (size_t done = 0; done < kinds; done++) {
    size_t best = 0;
    for (size_t k = 1; k < kinds; k++)
      if (count[k] > count[best]) best = k;
    fprintf(f, "  %6zu  ", count[best]);
    if (first[best]->domain && first[best]->domain[0]) put_name(f, first[best]->domain), fputc(':', f);
    put_name(f, first[best]->op_type);
    fputc('\n', f);
    count[best] = 0;
  }
  free(first), free(count);
}

/* Elements and bytes of the initializers, with overflow checks: the dims are the file's word. */
static void put_parameters(FILE *f, const Onnx__GraphProto *gp) {
  uint64_t elements = 0, bytes = 0;
  int overflow = 0, external = 0;
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    uint64_t e = 1;
    for (size_t k = 0; k < tp->n_dims; k++)
      if (tp->dims[k] < 0 || __builtin_mul_overflow(e, (uint64_t)tp->dims[k], &e)) overflow = 1;
    uint64_t b;
    if (__builtin_mul_overflow(e, (uint64_t)snt_dtype_size((snt_dtype)tp->data_type), &b) ||
        __builtin_add_overflow(elements, e, &elements) || __builtin_add_overflow(bytes, b, &bytes))
      overflow = 1;
    external |= tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  }
  if (overflow) {
    fprintf(f, "parameters: %zu initializers whose sizes overflow 64 bits (a corrupt or hostile file)\n", gp->n_initializer);
    return;
  }
  char count[32];
  snt_format_thousands(count, sizeof count, elements > INT64_MAX ? INT64_MAX : (int64_t)elements);
  fprintf(f, "parameters: %s in %zu initializers, %.1f MB%s\n", count, gp->n_initializer, (double)bytes / 1e6,
          external ? " (some in external data files)" : "");
}

/* The nodes that fail the checks a node passes on its own, then a whole import if none did. */
static int put_compilable(FILE *f, const char *path, const Onnx__ModelProto *m) {
  const Onnx__GraphProto *gp = m->graph;
  snt_diag *d = snt_diag_create();
  const snt_source *src = d ? snt_diag_add_source(d, path, "", 0) : NULL;
  if (!src) {
    snt_diag_destroy(d);
    return SNT_EXIT_INTERNAL;
  }
  int opset = (int)snt_onnx_opset(m), bad = 0;
  /* Calls of local functions are checked as the nodes they inline to (opsets by the import). */
  snt_onnx_flat flat = {0};
  bool inlined = snt_onnx_inline_functions(d, src, m, opset, 1, INT_MAX, &flat) == SNT_OK;
  bad += !inlined;
  for (int i = 0; i < flat.n; i++)
    if (snt_onnx_check_node(d, src, flat.nodes[i].np, flat.nodes[i].index, flat.nodes[i].opset) != SNT_OK) bad++;
  size_t n_nodes = inlined ? (size_t)flat.n : gp->n_node;
  snt_onnx_flat_free(&flat);
  if (!bad) {
    snt_graph *g = NULL;
    if (snt_onnx_import(d, m, path, NULL, &g) == SNT_OK) fputs("sinter: every node compiles (`sinter summary` shows the layers)\n", f);
    else fputs("sinter: the nodes pass one by one, but the graph does not import:\n", f);
    snt_ir_destroy(g);
  } else {
    fprintf(f, "sinter cannot compile %d of %zu nodes:\n", bad, n_nodes);
  }
  for (int i = 0; i < snt_diag_count(d); i++) {
    const snt_diag_msg *msg = snt_diag_get(d, i);
    fputs("  ", f);
    if (msg->src) put_name(f, msg->src->path), fputs(": ", f); /* the importer's own messages name it */
    put_name(f, msg->text);
    fputc('\n', f);
  }
  snt_diag_destroy(d);
  return 0;
}

static void put_header(FILE *f, const char *path, const Onnx__ModelProto *m) {
  put_name(f, path);
  fprintf(f, ": ONNX IR version %lld", (long long)m->ir_version);
  if (m->producer_name && m->producer_name[0]) {
    fputs(", producer ", f);
    put_name(f, m->producer_name);
    if (m->producer_version && m->producer_version[0]) fputc(' ', f), put_name(f, m->producer_version);
  }
  fputs("\nopsets:", f);
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *dom = m->opset_import[i]->domain;
    fputc(' ', f);
    put_name(f, dom && dom[0] ? dom : "ai.onnx");
    fprintf(f, " %lld", (long long)m->opset_import[i]->version);
  }
  fputs("\ngraph '", f);
  put_name(f, m->graph->name);
  fputs("'\n", f);
  if (m->n_functions) fprintf(f, "model-local functions: %zu\n", m->n_functions);
}

int snt_cmd_info(int argc, char **argv) {
  const snt_opt table[] = {{NULL}};
  char *pos[1];
  int n_pos = 0;
  int rc = snt_opt_parse_cmd("sinter info", table, argc, argv, pos, 1, &n_pos);
  if (rc < 0) {
    printf("usage: sinter info MODEL.onnx\n\n"
           "What the ONNX file holds, without compiling it: IR version, opsets, producer, inputs and\n"
           "outputs with types and shapes, the ops and how often each occurs, the parameter count, and\n"
           "the nodes sinter cannot compile, each with why. Exit 0 when the file was read.\n");
    return 0;
  }
  if (rc) return rc;
  if (n_pos != 1) {
    fprintf(stderr, "sinter info: needs MODEL.onnx\nrun 'sinter info --help' for usage\n");
    return SNT_EXIT_USER;
  }
  Onnx__ModelProto *m = NULL;
  snt_err e;
  if (snt_onnx_load_model(pos[0], &m, &e) != SNT_OK) {
    fprintf(stderr, "sinter info: %s\n", e.msg);
    return SNT_EXIT_USER;
  }
  put_header(stdout, pos[0], m);
  put_values(stdout, "inputs", m->graph->input, m->graph->n_input, m->graph);
  put_values(stdout, "outputs", m->graph->output, m->graph->n_output, NULL);
  put_ops(stdout, m->graph);
  put_parameters(stdout, m->graph);
  rc = put_compilable(stdout, pos[0], m);
  snt_onnx_free_model(m);
  return rc;
}
