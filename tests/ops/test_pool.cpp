// Pooling: avg_pool2d ↔ avg_pool2d_grad, global_avg_pool2d, max_pool2d. First and second
// derivatives by finite differences (float64), values by hand, and the error messages.
#include <gtest/gtest.h>

#include <string>

#include "engine/autograd/gradcheck.h"
#include "ops/ops.h"
#include "ops/op_test_util.h"

using namespace atebm;
using namespace atebm::test;

namespace {

using Pair = std::array<int64_t, 2>;







}  // namespace

TEST(PoolOps, AvgPoolGradcheckOverConfigurations) {
  const std::vector<Shape> shapes = {{1, 1, 4, 6}, {2, 2, 5, 4}};
  uint64_t seed = 1;
  for (const Shape& s : shapes)
    for (int64_t k : {2, 3})
      for (int64_t st : {1, 2})
        for (int64_t p : {0, 1})
          for (bool cip : {true, false}) {
            const Pair kernel{k, k == 2 ? 3 : 2}, stride{st, st == 1 ? 2 : 1}, pad{p, p};
            const std::string what = fmt::format("x {} kernel {} stride {} pad {} cip {}", shape_str(s), kernel,
                                                 stride, pad, cip);
            auto f = [&](const Tensors& in) -> Tensors { return {avg_pool2d(in[0], kernel, stride, pad, cip)}; };
            expect_first_and_second_order(f, {leaf(s, seed++)}, what);
          }
}

TEST(PoolOps, AvgPoolGradOpIsDifferentiable) {
  // avg_pool2d_grad as an op of its own (what a double backward differentiates).
  const Shape xs = {2, 1, 5, 4};
  const Pair k{3, 2}, s{2, 1}, p{1, 1};
  const Shape gs = avg_pool2d(zeros(xs, {.dtype = DType::Float64}), k, s, p).shape();
  for (bool cip : {true, false}) {
    auto f = [&](const Tensors& in) -> Tensors { return {avg_pool2d_grad(in[0], xs, k, s, p, cip)}; };
    expect_first_and_second_order(f, {leaf(gs, 7)}, fmt::format("avg_pool2d_grad cip {}", cip));
  }
}

TEST(PoolOps, AvgPoolValuesByHand) {
  Tensor x = reshape(arange(16, {.dtype = DType::Float64}), {1, 1, 4, 4});
  expect_near(avg_pool2d(x, {2, 2}, {2, 2}, {0, 0}), {2.5, 4.5, 10.5, 12.5});
  // 3×3 = 0..8, kernel 3, stride 1, padding 1: corner windows see {0, 1, 3, 4} (sum 8), edge
  // windows 6 elements, the centre all 9 (sum 36).
  Tensor y = reshape(arange(9, {.dtype = DType::Float64}), {1, 1, 3, 3});
  expect_near(avg_pool2d(y, {3, 3}, {1, 1}, {1, 1}, true),
              {8 / 9.0, 15 / 9.0, 12 / 9.0, 21 / 9.0, 36 / 9.0, 27 / 9.0, 20 / 9.0, 33 / 9.0, 24 / 9.0});
  expect_near(avg_pool2d(y, {3, 3}, {1, 1}, {1, 1}, false),
              {8 / 4.0, 15 / 6.0, 12 / 4.0, 21 / 6.0, 36 / 9.0, 27 / 6.0, 20 / 4.0, 33 / 6.0, 24 / 4.0});
  // The gradient of sum(avg_pool2d) spreads 1/count of each window over its elements.
  Tensor z = detach(y).set_requires_grad(true);
  const Tensor gz = grad({sum(avg_pool2d(z, {2, 2}, {1, 1}, {0, 0}))}, {z})[0];
  expect_near(gz, {0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25});
}

TEST(PoolOps, AvgPoolFloat32AndStridedInput) {
  Generator gen(3);
  Tensor x = randn({2, 3, 7, 5}, {.dtype = DType::Float64}, &gen);
  const Tensor ref = avg_pool2d(x, {3, 2}, {2, 1}, {1, 1});
  const Tensor f32 = avg_pool2d(to(x, DType::Float32), {3, 2}, {2, 1}, {1, 1});
  EXPECT_EQ(f32.dtype(), DType::Float32);
  expect_near(to(f32, DType::Float64), ref.to_vector<double>(), 1e-5);
  // A non-contiguous view pools like its contiguous copy.
  Tensor xt = transpose(randn({2, 3, 5, 7}, {.dtype = DType::Float64}, &gen), 2, 3);
  expect_near(avg_pool2d(xt, {2, 2}, {1, 2}, {0, 1}),
              avg_pool2d(contiguous(xt), {2, 2}, {1, 2}, {0, 1}).to_vector<double>());
}

TEST(PoolOps, GlobalAvgPool) {
  Tensor x = reshape(arange(8, {.dtype = DType::Float64}), {1, 2, 2, 2});
  const Tensor y = global_avg_pool2d(x);
  EXPECT_EQ(y.shape(), (Shape{1, 2}));
  expect_near(y, {1.5, 5.5});
  auto f = [](const Tensors& in) -> Tensors { return {global_avg_pool2d(in[0])}; };
  expect_first_and_second_order(f, {leaf({2, 3, 3, 2}, 4)}, "global_avg_pool2d");
  expect_error([] { global_avg_pool2d(zeros({2, 3, 4})); }, {"global_avg_pool2d", "[2, 3, 4]"});
}

