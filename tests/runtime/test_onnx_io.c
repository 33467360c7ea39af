/* ONNX tensor and model I/O, checked against independent references: onnx.numpy_helper
 * (tests/runtime/onnx_io_reference.py, run here through /usr/bin/python3), the shared
 * suite's MANIFEST.tsv, and hand-computed values for every element type. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "onnx/onnx.pb-c.h"
#include "sinter/file.h"
#include "sinter/onnx_io.h"

#define NODE_DIR SINTER_SHARED_DIR "/onnx-tests/node"
#define MANIFEST SINTER_SHARED_DIR "/onnx-tests/MANIFEST.tsv"
#define WORK SINTER_TEST_TMP "/onnx_io"
#define PYTHON "/usr/bin/python3"

enum { PATH_CAP = 1024, MAX_EXTRA = 64 };

/* ---------------------------------------------------------------- small file helpers */

static int write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = n ? fwrite(data, 1, n, f) : 0;
  return fclose(f) == 0 && w == n ? 0 : -1;
}

static uint8_t *read_bytes(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  size_t r;
  while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
    len += r;
    if (len == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  *n = len;
  return buf;
}

static int pack_tensor_file(const char *path, const Onnx__TensorProto *tp) {
  size_t n = onnx__tensor_proto__get_packed_size(tp);
  uint8_t *buf = malloc(n + 1);
  onnx__tensor_proto__pack(tp, buf);
  int r = write_bytes(path, buf, n);
  free(buf);
  return r;
}

static int same_file_bytes(const char *a, const char *b) {
  size_t na = 0, nb = 0;
  uint8_t *x = read_bytes(a, &na), *y = read_bytes(b, &nb);
  int same = x && y && na == nb && memcmp(x, y, na) == 0;
  free(x);
  free(y);
  return same;
}

/* FNV-1a 64 of the buffer; the host is little-endian, so these are raw_data's bytes. */
static uint64_t fnv1a64(const void *p, size_t n) {
  const uint8_t *b = p;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

static void dims_str(const snt_tensor_buf *t, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  if (t->rank == 0) snprintf(buf, cap, "-");
  for (int i = 0; i < t->rank && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? "," : "", (long long)t->dims[i]);
}

static int same_tensor(const snt_tensor_buf *a, const snt_tensor_buf *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return 0;
  if ((a->name == NULL) != (b->name == NULL) || (a->name && strcmp(a->name, b->name))) return 0;
  return memcmp(a->data, b->data, snt_tensor_buf_nbytes(a)) == 0;
}

/* ---------------------------------------------------------------- the numpy reference */

typedef struct ref_entry {
  char *key, *dims, *hash;
  int type, seen;
  size_t nbytes;
} ref_entry;

typedef struct refs {
  ref_entry *v;
  size_t n;
} refs;

static int parse_ref_line(char *line, ref_entry *r) {
  char *f[5];
  int nf = 0;
  for (char *tok = strtok(line, "\t\n"); tok && nf < 5; tok = strtok(NULL, "\t\n")) f[nf++] = tok;
  if (nf != 5) return -1;
  r->key = strdup(f[0]);
  r->type = atoi(f[1]);
  r->dims = strdup(f[2]);
  r->nbytes = (size_t)strtoull(f[3], NULL, 10);
  r->hash = strdup(f[4]);
  r->seen = 0;
  return 0;
}

/* Runs the Python reference over the shared node cases and the extra files; a missing
 * python3 or onnx module fails the test: it is never skipped. */
static int load_refs(test_state *ts, refs *out, char extra[][PATH_CAP], int n_extra) {
  char script[PATH_CAP], cmd[PATH_CAP * (MAX_EXTRA + 4)];
  snprintf(script, sizeof script, "%s", __FILE__);
  char *slash = strrchr(script, '/');
  snprintf(slash ? slash + 1 : script, sizeof script - (size_t)(slash ? slash + 1 - script : 0),
           "onnx_io_reference.py");
  size_t used = (size_t)snprintf(cmd, sizeof cmd, "%s '%s' '%s'", PYTHON, script, NODE_DIR);
  for (int i = 0; i < n_extra; i++) used += (size_t)snprintf(cmd + used, sizeof cmd - used, " '%s'", extra[i]);
  snprintf(cmd + used, sizeof cmd - used, " > '%s/ref.txt' 2> '%s/ref.err'", WORK, WORK);
  int rc = system(cmd);
  CHECK(ts, rc == 0);
  if (rc != 0) {
    fprintf(stderr, "the reference failed (needs %s with python3-onnx, python3-numpy): %s\nsee %s/ref.err\n",
            PYTHON, cmd, WORK);
    return -1;
  }
  FILE *f = fopen(WORK "/ref.txt", "r");
  CHECK(ts, f != NULL);
  if (!f) return -1;
  char line[4096];
  size_t cap = 0;
  memset(out, 0, sizeof *out);
  while (fgets(line, sizeof line, f)) {
    if (out->n == cap) out->v = realloc(out->v, (cap = cap ? cap * 2 : 256) * sizeof *out->v);
    if (strstr(line, "\tERROR ")) fprintf(stderr, "reference refused a tensor: %s", line);
    CHECK(ts, parse_ref_line(line, &out->v[out->n]) == 0);
    if (out->v[out->n].key) out->n++;
  }
  fclose(f);
  return 0;
}

static void free_refs(refs *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->v[i].key);
    free(r->v[i].dims);
    free(r->v[i].hash);
  }
  free(r->v);
}

/* Compares a decoded tensor with the reference's line for `key`. */
static void check_ref(test_state *ts, refs *r, const char *key, const snt_tensor_buf *t) {
  ref_entry *e = NULL;
  for (size_t i = 0; i < r->n && !e; i++)
    if (!strcmp(r->v[i].key, key)) e = &r->v[i];
  CHECK(ts, e != NULL);
  if (!e) {
    fprintf(stderr, "  no reference line for %s\n", key);
    return;
  }
  e->seen++;
  char dims[256], hash[17];
  dims_str(t, dims, sizeof dims);
  snprintf(hash, sizeof hash, "%016llx", (unsigned long long)fnv1a64(t->data, snt_tensor_buf_nbytes(t)));
  int ok = e->type == (int)t->dtype && !strcmp(e->dims, dims) && e->nbytes == snt_tensor_buf_nbytes(t) &&
           !strcmp(e->hash, hash);
  CHECK(ts, ok);
  if (!ok)
    fprintf(stderr, "  %s: got type %d dims %s %zu bytes hash %s; numpy says %d %s %zu %s\n", key, (int)t->dtype,
            dims, snt_tensor_buf_nbytes(t), hash, e->type, e->dims, e->nbytes, e->hash);
}

