// How the engine picks cuDNN's algorithm (ops/math_mode.h cudnn_algo_search, ops/cuda/conv_cudnn.cu):
//   - Heuristic takes cuDNN's heuristic ranking, Measured the ranking cudnnFind*AlgorithmEx
//     measures; either way only deterministic algorithms within the precision asked for. On the
//     emulated GPU the two rankings differ on purpose (cuda_emu/include/cudnn.h: *_v7 lists ids
//     1, 0, 2; Find*Ex's modeled times rank 0, 2, 1; id 0 of the backward passes uses atomics),
//     so the choice of each mode is known exactly there: float64 forward 1 vs 0, backward 1 vs 2
//     (0 would be faster but is not deterministic). On a real GPU the ids depend on cuDNN and the
//     card; there the tests check the determinism rule and the values.
//   - Both modes compute the same convolution (float64: to rounding; bitwise on the emulator,
//     where every algorithm runs the same loops).
//   - The measured search draws its trial operands from a private generator: the default
//     generator's stream is the same whether or not a search ran.
//   - A problem first met inside a CUDA-graph capture is planned by heuristics (Find would end
//     the capture), and keeps that plan afterwards.
// Every problem here has its own shape: plans are cached per process and per mode.
#include <gtest/gtest.h>

#include <cmath>

#include "common/expect.h"
#include "common/gpu_test.h"
#include "engine/device.h"
#include "engine/factories.h"
#include "engine/generator.h"
#include "ops/conv.h"
#include "ops/math_mode.h"
#include "ops/ops.h"

#ifdef ATEBM_WITH_CUDA
#include "engine/cuda/cuda_graph.h"
#include "ops/cuda/conv_cudnn_cuda.h"
#endif

