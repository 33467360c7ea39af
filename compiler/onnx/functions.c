/* Inlining of model-local functions: each call becomes the function's nodes, reading the
 * call's inputs and writing its outputs; names inside get the calling node's name as prefix. */
#include "compiler/onnx/functions.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/onnx/fn_names.h"
#include "support/util.h"

/* Fields of a newer onnx.proto than Debian's 1.12, which protobuf-c keeps as unknown bytes. */
enum { FN_FIELD_ATTRIBUTE_PROTO = 11, FN_FIELD_OVERLOAD = 13, NODE_FIELD_OVERLOAD = 8 };

typedef struct fn_info {
  const Onnx__FunctionProto *f;
  const char *domain; /* "" for ai.onnx */
  char *overload;     /* "" when none */
  int opset;          /* the function's ai.onnx import, 0 when it has none */
  const Onnx__AttributeProto **defaults;
  size_t n_defaults;
} fn_info;

typedef struct ictx {
  snt_diag *d;
  const snt_source *src;
  snt_onnx_flat *out;
  fn_info *fns;
  size_t n_fns;
  snt_fn_map by_key; /* "domain\1name\1overload" -> fn_info */
  snt_fn_map names;    /* every tensor and inlined node name in use */
  snt_fn_map prefixes; /* the prefix of every call inlined so far */
  const fn_info *stack[SNT_FN_MAX_DEPTH];
  int depth, made, instances, model_opset, min_opset, max_opset;
  long work; /* inputs, outputs and attributes of the nodes made: what inlining costs */
} ictx;

