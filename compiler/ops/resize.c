/* resize (ONNX Resize, opsets 10-19): nearest, linear or cubic interpolation of any axes.
 * roi, scales and sizes determine the output shape, so they are compile-time constants. */
#include <math.h>
#include <string.h>

#include "compiler/onnx/export.h"
#include "compiler/onnx/to_dsl.h"
#include "compiler/ops/common.h"
#include "sinter/kernels.h"

static const char *const mode_syms[] = {"nearest", "linear", "cubic", NULL};
static const char *const coord_syms[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                         "tf_half_pixel_for_nn", "half_pixel_symmetric", NULL};
static const char *const nearest_syms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL};

/* The DSL's resize: scales per axis (batch first); sizes, when given, are the output's and the
 * scales the coordinate mapping's (as ONNX's sizes give them). Names as ONNX's attributes. */
static const snt_arg_spec args[] = {{"scales", SNT_ARG_FLOATS, NULL, NULL},
                                    {"sizes", SNT_ARG_INTS, "[]", NULL},
                                    {"mode", SNT_ARG_SYMBOL, "nearest", mode_syms},
                                    {"coordinate_transformation_mode", SNT_ARG_SYMBOL, "half_pixel", coord_syms},
                                    {"nearest_mode", SNT_ARG_SYMBOL, "round_prefer_floor", nearest_syms},
                                    {"cubic_coeff_a", SNT_ARG_FLOAT, "-0.75", NULL},
                                    {"exclude_outside", SNT_ARG_BOOL, "false", NULL},
                                    {"extrapolation_value", SNT_ARG_FLOAT, "0", NULL},
                                    {0}};
static const snt_arg_spec upsample_args[] = {{"scales", SNT_ARG_FLOATS, NULL, NULL}, {0}};

typedef struct named {
  const char *name;
  int value;
} named;

static const named modes[] = {{"nearest", SNT_K_RESIZE_NEAREST}, {"linear", SNT_K_RESIZE_LINEAR},
                              {"cubic", SNT_K_RESIZE_CUBIC}, {NULL, 0}};
static const named coords[] = {{"half_pixel", SNT_K_COORD_HALF_PIXEL},
                               {"pytorch_half_pixel", SNT_K_COORD_PYTORCH_HALF_PIXEL},
                               {"align_corners", SNT_K_COORD_ALIGN_CORNERS},
                               {"asymmetric", SNT_K_COORD_ASYMMETRIC},
                               {"tf_crop_and_resize", SNT_K_COORD_TF_CROP_AND_RESIZE},
                               {"tf_half_pixel_for_nn", SNT_K_COORD_TF_HALF_PIXEL_FOR_NN},
                               {"half_pixel_symmetric", SNT_K_COORD_HALF_PIXEL_SYMMETRIC},
                               {NULL, 0}};
static const named nearests[] = {{"round_prefer_floor", SNT_K_NEAREST_ROUND_PREFER_FLOOR},
                                 {"round_prefer_ceil", SNT_K_NEAREST_ROUND_PREFER_CEIL},
                                 {"floor", SNT_K_NEAREST_FLOOR},
                                 {"ceil", SNT_K_NEAREST_CEIL},
                                 {NULL, 0}};

static int lookup(const named *t, const char *s) {
  for (int i = 0; t[i].name; i++)
    if (strcmp(t[i].name, s) == 0) return t[i].value;
  return -1;
}

