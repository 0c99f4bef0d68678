// kernels::sum_layout, the [outer, r, inner] view both backends' sum kernels read: one run of
// reduced dims (size-1 dims ignored) is used in place, anything else is permuted into a
// [kept, reduced] copy whose elements are x's, in that order.
#include <gtest/gtest.h>

#include "engine/factories.h"
#include "ops/kernels/reduce_layout.h"
#include "ops/ops.h"

namespace atebm::kernels {
namespace {

Tensor ramp(const Shape& shape) { return reshape(arange(0, static_cast<double>(numel_of(shape)), 1.0), shape); }

TEST(SumLayout, OneRunOfReducedDimsIsReadInPlace) {
  const Tensor x = ramp({2, 3, 1, 4, 5});
  const SumLayout l = sum_layout(x, {false, true, true, true, false});  // the size-1 dim joins the run
  EXPECT_EQ(l.outer, 2);
  EXPECT_EQ(l.r, 12);
  EXPECT_EQ(l.inner, 5);
  EXPECT_EQ(l.xc.storage().get(), x.storage().get()) << "a contiguous x needs no copy";

  const SumLayout all = sum_layout(x, {true, true, true, true, true});
  EXPECT_EQ(all.outer * all.inner, 1);
  EXPECT_EQ(all.r, 120);
}

TEST(SumLayout, SeparatedReducedDimsArePermutedLast) {
  // Reduce dims 0 and 2 of [2, 3, 4]: the copy is [kept=3, reduced=2·4] with
  // xc[k, i·4 + j] = x[i, k, j].
  const Tensor x = ramp({2, 3, 4});
  const SumLayout l = sum_layout(x, {true, false, true});
  EXPECT_EQ(l.outer, 3);
  EXPECT_EQ(l.r, 8);
  EXPECT_EQ(l.inner, 1);
  ASSERT_TRUE(l.xc.is_contiguous());
  const std::vector<float> xs = x.to_vector<float>(), got = l.xc.to_vector<float>();
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 4; ++j) EXPECT_EQ(got[k * 8 + i * 4 + j], xs[i * 12 + k * 4 + j]) << k << i << j;
}

TEST(SumLayout, NonContiguousInputIsCopiedInLogicalOrder) {
  const Tensor x = permute(ramp({4, 3}), {1, 0});  // [3, 4], strides (1, 3)
  const SumLayout l = sum_layout(x, {false, true});
  EXPECT_EQ(l.outer, 3);
  EXPECT_EQ(l.r, 4);
  EXPECT_TRUE(l.xc.is_contiguous());
  EXPECT_EQ(l.xc.to_vector<float>(), contiguous(x).to_vector<float>());
}

}  // namespace
}  // namespace atebm::kernels
