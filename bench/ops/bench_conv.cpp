// The conv trio in GFLOP/s next to the ceiling measured in the same run: OpenBLAS sgemm
// 1024×1024×1024 through cpu::gemm (so with the same thread ownership as the convs).
//
//   OMP_NUM_THREADS=2 build/bench/atebm_bench_ops --benchmark_min_time=0.3
//
// FLOPs counted = 2·N·C_out·H_out·W_out·C_in·kh·kw for each of forward, grad-input and
// grad-weight (the GEMM work of each; im2col / col2im / bias are overhead against it).
// Shapes: batch 32, float32: the CIFAR ResNet's 3×3 layers, its stride-2 transition and 1×1
// bottleneck convs, and the small CPU model (1 input channel, 28×28, widths 32..256).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/parallel.h"
#include "ops/cpu/conv_cpu.h"
#include "ops/cpu/gemm_cpu.h"
#include "ops/ops.h"

namespace {

using atebm::Tensor;

// The ceiling, once with OpenBLAS's own threads and once split by cpu::gemm over OpenMP.
void BM_sgemm_1024(benchmark::State& state, atebm::cpu::GemmThreading policy) {
  constexpr int64_t n = 1024;
  const atebm::cpu::GemmThreading saved = atebm::cpu::gemm_threading();
  atebm::cpu::set_gemm_threading(policy);
  Tensor a = atebm::randn({n, n}), b = atebm::randn({n, n}), c = atebm::zeros({n, n});
  for (auto _ : state) {
    atebm::cpu::gemm(false, false, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f, c.data<float>(), n);
    benchmark::DoNotOptimize(c.raw_data());
  }
  atebm::cpu::set_gemm_threading(saved);
  state.counters["FLOPS"] =
      benchmark::Counter(2.0 * n * n * n * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

struct ConvShape {
  const char* name;
  int64_t c_in, c_out, hw, k, stride, pad;
};

// Batch 32 throughout.
constexpr int64_t kBatch = 32;
const std::vector<ConvShape> kShapes = {
    {"resnet_3x3_64ch_32x32", 64, 64, 32, 3, 1, 1},        {"resnet_3x3_128ch_16x16", 128, 128, 16, 3, 1, 1},
    {"resnet_3x3_256ch_8x8", 256, 256, 8, 3, 1, 1},        {"resnet_3x3_512ch_4x4", 512, 512, 4, 3, 1, 1},
    {"resnet_3x3_s2_64to128_32x32", 64, 128, 32, 3, 2, 1}, {"resnet_1x1_256to64_32x32", 256, 64, 32, 1, 1, 0},
    {"resnet_1x1_64to256_32x32", 64, 256, 32, 1, 1, 0},    {"small_3x3_1to32_28x28", 1, 32, 28, 3, 1, 1},
    {"small_3x3_32to32_28x28", 32, 32, 28, 3, 1, 1},       {"small_3x3_s2_32to64_28x28", 32, 64, 28, 3, 2, 1},
    {"small_3x3_64to64_14x14", 64, 64, 14, 3, 1, 1},       {"small_3x3_128ch_7x7", 128, 128, 7, 3, 1, 1},
    {"small_3x3_256ch_4x4", 256, 256, 4, 3, 1, 1},
};

enum class Which { Forward, GradInput, GradWeight };

void BM_conv(benchmark::State& state, ConvShape s, Which which) {
  const atebm::Conv2dParams p{.stride = {s.stride, s.stride}, .padding = {s.pad, s.pad}};
  const int64_t ho = atebm::conv2d_output_size(s.hw, s.k, s.stride, s.pad, 1);
  const atebm::Shape xs = {kBatch, s.c_in, s.hw, s.hw}, ws = {s.c_out, s.c_in, s.k, s.k};
  Tensor x = atebm::randn(xs), w = atebm::randn(ws), b = atebm::randn({s.c_out});
  Tensor g = atebm::randn({kBatch, s.c_out, ho, ho});
  for (auto _ : state) {
    Tensor out;
    switch (which) {
      case Which::Forward:
        out = atebm::conv2d(x, w, b, p);
        break;
      case Which::GradInput:
        out = atebm::conv2d_grad_input(g, w, xs, p);
        break;
      case Which::GradWeight:
        out = atebm::conv2d_grad_weight(x, g, ws, p);
        break;
    }
    benchmark::DoNotOptimize(out.raw_data());
  }
  const double flops = 2.0 * kBatch * s.c_out * ho * ho * s.c_in * s.k * s.k;
  state.counters["FLOPS"] =
      benchmark::Counter(flops * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

// The one main of atebm_bench_ops. For tuning experiments: `--gemm=openblas` runs the convs
// with OpenBLAS's threads instead of the default OpenMP split (the two thread-ownership
// policies of ops/cpu/gemm_cpu.h); --tile_bytes=, --direct_min_cols=, --direct_min_macs=,
// --samples_per_thread=, --transposed_min_channels= override cpu::ConvTuning.
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  using atebm::cpu::GemmThreading;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    atebm::cpu::ConvTuning t = atebm::cpu::conv_tuning();
    if (a == "--gemm=openblas") atebm::cpu::set_gemm_threading(GemmThreading::OpenBLAS);
    if (a.rfind("--tile_bytes=", 0) == 0) t.tile_bytes = std::stoll(a.substr(13));
    if (a.rfind("--direct_min_cols=", 0) == 0) t.direct_min_cols = std::stoll(a.substr(18));
    if (a.rfind("--direct_min_macs=", 0) == 0) t.direct_min_macs = std::stoll(a.substr(18));
    if (a.rfind("--samples_per_thread=", 0) == 0) t.samples_per_thread = std::stoll(a.substr(21));
    if (a.rfind("--transposed_min_channels=", 0) == 0) t.transposed_min_channels = std::stoll(a.substr(26));
    atebm::cpu::set_conv_tuning(t);
  }
  const bool openblas = atebm::cpu::gemm_threading() == GemmThreading::OpenBLAS;
  benchmark::AddCustomContext("threads", std::to_string(atebm::num_threads()));
  benchmark::AddCustomContext("gemm_threading", openblas ? "openblas" : "openmp");
  // Real time: the work runs on OpenMP and OpenBLAS threads, not only the main thread.
  benchmark::RegisterBenchmark("sgemm_1024_ceiling/openblas_threads", BM_sgemm_1024, GemmThreading::OpenBLAS)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("sgemm_1024_ceiling/openmp_split", BM_sgemm_1024, GemmThreading::OpenMP)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  for (const auto& [which, tag] : {std::pair{Which::Forward, "conv2d_forward"},
                                   {Which::GradInput, "conv2d_grad_input"},
                                   {Which::GradWeight, "conv2d_grad_weight"}})
    for (const ConvShape& s : kShapes)
      benchmark::RegisterBenchmark((std::string(tag) + "/" + s.name).c_str(), BM_conv, s, which)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