/* ---------------------------------------------------------------- the shared node cases */

/* decode -> write_tensor_file -> read gives the same tensor; also byte-identical to the
 * original file, since both serialize dims, data_type, name, raw_data in field order. */
static void check_tensor_round_trip(test_state *ts, const char *path, const snt_tensor_buf *t, int *same_file) {
  snt_err e = {{0}};
  const char *copy = WORK "/rt.pb";
  snt_tensor_buf back;
  CHECK_INT(ts, snt_onnx_write_tensor_file(copy, t, &e), SNT_OK);
  CHECK_INT(ts, snt_onnx_read_tensor_file(copy, &back, &e), SNT_OK);
  CHECK(ts, same_tensor(t, &back));
  *same_file += same_file_bytes(path, copy);
  snt_tensor_buf_free(&back);
}

static int check_pb_dir(test_state *ts, refs *r, const char *case_dir, int *same_file) {
  char dir[PATH_CAP], path[PATH_CAP];
  if (snprintf(dir, sizeof dir, "%s/test_data_set_0", case_dir) >= (int)sizeof dir) return 0;
  DIR *d = opendir(dir);
  CHECK(ts, d != NULL);
  if (!d) return 0;
  int n = 0;
  for (struct dirent *de; (de = readdir(d));) {
    size_t len = strlen(de->d_name);
    if (len < 4 || strcmp(de->d_name + len - 3, ".pb")) continue;
    if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
    snt_tensor_buf t;
    snt_err e = {{0}};
    snt_status s = snt_onnx_read_tensor_file(path, &t, &e);
    CHECK_INT(ts, s, SNT_OK);
    if (s != SNT_OK) fprintf(stderr, "  %s\n", e.msg);
    if (s == SNT_OK) {
      check_ref(ts, r, path, &t);
      check_tensor_round_trip(ts, path, &t, same_file);
    }
    snt_tensor_buf_free(&t);
    n++;
  }
  closedir(d);
  return n;
}

/* The opset column of MANIFEST.tsv for case_name, or -1. */
static long manifest_opset(const char *case_name) {
  FILE *f = fopen(MANIFEST, "r");
  if (!f) return -1;
  char line[1024], want[PATH_CAP];
  long v = -1;
  snprintf(want, sizeof want, "node/%s\t", case_name);
  while (v < 0 && fgets(line, sizeof line, f)) {
    if (strncmp(line, want, strlen(want))) continue;
    char *p = line;
    for (int col = 0; col < 3 && p; col++) p = strchr(p, '\t') ? strchr(p, '\t') + 1 : NULL;
    if (p) v = strtol(p, NULL, 10);
  }
  fclose(f);
  return v;
}

/* Decodes a model's initializers and Constant values against the reference when `r` is
 * given; fills `sums` with one hash per tensor so two loads can be compared. */
static size_t model_tensors(test_state *ts, refs *r, const char *path, const Onnx__ModelProto *m, uint64_t *sums,
                            size_t cap) {
  size_t n = 0;
  char key[PATH_CAP * 2];
  const Onnx__GraphProto *g = m->graph;
  for (size_t i = 0; i < g->n_initializer + g->n_node; i++) {
    const Onnx__TensorProto *tp = NULL;
    if (i < g->n_initializer) {
      tp = g->initializer[i];
      snprintf(key, sizeof key, "%s#init:%s", path, tp->name ? tp->name : "");
    } else {
      const Onnx__NodeProto *node = g->node[i - g->n_initializer];
      if (!node->op_type || strcmp(node->op_type, "Constant")) continue;
      for (size_t a = 0; a < node->n_attribute; a++)
        if (node->attribute[a]->name && !strcmp(node->attribute[a]->name, "value")) tp = node->attribute[a]->t;
      if (!tp) continue;
      snprintf(key, sizeof key, "%s#const:%zu", path, i - g->n_initializer);
    }
    snt_tensor_buf t;
    snt_err e = {{0}};
    CHECK_INT(ts, snt_onnx_tensor_decode(tp, NODE_DIR, &t, &e), SNT_OK);
    if (t.data && r) check_ref(ts, r, key, &t);
    if (n < cap) sums[n++] = t.data ? fnv1a64(t.data, snt_tensor_buf_nbytes(&t)) ^ (uint64_t)t.dtype : 0;
    snt_tensor_buf_free(&t);
  }
  return n;
}

/* load -> save -> load keeps the graph, the initializers and the opset (MANIFEST.tsv's). */
static void check_model(test_state *ts, refs *r, const char *case_dir, const char *case_name, int *same_file) {
  char path[PATH_CAP];
  const char *copy = WORK "/rt.onnx";
  if (snprintf(path, sizeof path, "%s/model.onnx", case_dir) >= (int)sizeof path) return;
  Onnx__ModelProto *m = NULL, *m2 = NULL;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_onnx_load_model(path, &m, &e), SNT_OK);
  if (!m) return;
  CHECK_INT(ts, snt_onnx_opset(m), manifest_opset(case_name));
  uint64_t a[64], b[64];
  size_t na = model_tensors(ts, r, path, m, a, 64);
  CHECK_INT(ts, snt_onnx_save_model(copy, m, &e), SNT_OK);
  CHECK_INT(ts, snt_onnx_load_model(copy, &m2, &e), SNT_OK);
  if (m2) {
    *same_file += same_file_bytes(path, copy);
    CHECK_INT(ts, m2->graph->n_node, m->graph->n_node);
    CHECK_INT(ts, m2->graph->n_initializer, m->graph->n_initializer);
    CHECK_INT(ts, snt_onnx_opset(m2), snt_onnx_opset(m));
    size_t nb = model_tensors(ts, NULL, copy, m2, b, 64);
    CHECK(ts, na == nb && memcmp(a, b, na * sizeof *a) == 0);
  }
  snt_onnx_free_model(m);
  snt_onnx_free_model(m2);
}

