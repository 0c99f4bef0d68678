// Known-answer tests of the autograd engine: higher-order derivatives, accumulation, the
// options of grad()/backward(), the errors it must raise, and that graphs leave no cycles.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd/gradcheck.h"
#include "ops/ops.h"

using namespace atebm;

namespace {

const TensorOptions kF64{.dtype = DType::Float64};

Tensor leaf64(const std::vector<double>& v) { return from_vector(v, kF64).set_requires_grad(true); }

void expect_near_all(const Tensor& t, const std::vector<double>& want, double tol = 1e-10) {
  const std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

// The message of the atebm::Error `f` throws ("" when it throws nothing).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Autograd, ThirdDerivativeOfQuartic) {
  // d/dx x^4 = 4x^3, d2 = 12x^2, d3 = 24x, each by grad() of the previous gradient.
  const std::vector<double> xs = {-1.5, -0.5, 0.25, 2.0};
  Tensor x = leaf64(xs);
  Tensor g1 = grad({sum(pow(x, 4.0))}, {x}, {}, {.create_graph = true})[0];
  Tensor g2 = grad({sum(g1)}, {x}, {}, {.create_graph = true})[0];
  Tensor g3 = grad({sum(g2)}, {x})[0];
  std::vector<double> d1, d2, d3;
  for (double v : xs) {
    d1.push_back(4 * v * v * v);
    d2.push_back(12 * v * v);
    d3.push_back(24 * v);
  }
  expect_near_all(g1, d1);
  expect_near_all(g2, d2);
  expect_near_all(g3, d3);
  EXPECT_FALSE(g3.requires_grad());  // no create_graph on the last call: nothing recorded
}

TEST(Autograd, BackwardAccumulatesIntoGrad) {
  Tensor x = leaf64({1.0, -2.0, 3.0});
  backward(sum(square(x)));        // 2x
  backward(sum(mul(x, 3.0)));      // + 3
  expect_near_all(x.grad(), {5.0, -1.0, 9.0});
  EXPECT_FALSE(x.grad().requires_grad());  // stored detached without create_graph
}

TEST(Autograd, BackwardWithExplicitGradOutput) {
  Tensor x = leaf64({1.0, 2.0, 3.0});
  Tensor y = mul(square(x), 0.5);  // non-scalar: dy_i/dx_i = x_i
  backward(y, from_vector({1.0, 10.0, 100.0}, kF64));
  expect_near_all(x.grad(), {1.0, 20.0, 300.0});
}

TEST(Autograd, GradOfNonLeafIntermediate) {
  Tensor x = leaf64({0.5, -1.0});
  Tensor h = mul(x, x);
  Tensor y = sum(exp(h));
  const Tensors g = grad({y}, {h, x});
  expect_near_all(g[0], {std::exp(0.25), std::exp(1.0)});
  expect_near_all(g[1], {std::exp(0.25) * 2 * 0.5, std::exp(1.0) * 2 * -1.0});
  EXPECT_FALSE(x.grad().defined());  // grad() never touches .grad
}

TEST(Autograd, AllowUnused) {
  Tensor x = leaf64({1.0, 2.0});
  Tensor z = leaf64({3.0});
  const Tensors g = grad({sum(x)}, {x, z}, {}, {.retain_graph = true, .allow_unused = true});
  expect_near_all(g[0], {1.0, 1.0});
  EXPECT_FALSE(g[1].defined());
  const std::string msg = error_of([&] { grad({sum(x)}, {x, z}); });
  EXPECT_NE(msg.find("input 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("allow_unused"), std::string::npos) << msg;
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = leaf64({1.0, 2.0});
  Tensor y;
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(GradMode::is_enabled());
    y = exp(mul(x, 2.0));
  }
  EXPECT_TRUE(GradMode::is_enabled());
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(exp(x).requires_grad());
}

TEST(Autograd, DetachCutsTheGraphAndSharesData) {
  Tensor x = leaf64({1.0, 2.0});
  Tensor y = mul(x, 3.0);
  Tensor d = detach(y);
  EXPECT_EQ(d.grad_fn(), nullptr);
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.storage(), y.storage());
  // Only the path through y (not through d) contributes.
  const Tensor g = grad({sum(mul(y, d))}, {x})[0];  // d/dx (3x · const 3x) = 3 · 3x
  expect_near_all(g, {9.0, 18.0});
}

TEST(Autograd, SecondBackwardThroughFreedGraphThrows) {
  Tensor x = leaf64({0.5, 1.5});
  Tensor y = sum(exp(x));
  backward(y);
  EXPECT_THROW(backward(y), Error);
  const std::string msg = error_of([&] { backward(y); });
  EXPECT_NE(msg.find("retain_graph"), std::string::npos) << msg;

  Tensor w = leaf64({0.5, 1.5});
  Tensor v = sum(exp(w));
  backward(v, {}, {.retain_graph = true});
  backward(v);  // the graph is still there: gradients add up
  expect_near_all(w.grad(), {2 * std::exp(0.5), 2 * std::exp(1.5)});
}

TEST(Autograd, InPlaceChangeOfSavedTensorThrows) {
  Tensor x = leaf64({1.0, 2.0});
  Tensor w = from_vector({3.0, 4.0}, kF64);  // no grad: mul saves it for x's gradient
  Tensor y = sum(mul(x, w));
  fill_into(w, 5.0);
  const std::string msg = error_of([&] { backward(y); });
  EXPECT_NE(msg.find("modified in place"), std::string::npos) << msg;

  Tensor a = leaf64({1.0, 2.0});
  Tensor b = from_vector({3.0, 4.0}, kF64);
  Tensor y2 = sum(mul(a, b));
  copy_into(b, from_vector({0.0, 0.0}, kF64));
  EXPECT_NE(error_of([&] { grad({y2}, {a}); }).find("modified in place"), std::string::npos);
}

TEST(Autograd, GradOfTensorWithoutGradThrows) {
  Tensor x = leaf64({1.0});
  Tensor c = from_vector({2.0}, kF64);  // does not require grad
  EXPECT_THROW(grad({sum(mul(x, c))}, {c}), Error);
  EXPECT_THROW(grad({sum(c)}, {x}), Error);  // the output has no graph either
  EXPECT_THROW(backward(sum(c)), Error);
}

TEST(Autograd, GradOutputShapeMismatchThrows) {
  Tensor x = leaf64({1.0, 2.0, 3.0});
  Tensor y = mul(x, 2.0);
  const std::string msg = error_of([&] { grad({y}, {x}, {ones({2}, kF64)}); });
  EXPECT_NE(msg.find("[2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3]"), std::string::npos) << msg;
  EXPECT_THROW(backward(y, ones({3})), Error);  // float32 grad_output for a float64 output
}

TEST(Autograd, ImplicitGradOutputNeedsOneElement) {
  Tensor x = leaf64({1.0, 2.0});
  EXPECT_THROW(backward(mul(x, 2.0)), Error);
  EXPECT_THROW(grad({mul(x, 2.0)}, {x}), Error);
}

TEST(Autograd, SetRequiresGradOnNonLeafThrows) {
  Tensor x = leaf64({1.0});
  Tensor y = mul(x, 2.0);
  EXPECT_THROW(y.set_requires_grad(true), Error);
  EXPECT_THROW(ones({2}, {.dtype = DType::Int64}).set_requires_grad(true), Error);
}

TEST(Autograd, DiamondGraphAccumulatesBothPaths) {
  // x feeds two branches that meet again: y = sum((2x)·(3x)) = 6 Σ x², dy/dx = 12x.
  Tensor x = leaf64({1.0, -0.5, 2.0});
  Tensor y = sum(mul(mul(x, 2.0), mul(x, 3.0)));
  expect_near_all(grad({y}, {x}, {}, {.retain_graph = true})[0], {12.0, -6.0, 24.0});
  backward(y);
  expect_near_all(x.grad(), {12.0, -6.0, 24.0});
}

TEST(Autograd, GradientWithCreateGraphIsDifferentiable) {
  // g = d/dx Σx³ = 3x²; d/dx Σ g² = d/dx 9Σx⁴ = 36x³ (the shape of an R1 penalty).
  Tensor x = leaf64({0.5, -1.0, 2.0});
  Tensor g = grad({sum(pow(x, 3.0))}, {x}, {}, {.create_graph = true})[0];
  ASSERT_TRUE(g.requires_grad());
  ASSERT_NE(g.grad_fn(), nullptr);
  const Tensor gg = grad({sum(square(g))}, {x})[0];
  expect_near_all(gg, {36 * 0.125, -36.0, 36 * 8.0});
}

TEST(Autograd, LeafHookSeesEachCompleteGradientOnceDuringBackward) {
  // loss = Σ w2·tanh(w1·x) + Σ (dE/dx)² (an R1-shaped loss: w1 and x get contributions from two
  // paths, which the engine sums before accumulating). The hook must fire once per leaf with
  // its finished gradient, the output-side w2 before the input-side w1 (what lets data-parallel
  // training start all-reducing the last layer while the first is still being differentiated),
  // and never for a leaf outside the graph.
  Tensor x = leaf64({0.3, -0.7});
  Tensor w1 = leaf64({1.5, -0.5});
  Tensor w2 = leaf64({2.0, 0.25});
  Tensor unused = leaf64({9.0});
  const Tensor e = sum(mul(tanh(mul(x, w1)), w2));
  const Tensor gx = grad({e}, {x}, {}, {.create_graph = true})[0];
  const Tensor loss = add(e, sum(square(gx)));
  std::vector<std::pair<const TensorImpl*, std::vector<double>>> seen;
  backward({loss}, {}, {.on_leaf_grad = [&](const Tensor& leaf) {
             seen.emplace_back(leaf.impl(), leaf.grad().to_vector<double>());
           }});
  ASSERT_EQ(seen.size(), 3u);
  auto index_of = [&](const Tensor& t) {
    for (size_t i = 0; i < seen.size(); ++i)
      if (seen[i].first == t.impl()) return static_cast<int>(i);
    return -1;
  };
  EXPECT_EQ(index_of(unused), -1);
  EXPECT_LT(index_of(w2), index_of(w1));
  for (const Tensor* t : {&x, &w1, &w2}) {
    const int i = index_of(*t);
    ASSERT_GE(i, 0);
    expect_near_all(t->grad(), seen[static_cast<size_t>(i)].second, 0.0);  // already final when reported
  }
  // And the gradients are the full ones: compare with grad() of the same loss on fresh leaves.
  Tensor x2 = leaf64({0.3, -0.7}), v1 = leaf64({1.5, -0.5}), v2 = leaf64({2.0, 0.25});
  const Tensor e2 = sum(mul(tanh(mul(x2, v1)), v2));
  const Tensor g2 = grad({e2}, {x2}, {}, {.create_graph = true})[0];
  const Tensors want = grad({add(e2, sum(square(g2)))}, {x2, v1, v2});
  expect_near_all(w1.grad(), want[1].to_vector<double>(), 1e-14);
  expect_near_all(x.grad(), want[0].to_vector<double>(), 1e-14);
}

TEST(Autograd, LeafHookIsForBackwardOnly) {
  Tensor x = leaf64({1.0});
  const std::string msg = error_of([&] { grad({sum(x)}, {x}, {}, {.on_leaf_grad = [](const Tensor&) {}}); });
  EXPECT_NE(msg.find("on_leaf_grad applies to backward() only"), std::string::npos) << msg;
}

TEST(Autograd, GraphsLeaveNoReferenceCycles) {
  const int64_t before = Storage::live_count();
  {
    Generator gen(7);
    for (int i = 0; i < 10000; ++i) {
      Tensor x = randn({2, 3}, {.dtype = DType::Float64, .requires_grad = true}, &gen);
      Tensor w = randn({3}, {.dtype = DType::Float64, .requires_grad = true}, &gen);
      Tensor h = mul(x, w);
      Tensor f = add(sum(add(leaky_relu(h, 0.2), mul(sigmoid(h), exp(mul(h, 0.1))))), sum(l2_norm_per_sample(h)));
      if (i % 2 == 0) {
        // R1-style: a gradient with a graph, differentiated again.
        Tensor g = grad({f}, {x}, {}, {.create_graph = true})[0];
        Tensor r1 = mul(mean(sum(square(g), {1})), 0.5);
        backward(add(f, r1));
      } else {
        backward(f);
      }
      ASSERT_TRUE(x.grad().defined());
    }
  }
  EXPECT_EQ(Storage::live_count(), before);
}

// A deliberately wrong custom op: forward x², backward 2 · (2x · g). gradcheck must catch it.
Tensor bad_square(const Tensor& x) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = square(x);
  }
  if (any_requires_grad({x})) {
    record("bad_square", {x}, {out}, [x_ = SavedTensor(x)](const Tensors& g) -> Tensors {
      return {mul(mul(g[0], x_.unpack()), 4.0)};  // right: 2x; returned: 4x
    });
  }
  return out;
}

