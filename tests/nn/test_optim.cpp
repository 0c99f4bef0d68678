// Optimisers, EMA, lr schedules and the in-place ops under them.
//
// The SGD/Adam cases run 3 steps on p0 = [1, 2] (float64) with the fixed gradients
//   g1 = [0.5, -1],  g2 = [1, 0],  g3 = [-0.5, 2]
// and compare with values worked out by hand in the comments (each line can be checked with a
// calculator). lr = 0.1 throughout.
#include <gtest/gtest.h>

#include <cstring>

#include "nn/optim/adam.h"
#include "nn/optim/ema.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/sgd.h"
#include "ops/inplace.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::nn;

namespace {

const std::vector<std::vector<double>> kGrads = {{0.5, -1.0}, {1.0, 0.0}, {-0.5, 2.0}};

Tensor f64(std::vector<double> v, Shape shape) { return from_vector(v, shape, {.dtype = DType::Float64}); }

Tensor param(std::vector<double> v) {
  return from_vector(v, {.dtype = DType::Float64}).set_requires_grad(true);
}

// Runs opt for the three kGrads steps on p and returns p's values after each step.
std::vector<std::vector<double>> run3(Optimizer& opt, Tensor p) {
  std::vector<std::vector<double>> out;
  for (const auto& g : kGrads) {
    p.set_grad(from_vector(g, {.dtype = DType::Float64}));
    opt.step();
    out.push_back(p.to_vector<double>());
  }
  return out;
}

void expect_near(const std::vector<std::vector<double>>& got, const std::vector<std::vector<double>>& want,
                 double tol = 1e-12) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t s = 0; s < got.size(); ++s)
    for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(got[s][i], want[s][i], tol) << "step " << s + 1 << " element " << i;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---- SGD -------------------------------------------------------------------------------------

TEST(Sgd, Plain) {
  // p ← p − 0.1·g
  //   p1 = [1 − 0.05, 2 + 0.1]       = [0.95, 2.1]
  //   p2 = [0.95 − 0.1, 2.1 − 0]      = [0.85, 2.1]
  //   p3 = [0.85 + 0.05, 2.1 − 0.2]   = [0.9, 1.9]
  Tensor p = param({1, 2});
  Sgd opt({{"p", p}}, {.lr = 0.1});
  expect_near(run3(opt, p), {{0.95, 2.1}, {0.85, 2.1}, {0.9, 1.9}});
  EXPECT_TRUE(opt.state_tensors().empty());  // no momentum: no state
}

TEST(Sgd, Momentum) {
  // μ = 0.9: buf1 = g1 (no dampening on the first step), then buf ← 0.9·buf + g; p ← p − 0.1·buf
  //   buf1 = [0.5, -1]                                   p1 = [0.95, 2.1]
  //   buf2 = [0.45 + 1, -0.9 + 0]     = [1.45, -0.9]     p2 = [0.95 − 0.145, 2.1 + 0.09]  = [0.805, 2.19]
  //   buf3 = [1.305 − 0.5, -0.81 + 2] = [0.805, 1.19]    p3 = [0.805 − 0.0805, 2.19 − 0.119] = [0.7245, 2.071]
  Tensor p = param({1, 2});
  Sgd opt({{"p", p}}, {.lr = 0.1, .momentum = 0.9});
  expect_near(run3(opt, p), {{0.95, 2.1}, {0.805, 2.19}, {0.7245, 2.071}});
  const NamedTensors st = opt.state_tensors();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].first, "sgd.momentum_buffer.p");
  EXPECT_NEAR(st[0].second.to_vector<double>()[0], 0.805, 1e-12);
  EXPECT_NEAR(st[0].second.to_vector<double>()[1], 1.19, 1e-12);
}

