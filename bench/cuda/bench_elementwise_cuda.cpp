// CUDA throughput of the engine's memory-bound kernels, and one training iteration of the
// paper's CIFAR recipe on CUDA, eager and with its PGD loop replayed from a CUDA graph.
//
// Memory-bound kernels at 16M and 64M float32 elements (64 and 256 MB per operand), in GB/s of
// the traffic the op must move (add/mul: 2 reads + 1 write, relu/exp: 1 + 1, sums: 1 read),
// each beside a device-to-device cudaMemcpyAsync of the same element count measured in the same
// run (read + write): "pct_of_copy" is the op's GB/s as a percentage of that copy's, the
// practical ceiling of the device. Times are GPU times between two events on the engine's
// stream, so host launch overhead is outside them (at these sizes a kernel runs 30–200 µs).
//   per-dim sums: [n/1024, 1024] over dim 1 (rows, contiguous) and [1024, n/1024] over dim 0
//   (columns, strided reads).
//
// Training iteration (ms, wall clock, every iteration waits for the GPU): CIFAR ResNet-50
// (nn/models/resnet.h defaults: bottleneck [3, 4, 6, 3]), batch 32 real + 32 p0 images
// 3×32×32, K = 5 PGD steps of λ = 0.1 on the p0 batch, BCE + 0.01·R1 (double backward), Adam
// lr 5e-4 betas (0, 0.99), BatchNorm frozen. "pgd_ms" is the GPU time of the PGD part alone.
//   eager: at_ebm::pgd, then the loss step.
//   graph: the K-step PGD loop (forward, input gradient via grad(), pgd_update_) captured once
//          into a CudaGraph (engine/cuda/cuda_graph.h) and replayed every iteration on fixed
//          input tensors; the loss step stays eager. If the capture fails (an op of the loop
//          cannot be captured), the benchmark reports the error instead of a time.
//   graph_full: what the trainer runs on one GPU with train.cuda_graph: the PGD loop through
//          at_ebm::GraphedPgd and the loss + backward (both forwards, R1's double backward)
//          through at_ebm::GraphedLossStep, each replayed from its own graph after two warm-up
//          iterations (eager, then capture); only the Adam step (one launch per parameter) is eager.
// Each with cuDNN's algorithms chosen by heuristics (/search:0, the default) and by measurement
// (/search:1, CudnnAlgoSearch::Measured of ops/math_mode.h; the warm-up iterations pay for the
// search). bench/scripts/torch_at_iteration.py is the same iteration in PyTorch, as a peer.
//
// Without the CUDA backend the binary still builds and every benchmark reports an error; with
// the backend but no visible GPU likewise.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <string>

#include "engine/device.h"

#ifdef ATEBM_WITH_CUDA
#include "at_ebm/method/loss_graph.h"
#include "at_ebm/method/losses.h"
#include "at_ebm/method/pgd.h"
#include "at_ebm/method/pgd_graph.h"
#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "bench/cuda/gpu_timer.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_graph.h"
#include "engine/cuda/stream.h"
#include "engine/factories.h"
#include "nn/layers/layers.h"
#include "nn/models/model_config.h"
#include "nn/models/resnet.h"
#include "nn/optim/adam.h"
#include "ops/math_mode.h"
#include "ops/ops.h"
#include "ops/pgd_update.h"
#endif

using namespace atebm;

namespace {

#ifdef ATEBM_WITH_CUDA

using atebm::bench::GpuTimer;
using atebm::bench::report_errors;
using atebm::bench::timed_iterations;

bool skip_without_gpu(benchmark::State& state) {
  if (cuda_device_count() > 0) return false;
  state.SkipWithError("no CUDA device visible");
  return true;
}

constexpr TensorOptions kGpu{.dtype = DType::Float32, .device = Device{DeviceType::CUDA, 0}};


// GB/s of a device-to-device cudaMemcpyAsync of n float32 (bytes read + written), measured once
// per size per run over 20 copies.
double copy_gbps(int64_t n) {
  static std::map<int64_t, double> measured;
  if (auto it = measured.find(n); it != measured.end()) return it->second;
  const Tensor src = zeros({n}, kGpu), dst = empty({n}, kGpu);
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  auto copy = [&] {
    ATEBM_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes, cudaMemcpyDeviceToDevice,
                                     cuda::current_stream()));
  };
  copy();
  copy();
  GpuTimer timer;
  constexpr int kReps = 20;
  timer.start();
  for (int i = 0; i < kReps; ++i) copy();
  const double gbps = 2.0 * static_cast<double>(bytes) * kReps / timer.stop_seconds() / 1e9;
  measured[n] = gbps;
  return gbps;
}

