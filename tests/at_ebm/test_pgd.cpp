// pgd(): one step against x + λ·g/||g|| computed by hand, ascent/descent move f the right way,
// the parameters are frozen (and restored, also on error) with no .grad written, the ε-ball,
// bounds and mask hold over many steps, the random start is uniform in the ball, the observer.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "at_ebm/method/pgd.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::at_ebm;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor uniform64(const Shape& shape, double lo, double hi, uint64_t seed) {
  Generator gen(seed);
  return uniform(shape, lo, hi, {.dtype = DType::Float64}, &gen);
}

// f(x)_i = Σ_j w_j x_ij: its input gradient is w in every sample.
ScoreFn linear_score(const Tensor& w) {
  return [w](const Tensor& x) { return sum(mul(x, w), {1, 2, 3}); };
}

struct TinyMlp {
  std::shared_ptr<nn::Module> model;
  ScoreFn f;
};

TinyMlp tiny_mlp(uint64_t seed, DType dtype = DType::Float64) {
  Generator gen(seed);
  TinyMlp m;
  m.model = nn::build_model({{"arch", "mlp"}, {"dims", {4, 16, 1}}}, gen, dtype);
  nn::Module* raw = m.model.get();
  m.f = [raw](const Tensor& x) { return nn::energy_logit(*raw, x); };
  return m;
}

std::vector<double> per_sample_norms(const Tensor& a, const Tensor& b) {
  return l2_norm_per_sample(sub(a, b)).to_vector<double>();
}

double mean_of(const Tensor& t) { return mean(t).item(); }

}  // namespace

TEST(Pgd, OneStepOfALinearScoreMatchesHand) {
  const Tensor w = from_vector<double>({1, -2, 0, 3, 0.5, -1, 2, 1}, {1, 2, 2, 2}, {.dtype = DType::Float64});
  const Tensor start = uniform64({3, 2, 2, 2}, 0.3, 0.7, 1);
  Generator gen(0);
  const Tensor x = pgd(linear_score(w), start, {.steps = 1, .step_size = 0.05}, {}, gen);
  const std::vector<double> wv = w.to_vector<double>(), sv = start.to_vector<double>(), xv = x.to_vector<double>();
  double wn = 0;
  for (double v : wv) wn += v * v;
  wn = std::sqrt(wn);
  for (size_t k = 0; k < xv.size(); ++k) EXPECT_NEAR(xv[k], sv[k] + 0.05 * wv[k % 8] / wn, 1e-12) << k;
  EXPECT_FALSE(x.requires_grad());
  EXPECT_EQ(x.grad_fn(), nullptr);
}

TEST(Pgd, OneStepOfAnMlpMatchesTheNormalisedGradient) {
  TinyMlp m = tiny_mlp(2);
  const Tensor start = uniform64({5, 4}, 0.2, 0.8, 3);
  // The input gradient taken directly, then the step written out with ops.
  const Tensor xs = detach(start).set_requires_grad(true);
  const Tensor g = grad({sum(m.f(xs))}, {xs})[0];
  const Tensor gn = reshape(l2_norm_per_sample(g), {5, 1});
  const Tensor want = clamp(add(start, div(mul(g, 0.1), add(gn, 1e-10))), 0.0, 1.0);
  Generator gen(0);
  const Tensor x = pgd(m.f, start, {.steps = 1, .step_size = 0.1}, m.model->named_parameters(), gen);
  const std::vector<double> got = x.to_vector<double>(), exp = want.to_vector<double>();
  for (size_t k = 0; k < got.size(); ++k) EXPECT_NEAR(got[k], exp[k], 1e-14) << k;
  // Descent steps along −g.
  const Tensor xd = pgd(m.f, start, {.steps = 1, .step_size = 0.1, .descent = true}, {}, gen);
  const Tensor want_d = clamp(sub(start, div(mul(g, 0.1), add(gn, 1e-10))), 0.0, 1.0);
  const std::vector<double> gd = xd.to_vector<double>(), ed = want_d.to_vector<double>();
  for (size_t k = 0; k < gd.size(); ++k) EXPECT_NEAR(gd[k], ed[k], 1e-14) << k;
}

