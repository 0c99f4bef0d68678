// One whole training step of the method on CUDA against the same step on the CPU, float32:
// a small CIFAR-style ResNet (basic blocks, one per stage, widths 8/16/16/16, 16×16 RGB input,
// BatchNorm frozen as the paper trains), built from one seed and moved to the GPU with
// Module::to; then adversarial_loss with R1 (the input gradient through grad(create_graph),
// i.e. double backward through every layer), backward to every parameter, one Adam step. Loss
// terms, logits, every parameter gradient, Adam's state and every updated parameter must agree.
// And PGD (at_ebm/method/pgd.h) for 3 steps from the same start on both devices, unconstrained
// ascent and a projected descent.
//
// Tolerances (float32, a dozen layers, TF32 off):
//   loss terms, logits              rtol 1e-4 of the value
//   parameter gradients             max|gpu − cpu| ≤ 2e-4 · max|cpu| per tensor (sums of
//                                   thousands of products in cuDNN's order, twice differentiated)
//   Adam state, updated parameters  |gpu − cpu| ≤ 5e-6 + 1e-5·|cpu|, with lr = eps = 1e-3:
//                                   Adam's first step is lr·g/(|g| + eps), whose sensitivity to
//                                   a gradient's round-off is at most lr/eps = 1 (at g ≈ 0; the
//                                   recipe's eps = 1e-8 would turn a round-off difference of a
//                                   gradient that is ~0 on both devices into ±lr), while every
//                                   parameter moves by more than twice that tolerance (checked)
//   PGD iterates                    |gpu − cpu| ≤ 1e-5 (images in [0, 1], λ = 0.1 per step)
// Without the CUDA backend or without a visible GPU every test skips; the same checks also run
// in every build with a second CPU model in the GPU's place (TrainingStepHarnessOnCpu), which
// proves the harness before a GPU session.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "common/expect.h"
#include "common/gpu_test.h"
#include "at_ebm/method/losses.h"
#include "at_ebm/method/pgd.h"
#include "engine/autograd/engine.h"
#include "engine/device.h"
#include "engine/factories.h"
#include "nn/layers/layers.h"
#include "nn/models/model_config.h"
#include "nn/models/resnet.h"
#include "nn/optim/adam.h"
#include "ops/math_mode.h"
#include "ops/ops.h"