/* Builds the kernel's descriptor from the node: scales, output sizes and modes. */
static snt_status make_desc(snt_graph *g, const snt_node *n, snt_diag *d, snt_k_resize_desc *k) {
  const snt_tensor *x = &g->tensors[n->in[0]];
  memset(k, 0, sizeof *k);
  k->rank = x->rank;
  int cs = 0, cz = 0;
  const double *sc = snt_node_floats(n, "scales", &cs);
  const int64_t *sizes = snt_node_ints(n, "sizes", &cz);
  if (cs == 0) sc = NULL; /* the DSL's empty default */
  if (cz == 0) sizes = NULL;
  if ((sc && cs != x->rank) || (sizes && cz != x->rank) || (!sc && !sizes))
    return d ? snt_node_error(g, n, d, "scales or sizes must have %d values", x->rank) : SNT_ERR_INPUT;
  for (int i = 0; i < x->rank; i++) {
    k->in[i] = x->dims[i];
    if (sizes && sc) { /* keep_aspect_ratio_policy: one scale, sizes rounded from it */
      k->out[i] = sizes[i] ? sizes[i] : x->dims[i];
      k->scales[i] = (float)sc[i];
    } else if (sizes && sizes[i] == 0) { /* the DSL's 0: the axis kept (the batch) */
      k->out[i] = x->dims[i];
      k->scales[i] = 1.0f;
    } else if (sizes) {
      k->out[i] = sizes[i];
      k->scales[i] = x->dims[i] ? (float)((double)sizes[i] / (double)x->dims[i]) : 1.0f;
    } else {
      k->scales[i] = (float)sc[i];
      k->out[i] = (int64_t)floor((double)x->dims[i] * (double)(float)sc[i]);
    }
    if (k->out[i] < 1 || !(k->scales[i] > 0))
      return d ? snt_node_error(g, n, d, "axis %d would have size %lld (scale %g)", i, (long long)k->out[i], (double)k->scales[i]) : SNT_ERR_INPUT;
  }
  int c2 = 0;
  const double *roi = snt_node_floats(n, "roi", &c2);
  for (int i = 0; roi && i < c2 && i < 2 * SNT_MAX_RANK; i++) k->roi[i] = (float)roi[i];
  k->mode = (snt_k_resize_mode)lookup(modes, snt_node_string(n, "mode", "nearest"));
  k->coord = (snt_k_resize_coord)lookup(coords, snt_node_string(n, "coordinate_transformation_mode", "half_pixel"));
  k->nearest = (snt_k_nearest_mode)lookup(nearests, snt_node_string(n, "nearest_mode", "round_prefer_floor"));
  k->cubic_coeff_a = (float)snt_node_float(n, "cubic_coeff_a", -0.75);
  k->exclude_outside = (int)snt_node_int(n, "exclude_outside", 0);
  k->extrapolation_value = (float)snt_node_float(n, "extrapolation_value", 0);
  return SNT_OK;
}

static snt_status infer(snt_graph *g, int node, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  snt_tensor *x = snt_in(g, n, 0);
  if (x->dtype != SNT_F32) return snt_node_error(g, n, d, "resizes FLOAT tensors only, not %s", snt_dtype_name(x->dtype));
  int cs = 0, cz = 0;
  bool has_s = snt_node_floats(n, "scales", &cs) && cs > 0, has_z = snt_node_ints(n, "sizes", &cz) && cz > 0;
  if (!has_s && !has_z) return snt_node_error(g, n, d, "needs scales or sizes");
  if ((has_s && cs != x->rank) || (has_z && cz != x->rank))
    return snt_node_error(g, n, d, "scales or sizes must have %d values, got %d", x->rank, has_z && cz != x->rank ? cz : cs);
  const char *names[3] = {"mode", "coordinate_transformation_mode", "nearest_mode"};
  const named *tables[3] = {modes, coords, nearests};
  const char *defs[3] = {"nearest", "half_pixel", "round_prefer_floor"};
  for (int i = 0; i < 3; i++)
    if (lookup(tables[i], snt_node_string(n, names[i], defs[i])) < 0)
      return snt_node_error(g, n, d, "%s '%s' is not supported", names[i], snt_node_string(n, names[i], defs[i]));
  snt_k_resize_desc k;
  snt_status st = make_desc(g, n, d, &k);
  if (st) return st;
  snt_set_output(g, node, 0, x->dtype, x->rank, k.out);
  return SNT_OK;
}

