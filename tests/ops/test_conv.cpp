// The conv trio: values (by hand, and against direct 7-loop references under every tiling
// path), first and second derivatives of each op in every argument (float64 gradcheck /
// gradgradcheck over a table of geometries), the mixed second derivative R1 needs, a small R1
// network end to end, and the error messages.
#include <gtest/gtest.h>

#include "common/gpu_test.h"

#include "tests/common/expect.h"

#include "engine/autograd/gradcheck.h"
#include "engine/parallel.h"
#include "ops/cpu/conv_cpu.h"
#include "ops/ops.h"

using namespace atebm;

namespace {

TensorOptions f64(bool grad = false) { return {.dtype = DType::Float64, .requires_grad = grad}; }

struct Cfg {
  int64_t n, c, h, w, k, kh, kw;
  Conv2dParams p;
  std::string name;
  Shape x_shape() const { return {n, c, h, w}; }
  Shape w_shape() const { return {k, c, kh, kw}; }
  Shape y_shape() const {
    return {n, k, conv2d_output_size(h, kh, p.stride[0], p.padding[0], p.dilation[0]),
            conv2d_output_size(w, kw, p.stride[1], p.padding[1], p.dilation[1])};
  }
};

Conv2dParams params(int64_t s, int64_t pad, int64_t d = 1) {
  return {.stride = {s, s}, .padding = {pad, pad}, .dilation = {d, d}};
}

// The geometry table: stride 1 and 2, padding 0/1/2, dilation 1 and 2, kernels 1×1, 3×3, 4×4,
// non-square inputs, stride 2 over odd sizes (with input rows no output reads), batch 1 and 3,
// channels 1→2 and 3→4, and one asymmetric configuration.
const std::vector<Cfg>& table() {
  static const std::vector<Cfg> t = {
      {1, 1, 5, 7, 2, 3, 3, params(1, 0), "k3_s1_p0_5x7"},
      {1, 1, 5, 7, 2, 3, 3, params(1, 1), "k3_s1_p1_5x7"},
      {3, 3, 4, 5, 4, 3, 3, params(1, 1), "k3_s1_p1_batch3_3to4"},
      {1, 1, 5, 7, 2, 3, 3, params(2, 1), "k3_s2_p1_odd"},
      {1, 1, 7, 5, 2, 3, 3, params(2, 2), "k3_s2_p2_odd"},
      {1, 1, 7, 6, 2, 3, 3, params(1, 2, 2), "k3_s1_p2_d2"},
      {2, 3, 4, 3, 4, 1, 1, params(1, 0), "k1_pointwise_3to4"},
      {3, 1, 6, 5, 2, 4, 4, params(1, 0), "k4_s1_p0_batch3"},
      {1, 1, 6, 7, 2, 4, 4, params(2, 0), "k4_s2_p0_untouched_col"},
      {3, 1, 5, 7, 2, 2, 2, params(2, 0), "k2_s2_p0_untouched_row"},
      {1, 3, 5, 6, 4, 3, 2, {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}}, "asymmetric_3to4"},
  };
  return t;
}

// ---- direct references: the 7-loop definitions (and their adjoints), on logical values ----

