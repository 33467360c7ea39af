/* Building a ModelProto with protobuf-c; all memory comes from one arena. */
#include "compiler/onnx/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/op.h"
#include "sinter/onnx_io.h"
#include "sinter/version.h"
#include "support/util.h"

struct snt_onnx_export {
  const snt_graph *g;
  snt_arena *a;
  Onnx__NodeProto **nodes;
  int n_nodes, cap_nodes;
  Onnx__TensorProto **inits;
  int n_inits, cap_inits;
  int temp, opset;
  bool failed;
  snt_diag *d;
};

static void *alloc(snt_onnx_export *x, size_t n) {
  void *p = snt_arena_alloc(x->a, n ? n : 1);
  if (!p) x->failed = true;
  return p;
}

static char *dup(snt_onnx_export *x, const char *s) {
  char *p = snt_arena_strdup(x->a, s);
  if (!p) x->failed = true;
  return p;
}

const char *snt_ox_name(snt_onnx_export *x, int tensor) { return x->g->tensors[tensor].name; }

int snt_ox_opset(const snt_onnx_export *x) { return x->opset; }

snt_status snt_ox_refuse(snt_onnx_export *x, int node, const char *why) {
  return snt_node_error(x->g, &x->g->nodes[node], x->d, "cannot be exported to ONNX opset %d: %s", x->opset, why);
}

/* Not truncated: two 4 KB layer names that differ at the end must give different tensors. */
const char *snt_ox_temp(snt_onnx_export *x, const char *base) {
  char *s = snt_format("%s:%d", base, x->temp++);
  const char *r = s ? dup(x, s) : NULL;
  free(s);
  if (!r) x->failed = true;
  return r;
}

int snt_ox_node(snt_onnx_export *x, const char *op_type, const char *name, int n_in, const char *const *ins,
                const char *out) {
  Onnx__NodeProto *n = alloc(x, sizeof *n);
  if (!n || !SNT_GROW(x->nodes, x->n_nodes + 1, x->cap_nodes)) return x->failed = true, -1;
  onnx__node_proto__init(n);
  n->op_type = dup(x, op_type);
  n->name = dup(x, name);
  n->n_input = (size_t)n_in;
  n->input = alloc(x, sizeof(char *) * (size_t)n_in);
  for (int i = 0; n->input && i < n_in; i++) n->input[i] = dup(x, ins[i]);
  n->n_output = 1;
  n->output = alloc(x, sizeof(char *));
  if (n->output) n->output[0] = dup(x, out);
  x->nodes[x->n_nodes] = n;
  return x->n_nodes++;
}

static Onnx__AttributeProto *attr(snt_onnx_export *x, int node, const char *name) {
  if (node < 0) return NULL;
  Onnx__NodeProto *n = x->nodes[node];
  Onnx__AttributeProto **v = alloc(x, sizeof(*v) * (n->n_attribute + 1));
  Onnx__AttributeProto *a = alloc(x, sizeof *a);
  if (!v || !a) return NULL;
  onnx__attribute_proto__init(a);
  a->name = dup(x, name);
  a->has_type = 1; /* proto2: an unset optional enum would not be written */
  if (n->n_attribute) memcpy(v, n->attribute, sizeof(*v) * n->n_attribute);
  v[n->n_attribute++] = a;
  n->attribute = v;
  return a;
}

void snt_ox_attr_int(snt_onnx_export *x, int node, const char *name, int64_t v) {
  Onnx__AttributeProto *a = attr(x, node, name);
  if (a) a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i = 1, a->i = v;
}

void snt_ox_attr_ints(snt_onnx_export *x, int node, const char *name, int n, const int64_t *v) {
  Onnx__AttributeProto *a = attr(x, node, name);
  if (!a) return;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  a->n_ints = (size_t)n;
  a->ints = alloc(x, sizeof(int64_t) * (size_t)n);
  if (a->ints) memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
}

void snt_ox_attr_float(snt_onnx_export *x, int node, const char *name, float v) {
  Onnx__AttributeProto *a = attr(x, node, name);
  if (a) a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a->has_f = 1, a->f = v;
}

void snt_ox_attr_string(snt_onnx_export *x, int node, const char *name, const char *v) {
  Onnx__AttributeProto *a = attr(x, node, name);
  if (!a) return;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  a->has_s = 1;
  a->s.data = (uint8_t *)dup(x, v);
  a->s.len = strlen(v);
}

static const char *add_init(snt_onnx_export *x, const char *name, snt_dtype dtype, int rank, const int64_t *dims,
                            const void *data) {
  Onnx__TensorProto *t = alloc(x, sizeof *t);
  if (!t || !SNT_GROW(x->inits, x->n_inits + 1, x->cap_inits)) return x->failed = true, name;
  snt_tensor_buf b = {.dtype = dtype, .rank = rank, .data = (void *)data, .name = (char *)name};
  if (rank) memcpy(b.dims, dims, sizeof(int64_t) * (size_t)rank);
  snt_err e;
  if (snt_onnx_tensor_encode(&b, t, &e) != SNT_OK) return x->failed = true, name;
  x->inits[x->n_inits++] = t;
  return name;
}

const char *snt_ox_const(snt_onnx_export *x, const char *base, snt_dtype dtype, int rank, const int64_t *dims,
                         const void *data) {
  return add_init(x, snt_ox_temp(x, base), dtype, rank, dims, data);
}

