#pragma once
// GPU time of the work queued between start() and stop_seconds(), from two CUDA events recorded
// on the engine's stream (engine/cuda/stream.h): the benchmarks' clock
// (state.SetIterationTime with UseManualTime). CUDA builds only.
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

}  // namespace atebm::bench
