// Reductions over a non-trailing dimension on the GPU (ops/cuda/reduce.cu with inner > 1), on
// the shapes that take the segmented path: too few output columns to keep a GPU busy, so the
// reduced dimension is cut into segments (column_segment), one thread per (segment, column),
// and the segments are combined in a second pass. The op table's cases are too small to reach it.
//   [200, 7] over dim 0          segments of 32 rows, the last one 8 rows (uneven)
//   [3, 150, 5] over dim 1       inner > 1 and outer > 1: segments of 32, the last 22
//   [100000, 2] over dim 0       the segment count capped at 1024 (segments of 98 rows)
//   [40, 3] over dim 0           too short to split: one thread per column
// Sums (sum_middle) against the exact sum (the CPU in float64 over the same values): float64 to
// a few ulp, float32 within one float32 rounding (the GPU accumulates in double, rounds once).
// max and min (values and indices) exactly equal to the CPU's sequential scan, on data with
// ties and NaNs placed across segment boundaries (the first NaN wins, else the first extreme).
// Outputs must be bitwise the same over two runs.
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

class CudaColumnReduce : public ::testing::TestWithParam<ColumnCase> {
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

TEST_P(CudaColumnReduce, MatchesTheExactSumAndRepeatsBitwise) {
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

// Small integers (many ties), with NaNs: two in column 0, in different segments (the first
// one's row must win), and one in the last row of column 1.
Tensor tied_with_nans(const Shape& shape, int64_t dim) {
  Generator gen(5);
  Tensor x = randn(shape, {.dtype = DType::Float64}, &gen);
  double* p = x.data<double>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = std::floor(2.0 * p[i]);
  const int64_t r = shape[static_cast<size_t>(dim)];
  // Strides of a contiguous tensor: the first element of column 0 at row i is p[i * stride].
  int64_t stride = 1;
  for (size_t d = static_cast<size_t>(dim) + 1; d < shape.size(); ++d) stride *= shape[d];
  p[(r * 3 / 4) * stride] = std::nan("");
  p[(r / 3) * stride] = std::nan("");
  if (shape.back() > 1) p[(r - 1) * stride + 1] = std::nan("");  // column 1: at the very end
  return x;
}

TEST_P(CudaColumnReduce, MaxAndMinMatchTheCpuExactly) {
  const ColumnCase& c = GetParam();
  const Tensor host = tied_with_nans(c.shape, c.dim);
  for (DType dt : {DType::Float64, DType::Float32}) {
    const Tensor xh = copy_to(host, Device::cpu(), dt);
    const Tensor x = copy_to(xh, Device::cuda(), dt);
    for (bool is_max : {true, false}) {
      const ValuesIndices want = is_max ? max(xh, c.dim) : min(xh, c.dim);
      const ValuesIndices got = is_max ? max(x, c.dim) : min(x, c.dim);
      const std::string what = c.name + " " + std::string(dtype_name(dt)) + (is_max ? " max" : " min");
      ASSERT_EQ(got.values.shape(), want.values.shape()) << what;
      const std::vector<double> gv = copy_to(got.values, Device::cpu(), DType::Float64).to_vector<double>();
      const std::vector<double> wv = copy_to(want.values, Device::cpu(), DType::Float64).to_vector<double>();
      for (size_t i = 0; i < wv.size(); ++i)
        ASSERT_TRUE(gv[i] == wv[i] || (std::isnan(gv[i]) && std::isnan(wv[i]))) << what << " value " << i;
      EXPECT_EQ(to(got.indices, Device::cpu()).to_vector<int64_t>(), want.indices.to_vector<int64_t>()) << what;
      const ValuesIndices again = is_max ? max(x, c.dim) : min(x, c.dim);
      EXPECT_EQ(to(again.indices, Device::cpu()).to_vector<int64_t>(),
                to(got.indices, Device::cpu()).to_vector<int64_t>()) << what << ": two runs differ";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaColumnReduce,
                         ::testing::Values(ColumnCase{"uneven_segments", {200, 7}, 0},
                                           ColumnCase{"inner_and_outer", {3, 150, 5}, 1},
                                           ColumnCase{"capped_segments", {100000, 2}, 0},
                                           ColumnCase{"too_short_to_split", {40, 3}, 0}),
                         [](const ::testing::TestParamInfo<ColumnCase>& info) { return info.param.name; });

}  // namespace
}  // namespace atebm