TEST(Sgd, MomentumWithDampening) {
  // μ = 0.9, dampening 0.5: buf1 = g1, then buf ← 0.9·buf + 0.5·g
  //   buf1 = [0.5, -1]                                      p1 = [0.95, 2.1]
  //   buf2 = [0.45 + 0.5, -0.9 + 0]     = [0.95, -0.9]      p2 = [0.95 − 0.095, 2.1 + 0.09]  = [0.855, 2.19]
  //   buf3 = [0.855 − 0.25, -0.81 + 1]  = [0.605, 0.19]     p3 = [0.855 − 0.0605, 2.19 − 0.019] = [0.7945, 2.171]
  Tensor p = param({1, 2});
  Sgd opt({{"p", p}}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  expect_near(run3(opt, p), {{0.95, 2.1}, {0.855, 2.19}, {0.7945, 2.171}});
}

TEST(Sgd, Nesterov) {
  // Same buffers as Momentum; the step uses d = g + 0.9·buf:
  //   d1 = [0.5 + 0.45, -1 − 0.9]      = [0.95, -1.9]      p1 = [1 − 0.095, 2 + 0.19]        = [0.905, 2.19]
  //   d2 = [1 + 1.305, 0 − 0.81]       = [2.305, -0.81]    p2 = [0.905 − 0.2305, 2.19 + 0.081] = [0.6745, 2.271]
  //   d3 = [-0.5 + 0.7245, 2 + 1.071]  = [0.2245, 3.071]   p3 = [0.6745 − 0.02245, 2.271 − 0.3071] = [0.65205, 1.9639]
  Tensor p = param({1, 2});
  Sgd opt({{"p", p}}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  expect_near(run3(opt, p), {{0.905, 2.19}, {0.6745, 2.271}, {0.65205, 1.9639}});
}

TEST(Sgd, WeightDecay) {
  // wd = 0.1: d = g + 0.1·p; p ← p − 0.1·d
  //   d1 = [0.5 + 0.1, -1 + 0.2]             = [0.6, -0.8]         p1 = [0.94, 2.08]
  //   d2 = [1 + 0.094, 0 + 0.208]            = [1.094, 0.208]      p2 = [0.94 − 0.1094, 2.08 − 0.0208] = [0.8306, 2.0592]
  //   d3 = [-0.5 + 0.08306, 2 + 0.20592]     = [-0.41694, 2.20592] p3 = [0.8306 + 0.041694, 2.0592 − 0.220592]
  //                                                                   = [0.872294, 1.838608]
  Tensor p = param({1, 2});
  Sgd opt({{"p", p}}, {.lr = 0.1, .weight_decay = 0.1});
  expect_near(run3(opt, p), {{0.94, 2.08}, {0.8306, 2.0592}, {0.872294, 1.838608}});
}

TEST(Sgd, RejectsNesterovWithoutMomentum) {
  Tensor p = param({1, 2});
  EXPECT_NE(error_of([&] { Sgd({{"p", p}}, {.lr = 0.1, .nesterov = true}); }).find("Nesterov"), std::string::npos);
}

// ---- Adam ------------------------------------------------------------------------------------

TEST(Adam, DefaultBetas) {
  // β = (0.9, 0.999), eps = 1e-8. m ← 0.9m + 0.1g, v ← 0.999v + 0.001g²,
  // p ← p − (lr/(1 − 0.9^t)) · m / (sqrt(v)/sqrt(1 − 0.999^t) + eps)
  // t = 1: m = [0.05, -0.1], v = [0.00025, 0.001]; bc1 = 0.1, bc2 = 0.001 ⇒ step_size = 1,
  //        sqrt(v/bc2) = [0.5, 1]; update = [0.05/0.50000001, -0.1/1.00000001] = [0.099999998, -0.099999999]
  //        p1 = [0.900000002, 2.099999999]
  // t = 2: m = [0.045 + 0.1, -0.09 + 0] = [0.145, -0.09]; v = [0.00024975 + 0.001, 0.000999] = [0.00124975, 0.000999]
  //        bc1 = 1 − 0.81 = 0.19 ⇒ step_size = 0.1/0.19 = 0.526315789474; bc2 = 1 − 0.998001 = 0.001999
  //        v/bc2 = [0.625187593797, 0.499749874937]; denom = sqrt + 1e-8 = [0.790688060875, 0.706929903934]
  //        update = 0.526315789474 · [0.145/0.790688060875, -0.09/0.706929903934] = [0.096518201361, -0.067005824466]
  //        p2 = [0.803481800639, 2.167005823466]
  // t = 3: m = [0.1305 − 0.05, -0.081 + 0.2] = [0.0805, 0.119]
  //        v = [0.00124850025 + 0.00025, 0.000998001 + 0.004] = [0.00149850025, 0.004998001]
  //        bc1 = 1 − 0.729 = 0.271 ⇒ step_size = 0.369003690037; bc2 = 1 − 0.997002999 = 0.002997001
  //        v/bc2 = [0.499999916583, 1.667667444889]; denom = [0.707106732202, 1.291382000307]
  //        update = 0.369003690037 · [0.0805/0.707106732202, 0.119/1.291382000307] = [0.042008929763, 0.034003446776]
  //        p3 = [0.761472870876, 2.133002376690]
  Tensor p = param({1, 2});
  Adam opt({{"p", p}}, {.lr = 0.1});
  expect_near(run3(opt, p),
              {{0.900000002, 2.099999999}, {0.803481800639, 2.167005823466}, {0.761472870876, 2.133002376690}},
              1e-11);
}

TEST(Adam, BetasZeroPointNineNine) {
  // β = (0, 0.99): m = g exactly, bc1 = 1 ⇒ step_size = lr = 0.1; v ← 0.99v + 0.01g²
  // t = 1: v = [0.0025, 0.01], bc2 = 0.01, sqrt(v/bc2) = [0.5, 1]
  //        p1 = [1 − 0.1·0.5/0.50000001, 2 + 0.1·1/1.00000001] = [0.900000002, 2.099999999]
  // t = 2: v = [0.002475 + 0.01, 0.0099 + 0] = [0.012475, 0.0099]; bc2 = 1 − 0.9801 = 0.0199
  //        v/bc2 = [0.626884422111, 0.497487437186]; denom = [0.791760341231, 0.705327903384]
  //        update = 0.1·[1/0.791760341231, 0/…] = [0.126300844830, 0]
  //        p2 = [0.773699157170, 2.099999999]
  // t = 3: v = [0.01235025 + 0.0025, 0.009801 + 0.04] = [0.01485025, 0.049801]; bc2 = 1 − 0.970299 = 0.029701
  //        v/bc2 = [0.499991582775, 1.676744890744]; denom = [0.707100839285, 1.294891855192]
  //        update = 0.1·[-0.5/0.707100839285, 2/1.294891855192] = [-0.070711272314, 0.154453052738]
  //        p3 = [0.844410429484, 1.945546946262]
  Tensor p = param({1, 2});
  Adam opt({{"p", p}}, {.lr = 0.1, .beta1 = 0.0, .beta2 = 0.99});
  expect_near(run3(opt, p),
              {{0.900000002, 2.099999999}, {0.773699157170, 2.099999999}, {0.844410429484, 1.945546946262}}, 1e-11);
  // The first moment is exactly the last gradient.
  for (const auto& [name, t] : opt.state_tensors()) {
    if (name == "adam.exp_avg.p") {
      EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{-0.5, 2.0}));
    }
  }
}