struct Ref {
  const Cfg& c;
  int64_t ho, wo;
  explicit Ref(const Cfg& cfg) : c(cfg), ho(cfg.y_shape()[2]), wo(cfg.y_shape()[3]) {}
  // Calls f(n, k, oh, ow, ci, i, j, x_index) for every tap that reads a real (non-padding) input.
  template <typename F>
  void taps(F&& f) const {
    for (int64_t n = 0; n < c.n; ++n)
      for (int64_t k = 0; k < c.k; ++k)
        for (int64_t oh = 0; oh < ho; ++oh)
          for (int64_t ow = 0; ow < wo; ++ow)
            for (int64_t ci = 0; ci < c.c; ++ci)
              for (int64_t i = 0; i < c.kh; ++i)
                for (int64_t j = 0; j < c.kw; ++j) {
                  const int64_t ih = oh * c.p.stride[0] - c.p.padding[0] + i * c.p.dilation[0];
                  const int64_t iw = ow * c.p.stride[1] - c.p.padding[1] + j * c.p.dilation[1];
                  if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                  f(((n * c.k + k) * ho + oh) * wo + ow, ((k * c.c + ci) * c.kh + i) * c.kw + j,
                    ((n * c.c + ci) * c.h + ih) * c.w + iw);
                }
  }
  std::vector<double> forward(const std::vector<double>& x, const std::vector<double>& w,
                              const std::vector<double>& b) const {
    std::vector<double> y(static_cast<size_t>(numel_of(c.y_shape())), 0.0);
    for (size_t e = 0; e < y.size(); ++e) y[e] = b.empty() ? 0.0 : b[(e / (ho * wo)) % c.k];
    taps([&](int64_t yi, int64_t wi, int64_t xi) { y[yi] += w[wi] * x[xi]; });
    return y;
  }
  std::vector<double> grad_input(const std::vector<double>& g, const std::vector<double>& w) const {
    std::vector<double> dx(static_cast<size_t>(numel_of(c.x_shape())), 0.0);
    taps([&](int64_t yi, int64_t wi, int64_t xi) { dx[xi] += w[wi] * g[yi]; });
    return dx;
  }
  std::vector<double> grad_weight(const std::vector<double>& x, const std::vector<double>& g) const {
    std::vector<double> dw(static_cast<size_t>(numel_of(c.w_shape())), 0.0);
    taps([&](int64_t yi, int64_t wi, int64_t xi) { dw[wi] += x[xi] * g[yi]; });
    return dw;
  }
};

void expect_close(const Tensor& got, const std::vector<double>& want, double tol, const std::string& what) {
  const std::vector<double> v = got.to_vector<double>();
  ASSERT_EQ(v.size(), want.size()) << what;
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const double err = std::abs(v[i] - want[i]) / (1.0 + std::abs(want[i]));
    if (err > worst) worst = err, at = i;
  }
  EXPECT_LE(worst, tol) << what << ": element " << at << " is " << v[at] << ", expected " << want[at];
}

// Sets the tiling knobs for a scope.
struct TuningGuard {
  cpu::ConvTuning saved = cpu::conv_tuning();
  explicit TuningGuard(cpu::ConvTuning t) { cpu::set_conv_tuning(t); }
  ~TuningGuard() { cpu::set_conv_tuning(saved); }
};

using atebm::test::expect_error;

void expect_ok(const GradcheckResult& r, const std::string& what) { EXPECT_TRUE(r.ok) << what << ": " << r.message; }

}  // namespace

// ---- values ----

TEST(Conv2d, HandComputedValues) {
  // x = [1 2 3; 4 5 6; 7 8 9], w = [1 2; 3 4] (cross-correlation, as in every DL library).
  Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  // Stride 1, pad 0: y00 = 1·1 + 2·2 + 4·3 + 5·4 = 37, y01 = 2 + 6 + 15 + 24 = 47,
  //                  y10 = 4 + 10 + 21 + 32 = 67, y11 = 5 + 12 + 24 + 36 = 77.
  EXPECT_EQ(conv2d(x, w).to_vector<double>(), (std::vector<double>{37, 47, 67, 77}));
  // Stride 2, pad 1: Ho = floor((3 + 2 − 1 − 1) / 2) + 1 = 2; output (oh, ow) reads input rows
  // 2oh − 1 .. 2oh and cols 2ow − 1 .. 2ow (row/col −1 is padding):
  //   y00 = x00·w11 = 4                 y01 = x01·w10 + x02·w11 = 6 + 12 = 18
  //   y10 = x10·w01 + x20·w11 = 8 + 28  y11 = 5·1 + 6·2 + 8·3 + 9·4 = 77;   plus bias 0.5.
  Tensor b = from_vector<double>({0.5}, {1});
  EXPECT_EQ(conv2d(x, w, b, params(2, 1)).to_vector<double>(), (std::vector<double>{4.5, 18.5, 36.5, 77.5}));
  // Same in float32.
  Tensor xf = from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}, {.dtype = DType::Float32});
  Tensor wf = from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}, {.dtype = DType::Float32});
  EXPECT_EQ(conv2d(xf, wf).to_vector<float>(), (std::vector<float>{37, 47, 67, 77}));
}

