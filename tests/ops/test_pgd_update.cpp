// pgd_update_: the fused PGD step of ops/pgd_update.h against the formula written out with plain
// loops in double, the zero-gradient case, the L2 and L∞ projections, the clamp, the mask, and
// the argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ops/inplace.h"
#include "ops/op_test_util.h"
#include "ops/ops.h"
#include "ops/pgd_update.h"

using namespace atebm;
using namespace atebm::test;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor rand64(const Shape& shape, double lo, double hi, uint64_t seed) {
  Generator gen(seed);
  return uniform(shape, lo, hi, {.dtype = DType::Float64}, &gen);
}

Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {.dtype = DType::Float64}, &gen);
}

Tensor clone_raw(const Tensor& t) { return copy_to(t, t.device(), t.dtype()); }

// The header's L2 formula, sample by sample, with plain loops (m: expanded mask values or empty).
std::vector<double> l2_reference(const std::vector<double>& x, const std::vector<double>& g,
                                 const std::vector<double>& x0, const std::vector<double>& m, int64_t n,
                                 const PgdStep& s) {
  const int64_t d = static_cast<int64_t>(x.size()) / n;
  std::vector<double> out = x;
  for (int64_t i = 0; i < n; ++i) {
    auto mk = [&](int64_t j) { return m.empty() ? 1.0 : m[i * d + j]; };
    double gg = 0;
    for (int64_t j = 0; j < d; ++j) gg += std::pow(mk(j) * g[i * d + j], 2);
    const double gn = std::sqrt(gg);
    std::vector<double> delta(d);
    double dd = 0;
    for (int64_t j = 0; j < d; ++j) {
      const double stepped = x[i * d + j] + s.step_size * mk(j) * g[i * d + j] / (gn + 1e-10);
      delta[j] = stepped - x0[i * d + j];
      dd += delta[j] * delta[j];
    }
    const double factor = std::min(1.0, s.eps / std::sqrt(dd));
    for (int64_t j = 0; j < d; ++j) {
      const double v = x0[i * d + j] + delta[j] * factor;
      out[i * d + j] = std::clamp(v, s.lo, s.hi);
    }
  }
  return out;
}

double sample_norm(const std::vector<double>& v, int64_t i, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) s += v[i * d + j] * v[i * d + j];
  return std::sqrt(s);
}

std::vector<double> minus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] - b[i];
  return r;
}

}  // namespace

TEST(PgdUpdate, L2StepMatchesFormula) {
  const Shape shape{3, 2, 2, 2};
  const Tensor x = rand64(shape, 0.3, 0.7, 1), g = randn64(shape, 2), x0 = clone_raw(x);
  const PgdStep s{.step_size = 0.05, .eps = kInf, .norm = PgdNorm::L2, .lo = 0.0, .hi = 1.0};
  const auto want = l2_reference(x.to_vector<double>(), g.to_vector<double>(), x0.to_vector<double>(), {}, 3, s);
  const uint64_t version = x.version();
  pgd_update_(x, g, x0, s);
  EXPECT_GT(x.version(), version);
  expect_near(x, want, 1e-15);
  // Each sample moved by λ (no clamp was active: 0.3 ± 0.05 stays inside [0, 1]), short of it
  // only by the relative 1e-10/||g|| of the norm floor.
  const auto moved = minus(x.to_vector<double>(), x0.to_vector<double>());
  for (int64_t i = 0; i < 3; ++i) EXPECT_NEAR(sample_norm(moved, i, 8), 0.05, 1e-10);
}

TEST(PgdUpdate, L2StepFloat32AgreesWithFloat64) {
  const Shape shape{4, 3, 5};
  const Tensor x64 = rand64(shape, 0.2, 0.8, 3), g64 = randn64(shape, 4);
  const Tensor x32 = copy_to(x64, Device::cpu(), DType::Float32), g32 = copy_to(g64, Device::cpu(), DType::Float32);
  const Tensor x0_64 = clone_raw(x64), x0_32 = clone_raw(x32);
  const PgdStep s{.step_size = 0.1, .eps = 0.07};
  pgd_update_(x64, g64, x0_64, s);
  pgd_update_(x32, g32, x0_32, s);
  expect_near(x32, x64.to_vector<double>(), 1e-6);
}