// pgd_scored: the same iterate as pgd(), and f at the first iterate exactly as a separate
// forward computes it, a copy that later steps do not move (f here returns a view of x).
TEST(Pgd, ScoredReturnsTheStartsScoresFromStepOne) {
  const TinyMlp m = tiny_mlp(4);
  const Tensor start = uniform64({5, 4}, 0.2, 0.8, 2);
  Generator g1(0), g2(0);
  const PgdOptions opt{.steps = 3, .step_size = 0.1};
  const PgdResult r = pgd_scored(m.f, start, opt, m.model->named_parameters(), g1);
  EXPECT_EQ(r.x.to_vector<double>(), pgd(m.f, start, opt, m.model->named_parameters(), g2).to_vector<double>());
  ASSERT_TRUE(r.first_scores.defined());
  EXPECT_EQ(r.first_scores.shape(), (Shape{5}));
  EXPECT_FALSE(r.first_scores.requires_grad());
  NoGradGuard no_grad;
  EXPECT_EQ(r.first_scores.to_vector<double>(), m.f(start).to_vector<double>());

  // f(x) = x[:, 0] is a view of the iterate: the scores must be f(start), not f(last iterate).
  const ScoreFn first_pixel = [](const Tensor& x) { return reshape(narrow(x, 1, 0, 1), {x.size(0)}); };
  const PgdResult v = pgd_scored(first_pixel, start, opt, {}, g1);
  EXPECT_EQ(v.first_scores.to_vector<double>(), reshape(narrow(start, 1, 0, 1), {5}).to_vector<double>());
  EXPECT_NE(v.first_scores.to_vector<double>(), reshape(narrow(v.x, 1, 0, 1), {5}).to_vector<double>());

  EXPECT_FALSE(pgd_scored(m.f, start, {.steps = 0}, {}, g1).first_scores.defined());
}

TEST(Pgd, AscentRaisesAndDescentLowersTheScore) {
  TinyMlp m = tiny_mlp(4);
  const Tensor start = uniform64({8, 4}, -1, 1, 5);
  Generator gen(0);
  const PgdOptions up{.steps = 10, .step_size = 0.05, .lo = -10, .hi = 10};
  PgdOptions down = up;
  down.descent = true;
  const nn::NamedTensors params = m.model->named_parameters();
  const Tensor xu = pgd(m.f, start, up, params, gen), xd = pgd(m.f, start, down, params, gen);
  NoGradGuard no_grad;
  const std::vector<double> f0 = m.f(start).to_vector<double>(), fu = m.f(xu).to_vector<double>(),
                            fd = m.f(xd).to_vector<double>();
  for (size_t i = 0; i < f0.size(); ++i) {
    EXPECT_GT(fu[i], f0[i]) << "sample " << i;
    EXPECT_LT(fd[i], f0[i]) << "sample " << i;
  }
  // Both walked 10 steps of 0.05 from the start at most.
  for (double n : per_sample_norms(xu, start)) EXPECT_LE(n, 0.5 + 1e-12);
}

TEST(Pgd, FreezesParametersAndWritesNoGradient) {
  TinyMlp m = tiny_mlp(6);
  nn::NamedTensors params = m.model->named_parameters();
  ASSERT_GE(params.size(), 2u);
  params[1].second.set_requires_grad(false);  // one already frozen: it must stay frozen
  const Tensor start = uniform64({3, 4}, 0, 1, 7);
  Generator gen(0);
  int64_t calls = 0;
  ScoreFn checked = [&](const Tensor& x) {
    ++calls;
    for (const auto& [name, p] : params) EXPECT_FALSE(p.requires_grad()) << name << " not frozen during pgd";
    return m.f(x);
  };
  pgd(checked, start, {.steps = 3}, params, gen);
  EXPECT_EQ(calls, 3);
  for (size_t k = 0; k < params.size(); ++k) {
    EXPECT_EQ(params[k].second.requires_grad(), k != 1) << params[k].first;
    EXPECT_FALSE(params[k].second.grad().defined()) << params[k].first << " got a .grad";
  }

  // A score function that throws on its second call: the flags come back all the same.
  calls = 0;
  ScoreFn failing = [&](const Tensor& x) {
    if (++calls == 2) throw Error("boom");
    return m.f(x);
  };
  EXPECT_THROW(pgd(failing, start, {.steps = 5}, params, gen), Error);
  for (size_t k = 0; k < params.size(); ++k) EXPECT_EQ(params[k].second.requires_grad(), k != 1) << params[k].first;
}