TEST(Conv2d, GradInputIsZeroWhereNoOutputReads) {
  // H = W = 5, k = 2, stride 2: Ho = floor(3 / 2) + 1 = 2 reads rows/cols 0..3 only; so does
  // H = 4, which is why the input shape is passed in. Each of rows/cols 0..3 is read by
  // exactly one output tap, so with g = w = 1 the gradient is 1 there and 0 in row/col 4.
  Tensor g = ones({1, 1, 2, 2}, f64()), w = ones({1, 1, 2, 2}, f64());
  for (int rep = 0; rep < 2; ++rep) {  // twice: the second output reuses a freed block
    Tensor dx = conv2d_grad_input(g, w, {1, 1, 5, 5}, params(2, 0));
    std::vector<double> want(25, 0.0);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) want[i * 5 + j] = 1.0;
    EXPECT_EQ(dx.to_vector<double>(), want);
    Tensor junk = full({1, 1, 5, 5}, 7.0, f64());  // dirty the allocator's cache
  }
}

TEST(Conv2d, MatchesDirectReferenceOnEveryTilingPath) {
  // Tolerances (relative to 1 + |value|): float64 1e-12; float32 1e-5 (sums of <= 36 products
  // of standard normals, rounded at 2^-24).
  const std::vector<std::pair<std::string, cpu::ConvTuning>> tunings = {
      {"default", cpu::conv_tuning()},
      {"direct, one output row per tile", {.tile_bytes = 1, .direct_min_cols = 1, .direct_min_macs = 0}},
      {"batched, one sample per tile", {.tile_bytes = 1, .direct_min_cols = 1 << 30}},
      {"batched, two samples per tile", {.tile_bytes = 2 * 27 * 35 * 8, .direct_min_cols = 1 << 30}},
      {"direct, parallel over samples", {.direct_min_cols = 1, .direct_min_macs = 0, .samples_per_thread = 1}},
      // Stride-1 grad-input as a forward conv of g, at any channel count.
      {"transposed grad-input", {.transposed_min_channels = 1}},
      {"transposed grad-input, one row per tile",
       {.tile_bytes = 1, .direct_min_cols = 1, .direct_min_macs = 0, .transposed_min_channels = 1}},
      {"transposed grad-input, parallel over samples",
       {.direct_min_cols = 1, .direct_min_macs = 0, .samples_per_thread = 1, .transposed_min_channels = 1}},
      // grad-weight as dw = G · colsᵀ (the default from 128 output channels).
      {"untransposed grad-weight", {.dw_transposed_below = 0}},
      {"untransposed grad-weight, batched", {.tile_bytes = 1, .direct_min_cols = 1 << 30, .dw_transposed_below = 0}},
  };
  std::vector<Cfg> cfgs = table();
  cfgs.push_back({3, 3, 16, 18, 5, 3, 3, params(1, 1), "16x18_direct_by_default"});
  cfgs.push_back({3, 4, 17, 16, 3, 1, 1, params(1, 0), "pointwise_17x16"});
  cfgs.push_back({2, 2, 5, 6, 3, 3, 3, params(1, 3), "padding_beyond_kernel"});  // transposed padding −1
  cfgs.push_back({2, 17, 6, 5, 3, 3, 2, params(1, 1, 2), "17ch_dilated"});       // default-transposed
  Generator gen(5);
  for (const auto& [tname, tuning] : tunings) {
    TuningGuard guard(tuning);
    for (const Cfg& c : cfgs) {
      for (DType dt : {DType::Float32, DType::Float64}) {
        const double tol = dt == DType::Float32 ? 1e-5 : 1e-12;
        const std::string what = tname + " / " + c.name + " / " + std::string(dtype_name(dt));
        Tensor x = randn(c.x_shape(), {.dtype = dt}, &gen), w = randn(c.w_shape(), {.dtype = dt}, &gen);
        Tensor b = randn({c.k}, {.dtype = dt}, &gen), g = randn(c.y_shape(), {.dtype = dt}, &gen);
        const Ref ref(c);
        const auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), gv = g.to_vector<double>();
        expect_close(conv2d(x, w, b, c.p), ref.forward(xv, wv, b.to_vector<double>()), tol, what + " forward");
        expect_close(conv2d(x, w, {}, c.p), ref.forward(xv, wv, {}), tol, what + " forward, no bias");
        expect_close(conv2d_grad_input(g, w, c.x_shape(), c.p), ref.grad_input(gv, wv), tol, what + " grad_input");
        expect_close(conv2d_grad_weight(x, g, c.w_shape(), c.p), ref.grad_weight(xv, gv), tol, what + " grad_weight");
      }
    }
  }
}

