#pragma once
// Launch helpers shared by every CUDA translation unit (device code: include from .cu files
// only, after engine/cuda/cuda_check.h).
//   grid_for(n) / kThreads   a grid-stride loop's launch shape (256-thread blocks, grid capped)
//   DeviceGuard              makes a tensor's device current for a scope
//   Geometry<N>, make_geometry, offsets_of
//                            N operands of one logical shape with arbitrary (e.g. broadcast,
//                            stride 0) strides: size-1 dims dropped, mergeable dims merged, and
//                            the element offsets of logical index i computed on the device
//   block_sum                a deterministic block-wide sum in double
//   check_cuda_tensor / check_contiguous_out   argument checks with the op's name
// Launch every kernel on the engine's stream: kernel<<<grid_for(n), kThreads, 0, current_stream()>>>.
#include <algorithm>
#include <array>
#include <cstdint>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/stream.h"
#include "engine/tensor.h"

namespace atebm::cuda {

constexpr int kThreads = 256;
constexpr int kMaxDims = 16;

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

// Geometry of N operands of one shape, passed to kernels by value. Size-1 dims are dropped and
// neighbouring dims that are contiguous in every operand are merged, so a contiguous tensor
// becomes 1-d (no divisions per element) and shapes with more than 16 dims usually still fit.
template <int N>
struct Geometry {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[N][kMaxDims];  // in elements
};

template <int N>
inline Geometry<N> make_geometry(const Shape& shape, const std::array<const Shape*, N>& strides, const char* op) {
  Geometry<N> g;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (g.ndim > 0) {
      const int last = g.ndim - 1;
      bool merge = true;
      for (int k = 0; k < N; ++k) merge = merge && g.strides[k][last] == (*strides[k])[d] * shape[d];
      if (merge) {
        g.sizes[last] *= shape[d];
        for (int k = 0; k < N; ++k) g.strides[k][last] = (*strides[k])[d];
        continue;
      }
    }
    ATEBM_CHECK(g.ndim < kMaxDims, "{} (cuda): shape {} has more than {} non-mergeable dims", op,
                shape_str(shape), kMaxDims);
    g.sizes[g.ndim] = shape[d];
    for (int k = 0; k < N; ++k) g.strides[k][g.ndim] = (*strides[k])[d];
    ++g.ndim;
  }
  return g;
}

// Element offsets of logical (row-major) index i in each operand.
template <int N>
__device__ __forceinline__ void offsets_of(const Geometry<N>& g, int64_t i, int64_t (&off)[N]) {
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = g.ndim - 1; d > 0; --d) {
    const int64_t idx = i % g.sizes[d];
    i /= g.sizes[d];
    for (int k = 0; k < N; ++k) off[k] += idx * g.strides[k][d];
  }
  if (g.ndim > 0) {
    for (int k = 0; k < N; ++k) off[k] += i * g.strides[k][0];
  }
}

// Sum of one value per thread of the block, in a fixed tree order (so the same inputs give the
// same bits, whatever the launch); every thread gets the total. blockDim.x must be kThreads, and
// every thread of the block must call it.
__device__ inline double block_sum(double v) {
  __shared__ double s[kThreads];
  __syncthreads();  // a previous call's readers of s[0] are done
  s[threadIdx.x] = v;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
    __syncthreads();
  }
  return s[0];
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