TEST(Adam, WeightDecayL2) {
  // β = (0, 0.99), wd = 0.1 added to the gradient: g' = g + 0.1·p, m = g'
  // t = 1: g' = [0.5 + 0.1, -1 + 0.2] = [0.6, -0.8]; v = 0.01·g'² = [0.0036, 0.0064]; bc2 = 0.01
  //        sqrt(v/bc2) = [0.6, 0.8]; update = 0.1·[0.6/0.60000001, -0.8/0.80000001] = [0.099999998333, -0.099999998750]
  //        p1 = [0.900000001667, 2.099999998750]
  // t = 2: g' = [1 + 0.0900000001667, 0 + 0.209999999875] = [1.090000000167, 0.209999999875]
  //        v = [0.99·0.0036 + 0.01·1.188100000363, 0.99·0.0064 + 0.01·0.044099999948] = [0.015445000004, 0.006776999999]
  //        bc2 = 0.0199; v/bc2 = [0.776130653449, 0.340552763793]; denom = [0.880982787044, 0.583568998032]
  //        update = 0.1·[1.090000000167/0.880982787044, 0.209999999875/0.583568998032] = [0.123725459362, 0.035985461973]
  //        p2 = [0.776274542305, 2.064014536777]
  // t = 3: g' = [-0.5 + 0.077627454231, 2 + 0.206401453678] = [-0.422372545769, 2.206401453678]
  //        v = [0.99·0.015445000004 + 0.01·0.178398549417, 0.99·0.006776999999 + 0.01·4.868207374797]
  //          = [0.017074535678, 0.055391303747]; bc2 = 0.029701
  //        v/bc2 = [0.574880834914, 1.864964268792]; denom = [0.758208975203, 1.365636956187]
  //        update = 0.1·[-0.422372545769/0.758208975203, 2.206401453678/1.365636956187] = [-0.055706613821, 0.161565739978]
  //        p3 = [0.831981156126, 1.902448796799]
  Tensor p = param({1, 2});
  Adam opt({{"p", p}}, {.lr = 0.1, .beta1 = 0.0, .beta2 = 0.99, .weight_decay = 0.1});
  expect_near(run3(opt, p),
              {{0.900000001667, 2.099999998750}, {0.776274542305, 2.064014536777}, {0.831981156126, 1.902448796799}},
              1e-11);
}