/* Resize-18's axes: scales, sizes and roi given for some axes, the others kept. */
static snt_status full_rank(snt_graph *g, snt_node *n, snt_diag *d, int c, double *v, bool sizes, double *roi, int *c_roi) {
  const snt_tensor *x = snt_in(g, n, 0);
  int na = 0;
  const int64_t *axes = snt_node_ints(n, "axes", &na);
  if (!axes) {
    if (c != x->rank) return snt_node_error(g, n, d, "scales or sizes must have %d values, got %d", x->rank, c);
    return SNT_OK;
  }
  if (c != na || (roi && *c_roi > 0 && *c_roi != 2 * na))
    return snt_node_error(g, n, d, "scales, sizes and roi must have a value (roi two) per axis in axes (%d)", na);
  double full[SNT_MAX_RANK], froi[2 * SNT_MAX_RANK];
  bool seen[SNT_MAX_RANK] = {false};
  for (int i = 0; i < x->rank; i++) full[i] = sizes ? (double)x->dims[i] : 1.0, froi[i] = 0.0, froi[x->rank + i] = 1.0;
  for (int i = 0; i < na; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];
    if (a < 0 || a >= x->rank || seen[a]) return snt_node_error(g, n, d, "axes value %lld is out of range or repeated", (long long)axes[i]);
    seen[a] = true, full[a] = v[i];
    if (roi && *c_roi > 0) froi[a] = roi[i], froi[x->rank + a] = roi[na + i];
  }
  memcpy(v, full, sizeof(double) * (size_t)x->rank);
  if (roi && *c_roi > 0) memcpy(roi, froi, sizeof(double) * 2 * (size_t)x->rank), *c_roi = 2 * x->rank;
  return SNT_OK;
}

/* keep_aspect_ratio_policy (opset 18) with sizes: one scale for the given axes, the smallest
 * (not_larger) or largest (not_smaller) of sizes / in, and sizes rounded from it. */
static snt_status keep_aspect(snt_graph *g, snt_node *n, snt_diag *d, const double *sizes) {
  const snt_tensor *x = snt_in(g, n, 0);
  const char *policy = snt_node_string(n, "keep_aspect_ratio_policy", "stretch");
  bool larger = strcmp(policy, "not_smaller") == 0;
  if (!larger && strcmp(policy, "not_larger") != 0)
    return snt_node_error(g, n, d, "keep_aspect_ratio_policy '%s' is not supported (stretch, not_larger, not_smaller are)", policy);
  int na = 0;
  const int64_t *axes = snt_node_ints(n, "axes", &na);
  bool on[SNT_MAX_RANK] = {false};
  for (int i = 0; i < x->rank; i++) on[i] = !axes;
  for (int i = 0; axes && i < na; i++) on[axes[i] < 0 ? axes[i] + x->rank : axes[i]] = true;
  double scale = larger ? 0.0 : INFINITY;
  for (int i = 0; i < x->rank; i++)
    if (on[i] && x->dims[i] > 0) {
      double s = (double)(float)(sizes[i] / (double)x->dims[i]);
      scale = larger ? fmax(scale, s) : fmin(scale, s);
    }
  if (!isfinite(scale) || !(scale > 0)) return snt_node_error(g, n, d, "sizes give no scale to keep the aspect ratio with");
  double sc[SNT_MAX_RANK];
  int64_t out[SNT_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    double o = nearbyint((double)(float)scale * (double)x->dims[i]);
    if (on[i] && !(o <= (double)SNT_MAX_ATTR)) return snt_node_error(g, n, d, "axis %d would have size %.0f", i, o);
    sc[i] = on[i] ? scale : 1.0;
    out[i] = on[i] ? (int64_t)o : x->dims[i];
  }
  snt_status st = snt_node_set_floats(n, "scales", x->rank, sc);
  return st ? st : snt_node_set_ints(n, "sizes", x->rank, out);
}

/* Resize-18's antialias changes only downscaling with linear or cubic filters. */
static snt_status check_antialias(snt_graph *g, snt_node *n, snt_diag *d, int opset) {
  if (opset < 18 || !snt_node_int(n, "antialias", 0) || strcmp(snt_node_string(n, "mode", "nearest"), "nearest") == 0) return SNT_OK;
  snt_k_resize_desc k;
  snt_status st = make_desc(g, n, d, &k);
  for (int i = 0; !st && i < k.rank; i++)
    if (k.scales[i] < 1.0f) return snt_node_error(g, n, d, "antialias when downscaling is not supported yet (opset %d)", opset);
  return st;
}

/* Reads the constant inputs into attributes: opset 10 has (X, scales), later ones
 * (X, roi, scales, sizes) with empty names for the unused; 18 adds axes and the
 * aspect-ratio policy. */
