// R1 = 0.5 · mean_i ||∇x f(x_i)||² through whole models: its gradient w.r.t. the parameters,
// taken by double backward (grad of a grad computed with create_graph), against central finite
// differences of R1 itself. One tiny float64 instance per model family, BatchNorm in eval mode
// with random statistics and affine parameters, so every layer's second-order path is used.
//
// Tolerance: |analytic − FD| ≤ 1e-6 · max|analytic over the tensor| + 1e-8 · R1. With h = 1e-6
// the central difference has truncation error O(h²) and round-off ≈ 1e-16 · R1 / h; the
// networks are smooth in their weights between activation kinks, which a 1e-6 step does not
// cross for these fixed seeds. Biases that only shift piecewise-linear units have dR1 = 0
// exactly (the input gradient does not depend on them); the check covers those as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "nn/layers/basic.h"
#include "nn/layers/layers.h"
#include "nn/models/discriminator.h"
#include "nn/models/model_config.h"
#include "ops/inplace.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::nn;

namespace {

constexpr DType kF64 = DType::Float64;

// Random BatchNorm affine parameters and running statistics (eval mode is then a non-trivial
// per-channel affine map).
void randomise_batchnorm(Module& model, Generator& gen) {
  NoGradGuard no_grad;
  for (const auto& [name, m] : model.named_modules()) {
    auto* bn = dynamic_cast<BatchNorm2d*>(m);
    if (!bn) continue;
    const Shape s = bn->weight.shape();
    copy_(bn->weight, uniform(s, 0.5, 1.5, {.dtype = kF64}, &gen));
    copy_(bn->bias, uniform(s, -0.3, 0.3, {.dtype = kF64}, &gen));
    copy_(bn->running_mean, uniform(s, -0.3, 0.3, {.dtype = kF64}, &gen));
    copy_(bn->running_var, uniform(s, 0.5, 2.0, {.dtype = kF64}, &gen));
  }
}

// Scales every weight up from torch's default bound (×2.4, about He initialisation), so the
// input gradient — and with it R1 — is not vanishingly small in these deep tiny networks.
void scale_weights(Module& model) {
  NoGradGuard no_grad;
  for (const auto& [name, p] : model.named_parameters())
    if (name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0 && p.dim() >= 2) mul_(p, 2.4);
}

Tensor score(Module& model, const Tensor& x) {
  const Tensor out = model.forward(x);
  return select(reshape(out, {out.size(0), -1}), 1, 0);
}

// R1 at the model's current parameters; with create_graph the result is differentiable in them.
Tensor r1_of(Module& model, const Tensor& x, bool create_graph) {
  const Tensor xr = detach(x).set_requires_grad(true);
  const Tensor g = grad({sum(score(model, xr))}, {xr}, {}, {.create_graph = create_graph})[0];
  return mul(mean(sum(square(reshape(g, {g.size(0), -1})), {1})), 0.5);
}

void set_entry(const Tensor& p, int64_t k, double value) {
  NoGradGuard no_grad;
  std::vector<double> v = p.to_vector<double>();
  v[static_cast<size_t>(k)] = value;
  copy_(p, from_vector(v, p.shape(), {.dtype = kF64}));
}

// Compares dR1/dθ from double backward with central differences at a few entries of every
// parameter tensor (first, middle, last). Returns the number of entries compared.
int check_r1_gradients(Module& model, const Tensor& x) {
  model.eval();
  const NamedTensors params = model.named_parameters();
  Tensors leaves;
  for (const auto& [n, p] : params) leaves.push_back(p);
  const Tensor r1 = r1_of(model, x, /*create_graph=*/true);
  EXPECT_GT(r1.item(), 1e-6) << "R1 should not be negligible, or the check says little";
  const Tensors analytic = grad({r1}, leaves, {}, {.allow_unused = true});

  const double h = 1e-6;
  int compared = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [name, p] = params[i];
    const std::vector<double> a =
        analytic[i].defined() ? analytic[i].to_vector<double>() : std::vector<double>(p.numel(), 0.0);
    double scale = 0;
    for (double v : a) scale = std::max(scale, std::abs(v));
    const int64_t n = p.numel();
    for (int64_t k : {int64_t{0}, n / 2, n - 1}) {
      const double orig = p.to_vector<double>()[static_cast<size_t>(k)];
      set_entry(p, k, orig + h);
      const double up = r1_of(model, x, false).item();
      set_entry(p, k, orig - h);
      const double down = r1_of(model, x, false).item();
      set_entry(p, k, orig);
      const double fd = (up - down) / (2 * h);
      EXPECT_NEAR(a[static_cast<size_t>(k)], fd, 1e-6 * scale + 1e-8 * r1.item())
          << "dR1/d" << name << "[" << k << "] (tensor scale " << scale << ")";
      ++compared;
    }
  }
  return compared;
}

}  // namespace

