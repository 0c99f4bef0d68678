// The conv trio on the GPU in TFLOP/s, three ways, on the conv layers of the paper's CIFAR
// ResNet-50 (nn/models/resnet.h defaults: bottleneck [3, 4, 6, 3], widths 64..512, 32×32 input).
//
//   build/bench/atebm_bench_cuda --benchmark_filter=conv2d --benchmark_min_time=0.1
//   (add e.g. --benchmark_filter='conv2d_forward/.*/n128/' to narrow it; 1326 benchmarks in all)
//
// Ways:
//   engine   the differentiable op of ops/conv.h (conv2d / conv2d_grad_input /
//            conv2d_grad_weight, no bias, no autograd recording): argument checks, output
//            allocation from the caching allocator, the cuDNN plan lookup, the workspace.
//   cudnn    cuDNN called directly with the algorithm and math type the engine chose
//            (cuda::cudnn_conv_choice) on preallocated buffers: the ceiling of the engine way,
//            the difference is the engine's overhead.
//   engine_measured  the engine with CudnnAlgoSearch::Measured (ops/math_mode.h): cuDNN's
//            candidates timed once per problem (cudnnFind*AlgorithmEx) instead of its heuristic
//            ranking; the label gives the algorithm it measured fastest.
//   igemm    (forward only) the hand-written teaching implicit-GEMM kernel
//            (ops/cuda/conv_implicit_gemm.cu) on the same buffers: TF32 WMMA when tf32, else
//            FP32 FMA.
//   igemm_pipe  (forward only) the pipelined implicit GEMM (ops/cuda/conv_implicit_gemm_pipelined.cu:
//            cp.async stages, larger warp tiles, split-K) with the tile the engine picks: in fp32
//            the channels-last kernel in 3xTF32 where C % 4 == 0, the teaching kernel's FMA tiles
//            on the stem; the label gives the tile, split count and math (tf32, 3xtf32, fma). Workspace for a split comes from the caching allocator inside
//            the timed call, as in the engine.
//   igemm_pipe64, igemm_pipe128, igemm_pipe128w8  (forward, tf32 only) the same with the
//            128 × 64, the 128 × 128 (4 warps) or the 128 × 128 (8 warps) tile forced, to
//            measure which tile suits which layer.
//   igemm_nhwc64, igemm_nhwc128  (forward; fp32 rows: 3xTF32) the channels-last kernel
//            (ops/cuda/conv_implicit_gemm_nhwc.cu; the copies of x and w to NHWC inside the timed
//            call) with its 128 × 64 or 128 × 128 tile forced; Auto's choice where C % 4 == 0.
//            The stem (C = 3) cannot run it: no rows for it.
// Each at batch 32 and 128, float32, with allow_tf32() on ("tf32") and off ("fp32").
// FLOPs counted = 2·N·K·C·kh·kw·Ho·Wo for each pass (the GEMM work). Three times per call
// (bench/cuda/gpu_timer.h), because these calls are short (5-100 us on an H200) next to the host's
// cost of issuing one (cuDNN's own launch takes tens of microseconds):
//   time      the GPU time: kReps calls captured into a CUDA graph, replays timed back to back
//             (graphed_iterations); TFLOP/s is computed from it. What a graphed step pays, and
//             the kernels' own speed (engine and cudnn ways run the same kernels).
//   eager_us  kReps calls issued eagerly back to back behind kReps others, per call: the larger
//             of the GPU time and the host's issue time; what an eager step pays.
//   host_us   the host's time to issue one call; engine minus cudnn is the engine's overhead.
// (A first version timed one call on an idle GPU: the host's launch latency was inside every
// number; bench/RESULTS.md's first H200 section has those.)
// The label says which cuDNN algorithm and math type (1 TENSOR_OP, 0 DEFAULT = TF32 allowed,
// 3 FMA) the plan uses.
//
// The distinct conv shapes (C_in → C_out, kernel, stride, input size), derived from the
// config below at run time: stem 3×3 3→64 @32; layer1 1×1 64→64, 3×3 64→64, 1×1 64→256
// (conv3 and shortcut), 1×1 256→64 @32; layer2 1×1 256→128 @32, 3×3/2 128→128 @32,
// 1×1 128→512 @16, 1×1/2 256→512 @32 (shortcut), 1×1 512→128 @16, 3×3 128→128 @16; layer3 and
// layer4 likewise at 16/8 and 8/4 with widths 256 and 512: 23 shapes.
//
// The one main of atebm_bench_cuda (the other files of bench/cuda register with BENCHMARK()).
// Without the CUDA backend, or without a visible GPU, one benchmark reports why.
#include <benchmark/benchmark.h>