static snt_status onnx_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  int s_slot = opset < 11 ? 1 : 2;
  snt_tensor *roi_t = opset < 11 ? NULL : snt_in_opt(g, n, 1), *sc = snt_in_opt(g, n, s_slot);
  snt_tensor *sz = opset < 11 ? NULL : snt_in_opt(g, n, 3);
  double v[SNT_MAX_RANK], roi[2 * SNT_MAX_RANK];
  int c_roi = 0;
  if (roi_t && snt_tensor_numel(roi_t) > 0 && roi_t->data && roi_t->dtype == SNT_F32) {
    c_roi = (int)snt_tensor_numel(roi_t);
    if (c_roi > 2 * SNT_MAX_RANK) return snt_node_error(g, n, d, "roi has too many values");
    for (int i = 0; i < c_roi; i++) roi[i] = ((float *)roi_t->data)[i];
  }
  snt_status st = SNT_OK;
  bool sizes = sz && snt_tensor_numel(sz) > 0;
  snt_tensor *t = sizes ? sz : sc;
  if (!t || snt_tensor_numel(t) == 0) return snt_node_error(g, n, d, "needs scales or sizes (opset %d)", opset);
  if (sizes ? sz->dtype != SNT_I64 || !sz->data : sc->dtype != SNT_F32 || !sc->data)
    return snt_node_error(g, n, d, "%s must be a constant %s list (opset %d)", sizes ? "sizes" : "scales", sizes ? "int64" : "float", opset);
  int c = (int)snt_tensor_numel(t);
  if (c > SNT_MAX_RANK) return snt_node_error(g, n, d, "too many %s", sizes ? "sizes" : "scales");
  for (int i = 0; i < c; i++) {
    v[i] = sizes ? (double)((int64_t *)sz->data)[i] : ((float *)sc->data)[i];
    /* Bounded here, so the doubles below hold them exactly and convert back without overflow. */
    if (sizes && (v[i] < 1 || v[i] > (double)SNT_MAX_ATTR))
      return snt_node_error(g, n, d, "sizes value %lld is out of range (1 to %lld)", (long long)((int64_t *)sz->data)[i],
                            (long long)SNT_MAX_ATTR);
  }
  const snt_tensor *x = snt_in(g, n, 0);
  if ((st = full_rank(g, n, d, c, v, sizes, roi, &c_roi))) return st;
  bool keep = sizes && strcmp(snt_node_string(n, "keep_aspect_ratio_policy", "stretch"), "stretch") != 0;
  if (keep) {
    st = keep_aspect(g, n, d, v);
  } else if (sizes) {
    int64_t iv[SNT_MAX_RANK];
    for (int i = 0; i < x->rank; i++) iv[i] = (int64_t)v[i];
    st = snt_node_set_ints(n, "sizes", x->rank, iv);
  } else {
    st = snt_node_set_floats(n, "scales", x->rank, v);
  }
  if (!st && c_roi > 0) st = snt_node_set_floats(n, "roi", c_roi < 2 * SNT_MAX_RANK ? c_roi : 2 * SNT_MAX_RANK, roi);
  n->n_in = 1; /* everything but X is compiled in */
  return st ? st : check_antialias(g, n, d, opset);
}

static size_t scratch(const snt_graph *g, const snt_node *n) {
  snt_k_resize_desc k;
  return make_desc((snt_graph *)g, n, NULL, &k) == SNT_OK ? snt_k_resize_scratch_bytes(&k) : 0;
}