static void test_shared_cases(test_state *ts, refs *r) {
  DIR *d = opendir(NODE_DIR);
  CHECK(ts, d != NULL);
  if (!d) {
    fprintf(stderr, "  cannot open %s\n", NODE_DIR);
    return;
  }
  int cases = 0, pbs = 0, same_pb = 0, same_model = 0;
  char dir[PATH_CAP];
  for (struct dirent *de; (de = readdir(d));) {
    if (de->d_name[0] == '.') continue;
    snprintf(dir, sizeof dir, "%s/%s", NODE_DIR, de->d_name);
    pbs += check_pb_dir(ts, r, dir, &same_pb);
    check_model(ts, r, dir, de->d_name, &same_model);
    cases++;
  }
  closedir(d);
  printf("shared cases: %d models, %d tensor files\n", cases, pbs);
  CHECK(ts, cases >= 199 && pbs >= 538); /* the suite as shipped; fewer means files went missing */
  CHECK_INT(ts, same_pb, pbs);
  CHECK_INT(ts, same_model, cases);
}

/* ---------------------------------------------------------------- hand-built tensors */

static Onnx__TensorProto proto(const char *name, int type, size_t rank, int64_t *dims) {
  Onnx__TensorProto tp;
  onnx__tensor_proto__init(&tp);
  tp.name = (char *)name;
  tp.has_data_type = 1;
  tp.data_type = type;
  tp.n_dims = rank;
  tp.dims = dims;
  return tp;
}

/* Decodes tp, compares with the expected bytes, and writes it to WORK/<name>.pb so the
 * numpy reference sees it too. */
static void expect_values(test_state *ts, const Onnx__TensorProto *tp, const void *want, size_t nbytes,
                          char extra[][PATH_CAP], int *n_extra) {
  snt_tensor_buf t;
  snt_err e = {{0}};
  snt_status s = snt_onnx_tensor_decode(tp, NULL, &t, &e);
  CHECK_INT(ts, s, SNT_OK);
  if (s != SNT_OK) fprintf(stderr, "  %s: %s\n", tp->name, e.msg);
  CHECK_INT(ts, t.dtype, tp->data_type);
  CHECK_INT(ts, t.rank, tp->n_dims);
  CHECK_INT(ts, snt_tensor_buf_nbytes(&t), nbytes);
  CHECK(ts, t.data && memcmp(t.data, want, nbytes) == 0);
  CHECK_STR(ts, t.name, tp->name);
  snt_tensor_buf_free(&t);
  if (*n_extra < MAX_EXTRA) {
    snprintf(extra[*n_extra], PATH_CAP, "%s/%s.pb", WORK, tp->name);
    CHECK_INT(ts, pack_tensor_file(extra[*n_extra], tp), 0);
    (*n_extra)++;
  }
}

/* One tensor per element type in the typed field onnx.proto assigns to it. */
static void test_typed_fields(test_state *ts, char extra[][PATH_CAP], int *n_extra) {
  int64_t d3[] = {3}, d22[] = {2, 2};
  Onnx__TensorProto tp = proto("t_float", SNT_F32, 1, d3);
  tp.n_float_data = 3, tp.float_data = (float[]){1.5f, -2.25f, 3e38f};
  expect_values(ts, &tp, (float[]){1.5f, -2.25f, 3e38f}, 12, extra, n_extra);
  tp = proto("t_double", SNT_F64, 1, d3);
  tp.n_double_data = 3, tp.double_data = (double[]){0.1, -1e300, 5e-324};
  expect_values(ts, &tp, (double[]){0.1, -1e300, 5e-324}, 24, extra, n_extra);
  /* FLOAT16 / BFLOAT16 travel as their bit patterns in int32_data. */
  tp = proto("t_f16", SNT_F16, 1, d3);
  tp.n_int32_data = 3, tp.int32_data = (int32_t[]){0x3c00, 0xc000, 0x7bff};
  expect_values(ts, &tp, (uint16_t[]){0x3c00, 0xc000, 0x7bff}, 6, extra, n_extra);
  tp = proto("t_bf16", SNT_BF16, 1, d3);
  tp.n_int32_data = 3, tp.int32_data = (int32_t[]){0x3f80, 0x4049, 0xc000};
  expect_values(ts, &tp, (uint16_t[]){0x3f80, 0x4049, 0xc000}, 6, extra, n_extra);
  tp = proto("t_i8", SNT_I8, 1, d3);
  tp.n_int32_data = 3, tp.int32_data = (int32_t[]){-128, 127, -1};
  expect_values(ts, &tp, (int8_t[]){-128, 127, -1}, 3, extra, n_extra);
  tp = proto("t_i16", SNT_I16, 1, d3);
  tp.n_int32_data = 3, tp.int32_data = (int32_t[]){-32768, 32767, -2};
  expect_values(ts, &tp, (int16_t[]){-32768, 32767, -2}, 6, extra, n_extra);
  tp = proto("t_i32", SNT_I32, 1, d3);
  tp.n_int32_data = 3, tp.int32_data = (int32_t[]){INT32_MIN, INT32_MAX, 7};
  expect_values(ts, &tp, (int32_t[]){INT32_MIN, INT32_MAX, 7}, 12, extra, n_extra);
  tp = proto("t_i64", SNT_I64, 2, d22);
  tp.n_int64_data = 4, tp.int64_data = (int64_t[]){INT64_MIN, INT64_MAX, -1, 1ll << 40};
  expect_values(ts, &tp, (int64_t[]){INT64_MIN, INT64_MAX, -1, 1ll << 40}, 32, extra, n_extra);
  tp = proto("t_u8", SNT_U8, 1, d3);
  tp.n_int32_data = 3, tp.int32_data = (int32_t[]){0, 255, 128};
  expect_values(ts, &tp, (uint8_t[]){0, 255, 128}, 3, extra, n_extra);
  tp = proto("t_u16", SNT_U16, 1, d3);
  tp.n_int32_data = 3, tp.int32_data = (int32_t[]){0, 65535, 256};
  expect_values(ts, &tp, (uint16_t[]){0, 65535, 256}, 6, extra, n_extra);
  /* UINT32 and UINT64 travel in uint64_data. */
  tp = proto("t_u32", SNT_U32, 1, d3);
  tp.n_uint64_data = 3, tp.uint64_data = (uint64_t[]){0, 4294967295u, 65536};
  expect_values(ts, &tp, (uint32_t[]){0, 4294967295u, 65536}, 12, extra, n_extra);
  tp = proto("t_u64", SNT_U64, 1, d3);
  tp.n_uint64_data = 3, tp.uint64_data = (uint64_t[]){UINT64_MAX, 1, 1ull << 63};
  expect_values(ts, &tp, (uint64_t[]){UINT64_MAX, 1, 1ull << 63}, 24, extra, n_extra);
  tp = proto("t_bool", SNT_BOOL, 2, d22);
  tp.n_int32_data = 4, tp.int32_data = (int32_t[]){1, 0, 0, 1};
  expect_values(ts, &tp, (uint8_t[]){1, 0, 0, 1}, 4, extra, n_extra);
}