TEST(Conv2d, SameBitsOnOneAndTwoThreads) {
  // Large enough that GEMMs are split over threads and every pass runs in parallel. Batch 5 in
  // direct mode: parallel over samples on 1 thread (5 >= 4 per thread), split GEMMs on 2.
  const int saved = num_threads();
  Generator gen(31);
  const Conv2dParams p = params(1, 1);
  Tensor x = randn({5, 24, 16, 16}, {}, &gen), w = randn({20, 24, 3, 3}, {}, &gen),
         g = randn({5, 20, 16, 16}, {}, &gen);
  for (const cpu::ConvTuning& tuning :
       {cpu::conv_tuning(), cpu::ConvTuning{.direct_min_cols = 1, .direct_min_macs = 0}}) {
    TuningGuard guard(tuning);
    std::vector<std::vector<float>> runs[2];
    for (int t : {1, 2}) {
      set_num_threads(t);
      runs[t - 1] = {conv2d(x, w, {}, p).to_vector<float>(), conv2d_grad_input(g, w, x.shape(), p).to_vector<float>(),
                     conv2d_grad_weight(x, g, w.shape(), p).to_vector<float>()};
    }
    set_num_threads(saved);
    EXPECT_EQ(runs[0][0], runs[1][0]) << "forward";
    EXPECT_EQ(runs[0][1], runs[1][1]) << "grad_input";
    EXPECT_EQ(runs[0][2], runs[1][2]) << "grad_weight";
  }
}

TEST(Conv2d, EmptyBatch) {
  Tensor x = zeros({0, 1, 5, 5}), w = ones({2, 1, 3, 3});
  EXPECT_EQ(conv2d(x, w, ones({2})).shape(), (Shape{0, 2, 3, 3}));
  EXPECT_EQ(conv2d_grad_input(zeros({0, 2, 3, 3}), w, {0, 1, 5, 5}).shape(), (Shape{0, 1, 5, 5}));
  EXPECT_EQ(conv2d_grad_weight(x, zeros({0, 2, 3, 3}), {2, 1, 3, 3}).to_vector<float>(), std::vector<float>(18, 0.0f));
}

TEST(Conv2d, NonContiguousInputs) {
  Generator gen(9);
  const Cfg c{2, 3, 5, 6, 4, 3, 3, params(1, 1), "noncontig"};
  Tensor x = permute(randn({2, 5, 6, 3}, f64(), &gen), {0, 3, 1, 2});  // NHWC storage
  Tensor w = transpose(randn({3, 4, 3, 3}, f64(), &gen), 0, 1);
  const Ref ref(c);
  expect_close(conv2d(x, w, {}, c.p), ref.forward(x.to_vector<double>(), w.to_vector<double>(), {}), 1e-12, "forward");
}

// ---- first and second derivatives in every argument ----

class ConvTable : public ::testing::TestWithParam<size_t> {};

TEST_P(ConvTable, Conv2dGradcheckAndGradgradcheck) {
  const Cfg& c = table()[GetParam()];
  Generator gen(100 + GetParam());
  Tensor x = randn(c.x_shape(), f64(true), &gen), w = randn(c.w_shape(), f64(true), &gen);
  Tensor b = randn({c.k}, f64(true), &gen);
  auto f = [p = c.p](const Tensors& in) -> Tensors { return {conv2d(in[0], in[1], in[2], p)}; };
  expect_ok(gradcheck(f, {x, w, b}), c.name + " conv2d first order");
  expect_ok(gradgradcheck(f, {x, w, b}), c.name + " conv2d second order");
}

TEST_P(ConvTable, GradInputGradcheckAndGradgradcheck) {
  const Cfg& c = table()[GetParam()];
  Generator gen(200 + GetParam());
  Tensor g = randn(c.y_shape(), f64(true), &gen), w = randn(c.w_shape(), f64(true), &gen);
  auto f = [p = c.p, xs = c.x_shape()](const Tensors& in) -> Tensors {
    return {conv2d_grad_input(in[0], in[1], xs, p)};
  };
  expect_ok(gradcheck(f, {g, w}), c.name + " conv2d_grad_input first order");
  expect_ok(gradgradcheck(f, {g, w}), c.name + " conv2d_grad_input second order");
}

