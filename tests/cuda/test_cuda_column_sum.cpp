// Sums over a non-trailing dimension on the GPU (ops/cuda/reduce.cu, sum_middle with inner > 1),
// on the shapes that take its segmented path: too few output columns to keep a GPU busy, so the
// reduced dimension is cut into segments (column_segment), one thread per (segment, column),
// and the partials are summed in order. The op table's sum cases are too small to reach it.
//   [200, 7] over dim 0          segments of 32 rows, the last one 8 rows (uneven)
//   [3, 150, 5] over dim 1       inner > 1 and outer > 1: segments of 32, the last 22
//   [100000, 2] over dim 0       the segment count capped at 1024 (segments of 98 rows)
//   [40, 3] over dim 0           too short to split: one thread per column
// Each against the exact sum (the CPU in float64 over the same values): float64 to a few ulp,
// float32 within one float32 rounding (the GPU accumulates in double, rounds once). Outputs
// must be bitwise the same over two runs.
// Without the CUDA backend or without a visible GPU every test skips.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "common/expect.h"
#include "common/gpu_test.h"
#include "engine/device.h"
#include "engine/factories.h"
#include "engine/generator.h"
#include "ops/ops.h"

namespace atebm {
namespace {

struct ColumnCase {
  std::string name;
  Shape shape;
  int64_t dim;
};

void PrintTo(const ColumnCase& c, std::ostream* os) { *os << c.name; }

class CudaColumnSum : public ::testing::TestWithParam<ColumnCase> {
 protected:
  void SetUp() override { ATEBM_SKIP_WITHOUT_GPU(); }
};

// Largest |got - want| / bound over the outputs (all float64 on the CPU): <= 1 passes.
double worst_over_bound(const Tensor& got, const Tensor& want, const Tensor& bound) {
  const Tensor g = copy_to(got, Device::cpu(), DType::Float64), w = contiguous(want), b = contiguous(bound);
  double worst = 0.0;
  for (int64_t i = 0; i < w.numel(); ++i)
    worst = std::max(worst, std::abs(g.data<double>()[i] - w.data<double>()[i]) / b.data<double>()[i]);
  return worst;
}

TEST_P(CudaColumnSum, MatchesTheExactSumAndRepeatsBitwise) {
  const ColumnCase& c = GetParam();
  Generator gen(77);
  const Tensor host = randn(c.shape, {.dtype = DType::Float64}, &gen);
  const int64_t r = c.shape[static_cast<size_t>(c.dim)];
  // Any order of r double additions is within (r + 1)·2^-53·Σ|x| of the exact sum.
  const double u53 = (static_cast<double>(r) + 1.0) * std::ldexp(1.0, -53);
  for (DType dt : {DType::Float64, DType::Float32}) {
    const Tensor x = copy_to(host, Device::cuda(), dt);
    const Tensor x64 = copy_to(x, Device::cpu(), DType::Float64);  // the values the GPU sums
    const Tensor exact = sum(x64, {c.dim}), abs_sum = sum(abs(x64), {c.dim});
    // float64: the double error; float32: that, then one rounding to float32 (2^-24 relative).
    Tensor bound = mul(abs_sum, u53);
    if (dt == DType::Float32) bound = add(bound, mul(abs(exact), std::ldexp(1.0, -24)));
    bound = add(bound, 1e-300);  // an all-zero column would divide by zero
    const Tensor got = sum(x, {c.dim});
    ASSERT_EQ(got.shape(), exact.shape());
    EXPECT_LE(worst_over_bound(got, exact, bound), 1.0) << c.name << " " << dtype_name(dt);
    EXPECT_EQ(test::max_abs_diff(sum(x, {c.dim}), got), 0.0) << c.name << " " << dtype_name(dt) << ": two runs differ";
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaColumnSum,
                         ::testing::Values(ColumnCase{"uneven_segments", {200, 7}, 0},
                                           ColumnCase{"inner_and_outer", {3, 150, 5}, 1},
                                           ColumnCase{"capped_segments", {100000, 2}, 0},
                                           ColumnCase{"too_short_to_split", {40, 3}, 0}),
                         [](const ::testing::TestParamInfo<ColumnCase>& info) { return info.param.name; });

}  // namespace
}  // namespace atebm