namespace atebm {
namespace {

using at_ebm::LossTerms;
using at_ebm::ScoreFn;

constexpr uint64_t kModelSeed = 42;

std::unique_ptr<nn::ResNet> small_resnet(Device device) {
  nn::ResNetConfig cfg;
  cfg.block = "basic";
  cfg.layers = {1, 1, 1, 1};
  cfg.widths = {8, 16, 16, 16};
  cfg.pool = 2;  // 16×16 input → 2×2 after the three stride-2 stages
  Generator gen(kModelSeed);
  auto m = std::make_unique<nn::ResNet>(cfg, gen);
  nn::freeze_batchnorm_stats(*m, true);
  m->to(device);
  return m;
}

// |gpu − cpu| ≤ atol + rtol·|cpu| for every element.
void expect_allclose(const Tensor& gpu, const Tensor& cpu, double rtol, double atol, const std::string& what) {
  ASSERT_TRUE(gpu.defined() && cpu.defined()) << what;
  ASSERT_EQ(gpu.shape(), cpu.shape()) << what;
  const auto a = gpu.to_vector<double>(), b = cpu.to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::abs(a[i] - b[i]) <= atol + rtol * std::abs(b[i])) continue;
    if (bad++ < 3) ADD_FAILURE() << what << ": element " << i << " gpu " << a[i] << " cpu " << b[i];
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << a.size() << " elements differ";
}

using atebm::test::max_abs_diff;

class CudaTrainingStep : public ::testing::Test {
 protected:
  void SetUp() override {
    ATEBM_SKIP_WITHOUT_GPU();
    set_allow_tf32(false);
  }
  void TearDown() override { set_allow_tf32(true); }
};

// The R1 + Adam step on `device` against the CPU.
void check_r1_step(const Device& device) {
  auto cpu_model = small_resnet(Device::cpu());
  auto gpu_model = small_resnet(device);
  // Same seed, same initialisation: the starting points are identical before anything runs.
  const nn::NamedTensors cpu_state = cpu_model->state_dict(), gpu_state = gpu_model->state_dict();
  ASSERT_EQ(cpu_state.size(), gpu_state.size());
  for (size_t i = 0; i < cpu_state.size(); ++i) {
    ASSERT_EQ(cpu_state[i].first, gpu_state[i].first);
    ASSERT_EQ(gpu_state[i].second.device(), device) << gpu_state[i].first;
    EXPECT_EQ(gpu_state[i].second.to_vector<double>(), cpu_state[i].second.to_vector<double>()) << cpu_state[i].first;
  }

  Generator data_gen(7);
  const Tensor real = rand({4, 3, 16, 16}, {}, &data_gen);
  const Tensor fake = rand({4, 3, 16, 16}, {}, &data_gen);
  const Tensor real_gpu = copy_to(real, device, real.dtype());
  const Tensor fake_gpu = copy_to(fake, device, fake.dtype());

  // r1_weight 1: R1 carries real weight in every parameter gradient (the recipe's 0.01 would let
  // a wrong double backward hide under the BCE gradient).
  constexpr double kR1Weight = 1.0;
  const ScoreFn f_cpu = [&](const Tensor& x) { return nn::energy_logit(*cpu_model, x); };
  const ScoreFn f_gpu = [&](const Tensor& x) { return nn::energy_logit(*gpu_model, x); };
  const LossTerms tc = at_ebm::adversarial_loss(f_cpu, real, fake, kR1Weight, true);
  const LossTerms tg = at_ebm::adversarial_loss(f_gpu, real_gpu, fake_gpu, kR1Weight, true);
  ASSERT_TRUE(tc.r1.defined() && tg.r1.defined());
  EXPECT_GT(tc.r1.item(), 1e-6) << "R1 is ~0: the check would not test the double backward";
  EXPECT_EQ(tg.loss.device(), device);
  expect_allclose(tg.logits_real, tc.logits_real, 1e-4, 1e-6, "logits_real");
  expect_allclose(tg.logits_fake, tc.logits_fake, 1e-4, 1e-6, "logits_fake");
  expect_allclose(tg.bce, tc.bce, 1e-4, 0.0, "bce");
  expect_allclose(tg.r1, tc.r1, 1e-4, 0.0, "r1");
  expect_allclose(tg.loss, tc.loss, 1e-4, 0.0, "loss");

  const nn::AdamOptions adam{.lr = 1e-3, .beta1 = 0.0, .beta2 = 0.99, .eps = 1e-3};
  nn::Adam opt_cpu(cpu_model->named_parameters(), adam);
  nn::Adam opt_gpu(gpu_model->named_parameters(), adam);
  opt_cpu.zero_grad();
  opt_gpu.zero_grad();
  backward(tc.loss);
  backward(tg.loss);

  const nn::NamedTensors pc = cpu_model->named_parameters(), pg = gpu_model->named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  std::vector<Tensor> before;
  for (const auto& [name, p] : pc) before.push_back(clone(detach(p)));
  for (size_t i = 0; i < pc.size(); ++i) {
    const std::string& name = pc[i].first;
    ASSERT_TRUE(pc[i].second.grad().defined()) << name << ": no gradient on the CPU";
    ASSERT_TRUE(pg[i].second.grad().defined()) << name << ": no gradient on the GPU";
    EXPECT_EQ(pg[i].second.grad().device(), device) << name;
    test::expect_close(pg[i].second.grad(), pc[i].second.grad(), 2e-4, "gradient of " + name);
  }

  opt_cpu.step();
  opt_gpu.step();
  const nn::NamedTensors sc = opt_cpu.state_tensors(), sg = opt_gpu.state_tensors();
  ASSERT_EQ(sc.size(), sg.size());
  for (size_t i = 0; i < sc.size(); ++i) {
    ASSERT_EQ(sc[i].first, sg[i].first);
    if (sc[i].second.dtype() == DType::Int64) {
      EXPECT_EQ(sg[i].second.to_vector<int64_t>(), sc[i].second.to_vector<int64_t>()) << sc[i].first;
    } else {
      expect_allclose(sg[i].second, sc[i].second, 1e-5, 1e-5, sc[i].first);
    }
  }
  for (size_t i = 0; i < pc.size(); ++i) {
    const std::string& name = pc[i].first;
    expect_allclose(pg[i].second, pc[i].second, 1e-5, 5e-6, "updated " + name);
    // The step moved the parameter by more than the comparison above allows, so that comparison
    // is not of two (nearly) untouched copies. Not "by ~lr": Adam's first step is lr·g/(|g| + eps),
    // so a parameter with a small gradient (deep batch-norm scales here: ~6e-5) moves less.
    const double allowed = 5e-6 + 1e-5 * max_abs_diff(before[i], zeros_like(before[i]));
    EXPECT_GT(max_abs_diff(pc[i].second, before[i]), 2 * allowed) << name << " did not move";
  }
}

// PGD on `device` against the CPU.
void check_pgd(const Device& device) {
  auto cpu_model = small_resnet(Device::cpu());
  auto gpu_model = small_resnet(device);
  const ScoreFn f_cpu = [&](const Tensor& x) { return nn::energy_logit(*cpu_model, x); };
  const ScoreFn f_gpu = [&](const Tensor& x) { return nn::energy_logit(*gpu_model, x); };
  Generator data_gen(11);
  const Tensor start = rand({4, 3, 16, 16}, {}, &data_gen);
  const Tensor start_gpu = copy_to(start, device, start.dtype());

  const at_ebm::PgdOptions runs[] = {
      {.steps = 3, .step_size = 0.1},                                   // ascent, unconstrained
      {.steps = 3, .step_size = 0.1, .eps = 0.15, .descent = true},     // descent, L2 ball of 0.15
  };
  for (const at_ebm::PgdOptions& opt : runs) {
    SCOPED_TRACE(opt.descent ? "descent, eps 0.15" : "ascent, eps inf");
    Generator gc(5), gg(5);  // no random start: unused, but pgd() takes one
    const Tensor xc = at_ebm::pgd(f_cpu, start, opt, cpu_model->named_parameters(), gc);
    const Tensor xg = at_ebm::pgd(f_gpu, start_gpu, opt, gpu_model->named_parameters(), gg);
    EXPECT_EQ(xg.device(), device);
    expect_allclose(xg, xc, 0.0, 1e-5, "PGD iterate");
    // The attack moved the images (else equal outputs would prove nothing).
    EXPECT_GT(max_abs_diff(xc, start), 1e-3);
  }
  // pgd() froze the parameters only while it ran.
  for (const auto& [name, p] : gpu_model->named_parameters()) EXPECT_TRUE(p.requires_grad()) << name;
}

TEST_F(CudaTrainingStep, R1StepWithAdamMatchesCpu) { check_r1_step(Device::cuda()); }
TEST_F(CudaTrainingStep, PgdMatchesCpu) { check_pgd(Device::cuda()); }

TEST(TrainingStepHarnessOnCpu, R1StepWithAdam) { check_r1_step(Device::cpu()); }
TEST(TrainingStepHarnessOnCpu, Pgd) { check_pgd(Device::cpu()); }

}  // namespace
}  // namespace atebm
