// The hand-written conv2d forward kernels (ops/cuda/conv_implicit_gemm.cu and
// conv_implicit_gemm_pipelined.cu, selected with set_conv_algo) against the CPU's conv2d on the
// same inputs, for every path the kernels have:
//   float64 FMA tiles, float32 FMA tiles (allow_tf32 off), float32 TF32 tensor-core tiles;
// on geometries that reach every edge of the tiling: M = N·Ho·Wo, K and R = C·kh·kw that are and
// are not multiples of the block tile, several tiles along M and along K, stride, padding wider
// than the kernel, dilation, non-square kernels and images, 1×1, a 3-channel stem, bias or none,
// and for the pipelined kernel a reduction split in even and uneven parts (split-K).
//
// Error bound per output element (rigorous for the FMA paths, with room to spare):
//   |gpu − exact| ≤ tol · B,   B = Σ_r |x|·|w| + |b|   (computed as conv2d(|x|, |w|, |b|) in float64)
//   tol = (R + 2)·u                      float64 (u = 2^-53) and float32 FMA (u = 2^-24): a sum of
//                                        R + 1 terms in any order, then one rounding;
//   tol = 2^-9 + (R + 2)·2^-24           TF32: each input rounded to a 10-bit mantissa (relative
//                                        error ≤ 2^-11 each, so ≤ ~2^-10 per product), doubled;
//   tol = 2^-20 + (R + 2)·2^-23          float32 as 3xTF32 (the channels-last kernel with TF32
//                                        off): ≤ 3·2^-22 per product from the dropped small·small
//                                        term and the split's rounding, and tensor-core
//                                        accumulation, which may truncate (1 ulp per add);
// where "exact" is the CPU's float64 conv of the same (float32) values. A wrong index, a missed
// tap, a tile edge that reads past the data or an output never written is off by O(B) (or NaN:
// device memory from the caching allocator is not zeroed, and the emulated GPU fills it with NaN).
// The TF32 case must also differ from the float32 result by more than float32 rounding (rms of
// the difference over B > 2^-19): it proves the tensor-core path ran. Outputs must be bitwise
// the same over two runs (no atomics).
// Without the CUDA backend or without a visible GPU every test skips.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/gpu_test.h"
#include "engine/autograd/engine.h"
#include "engine/device.h"
#include "engine/factories.h"
#include "ops/conv.h"
#include "ops/cuda/conv_implicit_gemm_cuda.h"
#include "ops/math_mode.h"
#include "ops/ops.h"

#ifdef ATEBM_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace atebm {
namespace {

struct ConvCase {
  std::string name;
  int64_t n, c, h, w, k, kh, kw;
  Conv2dParams p;
  bool bias;
};

// M = n·Ho·Wo, R = c·kh·kw; the kernels tile M by 128, K by 64 (the pipelined kernel's wide
// tile: 128) and R by 16.
const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      // M = 128, K = 16, R = 144: exactly one tile along M and whole R steps.
      {"resnet3x3", 2, 16, 8, 8, 16, 3, 3, {.padding = {1, 1}}, true},
      // M = 189, K = 70 (a second, partial tile along K), R = 45: every edge partial.
      {"partial_tiles", 3, 5, 7, 9, 70, 3, 3, {.padding = {1, 1}}, true},
      // Strides, dilation, non-square kernel and image: Ho = 7, Wo = 4.
      {"strided_dilated", 2, 4, 11, 10, 8, 3, 2, {.stride = {2, 3}, .padding = {2, 1}, .dilation = {2, 1}}, false},
      // Padding wider than the kernel: whole receptive fields in the padding (outputs = bias).
      {"wide_padding", 2, 3, 4, 5, 6, 2, 2, {.padding = {3, 2}}, true},
      // Pointwise and the strided 1×1 shortcut; R = 32 and 40.
      {"pointwise", 4, 32, 6, 6, 24, 1, 1, {}, false},
      {"shortcut_1x1_s2", 3, 40, 9, 9, 64, 1, 1, {.stride = {2, 2}}, true},
      // The stem: C = 3 (R = 27), M = 2048: 16 tiles along M.
      {"stem", 2, 3, 32, 32, 8, 3, 3, {.padding = {1, 1}}, true},
      // R = 432 (27 reduction steps), K = 128 (two full 64-wide tiles, one 128-wide), M = 162: the
      // pipelined kernel splits the reduction in 3 (SplitCount below).
      {"deep_reduction", 2, 48, 9, 9, 128, 3, 3, {.padding = {1, 1}}, false},
      // R = 450 (29 steps, the last partial), K = 40, M = 25, stride 2: 3 uneven splits (9, 10, 10).
      {"split_uneven", 1, 50, 9, 9, 40, 3, 3, {.stride = {2, 2}, .padding = {1, 1}}, true},
      // For the channels-last kernel (C % 4 == 0; the cases above with C = 16, 4, 32, 40, 48 run it
      // too): M = 189 and K = 70 partial, C = 36 (a 32-channel step and a 4-channel one per tap).
      {"channels_last_partial", 3, 36, 7, 9, 70, 3, 3, {.padding = {1, 1}}, true},
      // 25 taps (the weight copy takes 16 at a time), C = 8: M = 162, K = 12, R = 200.
      {"kernel_5x5", 2, 8, 9, 9, 12, 5, 5, {.padding = {2, 2}}, true},
  };
  return cases;
}

