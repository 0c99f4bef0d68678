// Forward values of the ops on small hand-computed cases, the errors bad inputs must raise
// (naming the op and the shapes involved), and thread-count-independent sums.
#include <gtest/gtest.h>

#include "tests/common/expect.h"

#include <cmath>
#include <cstdlib>

#include "engine/parallel.h"
#include "ops/ops.h"

using namespace atebm;

namespace {

const TensorOptions kF64{.dtype = DType::Float64};

Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector<double>(v, s, kF64); }

void expect_values(const Tensor& t, const Shape& shape, const std::vector<double>& want, double tol = 1e-12) {
  EXPECT_EQ(t.shape(), shape);
  const std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

// ---- forward values ----------------------------------------------------------------------------

TEST(OpValues, BroadcastingAdd) {
  const Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_values(add(a, f64({10, 20, 30}, {3})), {2, 3}, {11, 22, 33, 14, 25, 36});
  expect_values(add(f64({100, 200}, {2, 1}), f64({1, 2, 3}, {3})), {2, 3}, {101, 102, 103, 201, 202, 203});
  expect_values(mul(a, f64({2}, {})), {2, 3}, {2, 4, 6, 8, 10, 12});
  expect_values(rsub(1.0, a), {2, 3}, {0, -1, -2, -3, -4, -5});
}

TEST(OpValues, SoftplusIsStableAtExtremes) {
  const Tensor y = softplus(f64({50, -50, 0}, {3}));
  expect_values(y, {3}, {50.0, std::exp(-50.0), std::log(2.0)}, 1e-15);
  EXPECT_GT(y.to_vector<double>()[1], 0.0);  // log1p(e^-50) ≈ 1.9e-22, not rounded to 0
  for (float v : softplus(from_vector<float>({100.f, -100.f}, {2})).to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
}

TEST(OpValues, SigmoidAtExtremesHasNoNanOrInf) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    const std::vector<double> y = sigmoid(from_vector<double>({30, -30, 0, 800, -800}, {5}, {.dtype = dt}))
                                      .to_vector<double>();
    for (double v : y) EXPECT_TRUE(std::isfinite(v)) << dtype_name(dt);
    EXPECT_NEAR(y[0], 1.0, 1e-7);
    EXPECT_NEAR(y[1], 0.0, 1e-12);
    EXPECT_GT(y[1], 0.0);
    EXPECT_EQ(y[2], 0.5);
    EXPECT_EQ(y[3], 1.0);
    EXPECT_EQ(y[4], 0.0);
  }
}

