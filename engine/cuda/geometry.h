#pragma once
// The strided-index geometry as the CUDA kernels use it (plain C++, no CUDA include, so the CPU
// tests include it too): engine/strided_geometry.h, built from tensors' stride vectors, with
// errors naming the op as "op (cuda)".
#include <array>
#include <cstddef>

#include "engine/strided_geometry.h"

namespace atebm::cuda {

using atebm::Geometry;
using atebm::kMaxDims;
using atebm::offsets_of;

template <int N>
inline Geometry<N> make_geometry(const Shape& shape, const std::array<const Shape*, N>& strides, const char* op) {
  std::array<const int64_t*, static_cast<size_t>(N)> rows;
  for (int k = 0; k < N; ++k) rows[k] = strides[k]->data();
  return atebm::make_geometry<N>(shape, rows, op, " (cuda)");
}

}  // namespace atebm::cuda