/* A graph input or output: its element type and shape, the first dimension named "N". */
static Onnx__ValueInfoProto *value_info(snt_onnx_export *x, const snt_tensor *t) {
  Onnx__ValueInfoProto *v = alloc(x, sizeof *v);
  Onnx__TypeProto *tp = alloc(x, sizeof *tp);
  Onnx__TypeProto__Tensor *tt = alloc(x, sizeof *tt);
  Onnx__TensorShapeProto *sh = alloc(x, sizeof *sh);
  if (!v || !tp || !tt || !sh) return NULL;
  onnx__value_info_proto__init(v);
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  onnx__tensor_shape_proto__init(sh);
  v->name = dup(x, t->name);
  v->type = tp;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = (int32_t)t->dtype;
  tt->shape = sh;
  sh->n_dim = (size_t)t->rank;
  sh->dim = alloc(x, sizeof(*sh->dim) * (size_t)t->rank);
  for (int i = 0; sh->dim && i < t->rank; i++) {
    Onnx__TensorShapeProto__Dimension *dm = alloc(x, sizeof *dm);
    if (!dm) return NULL;
    onnx__tensor_shape_proto__dimension__init(dm);
    if (i == 0) dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM, dm->dim_param = dup(x, "N");
    else dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE, dm->dim_value = t->dims[i];
    sh->dim[i] = dm;
  }
  return v;
}

static snt_status build_graph(snt_onnx_export *x, const snt_graph *g, snt_diag *d) {
  for (int t = 0; t < g->n_tensors; t++) {
    const snt_tensor *p = &g->tensors[t];
    if (p->kind != SNT_T_PARAM && p->kind != SNT_T_CONST) continue;
    if (!p->data) return snt_diag_error(d, NULL, (snt_loc){0}, "export: no value for '%s'", p->name);
    add_init(x, p->name, p->dtype, p->rank, p->dims, p->data);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const snt_node *n = &g->nodes[i];
    if (!n->op->onnx_export)
      return snt_node_error(g, n, d, "cannot be exported to ONNX yet: op '%s' has no ONNX form", n->op->name);
    snt_status st = n->op->onnx_export(x, g, i);
    if (st) return st;
  }
  return x->failed ? SNT_ERR_NOMEM : SNT_OK;
}

snt_status snt_onnx_export_file(const snt_graph *g, const char *path, const snt_onnx_export_opts *o, snt_diag *d) {
  snt_onnx_export x = {.g = g, .a = snt_arena_create(), .opset = o && o->opset ? o->opset : 13, .d = d};
  if (!x.a) return SNT_ERR_NOMEM;
  snt_status st = build_graph(&x, g, d);
  Onnx__ModelProto m;
  Onnx__GraphProto gp;
  Onnx__OperatorSetIdProto ops;
  Onnx__OperatorSetIdProto *opsp = &ops;
  Onnx__StringStringEntryProto labels, *labelsp = &labels;
  onnx__model_proto__init(&m);
  onnx__graph_proto__init(&gp);
  onnx__operator_set_id_proto__init(&ops);
  onnx__string_string_entry_proto__init(&labels);
  if (!st) {
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.producer_name = "sinter";
    m.producer_version = SINTER_VERSION;
    ops.domain = "";
    ops.has_version = 1;
    ops.version = x.opset;
    m.n_opset_import = 1;
    m.opset_import = &opsp;
    m.graph = &gp;
    gp.name = g->name;
    gp.n_node = (size_t)x.n_nodes;
    gp.node = x.nodes;
    gp.n_initializer = (size_t)x.n_inits;
    gp.initializer = x.inits;
    gp.n_input = (size_t)g->n_inputs;
    gp.input = alloc(&x, sizeof(*gp.input) * (size_t)g->n_inputs);
    for (int i = 0; gp.input && i < g->n_inputs; i++) gp.input[i] = value_info(&x, &g->tensors[g->inputs[i]]);
    gp.n_output = (size_t)g->n_outputs;
    gp.output = alloc(&x, sizeof(*gp.output) * (size_t)g->n_outputs);
    for (int i = 0; gp.output && i < g->n_outputs; i++) gp.output[i] = value_info(&x, &g->tensors[g->outputs[i]]);
    if (g->n_labels) {
      /* One label per line: labels may hold spaces and commas; a newline or backslash inside a
       * label is written \n or \\ (compiler/onnx/import.c reads them back). */
      snt_strbuf b = {0};
      for (int i = 0; i < g->n_labels; i++) {
        if (i) snt_sb_puts(&b, "\n");
        for (const char *c = g->labels[i]; *c; c++)
          snt_sb_puts(&b, *c == '\n' ? "\\n" : *c == '\\' ? "\\\\" : (char[2]){*c, 0});
      }
      labels.key = "labels";
      labels.value = b.data ? dup(&x, b.data) : NULL;
      snt_sb_free(&b);
      m.n_metadata_props = 1;
      m.metadata_props = &labelsp;
    }
    if (x.failed) st = SNT_ERR_NOMEM;
  }
  snt_err e;
  if (!st && snt_onnx_save_model(path, &m, &e) != SNT_OK) st = snt_diag_error(d, NULL, (snt_loc){0}, "%s", e.msg);
  for (int i = 0; i < x.n_inits; i++) snt_onnx_tensor_proto_clear(x.inits[i]);
  free(x.inits);
  free(x.nodes);
  snt_arena_destroy(x.a);
  return st;
}
