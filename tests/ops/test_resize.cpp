// Resizing: upsample_nearest2d, resize_bilinear2d ↔ resize_bilinear2d_grad. Values against
// hand-computed 2×2 → 4×4 and 4×4 → 2×2 results (PyTorch's conventions), first and second
// derivatives by finite differences, and the error messages.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "engine/autograd/gradcheck.h"
#include "ops/ops.h"
#include "ops/op_test_util.h"

using namespace atebm;
using namespace atebm::test;

namespace {






const Tensor& two_by_two() {
  static const Tensor x = t64({1, 2, 3, 4}, {1, 1, 2, 2});
  return x;
}

Tensor four_by_four() { return reshape(arange(16, {.dtype = DType::Float64}), {1, 1, 4, 4}); }

}  // namespace

TEST(ResizeOps, NearestByHand) {
  expect_near(upsample_nearest2d(two_by_two(), 4, 4), {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // 4 → 2 picks floor(dst · 2): rows/cols 0 and 2.
  expect_near(upsample_nearest2d(four_by_four(), 2, 2), {0, 2, 8, 10});
  // Non-integer ratio 2 → 3 (rows: floor(0), floor(2/3), floor(4/3) = 0, 0, 1) and 2 → 1.
  expect_near(upsample_nearest2d(two_by_two(), 3, 1), {1, 1, 3});
  const Tensor y32 = upsample_nearest2d(from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}), 4, 4);
  EXPECT_EQ(y32.dtype(), DType::Float32);
  EXPECT_EQ(y32.shape(), (Shape{1, 1, 4, 4}));
}

TEST(ResizeOps, NearestGradcheck) {
  // Kept tiny: each backward is an index_add, which opens an OpenMP region per call.
  const std::vector<std::tuple<Shape, int64_t, int64_t>> cases = {
      {{1, 1, 3, 2}, 5, 4}, {{1, 1, 3, 2}, 2, 1}, {{2, 1, 2, 3}, 3, 2}};
  uint64_t seed = 1;
  for (const auto& [xs, oh, ow] : cases) {
    auto f = [oh, ow](const Tensors& in) -> Tensors { return {upsample_nearest2d(in[0], oh, ow)}; };
    expect_first_and_second_order(f, {leaf(xs, seed++)}, fmt::format("nearest {} → {}×{}", shape_str(xs), oh, ow));
  }
}

TEST(ResizeOps, BilinearByHand) {
  // align_corners = false, 2 → 4: samples at −0.25 (clamped to 0), 0.25, 0.75, 1.25 → weights
  // a, ¾a + ¼b, ¼a + ¾b, b along each axis.
  expect_near(resize_bilinear2d(two_by_two(), 4, 4),
              {1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0});
  // align_corners = true, 2 → 4: samples at 0, ⅓, ⅔, 1.
  const double t = 1.0 / 3.0;
  std::vector<double> row0 = {1, 1 + t, 1 + 2 * t, 2};
  std::vector<double> want;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) want.push_back(row0[c] + 2.0 * r * t);
  expect_near(resize_bilinear2d(two_by_two(), 4, 4, true), want);
  // 4 → 2, align_corners = false: samples at 0.5 and 2.5, the mean of each 2×2 block.
  expect_near(resize_bilinear2d(four_by_four(), 2, 2), {2.5, 4.5, 10.5, 12.5});
  // 4 → 2, align_corners = true: samples at 0 and 3, the corners.
  expect_near(resize_bilinear2d(four_by_four(), 2, 2, true), {0, 3, 12, 15});
  // Same size is the identity.
  expect_near(resize_bilinear2d(four_by_four(), 4, 4), four_by_four().to_vector<double>());
}