namespace atebm {
namespace {

class CudnnAlgoSearchTest : public ::testing::Test {
 protected:
  void SetUp() override { ATEBM_SKIP_WITHOUT_GPU(); }
};

#ifdef ATEBM_WITH_CUDA

using cuda::ConvPass;

// x [n, c, h, w] and w [k, c, 3, 3], padding 1: the geometry the ops see.
cpu::Conv2dGeometry geometry(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k) {
  return {.n = n, .c_in = c, .h = h, .w = w, .c_out = k, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1};
}

TensorOptions f64_cuda() { return {.dtype = DType::Float64, .device = Device::cuda()}; }

// Forward, grad-input and grad-weight of one problem under the current mode.
struct Trio {
  Tensor y, dx, dw;
};
Trio run_trio(const Tensor& x, const Tensor& w, const Tensor& g) {
  const Conv2dParams p{.padding = {1, 1}};
  return {conv2d(x, w, Tensor(), p), conv2d_grad_input(g, w, x.shape(), p), conv2d_grad_weight(x, g, w.shape(), p)};
}

using test::expect_close;
using test::max_abs_diff;

// Backward-data algorithm 0 and backward-filter algorithms 0 and 3 use atomics (cuDNN's own
// determinism flags, which the emulator copies).
void expect_deterministic_choice(ConvPass pass, int algo) {
  if (pass == ConvPass::GradInput) {
    EXPECT_NE(algo, 0) << "backward-data algorithm 0 is not deterministic";
  }
  if (pass == ConvPass::GradWeight) {
    EXPECT_NE(algo, 0) << "backward-filter algorithm 0 is not deterministic";
    EXPECT_NE(algo, 3) << "backward-filter algorithm 3 is not deterministic";
  }
}

TEST_F(CudnnAlgoSearchTest, EachModeTakesItsRankingsFirstDeterministicAlgorithm) {
  const cpu::Conv2dGeometry geo = geometry(2, 3, 7, 6, 5);
  Generator gen(11);
  const Tensor x = rand({2, 3, 7, 6}, f64_cuda(), &gen), w = rand({5, 3, 3, 3}, f64_cuda(), &gen);
  const Tensor g = rand({2, 5, 7, 6}, f64_cuda(), &gen);
  const MathModeScope heuristic(true, ConvAlgo::Cudnn, CudnnAlgoSearch::Heuristic);
  const Trio by_heuristic = run_trio(x, w, g);
  int heuristic_algo[3] = {};
  for (ConvPass pass : {ConvPass::Forward, ConvPass::GradInput, ConvPass::GradWeight}) {
    heuristic_algo[static_cast<int>(pass)] = cuda::cudnn_conv_choice(pass, geo, DType::Float64).algo;
    expect_deterministic_choice(pass, heuristic_algo[static_cast<int>(pass)]);
  }

  set_cudnn_algo_search(CudnnAlgoSearch::Measured);  // the scope restores Heuristic
  const Trio by_measure = run_trio(x, w, g);
  int measured_algo[3] = {};
  for (ConvPass pass : {ConvPass::Forward, ConvPass::GradInput, ConvPass::GradWeight}) {
    measured_algo[static_cast<int>(pass)] = cuda::cudnn_conv_choice(pass, geo, DType::Float64).algo;
    expect_deterministic_choice(pass, measured_algo[static_cast<int>(pass)]);
  }
  if (test::kGpuEmulated) {
    EXPECT_EQ(heuristic_algo[0], 1);
    EXPECT_EQ(heuristic_algo[1], 1);
    EXPECT_EQ(heuristic_algo[2], 1);
    EXPECT_EQ(measured_algo[0], 0) << "modeled fastest, and deterministic in the forward pass";
    EXPECT_EQ(measured_algo[1], 2) << "0 is modeled faster but uses atomics";
    EXPECT_EQ(measured_algo[2], 2) << "0 is modeled faster but uses atomics";
  }
  // The same convolution either way (float64: different algorithms differ in rounding only).
  expect_close(by_measure.y, by_heuristic.y, 1e-12, "forward");
  expect_close(by_measure.dx, by_heuristic.dx, 1e-12, "grad-input");
  expect_close(by_measure.dw, by_heuristic.dw, 1e-12, "grad-weight");
  // And the same again on a second call: the measured plan is cached, not searched anew.
  const Trio again = run_trio(x, w, g);
  EXPECT_EQ(max_abs_diff(again.y, by_measure.y), 0.0);
  EXPECT_EQ(cuda::cudnn_conv_choice(ConvPass::Forward, geo, DType::Float64).algo, measured_algo[0]);
}

TEST_F(CudnnAlgoSearchTest, MeasuredSearchLeavesTheDefaultGeneratorAlone) {
  const MathModeScope mode(true, ConvAlgo::Cudnn, CudnnAlgoSearch::Measured);
  const Tensor x = ones({1, 2, 5, 9}, f64_cuda()), w = ones({3, 2, 3, 3}, f64_cuda());
  manual_seed(123);
  const Tensor expected = rand({8});
  manual_seed(123);
  (void)conv2d(x, w, Tensor(), {.padding = {1, 1}});  // a new problem: searched now
  const Tensor got = rand({8});
  EXPECT_EQ(max_abs_diff(got, expected), 0.0);
}

TEST_F(CudnnAlgoSearchTest, AProblemFirstMetDuringACaptureIsPlannedByHeuristics) {
  const MathModeScope mode(true, ConvAlgo::Cudnn, CudnnAlgoSearch::Measured);
  const cpu::Conv2dGeometry geo = geometry(1, 4, 5, 7, 2);
  Generator gen(12);
  const Tensor x = rand({1, 4, 5, 7}, f64_cuda(), &gen), w = rand({2, 4, 3, 3}, f64_cuda(), &gen);
  (void)conv2d(x, w, Tensor(), {.padding = {1, 1}});  // eager: geo's forward plan is measured
  // The capture below meets a problem that has no plan yet.
  const cpu::Conv2dGeometry fresh = geometry(1, 4, 5, 8, 2);
  const Tensor x2 = rand({1, 4, 5, 8}, f64_cuda(), &gen);
  cuda::CudaGraph graph;
  graph.capture_begin();
  const Tensor y = conv2d(x2, w, Tensor(), {.padding = {1, 1}});
  ASSERT_NO_THROW(graph.capture_end()) << "a Find call inside the capture would have invalidated it";
  graph.replay();
  const Tensor replayed = clone(y);
  set_cudnn_algo_search(CudnnAlgoSearch::Heuristic);
  const int heuristic = cuda::cudnn_conv_choice(ConvPass::Forward, fresh, DType::Float64).algo;
  const Tensor reference = conv2d(x2, w, Tensor(), {.padding = {1, 1}});
  set_cudnn_algo_search(CudnnAlgoSearch::Measured);
  EXPECT_EQ(cuda::cudnn_conv_choice(ConvPass::Forward, fresh, DType::Float64).algo, heuristic)
      << "the capture planned the measured key by heuristics and kept it";
  expect_close(replayed, reference, 1e-12, "replayed forward");
  if (test::kGpuEmulated) {
    EXPECT_EQ(heuristic, 1);
    EXPECT_EQ(cuda::cudnn_conv_choice(ConvPass::Forward, geo, DType::Float64).algo, 0) << "the eager one measured";
  }
}

#else

TEST_F(CudnnAlgoSearchTest, SkipsWithoutTheCudaBackend) {}

#endif

}  // namespace
}  // namespace atebm