TEST(Gradcheck, FailsOnAWrongGradientAndNamesTheInput) {
  Tensor a = leaf64({0.3, -0.7});
  Tensor b = leaf64({1.1, 0.4, -0.9});
  auto f = [](const Tensors& in) -> Tensors { return {add(sum(exp(in[0])), sum(bad_square(in[1])))}; };
  const GradcheckResult r = gradcheck(f, {a, b});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 1"), std::string::npos) << r.message;
  ASSERT_EQ(r.inputs.size(), 2u);
  EXPECT_LT(r.inputs[0].max_abs, 1e-6);  // the correct input is not blamed
  EXPECT_GT(r.inputs[1].max_abs, 0.1);

  // The same function with the right op passes: the failure above is the bad backward.
  auto good = [](const Tensors& in) -> Tensors { return {add(sum(exp(in[0])), sum(square(in[1])))}; };
  EXPECT_TRUE(gradcheck(good, {a, b}).ok);
  EXPECT_TRUE(gradgradcheck(good, {a, b}).ok);
}

// A cube whose backward is right to first order but built from a detached x, so its own
// derivative is lost: 3x² · g with x cut from the graph. Only gradgradcheck can see that.
Tensor cube_with_detached_backward(const Tensor& x) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = pow(x, 3.0);
  }
  if (any_requires_grad({x})) {
    record("cube_detached", {x}, {out}, [x_ = SavedTensor(x)](const Tensors& g) -> Tensors {
      return {mul(mul(g[0], square(detach(x_.unpack()))), 3.0)};
    });
  }
  return out;
}

TEST(Gradcheck, GradgradcheckCatchesANonDifferentiableBackward) {
  Tensor x = leaf64({0.4, -1.2, 0.9});
  auto f = [](const Tensors& in) -> Tensors { return {cube_with_detached_backward(in[0])}; };
  EXPECT_TRUE(gradcheck(f, {x}).ok);
  const GradcheckResult r = gradgradcheck(f, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 0"), std::string::npos) << r.message;
  auto right = [](const Tensors& in) -> Tensors { return {pow(in[0], 3.0)}; };
  EXPECT_TRUE(gradgradcheck(right, {x}).ok);
}

}  // namespace
