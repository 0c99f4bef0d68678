#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twin of ops/cpu/pgd_cpu.cpp (formula in ops/pgd_update.h). The per-element and
// per-sample formulas (masked gradient, skip rule for masked-out pixels, step scale, projection
// factor, update and clamps) are the CPU's own, from ops/kernels/pgd_math.h. Only the order of
// the per-sample sums differs (a fixed tree instead of a serial loop), which changes the norms
// by a few ulp of double.
//
// L2 works on blocks that each own one chunk of kChunk elements of one sample (block b: sample
// b / chunks, chunk b % chunks):
//   grad_sq_kernel      partial_g[i, c] = Σ_chunk (m⊙g)²
//   delta_sq_kernel     (ε finite) partial_d[i, c] = Σ_chunk over movable pixels (stepped − x0)²
//   l2_write_kernel     x ← clamp(x0 + (stepped − x0)·factor, lo, hi) on movable pixels
// where every block of sample i rebuilds the sample's scale (and factor) from its partials in
// chunk order, so all blocks of a sample use the very same numbers.
#include <algorithm>
#include <cstdint>

#include "engine/cuda/launch.cuh"
#include "engine/cuda/stream.h"
#include "engine/factories.h"
#include "ops/cuda/pgd_cuda.h"
#include "ops/kernels/pgd_math.h"

namespace atebm::cuda {
namespace {

using kernels::pgd::fixed;
using kernels::pgd::masked;

// Elements of one sample summed by one block; fixed, so the summation tree depends only on d.
constexpr int64_t kChunk = 4096;
// Grid cap of the chunk kernels: blocks loop over the remaining chunks beyond it.
constexpr int64_t kMaxBlocks = 65536;

// Σ_c partial[i, c] in chunk order (every thread computes it the same way).
__device__ __forceinline__ double sample_total(const double* partial, int64_t i, int64_t chunks) {
  double t = 0.0;
  for (int64_t c = 0; c < chunks; ++c) t += partial[i * chunks + c];
  return t;
}

// λ / (||m⊙g||₂ + floor) of sample i.
__device__ __forceinline__ double sample_scale(const double* partial_g, int64_t i, int64_t chunks, double step) {
  return kernels::pgd::step_scale(sample_total(partial_g, i, chunks), step);
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
    const double scale = sample_scale(partial_g, r.i, chunks, step);
    const int64_t off = r.i * d;
    const T* ms = mask ? mask + off : nullptr;
    double acc = 0.0;
    for (int64_t j = r.lo + threadIdx.x; j < r.hi; j += kThreads) {
      if (fixed(ms, j)) continue;
      const double delta = kernels::pgd::l2_delta(x[off + j], x0[off + j], masked(g + off, ms, j), scale);
      acc += delta * delta;
    }
    const double total = block_sum(acc);
    if (threadIdx.x == 0) partial_d[b] = total;
  }
}

// partial_d == nullptr: no projection (ε = ∞).
template <typename T>
__global__ void l2_write_kernel(T* x, const T* g, const T* x0, const T* mask, int64_t n, int64_t d, int64_t chunks,
                                PgdStep s, const double* partial_g, const double* partial_d) {
  for (int64_t b = blockIdx.x; b < n * chunks; b += gridDim.x) {
    const ChunkRange r = chunk_range(b, chunks, d);
    const double scale = sample_scale(partial_g, r.i, chunks, s.step_size);
    const double factor =
        partial_d ? kernels::pgd::projection_factor(sample_total(partial_d, r.i, chunks), s.eps) : 1.0;
    const int64_t off = r.i * d;
    const T* ms = mask ? mask + off : nullptr;
    for (int64_t j = r.lo + threadIdx.x; j < r.hi; j += kThreads) {
      if (fixed(ms, j)) continue;
      x[off + j] = kernels::pgd::l2_element(x[off + j], x0[off + j], masked(g + off, ms, j), scale, factor, s);
    }
  }
}

// One element per thread over all n·d elements; x0 may be x (element j is read, then written).
template <typename T>
__global__ void linf_kernel(T* x, const T* g, const T* x0, const T* mask, int64_t total, bool project, PgdStep s) {
  for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < total; j += int64_t{gridDim.x} * blockDim.x) {
    if (fixed(mask, j)) continue;
    x[j] = kernels::pgd::linf_element(x[j], x0[j], masked(g, mask, j), project, s);
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
  const bool project = kernels::pgd::projects(s);
  // Per-chunk partial sums from the caching allocator: [n, chunks] for ||m⊙g||², and as many
  // for ||δ||² when projecting.
  const Tensor partials = empty({project ? 2 * n * chunks : n * chunks},
                                {.dtype = DType::Float64, .device = Device::cuda(device)});
  double* partial_g = partials.data<double>();
  double* partial_d = project ? partial_g + n * chunks : nullptr;
  const Stream stream = current_stream();
  ATEBM_LAUNCH(blocks, kThreads, 0, stream, grad_sq_kernel<T>)(g, mask, n, d, chunks, partial_g);
  ATEBM_CUDA_CHECK_LAUNCH();
  if (project) {
    ATEBM_LAUNCH(blocks, kThreads, 0, stream, delta_sq_kernel<T>)
        (x, g, x0, mask, n, d, chunks, s.step_size, partial_g, partial_d);
    ATEBM_CUDA_CHECK_LAUNCH();
  }
  ATEBM_LAUNCH(blocks, kThreads, 0, stream, l2_write_kernel<T>)(x, g, x0, mask, n, d, chunks, s, partial_g, partial_d);
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
    ATEBM_LAUNCH(grid_for(total), kThreads, 0, current_stream(), linf_kernel<T>)
        (x, g, x0, mask, total, kernels::pgd::projects(s), s);
    ATEBM_CUDA_CHECK_LAUNCH();
  }
}

template void pgd_update<float>(float*, const float*, const float*, const float*, int64_t, int64_t, const PgdStep&);
template void pgd_update<double>(double*, const double*, const double*, const double*, int64_t, int64_t,
                                 const PgdStep&);

}  // namespace atebm::cuda