// Times op() per iteration on the GPU; `bytes` is the traffic of one call.
template <typename Op>
void run_bandwidth(benchmark::State& state, int64_t n, double bytes, Op op) {
  NoGradGuard no_grad;
  const double ceiling = copy_gbps(n);
  benchmark::DoNotOptimize(op());  // warm-up: the output's block is cached from here on
  cuda::synchronize();
  const double seconds = timed_iterations(state, op);
  const double gbps = bytes * static_cast<double>(state.iterations()) / seconds / 1e9;
  state.counters["GB/s"] = gbps;
  state.counters["pct_of_copy"] = 100.0 * gbps / ceiling;
}

constexpr double kF = sizeof(float);

void BM_cuda_copy_d2d(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const int64_t n = state.range(0);
    const Tensor src = zeros({n}, kGpu), dst = empty({n}, kGpu);
    const size_t bytes = static_cast<size_t>(n) * sizeof(float);
    run_bandwidth(state, n, 2.0 * kF * static_cast<double>(n), [&] {
      ATEBM_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes, cudaMemcpyDeviceToDevice,
                                       cuda::current_stream()));
      return dst;
    });
  });
}

void BM_cuda_add(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const int64_t n = state.range(0);
    const Tensor a = rand({n}, kGpu), b = rand({n}, kGpu);
    run_bandwidth(state, n, 3.0 * kF * static_cast<double>(n), [&] { return add(a, b); });
  });
}

void BM_cuda_mul(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const int64_t n = state.range(0);
    const Tensor a = rand({n}, kGpu), b = rand({n}, kGpu);
    run_bandwidth(state, n, 3.0 * kF * static_cast<double>(n), [&] { return mul(a, b); });
  });
}

void BM_cuda_relu(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const int64_t n = state.range(0);
    const Tensor a = randn({n}, kGpu);
    run_bandwidth(state, n, 2.0 * kF * static_cast<double>(n), [&] { return relu(a); });
  });
}

void BM_cuda_exp(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const int64_t n = state.range(0);
    const Tensor a = randn({n}, kGpu);
    run_bandwidth(state, n, 2.0 * kF * static_cast<double>(n), [&] { return exp(a); });
  });
}

void BM_cuda_sum_all(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const int64_t n = state.range(0);
    const Tensor a = rand({n}, kGpu);
    run_bandwidth(state, n, kF * static_cast<double>(n), [&] { return sum(a); });
  });
}

void BM_cuda_sum_rows(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const int64_t n = state.range(0);
    const Tensor a = rand({n / 1024, 1024}, kGpu);
    run_bandwidth(state, n, kF * static_cast<double>(n + n / 1024), [&] { return sum(a, {1}); });
  });
}

void BM_cuda_sum_columns(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const int64_t n = state.range(0);
    const Tensor a = rand({1024, n / 1024}, kGpu);
    run_bandwidth(state, n, kF * static_cast<double>(n + n / 1024), [&] { return sum(a, {0}); });
  });
}

// max over the same leading dimension: values and int64 indices written, [n / 1024] each.
void BM_cuda_max_columns(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const int64_t n = state.range(0);
    const Tensor a = rand({1024, n / 1024}, kGpu);
    run_bandwidth(state, n, kF * static_cast<double>(n + n / 1024) + 8.0 * static_cast<double>(n / 1024),
                  [&] { return max(a, 0).values; });
  });
}

// ---- one training iteration of the CIFAR recipe ----

constexpr int64_t kBatch = 32;
constexpr int64_t kPgdSteps = 5;
constexpr double kStepSize = 0.1;
constexpr double kR1Weight = 0.01;

struct Recipe {
  std::unique_ptr<nn::ResNet> model;
  nn::NamedTensors params;
  std::unique_ptr<nn::Adam> opt;
  at_ebm::ScoreFn f;
  Tensor real, p0;  // fixed batches: the data pipeline is not what is measured here
};