static snt_status emit(snt_emit *e, int node) {
  const snt_node *n = &e->g->nodes[node];
  snt_k_resize_desc k;
  snt_status st = make_desc((snt_graph *)e->g, n, e->d, &k);
  if (st) return st;
  snt_strbuf sc = {0}, roi = {0};
  for (int i = 0; i < SNT_MAX_RANK; i++) snt_sb_printf(&sc, "%s%sf", i ? ", " : "", snt_emit_f64(e, k.scales[i]));
  for (int i = 0; i < 2 * SNT_MAX_RANK; i++) snt_sb_printf(&roi, "%s%sf", i ? ", " : "", snt_emit_f64(e, k.roi[i]));
  snt_emit_line(e, "{");
  const char *in = snt_emit_ints(e, k.in, SNT_MAX_RANK), *out = snt_emit_ints(e, k.out, SNT_MAX_RANK);
  if (snt_emit_rows_dyn(e, n->in[0])) { /* dim 0 (the batch) maps onto itself: n rows */
    k.in[0] = k.out[0] = 0;
    in = snt_format_keep(e, "{n%s", strchr(snt_emit_ints(e, k.in, SNT_MAX_RANK), ','));
    out = snt_format_keep(e, "{n%s", strchr(snt_emit_ints(e, k.out, SNT_MAX_RANK), ','));
  }
  snt_emit_line(e, "%s snt_k_resize_desc d = {.rank = %d, .in = %s, .out = %s, .scales = {%s}, .roi = {%s}, "
                ".mode = %d, .coord = %d, .nearest = %d, .cubic_coeff_a = %sf, .exclude_outside = %d, "
                ".extrapolation_value = %sf};", snt_emit_const(e, n->in[0]), k.rank, in, out, sc.data, roi.data,
                (int)k.mode, (int)k.coord, (int)k.nearest, snt_emit_f64(e, k.cubic_coeff_a), k.exclude_outside,
                snt_emit_f64(e, k.extrapolation_value));
  snt_emit_line(e, "if (SNT_K_FAILED(snt_k_resize_ctx(m->k, &d, %s, %s, S))) return snt_k_st_;", snt_emit_ptr(e, n->in[0]), snt_emit_ptr(e, n->out[0]));
  snt_emit_line(e, "}");
  snt_sb_free(&sc);
  snt_sb_free(&roi);
  return SNT_OK;
}

/* The batch axis kept as it is: scale 1, and no region of interest to crop it. */
static bool rows(const snt_graph *g, const snt_node *n, const bool *r) {
  snt_k_resize_desc k;
  if (make_desc((snt_graph *)g, n, NULL, &k) != SNT_OK) return false;
  return k.rank >= 2 && k.scales[0] == 1.0f && k.in[0] == k.out[0] && k.coord != SNT_K_COORD_TF_CROP_AND_RESIZE &&
         snt_rows_first(g, n, r);
}

/* resize(x, scales, sizes = [...], mode = ..., ...): every attribute the kernel reads. With
 * sizes alone (ONNX's sizes input), the scales written are the ones the kernel maps with. */
static snt_status to_dsl(snt_dsl_writer *w, int node) {
  const snt_node *n = &w->g->nodes[node];
  snt_k_resize_desc k;
  int c = 0;
  if (snt_node_floats(n, "roi", &c) && c > 0)
    return snt_dsl_unsupported(w, n, "a region of interest (tf_crop_and_resize) has no DSL form");
  if (make_desc((snt_graph *)w->g, n, NULL, &k) != SNT_OK) return SNT_ERR_INTERNAL;
  if (k.rank < 2 || k.out[0] != k.in[0] || k.scales[0] != 1.0f)
    return snt_dsl_unsupported(w, n, "it resizes the batch axis");
  double sc[SNT_MAX_RANK];
  for (int i = 0; i < k.rank; i++) sc[i] = k.scales[i];
  k.out[0] = 0; /* sizes: 0 keeps the batch, whatever it is compiled for */
  FILE *f = w->out;
  const char *in = snt_dsl_ident(w, n->in[0]), *lhs = snt_dsl_ident(w, n->out[0]);
  fprintf(f, "  %s = resize(%s, [", lhs, in);
  for (int i = 0; i < k.rank; i++) fprintf(f, "%s%.9g", i ? ", " : "", sc[i]); /* a list even for one axis */
  fprintf(f, "]");
  if (snt_node_ints(n, "sizes", &c) && c > 0) fprintf(f, ", sizes = "), snt_dsl_ints(f, k.out, k.rank);
  fprintf(f, ", mode = %s, coordinate_transformation_mode = %s, nearest_mode = %s", snt_node_string(n, "mode", "nearest"),
          snt_node_string(n, "coordinate_transformation_mode", "half_pixel"),
          snt_node_string(n, "nearest_mode", "round_prefer_floor"));
  if (k.cubic_coeff_a != -0.75f) fprintf(f, ", cubic_coeff_a = %.9g", (double)k.cubic_coeff_a);
  if (k.exclude_outside) fprintf(f, ", exclude_outside = true");
  if (k.extrapolation_value != 0.0f) fprintf(f, ", extrapolation_value = %.9g", (double)k.extrapolation_value);
  fprintf(f, ", name = %s)\n", snt_dsl_lit(w, n->name));
  return SNT_OK;
}

