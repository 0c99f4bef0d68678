// The training objective: the BCE term against log(1 + e^∓z) by hand, R1 against closed forms
// (linear and quadratic scores, with the quadratic's parameter gradient), and the parameter
// gradients of R1 and of the whole loss against central finite differences on a tiny MLP.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "at_ebm/method/losses.h"
#include "engine/autograd/gradcheck.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::at_ebm;

namespace {

Tensor t64(const std::vector<double>& v, const Shape& shape) {
  return from_vector<double>(v, shape, {.dtype = DType::Float64});
}

Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {.dtype = DType::Float64}, &gen);
}

// f(x) = x[:, 0] for x [N, 1]: the logits are the inputs and ∇x f = 1 per sample.
const ScoreFn kIdentity = [](const Tensor& x) { return reshape(x, {x.size(0)}); };

double softplus_d(double z) { return std::log1p(std::exp(z)); }

struct TinyMlp {
  std::shared_ptr<nn::Module> model;
  ScoreFn f;
  Tensors params;
};

TinyMlp tiny_mlp(uint64_t seed) {
  Generator gen(seed);
  TinyMlp m;
  m.model = nn::build_model({{"arch", "mlp"}, {"dims", {3, 6, 1}}, {"slope", 0.2}}, gen, DType::Float64);
  nn::Module* raw = m.model.get();
  m.f = [raw](const Tensor& x) { return nn::energy_logit(*raw, x); };
  for (const auto& [name, p] : m.model->named_parameters()) m.params.push_back(p);
  return m;
}

}  // namespace

TEST(Losses, BceMatchesHandComputation) {
  const Tensor real = t64({0.5, -2.0}, {2, 1}), fake = t64({1.0, -0.25, 3.0}, {3, 1});
  // Real samples have target 1: log(1 + e^−z); fake ones target 0: log(1 + e^z). Mean over 5.
  const double want =
      (softplus_d(-0.5) + softplus_d(2.0) + softplus_d(1.0) + softplus_d(-0.25) + softplus_d(3.0)) / 5.0;
  const LossTerms off = adversarial_loss(kIdentity, real, fake, 10.0, false);
  EXPECT_NEAR(off.bce.item(), want, 1e-15);
  EXPECT_FALSE(off.r1.defined());
  EXPECT_TRUE(off.loss.is_same(off.bce));
  EXPECT_EQ(off.logits_real.to_vector<double>(), (std::vector<double>{0.5, -2.0}));
  EXPECT_EQ(off.logits_fake.to_vector<double>(), (std::vector<double>{1.0, -0.25, 3.0}));

  // With R1: ∇x f = 1 for every sample, so R1 = 0.5 and loss = bce + γ·0.5.
  const LossTerms on = adversarial_loss(kIdentity, real, fake, 10.0, true);
  EXPECT_NEAR(on.bce.item(), want, 1e-15);
  EXPECT_NEAR(on.r1.item(), 0.5, 1e-15);
  EXPECT_NEAR(on.loss.item(), want + 5.0, 1e-14);
  EXPECT_EQ(on.loss.dim(), 0);
}

TEST(Losses, R1OfALinearScoreIsHalfTheSquaredWeightNorm) {
  const Tensor w = t64({1.0, -2.0, 0.5, 3.0}, {1, 4}).set_requires_grad(true);
  const ScoreFn f = [w](const Tensor& x) { return sum(mul(x, w), {1}); };
  const Tensor x = randn64({5, 4}, 1);
  Tensor logits;
  const Tensor r1 = r1_penalty(f, x, &logits);
  EXPECT_NEAR(r1.item(), 0.5 * (1 + 4 + 0.25 + 9), 1e-13);
  // The logits are f(x) of the same forward pass.
  const std::vector<double> lv = logits.to_vector<double>(), xv = x.to_vector<double>(), wv = {1, -2, 0.5, 3};
  for (int64_t i = 0; i < 5; ++i) {
    double s = 0;
    for (int64_t j = 0; j < 4; ++j) s += xv[i * 4 + j] * wv[j];
    EXPECT_NEAR(lv[i], s, 1e-13);
  }
  // dR1/dw = w.
  const std::vector<double> gw = grad({r1}, {w})[0].to_vector<double>();
  for (size_t j = 0; j < 4; ++j) EXPECT_NEAR(gw[j], wv[j], 1e-13);
}

