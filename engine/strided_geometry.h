#pragma once
// Geometry<N>: N operands of one logical shape with arbitrary strides (broadcast dims have stride
// 0). The one description of a strided index space that both backends walk: the CPU's
// strided_loop (engine/cpu/strided_loop.h) and the strided CUDA kernels (engine/cuda/launch.cuh,
// which pass it to kernels by value). Plain C++, so the index arithmetic is unit-tested on the
// CPU (tests/engine/test_geometry.cpp) even where no GPU is.
//
// make_geometry drops size-1 dims and merges neighbouring dims that are contiguous with each
// other in every operand, so a contiguous tensor becomes 1-d (no divisions per element) and
// shapes with more than kMaxDims dims usually still fit. offsets_of turns a logical row-major
// index into each operand's element offset.
#include <array>
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "engine/host_device.h"
#include "engine/shape.h"

namespace atebm {

constexpr int kMaxDims = 16;

template <int N>
struct Geometry {
  int ndim = 0;  // 0 for a single element (every dim of size 1)
  int64_t sizes[kMaxDims];
  int64_t strides[N][kMaxDims];  // in elements
};

/// strides[k]: operand k's strides for `shape` (shape.size() values each). Errors name the caller
/// as op + suffix (the CUDA side adds " (cuda)").
template <int N>
Geometry<N> make_geometry(const Shape& shape, const std::array<const int64_t*, static_cast<size_t>(N)>& strides,
                          const char* op, const char* suffix = "") {
  Geometry<N> g;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // size-1 dims never move any offset
    if (g.ndim > 0) {
      // Dim d folds into the previous kept dim when, in every operand, stepping the previous
      // dim once equals stepping d through all its values.
      const int last = g.ndim - 1;
      bool merge = true;
      for (int k = 0; k < N; ++k) merge = merge && g.strides[k][last] == strides[k][d] * shape[d];
      if (merge) {
        g.sizes[last] *= shape[d];
        for (int k = 0; k < N; ++k) g.strides[k][last] = strides[k][d];
        continue;
      }
    }
    ATEBM_CHECK(g.ndim < kMaxDims, "{}{}: shape {} has more than {} non-mergeable dims", op, suffix,
                shape_str(shape), kMaxDims);
    g.sizes[g.ndim] = shape[d];
    for (int k = 0; k < N; ++k) g.strides[k][g.ndim] = strides[k][d];
    ++g.ndim;
  }
  return g;
}

/// Element offsets of logical (row-major) index i in each operand.
template <int N>
ATEBM_HD void offsets_of(const Geometry<N>& g, int64_t i, int64_t (&off)[N]) {
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

}  // namespace atebm