TEST_P(ConvTable, GradWeightGradcheckAndGradgradcheck) {
  const Cfg& c = table()[GetParam()];
  Generator gen(300 + GetParam());
  Tensor x = randn(c.x_shape(), f64(true), &gen), g = randn(c.y_shape(), f64(true), &gen);
  auto f = [p = c.p, ws = c.w_shape()](const Tensors& in) -> Tensors {
    return {conv2d_grad_weight(in[0], in[1], ws, p)};
  };
  expect_ok(gradcheck(f, {x, g}), c.name + " conv2d_grad_weight first order");
  expect_ok(gradgradcheck(f, {x, g}), c.name + " conv2d_grad_weight second order");
}

INSTANTIATE_TEST_SUITE_P(Geometries, ConvTable, ::testing::Range<size_t>(0, table().size()),
                         [](const ::testing::TestParamInfo<size_t>& i) { return table()[i.param].name; });

TEST(Conv2d, MixedSecondDerivativeOfInputGradient) {
  // f(x, w) = Σ conv2d(x, w)² · c;  gx = ∂f/∂x (create_graph);  check both maps
  // w ↦ Σ gx² and x ↦ Σ gx² — d/dθ of a function of an input gradient is what R1 needs.
  Generator gen(17);
  for (const Conv2dParams& p : {params(1, 1), params(2, 1), params(1, 2, 2)}) {
    Tensor x = randn({2, 2, 5, 5}, f64(true), &gen), w = randn({3, 2, 3, 3}, f64(true), &gen);
    const Shape ys = {2, 3, conv2d_output_size(5, 3, p.stride[0], p.padding[0], p.dilation[0]),
                      conv2d_output_size(5, 3, p.stride[1], p.padding[1], p.dilation[1])};
    Tensor c = randn(ys, f64(), &gen);
    auto h = [&c, p](const Tensor& xi, const Tensor& wi) {
      GradModeGuard on(true);  // gradcheck's finite differences run under no-grad
      Tensor f = sum(mul(square(conv2d(xi, wi, {}, p)), c));
      Tensor gx = grad({f}, {xi}, {}, {.create_graph = true})[0];
      return sum(square(gx));
    };
    expect_ok(gradcheck([&](const Tensors& in) -> Tensors { return {h(x, in[0])}; }, {w}), "w -> sum(gx^2)");
    expect_ok(gradcheck([&](const Tensors& in) -> Tensors { return {h(in[0], w)}; }, {x}), "x -> sum(gx^2)");
  }
}

TEST(Conv2d, R1OfATinyConvNet) {
  // f(x_i) = mean(conv(leaky_relu(conv(x_i, w1, b1)), w2, b2)) per sample;
  // R1(θ) = 0.5 · mean_i ||∇x f(x_i)||²; dR1/dθ against central differences, float64.
  Generator gen(23);
  Tensor x = rand({3, 1, 6, 6}, f64(), &gen);
  Tensor w1 = mul(randn({3, 1, 3, 3}, f64(), &gen), 0.5).set_requires_grad(true);
  Tensor b1 = mul(randn({3}, f64(), &gen), 0.1).set_requires_grad(true);
  Tensor w2 = mul(randn({2, 3, 3, 3}, f64(), &gen), 0.5).set_requires_grad(true);
  Tensor b2 = randn({2}, f64(true), &gen);
  auto r1 = [&x](const Tensors& th) -> Tensors {
    GradModeGuard on(true);
    Tensor xi = detach(x).set_requires_grad(true);
    Tensor h = leaky_relu(conv2d(xi, th[0], th[1], params(1, 1)), 0.2);
    Tensor f = mean(conv2d(h, th[2], th[3], params(2, 1)), {1, 2, 3});  // [N]
    Tensor gx = grad({sum(f)}, {xi}, {}, {.create_graph = true})[0];    // per-sample ∇x f(x_i)
    return {mul(mean(sum(square(gx), {1, 2, 3})), 0.5)};
  };
  const Tensors theta = {w1, b1, w2, b2};
  EXPECT_GT(r1(theta)[0].item(), 0.0);
  expect_ok(gradcheck(r1, theta), "dR1/dtheta");
  // The gradients really reach both conv weights.
  Tensors gr = grad(r1(theta), {w1, w2});
  EXPECT_GT(sum(abs(gr[0])).item(), 0.0);
  EXPECT_GT(sum(abs(gr[1])).item(), 0.0);
}