#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"

#ifdef ATEBM_WITH_CUDA
#include <cudnn.h>

#include "bench/cuda/gpu_timer.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/stream.h"
#include "engine/factories.h"
#include "nn/models/resnet.h"
#include "ops/conv.h"
#include "ops/cuda/conv_cudnn_cuda.h"
#include "ops/cuda/conv_implicit_gemm_cuda.h"
#include "ops/math_mode.h"
#endif

namespace {

#ifdef ATEBM_WITH_CUDA

using atebm::Tensor;
using atebm::cuda::ConvPass;

#define BENCH_CUDNN_CHECK(call)                                                                                  \
  do {                                                                                                           \
    const cudnnStatus_t st_ = (call);                                                                            \
    if (st_ != CUDNN_STATUS_SUCCESS)                                                                             \
      throw atebm::Error(fmt::format("cuDNN error: {} failed with {} at {}:{}", #call, cudnnGetErrorString(st_), \
                                     __FILE__, __LINE__));                                                       \
  } while (0)

struct ConvShape {
  int64_t c_in, c_out, k, stride, hw;  // pad = k / 2 (3×3: 1, 1×1: 0)
  bool operator==(const ConvShape&) const = default;
  std::string name() const {
    return std::to_string(k) + "x" + std::to_string(k) + "_s" + std::to_string(stride) + "_" + std::to_string(c_in) +
           "to" + std::to_string(c_out) + "_" + std::to_string(hw) + "x" + std::to_string(hw);
  }
};

// Walks the default ResNetConfig like nn::ResNet's constructor (bottleneck blocks: 1×1, 3×3
// with the block's stride, 1×1 to 4× width, 1×1 strided shortcut when the shape changes) and
// keeps each distinct conv once, in network order.
std::vector<ConvShape> resnet_conv_shapes() {
  const atebm::nn::ResNetConfig cfg;
  std::vector<ConvShape> shapes;
  auto add = [&](ConvShape s) {
    for (const ConvShape& t : shapes)
      if (t == s) return;
    shapes.push_back(s);
  };
  int64_t hw = 32, in = cfg.widths[0];
  add({cfg.in_channels, cfg.widths[0], 3, 1, hw});
  for (size_t s = 0; s < cfg.layers.size(); ++s)
    for (int64_t b = 0; b < cfg.layers[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1, planes = cfg.widths[s];
      const int64_t out = planes * atebm::nn::ResidualBlock::expansion(true), hw_out = (hw - 1) / stride + 1;
      add({in, planes, 1, 1, hw});
      add({planes, planes, 3, stride, hw});
      add({planes, out, 1, 1, hw_out});
      if (stride != 1 || in != out) add({in, out, 1, stride, hw});
      in = out;
      hw = hw_out;
    }
  return shapes;
}

enum class Way {
  Engine,
  EngineMeasured,
  Cudnn,
  ImplicitGemm,
  ImplicitGemmPipelined,
  Pipelined64,
  Pipelined128,
  Pipelined128W8,
  PipelinedNhwc64,
  PipelinedNhwc128
};

// Calls per graph (and per eager round) and eager rounds. The emulated GPU (cuda_emu) runs a conv
// call in a quarter of a second and its times mean nothing: there the rows only check that each
// way runs, with 2 calls and 1 round.
#ifdef ATEBM_CUDA_EMULATION
constexpr int kReps = 2, kEagerRounds = 1;
#else
constexpr int kReps = 16, kEagerRounds = 5;
#endif


// The pipelined kernel's tile for a way (Auto: the engine's choice).
atebm::cuda::PipelinedTile tile_of(Way way) {
  switch (way) {
    case Way::Pipelined64:
      return atebm::cuda::PipelinedTile::N64;
    case Way::Pipelined128:
      return atebm::cuda::PipelinedTile::N128;
    case Way::Pipelined128W8:
      return atebm::cuda::PipelinedTile::N128W8;
    case Way::PipelinedNhwc64:
      return atebm::cuda::PipelinedTile::Nhwc64;
    case Way::PipelinedNhwc128:
      return atebm::cuda::PipelinedTile::Nhwc128;
    default:
      return atebm::cuda::PipelinedTile::Auto;
  }
}

// The benchmark's own cuDNN handle (the engine's is private to ops/cuda/conv_cudnn.cu).
cudnnHandle_t bench_handle() {
  static cudnnHandle_t h = [] {
    cudnnHandle_t handle = nullptr;
    BENCH_CUDNN_CHECK(cudnnCreate(&handle));
    return handle;
  }();
  return h;
}

// Descriptors of one problem for the direct cuDNN calls, with the engine's algorithm choice.
class DirectConv {
 public:
  DirectConv(const atebm::cpu::Conv2dGeometry& g, ConvPass pass)
      : choice_(atebm::cuda::cudnn_conv_choice(pass, g, atebm::DType::Float32)) {
    auto i = [](int64_t v) { return static_cast<int>(v); };
    BENCH_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_));
    BENCH_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y_));
    BENCH_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_));
    BENCH_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_));
    BENCH_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(g.n), i(g.c_in), i(g.h), i(g.w)));
    BENCH_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(g.n), i(g.c_out),
                                                 i(g.h_out()), i(g.w_out())));
    BENCH_CUDNN_CHECK(
        cudnnSetFilter4dDescriptor(w_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, i(g.c_out), i(g.c_in), i(g.kh), i(g.kw)));
    BENCH_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_, i(g.pad_h), i(g.pad_w), i(g.stride_h), i(g.stride_w),
                                                      i(g.dil_h), i(g.dil_w), CUDNN_CROSS_CORRELATION,
                                                      CUDNN_DATA_FLOAT));
    BENCH_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_, static_cast<cudnnMathType_t>(choice_.math_type)));
    if (choice_.workspace_bytes > 0)
      workspace_ = atebm::empty({(choice_.workspace_bytes + 7) / 8},
                                {.dtype = atebm::DType::Int64, .device = atebm::Device::cuda()});
  }
  ~DirectConv() {
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(w_);
    cudnnDestroyTensorDescriptor(y_);
    cudnnDestroyTensorDescriptor(x_);
  }
  DirectConv(const DirectConv&) = delete;
  DirectConv& operator=(const DirectConv&) = delete;

  const atebm::cuda::CudnnConvChoice& choice() const { return choice_; }

  // forward: (x, w) → y; grad-input: (g, w) → dx; grad-weight: (x, g) → dw.
  void run(ConvPass pass, const float* in1, const float* in2, float* out) const {
    const cudnnHandle_t h = bench_handle();
    BENCH_CUDNN_CHECK(cudnnSetStream(h, atebm::cuda::current_stream()));
    const float one = 1.0f, zero = 0.0f;
    void* ws = workspace_.defined() ? workspace_.raw_data() : nullptr;
    const size_t bytes = static_cast<size_t>(choice_.workspace_bytes);
    switch (pass) {
      case ConvPass::Forward:
        BENCH_CUDNN_CHECK(cudnnConvolutionForward(h, &one, x_, in1, w_, in2, conv_,
                                                  static_cast<cudnnConvolutionFwdAlgo_t>(choice_.algo), ws, bytes,
                                                  &zero, y_, out));
        break;
      case ConvPass::GradInput:
        BENCH_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, w_, in2, y_, in1, conv_,
                                                       static_cast<cudnnConvolutionBwdDataAlgo_t>(choice_.algo), ws,
                                                       bytes, &zero, x_, out));
        break;
      case ConvPass::GradWeight:
        BENCH_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, x_, in1, y_, in2, conv_,
                                                         static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice_.algo), ws,
                                                         bytes, &zero, w_, out));
        break;
    }
  }

 private:
  atebm::cuda::CudnnConvChoice choice_;
  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  Tensor workspace_;
};