TEST(ResizeOps, BilinearAntialiasByHand) {
  // 4 → 2 with antialias: triangle of half-width 2 around centres 1 and 3, evaluated at pixel
  // centres: weights ¾, ¾, ¼ (normalised: 3/7, 3/7, 1/7) on pixels 0..2 and 1/7, 3/7, 3/7 on 1..3.
  // Along one axis [0, 1, 2, 3] → [5/7, 16/7]; x = 4·row + col, so out = 4·r + c.
  const double a = 5.0 / 7.0, b = 16.0 / 7.0;
  expect_near(resize_bilinear2d(four_by_four(), 2, 2, false, true), {4 * a + a, 4 * a + b, 4 * b + a, 4 * b + b});
  // Enlarging is unchanged by antialias.
  expect_near(resize_bilinear2d(two_by_two(), 4, 4, false, true),
              resize_bilinear2d(two_by_two(), 4, 4).to_vector<double>());
  // A constant image stays constant (weights sum to 1) at any ratio.
  const Tensor c = resize_bilinear2d(full({1, 1, 9, 7}, 2.5, {.dtype = DType::Float64}), 2, 3, false, true);
  expect_near(c, std::vector<double>(6, 2.5));
}

TEST(ResizeOps, BilinearGradcheckOverConfigurations) {
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{5, 4}, {2, 1}, {1, 3}, {3, 2}};
  uint64_t seed = 20;
  for (const auto& [oh, ow] : sizes)
    for (bool ac : {false, true})
      for (bool aa : {false, true}) {
        auto f = [&](const Tensors& in) -> Tensors { return {resize_bilinear2d(in[0], oh, ow, ac, aa)}; };
        expect_first_and_second_order(f, {leaf({2, 1, 4, 3}, seed++)},
                                      fmt::format("bilinear [2, 1, 4, 3] → {}×{} align_corners {} antialias {}", oh,
                                                  ow, ac, aa));
      }
}

TEST(ResizeOps, BilinearGradOpIsDifferentiable) {
  for (bool aa : {false, true}) {
    auto f = [aa](const Tensors& in) -> Tensors { return {resize_bilinear2d_grad(in[0], {1, 2, 5, 3}, false, aa)}; };
    expect_first_and_second_order(f, {leaf({1, 2, 2, 4}, 40 + aa)}, fmt::format("resize_bilinear2d_grad aa {}", aa));
  }
}

TEST(ResizeOps, BilinearFloat32AndStrided) {
  Generator gen(50);
  Tensor x = randn({2, 3, 6, 5}, {.dtype = DType::Float64}, &gen);
  for (bool aa : {false, true}) {
    const Tensor ref = resize_bilinear2d(x, 3, 8, false, aa);
    const Tensor y32 = resize_bilinear2d(to(x, DType::Float32), 3, 8, false, aa);
    EXPECT_EQ(y32.dtype(), DType::Float32);
    expect_near(to(y32, DType::Float64), ref.to_vector<double>(), 1e-5);
  }
  Tensor xt = transpose(x, 2, 3);
  expect_near(resize_bilinear2d(xt, 4, 4), resize_bilinear2d(contiguous(xt), 4, 4).to_vector<double>());
}

TEST(ResizeOps, BadInputsNameOpAndShapes) {
  expect_error([] { upsample_nearest2d(zeros({2, 3, 4}), 4, 4); }, {"upsample_nearest2d", "[2, 3, 4]", "NCHW"});
  expect_error([] { resize_bilinear2d(zeros({3, 4}), 4, 4); }, {"resize_bilinear2d", "[3, 4]"});
  expect_error([] { resize_bilinear2d(zeros({1, 1, 3, 4}), 0, 4); }, {"resize_bilinear2d", "0×4", "[1, 1, 3, 4]"});
  expect_error([] { upsample_nearest2d(zeros({1, 1, 3, 4}), 2, -1); }, {"upsample_nearest2d", "2×-1"});
  expect_error([] { resize_bilinear2d_grad(zeros({1, 2, 4, 4}), {1, 3, 2, 2}); },
               {"resize_bilinear2d_grad", "[1, 2, 4, 4]", "[1, 3, 2, 2]"});
  expect_error([] { resize_bilinear2d(zeros({1, 1, 2, 2}, {.dtype = DType::Int64}), 4, 4); },
               {"resize_bilinear2d", "int64"});
}