TEST(PgdUpdate, ZeroGradientGivesZeroStep) {
  const Tensor x = rand64({2, 4}, 0.2, 0.8, 5), x0 = clone_raw(x);
  const Tensor g = zeros({2, 4}, {.dtype = DType::Float64});
  for (PgdNorm norm : {PgdNorm::L2, PgdNorm::Linf}) {
    pgd_update_(x, g, x0, {.step_size = 0.5, .eps = 0.1, .norm = norm});
    const auto got = x.to_vector<double>();
    for (double v : got) EXPECT_FALSE(std::isnan(v));
    expect_near(x, x0.to_vector<double>(), 0.0);
  }
}

TEST(PgdUpdate, L2ProjectionLandsOnBoundaryOrLeavesStepUnchanged) {
  const Shape shape{2, 6};
  const Tensor start = rand64(shape, 0.4, 0.6, 6), g = randn64(shape, 7);
  const std::vector<double> gv = g.to_vector<double>();

  // λ = 1 leaves the ball of radius 0.3: the result is x0 + 0.3 · g/||g||, on the boundary.
  const Tensor x = clone_raw(start);
  pgd_update_(x, g, start, {.step_size = 1.0, .eps = 0.3, .lo = -10, .hi = 10});
  const auto delta = minus(x.to_vector<double>(), start.to_vector<double>());
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(sample_norm(delta, i, 6), 0.3, 1e-12);
    const double gn = sample_norm(gv, i, 6);
    for (int64_t j = 0; j < 6; ++j) EXPECT_NEAR(delta[i * 6 + j], 0.3 * gv[i * 6 + j] / gn, 1e-12);
  }

  // λ = 0.1 stays inside: exactly the unprojected step.
  const Tensor inside = clone_raw(start), free = clone_raw(start);
  pgd_update_(inside, g, start, {.step_size = 0.1, .eps = 0.3});
  pgd_update_(free, g, start, {.step_size = 0.1, .eps = kInf});
  expect_near(inside, free.to_vector<double>(), 0.0);

  // From a point already displaced, the ball is still around x0 (not around x).
  const Tensor far = clone_raw(x);
  pgd_update_(far, g, start, {.step_size = 1.0, .eps = 0.3, .lo = -10, .hi = 10});
  const auto d2 = minus(far.to_vector<double>(), start.to_vector<double>());
  for (int64_t i = 0; i < 2; ++i) EXPECT_NEAR(sample_norm(d2, i, 6), 0.3, 1e-12);

  // ε = 0 pins x to x0.
  const Tensor pinned = clone_raw(start);
  pgd_update_(pinned, g, start, {.step_size = 1.0, .eps = 0.0});
  expect_near(pinned, start.to_vector<double>(), 0.0);
}

TEST(PgdUpdate, ClampsToBounds) {
  const Tensor x = t64({0.75, 0.25, 0.5, 0.5}, {1, 4}), x0 = clone_raw(x);
  const Tensor g = t64({1, -1, 0, 0}, {1, 4});
  // Step 0.2·(±1/√2) = ±0.1414: 0.75 → 0.8914 clamps to 0.8, 0.25 → 0.1086 clamps to 0.2.
  pgd_update_(x, g, x0, {.step_size = 0.2, .lo = 0.2, .hi = 0.8});
  expect_near(x, {0.8, 0.2, 0.5, 0.5}, 0.0);
  // The same with the bounds wide open follows the formula.
  const Tensor y = clone_raw(x0);
  pgd_update_(y, g, x0, {.step_size = 0.2, .lo = 0.0, .hi = 1.0});
  const double s = 0.2 / (std::sqrt(2.0) + 1e-10);
  expect_near(y, {0.75 + s, 0.25 - s, 0.5, 0.5}, 1e-12);
}

