#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// CUDA twins of ops/cpu/pool_cpu.cpp: one thread per output element (forward) or per input
// element (avg_pool2d_grad, gather form), each running the CPU kernel's inner loops in the same
// order, so sums (in double) and max/argmax decisions match the CPU. 1/count is recomputed per
// window with the CPU's formula (IEEE division, so the same double).
#include <cmath>

#include "engine/cuda/launch.cuh"
#include "ops/cuda/pool_cuda.h"

namespace atebm::cuda {
namespace {

using cpu::Pool2dGeometry;

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// 1 / count of output window (oh, ow), as cpu inverse_counts computes it.
__device__ double inverse_count(const Pool2dGeometry& g, int64_t oh, int64_t ow, bool count_include_pad) {
  const int64_t hs = oh * g.sh - g.ph, he = min64(hs + g.kh, g.h + g.ph);
  const int64_t ws = ow * g.sw - g.pw, we = min64(ws + g.kw, g.w + g.pw);
  int64_t count = (he - hs) * (we - ws);
  if (!count_include_pad) count = (min64(he, g.h) - max64(hs, 0)) * (min64(we, g.w) - max64(ws, 0));
  return 1.0 / static_cast<double>(count);
}

// The output positions [lo, hi] whose window (no dilation) covers input position i.
struct Range {
  int64_t lo, hi;
};
__device__ Range covering(int64_t i, int64_t k, int64_t s, int64_t p, int64_t out) {
  const int64_t first = i + p - k + 1;  // smallest window start that still reaches i
  const int64_t lo = first <= 0 ? 0 : (first + s - 1) / s;
  const int64_t hi = min64((i + p) / s, out - 1);
  return {lo, hi};
}

// out [planes, oh, ow] from x [planes, h, w]; t is the flat output position.
template <typename T>
__global__ void avg_pool2d_kernel(T* out, const T* x, Pool2dGeometry g, bool count_include_pad, int64_t n) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ow = t % g.ow, r = t / g.ow, oh = r % g.oh, p = r / g.oh;
    const int64_t hs = max64(oh * g.sh - g.ph, 0), he = min64(oh * g.sh - g.ph + g.kh, g.h);
    const int64_t ws = max64(ow * g.sw - g.pw, 0), we = min64(ow * g.sw - g.pw + g.kw, g.w);
    const T* plane = x + p * g.h * g.w;
    double acc = 0.0;
    for (int64_t ih = hs; ih < he; ++ih)
      for (int64_t iw = ws; iw < we; ++iw) acc += static_cast<double>(plane[ih * g.w + iw]);
    out[t] = static_cast<T>(acc * inverse_count(g, oh, ow, count_include_pad));
  }
}

// dx [planes, h, w] from g_out [planes, oh, ow]; t is the flat input position.
template <typename T>
__global__ void avg_pool2d_grad_kernel(T* dx, const T* g_out, Pool2dGeometry g, bool count_include_pad, int64_t n) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t iw = t % g.w, r = t / g.w, ih = r % g.h, p = r / g.h;
    const Range rows = covering(ih, g.kh, g.sh, g.ph, g.oh);
    const Range cols = covering(iw, g.kw, g.sw, g.pw, g.ow);
    const T* gp = g_out + p * g.oh * g.ow;
    double acc = 0.0;
    for (int64_t oh = rows.lo; oh <= rows.hi; ++oh)
      for (int64_t ow = cols.lo; ow <= cols.hi; ++ow)
        acc += static_cast<double>(gp[oh * g.ow + ow]) * inverse_count(g, oh, ow, count_include_pad);
    dx[t] = static_cast<T>(acc);
  }
}

// values/indices [planes, oh, ow] from x [planes, h, w]: the CPU's scan, `v > best || isnan(v)`.
template <typename T>
__global__ void max_pool2d_kernel(T* values, int64_t* indices, const T* x, Pool2dGeometry g, int64_t n) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ow = t % g.ow, r = t / g.ow, oh = r % g.oh, p = r / g.oh;
    const T* plane = x + p * g.h * g.w;
    T best = static_cast<T>(-INFINITY);  // as the CPU kernel; never kept (a window always hits x)
    int64_t best_at = -1;
    for (int64_t th = 0; th < g.kh; ++th) {
      const int64_t ih = oh * g.sh - g.ph + th * g.dh;
      if (ih < 0 || ih >= g.h) continue;
      for (int64_t tw = 0; tw < g.kw; ++tw) {
        const int64_t iw = ow * g.sw - g.pw + tw * g.dw;
        if (iw < 0 || iw >= g.w) continue;
        const T v = plane[ih * g.w + iw];
        if (best_at < 0 || v > best || isnan(v)) {
          best = v;
          best_at = ih * g.w + iw;
        }
      }
    }
    values[t] = best;
    indices[t] = best_at;
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
    avg_pool2d_kernel<scalar_t><<<grid_for(n), kThreads, 0, current_stream()>>>(
        out.data<scalar_t>(), x.data<scalar_t>(), geo, count_include_pad, n);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

void avg_pool2d_grad(const Tensor& dx, const Tensor& g, const Pool2dGeometry& geo, bool count_include_pad) {
  check_args("avg_pool2d_grad", dx, g, input_elems(geo), output_elems(geo));
  const int64_t n = dx.numel();
  if (n == 0) return;
  DeviceGuard guard(g.device());
  ATEBM_DISPATCH_FLOATING(dx.dtype(), "avg_pool2d_grad", [&] {
    avg_pool2d_grad_kernel<scalar_t><<<grid_for(n), kThreads, 0, current_stream()>>>(
        dx.data<scalar_t>(), g.data<scalar_t>(), geo, count_include_pad, n);
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
    max_pool2d_kernel<scalar_t><<<grid_for(n), kThreads, 0, current_stream()>>>(
        values.data<scalar_t>(), indices.data<int64_t>(), x.data<scalar_t>(), geo, n);
    ATEBM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace atebm::cuda