void BM_conv_cuda(benchmark::State& state, ConvShape s, int64_t batch, bool tf32, ConvPass pass, Way way) {
  atebm::bench::report_errors(state, [&] {
    const atebm::MathModeScope mode(tf32, atebm::ConvAlgo::Cudnn,  // restored when the benchmark ends
                                    way == Way::EngineMeasured ? atebm::CudnnAlgoSearch::Measured
                                                               : atebm::CudnnAlgoSearch::Heuristic);
    const int64_t pad = s.k / 2;
    const atebm::Conv2dParams p{.stride = {s.stride, s.stride}, .padding = {pad, pad}};
    const atebm::cpu::Conv2dGeometry geo{.n = batch,
                                         .c_in = s.c_in,
                                         .h = s.hw,
                                         .w = s.hw,
                                         .c_out = s.c_out,
                                         .kh = s.k,
                                         .kw = s.k,
                                         .stride_h = s.stride,
                                         .stride_w = s.stride,
                                         .pad_h = pad,
                                         .pad_w = pad};
    const atebm::TensorOptions gpu{.dtype = atebm::DType::Float32, .device = atebm::Device::cuda()};
    const atebm::Shape xs = {batch, s.c_in, s.hw, s.hw}, ws = {s.c_out, s.c_in, s.k, s.k};
    const atebm::Shape ys = {batch, s.c_out, geo.h_out(), geo.w_out()};
    const Tensor x = atebm::randn(xs, gpu), w = atebm::randn(ws, gpu), g = atebm::randn(ys, gpu);
    const Tensor out = atebm::empty(pass == ConvPass::Forward ? ys : pass == ConvPass::GradInput ? xs : ws, gpu);

    std::unique_ptr<DirectConv> direct;
    if (way == Way::Cudnn) direct = std::make_unique<DirectConv>(geo, pass);
    auto call = [&]() -> Tensor {
      switch (way) {
        case Way::Engine:
        case Way::EngineMeasured:
          switch (pass) {
            case ConvPass::Forward:
              return atebm::conv2d(x, w, Tensor(), p);
            case ConvPass::GradInput:
              return atebm::conv2d_grad_input(g, w, xs, p);
            case ConvPass::GradWeight:
              return atebm::conv2d_grad_weight(x, g, ws, p);
          }
          break;
        case Way::Cudnn:
          switch (pass) {
            case ConvPass::Forward:
              direct->run(pass, x.data<float>(), w.data<float>(), out.data<float>());
              break;
            case ConvPass::GradInput:
              direct->run(pass, g.data<float>(), w.data<float>(), out.data<float>());
              break;
            case ConvPass::GradWeight:
              direct->run(pass, x.data<float>(), g.data<float>(), out.data<float>());
              break;
          }
          break;
        case Way::ImplicitGemm:
          atebm::cuda::conv2d_forward_implicit_gemm<float>(geo, x.data<float>(), w.data<float>(), nullptr,
                                                           out.data<float>());
          break;
        case Way::ImplicitGemmPipelined:
        case Way::Pipelined64:
        case Way::Pipelined128:
        case Way::Pipelined128W8:
        case Way::PipelinedNhwc64:
        case Way::PipelinedNhwc128:
          atebm::cuda::conv2d_forward_implicit_gemm_pipelined<float>(geo, x.data<float>(), w.data<float>(), nullptr,
                                                                     out.data<float>(), tile_of(way));
          break;
      }
      return out;
    };

    call();  // warm-up: plans, handles, workspaces, cached output blocks
    atebm::cuda::synchronize();
    if (tile_of(way) != atebm::cuda::PipelinedTile::Auto || way == Way::ImplicitGemmPipelined) {
      const atebm::cuda::PipelinedPlan plan = atebm::cuda::implicit_gemm_pipelined_plan(geo, tile_of(way));
      state.SetLabel(std::string("tile ") + atebm::cuda::pipelined_tile_name(plan.tile) + " splits " +
                     std::to_string(plan.splits) + " math " + atebm::cuda::pipelined_math_name(plan.math));
    } else if (way == Way::Engine || way == Way::EngineMeasured || way == Way::Cudnn) {
      const atebm::cuda::CudnnConvChoice c = atebm::cuda::cudnn_conv_choice(pass, geo, atebm::DType::Float32);
      state.SetLabel("cudnn algo " + std::to_string(c.algo) + " math " + std::to_string(c.math_type) + " ws " +
                     std::to_string(c.workspace_bytes >> 10) + " KiB");
    }
    const atebm::bench::EagerRates eager = atebm::bench::eager_rates(call, kReps, kEagerRounds);
    state.counters["eager_us"] = eager.gpu_us;
    state.counters["host_us"] = eager.host_us;
    const double seconds = atebm::bench::graphed_iterations(state, call, kReps);
    const double flops = 2.0 * batch * s.c_out * s.c_in * s.k * s.k * geo.h_out() * geo.w_out();
    state.counters["TFLOP/s"] = flops * static_cast<double>(state.iterations()) / seconds / 1e12;
  });
}

