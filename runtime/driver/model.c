/* Opening a compiled model: threads, weights from an ONNX file. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/driver/driver.h"
#include "sinter/kernels.h"
#include "sinter/onnx_io.h"

size_t snt_rt_io_bytes(const snt_model_io *io) {
  size_t n = snt_dtype_size(io->dtype);
  for (int k = 0; k < io->rank; k++) n *= (size_t)io->dims[k];
  return n;
}

void *snt_rt_alloc(const char *model, size_t bytes, const char *what) {
  const char *cap = getenv("SINTER_FAIL_ALLOC_OVER");
  void *p = cap && *cap && bytes > strtoull(cap, NULL, 10) ? NULL : calloc(1, bytes ? bytes : 1);
  if (!p) fprintf(stderr, "%s: out of memory: cannot allocate %zu bytes for %s\n", model, bytes, what);
  return p;
}

int64_t snt_rt_count_nonfinite(snt_dtype dtype, const void *data, int64_t n) {
  int64_t bad = 0;
  if (dtype == SNT_F32)
    for (int64_t i = 0; i < n; i++) bad += !isfinite(((const float *)data)[i]);
  else if (dtype == SNT_F64)
    for (int64_t i = 0; i < n; i++) bad += !isfinite(((const double *)data)[i]);
  return bad;
}

/* Non-finite parameters make every output meaningless (a softmax may still look finite):
 * counted once at open so the commands can say so. */
static void check_weights(snt_rt_model *m, const unsigned char *blob) {
  const snt_model_info *info = m->info;
  for (int p = 0; blob && p < info->n_params; p++) {
    const snt_model_param *mp = &info->params[p];
    int64_t n = 1;
    for (int k = 0; k < mp->rank; k++) n *= mp->dims[k];
    int64_t bad = snt_rt_count_nonfinite(mp->dtype, blob + mp->offset, n);
    if (bad && !m->bad_weights) m->bad_param = mp->name;
    m->bad_weights += bad;
  }
}

/* Copies each parameter's initializer (same name, type and shape) into a blob. */
const char *snt_rt_label(const snt_model_info *info, int k, char *buf, size_t size) {
  if (k >= 0 && k < info->n_labels) return info->labels[k];
  snprintf(buf, size, "class %d", k);
  return buf;
}

void snt_rt_copy_params(const snt_model_info *from, const unsigned char *src, const snt_model_info *to, unsigned char *dst) {
  for (int i = 0; i < to->n_params; i++)
    for (int j = 0; j < from->n_params; j++)
      if (strcmp(from->params[j].name, to->params[i].name) == 0) {
        int64_t n = 1;
        for (int k = 0; k < to->params[i].rank; k++) n *= to->params[i].dims[k];
        memcpy(dst + to->params[i].offset, src + from->params[j].offset, (size_t)n * snt_dtype_size(to->params[i].dtype));
        break;
      }
}

int snt_rt_load_weights(const snt_model_info *info, const char *path, void **out) {
  Onnx__ModelProto *m = NULL;
  snt_err e;
  if (snt_onnx_load_model(path, &m, &e) != SNT_OK) {
    fprintf(stderr, "%s\n", e.msg);
    return SNT_RT_EXIT_USER;
  }
  unsigned char *blob = snt_rt_alloc(info->name, info->weights_bytes + 64, "the weights");
  int rc = blob ? 0 : SNT_RT_EXIT_INTERNAL;
  for (int p = 0; p < info->n_params && !rc; p++) {
    const snt_model_param *mp = &info->params[p];
    const Onnx__TensorProto *tp = NULL;
    for (size_t i = 0; i < m->graph->n_initializer && !tp; i++)
      if (strcmp(m->graph->initializer[i]->name, mp->name) == 0) tp = m->graph->initializer[i];
    snt_tensor_buf t = {0};
    if (!tp) {
      fprintf(stderr, "%s: no initializer named '%s' (the model's parameters are named as `EXE export-onnx` writes them)\n", path, mp->name);
      rc = SNT_RT_EXIT_USER;
    } else if (snt_onnx_tensor_decode(tp, NULL, &t, &e) != SNT_OK) {
      fprintf(stderr, "%s\n", e.msg);
      rc = SNT_RT_EXIT_USER;
    } else if (t.dtype != mp->dtype || t.rank != mp->rank || memcmp(t.dims, mp->dims, sizeof(int64_t) * (size_t)t.rank)) {
      fprintf(stderr, "%s: initializer '%s' has another type or shape than the model's parameter\n", path, mp->name);
      rc = SNT_RT_EXIT_USER;
    } else {
      memcpy(blob + mp->offset, t.data, snt_tensor_buf_nbytes(&t));
    }
    snt_tensor_buf_free(&t);
  }
  snt_onnx_free_model(m);
  if (rc) free(blob);
  else *out = blob;
  return rc;
}

