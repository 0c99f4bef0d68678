// GraphedLossStep: on the CPU it is exactly the eager step (zero_grad, adversarial_loss,
// backward); on CUDA the warm-up run is eager, the second run captures and replays, later ones
// replay, and the loss terms and every parameter's gradient equal the eager step's — with new
// batches each run, after the weights change in place (an optimiser step), after zero_grad()
// dropped the gradients, while lazy R1 alternates between two keys (both stay captured), and
// when a third key replaces the older one. The CUDA half skips without a GPU; its sequence also
// runs on the CPU in every build (nothing replays there), which proves that the differences it
// relies on to catch a stale replay (new batches, new weights, R1 or not) are there.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "at_ebm/method/loss_graph.h"
#include "common/expect.h"
#include "common/gpu_test.h"
#include "common/tiny_models.h"
#include "engine/autograd/engine.h"
#include "engine/device.h"
#include "nn/models/model_config.h"
#include "ops/inplace.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::at_ebm;

namespace {

using Model = atebm::test::ScoredModel;
using atebm::test::scored_tiny_resnet;

using atebm::test::max_abs_diff;

// What one step leaves behind: its terms (loss, bce, r1 or nothing, both logits) and every
// parameter's gradient, copied (a later step must not change them).
struct Outcome {
  std::vector<Tensor> terms, grads;
};

Outcome outcome_of(const LossTerms& t, const nn::NamedTensors& params) {
  Outcome o;
  for (const Tensor& x : {t.loss, t.bce, t.r1, t.logits_real, t.logits_fake})
    o.terms.push_back(x.defined() ? clone(detach(x)) : Tensor());
  for (const auto& [name, p] : params) o.grads.push_back(p.grad().defined() ? clone(p.grad()) : Tensor());
  return o;
}

Outcome eager_step(const Model& m, const nn::NamedTensors& params, const Tensor& real, const Tensor& fake, double gamma,
                   bool r1) {
  for (auto [name, p] : params) p.set_grad(Tensor());
  const LossTerms t = adversarial_loss(m.f, real, fake, gamma, r1);
  backward(t.loss);
  return outcome_of(t, params);
}

// Largest difference between two outcomes; a term or gradient defined in one only is infinite.
double max_diff(const Outcome& a, const Outcome& b) {
  double worst = 0.0;
  auto one = [&](const Tensor& x, const Tensor& y) {
    if (x.defined() != y.defined()) worst = 1e300;
    else if (x.defined()) worst = std::max(worst, max_abs_diff(x, y));
  };
  for (size_t i = 0; i < a.terms.size(); ++i) one(a.terms[i], b.terms[i]);
  for (size_t i = 0; i < a.grads.size(); ++i) one(a.grads[i], b.grads[i]);
  return worst;
}

}  // namespace

TEST(GraphedLossStep, OnTheCpuIsExactlyTheEagerStep) {
  Model m = scored_tiny_resnet(Device::cpu());
  const nn::NamedTensors params = m.net->named_parameters();
  GraphedLossStep step(m.f, params);
  Generator data(3);
  for (bool r1 : {true, false, true}) {
    const Tensor real = rand({4, 1, 8, 8}, {}, &data), fake = rand({3, 1, 8, 8}, {}, &data);
    const Outcome ref = eager_step(m, params, real, fake, 0.5, r1);
    const Outcome ours = outcome_of(step.run(real, fake, 0.5, r1), params);
    EXPECT_EQ(max_diff(ours, ref), 0.0);
    EXPECT_FALSE(step.last_run_replayed());
  }
}

