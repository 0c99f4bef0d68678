#pragma once
// The GPU benchmarks' clocks and error rule. CUDA builds only.
//   GpuTimer            GPU time of the work queued between start() and stop_seconds(), from two
//                       CUDA events recorded on the engine's stream (engine/cuda/stream.h)
//   timed_iterations    the benchmark loop for work that is long next to a launch (a copy of
//                       64 MB): each iteration's GPU time from start to stop is its manual time
//                       (state.SetIterationTime with UseManualTime); returns the total. The
//                       start event fires on an idle GPU, which then waits for the host to
//                       launch the work: that launch latency is inside the time.
//   graphed_iterations  the benchmark loop for short calls (a conv layer: 5-100 us): `reps`
//                       calls captured into one CUDA graph; each iteration replays it twice and
//                       times the second replay, which starts the moment the first one ends,
//                       so no host time is inside; the manual time is one call's share. This
//                       is the calls' GPU time, what a graphed training step pays.
//   eager_rates         the same calls issued eagerly, back to back: per call, the host's time
//                       to issue one (host_us) and the GPU time between events around `reps`
//                       calls queued behind `reps` others (eager_us = the larger of the GPU's
//                       time and the host's: what an eager training step pays). Medians.
//   report_errors       an exception becomes this benchmark's error instead of ending the binary
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <vector>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_graph.h"
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

// Per-call GPU seconds of call() from graph replays (see the top); returns the total of the
// iterations' manual times. Throws what capture_end() throws when the calls cannot be captured.
template <typename Call>
double graphed_iterations(benchmark::State& state, Call call, int reps) {
  atebm::cuda::CudaGraph graph;
  graph.capture_begin();
  for (int i = 0; i < reps; ++i) (void)call();  // each result is dropped: its block is reused
  graph.capture_end();
  graph.replay();
  atebm::cuda::synchronize();
  GpuTimer timer;
  double seconds = 0.0;
  for (auto _ : state) {
    graph.replay();  // keeps the GPU busy while the host records the start event and replays again
    timer.start();
    graph.replay();
    const double t = timer.stop_seconds() / reps;
    state.SetIterationTime(t);
    seconds += t;
  }
  return seconds;
}

struct EagerRates {
  double gpu_us = 0.0;   // per call: GPU time of calls issued back to back (>= the host's rate)
  double host_us = 0.0;  // per call: host time to issue one call (argument checks, planning
                         // lookups, allocation, the launches), the GPU never waited on
};

// Eager per-call rates of call() (see the top): the median over `rounds` of `reps` calls each.
template <typename Call>
EagerRates eager_rates(Call call, int reps, int rounds) {
  GpuTimer timer;
  std::vector<double> gpu, host;
  for (int r = 0; r < rounds; ++r) {
    for (int i = 0; i < reps; ++i) (void)call();  // queued ahead: the timed calls find the GPU busy
    timer.start();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) (void)call();
    const auto t1 = std::chrono::steady_clock::now();
    gpu.push_back(timer.stop_seconds() * 1e6 / reps);
    host.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / reps);
  }
  auto median = [](std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  return {median(gpu), median(host)};
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
