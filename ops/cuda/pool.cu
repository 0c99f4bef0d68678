#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twins of ops/cpu/pool_cpu.cpp: one thread per output element (forward) or per input
// element (avg_pool2d_grad, gather form). The per-window code is the CPU's own, from
// ops/kernels/pool_math.h (window clipping, sums in double in row-major order, the max scan with
// its NaN and tie rules, the covering windows), so sums and max/argmax decisions match the CPU.
// 1/count is recomputed per window with the shared formula (IEEE division, so the CPU's double).
#include "engine/cuda/launch.cuh"
#include "ops/cuda/pool_cuda.h"
#include "ops/kernels/pool_math.h"

namespace atebm::cuda {
namespace {

using cpu::Pool2dGeometry;
using kernels::pool::covering;
using kernels::pool::Range;
using kernels::pool::Span;
using kernels::pool::window_span;

// inv(oh, ow) of kernels::pool::gather_grad, recomputed per window (no table on the device).
struct InverseCount {
  const Pool2dGeometry& g;
  bool count_include_pad;
  __device__ __forceinline__ double operator()(int64_t oh, int64_t ow) const {
    return kernels::pool::inverse_count(g, oh, ow, count_include_pad);
  }
};

// out [planes, oh, ow] from x [planes, h, w]; t is the flat output position.
template <typename T>
__global__ void avg_pool2d_kernel(T* out, const T* x, Pool2dGeometry g, bool count_include_pad, int64_t n) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ow = t % g.ow, r = t / g.ow, oh = r % g.oh, p = r / g.oh;
    const Span rows = window_span(oh, g.kh, g.sh, g.ph, g.h), cols = window_span(ow, g.kw, g.sw, g.pw, g.w);
    const double acc = kernels::pool::window_sum(x + p * g.h * g.w, g.w, rows, cols);
    out[t] = static_cast<T>(acc * kernels::pool::inverse_count(g, oh, ow, count_include_pad));
  }
}

// dx [planes, h, w] from g_out [planes, oh, ow]; t is the flat input position.
template <typename T>
__global__ void avg_pool2d_grad_kernel(T* dx, const T* g_out, Pool2dGeometry g, bool count_include_pad, int64_t n) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t iw = t % g.w, r = t / g.w, ih = r % g.h, p = r / g.h;
    const Range rows = covering(ih, g.kh, g.sh, g.ph, g.oh);
    const Range cols = covering(iw, g.kw, g.sw, g.pw, g.ow);
    const InverseCount inv{g, count_include_pad};
    dx[t] = static_cast<T>(kernels::pool::gather_grad(g_out + p * g.oh * g.ow, g.ow, rows, cols, inv));
  }
}

// values/indices [planes, oh, ow] from x [planes, h, w]: the CPU's scan (kernels::pool::max_window).
template <typename T>
__global__ void max_pool2d_kernel(T* values, int64_t* indices, const T* x, Pool2dGeometry g, int64_t n) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ow = t % g.ow, r = t / g.ow, oh = r % g.oh, p = r / g.oh;
    const kernels::pool::ArgMax<T> best = kernels::pool::max_window(x + p * g.h * g.w, g, oh, ow);
    values[t] = best.value;
    indices[t] = best.at;
  }
}

// out and in contiguous on one device with one dtype, holding out_elems and in_elems elements
// (the kernels index them through the geometry, so a mismatch would read out of bounds).
void check_args(const char* op, const Tensor& out, const Tensor& in, int64_t out_elems, int64_t in_elems) {
  check_contiguous_out(out, op);
  check_cuda_tensor(in, op);
  ATEBM_CHECK(in.is_contiguous() && in.dtype() == out.dtype() && in.device() == out.device(),
              "{} (cuda): expected a contiguous {} input on {}, got shape {} strides {} dtype {} on {}", op,
              out.dtype(), out.device(), shape_str(in.shape()), shape_str(in.strides()), in.dtype(), in.device());
  ATEBM_CHECK(out.numel() == out_elems && in.numel() == in_elems,
              "{} (cuda): tensors of shapes {} and {} do not fit the pooling geometry ({} and {} elements expected)",
              op, shape_str(out.shape()), shape_str(in.shape()), out_elems, in_elems);
}

int64_t input_elems(const Pool2dGeometry& g) { return g.planes * g.h * g.w; }
int64_t output_elems(const Pool2dGeometry& g) { return g.planes * g.oh * g.ow; }

}  // namespace

void avg_pool2d(const Tensor& out, const Tensor& x, const Pool2dGeometry& geo, bool count_include_pad) {
  check_args("avg_pool2d", out, x, output_elems(geo), input_elems(geo));
  const int64_t n = out.numel();
  if (n == 0) return;
  DeviceGuard guard(x.device());
  ATEBM_DISPATCH_FLOATING(x.dtype(), "avg_pool2d", [&] {
    ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), avg_pool2d_kernel<scalar_t>)
        (out.data<scalar_t>(), x.data<scalar_t>(), geo, count_include_pad, n);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

void avg_pool2d_grad(const Tensor& dx, const Tensor& g, const Pool2dGeometry& geo, bool count_include_pad) {
  check_args("avg_pool2d_grad", dx, g, input_elems(geo), output_elems(geo));
  const int64_t n = dx.numel();
  if (n == 0) return;
  DeviceGuard guard(g.device());
  ATEBM_DISPATCH_FLOATING(dx.dtype(), "avg_pool2d_grad", [&] {
    ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), avg_pool2d_grad_kernel<scalar_t>)
        (dx.data<scalar_t>(), g.data<scalar_t>(), geo, count_include_pad, n);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

void max_pool2d(const Tensor& values, const Tensor& indices, const Tensor& x, const Pool2dGeometry& geo) {
  check_args("max_pool2d", values, x, output_elems(geo), input_elems(geo));
  check_contiguous_out(indices, "max_pool2d");
  ATEBM_CHECK(indices.dtype() == DType::Int64 && indices.shape() == values.shape(),
              "max_pool2d (cuda): indices must be int64 of the values' shape {}, got {} {}", shape_str(values.shape()),
              indices.dtype(), shape_str(indices.shape()));
  const int64_t n = values.numel();
  if (n == 0) return;
  DeviceGuard guard(x.device());
  ATEBM_DISPATCH_FLOATING(x.dtype(), "max_pool2d", [&] {
    ATEBM_LAUNCH(grid_for(n), kThreads, 0, current_stream(), max_pool2d_kernel<scalar_t>)
        (values.data<scalar_t>(), indices.data<int64_t>(), x.data<scalar_t>(), geo, n);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace atebm::cuda