/* raw_data is little-endian whatever the type; scalars and zero-size tensors. */
static void test_raw_and_shapes(test_state *ts, char extra[][PATH_CAP], int *n_extra) {
  int64_t d1[] = {1}, d2[] = {2}, d203[] = {2, 0, 3};
  Onnx__TensorProto tp = proto("r_float", SNT_F32, 1, d1);
  tp.has_raw_data = 1, tp.raw_data = (ProtobufCBinaryData){4, (uint8_t[]){0x00, 0x00, 0x80, 0x3f}};
  expect_values(ts, &tp, (float[]){1.0f}, 4, extra, n_extra);
  tp = proto("r_i64", SNT_I64, 1, d2);
  tp.has_raw_data = 1;
  tp.raw_data = (ProtobufCBinaryData){16, (uint8_t[]){8, 7, 6, 5, 4, 3, 2, 1, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  expect_values(ts, &tp, (int64_t[]){0x0102030405060708ll, -2}, 16, extra, n_extra);
  tp = proto("r_f16", SNT_F16, 1, d2);
  tp.has_raw_data = 1, tp.raw_data = (ProtobufCBinaryData){4, (uint8_t[]){0x00, 0x3c, 0x55, 0x35}};
  expect_values(ts, &tp, (uint16_t[]){0x3c00, 0x3555}, 4, extra, n_extra);
  tp = proto("r_bool", SNT_BOOL, 1, d2);
  tp.has_raw_data = 1, tp.raw_data = (ProtobufCBinaryData){2, (uint8_t[]){0, 1}};
  expect_values(ts, &tp, (uint8_t[]){0, 1}, 2, extra, n_extra);
  tp = proto("scalar_raw", SNT_F64, 0, NULL);
  tp.has_raw_data = 1, tp.raw_data = (ProtobufCBinaryData){8, (uint8_t[]){0, 0, 0, 0, 0, 0, 0xf0, 0xbf}};
  expect_values(ts, &tp, (double[]){-1.0}, 8, extra, n_extra);
  tp = proto("scalar_typed", SNT_I32, 0, NULL);
  tp.n_int32_data = 1, tp.int32_data = (int32_t[]){-7};
  expect_values(ts, &tp, (int32_t[]){-7}, 4, extra, n_extra);
  tp = proto("zero_typed", SNT_F32, 3, d203);
  expect_values(ts, &tp, "", 0, extra, n_extra);
  tp = proto("zero_raw", SNT_U16, 3, d203);
  tp.has_raw_data = 1, tp.raw_data = (ProtobufCBinaryData){0, NULL};
  expect_values(ts, &tp, "", 0, extra, n_extra);
  /* A tensor without a name decodes with name NULL. */
  snt_tensor_buf t;
  snt_err e = {{0}};
  tp = proto(NULL, SNT_F32, 1, d1);
  tp.n_float_data = 1, tp.float_data = (float[]){2.0f};
  CHECK_INT(ts, snt_onnx_tensor_decode(&tp, NULL, &t, &e), SNT_OK);
  CHECK(ts, t.name == NULL && t.data && ((float *)t.data)[0] == 2.0f);
  snt_tensor_buf_free(&t);
}

/* ---------------------------------------------------------------- external data */

static Onnx__StringStringEntryProto kv(const char *k, const char *v) {
  Onnx__StringStringEntryProto p;
  onnx__string_string_entry_proto__init(&p);
  p.key = (char *)k;
  p.value = (char *)v;
  return p;
}

/* A FLOAT [3] tensor stored at location/offset/length (NULL leaves a key out). */
static snt_status decode_external(const char *location, const char *offset, const char *length, const char *base,
                                  snt_tensor_buf *t, snt_err *e) {
  int64_t d3[] = {3};
  Onnx__TensorProto tp = proto("ext", SNT_F32, 1, d3);
  Onnx__StringStringEntryProto kvs[3] = {kv("location", location), kv("offset", offset), kv("length", length)};
  Onnx__StringStringEntryProto *list[3];
  size_t n = 0;
  for (int i = 0; i < 3; i++)
    if (kvs[i].value) list[n++] = &kvs[i];
  tp.has_data_location = 1;
  tp.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  tp.n_external_data = n;
  tp.external_data = list;
  return snt_onnx_tensor_decode(&tp, base, t, e);
}

static void expect_external_error(test_state *ts, const char *location, const char *offset, const char *length,
                                  const char *base, snt_status want, const char *msg_part) {
  snt_tensor_buf t;
  snt_err e = {{0}};
  CHECK_INT(ts, decode_external(location, offset, length, base, &t, &e), want);
  CHECK(ts, t.data == NULL && strstr(e.msg, msg_part) != NULL);
  if (!strstr(e.msg, msg_part)) fprintf(stderr, "  message '%s' lacks '%s'\n", e.msg, msg_part);
}

static void test_external(test_state *ts, char extra[][PATH_CAP], int *n_extra) {
  const float vals[3] = {1.25f, -3.5f, 1e-3f};
  uint8_t blob[64];
  memset(blob, 0xab, sizeof blob);
  memcpy(blob + 20, vals, sizeof vals);
  mkdir(WORK "/ext", 0755);
  mkdir(WORK "/ext/sub", 0755);
  CHECK_INT(ts, write_bytes(WORK "/ext/blob.bin", blob, sizeof blob), 0);
  CHECK_INT(ts, write_bytes(WORK "/ext/sub/exact.bin", vals, sizeof vals), 0);
  snt_tensor_buf t;
  snt_err e = {{0}};
  CHECK_INT(ts, decode_external("blob.bin", "20", "12", WORK "/ext", &t, &e), SNT_OK);
  CHECK(ts, t.data && memcmp(t.data, vals, sizeof vals) == 0);
  snt_tensor_buf_free(&t);
  CHECK_INT(ts, decode_external("sub/exact.bin", NULL, NULL, WORK "/ext", &t, &e), SNT_OK);
  CHECK(ts, t.data && memcmp(t.data, vals, sizeof vals) == 0);
  snt_tensor_buf_free(&t);
  /* Through a tensor file: the location is relative to the file's directory; numpy checks it too. */
  int64_t d3[] = {3};
  Onnx__TensorProto tp = proto("ext_file", SNT_F32, 1, d3);
  Onnx__StringStringEntryProto kvs[3] = {kv("location", "blob.bin"), kv("offset", "20"), kv("length", "12")};
  Onnx__StringStringEntryProto *list[3] = {&kvs[0], &kvs[1], &kvs[2]};
  tp.has_data_location = 1, tp.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  tp.n_external_data = 3, tp.external_data = list;
  snprintf(extra[*n_extra], PATH_CAP, "%s/ext/ext_file.pb", WORK);
  CHECK_INT(ts, pack_tensor_file(extra[*n_extra], &tp), 0);
  CHECK_INT(ts, snt_onnx_read_tensor_file(extra[*n_extra], &t, &e), SNT_OK);
  CHECK(ts, t.data && memcmp(t.data, vals, sizeof vals) == 0);
  snt_tensor_buf_free(&t);
  (*n_extra)++;
  /* Refusals: escaping the directory, bad numbers, short or missing files. */
  expect_external_error(ts, "../ext/blob.bin", "20", NULL, WORK "/ext", SNT_ERR_INPUT, "'..'");
  expect_external_error(ts, "sub/../../x", NULL, NULL, WORK "/ext", SNT_ERR_INPUT, "'..'");
  expect_external_error(ts, "..", NULL, NULL, WORK "/ext", SNT_ERR_INPUT, "'..'");
  expect_external_error(ts, WORK "/ext/blob.bin", NULL, NULL, WORK "/ext", SNT_ERR_INPUT, "absolute");
  expect_external_error(ts, "/etc/passwd", NULL, NULL, WORK "/ext", SNT_ERR_INPUT, "absolute");
  expect_external_error(ts, "blob.bin", "60", NULL, WORK "/ext", SNT_ERR_INPUT, "too short");
  expect_external_error(ts, "blob.bin", "99999", "12", WORK "/ext", SNT_ERR_INPUT, "has 64 bytes");
  expect_external_error(ts, "blob.bin", "20", "16", WORK "/ext", SNT_ERR_INPUT, "length is 16 bytes, expected 12");
  expect_external_error(ts, "blob.bin", "2x", NULL, WORK "/ext", SNT_ERR_INPUT, "offset '2x'");
  expect_external_error(ts, "blob.bin", "-4", NULL, WORK "/ext", SNT_ERR_INPUT, "offset '-4'");
  expect_external_error(ts, "blob.bin", "99999999999999999999999", NULL, WORK "/ext", SNT_ERR_INPUT, "not a byte count");
  expect_external_error(ts, "missing.bin", NULL, NULL, WORK "/ext", SNT_ERR_IO, WORK "/ext/missing.bin");
  expect_external_error(ts, "sub", NULL, NULL, WORK "/ext", SNT_ERR_INPUT, "not a regular file");
  expect_external_error(ts, "blob.bin", NULL, NULL, NULL, SNT_ERR_INPUT, "no base directory");
  expect_external_error(ts, "", NULL, NULL, WORK "/ext", SNT_ERR_INPUT, "without a 'location'");
}

/* ---------------------------------------------------------------- malformed tensors */

static void expect_decode_error(test_state *ts, const Onnx__TensorProto *tp, const char *msg_part) {
  snt_tensor_buf t;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_onnx_tensor_decode(tp, NULL, &t, &e), SNT_ERR_INPUT);
  CHECK(ts, t.data == NULL && t.name == NULL);
  CHECK(ts, strstr(e.msg, msg_part) != NULL);
  if (!strstr(e.msg, msg_part)) fprintf(stderr, "  message '%s' lacks '%s'\n", e.msg, msg_part);
}

static void test_bad_tensors(test_state *ts) {
  int64_t d4[] = {4}, d22[] = {2, 2}, dneg[] = {2, -1}, dbig[] = {INT64_MAX / 2, 4}, d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  uint8_t bytes[16] = {0};
  Onnx__TensorProto tp = proto("w", SNT_F32, 1, d4);
  tp.has_raw_data = 1, tp.raw_data = (ProtobufCBinaryData){15, bytes};
  expect_decode_error(ts, &tp, "tensor 'w': raw_data has 15 bytes, expected 16");
  tp.raw_data.len = 17;
  expect_decode_error(ts, &tp, "raw_data has 17 bytes");
  tp = proto("w", SNT_F32, 2, d22);
  tp.n_float_data = 3, tp.float_data = (float[]){1, 2, 3};
  expect_decode_error(ts, &tp, "has 3 values in float_data, expected 4");
  tp = proto("w", SNT_I64, 2, d22);
  tp.n_int32_data = 4, tp.int32_data = (int32_t[]){1, 2, 3, 4};
  expect_decode_error(ts, &tp, "4 values in int32_data");
  tp = proto("w", SNT_F32, 1, d4);
  tp.has_raw_data = 1, tp.raw_data = (ProtobufCBinaryData){16, bytes};
  tp.n_float_data = 4, tp.float_data = (float[]){1, 2, 3, 4};
  expect_decode_error(ts, &tp, "raw_data holds the data");
  tp = proto("w", SNT_F32, 1, d4);
  expect_decode_error(ts, &tp, "has 0 values in float_data, expected 4");
  tp = proto("w", SNT_I8, 0, NULL);
  tp.n_int32_data = 1, tp.int32_data = (int32_t[]){300};
  expect_decode_error(ts, &tp, "int32_data[0] = 300 is out of range for INT8");
  tp = proto("w", SNT_F16, 0, NULL);
  tp.n_int32_data = 1, tp.int32_data = (int32_t[]){-1};
  expect_decode_error(ts, &tp, "out of range for FLOAT16");
  tp = proto("w", SNT_BOOL, 0, NULL);
  tp.n_int32_data = 1, tp.int32_data = (int32_t[]){2};
  expect_decode_error(ts, &tp, "out of range for BOOL");
  tp = proto("w", SNT_BOOL, 1, d4);
  tp.has_raw_data = 1, tp.raw_data = (ProtobufCBinaryData){4, (uint8_t[]){0, 1, 7, 0}};
  expect_decode_error(ts, &tp, "BOOL element 2 is 7");
  tp = proto("w", SNT_U32, 0, NULL);
  tp.n_uint64_data = 1, tp.uint64_data = (uint64_t[]){1ull << 32};
  expect_decode_error(ts, &tp, "out of range for UINT32");
  tp = proto("s", SNT_STRING, 0, NULL);
  expect_decode_error(ts, &tp, "tensor 's' has data type STRING");
  tp = proto("c", 14, 0, NULL);
  expect_decode_error(ts, &tp, "COMPLEX64");
  tp = proto("u", 99, 0, NULL);
  expect_decode_error(ts, &tp, "unknown data type 99");
  tp = proto("u", 0, 0, NULL);
  expect_decode_error(ts, &tp, "no data_type");
  tp = proto("n", SNT_F32, 2, dneg);
  expect_decode_error(ts, &tp, "negative dimension -1 at axis 1");
  tp = proto("n", SNT_F32, 2, dbig);
  expect_decode_error(ts, &tp, "overflows");
  tp = proto("n", SNT_U8, 9, d9);
  expect_decode_error(ts, &tp, "rank 9");
  tp = proto("n", SNT_F32, 1, d4);
  tp.has_data_location = 1, tp.data_location = 5;
  expect_decode_error(ts, &tp, "unknown data_location 5");
  Onnx__TensorProto__Segment seg;
  onnx__tensor_proto__segment__init(&seg);
  tp = proto("n", SNT_F32, 0, NULL);
  tp.segment = &seg;
  expect_decode_error(ts, &tp, "segment");
}

/* ---------------------------------------------------------------- files: errors */

static void expect_model_error(test_state *ts, const char *path, snt_status want, const char *msg_part) {
  Onnx__ModelProto *m = (Onnx__ModelProto *)&m; /* must be reset to NULL */
  snt_err e = {{0}};
  CHECK_INT(ts, snt_onnx_load_model(path, &m, &e), want);
  CHECK(ts, m == NULL);
  CHECK(ts, strstr(e.msg, path) != NULL && strstr(e.msg, msg_part) != NULL);
  if (!strstr(e.msg, path) || !strstr(e.msg, msg_part)) fprintf(stderr, "  message '%s' lacks '%s'\n", e.msg, msg_part);
}

static void expect_tensor_file_error(test_state *ts, const char *path, snt_status want, const char *msg_part) {
  snt_tensor_buf t;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_onnx_read_tensor_file(path, &t, &e), want);
  CHECK(ts, t.data == NULL);
  CHECK(ts, strstr(e.msg, path) != NULL && strstr(e.msg, msg_part) != NULL);
  if (!strstr(e.msg, path) || !strstr(e.msg, msg_part)) fprintf(stderr, "  message '%s' lacks '%s'\n", e.msg, msg_part);
}