std::unique_ptr<Recipe> make_recipe() {
  auto r = std::make_unique<Recipe>();
  Generator gen(0);
  r->model = std::make_unique<nn::ResNet>(nn::ResNetConfig{}, gen);
  nn::freeze_batchnorm_stats(*r->model, true);
  r->model->to(Device::cuda());
  r->params = r->model->named_parameters();
  r->opt = std::make_unique<nn::Adam>(r->params, nn::AdamOptions{.lr = 5e-4, .beta1 = 0.0, .beta2 = 0.99});
  r->f = [m = r->model.get()](const Tensor& x) { return nn::energy_logit(*m, x); };
  r->real = rand({kBatch, 3, 32, 32}, kGpu, &gen);
  r->p0 = rand({kBatch, 3, 32, 32}, kGpu, &gen);
  return r;
}

// BCE + γ·R1 on (real, fake), backward, one Adam step.
void loss_step(Recipe& r, const Tensor& fake) {
  const at_ebm::LossTerms t = at_ebm::adversarial_loss(r.f, r.real, fake, kR1Weight, true);
  r.opt->zero_grad();
  backward(t.loss);
  r.opt->step();
}

// The loop of at_ebm::pgd in place on the fixed tensors x and x0: what the graph captures.
void pgd_steps(Recipe& r, const Tensor& x, const Tensor& x0) {
  at_ebm::FreezeParameters frozen(r.params);
  const PgdStep step{.step_size = kStepSize};
  for (int64_t k = 0; k < kPgdSteps; ++k) {
    Tensor g;
    {
      GradModeGuard grad_on(true);
      const Tensor xg = detach(x).set_requires_grad(true);
      g = grad({sum(r.f(xg))}, {xg})[0];
    }
    NoGradGuard no_grad;
    pgd_update_(x, g, x0, step);
  }
}

void report_iteration(benchmark::State& state, double pgd_seconds) {
  const auto iters = static_cast<double>(state.iterations());
  state.counters["pgd_ms"] = 1e3 * pgd_seconds / iters;
  state.counters["images/s"] = benchmark::Counter(2.0 * kBatch * iters, benchmark::Counter::kIsRate);
}

// The cuDNN algorithm search of a training-iteration benchmark: its argument (0 heuristic, 1
// measured); the TF32 and conv-algorithm switches keep the engine's defaults.
MathModeScope search_of(const benchmark::State& state) {
  return MathModeScope(allow_tf32(), conv_algo(),
                       state.range(0) == 1 ? CudnnAlgoSearch::Measured : CudnnAlgoSearch::Heuristic);
}

void BM_cuda_at_iteration_resnet50_eager(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const MathModeScope mode = search_of(state);
    auto r = make_recipe();
    Generator gen(1);
    const at_ebm::PgdOptions pgd_opt{.steps = kPgdSteps, .step_size = kStepSize};
    for (int warm = 0; warm < 2; ++warm) loss_step(*r, at_ebm::pgd(r->f, r->p0, pgd_opt, r->params, gen));
    cuda::synchronize();
    GpuTimer timer;
    double pgd_seconds = 0.0;
    for (auto _ : state) {
      timer.start();
      const Tensor fake = at_ebm::pgd(r->f, r->p0, pgd_opt, r->params, gen);
      pgd_seconds += timer.stop_seconds();
      loss_step(*r, fake);
      cuda::synchronize();
    }
    report_iteration(state, pgd_seconds);
  });
}

void BM_cuda_at_iteration_resnet50_graph(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const MathModeScope mode = search_of(state);
    auto r = make_recipe();
    const Tensor x = empty(r->p0.shape(), kGpu), x0 = empty(r->p0.shape(), kGpu);
    auto load_start = [&] {
      copy_into(x, r->p0);
      copy_into(x0, r->p0);
    };
    // Warm-up, eagerly: library handles, workspaces, algorithm choices and cached blocks.
    for (int warm = 0; warm < 2; ++warm) {
      load_start();
      pgd_steps(*r, x, x0);
      loss_step(*r, x);
    }
    cuda::synchronize();
    cuda::CudaGraph graph;
    try {
      load_start();
      graph.capture_begin();
      pgd_steps(*r, x, x0);
      graph.capture_end();
    } catch (const std::exception& e) {
      const std::string msg = std::string("capturing the PGD loop (forward + grad() + pgd_update_) failed: ") + e.what();
      std::fprintf(stderr, "BM_cuda_at_iteration_resnet50_graph: %s\n", msg.c_str());
      state.SkipWithError(msg.c_str());
      return;
    }
    load_start();
    graph.replay();
    loss_step(*r, x);  // refills the shared cache the capture drew from
    cuda::synchronize();
    state.SetLabel("graph nodes: " + std::to_string(graph.num_nodes()));
    GpuTimer timer;
    double pgd_seconds = 0.0;
    for (auto _ : state) {
      load_start();
      timer.start();
      graph.replay();
      pgd_seconds += timer.stop_seconds();
      loss_step(*r, x);
      cuda::synchronize();
    }
    report_iteration(state, pgd_seconds);
  });
}

