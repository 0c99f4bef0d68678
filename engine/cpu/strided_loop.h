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

namespace atebm::cpu {

constexpr int64_t kElementwiseGrain = 32768;

template <size_t N>
struct LoopGeometry {
  int nd = 0;
  int64_t sizes[16] = {};
  int64_t strides[N][16] = {};
};

template <size_t N>
LoopGeometry<N> coalesce(const Shape& shape, const std::array<const int64_t*, N>& strides) {
  ATEBM_CHECK(shape.size() <= 16, "tensors with more than 16 dims are not supported (got {})",
              shape.size());
  LoopGeometry<N> g;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // size-1 dims never move any pointer
    if (g.nd > 0) {
      // Merge with the previous (outer) dim when outer stride == inner stride * inner size.
      bool mergeable = true;
      for (size_t k = 0; k < N; ++k)
        mergeable &= g.strides[k][g.nd - 1] == strides[k][d] * shape[d];
      if (mergeable) {
        g.sizes[g.nd - 1] *= shape[d];
        for (size_t k = 0; k < N; ++k) g.strides[k][g.nd - 1] = strides[k][d];
        continue;
      }
    }
    g.sizes[g.nd] = shape[d];
    for (size_t k = 0; k < N; ++k) g.strides[k][g.nd] = strides[k][d];
    ++g.nd;
  }
  if (g.nd == 0) {  // a scalar or all-ones shape: one element
    g.nd = 1;
    g.sizes[0] = 1;
    for (size_t k = 0; k < N; ++k) g.strides[k][0] = 1;
  }
  return g;
}

template <size_t N, typename Body>
void strided_loop(const Shape& shape, const std::array<const int64_t*, N>& strides, Body&& body,
                  int64_t grain = kElementwiseGrain) {
  const int64_t total = numel_of(shape);
  if (total == 0) return;
  const LoopGeometry<N> g = coalesce<N>(shape, strides);
  const int inner_dim = g.nd - 1;
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
