#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twins of ops/cpu/index_cpu.cpp. Data is viewed [outer, n, inner] around `dim`; a source
// of index_add / scatter_add is [outer, m, inner] and its element (a, j, b) goes to out row
// index(a, j, b) of column (a, b).
//
// Deterministic accumulation without atomics or sorting. Two facts make it cheap:
//   * a source (a, j, b) only ever lands in column (a, b) of out, so one thread per column that
//     walks j = 0, 1, ... and adds into out owns every element it writes (scatter_columns_kernel);
//   * for a destination, its sources are the j of its column with index(a, j, b) = r, so one
//     thread per destination may instead scan j in order and keep the sum in a register
//     (scatter_scan_kernel).
// Both add the sources of each destination in increasing j, in the data's dtype, starting from
// zero: the CPU kernels' order, so results match them bit for bit. The column walk does O(m)
// work per column but has only outer·inner threads; the scan has outer·n·inner threads but does
// O(n·m) work per column. The walk is used unless there are few columns and the scan stays
// small (e.g. the index_add of upsample_nearest2d's backward: outer = N·C planes, inner = 1).
// The views, offsets and range rule are ops/kernels/index_math.h's, shared with the CPU loops.
#include "engine/cuda/basic_kernels_cuda.h"
#include "engine/cuda/launch.cuh"
#include "engine/factories.h"
#include "ops/cuda/index_cuda.h"
#include "ops/kernels/index_math.h"

namespace atebm::cuda {
namespace {

constexpr int64_t kFewColumns = 8192;        // below this many columns the walk under-fills the GPU
constexpr int64_t kMaxScanWork = int64_t{1} << 30;  // outer·n·inner·m steps the scan may take

namespace ix = kernels::index;
using ix::AlongDim;
using ix::around;
using ix::Around;
using ix::Position;

// out [outer, m, inner] = x [outer, n, inner] at the paired rows: index_select (1-D index) and
// gather (index of out's shape) differ only in the view.
template <typename T>
__global__ void select_kernel(T* out, const T* x, const int64_t* idx, AlongDim v, int64_t total) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < total; t += int64_t{gridDim.x} * blockDim.x)
    out[t] = x[ix::paired_offset(v, idx, ix::position_of(t, v.m, v.inner))];
}

// One thread per column (a, b): sources in order j = 0, 1, ..., added into out.
template <typename T>
__global__ void scatter_columns_kernel(T* out, const T* src, const int64_t* idx, AlongDim v) {
  const int64_t cols = v.outer * v.inner;
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < cols; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t a = t / v.inner, b = t % v.inner;
    for (int64_t j = 0; j < v.m; ++j) {
      const Position p{a, j, b};
      out[ix::paired_offset(v, idx, p)] += src[ix::operand_offset(v, p)];
    }
  }
}

// One thread per destination (a, r, b): scans its column's sources in order, sums the hits.
template <typename T>
__global__ void scatter_scan_kernel(T* out, const T* src, const int64_t* idx, AlongDim v) {
  const int64_t total = v.outer * v.n * v.inner;
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < total; t += int64_t{gridDim.x} * blockDim.x) {
    const Position d = ix::position_of(t, v.n, v.inner);  // d.j: the destination row r
    T acc = 0;
    for (int64_t j = 0; j < v.m; ++j) {
      const Position p{d.a, j, d.b};
      if (idx[ix::index_offset(v, p)] == d.j) acc += src[ix::operand_offset(v, p)];
    }
    out[t] = acc;
  }
}

// Lowest position whose value breaks the range rule; *first starts as all ones (= none).
__global__ void first_out_of_range_kernel(const int64_t* idx, int64_t count, int64_t n, unsigned long long* first) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x)
    if (!ix::in_range(idx[i], n)) atomicMin(first, static_cast<unsigned long long>(i));
}

void check_operand(const char* op, const Tensor& t, const Tensor& like, DType dtype) {
  check_cuda_tensor(t, op);
  ATEBM_CHECK(t.is_contiguous() && t.dtype() == dtype && t.device() == like.device(),
              "{} (cuda): expected a contiguous {} tensor on {}, got shape {} strides {} dtype {} on {}", op, dtype,
              like.device(), shape_str(t.shape()), shape_str(t.strides()), t.dtype(), t.device());
}

// `small` ([outer, m, inner] around dim) must match `big` ([outer, n, inner]) in outer and inner,
// or the kernels would index out of bounds.
void check_around(const char* op, const Tensor& small, const Tensor& big, int64_t dim) {
  const Around s = around(small.shape(), dim), b = around(big.shape(), dim);
  ATEBM_CHECK(s.outer == b.outer && s.inner == b.inner,
              "{} (cuda): shapes {} and {} differ outside dim {}", op, shape_str(small.shape()),
              shape_str(big.shape()), dim);
}

