// Losses: binary_cross_entropy_with_logits, log_softmax, cross_entropy, mse_loss. First and
// second derivatives in every floating argument (targets included), hand-computed values,
// stability at |z| = 1000, and the error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/autograd/gradcheck.h"
#include "ops/ops.h"
#include "ops/op_test_util.h"

using namespace atebm;
using namespace atebm::test;

namespace {



Tensor labels_of(const std::vector<int64_t>& v) {
  return from_vector<int64_t>(v, {static_cast<int64_t>(v.size())}, {.dtype = DType::Int64});
}




}  // namespace

TEST(LossOps, BceWithLogitsGradcheck) {
  auto f = [](const Tensors& in) -> Tensors { return {binary_cross_entropy_with_logits(in[0], in[1])}; };
  // Logits and a soft target, both differentiable.
  expect_first_and_second_order(f, {leaf({2, 3}, 1), leaf({2, 3}, 2)}, "bce same shape");
  // A broadcast target [3] against logits [2, 3].
  expect_first_and_second_order(f, {leaf({2, 3}, 3), leaf({3}, 4)}, "bce broadcast target");
  // Large |z|: the derivative saturates to σ(z) − t without overflow.
  Tensor z = t64({-1000, -30, -1, 0.25, 2, 30, 1000}, {7}).set_requires_grad(true);
  Tensor t = t64({0, 1, 0.5, 1, 0, 0.3, 1}, {7}).set_requires_grad(true);
  expect_first_and_second_order(f, {z, t}, "bce large |z|");
}

TEST(LossOps, BceWithLogitsValuesAtExtremeLogits) {
  // Right answers far out: loss → 0; confidently wrong: loss → |z| (log(1 + e^−1000) = 0 in double).
  EXPECT_EQ(binary_cross_entropy_with_logits(t64({1000, -1000}, {2}), t64({1, 0}, {2})).item(), 0.0);
  EXPECT_EQ(binary_cross_entropy_with_logits(t64({1000, -1000}, {2}), t64({0, 1}, {2})).item(), 1000.0);
  // float32 too.
  const Tensor l32 = binary_cross_entropy_with_logits(from_vector<double>({1000, -1000}, {2}),
                                                      from_vector<double>({0, 1}, {2}));
  EXPECT_EQ(l32.dtype(), DType::Float32);
  EXPECT_FLOAT_EQ(static_cast<float>(l32.item()), 1000.0f);
  // The gradient is (σ(z) − t) / n: exactly ±1/2 here, finite.
  Tensor z = t64({1000, -1000}, {2}).set_requires_grad(true);
  expect_near(grad({binary_cross_entropy_with_logits(z, t64({0, 1}, {2}))}, {z})[0], {0.5, -0.5});
  // Ordinary values by hand: softplus(z) − z·t averaged.
  const double want = ((std::log1p(std::exp(0.5)) - 0.5 * 1.0) + std::log1p(std::exp(-2.0)) +
                       (std::log1p(std::exp(1.0)) - 1.0 * 0.25)) / 3.0;
  EXPECT_NEAR(binary_cross_entropy_with_logits(t64({0.5, -2, 1}, {3}), t64({1, 0, 0.25}, {3})).item(), want, 1e-14);
}

TEST(LossOps, BceWithLogitsBroadcastTargetEqualsExpanded) {
  Generator gen(6);
  Tensor z = randn({4, 3}, {.dtype = DType::Float64}, &gen);
  Tensor t = rand({3}, {.dtype = DType::Float64}, &gen);
  EXPECT_NEAR(binary_cross_entropy_with_logits(z, t).item(),
              binary_cross_entropy_with_logits(z, contiguous(expand(t, {4, 3}))).item(), 1e-14);
}

