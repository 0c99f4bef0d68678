// batch_norm: first and second derivatives in x, weight and bias (eval and training mode, with
// and without the affine parameters), values against the formula, PyTorch's running-statistics
// update, and the error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/autograd/gradcheck.h"
#include "ops/ops.h"
#include "ops/op_test_util.h"

using namespace atebm;
using namespace atebm::test;

namespace {


Tensor positive(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return add(rand(shape, {.dtype = DType::Float64}, &gen), 0.5);
}





// Every combination of: rank 4 / rank 2, weight present or not, bias present or not.
template <typename Body>
void for_each_layout(Body&& body) {
  const std::vector<Shape> shapes = {{2, 3, 2, 3}, {1, 2, 3, 2}, {5, 3}};
  uint64_t seed = 100;
  for (const Shape& s : shapes)
    for (bool has_w : {true, false})
      for (bool has_b : {true, false}) {
        const int64_t c = s[1];
        Tensor x = leaf(s, seed++);
        Tensor w = has_w ? leaf({c}, seed++) : Tensor();
        Tensor b = has_b ? leaf({c}, seed++) : Tensor();
        body(s, x, w, b, fmt::format("x {} weight {} bias {}", shape_str(s), has_w, has_b), seed++);
      }
}

}  // namespace

TEST(NormOps, EvalGradcheckInEveryArgument) {
  for_each_layout([](const Shape& s, const Tensor& x, const Tensor& w, const Tensor& b, const std::string& what,
                     uint64_t seed) {
    const Tensor rm = mul(detach(leaf({s[1]}, seed)), 0.5);
    const Tensor rv = positive({s[1]}, seed + 1);
    auto f = [&](const Tensors& in) -> Tensors {
      return {batch_norm(in[0], in[1], in[2], rm, rv, /*training=*/false)};
    };
    expect_first_and_second_order(f, {x, w, b}, "eval " + what);
  });
}

TEST(NormOps, TrainingGradcheckInEveryArgument) {
  for_each_layout([](const Shape&, const Tensor& x, const Tensor& w, const Tensor& b, const std::string& what,
                     uint64_t) {
    auto f = [&](const Tensors& in) -> Tensors {
      return {batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), /*training=*/true)};
    };
    expect_first_and_second_order(f, {x, w, b}, "training " + what);
  });
}

TEST(NormOps, EvalMatchesFormula) {
  // y = (x − rm) / √(rv + eps) · w + b per channel, computed here element by element.
  Generator gen(9);
  const int64_t n = 2, c = 3, hw = 4;
  Tensor x = randn({n, c, 2, 2}, {.dtype = DType::Float64}, &gen);
  Tensor w = randn({c}, {.dtype = DType::Float64}, &gen), b = randn({c}, {.dtype = DType::Float64}, &gen);
  Tensor rm = randn({c}, {.dtype = DType::Float64}, &gen), rv = positive({c}, 10);
  const double eps = 1e-3;
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  const auto mv = rm.to_vector<double>(), vv = rv.to_vector<double>();
  std::vector<double> want(xv.size()), want_nowb(xv.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t s = 0; s < hw; ++s) {
        const size_t at = static_cast<size_t>((i * c + k) * hw + s);
        const double xhat = (xv[at] - mv[k]) / std::sqrt(vv[k] + eps);
        want[at] = xhat * wv[k] + bv[k];
        want_nowb[at] = xhat;
      }
  expect_near(batch_norm(x, w, b, rm, rv, false, 0.1, eps), want);
  expect_near(batch_norm(x, Tensor(), Tensor(), rm, rv, false, 0.1, eps), want_nowb);
  // float32 (the fused kernel in single precision) agrees to float rounding.
  const Tensor y32 = batch_norm(to(x, DType::Float32), to(w, DType::Float32), to(b, DType::Float32),
                                to(rm, DType::Float32), to(rv, DType::Float32), false, 0.1, eps);
  EXPECT_EQ(y32.dtype(), DType::Float32);
  expect_near(to(y32, DType::Float64), want, 1e-5);
  // [N, C] features and a non-contiguous x take the same formula.
  Tensor x2 = randn({3, c}, {.dtype = DType::Float64}, &gen);
  expect_near(batch_norm(transpose(contiguous(transpose(x2, 0, 1)), 0, 1), w, b, rm, rv, false),
              batch_norm(x2, w, b, rm, rv, false).to_vector<double>());
  // Eval mode leaves the running statistics alone.
  EXPECT_EQ(rm.to_vector<double>(), mv);
}

TEST(NormOps, EvalGradientsByFormula) {
  // d/dx = w/√(rv+eps); d/dw = Σ g·x̂; d/db = Σ g, for g = 1.
  Tensor x = leaf({2, 2, 1, 2}, 21), w = leaf({2}, 22), b = leaf({2}, 23);
  Tensor rm = t64({0.5, -1.0}, {2}), rv = t64({4.0, 0.25}, {2});
  const Tensors g = grad({sum(batch_norm(x, w, b, rm, rv, false, 0.1, 0.0))}, {x, w, b});
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const double inv[2] = {0.5, 2.0};
  std::vector<double> gx(8), gw = {0, 0};
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 2; ++k)
      for (int s = 0; s < 2; ++s) {
        const int at = (i * 2 + k) * 2 + s;
        gx[at] = wv[k] * inv[k];
        gw[k] += (xv[at] - (k == 0 ? 0.5 : -1.0)) * inv[k];
      }
  expect_near(g[0], gx);
  expect_near(g[1], gw);
  expect_near(g[2], {4.0, 4.0});
}