// ---- errors ----

TEST(Conv2d, BadInputsNameOpShapesAndParameters) {
  const Tensor x = zeros({1, 3, 5, 5}), w = zeros({2, 3, 3, 3});
  expect_error([&] { conv2d(zeros({3, 5, 5}), w); }, {"conv2d", "4-D input", "[3, 5, 5]", "[2, 3, 3, 3]"});
  expect_error([&] { conv2d(x, zeros({2, 3, 3})); }, {"conv2d", "4-D weight", "[1, 3, 5, 5]", "[2, 3, 3]"});
  expect_error(
      [&] {
        conv2d(x, zeros({2, 2, 3, 3}));
      },
      {"conv2d", "3 channels", "expects 2", "[1, 3, 5, 5]", "[2, 2, 3, 3]"});
  expect_error([&] { conv2d(x, w, zeros({3})); }, {"conv2d", "bias", "[3]", "[2, 3, 3, 3]"});
  expect_error(
      [&] {
        conv2d(x, zeros({2, 3, 6, 6}));
      },
      {"conv2d", "larger than the padded input", "[2, 3, 6, 6]", "padding [0, 0]"});
  expect_error([&] { conv2d(x, zeros({2, 3, 3, 3}), {}, params(1, 0, 3)); }, {"conv2d", "7x7", "dilation [3, 3]"});
  expect_error([&] { conv2d(x, w, {}, {.padding = {-1, 0}}); }, {"conv2d", "padding must be >= 0", "padding [-1, 0]"});
  expect_error([&] { conv2d(x, w, {}, {.stride = {1, 0}}); }, {"conv2d", "stride must be >= 1", "stride [1, 0]"});
  expect_error([&] { conv2d(x, w, {}, {.dilation = {0, 1}}); }, {"conv2d", "dilation must be >= 1", "dilation [0, 1]"});
  expect_error([&] { conv2d(x, w, {}, {.groups = 3}); }, {"conv2d", "groups", "groups 3"});
  expect_error([&] { conv2d(x, zeros({2, 3, 3, 3}, f64())); }, {"conv2d", "dtype", "[1, 3, 5, 5]", "[2, 3, 3, 3]"});
  expect_error([&] { conv2d(x, w, zeros({2}, f64())); }, {"conv2d", "dtype"});
  expect_error([&] { conv2d(zeros({1, 3, 5, 5}, {.dtype = DType::Int64}), w); }, {"conv2d", "float"});
  // The gradient ops check g against the output the geometry implies.
  expect_error(
      [&] {
        conv2d_grad_input(zeros({1, 2, 4, 4}), w, {1, 3, 5, 5});
      },
      {"conv2d_grad_input", "[1, 2, 4, 4]", "[1, 2, 3, 3]", "input_shape [1, 3, 5, 5]"});
  expect_error([&] { conv2d_grad_input(zeros({1, 2, 3, 3}), w, {1, 4, 5, 5}); }, {"conv2d_grad_input", "4 channels"});
  expect_error([&] { conv2d_grad_weight(x, zeros({1, 2, 3, 3}), {2, 3, 3}); }, {"conv2d_grad_weight", "4-D weight"});
  expect_error(
      [&] {
        conv2d_grad_weight(x, zeros({1, 2, 2, 2}), {2, 3, 3, 3});
      },
      {"conv2d_grad_weight", "[1, 2, 2, 2]", "[1, 2, 3, 3]", "weight_shape [2, 3, 3, 3]"});
  expect_error(
      [&] {
        conv2d_grad_weight(x, zeros({1, 2, 3, 3}, f64()), {2, 3, 3, 3});
      },
      {"conv2d_grad_weight", "dtype"});
}

TEST(Conv2d, DeviceMismatchNamesBothDevices) {
  ATEBM_SKIP_WITHOUT_GPU();
  const Tensor x = zeros({1, 3, 5, 5}), w = zeros({2, 3, 3, 3}, {.device = Device::cuda()});
  expect_error([&] { conv2d(x, w); }, {"conv2d", "device", "cpu", "cuda"});
}
