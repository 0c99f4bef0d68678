#pragma once
// The window arithmetic of 2-D pooling, written once for both backends: the loops of
// ops/cpu/pool_cpu.cpp and the kernels of ops/cuda/pool.cu call these same functions, so the
// CPU tests run the per-window code the GPU runs (which positions a window holds and in which
// order, the average's divisor, the max-pool scan with its NaN and tie rules, and the windows
// that cover an input position for the gradient's gather form). What stays in the backends is
// how the windows are walked (rows over threads on the CPU, one thread per element on CUDA) and
// whether 1/count is tabled (CPU) or recomputed (CUDA).
//
// Geometry: cpu::Pool2dGeometry (ops/cpu/pool_cpu.h). Along one axis of input size n, with
// kernel k, stride s, padding p and dilation d, output o's window starts at o·s − p and holds
// taps o·s − p + t·d for t in [0, k); positions outside [0, n) are padding. Plain C++ that also
// compiles under nvcc (ATEBM_HD: engine/host_device.h); all integer arithmetic is int64.
#include <cmath>
#include <cstdint>

#include "engine/host_device.h"
#include "ops/cpu/pool_cpu.h"

namespace atebm::kernels::pool {

using cpu::Pool2dGeometry;

ATEBM_HD int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
ATEBM_HD int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// An index range along one axis. Span: [lo, hi) (empty when hi ≤ lo); Range: [lo, hi].
struct Span {
  int64_t lo, hi;
};
struct Range {
  int64_t lo, hi;
};

// ---- average pooling (dilation 1) ---------------------------------------------------------------
// The input positions [lo, hi) of window o along an axis of size n: the window clipped to the
// input (padding holds zeros, so it adds nothing to the sum).
ATEBM_HD Span window_span(int64_t o, int64_t k, int64_t s, int64_t p, int64_t n) {
  const int64_t start = o * s - p;
  return {max64(start, 0), min64(start + k, n)};
}

// The divisor's extent of window o along one axis: the window clipped to the padded input
// [−p, n + p) when count_include_pad, else to the input [0, n).
ATEBM_HD int64_t divisor_extent(int64_t o, int64_t k, int64_t s, int64_t p, int64_t n, bool count_include_pad) {
  const int64_t start = o * s - p;
  if (count_include_pad) return min64(start + k, n + p) - start;
  return min64(start + k, n) - max64(start, 0);
}

// 1 / count of output window (oh, ow): count = the product of the two divisor extents, divided
// in double (IEEE, so every backend gets the same double).
ATEBM_HD double inverse_count(const Pool2dGeometry& g, int64_t oh, int64_t ow, bool count_include_pad) {
  const int64_t count = divisor_extent(oh, g.kh, g.sh, g.ph, g.h, count_include_pad) *
                        divisor_extent(ow, g.kw, g.sw, g.pw, g.w, count_include_pad);
  return 1.0 / static_cast<double>(count);
}

// Σ plane[ih, iw] over rows × cols in row-major order, in double; plane is [·, w].
template <typename T>
ATEBM_HD double window_sum(const T* plane, int64_t w, Span rows, Span cols) {
  double acc = 0.0;
  for (int64_t ih = rows.lo; ih < rows.hi; ++ih)
    for (int64_t iw = cols.lo; iw < cols.hi; ++iw) acc += static_cast<double>(plane[ih * w + iw]);
  return acc;
}

// The output positions [lo, hi] (along one axis with `out` outputs) whose window covers input
// position i: the windows of the gradient's gather form (dilation 1).
ATEBM_HD Range covering(int64_t i, int64_t k, int64_t s, int64_t p, int64_t out) {
  const int64_t first = i + p - k + 1;  // smallest window start that still reaches i
  const int64_t lo = first <= 0 ? 0 : (first + s - 1) / s;
  const int64_t hi = min64((i + p) / s, out - 1);
  return {lo, hi};
}

// dx of one input position: Σ g[oh, ow] · inv(oh, ow) over the covering windows, rows × cols in
// row-major order, in double; g is one plane [·, out_w]; inv(oh, ow) returns inverse_count.
template <typename T, typename Inv>
ATEBM_HD double gather_grad(const T* g, int64_t out_w, Range rows, Range cols, const Inv& inv) {
  double acc = 0.0;
  for (int64_t oh = rows.lo; oh <= rows.hi; ++oh)
    for (int64_t ow = cols.lo; ow <= cols.hi; ++ow) acc += static_cast<double>(g[oh * out_w + ow]) * inv(oh, ow);
  return acc;
}

// ---- max pooling --------------------------------------------------------------------------------
// The maximum of a window and its flat position ih·w + iw in the input plane.
template <typename T>
struct ArgMax {
  T value;
  int64_t at;
};

// Scans window (oh, ow) of plane [h, w] in row-major tap order over its in-bounds positions:
// the first position is taken, then a later one replaces it when strictly greater or NaN. So
// ties keep the first maximum, and a NaN wins (the last NaN, as in PyTorch). Padding is never
// selected; the caller guarantees every window holds an input position (else at = −1 and the
// value is −inf).
template <typename T>
ATEBM_HD ArgMax<T> max_window(const T* plane, const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  ArgMax<T> best{static_cast<T>(-INFINITY), -1};
  for (int64_t th = 0; th < g.kh; ++th) {
    const int64_t ih = oh * g.sh - g.ph + th * g.dh;
    if (ih < 0 || ih >= g.h) continue;
    for (int64_t tw = 0; tw < g.kw; ++tw) {
      const int64_t iw = ow * g.sw - g.pw + tw * g.dw;
      if (iw < 0 || iw >= g.w) continue;
      const T v = plane[ih * g.w + iw];
      if (best.at < 0 || v > best.value || v != v) {  // v != v: v is NaN
        best.value = v;
        best.at = ih * g.w + iw;
      }
    }
  }
  return best;
}

}  // namespace atebm::kernels::pool