TEST(NormOps, EvalBackwardSurvivesLaterBufferUpdates) {
  // Backward uses copies of the running statistics taken at forward time, so updating the
  // buffers in place between forward and backward (another batch-norm call in training mode,
  // an optimiser, a checkpoint load) neither throws nor changes the gradient.
  Tensor x = leaf({2, 2, 2, 1}, 31), w = leaf({2}, 32);
  Tensor rm = t64({0.1, 0.2}, {2}), rv = t64({1.0, 2.0}, {2});
  const Tensor y = sum(batch_norm(x, w, Tensor(), rm, rv, false));
  const Tensor ref = grad({sum(batch_norm(x, w, Tensor(), rm, rv, false))}, {w})[0];
  fill_into(rm, 5.0);
  fill_into(rv, 9.0);
  expect_near(grad({y}, {w})[0], ref.to_vector<double>());
}

TEST(NormOps, TrainingRunningStatsByHand) {
  // x [4, 2]: channel 0 = 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3);
  //           channel 1 = 0, 0, 2, 2 (mean 1, biased var 1, unbiased 4/3).
  Tensor x = t64({1, 0, 2, 0, 3, 2, 4, 2}, {4, 2});
  Tensor rm = zeros({2}, {.dtype = DType::Float64}), rv = ones({2}, {.dtype = DType::Float64});
  const uint64_t v_mean = rm.version(), v_var = rv.version();
  const Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 0.0);
  expect_near(rm, {0.1 * 2.5, 0.1 * 1.0});
  expect_near(rv, {0.9 + 0.1 * 5.0 / 3.0, 0.9 + 0.1 * 4.0 / 3.0});
  EXPECT_GT(rm.version(), v_mean);
  EXPECT_GT(rv.version(), v_var);
  // Normalised with the biased variance.
  const double s0 = 1.0 / std::sqrt(1.25);
  expect_near(y, {-1.5 * s0, -1, -0.5 * s0, -1, 0.5 * s0, 1, 1.5 * s0, 1});
  // A second step moves the buffers again from their new values.
  batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 0.0);
  expect_near(rm, {0.9 * 0.25 + 0.25, 0.9 * 0.1 + 0.1});
  // The same batch as NCHW [2, 2, 2, 1] (n = N·H·W = 4 per channel) gives the same statistics.
  Tensor x4 = t64({1, 2, 0, 0, 3, 4, 2, 2}, {2, 2, 2, 1});
  Tensor rm4 = zeros({2}, {.dtype = DType::Float64}), rv4 = ones({2}, {.dtype = DType::Float64});
  batch_norm(x4, Tensor(), Tensor(), rm4, rv4, true);
  expect_near(rm4, {0.25, 0.1});
  expect_near(rv4, {0.9 + 0.1 * 5.0 / 3.0, 0.9 + 0.1 * 4.0 / 3.0});
}

TEST(NormOps, TrainingWithBuffersStaysDifferentiable) {
  // The in-place buffer update happens outside autograd and does not disturb the graph.
  Tensor rm = zeros({3}, {.dtype = DType::Float64}), rv = ones({3}, {.dtype = DType::Float64});
  auto f = [&](const Tensors& in) -> Tensors { return {batch_norm(in[0], in[1], in[2], rm, rv, true, 0.3)}; };
  expect_first_and_second_order(f, {leaf({2, 3, 2, 1}, 41), leaf({3}, 42), leaf({3}, 43)}, "training + buffers");
  EXPECT_FALSE(rm.requires_grad());
}

TEST(NormOps, BadInputsNameOpAndShapes) {
  const Tensor x = zeros({2, 4, 3, 3});
  const Tensor c4 = ones({4});
  expect_error([&] { batch_norm(x, ones({3}), Tensor(), c4, c4, false); },
               {"batch_norm", "weight", "[3]", "[2, 4, 3, 3]", "4 channels"});
  expect_error([&] { batch_norm(x, Tensor(), ones({5}), c4, c4, false); }, {"batch_norm", "bias", "[5]"});
  expect_error([&] { batch_norm(x, Tensor(), Tensor(), ones({2}), c4, false); }, {"batch_norm", "running_mean", "[2]"});
  expect_error([&] { batch_norm(x, Tensor(), Tensor(), c4, ones({4, 1}), true); },
               {"batch_norm", "running_var", "[4, 1]"});
  expect_error([] { batch_norm(zeros({2, 4, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
               {"batch_norm", "[2, 4, 3]"});
  expect_error([&] { batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false); },
               {"batch_norm", "evaluation mode", "running_mean"});
  expect_error([&] { batch_norm(x, Tensor(), Tensor(), c4, Tensor(), true); }, {"batch_norm", "both defined"});
  expect_error([] { batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
               {"batch_norm", "more than one value per channel", "[1, 3]"});
  expect_error([&] { batch_norm(x, ones({4}, {.dtype = DType::Float64}), Tensor(), c4, c4, false); },
               {"batch_norm", "weight", "float64", "float32"});
}
