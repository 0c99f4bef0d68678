#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twins of ops/cpu/reduce_cpu.cpp. x is brought to a contiguous [outer, r, inner] exactly
// as the CPU kernel does (a copy when x is strided or the reduced dims are not one run), then:
//   outer = inner = 1     two passes: blocks of kChunk elements → double partials → one block
//   inner = 1             one warp per output row (a block per row when rows are long)
//   inner > 1             one thread per output column, reading coalesced rows of x; when there
//                         are too few columns to keep the GPU busy (under kColumnThreads), r is
//                         cut into segments first (column_segment: from the shape alone), one
//                         thread per (segment, column), and the partials summed in order
// Every sum accumulates in double and combines in a fixed tree order that depends only on the
// shape (never on the grid size), so results are bitwise reproducible. Blocks are kThreads wide.
// (The CPU adds float32 runs of 1024 in float before widening, so float32 sums of the two
// devices agree to rounding, not bitwise; float64 sums differ only in the order of additions.)
// max/min: for rows of at least 32 contiguous elements one warp per row whose lanes combine
// (value, position) pairs by a total order; otherwise one thread per (segment, column) scanning
// its rows in order (segments as for the sums), then the segments combined by the same order.
// Either way exactly the CPU's answer.
#include <algorithm>
#include <cmath>

#include "engine/cuda/launch.cuh"
#include "engine/factories.h"
#include "ops/cuda/reduce_cuda.h"
#include "ops/kernels/reduce_layout.h"

namespace atebm::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int64_t kChunk = 8192;        // elements per block in pass 1 of a full reduction
constexpr int64_t kBlockRow = 2048;     // rows at least this long get a block each, else a warp
constexpr int64_t kColumnThreads = int64_t{1} << 18;  // threads a column sum aims for (a large GPU
                                                      // holds 132 SMs x 2048 = 270k)
constexpr int64_t kMinSegment = 32;     // rows of a segment, at least (fewer: too little work each)
constexpr int64_t kMaxSegments = 1024;  // segments, at most (the second pass sums them in a loop)

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// Sum over the 32 lanes of a warp (fixed shuffle tree); lane 0 holds the total.
__device__ __forceinline__ double warp_sum(double v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

// Block b writes out[b] = Σ x[b·chunk, min(n, (b + 1)·chunk)). Pass 1 of a full reduction
// (In = T, Out = double), pass 2 (In = double, Out = T, one block), or both at once for n ≤ kChunk.
template <typename In, typename Out>
__global__ void chunk_sum_kernel(const In* x, int64_t n, int64_t chunk, Out* out) {
  const int64_t lo = blockIdx.x * chunk, hi = min64(n, lo + chunk);
  double acc = 0.0;
  for (int64_t i = lo + threadIdx.x; i < hi; i += kThreads) acc += static_cast<double>(x[i]);
  const double total = block_sum(acc);
  if (threadIdx.x == 0) out[blockIdx.x] = static_cast<Out>(total);
}

// x [outer, r] contiguous → out [outer]: one warp per row (the loop bound is warp-uniform, so
// the full-mask shuffles are safe).
template <typename T>
__global__ void row_sum_warp_kernel(const T* x, int64_t outer, int64_t r, T* out) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / kWarp);
  for (int64_t o = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / kWarp; o < outer; o += warps) {
    const T* p = x + o * r;
    double acc = 0.0;
    for (int64_t i = lane; i < r; i += kWarp) acc += static_cast<double>(p[i]);
    acc = warp_sum(acc);
    if (lane == 0) out[o] = static_cast<T>(acc);
  }
}

// x [outer, r] contiguous → out [outer]: one block per row, for long rows.
template <typename T>
__global__ void row_sum_block_kernel(const T* x, int64_t outer, int64_t r, T* out) {
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* p = x + o * r;
    double acc = 0.0;
    for (int64_t i = threadIdx.x; i < r; i += kThreads) acc += static_cast<double>(p[i]);
    const double total = block_sum(acc);
    if (threadIdx.x == 0) out[o] = static_cast<T>(total);
  }
}

