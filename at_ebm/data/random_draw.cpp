#include "at_ebm/data/random_draw.h"

#include "engine/error.h"
#include "engine/philox.h"

namespace atebm::data {

double draw_uniform(Generator& g) {
  const uint64_t off = g.take(1);
  const philox::Block b = philox::philox4x32_10(off, g.seed());
  return philox::u53(b.w[0], b.w[1]);
}

int64_t draw_int(Generator& g, int64_t lo, int64_t hi) {
  ATEBM_CHECK(lo <= hi, "draw_int: empty range [{}, {}]", lo, hi);
  const uint64_t off = g.take(1);
  const philox::Block b = philox::philox4x32_10(off, g.seed());
  const uint64_t bits = (static_cast<uint64_t>(b.w[0]) << 32) | b.w[1];
  return lo + static_cast<int64_t>(bits % (static_cast<uint64_t>(hi - lo) + 1));
}

uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

Generator sample_generator(uint64_t seed, uint64_t epoch, uint64_t position) {
  // The key differs from `seed` itself (which the loader's shuffling stream uses) and per epoch;
  // the offset separates the samples of one epoch.
  Generator g(mix64(mix64(seed ^ 0x5A17ull) + epoch));
  g.set_state({g.seed(), position * kBlocksPerSample});
  return g;
}

}  // namespace atebm::data
