#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twin of ops/cpu/pgd_cpu.cpp (formula in ops/pgd_update.h). The values are the CPU's: the
// same double arithmetic per element, the same skip rule for masked-out pixels, the same
// std::clamp semantics. Only the order of the per-sample sums differs (a fixed tree instead of a
// serial loop), which changes the norms by a few ulp of double.
//
// L2 works on blocks that each own one chunk of kChunk elements of one sample (block b: sample
// b / chunks, chunk b % chunks):
//   grad_sq_kernel      partial_g[i, c] = Σ_chunk (m⊙g)²
//   delta_sq_kernel     (ε finite) partial_d[i, c] = Σ_chunk over movable pixels (stepped − x0)²
//   l2_write_kernel     x ← clamp(x0 + (stepped − x0)·factor, lo, hi) on movable pixels
// where every block of sample i rebuilds the sample's scale (and factor) from its partials in
// chunk order, so all blocks of a sample use the very same numbers.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/cuda/launch.cuh"
#include "engine/cuda/stream.h"
#include "engine/factories.h"
#include "ops/cuda/pgd_cuda.h"

namespace atebm::cuda {
namespace {

// Added to the gradient norm so a zero gradient gives a zero step (as on the CPU).
constexpr double kNormFloor = 1e-10;
// Elements of one sample summed by one block; fixed, so the summation tree depends only on d.
constexpr int64_t kChunk = 4096;
// Grid cap of the chunk kernels: blocks loop over the remaining chunks beyond it.
constexpr int64_t kMaxBlocks = 65536;

__device__ __forceinline__ double sign_of(double v) { return static_cast<double>((v > 0.0) - (v < 0.0)); }

// std::clamp(v, lo, hi) exactly (a NaN v stays NaN).
__device__ __forceinline__ double clamp_of(double v, double lo, double hi) { return v < lo ? lo : (hi < v ? hi : v); }

// The masked gradient m⊙g of element j in double (m = 1 without a mask).
template <typename T>
__device__ __forceinline__ double masked(const T* g, const T* m, int64_t j) {
  return m ? static_cast<double>(m[j]) * static_cast<double>(g[j]) : static_cast<double>(g[j]);
}

// Σ_c partial[i, c] in chunk order (every thread computes it the same way).
__device__ __forceinline__ double sample_total(const double* partial, int64_t i, int64_t chunks) {
  double t = 0.0;
  for (int64_t c = 0; c < chunks; ++c) t += partial[i * chunks + c];
  return t;
}

// λ / (||m⊙g||₂ + floor) of sample i.
__device__ __forceinline__ double step_scale(const double* partial_g, int64_t i, int64_t chunks, double step) {
  return step / (sqrt(sample_total(partial_g, i, chunks)) + kNormFloor);
}

// The geometry of one chunk block: sample i, elements [lo, hi) of that sample.
struct ChunkRange {
  int64_t i, lo, hi;
};

__device__ __forceinline__ ChunkRange chunk_range(int64_t b, int64_t chunks, int64_t d) {
  const int64_t i = b / chunks, lo = (b % chunks) * kChunk;
  return {i, lo, lo + kChunk < d ? lo + kChunk : d};
}

template <typename T>
__global__ void grad_sq_kernel(const T* g, const T* mask, int64_t n, int64_t d, int64_t chunks, double* partial_g) {
  for (int64_t b = blockIdx.x; b < n * chunks; b += gridDim.x) {  // block-uniform loop: block_sum is safe
    const ChunkRange r = chunk_range(b, chunks, d);
    const T* gs = g + r.i * d;
    const T* ms = mask ? mask + r.i * d : nullptr;
    double acc = 0.0;
    for (int64_t j = r.lo + threadIdx.x; j < r.hi; j += kThreads) {
      const double v = masked(gs, ms, j);
      acc += v * v;
    }
    const double total = block_sum(acc);
    if (threadIdx.x == 0) partial_g[b] = total;
  }
}

template <typename T>
__global__ void delta_sq_kernel(const T* x, const T* g, const T* x0, const T* mask, int64_t n, int64_t d,
                                int64_t chunks, double step, const double* partial_g, double* partial_d) {
  for (int64_t b = blockIdx.x; b < n * chunks; b += gridDim.x) {
    const ChunkRange r = chunk_range(b, chunks, d);
    const double scale = step_scale(partial_g, r.i, chunks, step);
    const int64_t off = r.i * d;
    const T* ms = mask ? mask + off : nullptr;
    double acc = 0.0;
    for (int64_t j = r.lo + threadIdx.x; j < r.hi; j += kThreads) {
      if (ms && ms[j] == T(0)) continue;
      const double stepped = static_cast<double>(x[off + j]) + scale * masked(g + off, ms, j);
      const double delta = stepped - static_cast<double>(x0[off + j]);
      acc += delta * delta;
    }
    const double total = block_sum(acc);
    if (threadIdx.x == 0) partial_d[b] = total;
  }
}

// partial_d == nullptr: no projection (ε = ∞).
template <typename T>
__global__ void l2_write_kernel(T* x, const T* g, const T* x0, const T* mask, int64_t n, int64_t d, int64_t chunks,
                                double step, double eps, double lo, double hi, const double* partial_g,
                                const double* partial_d) {
  for (int64_t b = blockIdx.x; b < n * chunks; b += gridDim.x) {
    const ChunkRange r = chunk_range(b, chunks, d);
    const double scale = step_scale(partial_g, r.i, chunks, step);
    double factor = 1.0;  // min(1, ε / ||δ||), as on the CPU
    if (partial_d) {
      const double dn = sqrt(sample_total(partial_d, r.i, chunks));
      if (dn > eps) factor = eps / dn;
    }
    const int64_t off = r.i * d;
    const T* ms = mask ? mask + off : nullptr;
    for (int64_t j = r.lo + threadIdx.x; j < r.hi; j += kThreads) {
      if (ms && ms[j] == T(0)) continue;
      double v = static_cast<double>(x[off + j]) + scale * masked(g + off, ms, j);
      if (factor != 1.0) {
        const double base = static_cast<double>(x0[off + j]);
        v = base + (v - base) * factor;
      }
      x[off + j] = static_cast<T>(clamp_of(v, lo, hi));
    }
  }
}

// One element per thread over all n·d elements; x0 may be x (element j is read, then written).
template <typename T>
__global__ void linf_kernel(T* x, const T* g, const T* x0, const T* mask, int64_t total, double step, bool project,
                            double eps, double lo, double hi) {
  for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < total; j += int64_t{gridDim.x} * blockDim.x) {
    if (mask && mask[j] == T(0)) continue;
    double v = static_cast<double>(x[j]) + step * sign_of(masked(g, mask, j));
    if (project) {
      const double base = static_cast<double>(x0[j]);
      v = base + clamp_of(v - base, -eps, eps);
    }
    x[j] = static_cast<T>(clamp_of(v, lo, hi));
  }
}

// The CUDA device that holds `p` (raw-pointer kernels have no tensor to ask).
int device_of(const void* p) {
  cudaPointerAttributes attr{};
  ATEBM_CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  ATEBM_CHECK(attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged,
              "pgd_update_ (cuda): expected x in CUDA device memory");
  return attr.device;
}

template <typename T>
void pgd_l2(T* x, const T* g, const T* x0, const T* mask, int64_t n, int64_t d, const PgdStep& s, int device) {
  const int64_t chunks = (d + kChunk - 1) / kChunk;
  const auto blocks = static_cast<unsigned>(std::min(n * chunks, kMaxBlocks));
  const bool project = std::isfinite(s.eps);
  // Per-chunk partial sums from the caching allocator: [n, chunks] for ||m⊙g||², and as many
  // for ||δ||² when projecting.
  const Tensor partials = empty({project ? 2 * n * chunks : n * chunks},
                                {.dtype = DType::Float64, .device = Device::cuda(device)});
  double* partial_g = partials.data<double>();
  double* partial_d = project ? partial_g + n * chunks : nullptr;
  const Stream stream = current_stream();
  grad_sq_kernel<T><<<blocks, kThreads, 0, stream>>>(g, mask, n, d, chunks, partial_g);
  ATEBM_CUDA_CHECK_LAUNCH();
  if (project) {
    delta_sq_kernel<T><<<blocks, kThreads, 0, stream>>>(x, g, x0, mask, n, d, chunks, s.step_size, partial_g,
                                                        partial_d);
    ATEBM_CUDA_CHECK_LAUNCH();
  }
  l2_write_kernel<T><<<blocks, kThreads, 0, stream>>>(x, g, x0, mask, n, d, chunks, s.step_size, s.eps, s.lo, s.hi,
                                                      partial_g, partial_d);
  ATEBM_CUDA_CHECK_LAUNCH();
  // `partials` goes back to the caching allocator here; the allocator orders its reuse on the
  // same stream behind these kernels.
}

}  // namespace

template <typename T>
void pgd_update(T* x, const T* g, const T* x0, const T* mask, int64_t n, int64_t d, const PgdStep& s) {
  if (n == 0 || d == 0) return;
  const int device = device_of(x);
  DeviceGuard guard(Device::cuda(device));
  if (s.norm == PgdNorm::L2) {
    pgd_l2(x, g, x0, mask, n, d, s, device);
  } else {
    const int64_t total = n * d;
    linf_kernel<T><<<grid_for(total), kThreads, 0, current_stream()>>>(x, g, x0, mask, total, s.step_size,
                                                                       std::isfinite(s.eps), s.eps, s.lo, s.hi);
    ATEBM_CUDA_CHECK_LAUNCH();
  }
}

template void pgd_update<float>(float*, const float*, const float*, const float*, int64_t, int64_t, const PgdStep&);
template void pgd_update<double>(double*, const double*, const double*, const double*, int64_t, int64_t,
                                 const PgdStep&);

}  // namespace atebm::cuda