TEST(PgdUpdate, LinfSignStepAndBoxProjection) {
  const Tensor x = t64({0.5, 0.5, 0.5, 0.5, 0.1, 0.9}, {2, 3}), x0 = clone_raw(x);
  const Tensor g = t64({2.0, -0.001, 0.0, -5.0, -1.0, 1.0}, {2, 3});
  pgd_update_(x, g, x0, {.step_size = 0.03, .eps = kInf, .norm = PgdNorm::Linf});
  expect_near(x, {0.53, 0.47, 0.5, 0.47, 0.07, 0.93}, 1e-15);
  // Four more steps of 0.03 with ε = 0.05: each coordinate stops at x0 ± 0.05, and the clamp
  // to [0, 1] still applies (0.1 − 0.05 = 0.05 inside, 0.9 + 0.05 = 0.95 inside).
  for (int k = 0; k < 4; ++k) pgd_update_(x, g, x0, {.step_size = 0.03, .eps = 0.05, .norm = PgdNorm::Linf});
  expect_near(x, {0.55, 0.45, 0.5, 0.45, 0.05, 0.95}, 1e-15);
  // A box that crosses the bounds: the clamp wins.
  const Tensor y = t64({0.02, 0.98}, {1, 2}), y0 = clone_raw(y);
  pgd_update_(y, t64({-1, 1}, {1, 2}), y0, {.step_size = 0.1, .eps = 0.05, .norm = PgdNorm::Linf});
  expect_near(y, {0.0, 1.0}, 0.0);
}

TEST(PgdUpdate, MaskKeepsFixedPixelsAndNormsTheMaskedGradient) {
  const Shape shape{2, 3, 2, 2};
  const Tensor mask = t64({1, 0, 0, 1}, {1, 1, 2, 2});
  const Tensor x = rand64(shape, 0.3, 0.7, 8), g = randn64(shape, 9), x0 = clone_raw(x);
  const Tensor mexp = clone_raw(expand(mask, shape));
  const PgdStep s{.step_size = 0.1};
  const auto want =
      l2_reference(x.to_vector<double>(), g.to_vector<double>(), x0.to_vector<double>(), mexp.to_vector<double>(), 2, s);
  pgd_update_(x, g, x0, s, mask);
  expect_near(x, want, 1e-15);

  const auto xv = x.to_vector<double>(), x0v = x0.to_vector<double>(), mv = mexp.to_vector<double>();
  for (size_t j = 0; j < xv.size(); ++j) {
    if (mv[j] == 0) {
      EXPECT_EQ(xv[j], x0v[j]) << "fixed pixel " << j << " moved";
    }
  }
  // The whole step λ is spent on the movable pixels (up to the norm floor's 1e-10/||m⊙g||).
  const auto moved = minus(xv, x0v);
  for (int64_t i = 0; i < 2; ++i) EXPECT_NEAR(sample_norm(moved, i, 12), 0.1, 1e-10);

  // A bool mask and a float mask are the same mask; so is a per-sample [N, 1, H, W] one: the
  // same bits as the float mask's step (the reference above is computed another way: 1e-15).
  const Tensor xb = clone_raw(x0), xs = clone_raw(x0);
  pgd_update_(xb, g, x0, s, ne(mask, 0.0));
  pgd_update_(xs, g, x0, s, clone_raw(expand(mask, {2, 1, 2, 2})));
  expect_near(xb, xv, 0.0);
  expect_near(xs, xv, 0.0);

  // Fixed pixels stay put even where the clamp would otherwise move them, and under L∞.
  const Tensor out = t64({1.5, 0.5}, {1, 2}), out0 = clone_raw(out);
  pgd_update_(out, t64({1, 1}, {1, 2}), out0, {.step_size = 0.1, .norm = PgdNorm::Linf}, t64({0, 1}, {2}));
  expect_near(out, {1.5, 0.6}, 1e-15);
}