void BM_cuda_at_iteration_resnet50_graph_full(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  report_errors(state, [&] {
    const MathModeScope mode = search_of(state);
    auto r = make_recipe();
    Generator gen(1);
    const at_ebm::PgdOptions pgd_opt{.steps = kPgdSteps, .step_size = kStepSize};
    at_ebm::GraphedPgd attack(r->f, r->params);
    at_ebm::GraphedLossStep loss(r->f, r->params);
    auto iteration = [&](GpuTimer* timer, double* pgd_seconds) {
      if (timer != nullptr) timer->start();
      const Tensor fake = attack.run(r->p0, pgd_opt, gen);
      if (timer != nullptr) *pgd_seconds += timer->stop_seconds();
      (void)loss.run(r->real, fake, kR1Weight, true);
      r->opt->step();
    };
    for (int warm = 0; warm < 3; ++warm) iteration(nullptr, nullptr);  // eager, capture + replay, replay
    cuda::synchronize();
    if (!attack.last_run_replayed() || !loss.last_run_replayed()) {
      state.SkipWithError("the PGD loop or the loss step did not replay a graph after its warm-up");
      return;
    }
    GpuTimer timer;
    double pgd_seconds = 0.0;
    for (auto _ : state) {
      iteration(&timer, &pgd_seconds);
      cuda::synchronize();
    }
    report_iteration(state, pgd_seconds);
  });
}

#else  // no CUDA backend: the binary builds and says why there is nothing to measure

void BM_cuda_unavailable(benchmark::State& state) {
  state.SkipWithError("built without the CUDA backend (configure with -DATEBM_CUDA=ON on a machine with nvcc)");
}

#endif

}  // namespace

#ifdef ATEBM_WITH_CUDA
// 16M and 64M float32 elements (64 MB and 256 MB per operand).
#define ATEBM_BANDWIDTH_BENCH(fn) \
  BENCHMARK(fn)->Arg(int64_t{1} << 24)->Arg(int64_t{1} << 26)->UseManualTime()->Unit(benchmark::kMicrosecond)
ATEBM_BANDWIDTH_BENCH(BM_cuda_copy_d2d);
ATEBM_BANDWIDTH_BENCH(BM_cuda_add);
ATEBM_BANDWIDTH_BENCH(BM_cuda_mul);
ATEBM_BANDWIDTH_BENCH(BM_cuda_relu);
ATEBM_BANDWIDTH_BENCH(BM_cuda_exp);
ATEBM_BANDWIDTH_BENCH(BM_cuda_sum_all);
ATEBM_BANDWIDTH_BENCH(BM_cuda_sum_rows);
ATEBM_BANDWIDTH_BENCH(BM_cuda_sum_columns);
ATEBM_BANDWIDTH_BENCH(BM_cuda_max_columns);
#undef ATEBM_BANDWIDTH_BENCH
// A fixed number of iterations: one iteration is tens of milliseconds, and the two warm-up
// iterations inside each benchmark already absorb the first-call costs.
BENCHMARK(BM_cuda_at_iteration_resnet50_eager)
    ->ArgName("search")->Arg(0)->Arg(1)->Iterations(10)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cuda_at_iteration_resnet50_graph)
    ->ArgName("search")->Arg(0)->Arg(1)->Iterations(10)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cuda_at_iteration_resnet50_graph_full)
    ->ArgName("search")->Arg(0)->Arg(1)->Iterations(10)->UseRealTime()->Unit(benchmark::kMillisecond);
#else
BENCHMARK(BM_cuda_unavailable);
#endif