enum class Path { Float64, Float32, Tf32 };

const char* path_name(Path p) { return p == Path::Float64 ? "f64" : p == Path::Float32 ? "f32" : "tf32"; }

struct Param {
  size_t case_index;
  ConvAlgo algo;
  Path path;
  cuda::PipelinedTile tile = cuda::PipelinedTile::Auto;  // not Auto: the pipelined kernel called directly
};

struct Inputs {
  Tensor x, w, b;  // on the CPU, in the path's dtype (b undefined when the case has none)
};

Inputs make_inputs(const ConvCase& c, DType dtype, uint64_t seed) {
  Generator gen(seed);
  const TensorOptions opt{.dtype = dtype};
  Inputs in{randn({c.n, c.c, c.h, c.w}, opt, &gen), randn({c.k, c.c, c.kh, c.kw}, opt, &gen), Tensor()};
  if (c.bias) in.b = randn({c.k}, opt, &gen);
  return in;
}

Tensor on(const Tensor& t, Device d) { return t.defined() ? copy_to(t, d, t.dtype()) : Tensor(); }
Tensor as_f64(const Tensor& t) { return t.defined() ? copy_to(t, Device::cpu(), DType::Float64) : Tensor(); }
Tensor abs_of(const Tensor& t) { return t.defined() ? abs(t) : Tensor(); }

double tolerance(Path path, int64_t r, bool tf32x3) {
  const double terms = static_cast<double>(r + 2);
  if (tf32x3) return std::ldexp(1.0, -20) + terms * std::ldexp(1.0, -23);
  switch (path) {
    case Path::Float64:
      return terms * std::ldexp(1.0, -53);
    case Path::Float32:
      return terms * std::ldexp(1.0, -24);
    case Path::Tf32:
      return std::ldexp(1.0, -9) + terms * std::ldexp(1.0, -24);
  }
  return 0;
}

class ImplicitGemmConv : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override { ATEBM_SKIP_WITHOUT_GPU(); }
};