// out pre-zeroed; sources in increasing j per destination (see the file comment).
void scatter(const char* op, const Tensor& out, const Tensor& src, const Tensor& index, const AlongDim& v) {
  const int64_t cols = v.outer * v.inner;
  if (cols == 0 || v.m == 0 || v.n == 0) return;
  const int64_t dests = cols * v.n;
  const bool scan = cols < kFewColumns && v.m <= kMaxScanWork / dests;
  DeviceGuard guard(out.device());
  ATEBM_DISPATCH_FLOATING(out.dtype(), op, [&] {
    scalar_t* po = out.data<scalar_t>();
    const scalar_t* ps = src.data<scalar_t>();
    const int64_t* pi = index.data<int64_t>();
    if (scan) {
      ATEBM_LAUNCH(grid_for(dests), kThreads, 0, current_stream(), scatter_scan_kernel<scalar_t>)(po, ps, pi, v);
    } else {
      ATEBM_LAUNCH(grid_for(cols), kThreads, 0, current_stream(), scatter_columns_kernel<scalar_t>)(po, ps, pi, v);
    }
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void index_select(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  check_contiguous_out(out, "index_select");
  check_operand("index_select", x, out, out.dtype());
  check_operand("index_select", index, out, DType::Int64);
  check_around("index_select", out, x, dim);
  const int64_t total = out.numel();
  if (total == 0) return;
  const int64_t k = index.numel();
  ATEBM_CHECK(around(out.shape(), dim).n == k, "index_select (cuda): out {} does not hold {} selected rows",
              shape_str(out.shape()), k);
  const AlongDim v = ix::shared_index_view(x.shape(), dim, k);
  DeviceGuard guard(out.device());
  ATEBM_DISPATCH_ALL(out.dtype(), "index_select", [&] {
    ATEBM_LAUNCH(grid_for(total), kThreads, 0, current_stream(), select_kernel<scalar_t>)
        (out.data<scalar_t>(), x.data<scalar_t>(), index.data<int64_t>(), v, total);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  check_contiguous_out(out, "index_add");
  check_operand("index_add", src, out, out.dtype());
  check_operand("index_add", index, out, DType::Int64);
  check_around("index_add", src, out, dim);
  ATEBM_CHECK(around(src.shape(), dim).n == index.numel(), "index_add (cuda): src {} does not hold {} rows",
              shape_str(src.shape()), index.numel());
  scatter("index_add", out, src, index, ix::shared_index_view(out.shape(), dim, index.numel()));
}

void gather(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  check_contiguous_out(out, "gather");
  check_operand("gather", x, out, out.dtype());
  check_operand("gather", index, out, DType::Int64);
  ATEBM_CHECK(out.shape() == index.shape(), "gather (cuda): out {} and index {} differ", shape_str(out.shape()),
              shape_str(index.shape()));
  check_around("gather", index, x, dim);
  const int64_t total = index.numel();
  if (total == 0) return;
  const AlongDim v = ix::per_element_view(x.shape(), index.shape(), dim);
  DeviceGuard guard(out.device());
  ATEBM_DISPATCH_FLOATING(out.dtype(), "gather", [&] {
    ATEBM_LAUNCH(grid_for(total), kThreads, 0, current_stream(), select_kernel<scalar_t>)
        (out.data<scalar_t>(), x.data<scalar_t>(), index.data<int64_t>(), v, total);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  check_contiguous_out(out, "scatter_add");
  check_operand("scatter_add", src, out, out.dtype());
  check_operand("scatter_add", index, out, DType::Int64);
  ATEBM_CHECK(src.shape() == index.shape(), "scatter_add (cuda): src {} and index {} differ", shape_str(src.shape()),
              shape_str(index.shape()));
  check_around("scatter_add", index, out, dim);
  scatter("scatter_add", out, src, index, ix::per_element_view(out.shape(), index.shape(), dim));
}

BadIndex find_out_of_range(const Tensor& index, int64_t n) {
  check_cuda_tensor(index, "index check");
  ATEBM_CHECK(index.is_contiguous() && index.dtype() == DType::Int64,
              "index check (cuda): expected a contiguous int64 tensor, got {} with strides {}", index.dtype(),
              shape_str(index.strides()));
  const int64_t count = index.numel();
  if (count == 0) return {};
  DeviceGuard guard(index.device());
  const Tensor first = empty({1}, {.dtype = DType::Int64, .device = index.device()});
  ATEBM_CUDA_CHECK(cudaMemsetAsync(first.raw_data(), 0xFF, sizeof(int64_t), current_stream()));
  ATEBM_LAUNCH(grid_for(count), kThreads, 0, current_stream(), first_out_of_range_kernel)
      (index.data<int64_t>(), count, n, static_cast<unsigned long long*>(first.raw_data()));
  ATEBM_CUDA_CHECK_LAUNCH();
  BadIndex bad;
  memcpy_d2h(&bad.position, first.raw_data(), sizeof(int64_t));  // all ones reads as -1: none
  if (bad.position >= 0) memcpy_d2h(&bad.value, index.data<int64_t>() + bad.position, sizeof(int64_t));
  return bad;
}

}  // namespace atebm::cuda