TEST(Adam, DecoupledWeightDecay) {
  // AdamW, β = (0, 0.99), lr = 0.1, wd = 0.5, one step: p ← p·(1 − 0.05), then the plain Adam step
  // (which sees the raw gradient: sqrt(v/bc2) = |g|):
  //   p1 = [0.95 − 0.1·0.5/0.50000001, 1.9 + 0.1·1/1.00000001] = [0.850000002, 1.999999999]
  Tensor p = param({1, 2});
  Adam opt({{"p", p}}, {.lr = 0.1, .beta1 = 0.0, .beta2 = 0.99, .weight_decay = 0.5, .decoupled_weight_decay = true});
  p.set_grad(from_vector(kGrads[0], {.dtype = DType::Float64}));
  opt.step();
  EXPECT_NEAR(p.to_vector<double>()[0], 0.850000002, 1e-12);
  EXPECT_NEAR(p.to_vector<double>()[1], 1.999999999, 1e-12);
}

TEST(Adam, SkipsParametersWithoutGradAndZeroGradClears) {
  Tensor a = param({1, 2}), b = param({3, 4});
  Adam opt({{"a", a}, {"b", b}}, {.lr = 0.1});
  a.set_grad(from_vector(kGrads[0], {.dtype = DType::Float64}));
  opt.step();
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{3, 4}));
  const NamedTensors st = opt.state_tensors();
  ASSERT_EQ(st.size(), 3u);  // only a has state
  EXPECT_EQ(st[0].first, "adam.step.a");
  EXPECT_EQ(st[0].second.dtype(), DType::Int64);
  EXPECT_EQ(st[0].second.dim(), 0);
  EXPECT_EQ(st[0].second.item(), 1.0);
  EXPECT_EQ(st[1].first, "adam.exp_avg.a");
  EXPECT_EQ(st[2].first, "adam.exp_avg_sq.a");
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

TEST(Adam, ParamGroupsScaleLrAndOverrideWeightDecay) {
  // Group 2 runs at half the lr: plain Adam's first step moves each element by lr·g/(|g| + eps) ≈ lr.
  Tensor a = param({1, 2}), b = param({1, 2});
  Adam opt(std::vector<ParamGroup>{{.params = {{"a", a}}}, {.params = {{"b", b}}, .lr_scale = 0.5, .weight_decay = 0.0}},
           {.lr = 0.1, .weight_decay = 0.0});
  for (Tensor t : {a, b}) t.set_grad(from_vector(kGrads[0], {.dtype = DType::Float64}));
  opt.step();
  EXPECT_NEAR(a.to_vector<double>()[0], 0.9, 1e-7);
  EXPECT_NEAR(b.to_vector<double>()[0], 0.95, 1e-7);
  opt.set_lr(0.2);
  EXPECT_EQ(opt.lr(), 0.2);
}

TEST(Adam, StridedParameterMatchesContiguous) {
  // The fused kernel runs on contiguous copies of strided operands and writes the result back.
  const Tensor base = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor strided = [&] {
    NoGradGuard ng;
    return transpose(clone_data(base), 0, 1);  // [3, 2], strides [1, 3]
  }();
  strided.set_requires_grad(true);
  Tensor flat = clone_data(transpose(base, 0, 1)).set_requires_grad(true);
  ASSERT_FALSE(strided.is_contiguous());
  Adam a({{"p", strided}}, {.lr = 0.1}), b({{"p", flat}}, {.lr = 0.1});
  for (int s = 0; s < 3; ++s) {
    const Tensor g = f64({0.5, -1, 2, 0.25, -3, 1}, {3, 2});
    strided.set_grad(clone_data(g));
    flat.set_grad(clone_data(g));
    a.step();
    b.step();
  }
  EXPECT_EQ(strided.to_vector<double>(), flat.to_vector<double>());
}

// ---- resume ----------------------------------------------------------------------------------