TEST(Pgd, FreezeParametersGuardRestoresFlags) {
  const Tensor a = zeros({2}, {.dtype = DType::Float64, .requires_grad = true});
  const Tensor b = zeros({2}, {.dtype = DType::Float64});
  {
    FreezeParameters guard({{"a", a}, {"b", b}});
    EXPECT_FALSE(a.requires_grad());
    EXPECT_FALSE(b.requires_grad());
  }
  EXPECT_TRUE(a.requires_grad());
  EXPECT_FALSE(b.requires_grad());
}

TEST(Pgd, StaysInsideTheBallAndTheBoundsOverManySteps) {
  TinyMlp m = tiny_mlp(8);
  const Tensor start = uniform64({6, 4}, 0, 1, 9);
  Generator gen(3);
  for (PgdNorm norm : {PgdNorm::L2, PgdNorm::Linf}) {
    const PgdOptions opt{.steps = 20, .step_size = 0.05, .eps = 0.12, .norm = norm, .random_start = true,
                         .lo = 0.1, .hi = 0.9};
    int64_t seen = 0;
    const Tensor x = pgd(m.f, start, opt, {}, gen, [&](int64_t k, const Tensor& xk) {
      EXPECT_EQ(k, ++seen);
      // The clamp is a projection onto a box, which never lengthens a difference: the distance
      // to the clamped start is at most that of the unclamped iterate x0 + δ to x0, i.e. <= ε
      // (some starts lie outside [lo, hi], so the distance to the start itself may exceed ε).
      const Tensor base = clamp(start, 0.1, 0.9);
      if (norm == PgdNorm::L2) {
        for (double n : per_sample_norms(xk, base)) EXPECT_LE(n, 0.12 + 1e-12);
      } else {
        for (double v : sub(xk, base).to_vector<double>()) EXPECT_LE(std::abs(v), 0.12 + 1e-12);
      }
      for (double v : xk.to_vector<double>()) {
        EXPECT_GE(v, 0.1);
        EXPECT_LE(v, 0.9);
      }
    });
    EXPECT_EQ(seen, 20);
    EXPECT_GT(mean_of(m.f(x)), mean_of(m.f(start)));
  }
}

TEST(Pgd, ObserverSeesEveryStepAndTheLastIterate) {
  const Tensor w = full({1, 1, 2, 2}, 1.0, {.dtype = DType::Float64});
  const Tensor start = full({2, 1, 2, 2}, 0.5, {.dtype = DType::Float64});
  Generator gen(0);
  std::vector<int64_t> steps;
  std::vector<double> firsts;
  const Tensor x = pgd(linear_score(w), start, {.steps = 4, .step_size = 0.1, .hi = 10}, {}, gen,
                       [&](int64_t k, const Tensor& xk) {
                         steps.push_back(k);
                         firsts.push_back(xk.to_vector<double>()[0]);
                       });
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4}));
  // Each step moves every element by λ/√4 = 0.05 (w/||w|| = 1/2 per element).
  for (size_t k = 0; k < firsts.size(); ++k) EXPECT_NEAR(firsts[k], 0.5 + 0.05 * double(k + 1), 1e-9);
  EXPECT_EQ(x.to_vector<double>()[0], firsts.back());
  // The start was not modified.
  for (double v : start.to_vector<double>()) EXPECT_EQ(v, 0.5);
  // Zero steps return a copy of the start.
  const Tensor same = pgd(linear_score(w), start, {}, {}, gen);
  EXPECT_FALSE(same.is_same(start));
  EXPECT_EQ(same.to_vector<double>(), start.to_vector<double>());
}