int snt_rt_open(const snt_model_info *info, const snt_rt_common *c, snt_rt_model *out) {
  memset(out, 0, sizeof *out);
  out->info = info;
  out->n_inst = info->instances > 1 && info->instances <= 64 ? info->instances : 1;
  /* Threads split the batch between model copies; each copy's linear algebra then runs on
   * one thread. A single copy gives all threads to the linear algebra instead. */
  out->threads = c->threads > 0 ? c->threads : openblas_get_num_procs();
  int threads = c->threads > 0 ? c->threads : out->n_inst < out->threads ? out->n_inst : out->threads;
  out->workers = threads < out->n_inst ? threads : out->n_inst;
  /* One copy per worker: a copy's arena stays in cache from one of its slices to the next. */
  out->n_copies = out->workers;
  out->inst_threads = out->n_inst > 1 ? 1 : out->threads;
  openblas_set_num_threads(out->inst_threads);
  out->batch = info->batch * out->n_inst;
  for (int i = 0; i < info->n_inputs && i < SNT_RT_MAX_IO; i++) {
    out->in[i] = info->inputs[i];
    if (out->in[i].batched) out->in[i].dims[0] = out->batch;
  }
  for (int i = 0; i < info->n_outputs && i < SNT_RT_MAX_IO; i++) {
    out->out[i] = info->outputs[i];
    if (out->out[i].batched) out->out[i].dims[0] = out->batch;
  }
  if (c->weights) {
    int rc = snt_rt_load_weights(info, c->weights, &out->blob);
    if (rc) return rc;
  }
  check_weights(out, out->blob ? out->blob : info->weights);
  if (snt_rt_bf16(info, c) && !snt_k_bf16_available())
    fprintf(stderr, "%s: warning: --precision bf16 (or compiled so), but this CPU has no AVX512_BF16 (or SINTER_ISA "
                    "forbids AVX-512): running in FP32\n", info->name);
  if (out->bad_weights)
    fprintf(stderr, "%s: warning: the weights%s%s hold %lld non-finite value%s (NaN or Inf), the first in '%s': every "
                    "output is invalid\n", info->name, c->weights ? " in " : "", c->weights ? c->weights : "",
            (long long)out->bad_weights, out->bad_weights == 1 ? "" : "s", out->bad_param);
  /* A thread start per run costs 30-60 us here, as much as a small model's whole batch. */
  if (out->workers > 1) out->pool = snt_k_ctx_create(out->workers); /* NULL: threads per run */
  for (int k = 0; k < out->n_copies; k++) {
    if (!(out->inst[k] = info->create())) {
      fprintf(stderr, "%s: out of memory: cannot allocate %zu bytes for model copy %d of %d (its activation arena and "
                      "scratch for a batch of %lld)\n", info->name, info->memory_bytes, k + 1, out->n_copies,
              (long long)info->batch);
      snt_rt_close(out);
      return SNT_RT_EXIT_INTERNAL;
    }
    if (out->blob) info->set_weights(out->inst[k], out->blob);
    info->set_threads(out->inst[k], out->inst_threads);
    info->set_precision(out->inst[k], snt_rt_bf16(info, c));
  }
  return 0;
}

void snt_rt_close(snt_rt_model *m) {
  for (int k = 0; k < m->n_copies; k++)
    if (m->inst[k]) m->info->destroy(m->inst[k]);
  snt_k_ctx_destroy(m->pool);
  free(m->blob);
  memset(m, 0, sizeof *m);
}

typedef struct job {
  snt_rt_model *m;
  const void *const *in;
  void *const *out;
  int64_t n; /* samples of the whole run */
  int first, step, rc; /* worker `first` runs copy `first` */
} job;

/* Copy k's share of n samples: its slice of the batch, cut at n (0: nothing to do). */
static int64_t share(const snt_rt_model *m, int k, int64_t n) {
  int64_t b = m->info->batch, r = n - (int64_t)k * b;
  return r < 0 ? 0 : r > b ? b : r;
}

/* Runs copy c on one slice; when profiling, adds the slice's node times to the copy's sums. */
static int run_copy(snt_rt_model *m, int c, int64_t rows, const void *const *in, void *const *out) {
  const snt_model_info *info = m->info;
  int rc = info->run_n ? info->run_n(m->inst[c], rows, in, out)
                       : info->run(m->inst[c], in, out); /* a model without run_n runs its whole batch */
  if (m->prof_stamps) {
    const double *s = m->prof_stamps + (size_t)c * ((size_t)m->prof_nodes + 1);
    double *sum = m->prof_sums + (size_t)c * (size_t)m->prof_nodes;
    for (int i = 0; i < m->prof_nodes; i++) sum[i] += s[i + 1] - s[i];
  }
  return rc;
}