static snt_status fail(ictx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static snt_status fail(ictx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *m = snt_vformat(fmt, ap);
  va_end(ap);
  snt_diag_error(c->d, c->src, (snt_loc){0}, "%s", m ? m : "out of memory");
  free(m);
  return SNT_ERR_INPUT;
}

static const char *std_domain(const char *d) { return !d || !strcmp(d, "ai.onnx") ? "" : d; }

/* Every allocation of the inlined nodes is listed here, freed with the flat list. */
static void *own(snt_onnx_flat *f, void *p) {
  if (!p) return NULL;
  if (f->n_owned == f->cap_owned) {
    int cap = f->cap_owned ? f->cap_owned * 2 : 64;
    void **o = realloc(f->owned, sizeof *o * (size_t)cap);
    if (!o) return free(p), NULL;
    f->owned = o, f->cap_owned = cap;
  }
  return f->owned[f->n_owned++] = p;
}

static snt_status push(snt_onnx_flat *f, const Onnx__NodeProto *np, int opset, int index) {
  if (f->n == f->cap) {
    int cap = f->cap ? f->cap * 2 : 64;
    snt_onnx_flat_node *n = realloc(f->nodes, sizeof *n * (size_t)cap);
    if (!n) return SNT_ERR_NOMEM;
    f->nodes = n, f->cap = cap;
  }
  f->nodes[f->n++] = (snt_onnx_flat_node){np, opset, index};
  return SNT_OK;
}

void snt_onnx_flat_free(snt_onnx_flat *f) {
  for (int i = 0; i < f->n_owned; i++) free(f->owned[i]);
  for (int i = 0; i < f->n_unpacked; i++) onnx__attribute_proto__free_unpacked(f->unpacked[i], NULL);
  free(f->owned), free(f->unpacked), free(f->nodes);
  memset(f, 0, sizeof *f);
}

/* The i-th length-delimited unknown field `field` of m (skipping its length prefix): 1 found,
 * 0 none, -1 malformed. */
static int unknown_field(const ProtobufCMessage *m, uint32_t field, unsigned *i, const uint8_t **data, size_t *len) {
  for (; *i < m->n_unknown_fields; (*i)++) {
    const ProtobufCMessageUnknownField *u = &m->unknown_fields[*i];
    if (u->tag != field || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) continue;
    uint64_t v = 0;
    size_t p = 0;
    for (int more = 1; more; p++) {
      if (p >= u->len || p >= 10) return -1;
      v |= (uint64_t)(u->data[p] & 0x7f) << (7 * p);
      more = u->data[p] & 0x80;
    }
    if (v != u->len - p) return -1;
    *data = u->data + p, *len = (size_t)v;
    (*i)++;
    return 1;
  }
  return 0;
}

static snt_status overload_of(ictx *c, const ProtobufCMessage *m, uint32_t field, const char *what, char **out) {
  unsigned i = 0;
  const uint8_t *s = NULL;
  size_t len = 0;
  int r = unknown_field(m, field, &i, &s, &len);
  if (r < 0) return fail(c, "%s has a malformed overload field", what);
  *out = own(c->out, r ? snt_strndup((const char *)s, len) : snt_strdup(""));
  return *out ? SNT_OK : SNT_ERR_NOMEM;
}

/* Attribute defaults (FunctionProto.attribute_proto, IR 9). */
static snt_status defaults_of(ictx *c, fn_info *fi) {
  const uint8_t *s;
  size_t len;
  int r;
  for (unsigned i = 0; (r = unknown_field(&fi->f->base, FN_FIELD_ATTRIBUTE_PROTO, &i, &s, &len)) != 0;) {
    Onnx__AttributeProto *a = r > 0 ? onnx__attribute_proto__unpack(NULL, len, s) : NULL;
    if (!a || !a->name) {
      if (a) onnx__attribute_proto__free_unpacked(a, NULL);
      return fail(c, "local function '%s' has a malformed attribute default", fi->f->name);
    }
    snt_onnx_flat *f = c->out;
    if (f->n_unpacked == f->cap_unpacked) {
      int cap = f->cap_unpacked ? f->cap_unpacked * 2 : 8;
      Onnx__AttributeProto **u = realloc(f->unpacked, sizeof *u * (size_t)cap);
      if (!u) return onnx__attribute_proto__free_unpacked(a, NULL), SNT_ERR_NOMEM;
      f->unpacked = u, f->cap_unpacked = cap;
    }
    f->unpacked[f->n_unpacked++] = a;
    const Onnx__AttributeProto **dv = realloc(fi->defaults, sizeof *dv * (fi->n_defaults + 1));
    if (!dv) return SNT_ERR_NOMEM;
    fi->defaults = dv;
    dv[fi->n_defaults++] = a;
  }
  return SNT_OK;
}

static char *fn_key(const char *domain, const char *name, const char *overload) {
  return snt_format("%s\1%s\1%s", std_domain(domain), name, overload);
}

static snt_status add_function(ictx *c, size_t i) {
  fn_info *fi = &c->fns[i];
  const Onnx__FunctionProto *f = fi->f;
  snt_status st = snt_fn_check_strings(c->d, c->src, f, i);
  if (st) return st;
  fi->domain = std_domain(f->domain);
  for (size_t k = 0; k < f->n_opset_import; k++) {
    const Onnx__OperatorSetIdProto *o = f->opset_import[k];
    if (o->has_version && !std_domain(o->domain)[0])
      fi->opset = o->version > 100000 ? 100000 : o->version < 1 ? -1 : (int)o->version; /* -1: out of range too */
  }
  if ((st = overload_of(c, &f->base, FN_FIELD_OVERLOAD, f->name, &fi->overload)) || (st = defaults_of(c, fi))) return st;
  /* Resolving an attribute reference looks through these lists. */
  if (f->n_attribute + fi->n_defaults > SNT_FN_MAX_ATTRS)
    return fail(c, "local function '%s' declares %zu attributes (at most %d)", f->name, f->n_attribute + fi->n_defaults,
                SNT_FN_MAX_ATTRS);
  char *key = own(c->out, fn_key(f->domain, f->name, fi->overload));
  if (!key) return SNT_ERR_NOMEM;
  if (snt_fn_map_get(&c->by_key, key, NULL))
    return fail(c, "two local functions are named '%s%s%s'%s%s", fi->domain, fi->domain[0] ? ":" : "", f->name,
                fi->overload[0] ? " with overload " : "", fi->overload);
  return snt_fn_map_put(&c->by_key, key, fi);
}

static snt_status find_function(ictx *c, const Onnx__NodeProto *np, const fn_info **fi) {
  char *ov = NULL;
  *fi = NULL;
  if (!c->n_fns) return SNT_OK;
  snt_status st = overload_of(c, &np->base, NODE_FIELD_OVERLOAD, np->op_type, &ov);
  char *key = st ? NULL : fn_key(np->domain, np->op_type, ov);
  if (!st && !key) st = SNT_ERR_NOMEM;
  const void *v = NULL;
  if (key && snt_fn_map_get(&c->by_key, key, &v)) *fi = v;
  free(key);
  return st;
}

/* prefix/inner, with a number when the graph already holds that name. */
static char *fresh_name(ictx *c, const char *prefix, const char *inner) {
  if (strlen(prefix) + strlen(inner) > SNT_FN_MAX_NAME) return NULL;
  char *s = snt_format("%s/%s", prefix, inner);
  for (int k = 1; s && snt_fn_map_get(&c->names, s, NULL); k++) {
    free(s);
    s = snt_format("%s/%s_%d", prefix, inner, k);
  }
  return s && own(c->out, s) && snt_fn_map_put(&c->names, s, s) == SNT_OK ? s : NULL;
}

/* The call's name, numbered when an earlier call had it (node names need not be unique), so
 * each call's inner names differ from every other call's. */
static const char *call_prefix(ictx *c, const char *cname) {
  const char *p = cname;
  while (p && snt_fn_map_get(&c->prefixes, p, NULL)) p = own(c->out, snt_format("%s#%d", cname, ++c->instances));
  return p && snt_fn_map_put(&c->prefixes, p, p) == SNT_OK ? p : NULL;
}

static snt_status call(ictx *c, const Onnx__NodeProto *np, const char *cname, const fn_info *fi, int index);

/* The inner node's attribute referring to the call's (or the function's default); NULL when
 * neither gives it, so the op's own default applies. */
static snt_status resolve(ictx *c, const Onnx__NodeProto *cl, const fn_info *fi, const Onnx__AttributeProto *a,
                          const Onnx__AttributeProto **out) {
  const char *r = a->ref_attr_name;
  const Onnx__AttributeProto *v = NULL;
  bool declared = false;
  for (size_t k = 0; k < fi->f->n_attribute && !declared; k++) declared = !strcmp(fi->f->attribute[k], r);
  for (size_t k = 0; k < fi->n_defaults && !v; k++)
    if (!strcmp(fi->defaults[k]->name, r)) v = fi->defaults[k], declared = true;
  if (!declared)
    return fail(c, "local function '%s': attribute '%s' refers to '%s', which the function does not declare", fi->f->name,
                a->name, r);
  for (size_t k = 0; k < cl->n_attribute; k++)
    if (!strcmp(cl->attribute[k]->name, r)) v = cl->attribute[k];
  *out = NULL;
  if (!v) return SNT_OK;
  Onnx__AttributeProto *cp = own(c->out, malloc(sizeof *cp));
  if (!cp) return SNT_ERR_NOMEM;
  *cp = *v;
  cp->name = a->name, cp->ref_attr_name = NULL;
  *out = cp;
  return SNT_OK;
}

typedef struct scope {
  const Onnx__NodeProto *call;
  const char *prefix;
  const fn_info *fi;
  snt_fn_map local; /* inner name -> outer name */
  snt_fn_map outs;  /* formal output -> the call's output name ("" when unused) */
} scope;

static snt_status body_names(ictx *c, scope *s, const Onnx__NodeProto *in, Onnx__NodeProto *n) {
  n->input = own(c->out, calloc(in->n_input + 1, sizeof(char *)));
  n->output = own(c->out, calloc(in->n_output + 1, sizeof(char *)));
  if (!n->input || !n->output) return SNT_ERR_NOMEM;
  for (size_t j = 0; j < in->n_input; j++, n->n_input++) {
    const void *v = "";
    if (in->input[j][0] && !snt_fn_map_get(&s->local, in->input[j], &v))
      return fail(c, "node '%s' of local function '%s' reads '%s', which is neither an input of the function nor an "
                  "output of an earlier node in it", n->name, s->fi->f->name, in->input[j]);
    n->input[j] = (char *)v;
  }
  for (size_t j = 0; j < in->n_output; j++, n->n_output++) {
    const void *v = "";
    if (!in->output[j][0]) {
      n->output[j] = "";
      continue;
    }
    if (snt_fn_map_get(&s->local, in->output[j], NULL))
      return fail(c, "local function '%s' assigns '%s' twice", s->fi->f->name, in->output[j]);
    if (!snt_fn_map_get(&s->outs, in->output[j], &v) || !((const char *)v)[0]) v = fresh_name(c, s->prefix, in->output[j]);
    if (!v) return fail(c, "node '%s': a name inside local function '%s' is too long", s->prefix, s->fi->f->name);
    n->output[j] = (char *)v;
    snt_status st = snt_fn_map_put(&s->local, in->output[j], v);
    if (st) return st;
  }
  return SNT_OK;
}

static snt_status body_node(ictx *c, scope *s, const Onnx__NodeProto *in, size_t k, int index) {
  if (++c->made > SNT_FN_MAX_NODES)
    return fail(c, "node '%s': inlining local functions makes more than %d nodes", s->prefix, SNT_FN_MAX_NODES);
  if ((c->work += (long)(in->n_input + in->n_output + in->n_attribute)) > SNT_FN_MAX_WORK)
    return fail(c, "node '%s': inlining local functions makes more than %d node inputs, outputs and attributes",
                s->prefix, SNT_FN_MAX_WORK);
  Onnx__NodeProto *n = own(c->out, malloc(sizeof *n));
  if (!n) return SNT_ERR_NOMEM;
  *n = (Onnx__NodeProto)ONNX__NODE_PROTO__INIT;
  n->op_type = in->op_type, n->domain = in->domain, n->base = in->base;
  char fb[64];
  snprintf(fb, sizeof fb, "%s_%zu", in->op_type, k);
  if (!(n->name = fresh_name(c, s->prefix, in->name && in->name[0] ? in->name : fb)))
    return fail(c, "node '%s': a name inside local function '%s' is too long", s->prefix, s->fi->f->name);
  snt_status st = body_names(c, s, in, n);
  if (st) return st;
  n->attribute = own(c->out, calloc(in->n_attribute + 1, sizeof *n->attribute));
  if (!n->attribute) return SNT_ERR_NOMEM;
  for (size_t j = 0; j < in->n_attribute; j++) {
    const Onnx__AttributeProto *a = in->attribute[j];
    if (a->ref_attr_name && a->ref_attr_name[0] && (st = resolve(c, s->call, s->fi, a, &a))) return st;
    if (a) n->attribute[n->n_attribute++] = (Onnx__AttributeProto *)a;
  }
  const fn_info *inner;
  if ((st = find_function(c, n, &inner))) return st;
  if (inner) return call(c, n, n->name, inner, index);
  return push(c->out, n, s->fi->opset ? s->fi->opset : c->model_opset, index);
}

static snt_status cycle(ictx *c, const char *cname, const fn_info *fi) {
  char *path = snt_strdup("");
  for (int k = 0; path && k <= c->depth; k++) {
    const fn_info *x = k < c->depth ? c->stack[k] : fi;
    char *p = snt_format("%s%s%s%s%s", path, k ? " -> " : "", x->domain, x->domain[0] ? ":" : "", x->f->name);
    free(path);
    path = p;
  }
  snt_status st = fail(c, "node '%s': local function '%s' calls itself (%s); recursive functions cannot be inlined",
                       cname, fi->f->name, path ? path : "?");
  free(path);
  return st;
}

static snt_status bind_formals(ictx *c, scope *s) {
  const Onnx__FunctionProto *f = s->fi->f;
  const Onnx__NodeProto *np = s->call;
  if (np->n_attribute > SNT_FN_MAX_ATTRS)
    return fail(c, "node '%s' calls local function '%s' with %zu attributes (at most %d)", s->prefix, f->name,
                np->n_attribute, SNT_FN_MAX_ATTRS);
  if (np->n_input > f->n_input || np->n_output > f->n_output)
    return fail(c, "node '%s' calls local function '%s' with %zu inputs and %zu outputs; it has %zu and %zu", s->prefix,
                f->name, np->n_input, np->n_output, f->n_input, f->n_output);
  snt_status st = SNT_OK;
  for (size_t j = 0; !st && j < f->n_input; j++)
    st = snt_fn_map_put(&s->local, f->input[j], j < np->n_input ? np->input[j] : "");
  for (size_t j = 0; !st && j < f->n_output; j++)
    st = snt_fn_map_put(&s->outs, f->output[j], j < np->n_output ? np->output[j] : "");
  return st;
}

static snt_status call(ictx *c, const Onnx__NodeProto *np, const char *cname, const fn_info *fi, int index) {
  for (int k = 0; k < c->depth; k++)
    if (c->stack[k] == fi) return cycle(c, cname, fi);
  if (c->depth == SNT_FN_MAX_DEPTH)
    return fail(c, "node '%s': local functions nest deeper than %d calls", cname, SNT_FN_MAX_DEPTH);
  if (fi->opset && (fi->opset < c->min_opset || fi->opset > c->max_opset))
    return fail(c, "node '%s': local function '%s' imports ai.onnx opset %d, which sinter does not read (opsets %d to %d)",
                cname, fi->f->name, fi->opset, c->min_opset, c->max_opset);
  if ((c->work += (long)(fi->f->n_input + fi->f->n_output)) > SNT_FN_MAX_WORK) /* binding them costs too */
    return fail(c, "node '%s': inlining local functions makes more than %d node inputs, outputs and attributes",
                cname, SNT_FN_MAX_WORK);
  scope s = {.call = np, .prefix = call_prefix(c, cname), .fi = fi};
  snt_status st = s.prefix ? bind_formals(c, &s) : SNT_ERR_NOMEM;
  c->stack[c->depth++] = fi;
  for (size_t k = 0; !st && k < fi->f->n_node; k++) st = body_node(c, &s, fi->f->node[k], k, index);
  c->depth--;
  for (size_t j = 0; !st && j < np->n_output; j++) {
    const void *v = NULL;
    if (np->output[j][0] && (!snt_fn_map_get(&s.local, fi->f->output[j], &v) || strcmp(v, np->output[j])))
      st = fail(c, "node '%s': output '%s' of local function '%s' is not computed by any of its nodes", cname,
                fi->f->output[j], fi->f->name);
  }
  snt_fn_map_free(&s.local);
  snt_fn_map_free(&s.outs);
  return st;
}

static snt_status graph_names(ictx *c, const Onnx__GraphProto *gp) {
  snt_status st = SNT_OK;
  for (size_t i = 0; !st && i < gp->n_input; i++) st = snt_fn_map_put(&c->names, gp->input[i]->name, NULL);
  for (size_t i = 0; !st && i < gp->n_initializer; i++) st = snt_fn_map_put(&c->names, gp->initializer[i]->name, NULL);
  for (size_t i = 0; !st && i < gp->n_node; i++)
    for (size_t k = 0; !st && k < gp->node[i]->n_output; k++) st = snt_fn_map_put(&c->names, gp->node[i]->output[k], NULL);
  return st;
}

static snt_status flatten(ictx *c, const Onnx__GraphProto *gp) {
  snt_status st = SNT_OK;
  for (size_t i = 0; !st && i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    const fn_info *fi;
    if ((st = find_function(c, np, &fi))) break;
    char fb[64];
    snprintf(fb, sizeof fb, "%s_%zu", np->op_type, i);
    const char *nname = np->name && np->name[0] ? np->name : fb;
    if (fi) st = call(c, np, nname, fi, (int)i);
    else if (c->n_fns && std_domain(np->domain)[0])
      st = fail(c, "node '%s' (%s): domain '%s' is not supported (only ai.onnx and the model's local functions, none of "
                "which is %s in it)", nname, np->op_type, np->domain, np->op_type);
    else st = push(c->out, np, c->model_opset, (int)i);
  }
  return st;
}

snt_status snt_onnx_inline_functions(snt_diag *d, const snt_source *src, const Onnx__ModelProto *m, int opset,
                                     int min_opset, int max_opset, snt_onnx_flat *out) {
  memset(out, 0, sizeof *out);
  ictx c = {.d = d, .src = src, .out = out, .model_opset = opset, .min_opset = min_opset, .max_opset = max_opset};
  c.n_fns = m->n_functions;
  c.fns = calloc(c.n_fns + 1, sizeof *c.fns);
  snt_status st = c.fns ? SNT_OK : SNT_ERR_NOMEM;
  for (size_t i = 0; !st && i < c.n_fns; i++) {
    c.fns[i].f = m->functions[i];
    st = add_function(&c, i);
  }
  if (!st && c.n_fns) st = graph_names(&c, m->graph);
  if (!st) st = flatten(&c, m->graph);
  for (size_t i = 0; i < c.n_fns; i++) free(c.fns[i].defaults);
  free(c.fns);
  snt_fn_map_free(&c.by_key);
  snt_fn_map_free(&c.names);
  snt_fn_map_free(&c.prefixes);
  if (st) snt_onnx_flat_free(out);
  return st;
}
