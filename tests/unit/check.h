/* A minimal test harness: CHECK records a failure and goes on; main returns nonzero if any failed. */
#ifndef SINTER_TESTS_CHECK_H
#define SINTER_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

typedef struct test_state {
  int checks, failures;
} test_state;

#define CHECK(ts, cond)                                                               \
  do {                                                                                \
    (ts)->checks++;                                                                   \
    if (!(cond)) {                                                                    \
      (ts)->failures++;                                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);        \
    }                                                                                 \
  } while (0)

#define CHECK_STR(ts, got, want)                                                      \
  do {                                                                                \
    const char *g_ = (got), *w_ = (want);                                             \
    (ts)->checks++;                                                                   \
    if (!g_ || strcmp(g_, w_) != 0) {                                                 \
      (ts)->failures++;                                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, #got, \
              g_ ? g_ : "(null)", w_);                                                \
    }                                                                                 \
  } while (0)

#define CHECK_INT(ts, got, want)                                                      \
  do {                                                                                \
    long long g_ = (long long)(got), w_ = (long long)(want);                          \
    (ts)->checks++;                                                                   \
    if (g_ != w_) {                                                                   \
      (ts)->failures++;                                                               \
      fprintf(stderr, "%s:%d: check failed: %s == %lld, want %lld\n", __FILE__, __LINE__, #got, g_, w_); \
    }                                                                                 \
  } while (0)

static inline int test_report(const char *name, const test_state *ts) {
  printf("%s: %d checks, %d failed\n", name, ts->checks, ts->failures);
  return ts->failures ? 1 : 0;
}

#endif