/* Sizes as a tensor: the batch axis from the input's shape at run time (the file's batch is
 * symbolic), the others constants: Concat(Slice(Shape(x), 0, 1), sizes[1:]). */
static const char *sizes_input(struct snt_onnx_export *x, const snt_node *n, const int64_t *sz, int cz) {
  int64_t one = 1, zero = 0, rest = cz - 1;
  const char *in = snt_ox_name(x, n->in[0]), *shape = snt_ox_temp(x, n->name), *batch = snt_ox_temp(x, n->name);
  const char *sizes = snt_ox_temp(x, n->name);
  const char *sl[3] = {shape, snt_ox_const(x, "start", SNT_I64, 1, &one, &zero), snt_ox_const(x, "end", SNT_I64, 1, &one, &one)};
  const char *cat[2] = {batch, snt_ox_const(x, "sizes", SNT_I64, 1, &rest, sz + 1)};
  if (snt_ox_node(x, "Shape", snt_ox_temp(x, n->name), 1, &in, shape) < 0 ||
      snt_ox_node(x, "Slice", snt_ox_temp(x, n->name), 3, sl, batch) < 0)
    return NULL;
  int c = snt_ox_node(x, "Concat", snt_ox_temp(x, n->name), 2, cat, sizes);
  if (c < 0) return NULL;
  snt_ox_attr_int(x, c, "axis", 0);
  return sizes;
}

/* Resize-13: X, an empty roi, then scales or sizes. */
static snt_status onnx_export(struct snt_onnx_export *x, const snt_graph *g, int node) {
  const snt_node *n = &g->nodes[node];
  int cs = 0, cz = 0, c = 0;
  const double *sc = snt_node_floats(n, "scales", &cs);
  const int64_t *sz = snt_node_ints(n, "sizes", &cz);
  if (snt_ox_opset(x) < 13) return snt_ox_refuse(x, node, "Resize as exported needs opset 13");
  const snt_tensor *in = &g->tensors[n->in[0]];
  bool aspect = false; /* scales that are not sizes / input: keep_aspect_ratio_policy's */
  for (int i = 0; cs > 0 && cz > 0 && i < cz && i < cs; i++)
    aspect |= sz[i] ? in->dims[i] == 0 || (float)((double)sz[i] / (double)in->dims[i]) != (float)sc[i] : sc[i] != 1.0;
  if ((snt_node_floats(n, "roi", &c) && c > 0) || aspect || (cs > 0 && cz > 0 && cs != cz))
    return snt_ox_refuse(x, node, "a resize with a region of interest or an aspect-ratio policy");
  if (cz > 0) cs = 0; /* the sizes say it all */
  int64_t rank = cs > 0 ? cs : cz;
  float f[SNT_MAX_RANK];
  for (int i = 0; i < cs && i < SNT_MAX_RANK; i++) f[i] = (float)sc[i];
  const char *ins[4] = {snt_ox_name(x, n->in[0]), "", cs > 0 ? snt_ox_const(x, "scales", SNT_F32, 1, &rank, f) : "", ""};
  if (cz > 0 && (ins[3] = sizes_input(x, n, sz, cz)) == NULL) return SNT_ERR_NOMEM;
  int o = snt_ox_node(x, "Resize", n->name, cz > 0 ? 4 : 3, ins, snt_ox_name(x, n->out[0]));
  if (o < 0) return SNT_ERR_NOMEM;
  snt_ox_attr_string(x, o, "mode", snt_node_string(n, "mode", "nearest"));
  snt_ox_attr_string(x, o, "coordinate_transformation_mode", snt_node_string(n, "coordinate_transformation_mode", "half_pixel"));
  snt_ox_attr_string(x, o, "nearest_mode", snt_node_string(n, "nearest_mode", "round_prefer_floor"));
  snt_ox_attr_float(x, o, "cubic_coeff_a", (float)snt_node_float(n, "cubic_coeff_a", -0.75));
  snt_ox_attr_int(x, o, "exclude_outside", snt_node_int(n, "exclude_outside", 0));
  snt_ox_attr_float(x, o, "extrapolation_value", (float)snt_node_float(n, "extrapolation_value", 0));
  return SNT_OK;
}

