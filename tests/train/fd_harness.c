/* Finite-difference check of a generated training step (tests/train/check_fd.py builds it).
 *
 * Linked with the C that `sinter compile MODEL.nn --emit-c DIR` writes (<p>.c, <p>_train.c,
 * <p>_eval.c, <p>_suite.c with its main renamed), it calls the generated <p>_train_step
 * through <p>_suite directly: the weights live in memory in the step's layout (the
 * snt_model_param table of the step model), so a perturbed loss costs one step, no files.
 *
 *   fd_harness [--only SUBSTRING] [--verbose] [--norm-only] [--n N] [--samples K] [--h H] [--rtol R] [--atol A] [--seed S] [--dropout-seed S]
 *              [--sample-weights] [--scale X] [--max-skip F]
 *
 * What it does, independently of sinter's initialisers and of its data pipeline:
 *   1. fills every parameter from its own RNG by role (kernel: Glorot uniform times --scale;
 *      bias, beta, moving_mean: +-0.1; gamma: 0.8..1.2; moving_variance: 0.5..1.5), a batch of
 *      n images (uniform 0..255), labels and (--sample-weights) sample weights in 0..2 with
 *      one zero weight;
 *   2. runs the step once: the loss and every dLoss/dparam output (snt_train_param.grad_output);
 *   3. for every trainable parameter, on a sample of K elements (all of a small tensor, else
 *      K random ones and the largest-gradient one), the central differences
 *        d(h)   = (L(w + h) - L(w - h)) / 2h   and   d(h/2),
 *      each from two more steps with the same dropout seed (the same mask every time);
 *   4. an element whose d(h) and d(h/2) disagree by more than atol + rtol |d(h/2)| is not
 *      smooth at this scale (a ReLU kink, a max-pool argmax switch): it is skipped and
 *      counted (at most --max-skip of a tensor's sample); every other element must satisfy
 *        |g - d(h/2)| <= atol + rtol |d(h/2)|
 *      (not with --norm-only, for whole deep models) and the tensor's sample must satisfy
 *      ||g - d|| <= rtol ||d|| + atol sqrt(k).
 *   5. when n is below the step's batch B, the rows past n are filled with garbage (1e4 pixels,
 *      other labels) and the outputs must equal those of a run with zero rows there (rows
 *      past n are ignored).
 *
 * Tolerances (float32 step): the loss is O(1) and summed in float32, so one evaluation carries
 * a rounding error of about 1e-6 (a few ulps of 1.2e-7 times the accumulation depth); divided
 * by 2h = 1e-2 (h = 5e-3 for d(h/2)) that is ~2e-4 absolute in a difference quotient: the
 * default atol. The truncation error of a central difference is h^2/6 |f'''| ~ 1e-5 relative
 * on O(1) activations, far below the default rtol of 1e-2, which allows for the rounding of
 * the gradient itself (float32 sums over the batch and the spatial positions).
 * Exit status: 0 when every tensor passes, 1 otherwise. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sinter/model.h>
#include <sinter/train.h>

#ifndef SNT_P
#error "compile with -DSNT_P=<prefix of the generated model>"
#endif
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
extern const snt_train_info CAT(SNT_P, _suite);
#define SUITE CAT(SNT_P, _suite)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_u64(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double rng_unif(double lo, double hi) { return lo + (hi - lo) * (double)(rng_u64() >> 11) / 9007199254740992.0; }

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int64_t numel(const snt_model_param *p) {
  int64_t n = 1;
  for (int k = 0; k < p->rank; k++) n *= p->dims[k];
  return n;
}

static size_t io_bytes(const snt_model_io *io) {
  int64_t n = 1;
  for (int k = 0; k < io->rank; k++) n *= io->dims[k];
  return (size_t)n * (io->dtype == SNT_I64 ? 8 : 4);
}

typedef struct ctx {
  const snt_model_info *sm;
  void *inst;
  float *blob;
  const void *ins[3];
  void **outs;
  int64_t n;
  uint64_t seed;
  long steps;
} ctx;

static double loss(ctx *c) {
  c->steps++;
  if (SUITE.step(c->inst, c->n, c->seed, c->ins, c->outs) != 0) {
    fprintf(stderr, "the training step failed\n");
    exit(2);
  }
  return ((const float *)c->outs[0])[0];
}

static const snt_model_param *step_param(const snt_model_info *sm, const char *name) {
  for (int i = 0; i < sm->n_params; i++)
    if (strcmp(sm->params[i].name, name) == 0) return &sm->params[i];
  return NULL;
}

int main(int argc, char **argv) {
  int64_t n = 0;
  int samples = 6, sample_weights = 0, verbose = 0, norm_only = 0;
  const char *only = NULL;
  double h = 2e-3, rtol = 1e-2, atol = 3e-4, scale = 1.0, max_skip = 1.0 / 3;
  uint64_t seed = 1, dropout_seed = 7;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--sample-weights") == 0) sample_weights = 1;
    else if (strcmp(a, "--verbose") == 0) verbose = 1;
    else if (strcmp(a, "--norm-only") == 0) norm_only = 1;
    else if (strcmp(a, "--only") == 0 && v) only = v, i++;
    else if (!v) return fprintf(stderr, "%s needs a value\n", a), 1;
    else if (strcmp(a, "--n") == 0) n = atoll(v), i++;
    else if (strcmp(a, "--samples") == 0) samples = atoi(v), i++;
    else if (strcmp(a, "--h") == 0) h = atof(v), i++;
    else if (strcmp(a, "--rtol") == 0) rtol = atof(v), i++;
    else if (strcmp(a, "--atol") == 0) atol = atof(v), i++;
    else if (strcmp(a, "--scale") == 0) scale = atof(v), i++;
    else if (strcmp(a, "--max-skip") == 0) max_skip = atof(v), i++;
    else if (strcmp(a, "--seed") == 0) seed = strtoull(v, NULL, 10), i++;
    else if (strcmp(a, "--dropout-seed") == 0) dropout_seed = strtoull(v, NULL, 10), i++;
    else return fprintf(stderr, "unknown argument %s\n", a), 1;
  }
  rng_state ^= seed * 0x2545f4914f6cdd1dull;
  const snt_model_info *sm = SUITE.step_model;
  const int64_t B = sm->batch;
  if (n <= 0 || n > B) n = B;
  const int64_t C = sm->outputs[1].dims[1];

  ctx c = {.sm = sm, .n = n, .seed = dropout_seed};
  c.inst = sm->create();
  c.blob = aligned_alloc(64, (sm->weights_bytes + 63) / 64 * 64);
  if (!c.inst || !c.blob) return 2;
  memset(c.blob, 0, sm->weights_bytes);
  for (int i = 0; i < sm->n_params; i++) {
    const snt_model_param *p = &sm->params[i];
    float *w = (float *)((unsigned char *)c.blob + p->offset);
    int64_t m = numel(p);
    double lo = -0.1, hi = 0.1;
    if (ends_with(p->name, "/kernel")) {
      double fan_in, fan_out;
      if (p->rank == 4) {
        double rf = (double)(p->dims[2] * p->dims[3]);
        fan_in = (double)p->dims[1] * rf, fan_out = (double)p->dims[0] * rf;
      } else {
        fan_in = (double)p->dims[0], fan_out = (double)p->dims[p->rank - 1];
      }
      hi = scale * sqrt(6.0 / (fan_in + fan_out)), lo = -hi;
    } else if (ends_with(p->name, "/gamma")) {
      lo = 0.8, hi = 1.2;
    } else if (ends_with(p->name, "/moving_variance")) {
      lo = 0.5, hi = 1.5;
    }
    for (int64_t k = 0; k < m; k++) w[k] = (float)rng_unif(lo, hi);
  }
  sm->set_weights(c.inst, c.blob);

  float *x = calloc(1, io_bytes(&sm->inputs[0]));
  int64_t *lab = calloc(1, io_bytes(&sm->inputs[1]));
  float *sw = calloc(1, io_bytes(&sm->inputs[2]));
  const int64_t per = (int64_t)(io_bytes(&sm->inputs[0]) / 4 / (size_t)B);
  for (int64_t k = 0; k < n * per; k++) x[k] = (float)rng_unif(0, 255);
  for (int64_t b = 0; b < n; b++) {
    lab[b] = (int64_t)(rng_u64() % (uint64_t)C);
    sw[b] = sample_weights ? (b == 1 ? 0.0f : (float)rng_unif(0.2, 2.0)) : 1.0f;
  }
  c.ins[0] = x, c.ins[1] = lab, c.ins[2] = sw;
  c.outs = calloc((size_t)sm->n_outputs, sizeof *c.outs);
  for (int o = 0; o < sm->n_outputs; o++) c.outs[o] = calloc(1, io_bytes(&sm->outputs[o]) + 64);

  const double L0 = loss(&c);
  printf("model %s: step batch %lld, n %lld, %d trainable tensors, %lld trainable scalars, loss %.7g\n", sm->name,
         (long long)B, (long long)n, SUITE.n_params, (long long)SUITE.n_trainable, L0);
  if (!isfinite(L0)) return printf("FAIL: loss is not finite\n"), 1;
  /* the reference gradients, copied before the perturbed steps overwrite the outputs */
  float **g = calloc((size_t)SUITE.n_params, sizeof *g);
  for (int i = 0; i < SUITE.n_params; i++) {
    const snt_model_io *io = &sm->outputs[SUITE.params[i].grad_output];
    g[i] = malloc(io_bytes(io));
    memcpy(g[i], c.outs[SUITE.params[i].grad_output], io_bytes(io));
  }
  int failures = 0;

  /* rows past n are ignored: garbage there changes no output */
  if (n < B) {
    void **ref = calloc((size_t)sm->n_outputs, sizeof *ref);
    for (int o = 0; o < sm->n_outputs; o++) {
      ref[o] = malloc(io_bytes(&sm->outputs[o]));
      memcpy(ref[o], c.outs[o], io_bytes(&sm->outputs[o]));
    }
    for (int64_t k = n * per; k < B * per; k++) x[k] = 1e4f * (float)(k % 7);
    for (int64_t b = n; b < B; b++) lab[b] = (b + 1) % C, sw[b] = 5.0f;
    loss(&c);
    int bad = 0;
    for (int o = 0; o < sm->n_outputs; o++) {
      const snt_model_io *io = &sm->outputs[o];
      int64_t m = (int64_t)(io_bytes(io) / 4);
      if (o == 1) m = m / B * n; /* the probabilities; the rest are whole tensors */
      for (int64_t k = 0; k < m; k++) {
        float a = ((float *)ref[o])[k], b = ((float *)c.outs[o])[k];
        if (!(fabsf(a - b) <= 1e-6f * (1 + fabsf(a)))) {
          if (bad++ < 5) printf("FAIL: rows past n change output %d '%s' [%lld]: %g vs %g\n", o, io->name, (long long)k, a, b);
        }
      }
    }
    printf("rows %lld..%lld of garbage: %s\n", (long long)n, (long long)B - 1, bad ? "outputs changed" : "no output changed");
    failures += bad > 0;
    for (int64_t k = n * per; k < B * per; k++) x[k] = 0;
    for (int64_t b = n; b < B; b++) lab[b] = 0, sw[b] = 0;
    for (int o = 0; o < sm->n_outputs; o++) free(ref[o]);
    free(ref);
  }

  printf("%-44s %10s %6s %5s %12s %12s %10s %s\n", "parameter", "numel", "sample", "skip", "|g|", "|fd|", "rel", "");
  double worst = 0;
  long total_sampled = 0, total_skipped = 0;
  for (int i = 0; i < SUITE.n_params; i++) {
    const snt_train_param *tp = &SUITE.params[i];
    const snt_model_param *p = step_param(sm, tp->name);
    if (!p) return printf("FAIL: trainable '%s' is not a parameter of the step\n", tp->name), 1;
    if (only && !strstr(tp->name, only)) continue;
    const snt_model_io *io = &sm->outputs[tp->grad_output];
    const int64_t m = numel(p);
    if ((int64_t)(io_bytes(io) / 4) != m) {
      printf("FAIL: %s: gradient output '%s' has %zu values, the parameter %lld\n", tp->name, io->name, io_bytes(io) / 4,
             (long long)m);
      failures++;
      continue;
    }
    float *w = (float *)((unsigned char *)c.blob + p->offset);
    /* the sample */
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(samples + 1));
    int k = 0;
    if (m <= samples + 1) {
      for (int64_t e = 0; e < m; e++) idx[k++] = e;
    } else {
      int64_t amax = 0;
      for (int64_t e = 1; e < m; e++)
        if (fabsf(g[i][e]) > fabsf(g[i][amax])) amax = e;
      idx[k++] = amax;
      while (k < samples + 1) {
        int64_t e = (int64_t)(rng_u64() % (uint64_t)m);
        int dup = 0;
        for (int j = 0; j < k; j++) dup |= idx[j] == e;
        if (!dup) idx[k++] = e;
      }
    }
    double num = 0, den = 0, gn = 0;
    int skipped = 0, checked = 0, bad = 0;
    for (int j = 0; j < k; j++) {
      const int64_t e = idx[j];
      const float w0 = w[e];
      double d[2];
      for (int s = 0; s < 2; s++) {
        const double hs = s == 0 ? h : h / 2;
        w[e] = (float)(w0 + hs);
        const double hp = (double)w[e] - w0; /* the step actually taken, after rounding to float */
        const double lp = loss(&c);
        w[e] = (float)(w0 - hs);
        const double hm = w0 - (double)w[e];
        const double lm = loss(&c);
        w[e] = w0;
        d[s] = (lp - lm) / (hp + hm);
      }
      const double ge = g[i][e];
      if (verbose) printf("  %s[%lld]: w %.6g gradient %.7g, d(h) %.7g, d(h/2) %.7g\n", tp->name, (long long)e, w0, ge, d[0], d[1]);
      if (fabs(d[0] - d[1]) > atol + rtol * fabs(d[1])) {
        skipped++;
        continue;
      }
      checked++;
      num += (ge - d[1]) * (ge - d[1]), den += d[1] * d[1], gn += ge * ge;
      if (!norm_only && !(fabs(ge - d[1]) <= atol + rtol * fabs(d[1]))) {
        if (bad++ < 4)
          printf("  FAIL %s[%lld]: gradient %.6g, finite differences %.6g (h) %.6g (h/2)\n", tp->name, (long long)e, ge,
                 d[0], d[1]);
      }
    }
    const double rel = sqrt(num) / (sqrt(den) > 1e-30 ? sqrt(den) : 1e-30);
    const int norm_ok = sqrt(num) <= rtol * sqrt(den) + atol * sqrt((double)(checked > 0 ? checked : 1));
    const int ok = bad == 0 && norm_ok && (checked > 0 || max_skip >= 1) && skipped <= max_skip * k;
    total_sampled += k, total_skipped += skipped;
    if (checked > 0 && sqrt(den) > atol * sqrt((double)checked) && rel > worst) worst = rel;
    /* a gradient at the noise level (a bias before a BatchNorm: exactly 0) has no relative error */
    char rels[32] = "-";
    if (checked > 0 && sqrt(den) > atol * sqrt((double)checked)) snprintf(rels, sizeof rels, "%.3g", rel);
    printf("%-44s %10lld %6d %5d %12.5g %12.5g %10s %s\n", tp->name, (long long)m, k, skipped, sqrt(gn), sqrt(den), rels,
           ok ? "ok" : "FAIL");
    failures += !ok;
    free(idx);
  }
  /* whatever --max-skip allows per tensor, most of the sample must be smooth enough to check */
  printf("%ld of %ld sampled elements not smooth at h (skipped)\n", total_skipped, total_sampled);
  if (total_skipped * 2 > total_sampled) printf("FAIL: more than half of the sample was skipped\n"), failures++;
  printf("%ld training steps; worst relative error over tensors with a gradient above the noise: %.3g\n", c.steps, worst);
  printf("%s\n", failures ? "FAILED" : "PASSED");
  for (int i = 0; i < SUITE.n_params; i++) free(g[i]);
  free(g);
  for (int o = 0; o < sm->n_outputs; o++) free(c.outs[o]);
  free(c.outs);
  free(x), free(lab), free(sw), free(c.blob);
  sm->destroy(c.inst);
  return failures ? 1 : 0;
}