namespace {

// Two float32 parameters and 5 steps of pseudo-random gradients (the same for every run).
struct ResumeSetup {
  std::vector<Tensor> grads_w, grads_b;
  ResumeSetup() {
    Generator gen(7);
    for (int s = 0; s < 5; ++s) {
      grads_w.push_back(randn({3, 4}, {}, &gen));
      grads_b.push_back(randn({5}, {}, &gen));
    }
  }
  NamedTensors fresh_params() const {
    Generator gen(11);
    return {{"layer1.0.conv1.weight", randn({3, 4}, {}, &gen).set_requires_grad(true)},
            {"layer1.0.bn1.bias", randn({5}, {}, &gen).set_requires_grad(true)}};
  }
  void step(Optimizer& opt, const NamedTensors& params, int s) const {
    Tensor w = params[0].second, b = params[1].second;
    w.set_grad(clone_data(grads_w[s]));
    b.set_grad(clone_data(grads_b[s]));
    opt.set_lr(LrSchedule::parse("cosine:T=5,min=1e-4+warmup:2", 0.01).lr_at(s));
    opt.step();
  }
};

NamedTensors copies(const NamedTensors& ps) {
  NamedTensors out;
  for (const auto& [n, t] : ps) out.emplace_back(n, clone_data(t).set_requires_grad(true));
  return out;
}

void expect_bit_equal(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const std::vector<float> x = a[i].second.to_vector<float>(), y = b[i].second.to_vector<float>();
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size() * sizeof(float))) << a[i].first;
  }
}

template <typename Make>
void check_resume(Make make) {
  const ResumeSetup setup;
  // Uninterrupted: 5 steps, with a snapshot of parameters and state after step 2.
  NamedTensors run = setup.fresh_params();
  std::unique_ptr<Optimizer> opt = make(run);
  NamedTensors params_at_2, state_at_2;
  for (int s = 0; s < 5; ++s) {
    setup.step(*opt, run, s);
    if (s == 1) {
      params_at_2 = copies(run);
      state_at_2 = opt->state_tensors();
    }
  }
  // Resumed: a fresh optimiser on the copies, state loaded, steps 3..5.
  std::unique_ptr<Optimizer> opt2 = make(params_at_2);
  opt2->load_state_tensors(state_at_2);
  for (int s = 2; s < 5; ++s) setup.step(*opt2, params_at_2, s);
  expect_bit_equal(run, params_at_2);
  expect_bit_equal(opt->state_tensors(), opt2->state_tensors());
}

}  // namespace

TEST(OptimizerState, AdamResumesBitExactly) {
  check_resume([](const NamedTensors& p) {
    return std::make_unique<Adam>(p, AdamOptions{.lr = 0.01, .beta1 = 0.0, .beta2 = 0.99, .weight_decay = 1e-3});
  });
  check_resume([](const NamedTensors& p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 0.01}); });
}

