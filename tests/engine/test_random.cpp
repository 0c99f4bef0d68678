// Philox4x32-10 against Random123's published known-answer vectors, and the properties the
// random factories promise: same seed → same stream, a saved state resumes the stream exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "engine/factories.h"
#include "engine/philox.h"

using namespace atebm;

namespace {

philox::Block kat(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  const uint64_t counter = (uint64_t{c1} << 32) | c0, stream = (uint64_t{c3} << 32) | c2,
                 key = (uint64_t{k1} << 32) | k0;
  return philox::philox4x32_10(counter, key, stream);
}

void expect_block(const philox::Block& b, uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3) {
  EXPECT_EQ(b.w[0], w0);
  EXPECT_EQ(b.w[1], w1);
  EXPECT_EQ(b.w[2], w2);
  EXPECT_EQ(b.w[3], w3);
}

}  // namespace

TEST(Philox, Random123KnownAnswers) {
  expect_block(kat(0, 0, 0, 0, 0, 0), 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8);
  expect_block(kat(~0u, ~0u, ~0u, ~0u, ~0u, ~0u), 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd);
  expect_block(kat(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0), 0xd16cfe09,
               0x94fdcceb, 0x5001e420, 0x24126ea1);
}

TEST(Random, SameSeedSameStream) {
  Generator a(42), b(42), c(43);
  EXPECT_EQ(rand({1000}, {}, &a).to_vector<float>(), rand({1000}, {}, &b).to_vector<float>());
  EXPECT_EQ(randn({7, 3}, {.dtype = DType::Float64}, &a).to_vector<double>(),
            randn({7, 3}, {.dtype = DType::Float64}, &b).to_vector<double>());
  EXPECT_NE(rand({16}, {}, &a).to_vector<float>(), rand({16}, {}, &c).to_vector<float>());
}

TEST(Random, SavedStateResumesExactly) {
  Generator g(7);
  (void)randn({33}, {}, &g);
  const GeneratorState saved = g.state();
  const auto first = rand({100}, {.dtype = DType::Float64}, &g).to_vector<double>();
  const auto perm1 = randperm(50, &g).to_vector<int64_t>();
  Generator h(0);
  h.set_state(saved);
  EXPECT_EQ(rand({100}, {.dtype = DType::Float64}, &h).to_vector<double>(), first);
  EXPECT_EQ(randperm(50, &h).to_vector<int64_t>(), perm1);
  EXPECT_EQ(g.state(), h.state());
}

TEST(Random, DistributionsHaveTheRightMoments) {
  Generator g(1);
  const auto u = rand({200000}, {.dtype = DType::Float64}, &g).to_vector<double>();
  const auto n = randn({200000}, {}, &g).to_vector<float>();
  double su = 0, su2 = 0, sn = 0, sn2 = 0, umin = 1, umax = 0;
  for (double v : u) {
    su += v;
    su2 += v * v;
    umin = std::min(umin, v);
    umax = std::max(umax, v);
  }
  for (float v : n) {
    ASSERT_TRUE(std::isfinite(v));
    sn += v;
    sn2 += double(v) * v;
  }
  const double N = 200000;
  EXPECT_NEAR(su / N, 0.5, 0.005);
  EXPECT_NEAR(su2 / N - (su / N) * (su / N), 1.0 / 12, 0.002);
  EXPECT_GE(umin, 0.0);
  EXPECT_LT(umax, 1.0);
  EXPECT_NEAR(sn / N, 0.0, 0.01);
  EXPECT_NEAR(sn2 / N, 1.0, 0.01);
}

TEST(Random, RandpermIsAPermutation) {
  Generator g(3);
  auto p = randperm(1000, &g).to_vector<int64_t>();
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(p, iota);
}

TEST(Random, UniformRangeAndStreamAdvance) {
  Generator g(5);
  const auto v = uniform({1001}, -2.0, 3.0, {}, &g).to_vector<float>();
  for (float x : v) {
    EXPECT_GE(x, -2.0f);
    EXPECT_LT(x, 3.0f);
  }
  // float32 draws use 4 values per Philox block: 1001 values → 251 blocks.
  EXPECT_EQ(g.state().offset, 251u);
}
