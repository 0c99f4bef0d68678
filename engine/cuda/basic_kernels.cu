#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twins of engine/cpu/basic_kernels.cpp. All work goes to the engine's compute stream
// (engine/cuda/stream.h), so kernels, copies and the caching allocator's block reuse are ordered
// without events.
// Every kernel is a grid-stride loop of 256-thread blocks.
#include <algorithm>
#include <array>
#include <mutex>

#include "engine/cuda/basic_kernels_cuda.h"
#include "engine/cuda/cuda_allocator.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/pinned_allocator.h"
#include "engine/cuda/stream.h"
#include "engine/philox.h"

namespace atebm::cuda {
namespace {

template <typename T>
__global__ void fill_kernel(T* d, T v, Geometry<1> g, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t off[1];
    offsets_of(g, i, off);
    d[off[0]] = v;
  }
}

template <typename D, typename S>
__global__ void copy_kernel(D* d, const S* s, Geometry<2> g, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t off[2];
    offsets_of(g, i, off);
    d[off[0]] = static_cast<D>(s[off[1]]);
  }
}

// d[i] = start + i·step for a contiguous d. fma: the CPU build (GCC, C++ mode, FMA hardware)
// contracts the same expression, so both devices round once and agree bit for bit.
template <typename T>
__global__ void arange_kernel(T* d, int64_t n, double start, double step) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    d[i] = static_cast<T>(fma(static_cast<double>(i), step, start));
}

// Philox kernels: one thread per 128-bit block, values laid out as in engine/philox.h.
// d: n contiguous values; blocks offset, offset+1, ... of key seed.
__global__ void uniform_f32_kernel(float* d, int64_t n, uint64_t seed, uint64_t offset, float a, float w) {
  const int64_t nblk = (n + 3) / 4;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t blk = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; blk < nblk; blk += step) {
    const philox::Block r = philox::philox4x32_10(offset + blk, seed);
    for (int j = 0; j < 4 && blk * 4 + j < n; ++j) d[blk * 4 + j] = fmaf(w, philox::u24(r.w[j]), a);
  }
}

__global__ void uniform_f64_kernel(double* d, int64_t n, uint64_t seed, uint64_t offset, double lo, double w) {
  const int64_t nblk = (n + 1) / 2;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t blk = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; blk < nblk; blk += step) {
    const philox::Block r = philox::philox4x32_10(offset + blk, seed);
    for (int j = 0; j < 2 && blk * 2 + j < n; ++j) d[blk * 2 + j] = fma(w, philox::u53(r.w[2 * j], r.w[2 * j + 1]), lo);
  }
}

constexpr double kTwoPi = 6.283185307179586476925286766559;

// Box–Muller; logf/cosf/sinf differ from the host libm by a few ulp, hence the test tolerance.
__global__ void normal_f32_kernel(float* d, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  const int64_t nblk = (n + 3) / 4;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t blk = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; blk < nblk; blk += step) {
    const philox::Block r = philox::philox4x32_10(offset + blk, seed);
    float v[4];
    for (int p = 0; p < 2; ++p) {
      const float u1 = 1.0f - philox::u24(r.w[2 * p]), u2 = philox::u24(r.w[2 * p + 1]);  // u1 in (0, 1]
      const float rad = sqrtf(-2.0f * logf(u1));
      v[2 * p] = rad * cosf(static_cast<float>(kTwoPi) * u2);
      v[2 * p + 1] = rad * sinf(static_cast<float>(kTwoPi) * u2);
    }
    for (int j = 0; j < 4 && blk * 4 + j < n; ++j) d[blk * 4 + j] = fmaf(std, v[j], mean);
  }
}

__global__ void normal_f64_kernel(double* d, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  const int64_t nblk = (n + 1) / 2;
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t blk = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; blk < nblk; blk += step) {
    const philox::Block r = philox::philox4x32_10(offset + blk, seed);
    const double u1 = 1.0 - philox::u53(r.w[0], r.w[1]), u2 = philox::u53(r.w[2], r.w[3]);
    const double rad = sqrt(-2.0 * log(u1));
    const double v[2] = {rad * cos(kTwoPi * u2), rad * sin(kTwoPi * u2)};
    for (int j = 0; j < 2 && blk * 2 + j < n; ++j) d[blk * 2 + j] = fma(std, v[j], mean);
  }
}

}  // namespace

void fill(const Tensor& dst, double value) {
  check_cuda_tensor(dst, "fill");
  const int64_t n = dst.numel();
  if (n == 0) return;
  DeviceGuard guard(dst.device());
  const Geometry<1> g = make_geometry<1>(dst.shape(), {&dst.strides()}, "fill");
  ATEBM_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), fill_kernel<scalar_t>)
        (dst.data<scalar_t>(), static_cast<scalar_t>(value), g, n);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

void copy(const Tensor& dst, const Tensor& src) {
  ATEBM_CHECK(dst.shape() == src.shape(), "copy (cuda): shape mismatch, destination {} vs source {}",
              shape_str(dst.shape()), shape_str(src.shape()));
  check_cuda_tensor(dst, "copy");
  ATEBM_CHECK(src.device() == dst.device(), "copy (cuda): source on {} but destination on {}", src.device(),
              dst.device());
  const int64_t n = dst.numel();
  if (n == 0) return;
  DeviceGuard guard(dst.device());
  const Geometry<2> g = make_geometry<2>(dst.shape(), {&dst.strides(), &src.strides()}, "copy");
  ATEBM_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using dst_t = scalar_t;
    ATEBM_DISPATCH_ALL(src.dtype(), "copy", [&] {
      ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), copy_kernel<dst_t, scalar_t>)
          (dst.data<dst_t>(), src.data<scalar_t>(), g, n);
      ATEBM_CUDA_CHECK_LAUNCH();
    });
  });
}

