#pragma once
// The GPU benchmarks' clock and error rule. CUDA builds only.
//   GpuTimer          GPU time of the work queued between start() and stop_seconds(), from two
//                     CUDA events recorded on the engine's stream (engine/cuda/stream.h)
//   timed_iterations  the benchmark loop: each iteration's GPU time is its manual time
//                     (state.SetIterationTime with UseManualTime); returns the total
//   report_errors     an exception becomes this benchmark's error instead of ending the binary
#include <benchmark/benchmark.h>

#include <exception>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/stream.h"

namespace atebm::bench {

class GpuTimer {
 public:
  GpuTimer() {
    ATEBM_CUDA_CHECK(cudaEventCreate(&start_));
    ATEBM_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~GpuTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  GpuTimer(const GpuTimer&) = delete;
  GpuTimer& operator=(const GpuTimer&) = delete;

  void start() { ATEBM_CUDA_CHECK(cudaEventRecord(start_, atebm::cuda::current_stream())); }
  double stop_seconds() {
    ATEBM_CUDA_CHECK(cudaEventRecord(stop_, atebm::cuda::current_stream()));
    ATEBM_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    ATEBM_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return static_cast<double>(ms) / 1e3;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// Times call() (which returns a Tensor) per benchmark iteration; returns the total seconds.
template <typename Call>
double timed_iterations(benchmark::State& state, Call call) {
  GpuTimer timer;
  double seconds = 0.0;
  for (auto _ : state) {
    timer.start();
    const auto result = call();
    const double t = timer.stop_seconds();
    benchmark::DoNotOptimize(result.raw_data());
    state.SetIterationTime(t);
    seconds += t;
  }
  return seconds;
}

// Runs body(); an exception (an op or CUDA call that fails on this GPU) becomes this benchmark's
// error instead of escaping the benchmark function, which would terminate the binary and lose
// every benchmark after it (and the end of the JSON file). The runtime's last-error slot is
// cleared so that the next benchmark's first launch check does not report the same error again.
template <typename Body>
void report_errors(benchmark::State& state, Body body) {
  try {
    body();
  } catch (const std::exception& e) {
    (void)cudaGetLastError();
    state.SkipWithError(e.what());
  }
}

}  // namespace atebm::bench