static void test_bad_files(test_state *ts) {
  size_t n = 0;
  uint8_t *model = read_bytes(NODE_DIR "/test_conv_with_strides_no_padding/model.onnx", &n);
  CHECK(ts, model && n > 100);
  if (!model) return;
  /* Cut inside the graph, inside the trailing opset_import, and inside the header. */
  size_t cuts[] = {n / 2, n - 1, n - 3, 7};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    CHECK_INT(ts, write_bytes(WORK "/truncated.onnx", model, cuts[i]), 0);
    expect_model_error(ts, WORK "/truncated.onnx", SNT_ERR_INPUT, "truncated or corrupt");
  }
  free(model);
  /* A tensor file cut inside its raw_data, at the end and in the middle. */
  uint8_t *pb = read_bytes(NODE_DIR "/test_conv_with_strides_no_padding/test_data_set_0/input_1.pb", &n);
  CHECK(ts, pb && n > 40);
  if (!pb) return;
  size_t pb_cuts[] = {n - 1, n / 2};
  for (size_t i = 0; i < sizeof pb_cuts / sizeof *pb_cuts; i++) {
    CHECK_INT(ts, write_bytes(WORK "/truncated.pb", pb, pb_cuts[i]), 0);
    expect_tensor_file_error(ts, WORK "/truncated.pb", SNT_ERR_INPUT, "not a TensorProto (truncated or corrupt");
  }
  free(pb);
  /* Garbage from a fixed-seed generator: never a model with a graph. */
  uint8_t junk[512];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
  CHECK_INT(ts, write_bytes(WORK "/garbage.onnx", junk, sizeof junk), 0);
  expect_model_error(ts, WORK "/garbage.onnx", SNT_ERR_INPUT, ": ");
  CHECK_INT(ts, write_bytes(WORK "/empty.onnx", "", 0), 0);
  expect_model_error(ts, WORK "/empty.onnx", SNT_ERR_INPUT, "empty file");
  expect_tensor_file_error(ts, WORK "/empty.onnx", SNT_ERR_INPUT, "empty file");
  expect_model_error(ts, WORK "/no-such-model.onnx", SNT_ERR_IO, "No such file");
  expect_tensor_file_error(ts, WORK "/no-such.pb", SNT_ERR_IO, "No such file");
  expect_model_error(ts, WORK, SNT_ERR_INPUT, "not a regular file (it is a folder)");
  /* A valid protobuf without a graph. */
  Onnx__ModelProto m;
  onnx__model_proto__init(&m);
  m.has_ir_version = 1, m.ir_version = 8;
  uint8_t buf[64];
  size_t len = onnx__model_proto__pack(&m, buf);
  CHECK_INT(ts, write_bytes(WORK "/nograph.onnx", buf, len), 0);
  expect_model_error(ts, WORK "/nograph.onnx", SNT_ERR_INPUT, "has no graph");
  /* A tensor file whose tensor is bad: the message names the file and the tensor. */
  int64_t d4[] = {4};
  Onnx__TensorProto tp = proto("short", SNT_F32, 1, d4);
  tp.has_raw_data = 1, tp.raw_data = (ProtobufCBinaryData){3, (uint8_t[]){1, 2, 3}};
  CHECK_INT(ts, pack_tensor_file(WORK "/short.pb", &tp), 0);
  expect_tensor_file_error(ts, WORK "/short.pb", SNT_ERR_INPUT, "tensor 'short': raw_data has 3 bytes");
  Onnx__ModelProto *out = NULL;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_onnx_model_from_bytes(junk, sizeof junk, "fuzz-input", &out, &e), SNT_ERR_INPUT);
  CHECK(ts, out == NULL && strstr(e.msg, "fuzz-input: ") == e.msg);
}

