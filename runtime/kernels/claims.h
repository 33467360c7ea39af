/* Work items shared by two threads from both ends: one takes items from the front of a range,
 * the other from the back, until they meet. A thread whose core runs slower (a virtual
 * machine's cores do, by turns) takes fewer, and each keeps one contiguous run, so what a
 * kernel shares along a run (an input transform, a packed block) is made twice at most at the
 * meeting point, as with a static split. Kernels pair their threads (2p from the front, 2p + 1
 * from the back of pair p's segment); an item is computed the same whoever takes it. */
#ifndef SINTER_RUNTIME_KERNELS_CLAIMS_H
#define SINTER_RUNTIME_KERNELS_CLAIMS_H

#include <stdatomic.h>
#include <stdint.h>

/* front in the low 32 bits, back (one past the last item left) in the high 32 bits */
typedef struct snt_k_claims {
  _Atomic uint64_t word;
} snt_k_claims;

/* Items [first, end) left to take (none when end <= first); end - first < 2^32. */
static inline void snt_k_claims_init(snt_k_claims *c, int64_t first, int64_t end) {
  uint64_t n = end > first ? (uint64_t)(end - first) & 0xFFFFFFFFu : 0;
  atomic_init(&c->word, n << 32);
}

/* Takes up to `want` (>= 1) items from the front (back 0) or the back (back 1), relative to
 * the range's first item: [*lo, *lo + count). Returns count, 0 when none is left. */
static inline int64_t snt_k_claims_take(snt_k_claims *c, int back, int64_t want, int64_t *lo) {
  uint64_t w = atomic_load_explicit(&c->word, memory_order_relaxed);
  for (;;) {
    uint64_t front = w & 0xFFFFFFFFu, end = w >> 32, left = end - front;
    uint64_t n = (uint64_t)want < left ? (uint64_t)want : left;
    if (n == 0) return 0;
    uint64_t next = back ? (end - n) << 32 | front : end << 32 | (front + n);
    if (atomic_compare_exchange_weak_explicit(&c->word, &w, next, memory_order_relaxed, memory_order_relaxed)) {
      *lo = (int64_t)(back ? end - n : front);
      return (int64_t)n;
    }
  }
}

#endif