const snt_op snt_op_resize = {
    .name = "resize", .type_name = "Resizing", .default_layer = "resizing",
    .doc = "interpolation to new sizes (ONNX Resize): resize(x, scales, sizes=[], mode=nearest, coordinate_transformation_mode=half_pixel, nearest_mode=round_prefer_floor, cubic_coeff_a=-0.75, exclude_outside=false, extrapolation_value=0)", .min_inputs = 1, .max_inputs = 1,
    .args = args, .infer = infer, .onnx_type = "Resize", .onnx_import = onnx_import, .onnx_upto = 19,
    .onnx_const_inputs = (1u << 1) | (1u << 2) | (1u << 3), .emit = emit, .scratch = scratch, .to_dsl = to_dsl, .batch_rows = rows,
    .onnx_arity = {1, 4, 1, 1}, .types = {.t = SNT_TY(SNT_F32), .t_f32 = SNT_TY(SNT_F16) | SNT_TY(SNT_F64), .other = SNT_TY_FLOATS | SNT_TY(SNT_I64), .note = SNT_NOTE_KERNEL},
    .onnx_export = onnx_export};

/* ONNX Upsample (opset 7 to 9; deprecated at 10 in favour of Resize): scales as an attribute at 7
 * and 8, an input from 9; 'nearest' or '(bi)linear' with the asymmetric coordinates Resize-10
 * uses, and for nearest the floor of the source coordinate (scales are at least 1). */
static snt_status upsample_import(snt_graph *g, int node, int opset, snt_diag *d) {
  snt_node *n = &g->nodes[node];
  if (opset < 7) return snt_node_error(g, n, d, "Upsample before opset 7 (experimental) is not supported (opset %d)", opset);
  const char *given = snt_node_string(n, "mode", "nearest"), *mode = NULL; /* given is freed when mode is set */
  if (strcmp(given, "nearest") == 0) mode = "nearest";
  else if (strcmp(given, "linear") == 0 || strcmp(given, "bilinear") == 0) mode = "linear";
  else return snt_node_error(g, n, d, "mode '%s' is not supported, only nearest and linear (opset %d)", given, opset);
  snt_status st = snt_node_set_string(n, "mode", mode);
  if (!st) st = snt_node_set_string(n, "coordinate_transformation_mode", "asymmetric");
  if (!st) st = snt_node_set_string(n, "nearest_mode", "floor");
  if (st || opset < 9) {
    n->n_in = 1;
    return st;
  }
  snt_tensor *sc = snt_in_opt(g, n, 1);
  if (!sc || !sc->data || sc->dtype != SNT_F32 || snt_tensor_numel(sc) > SNT_MAX_RANK)
    return snt_node_error(g, n, d, "scales must be a constant float list (opset %d)", opset);
  double v[SNT_MAX_RANK];
  int c = (int)snt_tensor_numel(sc);
  for (int i = 0; i < c; i++) v[i] = ((float *)sc->data)[i];
  n->n_in = 1;
  return snt_node_set_floats(n, "scales", c, v);
}

const snt_op snt_op_upsample = {
    .name = "upsample", .type_name = "UpSampling", .default_layer = "up_sampling",
    .doc = "nearest or linear upsampling by scales (ONNX Upsample, opsets 7-9)", .min_inputs = 1, .max_inputs = 1,
    .args = upsample_args, .infer = infer, .onnx_type = "Upsample", .onnx_import = upsample_import, .onnx_const_inputs = 1u << 1,
    .emit = emit, .scratch = scratch, .to_dsl = to_dsl, .batch_rows = rows, .onnx_arity = {1, 2, 1, 1},
    .types = {.t = SNT_TY(SNT_F32), .t_f32 = SNT_TY(SNT_F16) | SNT_TY(SNT_F64), .other = SNT_TY(SNT_F32), .note = SNT_NOTE_KERNEL},
    .onnx_export = onnx_export};