/* ---------------------------------------------------------------- writing */

static void test_encode(test_state *ts) {
  uint16_t h[6] = {0x3c00, 1, 2, 3, 4, 0xffff};
  snt_tensor_buf t = {.dtype = SNT_F16, .rank = 2, .dims = {2, 3}, .data = h, .name = "half"};
  Onnx__TensorProto tp;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_onnx_tensor_encode(&t, &tp, &e), SNT_OK);
  CHECK_INT(ts, tp.data_type, SNT_F16);
  CHECK(ts, tp.n_dims == 2 && tp.dims[0] == 2 && tp.dims[1] == 3);
  CHECK(ts, tp.has_raw_data && tp.raw_data.len == 12 && tp.raw_data.data[0] == 0x00 && tp.raw_data.data[1] == 0x3c);
  CHECK_STR(ts, tp.name, "half");
  CHECK(ts, tp.name != t.name && tp.raw_data.data != (uint8_t *)h); /* copies */
  snt_onnx_tensor_proto_clear(&tp);
  CHECK(ts, tp.dims == NULL && tp.name == NULL && tp.raw_data.data == NULL && tp.n_dims == 0);
  /* Every type through a file and back, scalar and zero-size included. */
  uint8_t payload[64], bools[64];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 37 + 11), bools[i] = (uint8_t)(i % 3 == 0);
  const snt_dtype types[] = {SNT_F32, SNT_F64, SNT_F16, SNT_BF16, SNT_I8,  SNT_I16, SNT_I32,
                             SNT_I64, SNT_U8,  SNT_U16, SNT_U32,  SNT_U64, SNT_BOOL};
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    for (int shape = 0; shape < 3; shape++) {
      snt_tensor_buf a = {.dtype = types[i], .rank = shape == 0 ? 0 : 2, .dims = {2, shape == 1 ? 3 : 0},
                          .data = types[i] == SNT_BOOL ? bools : payload, .name = shape ? "t" : NULL};
      snt_tensor_buf b;
      CHECK_INT(ts, snt_onnx_write_tensor_file(WORK "/every.pb", &a, &e), SNT_OK);
      CHECK_INT(ts, snt_onnx_read_tensor_file(WORK "/every.pb", &b, &e), SNT_OK);
      CHECK(ts, same_tensor(&a, &b) && b.data != NULL);
      snt_tensor_buf_free(&b);
    }
  snt_tensor_buf bad = {.dtype = SNT_STRING, .rank = 0, .data = payload};
  CHECK_INT(ts, snt_onnx_tensor_encode(&bad, &tp, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "STRING") != NULL);
  bad = (snt_tensor_buf){.dtype = SNT_F32, .rank = 1, .dims = {-3}, .data = payload, .name = "neg"};
  CHECK_INT(ts, snt_onnx_tensor_encode(&bad, &tp, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, "tensor 'neg'") && strstr(e.msg, "negative"));
  bad = (snt_tensor_buf){.dtype = SNT_F32, .rank = 1, .dims = {2}, .data = NULL};
  CHECK_INT(ts, snt_onnx_tensor_encode(&bad, &tp, &e), SNT_ERR_INPUT);
  CHECK_INT(ts, snt_onnx_write_tensor_file(WORK "/bad.pb", &bad, &e), SNT_ERR_INPUT);
  CHECK(ts, strstr(e.msg, WORK "/bad.pb: ") == e.msg && access(WORK "/bad.pb", F_OK) != 0);
  CHECK_INT(ts, snt_onnx_write_tensor_file(WORK "/no-dir/x.pb", &t, &e), SNT_ERR_IO);
  CHECK(ts, strstr(e.msg, WORK "/no-dir/x.pb") != NULL);
}