TEST(OptimizerState, SgdResumesBitExactly) {
  check_resume([](const NamedTensors& p) {
    return std::make_unique<Sgd>(p, SgdOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  });
}

TEST(OptimizerState, ExportIsASnapshot) {
  Tensor p = param({1, 2});
  Adam opt({{"p", p}}, {.lr = 0.1});
  p.set_grad(from_vector(kGrads[0], {.dtype = DType::Float64}));
  opt.step();
  const NamedTensors st = opt.state_tensors();
  const std::vector<double> m = st[1].second.to_vector<double>();
  opt.step();
  EXPECT_EQ(st[1].second.to_vector<double>(), m);
  EXPECT_EQ(st[0].second.item(), 1.0);
}

TEST(OptimizerState, LoadListsEveryProblemAndChangesNothing) {
  Tensor w = param({1, 2}), b = param({3});
  Adam opt({{"net.w", w}, {"net.b", b}}, {.lr = 0.1});
  w.set_grad(from_vector(kGrads[0], {.dtype = DType::Float64}));
  opt.step();
  const NamedTensors before = opt.state_tensors();

  const NamedTensors bad = {
      {"adam.exp_avg.net.w", zeros({3}, {.dtype = DType::Float64})},       // wrong shape
      {"adam.exp_avg_sq.net.w", zeros({2}, {.dtype = DType::Float64})},    // fine, but step missing
      {"adam.momentum.net.w", zeros({2}, {.dtype = DType::Float64})},      // unknown slot
      {"adam.exp_avg.net.c", zeros({2}, {.dtype = DType::Float64})},       // unknown parameter
      {"sgd.momentum_buffer.net.w", zeros({2}, {.dtype = DType::Float64})},  // another optimiser's
      {"adam.step.net.b", scalar_tensor(2.5, {.dtype = DType::Float64})},  // not a whole count
  };
  const std::string msg = error_of([&] { opt.load_state_tensors(bad); });
  EXPECT_NE(msg.find("6 problem(s)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nothing was loaded"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'adam.exp_avg.net.w': shape [3] but the parameter has shape [2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown slot 'momentum'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no parameter named 'net.c'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected key 'sgd.momentum_buffer.net.w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'adam.step.net.b': expected a one-element step count"), std::string::npos) << msg;
  EXPECT_NE(msg.find("parameter 'net.w' has incomplete state: missing adam.step.net.w, adam.exp_avg.net.w"),
            std::string::npos)
      << msg;

  const NamedTensors after = opt.state_tensors();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].first, before[i].first);
    EXPECT_EQ(after[i].second.to_vector<double>(), before[i].second.to_vector<double>());
  }
  // Loading an empty state resets: the next step is a first step again.
  opt.load_state_tensors({});
  EXPECT_TRUE(opt.state_tensors().empty());
}

// ---- EMA -------------------------------------------------------------------------------------

TEST(Ema, UpdateCopyAndSwap) {
  // decay 0.9: s ← 0.9·s + 0.1·p, s0 = p0 = [1, 2]
  //   p = [2, 0]:  s1 = [0.9 + 0.2, 1.8 + 0]     = [1.1, 1.8]
  //   p = [3, 10]: s2 = [0.99 + 0.3, 1.62 + 1.0] = [1.29, 2.62]
  Tensor p = param({1, 2});
  Ema ema({{"p", p}}, 0.9);
  auto set = [&](std::vector<double> v) {
    NoGradGuard ng;
    copy_(p, from_vector(v, {.dtype = DType::Float64}));
  };
  set({2, 0});
  ema.update();
  const std::vector<double> s1 = ema.shadow()[0].second.to_vector<double>();
  EXPECT_NEAR(s1[0], 1.1, 1e-15);
  EXPECT_NEAR(s1[1], 1.8, 1e-15);
  set({3, 10});
  ema.update();
  const std::vector<double> s2 = ema.shadow()[0].second.to_vector<double>();
  EXPECT_NEAR(s2[0], 1.29, 1e-15);
  EXPECT_NEAR(s2[1], 2.62, 1e-15);
  EXPECT_EQ(ema.num_updates(), 2);

  {
    EmaScope with_ema(ema);
    EXPECT_EQ(p.to_vector<double>(), s2);
  }
  EXPECT_EQ(p.to_vector<double>(), (std::vector<double>{3, 10}));

  Tensor q = param({0, 0});
  ema.copy_to({{"p", q}});
  EXPECT_EQ(q.to_vector<double>(), s2);
  EXPECT_NE(error_of([&] { ema.copy_to({{"nope", q}}); }).find("'nope' is not tracked"), std::string::npos);
}

TEST(Ema, StateRoundTripAndErrors) {
  Tensor p = param({1, 2});
  Ema ema({{"net.p", p}}, 0.5);
  {
    NoGradGuard ng;
    fill_into(p, 3.0);
  }
  ema.update();  // s = [2, 2.5]
  const NamedTensors st = ema.state_tensors();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].first, "ema.shadow.net.p");
  EXPECT_EQ(st[1].first, "ema.num_updates");

  Ema other({{"net.p", param({0, 0})}}, 0.5);
  other.load_state_tensors(st);
  EXPECT_EQ(other.shadow()[0].second.to_vector<double>(), (std::vector<double>{2, 2.5}));
  EXPECT_EQ(other.num_updates(), 1);

  const std::string msg = error_of([&] {
    other.load_state_tensors({{"ema.shadow.net.p", zeros({3}, {.dtype = DType::Float64})}, {"ema.bogus", zeros({1})}});
  });
  EXPECT_NE(msg.find("3 problem(s)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'ema.shadow.net.p': float64 [3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected key 'ema.bogus'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing 'ema.num_updates'"), std::string::npos) << msg;
  EXPECT_EQ(other.shadow()[0].second.to_vector<double>(), (std::vector<double>{2, 2.5}));
}

// ---- lr schedules ----------------------------------------------------------------------------

TEST(LrSchedule, Constant) {
  const LrSchedule s = LrSchedule::parse("constant", 0.5);
  EXPECT_EQ(s.lr_at(0), 0.5);
  EXPECT_EQ(s.lr_at(123456), 0.5);
}

TEST(LrSchedule, StepBoundaries) {
  // 0.1 · 0.5^⌊iter/1000⌋
  const LrSchedule s = LrSchedule::parse("step:every=1000,gamma=0.5", 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(999), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(1000), 0.05);
  EXPECT_DOUBLE_EQ(s.lr_at(1999), 0.05);
  EXPECT_DOUBLE_EQ(s.lr_at(2000), 0.025);
  EXPECT_DOUBLE_EQ(LrSchedule::parse("step:every=10", 1.0).lr_at(10), 0.1);  // γ defaults to 0.1
}

