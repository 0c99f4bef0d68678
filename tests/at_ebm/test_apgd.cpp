// APGD (at_ebm/ood/apgd.h): the checkpoints of AutoAttack (fra31/auto-attack autopgd_base.py:
// n_iter_2 = max(int(0.22 N), 1), size_decr = max(int(0.03 N), 1), n_iter_min = max(int(0.06 N), 1),
// i.e. 0, 22, 41, 57, 70, 80, 87, 93, 99 for N = 100, equal there to the paper's p_j rule), the
// optimum of linear scores, results inside the ε-ball and [0, 1] with scores that are f of the
// returned points, ε = 0, restarts, and APGD against plain PGD with the same budget on a small
// random (non-convex) MLP over 1×8×8 images.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "at_ebm/ood/apgd.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::at_ebm;

namespace {

Tensor uniform64(const Shape& shape, double lo, double hi, uint64_t seed) {
  Generator gen(seed);
  return uniform(shape, lo, hi, {.dtype = DType::Float64}, &gen);
}

// f(x)_i = Σ_j w_j x_ij over images [N, 1, 8, 8].
ScoreFn linear_score(const Tensor& w) {
  return [w](const Tensor& x) { return sum(mul(x, w), {1, 2, 3}); };
}

// A random leaky-ReLU MLP 64 → 32 → 32 → 1 on flattened 1×8×8 images: piecewise linear with
// many pieces, so the ascent meets kinks and the box [0, 1] on the way.
struct RandomMlp {
  std::shared_ptr<nn::Module> model;
  ScoreFn f;
};

RandomMlp random_mlp(uint64_t seed) {
  Generator gen(seed);
  RandomMlp m;
  m.model = nn::build_model({{"arch", "mlp"}, {"dims", {64, 32, 32, 1}}, {"slope", 0.2}}, gen, DType::Float64);
  nn::Module* raw = m.model.get();
  m.f = [raw](const Tensor& x) { return nn::energy_logit(*raw, reshape(x, {x.size(0), 64})); };
  return m;
}

std::vector<double> scores_of(const ScoreFn& f, const Tensor& x) {
  NoGradGuard no_grad;
  return f(x).to_vector<double>();
}

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }

// The paper's rule in hundredths (exact integers): p_1 = 22, p_{j+1} = p_j + max(p_j − p_{j−1} − 3, 6),
// w_j = ⌈p_j · N / 100⌉ while p_j ≤ 100.
std::vector<int64_t> paper_checkpoints(int64_t n) {
  std::vector<int64_t> p = {0, 22};
  while (true) {
    const int64_t next = p.back() + std::max<int64_t>(p.back() - p[p.size() - 2] - 3, 6);
    if (next > 100) break;
    p.push_back(next);
  }
  std::vector<int64_t> w;
  for (int64_t pj : p) w.push_back((pj * n + 99) / 100);
  return w;
}

}  // namespace