/* No temporary (".sinter-tmp-*") file left in WORK. */
static int temp_files_left(void) {
  DIR *d = opendir(WORK);
  int n = 0;
  for (struct dirent *de; d && (de = readdir(d));) n += strstr(de->d_name, SNT_FILE_TMP_PREFIX) != NULL;
  if (d) closedir(d);
  return n;
}

static void remove_temp_files(void) {
  DIR *d = opendir(WORK);
  char path[PATH_CAP];
  for (struct dirent *de; d && (de = readdir(d));)
    if (strstr(de->d_name, SNT_FILE_TMP_PREFIX)) {
      snprintf(path, sizeof path, "%s/%s", WORK, de->d_name);
      unlink(path);
    }
  if (d) closedir(d);
}

/* A writer that dies halfway (here: killed by SIGXFSZ past a file-size limit) or fails
 * leaves the previous file as it was. */
static void test_atomic_save(test_state *ts) {
  const char *target = WORK "/atomic.onnx";
  const char *src = NODE_DIR "/test_constant/model.onnx";
  Onnx__ModelProto *m = NULL;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_onnx_load_model(src, &m, &e), SNT_OK);
  if (!m) return;
  CHECK_INT(ts, write_bytes(target, "previous", 8), 0);
  chmod(target, 0640);
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit rl = {.rlim_cur = 100, .rlim_max = 100};
    setrlimit(RLIMIT_FSIZE, &rl);
    /* The file module ignores SIGXFSZ, so the write past 100 bytes fails with EFBIG. */
    _exit(snt_onnx_save_model(target, m, NULL) == SNT_ERR_IO ? 3 : 0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(ts, WIFEXITED(status) && WEXITSTATUS(status) == 3);
  CHECK_INT(ts, temp_files_left(), 0);
  size_t n = 0;
  uint8_t *now = read_bytes(target, &n);
  CHECK(ts, now && n == 8 && memcmp(now, "previous", 8) == 0);
  free(now);
  remove_temp_files(); /* the killed writer's partial file */
  /* The same failure reported, not fatal: an error, the old file intact, no temporary left. */
  struct rlimit old, rl = {.rlim_cur = 100, .rlim_max = RLIM_INFINITY};
  getrlimit(RLIMIT_FSIZE, &old);
  rl.rlim_max = old.rlim_max;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &rl);
  snt_status s = snt_onnx_save_model(target, m, &e);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, prev);
  CHECK_INT(ts, s, SNT_ERR_IO);
  CHECK(ts, strstr(e.msg, target) != NULL);
  CHECK_INT(ts, temp_files_left(), 0);
  now = read_bytes(target, &n);
  CHECK(ts, now && n == 8 && memcmp(now, "previous", 8) == 0);
  free(now);
  /* A successful save replaces the file whole and keeps its mode. */
  CHECK_INT(ts, snt_onnx_save_model(target, m, &e), SNT_OK);
  CHECK(ts, same_file_bytes(target, src) && temp_files_left() == 0);
  struct stat st;
  CHECK(ts, stat(target, &st) == 0 && (st.st_mode & 0777) == 0640);
  snt_onnx_free_model(m);
}