// x [outer, r, inner] contiguous → out [outer, inner]: one thread per output, rows in order.
template <typename In, typename Out>
__global__ void column_sum_kernel(const In* x, int64_t outer, int64_t r, int64_t inner, Out* out) {
  const int64_t n = outer * inner;
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t o = t / inner, c = t % inner;
    const In* p = x + o * r * inner + c;
    double acc = 0.0;
    for (int64_t i = 0; i < r; ++i) acc += static_cast<double>(p[i * inner]);
    out[t] = static_cast<Out>(acc);
  }
}

// partial [nseg, outer·inner] (double): partial[s, o·inner + c] = Σ over rows i of segment s
// ([s·seg, min(r, (s + 1)·seg))) of x[o, i, c]. The segments are then summed in order by
// column_sum_kernel over a [1, nseg, outer·inner] view.
template <typename T>
__global__ void column_partial_kernel(const T* x, int64_t outer, int64_t r, int64_t inner, int64_t seg,
                                      int64_t nseg, double* partial) {
  const int64_t cols = outer * inner, n = nseg * cols;
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t s = t / cols, q = t % cols, o = q / inner, c = q % inner;
    const int64_t lo = s * seg, hi = min64(r, lo + seg);
    const T* p = x + o * r * inner + c;
    double acc = 0.0;
    for (int64_t i = lo; i < hi; ++i) acc += static_cast<double>(p[i * inner]);
    partial[t] = acc;
  }
}

// Extremes: `takes(ov, oi, v, i)` says whether candidate (ov at oi) replaces (v at i). A NaN
// beats a number, then the more extreme value; NaN against NaN and equal values go to the
// smaller position. This is a total order on (value, position), so any combination order gives
// the CPU's sequential answer (first NaN, else first extreme).
template <typename T>
__device__ __forceinline__ bool takes(bool is_max, T ov, int64_t oi, T v, int64_t i) {
  const bool on = isnan(ov), vn = isnan(v);
  if (on != vn) return on;
  if (on || ov == v) return oi < i;
  return is_max ? ov > v : ov < v;
}

// x [outer, r, inner] contiguous → the extreme of each (segment, column): segment s holds rows
// [s·seg, min(r, (s + 1)·seg)), column q = o·inner + c; values/indices [nseg, outer·inner]. Each
// thread scans its rows in order, as the CPU kernel does. nseg = 1 (seg = r) gives the answer
// itself; else extreme_combine_kernel takes the extreme of the segments.
template <typename T>
__global__ void extreme_segment_kernel(bool is_max, const T* x, int64_t outer, int64_t r, int64_t inner, int64_t seg,
                                       int64_t nseg, T* values, int64_t* indices) {
  const int64_t cols = outer * inner, n = nseg * cols;
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t s = t / cols, q = t % cols, o = q / inner, c = q % inner;
    const int64_t lo = s * seg, hi = min64(r, lo + seg);
    const T* p = x + o * r * inner + c;
    T best = p[lo * inner];
    int64_t arg = lo;
    for (int64_t i = lo + 1; i < hi; ++i) {
      const T v = p[i * inner];
      if (takes(is_max, v, i, best, arg)) {
        best = v;
        arg = i;
      }
    }
    values[t] = best;
    indices[t] = arg;
  }
}

// The segments' extremes [nseg, cols] → values/indices [cols], combined by `takes` (a total
// order, so the result is the sequential scan's).
template <typename T>
__global__ void extreme_combine_kernel(bool is_max, const T* seg_values, const int64_t* seg_indices, int64_t nseg,
                                       int64_t cols, T* values, int64_t* indices) {
  for (int64_t q = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; q < cols; q += int64_t{gridDim.x} * blockDim.x) {
    T best = seg_values[q];
    int64_t arg = seg_indices[q];
    for (int64_t s = 1; s < nseg; ++s) {
      const T v = seg_values[s * cols + q];
      const int64_t i = seg_indices[s * cols + q];
      if (takes(is_max, v, i, best, arg)) {
        best = v;
        arg = i;
      }
    }
    values[q] = best;
    indices[q] = arg;
  }
}