TEST_P(ImplicitGemmConv, MatchesTheCpuWithinTheRoundingBound) {
  const Param prm = GetParam();
  const ConvCase& c = conv_cases().at(prm.case_index);
  const DType dtype = prm.path == Path::Float64 ? DType::Float64 : DType::Float32;
  const Inputs in = make_inputs(c, dtype, 1000 + prm.case_index);
  const int64_t r = c.c * c.kh * c.kw;

  // The exact result and the bound B, in float64 on the CPU from the same values.
  const Tensor exact = conv2d(as_f64(in.x), as_f64(in.w), as_f64(in.b), c.p);
  const Tensor bound = conv2d(abs_of(as_f64(in.x)), abs_of(as_f64(in.w)), abs_of(as_f64(in.b)), c.p);

  // conv2d through the algorithm the mode selects, or the pipelined kernel with a forced tile.
#ifdef ATEBM_WITH_CUDA
  const cpu::Conv2dGeometry geo{.n = c.n, .c_in = c.c, .h = c.h, .w = c.w, .c_out = c.k, .kh = c.kh, .kw = c.kw,
                                .stride_h = c.p.stride[0], .stride_w = c.p.stride[1], .pad_h = c.p.padding[0],
                                .pad_w = c.p.padding[1], .dil_h = c.p.dilation[0], .dil_w = c.p.dilation[1]};
#endif
  auto run = [&](const Tensor& x, const Tensor& w, const Tensor& b) {
    if (prm.tile == cuda::PipelinedTile::Auto) return conv2d(x, w, b, c.p);
#ifndef ATEBM_WITH_CUDA
    return Tensor();  // not reached: every test skips without the CUDA backend
#else
    Tensor y = empty(exact.shape(), {.dtype = DType::Float32, .device = Device::cuda()});
    if ((prm.tile == cuda::PipelinedTile::Nhwc64 || prm.tile == cuda::PipelinedTile::Nhwc128) && c.c % 4 != 0) {
      // The channels-last kernel copies 4 channels at a time: forced on other inputs, it refuses.
      EXPECT_THROW(cuda::conv2d_forward_implicit_gemm_pipelined<float>(geo, x.data<float>(), w.data<float>(), nullptr,
                                                                      y.data<float>(), prm.tile),
                   Error);
      return Tensor();
    }
    cuda::conv2d_forward_implicit_gemm_pipelined<float>(geo, x.data<float>(), w.data<float>(),
                                                        b.defined() ? b.data<float>() : nullptr, y.data<float>(),
                                                        prm.tile);
    return y;
#endif
  };
  Tensor y, again, fp32;
  bool tf32x3 = false;  // float32 as 3xTF32: the pipelined kernel's plan says so
  {
    const MathModeScope mode(prm.path == Path::Tf32, prm.algo);
#ifdef ATEBM_WITH_CUDA
    const bool forced_nhwc = prm.tile == cuda::PipelinedTile::Nhwc64 || prm.tile == cuda::PipelinedTile::Nhwc128;
    if (prm.path == Path::Float32 && prm.algo == ConvAlgo::ImplicitGemmPipelined && (c.c % 4 == 0 || !forced_nhwc)) {
      tf32x3 = cuda::implicit_gemm_pipelined_plan(geo, prm.tile).math == cuda::PipelinedMath::Tf32x3;
      EXPECT_EQ(tf32x3, c.c % 4 == 0) << "float32 runs as 3xTF32 exactly where the channels-last kernel can";
    }
#endif
    const Device gpu = Device::cuda();
    const Tensor x = on(in.x, gpu), w = on(in.w, gpu), b = on(in.b, gpu);
    y = run(x, w, b);
    if (!y.defined()) return;  // refused, as it should be (run checked it)
    again = run(x, w, b);
    if (prm.path == Path::Tf32) {
      set_allow_tf32(false);
      fp32 = run(x, w, b);
    }
  }
  ASSERT_EQ(y.device(), Device::cuda());
  ASSERT_EQ(y.shape(), exact.shape());
  ASSERT_EQ(y.dtype(), dtype);

  const std::vector<double> got = y.to_vector<double>(), want = exact.to_vector<double>(),
                            lim = bound.to_vector<double>();
  const double tol = tolerance(prm.path, r, tf32x3);
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double allowed = tol * lim[i];
    if (std::abs(got[i] - want[i]) <= allowed) continue;  // NaN fails here too
    if (bad++ < 5)
      ADD_FAILURE() << "element " << i << ": gpu " << got[i] << ", exact " << want[i] << " (|diff| "
                    << std::abs(got[i] - want[i]) << ", allowed " << allowed << ")";
  }
  EXPECT_EQ(bad, 0) << bad << " of " << got.size() << " outputs outside the bound";

  if (dtype == DType::Float32)
    EXPECT_EQ(again.to_vector<float>(), y.to_vector<float>()) << "two runs on the same inputs differ";
  else
    EXPECT_EQ(again.to_vector<double>(), y.to_vector<double>()) << "two runs on the same inputs differ";

  if (prm.path == Path::Tf32) {
    // Inputs rounded to 10 mantissa bits: relative to B, the typical (rms) change is about
    // 2^-11/√R (≥ 2^-16 here), where float32 summed in another order moves it by ~2^-24.
    const std::vector<double> plain = fp32.to_vector<double>();
    double sq = 0;
    int64_t count = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (lim[i] > 0) {
        sq += std::pow((got[i] - plain[i]) / lim[i], 2);
        ++count;
      }
    EXPECT_GT(std::sqrt(sq / std::max<int64_t>(count, 1)), std::ldexp(1.0, -19))
        << "the TF32 result is the float32 one: no TF32 ran";
  }
}

