#pragma once
// CPU reduction kernels (no autograd). Every reduction is seen as x viewed [outer, r, inner]
// (kept dims before, reduced dims, kept dims after; other layouts are permuted to this first
// by the caller of reduce_sum). Sums accumulate in double in fixed-size blocks, so results do
// not depend on the number of threads.
#include <vector>

#include "engine/tensor.h"

namespace atebm::cpu {

/// out (contiguous, x's dtype, x's shape with reduced dims set to 1) = sum of x over the dims
/// where reduce[d] is true. x may have any strides.
void reduce_sum(const Tensor& out, const Tensor& x, const std::vector<bool>& reduce);
/// values (x's dtype) and indices (int64), both contiguous of shape x.shape with dim set to 1:
/// the max (is_max) or min along `dim` and the first position where it occurs. NaN wins.
void reduce_max_min(bool is_max, const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim);

}  // namespace atebm::cpu