TEST(PoolOps, MaxPoolGradcheckOverConfigurations) {
  const std::vector<Shape> shapes = {{1, 1, 5, 4}, {2, 2, 4, 5}};
  uint64_t seed = 11;
  for (const Shape& s : shapes)
    for (int64_t k : {2, 3})
      for (int64_t st : {1, 2})
        for (int64_t p : {0, 1})
          for (int64_t d : {1, 2}) {
            const Pair kernel{k, k}, stride{st, st}, pad{p, p}, dil{d, 1};
            if (s[2] + 2 * p < d * (k - 1) + 1) continue;  // window taller than the padded input
            const std::string what = fmt::format("x {} kernel {} stride {} pad {} dilation {}", shape_str(s), kernel,
                                                 stride, pad, dil);
            auto f = [&](const Tensors& in) -> Tensors {
              return {max_pool2d(in[0], kernel, stride, pad, dil).values};
            };
            expect_first_and_second_order(f, {distinct_leaf(s, seed++)}, what);
          }
}

TEST(PoolOps, MaxPoolValuesAndIndicesByHand) {
  Tensor x = t64({1, 5, 2, 7, 3, 9, 4, 8, 6}, {1, 1, 3, 3});
  ValuesIndices r = max_pool2d(x, {2, 2}, {1, 1}, {0, 0});
  expect_near(r.values, {7, 9, 8, 9});
  EXPECT_EQ(r.indices.dtype(), DType::Int64);
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{3, 5, 7, 5}));
  // Padding 1, stride 2: windows {x00}, {x01, x02}, {x10, x20}, {x11, x12, x21, x22}.
  r = max_pool2d(x, {2, 2}, {2, 2}, {1, 1});
  expect_near(r.values, {1, 5, 7, 9});
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 3, 5}));
  // Padding is −inf, not 0: an all-negative plane keeps its negative maxima.
  r = max_pool2d(neg(x), {2, 2}, {2, 2}, {1, 1});
  expect_near(r.values, {-1, -2, -4, -3});
  // Dilation 2 on 0..15 (4×4): each window takes rows/cols {i, i + 2}.
  Tensor a = reshape(arange(16, {.dtype = DType::Float64}), {1, 1, 4, 4});
  r = max_pool2d(a, {2, 2}, {1, 1}, {0, 0}, {2, 2});
  expect_near(r.values, {10, 11, 14, 15});
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{10, 11, 14, 15}));
  // The gradient goes to the argmax; overlapping windows that pick the same element add up.
  Tensor xl = detach(x).set_requires_grad(true);
  const Tensor gx = grad({sum(max_pool2d(xl, {2, 2}, {1, 1}, {0, 0}).values)}, {xl})[0];
  expect_near(gx, {0, 0, 0, 1, 0, 2, 0, 1, 0});
}

TEST(PoolOps, MaxPoolFloat32) {
  Generator gen(5);
  Tensor x = randn({2, 2, 6, 5}, {}, &gen);
  const ValuesIndices r32 = max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  const ValuesIndices r64 = max_pool2d(to(x, DType::Float64), {3, 3}, {2, 2}, {1, 1});
  EXPECT_EQ(r32.values.dtype(), DType::Float32);
  expect_near(to(r32.values, DType::Float64), r64.values.to_vector<double>(), 0.0);
  EXPECT_EQ(r32.indices.to_vector<int64_t>(), r64.indices.to_vector<int64_t>());
}

TEST(PoolOps, BadInputsNameOpAndShapes) {
  const Tensor x = zeros({1, 1, 2, 2});
  expect_error([] { avg_pool2d(zeros({1, 4, 4}), {2, 2}, {2, 2}, {0, 0}); }, {"avg_pool2d", "[1, 4, 4]", "NCHW"});
  expect_error([&] { avg_pool2d(x, {3, 3}, {1, 1}, {0, 0}); },
               {"avg_pool2d", "larger than the padded input", "[1, 1, 2, 2]", "kernel [3, 3]"});
  expect_error([&] { max_pool2d(x, {3, 3}, {1, 1}, {0, 0}); }, {"max_pool2d", "larger than the padded input"});
  expect_error([&] { avg_pool2d(x, {2, 2}, {1, 1}, {-1, 0}); }, {"avg_pool2d", "non-negative", "padding [-1, 0]"});
  expect_error([&] { max_pool2d(x, {2, 2}, {1, 1}, {2, 2}); }, {"max_pool2d", "half the kernel", "[1, 1, 2, 2]"});
  expect_error([&] { avg_pool2d(x, {2, 2}, {0, 1}, {0, 0}); }, {"avg_pool2d", "positive", "stride [0, 1]"});
  // Dilation 3 with padding 1 on 2 rows: the window taps rows −1 and 2, both padding.
  expect_error([] { max_pool2d(zeros({1, 1, 2, 4}), {2, 2}, {1, 1}, {1, 0}, {3, 1}); },
               {"max_pool2d", "only of padding", "[1, 1, 2, 4]"});
  expect_error([] { avg_pool2d_grad(zeros({1, 1, 3, 3}), {1, 1, 4, 4}, {2, 2}, {2, 2}, {0, 0}); },
               {"avg_pool2d_grad", "[1, 1, 3, 3]", "[1, 1, 2, 2]", "[1, 1, 4, 4]"});
  expect_error([] { avg_pool2d(zeros({1, 1, 4, 4}, {.dtype = DType::Int64}), {2, 2}, {2, 2}, {0, 0}); },
               {"avg_pool2d", "int64"});
}