// Every case: both kernels through conv2d on the three paths, the pipelined kernel's five tiles
// forced on its TF32 path, and the channels-last ones on its float32 path (3xTF32; with the NCHW
// tiles float32 runs the teaching kernel).
std::vector<Param> all_params() {
  std::vector<Param> out;
  for (size_t i = 0; i < conv_cases().size(); ++i) {
    for (ConvAlgo a : {ConvAlgo::ImplicitGemm, ConvAlgo::ImplicitGemmPipelined})
      for (Path p : {Path::Float64, Path::Float32, Path::Tf32}) out.push_back({i, a, p});
    for (cuda::PipelinedTile t : {cuda::PipelinedTile::N64, cuda::PipelinedTile::N128, cuda::PipelinedTile::N128W8,
                                  cuda::PipelinedTile::Nhwc64, cuda::PipelinedTile::Nhwc128})
      out.push_back({i, ConvAlgo::ImplicitGemmPipelined, Path::Tf32, t});
    for (cuda::PipelinedTile t : {cuda::PipelinedTile::Nhwc64, cuda::PipelinedTile::Nhwc128})  // 3xTF32
      out.push_back({i, ConvAlgo::ImplicitGemmPipelined, Path::Float32, t});
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const Param& p = info.param;
  const char* tile = p.tile == cuda::PipelinedTile::N64       ? "_n64"
                     : p.tile == cuda::PipelinedTile::N128    ? "_n128"
                     : p.tile == cuda::PipelinedTile::N128W8  ? "_n128w8"
                     : p.tile == cuda::PipelinedTile::Nhwc64  ? "_nhwc64"
                     : p.tile == cuda::PipelinedTile::Nhwc128 ? "_nhwc128"
                                                              : "";
  return std::string(conv_algo_name(p.algo)) + "_" + conv_cases().at(p.case_index).name + "_" + path_name(p.path) +
         tile;
}

INSTANTIATE_TEST_SUITE_P(Cuda, ImplicitGemmConv, ::testing::ValuesIn(all_params()), param_name);

#ifdef ATEBM_WITH_CUDA
// The split policy of the pipelined kernel on the shapes above (132 SMs, an H100/H200) and on
// the CIFAR ResNet's layer 4 at batch 32 (M = 512, K = 512, R = 4608: 32 tiles, 288 steps).
TEST(ImplicitGemmSplitCount, SplitsOnlyGridsTooSmallForTheGpu) {
  EXPECT_EQ(cuda::implicit_gemm_split_count(1, 9, 132), 1) << "resnet3x3: 9 steps, too short to split";
  EXPECT_EQ(cuda::implicit_gemm_split_count(4, 27, 132), 3) << "deep_reduction: at least 8 steps a split";
  EXPECT_EQ(cuda::implicit_gemm_split_count(2, 27, 132), 3) << "deep_reduction, 128-wide tile";
  EXPECT_EQ(cuda::implicit_gemm_split_count(1, 29, 132), 3) << "split_uneven (either tile)";
  EXPECT_EQ(cuda::implicit_gemm_split_count(32, 288, 132), 13) << "layer 4: ~3 blocks per SM";
  EXPECT_EQ(cuda::implicit_gemm_split_count(1, 10000, 132), 16) << "at most 16";
  EXPECT_EQ(cuda::implicit_gemm_split_count(264, 288, 132), 1) << "two blocks per SM: no split";
  EXPECT_EQ(cuda::implicit_gemm_split_count(256, 36, 132), 2) << "3x3 64->64 @32, batch 32: 1.9 blocks per SM";
  EXPECT_EQ(cuda::implicit_gemm_split_count(0, 36, 132), 1) << "no tiles (an empty batch)";
}

// The plan (tile, split count) on the GPU, here with 132 SMs (the emulated GPU's, an H100/H200's):
// Auto takes the channels-last kernel wherever C % 4 == 0, and it splits a grid under one wave
// of two blocks per SM into as many parts as that wave holds, each at least 4 of its 32-channel
// steps long.
TEST(ImplicitGemmPlan, ChannelsLastWhereItRunsAndSplitsToOneWave) {
  ATEBM_SKIP_WITHOUT_GPU();
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  if (sms != 132) GTEST_SKIP() << "the expected split counts are for 132 SMs; this GPU has " << sms;
  using cuda::PipelinedMath, cuda::PipelinedTile;
  auto geo = [](int64_t n, int64_t c, int64_t hw, int64_t k) {
    return cpu::Conv2dGeometry{.n = n, .c_in = c, .h = hw, .w = hw, .c_out = k, .kh = 3, .kw = 3, .pad_h = 1,
                               .pad_w = 1};
  };
  auto expect_plan = [&](const cpu::Conv2dGeometry& g, PipelinedTile asked, PipelinedTile tile, int splits,
                         PipelinedMath math, const char* what) {
    const cuda::PipelinedPlan plan = cuda::implicit_gemm_pipelined_plan(g, asked);
    EXPECT_EQ(plan.tile, tile) << what << ": tile " << cuda::pipelined_tile_name(plan.tile);
    EXPECT_EQ(plan.splits, splits) << what;
    EXPECT_EQ(plan.math, math) << what << ": " << cuda::pipelined_math_name(plan.math);
  };
  {
    const MathModeScope tf32(true, ConvAlgo::ImplicitGemmPipelined);
    const PipelinedMath m = PipelinedMath::Tf32;
    // resnet3x3 (M = 128, 9 steps): 1 tile, 2 parts of >= 4 steps.
    expect_plan(geo(2, 16, 8, 16), PipelinedTile::Auto, PipelinedTile::Nhwc64, 2, m, "resnet3x3");
    // The stem (C = 3): the NCHW kernel; forcing channels last is refused.
    expect_plan(geo(2, 3, 32, 8), PipelinedTile::Auto, PipelinedTile::N64, 1, m, "stem");
    EXPECT_THROW(cuda::implicit_gemm_pipelined_plan(geo(2, 3, 32, 8), PipelinedTile::Nhwc64), Error);
    // channels_last_partial (M = 189, K = 70, C = 36: 9 taps x 2 channel blocks = 18 steps).
    expect_plan(geo(3, 36, 7, 70), PipelinedTile::Auto, PipelinedTile::Nhwc64, 4, m, "C = 36: 4 tiles, 18 steps");
    expect_plan(geo(3, 36, 7, 70), PipelinedTile::Nhwc128, PipelinedTile::Nhwc128, 4, m, "C = 36, 2 tiles");
    // The CIFAR ResNet's 3x3 layers at batch 32 and 128.
    expect_plan(geo(32, 64, 32, 64), PipelinedTile::Auto, PipelinedTile::Nhwc64, 1, m, "64->64 @32, n32: 256 tiles");
    expect_plan(geo(32, 128, 16, 128), PipelinedTile::Auto, PipelinedTile::Nhwc128, 4, m, "128->128 @16, n32");
    expect_plan(geo(128, 256, 8, 256), PipelinedTile::Auto, PipelinedTile::Nhwc128, 2, m, "256->256 @8, n128");
    expect_plan(geo(32, 512, 4, 512), PipelinedTile::Auto, PipelinedTile::Nhwc128, 16, m, "512->512 @4, n32");
    expect_plan(geo(128, 64, 32, 64), PipelinedTile::Auto, PipelinedTile::Nhwc64, 1, m, "64->64 @32, n128");
  }
  {  // An empty batch: no tiles, no split (and no division by the tile count).
    const MathModeScope tf32(true, ConvAlgo::ImplicitGemmPipelined);
    expect_plan(geo(0, 64, 8, 64), PipelinedTile::Auto, PipelinedTile::Nhwc64, 1, PipelinedMath::Tf32, "n = 0");
    const MathModeScope fp32(false, ConvAlgo::ImplicitGemmPipelined);
    expect_plan(geo(0, 64, 8, 64), PipelinedTile::Auto, PipelinedTile::Nhwc64, 1, PipelinedMath::Tf32x3, "n = 0");
    const Tensor y = conv2d(empty({0, 64, 8, 8}, {.device = Device::cuda()}),
                            empty({64, 64, 3, 3}, {.device = Device::cuda()}), Tensor(), {.padding = {1, 1}});
    EXPECT_EQ(y.shape(), (Shape{0, 64, 8, 8}));
  }
  {  // TF32 off: 3xTF32 on the 128 x 64 channels-last tile, else the teaching kernel's FMA tiles.
    const MathModeScope fp32(false, ConvAlgo::ImplicitGemmPipelined);
    expect_plan(geo(32, 128, 16, 128), PipelinedTile::Auto, PipelinedTile::Nhwc64, 2, PipelinedMath::Tf32x3,
                "128->128 @16, n32: 128 tiles");
    expect_plan(geo(32, 128, 16, 128), PipelinedTile::Nhwc128, PipelinedTile::Nhwc128, 4, PipelinedMath::Tf32x3,
                "forced 128-wide");
    expect_plan(geo(32, 128, 16, 128), PipelinedTile::N128, PipelinedTile::Auto, 1, PipelinedMath::Fma,
                "an NCHW tile has no 3xTF32");
    expect_plan(geo(2, 3, 32, 8), PipelinedTile::Auto, PipelinedTile::Auto, 1, PipelinedMath::Fma, "stem");
  }
}
#endif

// Forward through the hand-written kernel, gradients through cuDNN (ops/conv.cpp): a training
// step with set_conv_algo(ImplicitGemm) gets the CPU's gradients, to first and second order.
TEST(ImplicitGemmConvAutograd, GradientsAndDoubleBackwardMatchTheCpu) {
  ATEBM_SKIP_WITHOUT_GPU();
  const ConvCase c = conv_cases().at(1);  // partial tiles, bias
  const Inputs in = make_inputs(c, DType::Float64, 7);
  auto run = [&](Device d) {
    Tensor x = on(in.x, d), w = on(in.w, d), b = on(in.b, d);
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    b.set_requires_grad(true);
    const Tensor y = conv2d(x, w, b, c.p);
    const Tensor loss = sum(mul(y, y));
    const Tensors g = grad({loss}, {x, w, b}, {}, {.create_graph = true});
    const Tensors gg = grad({sum(mul(g[0], g[0]))}, {x, w, b}, {}, {.allow_unused = true});
    Tensors all = {y, g[0], g[1], g[2]};
    for (const Tensor& t : gg) all.push_back(t);
    return all;
  };
  const Tensors want = run(Device::cpu());
  Tensors got;
  {
    const MathModeScope mode(false, ConvAlgo::ImplicitGemm);
    got = run(Device::cuda());
  }
  ASSERT_EQ(got.size(), want.size());
  const char* names[] = {"y", "dx", "dw", "db", "d2x", "d2w", "d2b"};
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(names[i]);
    ASSERT_EQ(got[i].defined(), want[i].defined());
    if (!want[i].defined()) continue;
    const std::vector<double> a = got[i].to_vector<double>(), e = want[i].to_vector<double>();
    double scale = 1;
    for (double v : e) scale = std::max(scale, std::abs(v));
    for (size_t j = 0; j < a.size(); ++j) ASSERT_NEAR(a[j], e[j], 1e-10 * scale) << "element " << j;
  }
}

}  // namespace
}  // namespace atebm