TEST(Apgd, CheckpointsFor100IterationsAreAutoAttacks) {
  const std::vector<int64_t> want = {0, 22, 41, 57, 70, 80, 87, 93, 99};
  EXPECT_EQ(apgd_checkpoints(100), want);
  EXPECT_EQ(paper_checkpoints(100), want);
  // Other budgets, from the reference code's integer rule.
  EXPECT_EQ(apgd_checkpoints(10), (std::vector<int64_t>{0, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(apgd_checkpoints(1), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(apgd_checkpoints(50), (std::vector<int64_t>{0, 11, 21, 30, 38, 45}));
  EXPECT_EQ(apgd_checkpoints(1000), (std::vector<int64_t>{0, 220, 410, 570, 700, 800, 870, 930, 990}));
  EXPECT_THROW(apgd_checkpoints(0), Error);
}

TEST(Apgd, ReachesTheOptimumOfALinearScore) {
  // x0 = 0.5 and ε = 0.2: the box never binds, so the best point is x0 + ε·w/||w|| (L2) or
  // x0 + ε·sign(w) (L∞), with value w·x0 + ε||w||₂ or w·x0 + ε||w||₁.
  const Tensor w = uniform64({1, 1, 8, 8}, -1.0, 1.0, 3);
  const Tensor x0 = full({3, 1, 8, 8}, 0.5, {.dtype = DType::Float64});
  const std::vector<double> wv = w.to_vector<double>();
  double l1 = 0, l2 = 0, sum_w = 0;
  for (double v : wv) {
    l1 += std::abs(v);
    l2 += v * v;
    sum_w += v;
  }
  l2 = std::sqrt(l2);
  Generator gen(1);
  const AttackResult r2 = apgd(linear_score(w), x0, {.iterations = 30, .restarts = 1, .eps = 0.2}, {}, gen);
  const AttackResult ri =
      apgd(linear_score(w), x0, {.iterations = 30, .restarts = 1, .eps = 0.2, .norm = PgdNorm::Linf}, {}, gen);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(r2.score[i], 0.5 * sum_w + 0.2 * l2, 1e-6 * l2) << i;
    EXPECT_LE(r2.score[i], 0.5 * sum_w + 0.2 * l2 + 1e-12) << i;
    EXPECT_NEAR(ri.score[i], 0.5 * sum_w + 0.2 * l1, 1e-12) << i;
  }
}

TEST(Apgd, HalvesTheStepToConvergeOnAConcaveScore) {
  // f(x) = −||x − c||² with c inside the ball: normalised steps of the initial size 2ε = 2 would
  // jump across c forever; the halvings at the 8 checkpoints (down to 2ε/256) bring the best point
  // within ~1e-3 of c (with condition 1 off, ρ = 0, it stays 0.02–0.04 away).
  const Tensor x0 = full({4, 1, 8, 8}, 0.5, {.dtype = DType::Float64});
  const Tensor c = add(x0, mul(uniform64({4, 1, 8, 8}, -1.0, 1.0, 21), 0.04));  // ||c − x0|| < 0.32
  const ScoreFn f = [c](const Tensor& x) { return neg(sum(square(sub(x, c)), {1, 2, 3})); };
  Generator gen(6);
  const AttackResult r = apgd(f, x0, {.iterations = 100, .restarts = 1, .eps = 1.0}, {}, gen);
  const std::vector<double> dist = l2_norm_per_sample(sub(r.x, c)).to_vector<double>();
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_LT(dist[i], 0.005) << i;
    EXPECT_DOUBLE_EQ(r.score[i], -dist[i] * dist[i]) << i;
  }
}

TEST(Apgd, ResultsLieInTheBallAndTheBoxAndScoreAsReturned) {
  const RandomMlp m = random_mlp(11);
  const Tensor x0 = uniform64({12, 1, 8, 8}, 0.0, 1.0, 5);
  for (PgdNorm norm : {PgdNorm::L2, PgdNorm::Linf}) {
    const double eps = norm == PgdNorm::L2 ? 1.0 : 0.1;
    Generator gen(2);
    const AttackResult r =
        apgd(m.f, x0, {.iterations = 25, .restarts = 2, .eps = eps, .norm = norm}, m.model->named_parameters(), gen);
    ASSERT_EQ(r.x.shape(), x0.shape());
    EXPECT_FALSE(r.x.requires_grad());
    const std::vector<double> x = r.x.to_vector<double>(), s = x0.to_vector<double>();
    for (size_t i = 0; i < 12; ++i) {
      double l2 = 0, linf = 0;
      for (size_t k = 0; k < 64; ++k) {
        const double v = x[i * 64 + k], d = v - s[i * 64 + k];
        EXPECT_GE(v, 0.0);
        EXPECT_LE(v, 1.0);
        l2 += d * d;
        linf = std::max(linf, std::abs(d));
      }
      EXPECT_LE(norm == PgdNorm::L2 ? std::sqrt(l2) : linf, eps * (1 + 1e-9)) << i;
    }
    // The reported scores are f of the returned points, and no lower than the clean scores.
    const std::vector<double> again = scores_of(m.f, r.x), clean = scores_of(m.f, x0);
    for (size_t i = 0; i < 12; ++i) {
      EXPECT_DOUBLE_EQ(r.score[i], again[i]) << i;
      EXPECT_GE(r.score[i], clean[i]) << i;
    }
    EXPECT_GT(mean_of(r.score), mean_of(clean) + 0.01);
    // The parameters are frozen only for the duration.
    for (const auto& [name, p] : m.model->named_parameters()) EXPECT_TRUE(p.requires_grad()) << name;
  }
}

TEST(Apgd, ZeroRadiusReturnsTheStart) {
  const RandomMlp m = random_mlp(12);
  const Tensor x0 = uniform64({5, 1, 8, 8}, 0.0, 1.0, 6);
  Generator gen(3);
  const AttackResult r = apgd(m.f, x0, {.iterations = 10, .restarts = 2, .eps = 0.0}, m.model->named_parameters(), gen);
  EXPECT_EQ(r.x.to_vector<double>(), x0.to_vector<double>());
  EXPECT_EQ(r.score, scores_of(m.f, x0));
}

TEST(Apgd, MoreRestartsNeverLowerTheScore) {
  const RandomMlp m = random_mlp(13);
  const Tensor x0 = uniform64({16, 1, 8, 8}, 0.0, 1.0, 7);
  Generator g1(4), g3(4);
  const ApgdOptions one{.iterations = 20, .restarts = 1, .eps = 1.0};
  ApgdOptions three = one;
  three.restarts = 3;
  const AttackResult r1 = apgd(m.f, x0, one, m.model->named_parameters(), g1);
  const AttackResult r3 = apgd(m.f, x0, three, m.model->named_parameters(), g3);
  int strictly_better = 0;
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_GE(r3.score[i], r1.score[i]) << i;
    strictly_better += r3.score[i] > r1.score[i];
  }
  EXPECT_GT(strictly_better, 0);  // the later restarts do find other points
}

TEST(Apgd, ReachesAtLeastPlainPgdWithTheSameBudget) {
  // 100 gradient evaluations each (APGD: the start + 99 iterations), one run from the image for
  // PGD (no random start) against one random start for APGD; PGD at several step sizes, its best
  // iterate scored. APGD must match or beat every one on average, and sample by sample up to a
  // small slack.
  const RandomMlp m = random_mlp(14);
  const Tensor x0 = uniform64({32, 1, 8, 8}, 0.0, 1.0, 8);
  const double eps = 1.0;
  Generator gen(5);
  const AttackResult a = apgd(m.f, x0, {.iterations = 99, .restarts = 1, .eps = eps}, m.model->named_parameters(), gen);
  for (double step : {2.5 * eps / 100, 0.1, 0.25, 1.0}) {
    std::vector<double> best = scores_of(m.f, x0);
    pgd(m.f, x0, {.steps = 100, .step_size = step, .eps = eps}, m.model->named_parameters(), gen,
        [&](int64_t, const Tensor& x) {
          const std::vector<double> s = scores_of(m.f, x);
          for (size_t i = 0; i < s.size(); ++i) best[i] = std::max(best[i], s[i]);
        });
    EXPECT_GE(mean_of(a.score), mean_of(best)) << "PGD step " << step;
    int worse = 0;
    for (size_t i = 0; i < best.size(); ++i) worse += a.score[i] < best[i] - 1e-3 * std::abs(best[i]) - 1e-6;
    EXPECT_LE(worse, 3) << "PGD step " << step;
  }
}

TEST(Apgd, RejectsBadOptions) {
  const Tensor x0 = uniform64({2, 1, 8, 8}, 0.0, 1.0, 9);
  const Tensor w = uniform64({1, 1, 8, 8}, -1.0, 1.0, 3);
  Generator gen(0);
  const auto run = [&](ApgdOptions o) { return apgd(linear_score(w), x0, o, {}, gen); };
  EXPECT_THROW(run({.iterations = 0}), Error);
  EXPECT_THROW(run({.restarts = 0}), Error);
  EXPECT_THROW(run({.eps = -0.1}), Error);
  EXPECT_THROW(run({.eps = std::numeric_limits<double>::infinity()}), Error);
  EXPECT_THROW(run({.rho = 1.5}), Error);
  EXPECT_THROW(run({.lo = 1.0, .hi = 0.0}), Error);
  const ScoreFn wrong = [](const Tensor& x) { return reshape(x, {x.size(0), -1}); };
  EXPECT_THROW(apgd(wrong, x0, {.iterations = 2, .restarts = 1}, {}, gen), Error);
}