// Copies are queued on the compute stream behind earlier kernels. d2h always waits for the copy,
// so the host may read the data. h2d waits too, so the caller may free or reuse the source at
// once, EXCEPT when the source lies in a live block of the pinned allocator: then the copy stays
// asynchronous (the host goes on queuing work instead of waiting for every kernel queued before
// the copy) and an event recorded behind it keeps the block from being handed out again until
// the copy has run (pinned_allocator.h), so freeing the source tensor at once is still safe.
// Writing it on the host before the copy ran is not; engine/pinned.h states that contract.
void memcpy_h2d(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  const Stream s = current_stream();
  PinnedAllocator& pinned = pinned_allocator();
  if (pinned.owns(src, nbytes)) {
    // A captured copy would re-read the block at every graph replay, long after it was freed.
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    ATEBM_CUDA_CHECK(cudaStreamIsCapturing(s, &capture));
    ATEBM_CHECK(capture == cudaStreamCaptureStatusNone,
                "copy to the GPU: an upload from pinned host memory cannot be captured into a CUDA graph; "
                "upload the inputs before capturing");
    ATEBM_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, s));
    bool recorded = false;
    try {
      recorded = pinned.record_use(src, nbytes, s);
    } catch (...) {
      (void)cudaStreamSynchronize(s);  // no event guards the block: let the copy finish first
      throw;
    }
    if (recorded) return;
  } else {
    ATEBM_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, s));
  }
  ATEBM_CUDA_CHECK(cudaStreamSynchronize(s));
}

void memcpy_d2h(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  const Stream s = current_stream();
  ATEBM_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s));
  ATEBM_CUDA_CHECK(cudaStreamSynchronize(s));
}

void arange(const Tensor& dst, double start, double step) {
  check_contiguous_out(dst, "arange");
  const int64_t n = dst.numel();
  if (n == 0) return;
  DeviceGuard guard(dst.device());
  ATEBM_DISPATCH_ALL(dst.dtype(), "arange", [&] {
    ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), arange_kernel<scalar_t>)
        (dst.data<scalar_t>(), n, start, step);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

void uniform(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi) {
  check_contiguous_out(dst, "rand");
  const int64_t n = dst.numel();
  if (n == 0) return;
  DeviceGuard guard(dst.device());
  if (dst.dtype() == DType::Float32) {
    ATEBM_LAUNCH(grid_for((n + 3) / 4), kThreads, 0, current_stream(), uniform_f32_kernel)
        (dst.data<float>(), n, seed, offset, static_cast<float>(lo), static_cast<float>(hi - lo));
  } else {
    ATEBM_CHECK(dst.dtype() == DType::Float64, "rand (cuda): expected a float dtype, got {}", dst.dtype());
    ATEBM_LAUNCH(grid_for((n + 1) / 2), kThreads, 0, current_stream(), uniform_f64_kernel)
        (dst.data<double>(), n, seed, offset, lo, hi - lo);
  }
  ATEBM_CUDA_CHECK_LAUNCH();
}

void normal(const Tensor& dst, uint64_t seed, uint64_t offset, double mean, double std) {
  check_contiguous_out(dst, "randn");
  const int64_t n = dst.numel();
  if (n == 0) return;
  DeviceGuard guard(dst.device());
  if (dst.dtype() == DType::Float32) {
    ATEBM_LAUNCH(grid_for((n + 3) / 4), kThreads, 0, current_stream(), normal_f32_kernel)
        (dst.data<float>(), n, seed, offset, static_cast<float>(mean), static_cast<float>(std));
  } else {
    ATEBM_CHECK(dst.dtype() == DType::Float64, "randn (cuda): expected a float dtype, got {}", dst.dtype());
    ATEBM_LAUNCH(grid_for((n + 1) / 2), kThreads, 0, current_stream(), normal_f64_kernel)
        (dst.data<double>(), n, seed, offset, mean, std);
  }
  ATEBM_CUDA_CHECK_LAUNCH();
}

int device_count() {
  // Queried once: no driver, no GPU or CUDA_VISIBLE_DEVICES="" all mean "0 devices", not an error.
  static const int count = [] {
    int c = 0;
    if (cudaGetDeviceCount(&c) != cudaSuccess) {
      (void)cudaGetLastError();  // clear it so the next checked call does not report it
      return 0;
    }
    return c;
  }();
  return count;
}

void set_device(int index) { ATEBM_CUDA_CHECK(cudaSetDevice(index)); }

int current_device() {
  int device = 0;
  ATEBM_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

void init() {
  ATEBM_CHECK(device_count() > 0,
              "a CUDA tensor was requested but no CUDA device is visible (no driver or GPU, or "
              "CUDA_VISIBLE_DEVICES hides them)");
  static std::once_flag once;
  std::call_once(once, [] { set_allocator(DeviceType::CUDA, &caching_allocator()); });
}

}  // namespace atebm::cuda