static void test_opset_and_dirname(test_state *ts) {
  Onnx__OperatorSetIdProto a, b, c;
  onnx__operator_set_id_proto__init(&a);
  onnx__operator_set_id_proto__init(&b);
  onnx__operator_set_id_proto__init(&c);
  a.domain = "com.microsoft", a.has_version = 1, a.version = 1;
  b.domain = "ai.onnx", b.has_version = 1, b.version = 13;
  c.domain = NULL, c.has_version = 1, c.version = 11;
  Onnx__OperatorSetIdProto *ops[] = {&a, &b, &c};
  Onnx__ModelProto m;
  onnx__model_proto__init(&m);
  CHECK_INT(ts, snt_onnx_opset(&m), 0);
  m.n_opset_import = 1, m.opset_import = ops;
  CHECK_INT(ts, snt_onnx_opset(&m), 0);
  m.n_opset_import = 2;
  CHECK_INT(ts, snt_onnx_opset(&m), 13);
  Onnx__OperatorSetIdProto *ops2[] = {&a, &c}; /* domain absent means ai.onnx */
  m.opset_import = ops2;
  CHECK_INT(ts, snt_onnx_opset(&m), 11);
  const char *cases[][2] = {{"a/b/model.onnx", "a/b"}, {"model.onnx", "."}, {"/model.onnx", "/"},
                            {"a//b", "a"},               {"/", "/"},            {"./x.pb", "."}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *d = NULL;
    CHECK_INT(ts, snt_onnx_dirname(cases[i][0], &d, NULL), SNT_OK);
    CHECK_STR(ts, d, cases[i][1]);
    free(d);
  }
}

/* The fuzz seed with initializers (tests/fuzz/seeds/onnx/initializers.onnx): every typed
 * field decodes; its external tensor fails cleanly when the directory does not exist. */
static void test_fuzz_seed(test_state *ts) {
  char path[PATH_CAP];
  snprintf(path, sizeof path, "%s", __FILE__);
  char *slash = strrchr(path, '/');
  if (!slash || snprintf(slash, sizeof path - (size_t)(slash - path), "/../fuzz/seeds/onnx/initializers.onnx") < 0)
    return;
  Onnx__ModelProto *m = NULL;
  snt_err e = {{0}};
  CHECK_INT(ts, snt_onnx_load_model(path, &m, &e), SNT_OK);
  if (!m) return;
  CHECK_INT(ts, snt_onnx_opset(m), 13);
  int ok = 0, io = 0;
  for (size_t i = 0; i < m->graph->n_initializer; i++) {
    snt_tensor_buf t;
    snt_status s = snt_onnx_tensor_decode(m->graph->initializer[i], "/nonexistent-sinter-dir", &t, &e);
    ok += s == SNT_OK;
    io += s == SNT_ERR_IO && strstr(e.msg, "/nonexistent-sinter-dir/weights.bin") != NULL;
    snt_tensor_buf_free(&t);
  }
  CHECK_INT(ts, ok, 13);
  CHECK_INT(ts, io, 1);
  snt_onnx_free_model(m);
}

int main(void) {
  test_state ts = {0};
  mkdir(SINTER_TEST_TMP, 0755);
  mkdir(WORK, 0755);
  remove_temp_files();
  char extra[MAX_EXTRA][PATH_CAP];
  int n_extra = 0;
  test_typed_fields(&ts, extra, &n_extra);
  test_raw_and_shapes(&ts, extra, &n_extra);
  test_external(&ts, extra, &n_extra);
  refs r = {0};
  if (load_refs(&ts, &r, extra, n_extra) == 0) {
    /* The hand-built files as numpy reads them. */
    for (int i = 0; i < n_extra; i++) {
      snt_tensor_buf t;
      snt_err e = {{0}};
      CHECK_INT(&ts, snt_onnx_read_tensor_file(extra[i], &t, &e), SNT_OK);
      if (t.data) check_ref(&ts, &r, extra[i], &t);
      snt_tensor_buf_free(&t);
    }
    test_shared_cases(&ts, &r);
    size_t unseen = 0;
    for (size_t i = 0; i < r.n; i++)
      if (r.v[i].seen != 1) {
        unseen++;
        fprintf(stderr, "  reference line %s matched %d times\n", r.v[i].key, r.v[i].seen);
      }
    CHECK_INT(&ts, unseen, 0);
    printf("numpy reference: %zu tensors\n", r.n);
  }
  free_refs(&r);
  test_bad_tensors(&ts);
  test_bad_files(&ts);
  test_encode(&ts);
  test_atomic_save(&ts);
  test_opset_and_dirname(&ts);
  test_fuzz_seed(&ts);
  return test_report("test_onnx_io", &ts);
}
