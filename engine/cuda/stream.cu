#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
#include <array>
#include <mutex>

#include "engine/cuda/stream.h"

namespace atebm::cuda {
namespace {

constexpr int kMaxDevices = 64;

thread_local Stream t_override = nullptr;

}  // namespace

Stream default_stream(int device) {
  ATEBM_CHECK(device >= 0 && device < kMaxDevices, "cuda: device ordinal {} out of range [0, {})", device, kMaxDevices);
  static std::array<Stream, kMaxDevices> streams{};
  static std::array<std::once_flag, kMaxDevices> once;
  std::call_once(once[device], [device] {
    int prev = 0;
    ATEBM_CUDA_CHECK(cudaGetDevice(&prev));
    ATEBM_CUDA_CHECK(cudaSetDevice(device));
    cudaStream_t s = nullptr;
    ATEBM_CUDA_CHECK(cudaStreamCreate(&s));
    ATEBM_CUDA_CHECK(cudaSetDevice(prev));
    streams[device] = s;
  });
  return streams[device];
}

Stream current_stream() {
  if (t_override != nullptr) return t_override;
  int device = 0;
  ATEBM_CUDA_CHECK(cudaGetDevice(&device));
  return default_stream(device);
}

StreamGuard::StreamGuard(Stream s) : prev_(t_override) { t_override = s; }
StreamGuard::~StreamGuard() { t_override = prev_; }

void synchronize() { ATEBM_CUDA_CHECK(cudaStreamSynchronize(current_stream())); }

}  // namespace atebm::cuda