TEST(ModelR1, ResNetBasicParameterGradientsMatchFiniteDifferences) {
  Generator gen(21);
  auto model = build_model({{"arch", "resnet"}, {"block", "basic"}, {"layers", {1, 1, 1, 1}},
                            {"widths", {2, 4, 4, 4}}, {"in_channels", 1}, {"num_classes", 2}, {"pool", 1},
                            {"mean", {0.4}}, {"std", {0.3}}},
                           gen, kF64);
  randomise_batchnorm(*model, gen);
  scale_weights(*model);
  const Tensor x = rand({2, 1, 8, 8}, {.dtype = kF64}, &gen);
  EXPECT_EQ(check_r1_gradients(*model, x), 3 * static_cast<int>(model->named_parameters().size()));
}

TEST(ModelR1, ResNetBottleneckParameterGradientsMatchFiniteDifferences) {
  Generator gen(22);
  auto model = build_model({{"arch", "resnet"}, {"block", "bottleneck"}, {"layers", {1, 1, 1, 1}},
                            {"widths", {2, 2, 2, 2}}, {"pool", 1}},
                           gen, kF64);
  randomise_batchnorm(*model, gen);
  scale_weights(*model);
  const Tensor x = rand({2, 3, 8, 8}, {.dtype = kF64}, &gen);
  EXPECT_GT(check_r1_gradients(*model, x), 100);
}

// The StarGAN discriminator's first ResBlk is dim_in² · 9 · img_size² ≈ 2.4 GMAC at any size
// (dim_in = 2^14 / img_size), too slow for finite differences; this is the same wiring built
// from the same layers (conv, ResBlk with and without the 1×1 shortcut, LeakyReLU, 4×4 conv,
// 1×1 conv) with dim_in = 4 on 16×16 images. The full-size model is checked against PyTorch in
// test_model_fixtures.cpp.
TEST(ModelR1, DiscriminatorBlocksParameterGradientsMatchFiniteDifferences) {
  Generator gen(23);
  Sequential main;
  main.push_back(std::make_shared<Conv2d>(Conv2dOptions{3, 4, 3, 1, 1, true}, gen, kF64));
  main.push_back(std::make_shared<ResBlk>(4, 8, gen, kF64));  // learned 1×1 shortcut
  main.push_back(std::make_shared<ResBlk>(8, 8, gen, kF64));  // identity shortcut
  main.push_back(std::make_shared<LeakyReLU>(0.2));
  main.push_back(std::make_shared<Conv2d>(Conv2dOptions{8, 8, 4, 1, 0, true}, gen, kF64));
  main.push_back(std::make_shared<LeakyReLU>(0.2));
  main.push_back(std::make_shared<Conv2d>(Conv2dOptions{8, 1, 1, 1, 0, true}, gen, kF64));
  scale_weights(main);
  const Tensor x = rand({2, 3, 16, 16}, {.dtype = kF64}, &gen);
  EXPECT_EQ(check_r1_gradients(main, x), 3 * static_cast<int>(main.named_parameters().size()));
}

TEST(ModelR1, MlpParameterGradientsMatchFiniteDifferences) {
  Generator gen(24);
  auto model = build_model({{"arch", "mlp"}, {"dims", {2, 8, 8, 1}}, {"activation", "leaky_relu"}}, gen, kF64);
  scale_weights(*model);
  const Tensor x = randn({4, 2}, {.dtype = kF64}, &gen);
  EXPECT_EQ(check_r1_gradients(*model, x), 3 * 6);
}