TEST(LrSchedule, CosineMidpointAndEnd) {
  // min + (base − min)·(1 + cos(π·iter/T))/2: iter 0 → base, T/2 → (base + min)/2, ≥ T → min
  const LrSchedule s = LrSchedule::parse("cosine:T=10000,min=1e-6", 1e-3);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 1e-3);
  EXPECT_NEAR(s.lr_at(5000), (1e-3 + 1e-6) / 2, 1e-18);
  EXPECT_DOUBLE_EQ(s.lr_at(10000), 1e-6);
  EXPECT_DOUBLE_EQ(s.lr_at(20000), 1e-6);
  // Quarter point: cos(π/4) = √2/2
  EXPECT_NEAR(s.lr_at(2500), 1e-6 + (1e-3 - 1e-6) * (1 + std::sqrt(0.5)) / 2, 1e-18);
}

TEST(LrSchedule, WarmupComposes) {
  // warm-up 500 on the same clock: iter 0 → base/500, iter 499 → full, then the inner schedule
  const LrSchedule s = LrSchedule::parse("cosine:T=10000,min=1e-6+warmup:500", 1e-3);
  const LrSchedule inner = LrSchedule::parse("cosine:T=10000,min=1e-6", 1e-3);
  EXPECT_DOUBLE_EQ(s.lr_at(0), inner.lr_at(0) / 500);
  EXPECT_DOUBLE_EQ(s.lr_at(249), inner.lr_at(249) * 250 / 500);
  EXPECT_DOUBLE_EQ(s.lr_at(499), inner.lr_at(499));
  EXPECT_DOUBLE_EQ(s.lr_at(500), inner.lr_at(500));
  EXPECT_NEAR(s.lr_at(5000), (1e-3 + 1e-6) / 2, 1e-18);
  const LrSchedule c = LrSchedule::parse(" constant + warmup: 4 ", 1.0);
  EXPECT_EQ(c.lr_at(0), 0.25);
  EXPECT_EQ(c.lr_at(3), 1.0);
  EXPECT_EQ(c.lr_at(4), 1.0);
  // str() round-trips
  EXPECT_EQ(LrSchedule::parse(s.str(), 1e-3).str(), s.str());
  EXPECT_EQ(LrSchedule::parse("step:every=1000,gamma=0.5+warmup:10", 1.0).str(), "step:every=1000,gamma=0.5+warmup:10");
}

TEST(LrSchedule, BadStringsNameTheField) {
  auto msg = [](const char* spec) { return error_of([&] { LrSchedule::parse(spec, 1e-3); }); };
  EXPECT_NE(msg("cosine:T=abc").find("field 'T' of cosine: \"abc\" is not a number"), std::string::npos);
  EXPECT_NE(msg("cosine:T=10.5").find("field 'T' of cosine"), std::string::npos);
  EXPECT_NE(msg("cosine:min=1e-6").find("cosine needs T="), std::string::npos);
  EXPECT_NE(msg("cosine:T=10,gamma=2").find("cosine has no field 'gamma'"), std::string::npos);
  EXPECT_NE(msg("step:gamma=0.5").find("step needs every="), std::string::npos);
  EXPECT_NE(msg("step:every=0").find("field 'every' of step"), std::string::npos);
  EXPECT_NE(msg("step:every=10,gamma=-1").find("field 'gamma' of step"), std::string::npos);
  EXPECT_NE(msg("linear").find("unknown schedule \"linear\""), std::string::npos);
  EXPECT_NE(msg("constant+warmup:x").find("field 'iterations' of warmup"), std::string::npos);
  EXPECT_NE(msg("constant+cooldown:5").find("unknown modifier"), std::string::npos);
  EXPECT_NE(msg("constant:x=1").find("constant has no field 'x'"), std::string::npos);
  // An exponent's '+' is not a modifier.
  EXPECT_DOUBLE_EQ(LrSchedule::parse("cosine:T=1e+4,min=0", 1.0).lr_at(10000), 0.0);
}

// ---- in-place ops ----------------------------------------------------------------------------