TEST(OpValues, SumAndMeanOverDims) {
  const Tensor x = reshape(arange(24, kF64), {2, 3, 4});  // x[i][j][k] = 12i + 4j + k
  EXPECT_DOUBLE_EQ(sum(x).item(), 276.0);
  expect_values(sum(x, {1}), {2, 4}, {12, 15, 18, 21, 48, 51, 54, 57});
  expect_values(sum(x, {0, 2}), {3}, {60, 92, 124});
  expect_values(sum(x, {-1}, true), {2, 3, 1}, {6, 22, 38, 54, 70, 86});
  EXPECT_DOUBLE_EQ(mean(x).item(), 11.5);
  expect_values(mean(x, {0, 2}), {3}, {7.5, 11.5, 15.5});
  expect_values(mean(x, {2}, true), {2, 3, 1}, {1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
  // A reduction of a transposed view reads through the strides.
  expect_values(sum(transpose(reshape(arange(6, kF64), {2, 3}), 0, 1), {1}), {3}, {3, 5, 7});
}

TEST(OpValues, MaxMinWithIndices) {
  const Tensor x = f64({3, 7, 7, 1, 9, -2, 4, 4}, {2, 4});
  const ValuesIndices mx = max(x, 1);
  expect_values(mx.values, {2}, {7, 9});
  EXPECT_EQ(mx.indices.dtype(), DType::Int64);
  EXPECT_EQ(mx.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));  // the first of a tie
  const ValuesIndices mn = min(x, 0, true);
  expect_values(mn.values, {1, 4}, {3, -2, 4, 1});
  EXPECT_EQ(mn.indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(max(x, -1, true).indices.shape(), (Shape{2, 1}));
}

TEST(OpValues, CatAndStack) {
  const Tensor a = f64({1, 2, 3, 4}, {2, 2}), b = f64({5, 6}, {2, 1});
  expect_values(cat({a, b}, 1), {2, 3}, {1, 2, 5, 3, 4, 6});
  expect_values(cat({a, f64({7, 8}, {1, 2}), a}, 0), {5, 2}, {1, 2, 3, 4, 7, 8, 1, 2, 3, 4});
  expect_values(stack({f64({1, 2}, {2}), f64({3, 4}, {2})}, 1), {2, 2}, {1, 3, 2, 4});
}

TEST(OpValues, IndexSelectGatherScatter) {
  const Tensor x = f64({0, 1, 2, 10, 11, 12, 20, 21, 22}, {3, 3});
  const Tensor idx = from_vector<int64_t>({2, 0, 2}, {3}, {.dtype = DType::Int64});
  expect_values(index_select(x, 0, idx), {3, 3}, {20, 21, 22, 0, 1, 2, 20, 21, 22});
  expect_values(index_select(x, 1, idx), {3, 3}, {2, 0, 2, 12, 10, 12, 22, 20, 22});
  const Tensor gi = from_vector<int64_t>({1, 1, 0, 2, 2, 0}, {3, 2}, {.dtype = DType::Int64});
  expect_values(gather(x, 1, gi), {3, 2}, {1, 1, 10, 12, 22, 20});
  expect_values(scatter_add({3, 3}, 1, gi, f64({1, 2, 3, 4, 5, 6}, {3, 2})), {3, 3}, {0, 3, 0, 3, 0, 4, 6, 0, 5});
  const Tensor ai = from_vector<int64_t>({1, 0, 1}, {3}, {.dtype = DType::Int64});
  expect_values(index_add({2, 1}, 0, ai, f64({1, 2, 3}, {3, 1})), {2, 1}, {2, 4});  // repeats accumulate
}

TEST(OpValues, WhereWithBoolAndFloatMasks) {
  const Tensor m = from_vector<bool>({true, false, true}, {3}, {.dtype = DType::Bool});
  const Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_values(where(m, a, f64({-1}, {})), {2, 3}, {1, -1, 3, 4, -1, 6});
  expect_values(where(f64({0, 1}, {2, 1}), a, 9.0), {2, 3}, {9, 9, 9, 4, 5, 6});
  expect_values(masked_select(a, m), {4}, {1, 3, 4, 6});
}

TEST(OpValues, PiecewiseFunctions) {
  const Tensor x = f64({-2, -0.5, 0, 0.25, 3}, {5});
  expect_values(clamp(x, -1, 1), {5}, {-1, -0.5, 0, 0.25, 1});
  expect_values(leaky_relu(x, 0.2), {5}, {-0.4, -0.1, 0, 0.25, 3});
  expect_values(relu(x), {5}, {0, 0, 0, 0.25, 3});
  expect_values(abs(x), {5}, {2, 0.5, 0, 0.25, 3});
}

TEST(OpValues, L2NormPerSample) {
  const Tensor x = f64({3, 4, 0, 0, 1, 2, 2, 0, 0, 0, 0, 0}, {3, 2, 2});
  expect_values(l2_norm_per_sample(x), {3}, {5, 3, 0});
  // The gradient at an all-zero sample is 0, never NaN.
  Tensor xl = clone(x).set_requires_grad(true);
  expect_values(grad({sum(l2_norm_per_sample(xl))}, {xl})[0], {3, 2, 2},
                {0.6, 0.8, 0, 0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 0, 0, 0, 0, 0});
}

TEST(OpValues, SumTo) {
  const Tensor x = reshape(arange(12, kF64), {2, 2, 3});
  expect_values(sum_to(x, {2, 1}), {2, 1}, {0 + 1 + 2 + 6 + 7 + 8, 3 + 4 + 5 + 9 + 10 + 11});
  expect_values(sum_to(x, {3}), {3}, {18, 22, 26});
  expect_values(sum_to(x, {}), {}, {66});
}

TEST(OpValues, ReshapeOfNonContiguousCopies) {
  const Tensor x = reshape(arange(6, kF64), {2, 3});  // [[0 1 2] [3 4 5]]
  const Tensor t = transpose(x, 0, 1);                  // [[0 3] [1 4] [2 5]]
  const Tensor r = reshape(t, {6});
  expect_values(r, {6}, {0, 3, 1, 4, 2, 5});
  EXPECT_NE(r.storage(), x.storage());  // a copy: no strides express this as a view
  EXPECT_EQ(reshape(x, {3, 2}).storage(), x.storage());
  EXPECT_THROW(view(t, {6}), Error);
}

TEST(OpValues, SliceWithStepAndNegativeStart) {
  const Tensor x = arange(10, kF64);
  expect_values(slice(x, 0, -7, 10, 3), {3}, {3, 6, 9});
  expect_values(slice(x, 0, 1, 8, 2), {4}, {1, 3, 5, 7});
  const Tensor m = reshape(arange(12, kF64), {3, 4});
  expect_values(slice(m, 1, 0, 4, 2), {3, 2}, {0, 2, 4, 6, 8, 10});
  expect_values(narrow(m, 0, 1, 2), {2, 4}, {4, 5, 6, 7, 8, 9, 10, 11});
  expect_values(select(m, 1, -1), {3}, {3, 7, 11});
}

// ---- bad inputs: atebm::Error naming the op and the shapes --------------------------------------

using atebm::test::expect_error;

TEST(OpErrors, AddBroadcastFailure) {
  expect_error([] { add(zeros({2, 3}), zeros({4})); }, {"add", "[2, 3]", "[4]"});
}

TEST(OpErrors, MulDtypeMismatch) {
  expect_error([] { mul(zeros({2, 3}), zeros({2, 3}, kF64)); }, {"mul", "float32", "float64", "[2, 3]"});
}

TEST(OpErrors, SumDimOutOfRange) {
  expect_error([] { sum(zeros({2, 3}), {2}); }, {"sum", "dim 2", "[2, 3]"});
}

TEST(OpErrors, CatMismatchedShapes) {
  expect_error([] { cat({zeros({2, 3}), zeros({2, 4})}, 0); }, {"cat", "[2, 3]", "[2, 4]"});
}

TEST(OpErrors, IndexSelectIndexOutOfRange) {
  const Tensor idx = from_vector<int64_t>({0, 5}, {2}, {.dtype = DType::Int64});
  expect_error([&] { index_select(zeros({4, 3}), 0, idx); }, {"index_select", "5", "[4, 3]"});
}

TEST(OpErrors, IndexOpsRejectZeroDimTensors) {
  // dim 0 of a 0-dim tensor is accepted by wrap_dim (as in PyTorch), but these ops read the
  // size of that dim: they must refuse instead of reading past an empty shape.
  const Tensor scalar_idx = from_vector<int64_t>({0}, {}, {.dtype = DType::Int64});
  const Tensor idx1 = from_vector<int64_t>({0}, {1}, {.dtype = DType::Int64});
  expect_error([&] { gather(zeros({}), 0, scalar_idx); }, {"gather", "at least 1 dim"});
  expect_error([&] { scatter_add({}, 0, scalar_idx, zeros({})); }, {"scatter_add", "at least 1 dim"});
  expect_error([&] { index_add({}, 0, idx1, zeros({1})); }, {"index_add", "at least 1 dim"});
  expect_error([&] { index_select(zeros({}), 0, idx1); }, {"index_select", "at least 1 dim"});
}

TEST(OpErrors, ReshapeWrongNumel) {
  expect_error([] { reshape(zeros({2, 3}), {4, 2}); }, {"reshape", "[4, 2]", "[2, 3]"});
}

TEST(OpErrors, NarrowOutOfRange) {
  expect_error([] { narrow(zeros({2, 3}), 1, 2, 2); }, {"narrow", "[2, 3]"});
}

TEST(OpErrors, ExpandIncompatible) {
  expect_error([] { expand(zeros({2, 3}), {2, 4}); }, {"expand", "[2, 3]", "[2, 4]"});
}

TEST(OpErrors, WhereWrongMaskDtype) {
  const Tensor mask = zeros({2, 3}, {.dtype = DType::Int64});
  expect_error([&] { where(mask, zeros({2, 3}), zeros({2, 3})); }, {"where", "int64", "[2, 3]"});
}

// A crash here must not take the other tests down, so the call runs in a child process that
// exits 0 only when cat throws atebm::Error (today it writes past an empty shape and crashes).
TEST(OpErrors, CatOfZeroDimTensorsThrows) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        try {
          cat({scalar_tensor(1.0), scalar_tensor(2.0)}, 0);
        } catch (const Error&) {
          std::exit(0);
        }
        std::exit(1);
      },
      ::testing::ExitedWithCode(0), "");
}

// ---- determinism --------------------------------------------------------------------------------

TEST(OpDeterminism, SumIsBitExactAcrossThreadCounts) {
  const int saved = num_threads();
  Generator gen(42);
  const Tensor x = rand({1000000}, {}, &gen);  // float32: rounding depends on the summation order
  std::vector<float> totals, row_sums;
  for (int n : {1, 2, 3}) {
    set_num_threads(n);
    totals.push_back(sum(x).to_vector<float>()[0]);
    row_sums.push_back(sum(reshape(x, {1000, 1000}), {1}).to_vector<float>()[999]);
  }
  set_num_threads(saved);
  EXPECT_EQ(num_threads(), saved);
  for (size_t i = 1; i < totals.size(); ++i) {
    EXPECT_EQ(totals[i], totals[0]) << "threads " << i + 1;  // bit-exact, not approximately
    EXPECT_EQ(row_sums[i], row_sums[0]);
  }
  EXPECT_NEAR(totals[0], 500000.0f, 2000.0f);
}

}  // namespace