void register_conv_benchmarks() {
  const char* pass_names[] = {"conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight"};
  const ConvPass passes[] = {ConvPass::Forward, ConvPass::GradInput, ConvPass::GradWeight};
  const std::vector<ConvShape> shapes = resnet_conv_shapes();
  for (int pi = 0; pi < 3; ++pi)
    for (const auto& [way, way_name] :
         {std::pair{Way::Engine, "engine"}, {Way::EngineMeasured, "engine_measured"}, {Way::Cudnn, "cudnn"},
          {Way::ImplicitGemm, "igemm"},
          {Way::ImplicitGemmPipelined, "igemm_pipe"}, {Way::Pipelined64, "igemm_pipe64"},
          {Way::Pipelined128, "igemm_pipe128"}, {Way::Pipelined128W8, "igemm_pipe128w8"},
          {Way::PipelinedNhwc64, "igemm_nhwc64"}, {Way::PipelinedNhwc128, "igemm_nhwc128"}}) {
      const bool hand_written = way != Way::Engine && way != Way::EngineMeasured && way != Way::Cudnn;
      if (hand_written && passes[pi] != ConvPass::Forward) continue;
      for (bool tf32 : {true, false}) {
        const bool channels_last = way == Way::PipelinedNhwc64 || way == Way::PipelinedNhwc128;
        // Forced NCHW tiles with TF32 off = the teaching FMA rows; channels last runs 3xTF32.
        if (tile_of(way) != atebm::cuda::PipelinedTile::Auto && !channels_last && !tf32) continue;
        for (int64_t batch : {32, 128})
          for (const ConvShape& s : shapes) {
            if (channels_last && s.c_in % 4 != 0) continue;  // it copies 4 channels at a time
            const std::string name = std::string(pass_names[pi]) + "/" + way_name + "/" + (tf32 ? "tf32" : "fp32") +
                                     "/n" + std::to_string(batch) + "/" + s.name();
            benchmark::RegisterBenchmark(name.c_str(), BM_conv_cuda, s, batch, tf32, passes[pi], way)
                ->UseManualTime()
                ->Unit(benchmark::kMicrosecond);
          }
      }
    }
}

#endif  // ATEBM_WITH_CUDA

void BM_conv_cuda_unavailable(benchmark::State& state, std::string why) { state.SkipWithError(why.c_str()); }

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
#ifdef ATEBM_WITH_CUDA
  if (atebm::cuda_device_count() > 0) {
    register_conv_benchmarks();
    benchmark::AddCustomContext("cudnn_version", std::to_string(cudnnGetVersion()));
  } else {
    benchmark::RegisterBenchmark("conv_cuda/unavailable", BM_conv_cuda_unavailable,
                                 std::string("no CUDA device visible: the conv benchmarks need a GPU"));
  }
#else
  benchmark::RegisterBenchmark("conv_cuda/unavailable", BM_conv_cuda_unavailable,
                               std::string("built without the CUDA backend (configure with -DATEBM_CUDA=ON on a "
                                           "machine with nvcc, cuDNN and a GPU)"));
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