TEST(PgdUpdate, NonContiguousAndAliasedOperands) {
  const Tensor base = rand64({4, 3}, 0.3, 0.7, 10), g = randn64({3, 4}, 11);
  const Tensor x = transpose(base, 0, 1);  // [3, 4], strided view of base
  ASSERT_FALSE(x.is_contiguous());
  const Tensor xc = clone_raw(x), x0 = clone_raw(x);
  pgd_update_(x, g, x0, {.step_size = 0.2, .eps = 0.15});
  pgd_update_(xc, g, x0, {.step_size = 0.2, .eps = 0.15});
  expect_near(x, xc.to_vector<double>(), 0.0);
  // Writing through the view reached base's storage.
  expect_near(transpose(base, 0, 1), xc.to_vector<double>(), 0.0);

  // x0 may be x itself: the ball is then around the current point, so the step is just clipped.
  const Tensor y = clone_raw(x0);
  pgd_update_(y, g, y, {.step_size = 0.2, .eps = 0.15, .lo = -10, .hi = 10});
  const auto d = minus(y.to_vector<double>(), x0.to_vector<double>());
  for (int64_t i = 0; i < 3; ++i) EXPECT_NEAR(sample_norm(d, i, 4), 0.15, 1e-12);
}

TEST(PgdUpdate, BadArgumentsThrow) {
  const Tensor x = rand64({2, 3}, 0, 1, 12), g = randn64({2, 3}, 13), x0 = clone_raw(x);
  expect_error([&] { pgd_update_(x, randn64({2, 4}, 1), x0, {}); }, {"pgd_update_", "shape [2, 4]", "[2, 3]"});
  expect_error([&] { pgd_update_(x, g, randn64({3, 3}, 1), {}); }, {"pgd_update_", "x0"});
  expect_error([&] { pgd_update_(x, copy_to(g, Device::cpu(), DType::Float32), x0, {}); },
               {"pgd_update_", "dtype mismatch"});
  expect_error([&] { pgd_update_(x, g, x0, {.step_size = -0.1}); }, {"step size", "-0.1"});
  expect_error([&] { pgd_update_(x, g, x0, {.step_size = std::nan("")}); }, {"step size"});
  expect_error([&] { pgd_update_(x, g, x0, {.eps = -1.0}); }, {"eps", "-1"});
  expect_error([&] { pgd_update_(x, g, x0, {.eps = std::nan("")}); }, {"eps"});
  expect_error([&] { pgd_update_(x, g, x0, {.lo = 1.0, .hi = 0.0}); }, {"lo <= hi", "lo = 1", "hi = 0"});
  expect_error([&] { pgd_update_(x, g, x0, {}, t64({1, 0}, {2})); }, {"mask", "[2]", "[2, 3]"});
  const Tensor xi = zeros({2, 3}, {.dtype = DType::Int64});
  expect_error([&] { pgd_update_(xi, xi, xi, {}); }, {"pgd_update_", "int64"});
  // An undefined mask means "no mask"; an empty batch is a no-op.
  EXPECT_NO_THROW(pgd_update_(x, g, x0, {}, Tensor()));
  const Tensor e = zeros({0, 3}, {.dtype = DType::Float64});
  EXPECT_NO_THROW(pgd_update_(e, e, e, {}));
}

TEST(PgdUpdate, RefusesATensorThatRequiresGradInGradMode) {
  const Tensor x = rand64({2, 3}, 0, 1, 14).set_requires_grad(true);
  const Tensor g = randn64({2, 3}, 15), x0 = clone_raw(x);
  expect_error([&] { pgd_update_(x, g, x0, {}); }, {"pgd_update_", "requires grad", "NoGradGuard"});
  NoGradGuard no_grad;
  EXPECT_NO_THROW(pgd_update_(x, g, x0, {}));
}