TEST(Inplace, Values) {
  Tensor t = f64({1.0, 2.0, 3.0, 4.0}, {2, 2});
  add_(t, f64({10.0, 20.0}, {2}), 0.5);  // broadcast over rows
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{6, 12, 8, 14}));
  mul_(t, 0.5);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{3, 6, 4, 7}));
  lerp_(t, full({2, 2}, 5.0, {.dtype = DType::Float64}), 0.25);  // t + 0.25·(5 − t)
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{3.5, 5.75, 4.25, 6.5}));
  lerp_(t, full({2, 2}, 5.0, {.dtype = DType::Float64}), 1.0);  // exactly the end point
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{5, 5, 5, 5}));
  const Tensor a = f64({1.0, 2.0, 3.0, 4.0}, {2, 2});
  addcmul_(t, a, a, 2.0);  // 5 + 2·a²
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{7, 13, 23, 37}));
  addcdiv_(t, a, a, -1.0);  // − 1
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{6, 12, 22, 36}));
  copy_(t, a);
  EXPECT_EQ(t.to_vector<double>(), a.to_vector<double>());
  zero_(t);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{0, 0, 0, 0}));

  // A strided (transposed) destination.
  Tensor u = f64({1.0, 2.0, 3.0, 4.0}, {2, 2});
  Tensor ut = transpose(u, 0, 1);
  add_(ut, f64({1.0, 1.0, 0.0, 0.0}, {2, 2}));  // ut[0, :] += 1
  EXPECT_EQ(u.to_vector<double>(), (std::vector<double>{2, 2, 4, 4}));

  // Large contiguous float32 (the threaded path).
  Tensor big = ones({1 << 18});
  add_(big, full({1 << 18}, 2.0), 0.5);
  for (float v : big.to_vector<float>()) ASSERT_EQ(v, 2.0f);
}

TEST(Inplace, BumpsVersionAndAutogradNotices) {
  Tensor x = from_vector({1.0, 2.0}, {.dtype = DType::Float64}).set_requires_grad(true);
  Tensor w = from_vector({3.0, 4.0}, {.dtype = DType::Float64});
  Tensor y = mul(x, w);  // saves w for dy/dx
  const uint64_t v0 = w.version();
  {
    NoGradGuard ng;
    add_(w, ones({2}, {.dtype = DType::Float64}));
  }
  EXPECT_GT(w.version(), v0);
  const std::string msg = error_of([&] { backward(sum(y)); });
  EXPECT_NE(msg.find("modified in place"), std::string::npos) << msg;
}

TEST(Inplace, RefusesTensorsThatRequireGrad) {
  Tensor x = from_vector({1.0, 2.0}, {.dtype = DType::Float64}).set_requires_grad(true);
  const Tensor one = ones({2}, {.dtype = DType::Float64});
  EXPECT_NE(error_of([&] { add_(x, one); }).find("in-place update of a leaf that requires grad; wrap it in NoGradGuard"),
            std::string::npos);
  EXPECT_NE(error_of([&] { zero_(x); }).find("wrap it in NoGradGuard"), std::string::npos);
  Tensor y = mul(x, 2.0);
  EXPECT_NE(error_of([&] { mul_(y, 2.0); }).find("has a grad_fn"), std::string::npos);
  {
    NoGradGuard ng;
    add_(x, one);  // allowed without grad mode
  }
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{2, 3}));
  // Errors about shapes, dtypes and aliasing.
  EXPECT_NE(error_of([&] { add_(from_vector({1.0}, {.dtype = DType::Float64}), one); }).find("does not broadcast"),
            std::string::npos);
  EXPECT_NE(error_of([&] { add_(ones({2}), one); }).find("dtype mismatch"), std::string::npos);
  Tensor e = expand(ones({1}, {.dtype = DType::Float64}), {2});
  EXPECT_NE(error_of([&] { add_(e, one); }).find("expanded view"), std::string::npos);
  Tensor buf = arange(4.0, {.dtype = DType::Float64});
  EXPECT_NE(error_of([&] { add_(narrow(buf, 0, 0, 3), narrow(buf, 0, 1, 3)); }).find("partially overlaps"),
            std::string::npos);
}

// ---- end to end ------------------------------------------------------------------------------

TEST(Adam, MinimisesAQuadratic) {
  // f(w) = Σ (w − c)², gradients from atebm::backward; 200 Adam steps of lr 0.1 from zeros.
  const Tensor c = from_vector({0.5, -1.5, 2.0}, {.dtype = DType::Float64});
  Tensor w = zeros({3}, {.dtype = DType::Float64, .requires_grad = true});
  Adam opt({{"w", w}}, {.lr = 0.1});
  for (int i = 0; i < 200; ++i) {
    opt.zero_grad();
    backward(sum(square(sub(w, c))));
    opt.step();
  }
  const std::vector<double> got = w.to_vector<double>(), want = c.to_vector<double>();
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(got[i], want[i], 1e-3);
}
