#pragma once
// Launch helpers shared by every CUDA translation unit (device code: include from .cu files
// only, after engine/cuda/cuda_check.h).
//   grid_for(n) / kThreads   a grid-stride loop's launch shape (256-thread blocks, grid capped)
//   DeviceGuard              makes a tensor's device current for a scope
//   Geometry<N>, make_geometry, offsets_of   (engine/cuda/geometry.h; the CPU loop uses the same)
//                            N operands of one logical shape with arbitrary (e.g. broadcast,
//                            stride 0) strides: size-1 dims dropped, mergeable dims merged, and
//                            the element offsets of logical index i
//   block_sum                a deterministic block-wide sum in double
//   dynamic_shared_memory    the block's dynamic shared memory (the launch's third argument)
//   check_cuda_tensor / check_contiguous_out   argument checks with the op's name
// Launch every kernel on the engine's stream:
//   ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), kernel<T>)(args...);
#include <algorithm>
#include <array>
#include <cstdint>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/geometry.h"
#include "engine/cuda/stream.h"
#include "engine/tensor.h"

namespace atebm::cuda {

constexpr int kThreads = 256;

// Enough blocks to cover n items, capped: past ~16M threads the grid-stride loop takes over.
inline unsigned grid_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65536)); }

// Makes the tensor's device current for the scope (restores the previous one on exit).
class DeviceGuard {
 public:
  explicit DeviceGuard(const Device& d) : dev_(d.index) {
    ATEBM_CUDA_CHECK(cudaGetDevice(&prev_));
    if (prev_ != dev_) ATEBM_CUDA_CHECK(cudaSetDevice(dev_));
  }
  ~DeviceGuard() {
    if (prev_ != dev_) cudaSetDevice(prev_);  // best effort: destructors must not throw
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int dev_ = 0, prev_ = 0;
};

// Sum of one value per thread of the block, in a fixed tree order (so the same inputs give the
// same bits, whatever the launch); every thread gets the total. blockDim.x must be kThreads, and
// every thread of the block must call it.
__device__ inline double block_sum(double v) {
  __shared__ double s[kThreads];
  __syncthreads();  // a previous call's readers of s[0] are done
  s[threadIdx.x] = v;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (threadIdx.x < static_cast<unsigned>(w)) s[threadIdx.x] += s[threadIdx.x + w];
    __syncthreads();
  }
  return s[0];
}

// The block's dynamic shared memory, as many bytes as the launch gave (its third argument; more
// than 48 KB only after cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize)),
// 128-byte aligned. On the emulated GPU, a buffer per block filled with NaN bytes.
__device__ __forceinline__ unsigned char* dynamic_shared_memory() {
#ifdef ATEBM_CUDA_EMULATION
  return ::cuda_emu::dynamic_shared_memory();
#else
  extern __shared__ __align__(128) unsigned char bytes[];
  return bytes;
#endif
}

inline void check_cuda_tensor(const Tensor& t, const char* op) {
  ATEBM_CHECK(t.device().is_cuda(), "{} (cuda): expected a CUDA tensor, got one on {}", op, t.device());
}

inline void check_contiguous_out(const Tensor& t, const char* op) {
  check_cuda_tensor(t, op);
  ATEBM_CHECK(t.is_contiguous(), "{} (cuda): expected a contiguous output tensor, got strides {}", op,
              shape_str(t.strides()));
}

}  // namespace atebm::cuda