TEST(Losses, R1OfAQuadraticScoreAndItsParameterGradient) {
  // f(x)_i = Σ_j a_j x_ij²  ⇒  ∇x f = 2a⊙x,  R1 = (2/N) Σ_ij a_j² x_ij²,  dR1/da_j = (4 a_j/N) Σ_i x_ij².
  const std::vector<double> av = {0.5, -1.5, 2.0};
  const Tensor a = t64(av, {1, 3}).set_requires_grad(true);
  const ScoreFn f = [a](const Tensor& x) { return sum(mul(square(x), a), {1}); };
  const int64_t n = 4;
  const Tensor x = randn64({n, 3}, 2);
  const std::vector<double> xv = x.to_vector<double>();
  double want = 0;
  std::vector<double> want_grad(3, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      const double x2 = xv[i * 3 + j] * xv[i * 3 + j];
      want += 2.0 / n * av[j] * av[j] * x2;
      want_grad[j] += 4.0 * av[j] / n * x2;
    }
  }
  const Tensor r1 = r1_penalty(f, x);
  EXPECT_NEAR(r1.item(), want, 1e-12);
  const std::vector<double> ga = grad({r1}, {a})[0].to_vector<double>();
  for (size_t j = 0; j < 3; ++j) EXPECT_NEAR(ga[j], want_grad[j], 1e-12) << j;
}

TEST(Losses, ParameterGradientsMatchFiniteDifferencesOnATinyMlp) {
  TinyMlp m = tiny_mlp(3);
  const Tensor x_real = randn64({4, 3}, 4), x_fake = randn64({3, 3}, 5);
  // gradcheck perturbs the parameter tensors in place; the model reads those very tensors.
  const GradcheckFn r1_fn = [&](const Tensors&) -> Tensors { return {r1_penalty(m.f, x_real)}; };
  const GradcheckResult r1 = gradcheck(r1_fn, m.params);
  EXPECT_TRUE(r1.ok) << "R1: " << r1.message;
  const GradcheckFn loss_fn = [&](const Tensors&) -> Tensors {
    const LossTerms t = adversarial_loss(m.f, x_real, x_fake, 3.0, true);
    return {t.loss, t.bce, t.r1};
  };
  const GradcheckResult all = gradcheck(loss_fn, m.params);
  EXPECT_TRUE(all.ok) << "loss: " << all.message;
  // R1 is not trivially zero here (otherwise the check above would prove little).
  EXPECT_GT(r1_penalty(m.f, x_real).item(), 1e-3);
}

TEST(Losses, BackwardAccumulatesTheSameGradientAsGrad) {
  TinyMlp m = tiny_mlp(6);
  const Tensor x_real = randn64({3, 3}, 7), x_fake = randn64({2, 3}, 8);
  const LossTerms t1 = adversarial_loss(m.f, x_real, x_fake, 0.7, true);
  const Tensors g = grad({t1.loss}, m.params);
  const LossTerms t2 = adversarial_loss(m.f, x_real, x_fake, 0.7, true);
  backward(t2.loss);
  for (size_t k = 0; k < m.params.size(); ++k) {
    ASSERT_TRUE(m.params[k].grad().defined()) << k;
    const std::vector<double> a = g[k].to_vector<double>(), b = m.params[k].grad().to_vector<double>();
    for (size_t e = 0; e < a.size(); ++e) EXPECT_NEAR(a[e], b[e], 1e-14) << k << "," << e;
  }
}

TEST(Losses, R1WorksWithGradModeOffAndRejectsBadInputs) {
  const Tensor w = t64({3.0, 4.0}, {1, 2}).set_requires_grad(true);
  const ScoreFn f = [w](const Tensor& x) { return sum(mul(x, w), {1}); };
  {
    NoGradGuard no_grad;
    EXPECT_NEAR(r1_penalty(f, randn64({2, 2}, 9)).item(), 12.5, 1e-13);
  }
  const Tensor needs_grad = randn64({2, 2}, 10).set_requires_grad(true);
  EXPECT_THROW(r1_penalty(f, needs_grad), Error);
  // A score function that does not return [N].
  const ScoreFn bad = [](const Tensor& x) { return sum(x); };
  try {
    adversarial_loss(bad, randn64({2, 2}, 11), randn64({2, 2}, 12), 1.0, false);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must return shape [2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(adversarial_loss(f, randn64({2, 2}, 13), randn64({2, 2}, 14), -1.0, true), Error);
}