TEST(LossOps, LogSoftmaxGradcheckAndValues) {
  for (int64_t dim : {0, 1, -1}) {
    auto f = [dim](const Tensors& in) -> Tensors { return {log_softmax(in[0], dim)}; };
    expect_first_and_second_order(f, {leaf({3, 4}, 10 + dim)}, fmt::format("log_softmax dim {}", dim));
  }
  auto f3 = [](const Tensors& in) -> Tensors { return {log_softmax(in[0], 1)}; };
  expect_first_and_second_order(f3, {leaf({2, 3, 2}, 13)}, "log_softmax 3-D dim 1");
  // Stable for huge logits: x − logsumexp(x) with x = 1000 + {0, 1, 2}.
  const double lse = std::log(1.0 + std::exp(1.0) + std::exp(2.0));
  expect_near(log_softmax(t64({1000, 1001, 1002}, {1, 3}), 1), {-lse, 1 - lse, 2 - lse}, 1e-12);
  const Tensor y32 = log_softmax(from_vector<double>({1000, 1001, 1002}, {1, 3}), 1);
  expect_near(to(y32, DType::Float64), {-lse, 1 - lse, 2 - lse}, 1e-5);
  // Far-apart logits: the small one gets a large negative value, not −inf or NaN.
  expect_near(log_softmax(t64({0, 1000}, {2}), 0), {-1000, 0}, 1e-12);
  // Gradcheck where the logits are large and spread out.
  expect_first_and_second_order(f3, {t64({-200, 300, 301, 5, 6, 7}, {2, 3}).set_requires_grad(true)},
                                "log_softmax large logits");
}

TEST(LossOps, CrossEntropyByHand) {
  // Row 0: logits 1, 2, 3, label 2 → log(e + e² + e³) − 3; row 1: 1, 1, 1, label 0 → log 3.
  Tensor logits = t64({1, 2, 3, 1, 1, 1}, {2, 3});
  const double want = ((std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0) + std::log(3.0)) / 2.0;
  EXPECT_NEAR(cross_entropy(logits, labels_of({2, 0})).item(), want, 1e-14);
  // Its gradient: (softmax − onehot) / N.
  Tensor x = detach(logits).set_requires_grad(true);
  const Tensor g = grad({cross_entropy(x, labels_of({2, 0}))}, {x})[0];
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  expect_near(g, {std::exp(1.0) / z / 2, std::exp(2.0) / z / 2, (std::exp(3.0) / z - 1) / 2, (1.0 / 3 - 1) / 2,
                  1.0 / 6, 1.0 / 6});
}

TEST(LossOps, CrossEntropyGradcheck) {
  const Tensor labels = labels_of({1, 0, 3});
  auto f = [&](const Tensors& in) -> Tensors { return {cross_entropy(in[0], labels)}; };
  expect_first_and_second_order(f, {leaf({3, 4}, 20)}, "cross_entropy");
  expect_first_and_second_order(f, {mul(detach(leaf({3, 4}, 21)), 300.0).set_requires_grad(true)},
                                "cross_entropy large logits");
}

TEST(LossOps, MseLoss) {
  EXPECT_NEAR(mse_loss(t64({1, 2, 3}, {3}), t64({1, 0, 6}, {3})).item(), (0 + 4 + 9) / 3.0, 1e-15);
  auto f = [](const Tensors& in) -> Tensors { return {mse_loss(in[0], in[1])}; };
  expect_first_and_second_order(f, {leaf({2, 3}, 30), leaf({2, 3}, 31)}, "mse_loss");
}

TEST(LossOps, BadInputsNameOpAndShapes) {
  const Tensor z = zeros({2, 3});
  expect_error([&] { binary_cross_entropy_with_logits(z, zeros({2})); },
               {"binary_cross_entropy_with_logits", "target", "[2]", "[2, 3]"});
  expect_error([&] { binary_cross_entropy_with_logits(zeros({3}), z); },
               {"binary_cross_entropy_with_logits", "[2, 3]", "[3]"});
  expect_error([&] { binary_cross_entropy_with_logits(z, zeros({2, 3}, {.dtype = DType::Float64})); },
               {"binary_cross_entropy_with_logits", "dtype"});
  expect_error([&] { cross_entropy(z, labels_of({0, 3})); }, {"cross_entropy", "label 3", "position 1", "[0, 3)"});
  expect_error([&] { cross_entropy(z, labels_of({-1, 0})); }, {"cross_entropy", "label -1", "position 0"});
  expect_error([&] { cross_entropy(z, labels_of({0, 1, 2})); }, {"cross_entropy", "[3]", "[2, 3]"});
  expect_error([&] { cross_entropy(zeros({2, 3, 1}), labels_of({0, 1})); }, {"cross_entropy", "[N, C]", "[2, 3, 1]"});
  expect_error([&] { cross_entropy(z, zeros({2})); }, {"cross_entropy", "int64", "float32"});
  expect_error([&] { mse_loss(z, zeros({3})); }, {"mse_loss", "[2, 3]", "[3]"});
  expect_error([&] { log_softmax(z, 2); }, {"log_softmax"});
}