TEST(Pgd, RandomStartIsUniformInTheBallAndDeterministic) {
  const int64_t n = 4000, d = 4;
  const Tensor start = full({n, d}, 0.5, {.dtype = DType::Float64});
  const ScoreFn unused = [](const Tensor& x) { return sum(x, {1}); };
  Generator gen(11);
  const PgdOptions l2{.steps = 0, .eps = 0.2, .random_start = true};
  const Tensor x = pgd(unused, start, l2, {}, gen);
  const std::vector<double> r = per_sample_norms(x, start);
  // Uniform in the 4-ball: P(radius <= t·ε) = t^4, so E[radius] = ε·4/5 and E[r²] = ε²·4/6.
  double mr = 0, mr2 = 0;
  for (double v : r) {
    EXPECT_LE(v, 0.2 + 1e-12);
    mr += v / n;
    mr2 += v * v / n;
  }
  EXPECT_NEAR(mr, 0.2 * 0.8, 0.004);   // std of the mean ≈ 0.2·0.163/√4000 ≈ 0.0005
  EXPECT_NEAR(mr2, 0.04 * 4.0 / 6.0, 0.002);
  // The direction is uniform: every coordinate's mean offset is ≈ 0.
  const std::vector<double> mc = mean(sub(x, start), {0}).to_vector<double>();
  for (double v : mc) EXPECT_NEAR(v, 0.0, 0.005);

  // The same generator state gives the same start.
  Generator g1(5), g2(5);
  EXPECT_EQ(pgd(unused, start, l2, {}, g1).to_vector<double>(), pgd(unused, start, l2, {}, g2).to_vector<double>());

  // L∞: uniform in the box, and clamped to the bounds near an edge.
  const Tensor edge = full({n, d}, 0.05, {.dtype = DType::Float64});
  const Tensor xi = pgd(unused, edge, {.eps = 0.1, .norm = PgdNorm::Linf, .random_start = true}, {}, gen);
  double below = 0;
  for (double v : xi.to_vector<double>()) {
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 0.15 + 1e-15);
    below += (v == 0.0);
  }
  // A quarter of the draws fall below 0 (U[−0.05, 0.15] < 0) and are clamped to it.
  EXPECT_NEAR(below / double(n * d), 0.25, 0.02);
}

TEST(Pgd, MaskedPixelsNeverMove) {
  TinyMlp m = tiny_mlp(12);
  const Tensor start = uniform64({5, 4}, 0.2, 0.8, 13);
  const Tensor mask = from_vector<double>({1, 0, 1, 0}, {1, 4}, {.dtype = DType::Float64});
  Generator gen(4);
  // A float 0/1 mask and the same mask as bool, each without and with a random start.
  for (int variant = 0; variant < 4; ++variant) {
    const bool random = variant % 2 == 1;
    const Tensor mk = variant < 2 ? mask : ne(mask, 0.0);
    const PgdOptions opt{.steps = 6, .step_size = 0.1, .eps = 0.3, .random_start = random, .mask = mk};
    const Tensor x = pgd(m.f, start, opt, {}, gen);
    const std::vector<double> xv = x.to_vector<double>(), sv = start.to_vector<double>();
    double moved = 0;
    for (size_t k = 0; k < xv.size(); ++k) {
      if (k % 2 == 1) {
        EXPECT_EQ(xv[k], sv[k]) << "fixed pixel " << k << " moved (variant " << variant << ")";
      } else {
        moved += std::abs(xv[k] - sv[k]);
      }
    }
    EXPECT_GT(moved, 0.1);
  }
}

TEST(Pgd, WorksWhenTheCallerTurnedGradModeOff) {
  const Tensor w = full({1, 1, 1, 2}, 1.0, {.dtype = DType::Float64});
  const Tensor start = full({1, 1, 1, 2}, 0.5, {.dtype = DType::Float64});
  Generator gen(0);
  NoGradGuard no_grad;
  const Tensor x = pgd(linear_score(w), start, {.steps = 1, .step_size = 0.1}, {}, gen);
  EXPECT_NEAR(x.to_vector<double>()[0], 0.5 + 0.1 / std::sqrt(2.0), 1e-9);
  EXPECT_FALSE(GradMode::is_enabled());
}

TEST(Pgd, BadOptionsThrow) {
  const Tensor start = uniform64({2, 4}, 0, 1, 14);
  const ScoreFn f = [](const Tensor& x) { return sum(square(x), {1}); };
  Generator gen(0);
  auto expect_msg = [&](const PgdOptions& opt, const std::string& part, const ScoreFn& fn) {
    try {
      pgd(fn, start, opt, {}, gen);
      ADD_FAILURE() << "expected an error containing '" << part << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_msg({.steps = -1}, "steps must be >= 0", f);
  expect_msg({.steps = 1, .step_size = -0.5}, "step size", f);
  expect_msg({.steps = 1, .eps = -1}, "eps must be >= 0", f);
  expect_msg({.steps = 1, .random_start = true}, "random start needs a finite eps", f);
  expect_msg({.steps = 1, .lo = 1, .hi = 0}, "lo <= hi", f);
  expect_msg({.steps = 1, .mask = ones({3}, {.dtype = DType::Float64})}, "mask of shape [3]", f);
  expect_msg({.steps = 1}, "must return shape [2]", [](const Tensor& x) { return sum(x); });
}