/* Worker `first` runs the slices first, first + step, ... on its own copy, one after another. */
static void *work(void *arg) {
  job *j = arg;
  const snt_model_info *info = j->m->info;
  for (int k = j->first; k < j->m->n_inst && !j->rc && share(j->m, k, j->n) > 0; k += j->step) {
    const void *in[SNT_RT_MAX_IO];
    void *out[SNT_RT_MAX_IO];
    for (int i = 0; i < info->n_inputs; i++)
      in[i] = (const char *)j->in[i] + (info->inputs[i].batched ? (size_t)k * snt_rt_io_bytes(&info->inputs[i]) : 0);
    for (int i = 0; i < info->n_outputs; i++)
      out[i] = (char *)j->out[i] + (size_t)k * snt_rt_io_bytes(&info->outputs[i]);
    j->rc = run_copy(j->m, j->first, share(j->m, k, j->n), in, out);
  }
  return NULL;
}

static void pool_work(void *arg, int t, int threads) {
  (void)threads;
  work((job *)arg + t);
}

/* Kernel threads per copy: the run's threads shared by the copies running at once (all of them
 * when one copy has rows). Changed only when the number of active copies calls for it. */
static void give_threads(snt_rt_model *m, int active) {
  int at_once = active < m->workers ? active : m->workers;
  int want = at_once <= 1 ? m->threads : m->threads / at_once > 1 ? m->threads / at_once : 1;
  if (want == m->inst_threads) return;
  m->inst_threads = want;
  openblas_set_num_threads(want);
  for (int k = 0; k < m->n_copies; k++) m->info->set_threads(m->inst[k], want);
}

static int run_all(snt_rt_model *m, int64_t n, const void *const *in, void *const *out, int *failed_copy);

static const char *failure_reason(int st) {
  switch (st) {
  case SNT_ERR_INPUT: return "its kernel refused the values it was given (an index, a class or a size out of the op's range)";
  case SNT_ERR_NOMEM: return "its kernel ran out of memory";
  default: return NULL;
  }
}

void snt_rt_report_failure(const snt_model_info *info, void *inst, int st, const char *what) {
  int at = info->failed_node ? info->failed_node(inst) : -1;
  const char *why = failure_reason(st);
  fprintf(stderr, "%s%s%s: ", info->name, what ? " " : "", what ? what : "");
  if (at >= 0 && at < info->n_nodes) {
    fputs("node '", stderr);
    snt_rt_fprint_name(stderr, info->nodes[at].name, 0);
    fprintf(stderr, "' (%s) failed: ", info->nodes[at].op);
  } else {
    fputs("running the model failed: ", stderr);
  }
  if (why) fprintf(stderr, "%s\n", why);
  else fprintf(stderr, "status %d from its kernel\n", st);
}

int snt_rt_run_n(snt_rt_model *m, int64_t n, const void *const *in, void *const *out) {
  if (n < 1 || n > m->batch) {
    fprintf(stderr, "%s: internal: a run of %lld samples (1 to %lld)\n", m->info->name, (long long)n, (long long)m->batch);
    return SNT_RT_EXIT_INTERNAL;
  }
  int copy = 0, rc = run_all(m, n, in, out, &copy);
  if (rc) snt_rt_report_failure(m->info, m->inst[copy], rc, NULL);
  return rc;
}

int snt_rt_run(snt_rt_model *m, const void *const *in, void *const *out) { return snt_rt_run_n(m, m->batch, in, out); }

/* The first failure among the workers' jobs: its status, and its copy in *failed_copy. */
static int first_failure(const job *jobs, int workers, int *failed_copy) {
  for (int w = 0; w < workers; w++)
    if (jobs[w].rc) {
      *failed_copy = jobs[w].first;
      return jobs[w].rc;
    }
  return 0;
}

static int run_all(snt_rt_model *m, int64_t n, const void *const *in, void *const *out, int *failed_copy) {
  int64_t b = m->info->batch;
  int active = (int)((n + b - 1) / b), workers = active < m->workers ? active : m->workers;
  if (m->prof_sums) memset(m->prof_sums, 0, sizeof(double) * (size_t)m->n_copies * (size_t)m->prof_nodes);
  if (m->n_inst > 1) give_threads(m, active);
  if (active == 1) return run_copy(m, 0, n, in, out);
  job jobs[64];
  pthread_t tid[64];
  bool started[64] = {false};
  for (int w = 0; w < workers; w++) jobs[w] = (job){m, in, out, n, w, workers, 0};
  if (m->pool) snt_k_ctx_set_threads(m->pool, workers);
  if (m->pool && snt_k_ctx_threads(m->pool) == workers) { /* else the team could not grow */
    snt_k_ctx_parallel(m->pool, pool_work, jobs);
    return first_failure(jobs, workers, failed_copy);
  }
  for (int w = 1; w < workers; w++) started[w] = pthread_create(&tid[w], NULL, work, &jobs[w]) == 0;
  for (int w = 1; w < workers; w++)
    if (!started[w]) work(&jobs[w]); /* no thread to be had: do its share here */
  work(&jobs[0]);
  for (int w = 1; w < workers; w++)
    if (started[w]) pthread_join(tid[w], NULL);
  return first_failure(jobs, workers, failed_copy);
}