namespace {

// GraphedLossStep against the eager step on `device` (see the top). Only CUDA replays.
void check_graphed_loss_against_eager(const Device& device) {
  const bool replays = device.is_cuda();
  Model m = scored_tiny_resnet(device);
  const nn::NamedTensors params = m.net->named_parameters();
  GraphedLossStep step(m.f, params);
  Generator data(3);
  const TensorOptions on{.device = device};
  constexpr double kGamma = 0.5;
  constexpr double kTol = 1e-5;
  std::vector<Outcome> kept;  // earlier runs' returned terms: a later replay must not change them
  std::vector<Outcome> kept_ref;
  // One key, four runs: warm-up (eager), capture + replay, replays; new batches each time.
  for (int run = 0; run < 4; ++run) {
    const Tensor real = rand({4, 1, 8, 8}, on, &data), fake = rand({3, 1, 8, 8}, on, &data);
    const Outcome ref = eager_step(m, params, real, fake, kGamma, true);
    if (run > 0) {
      EXPECT_GT(max_abs_diff(ref.terms[0], kept_ref.back().terms[0]), 1e-6)
          << "run " << run << ": the loss did not change with the batch, a stale replay would pass";
    }
    for (auto [name, p] : params) p.set_grad(Tensor());  // as an optimiser's zero_grad() would
    const LossTerms t = step.run(real, fake, kGamma, true);
    EXPECT_EQ(step.last_run_replayed(), replays && run >= 1) << "run " << run;
    EXPECT_FALSE(t.loss.requires_grad()) << "the terms come back without history";
    const Outcome ours = outcome_of(t, params);
    EXPECT_LE(max_diff(ours, ref), kTol) << "run " << run;
    kept.push_back(outcome_of(t, params));
    kept_ref.push_back(ref);
  }
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_LE(max_diff(kept[i], kept_ref[i]), kTol) << "kept run " << i;

  const Tensor real = rand({4, 1, 8, 8}, on, &data), fake = rand({3, 1, 8, 8}, on, &data);
  const Outcome old_weights = eager_step(m, params, real, fake, kGamma, true);
  {  // an optimiser-like step in place: the replay reads the new weights
    NoGradGuard no_grad;
    Generator noise(9);
    for (const auto& [name, p] : params)
      if (p.dim() == 4) add_(p, randn(p.shape(), on, &noise), 0.1);
  }
  const Outcome new_weights = eager_step(m, params, real, fake, kGamma, true);
  EXPECT_GT(max_diff(new_weights, old_weights), 1e-4) << "the new weights changed nothing: a stale replay would pass";
  EXPECT_LE(max_diff(outcome_of(step.run(real, fake, kGamma, true), params), new_weights), kTol);
  EXPECT_EQ(step.last_run_replayed(), replays);

  // Lazy R1: the off-iterations are another key (warm-up, then captured); both stay captured.
  const Outcome without = eager_step(m, params, real, fake, kGamma, false);
  EXPECT_FALSE(without.terms[2].defined());
  EXPECT_GT(max_diff(without, new_weights), 1e-6);  // defined r1 vs none: infinite
  EXPECT_LE(max_diff(outcome_of(step.run(real, fake, kGamma, false), params), without), kTol);
  EXPECT_FALSE(step.last_run_replayed()) << "a new key's first run is its warm-up";
  for (int i = 0; i < 2; ++i) {
    EXPECT_LE(max_diff(outcome_of(step.run(real, fake, kGamma, false), params), without), kTol);
    EXPECT_EQ(step.last_run_replayed(), replays);
    EXPECT_LE(max_diff(outcome_of(step.run(real, fake, kGamma, true), params), new_weights), kTol);
    EXPECT_EQ(step.last_run_replayed(), replays) << "the R1 key stayed captured";
  }
  // A third key (another fake batch size) replaces the older of the two (without R1).
  const Tensor fake5 = rand({5, 1, 8, 8}, on, &data);
  const Outcome five = eager_step(m, params, real, fake5, kGamma, true);
  EXPECT_LE(max_diff(outcome_of(step.run(real, fake5, kGamma, true), params), five), kTol);
  EXPECT_FALSE(step.last_run_replayed());
  EXPECT_LE(max_diff(outcome_of(step.run(real, fake, kGamma, true), params), new_weights), kTol);
  EXPECT_EQ(step.last_run_replayed(), replays) << "the R1 key was used last: it stayed";
  EXPECT_LE(max_diff(outcome_of(step.run(real, fake, kGamma, false), params), without), kTol);
  EXPECT_FALSE(step.last_run_replayed()) << "the key without R1 was the older: it was replaced";
}

}  // namespace

TEST(GraphedLossStep, OnCudaReplaysAndEqualsTheEagerStep) {
  ATEBM_SKIP_WITHOUT_GPU();
  check_graphed_loss_against_eager(Device::cuda());
}

// The CUDA test's sequence with nothing replayed, in every build.
TEST(GraphedLossStep, CudaSequenceHoldsOnTheCpu) { check_graphed_loss_against_eager(Device::cpu()); }
