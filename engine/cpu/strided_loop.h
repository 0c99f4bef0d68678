#pragma once
// The one loop every CPU elementwise kernel runs on. N operands share an index space `shape`,
// each with its own element strides (0 on broadcast dims). Dims are coalesced where every
// operand allows it, the flat index range is split over threads, and the body is called on
// runs along the innermost dim:
//   body(n, offs, inner)  — n elements; operand k starts at element offset offs[k] and steps by
//                           inner[k] (0, 1 or anything else).
// Kernels specialise the body for the common inner strides (all 1, or 0/1) so the compiler can
// vectorise it; fully contiguous tensors coalesce to a single dim.
#include <array>
#include <cstdint>

#include "engine/parallel.h"
#include "engine/shape.h"
#include "engine/strided_geometry.h"

namespace atebm::cpu {

constexpr int64_t kElementwiseGrain = 32768;

template <size_t N, typename Body>
void strided_loop(const Shape& shape, const std::array<const int64_t*, N>& strides, Body&& body,
                  int64_t grain = kElementwiseGrain) {
  const int64_t total = numel_of(shape);
  if (total == 0) return;
  // Dims coalesced as the CUDA kernels coalesce them (engine/strided_geometry.h); a single
  // element (every dim of size 1) becomes one dim of size 1 so the loop below has an inner dim.
  Geometry<static_cast<int>(N)> g = make_geometry<static_cast<int>(N)>(shape, strides, "elementwise");
  if (g.ndim == 0) {
    g.ndim = 1;
    g.sizes[0] = 1;
    for (size_t k = 0; k < N; ++k) g.strides[k][0] = 1;
  }
  const int inner_dim = g.ndim - 1;
  const int64_t inner = g.sizes[inner_dim];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = g.strides[k][inner_dim];

  parallel_for(0, total, grain, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    while (i < end) {
      int64_t row = i / inner;
      const int64_t col = i % inner;
      const int64_t n = std::min(inner - col, end - i);
      std::array<int64_t, N> offs;
      for (size_t k = 0; k < N; ++k) offs[k] = col * inner_stride[k];
      for (int d = inner_dim - 1; d >= 0 && row > 0; --d) {
        const int64_t idx = row % g.sizes[d];
        row /= g.sizes[d];
        for (size_t k = 0; k < N; ++k) offs[k] += idx * g.strides[k][d];
      }
      body(n, offs, inner_stride);
      i += n;
    }
  });
}

}  // namespace atebm::cpu
