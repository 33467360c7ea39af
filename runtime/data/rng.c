/* A counter-based generator: every number is a hash of its key, so nothing has to be saved to
 * reproduce an epoch. SplitMix64's finaliser is a bijection with good avalanche; chaining it over
 * the key words makes neighbouring keys unrelated. */
#include "sinter/data.h"

static uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t snt_rng_u64(uint64_t seed, uint64_t stream, uint64_t index, uint64_t draw) {
  uint64_t h = mix64(seed);
  h = mix64(h ^ stream);
  h = mix64(h ^ index);
  return mix64(h ^ draw);
}

double snt_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index, uint64_t draw) {
  return (double)(snt_rng_u64(seed, stream, index, draw) >> 11) * 0x1.0p-53;
}

void snt_rng_shuffle_int(int *v, int n, uint64_t seed, uint64_t stream, uint64_t index) {
  for (int i = n - 1; i > 0; i--) {
    /* A multiply-shift maps 64 bits onto 0..i; its bias (< i / 2^64) is immaterial here. */
    uint64_t r = snt_rng_u64(seed, stream, index, (uint64_t)i);
    int j = (int)(((unsigned __int128)r * (uint64_t)(i + 1)) >> 64);
    int t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}