// x [outer, r] contiguous with r ≥ 32 → values/indices [outer]: one warp per row; each lane
// scans positions lane, lane + 32, ... then the lanes combine with `takes`.
template <typename T>
__global__ void extreme_row_warp_kernel(bool is_max, const T* x, int64_t outer, int64_t r, T* values,
                                        int64_t* indices) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / kWarp);
  for (int64_t o = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / kWarp; o < outer; o += warps) {
    const T* p = x + o * r;
    T best = p[lane];
    int64_t arg = lane;
    for (int64_t i = lane + kWarp; i < r; i += kWarp) {
      if (takes(is_max, p[i], i, best, arg)) {
        best = p[i];
        arg = i;
      }
    }
    for (int s = kWarp / 2; s > 0; s >>= 1) {
      const T ov = __shfl_down_sync(0xffffffffu, best, s);
      const int64_t oi = __shfl_down_sync(0xffffffffu, arg, s);
      if (takes(is_max, ov, oi, best, arg)) {
        best = ov;
        arg = oi;
      }
    }
    if (lane == 0) {
      values[o] = best;
      indices[o] = arg;
    }
  }
}

unsigned grid_for_warps(int64_t rows) { return grid_for(rows * kWarp); }
unsigned grid_for_blocks(int64_t rows) { return static_cast<unsigned>(std::min<int64_t>(rows, 65536)); }


using kernels::sum_layout;
using kernels::SumLayout;

template <typename T>
void sum_all(T* out, const T* x, int64_t n, const Device& dev) {
  if (n <= kChunk) {
    ATEBM_LAUNCH(1, kThreads, 0, current_stream(), chunk_sum_kernel<T, T>)(x, n, kChunk, out);
    ATEBM_CUDA_CHECK_LAUNCH();
    return;
  }
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const Tensor partial = empty({chunks}, {.dtype = DType::Float64, .device = dev});
  double* pp = partial.data<double>();
  ATEBM_LAUNCH(static_cast<unsigned>(chunks), kThreads, 0, current_stream(), chunk_sum_kernel<T, double>)
      (x, n, kChunk, pp);
  ATEBM_CUDA_CHECK_LAUNCH();
  ATEBM_LAUNCH(1, kThreads, 0, current_stream(), chunk_sum_kernel<double, T>)(pp, chunks, chunks, out);
  ATEBM_CUDA_CHECK_LAUNCH();
}

// Rows per segment of a column sum over [outer, r, inner] with cols = outer·inner columns: r (no
// split) when the columns alone give kColumnThreads threads or r is too short to halve, else
// about r·cols / kColumnThreads rows, but at least kMinSegment and at least r / kMaxSegments (so
// at most kMaxSegments segments), and r when that would leave one segment. A function of the shape
// alone, never of the device, so the summation order (and the bits) are the same everywhere.
// Example: [1024, 16384] over dim 0 (16384 columns) → segments of 64 rows, 262144 threads,
// where one thread per column walked all 1024 rows with 16384 threads.
int64_t column_segment(int64_t r, int64_t cols) {
  if (cols >= kColumnThreads || r < 2 * kMinSegment) return r;
  const int64_t seg = std::max({kMinSegment, (r * cols + kColumnThreads - 1) / kColumnThreads,
                                (r + kMaxSegments - 1) / kMaxSegments});
  return seg * 2 > r ? r : seg;
}

template <typename T>
void sum_middle(T* out, const T* x, int64_t outer, int64_t r, int64_t inner, const Device& dev) {
  if (inner == 1) {
    if (r >= kBlockRow) {
      ATEBM_LAUNCH(grid_for_blocks(outer), kThreads, 0, current_stream(), row_sum_block_kernel<T>)(x, outer, r, out);
    } else {
      ATEBM_LAUNCH(grid_for_warps(outer), kThreads, 0, current_stream(), row_sum_warp_kernel<T>)(x, outer, r, out);
    }
    ATEBM_CUDA_CHECK_LAUNCH();
    return;
  }
  const int64_t cols = outer * inner, seg = column_segment(r, cols);
  if (seg < r) {
    const int64_t nseg = (r + seg - 1) / seg;
    const Tensor partial = empty({nseg, cols}, {.dtype = DType::Float64, .device = dev});
    double* pp = partial.data<double>();
    ATEBM_LAUNCH(grid_for(nseg * cols), kThreads, 0, current_stream(), column_partial_kernel<T>)
        (x, outer, r, inner, seg, nseg, pp);
    ATEBM_CUDA_CHECK_LAUNCH();
    ATEBM_LAUNCH(grid_for(cols), kThreads, 0, current_stream(), column_sum_kernel<double, T>)(pp, 1, nseg, cols, out);
    ATEBM_CUDA_CHECK_LAUNCH();
    return;
  }
  ATEBM_LAUNCH(grid_for(cols), kThreads, 0, current_stream(), column_sum_kernel<T, T>)(x, outer, r, inner, out);
  ATEBM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void reduce_sum(const Tensor& out, const Tensor& x, const std::vector<bool>& reduce) {
  check_contiguous_out(out, "sum");
  check_cuda_tensor(x, "sum");
  ATEBM_CHECK(static_cast<int64_t>(reduce.size()) == x.dim(), "sum (cuda): {} reduce flags for a tensor of shape {}",
              reduce.size(), shape_str(x.shape()));
  if (out.numel() == 0) return;
  DeviceGuard guard(x.device());
  const SumLayout l = sum_layout(x, reduce);
  ATEBM_DISPATCH_FLOATING(x.dtype(), "sum", [&] {
    const scalar_t* px = l.xc.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    if (l.outer == 1 && l.inner == 1) {
      sum_all(po, px, l.r, x.device());
    } else {
      sum_middle(po, px, l.outer, l.r, l.inner, x.device());
    }
  });
}

void reduce_max_min(bool is_max, const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  const char* op = is_max ? "max" : "min";
  check_contiguous_out(values, op);
  check_contiguous_out(indices, op);
  check_cuda_tensor(x, op);
  ATEBM_CHECK(indices.dtype() == DType::Int64, "{} (cuda): indices must be int64, got {}", op, indices.dtype());
  if (values.numel() == 0) return;
  const int64_t r = x.shape()[dim];
  ATEBM_CHECK(r > 0, "{} (cuda): dim {} of shape {} is empty", op, dim, shape_str(x.shape()));
  DeviceGuard guard(x.device());
  const Tensor xc = contiguous_raw(x);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.shape()[d];
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  ATEBM_DISPATCH_FLOATING(x.dtype(), op, [&] {
    const scalar_t* px = xc.data<scalar_t>();
    scalar_t* pv = values.data<scalar_t>();
    int64_t* pi = indices.data<int64_t>();
    if (inner == 1 && r >= kWarp) {
      ATEBM_LAUNCH(grid_for_warps(outer), kThreads, 0, current_stream(), extreme_row_warp_kernel<scalar_t>)
          (is_max, px, outer, r, pv, pi);
      ATEBM_CUDA_CHECK_LAUNCH();
      return;
    }
    // Columns (or rows too short for a warp): segmented like the column sums when there are
    // too few columns to keep the GPU busy.
    const int64_t cols = outer * inner, seg = inner == 1 ? r : column_segment(r, cols);
    if (seg == r) {
      ATEBM_LAUNCH(grid_for(cols), kThreads, 0, current_stream(), extreme_segment_kernel<scalar_t>)
          (is_max, px, outer, r, inner, r, 1, pv, pi);
      ATEBM_CUDA_CHECK_LAUNCH();
      return;
    }
    const int64_t nseg = (r + seg - 1) / seg;
    const Tensor seg_values = empty({nseg, cols}, {.dtype = x.dtype(), .device = x.device()});
    const Tensor seg_indices = empty({nseg, cols}, {.dtype = DType::Int64, .device = x.device()});
    ATEBM_LAUNCH(grid_for(nseg * cols), kThreads, 0, current_stream(), extreme_segment_kernel<scalar_t>)
        (is_max, px, outer, r, inner, seg, nseg, seg_values.data<scalar_t>(), seg_indices.data<int64_t>());
    ATEBM_CUDA_CHECK_LAUNCH();
    ATEBM_LAUNCH(grid_for(cols), kThreads, 0, current_stream(), extreme_combine_kernel<scalar_t>)
        (is_max, seg_values.data<scalar_t>(), seg_indices.data<int64_t>(), nseg, cols, pv, pi);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace atebm::cuda
