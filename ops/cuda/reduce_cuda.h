#pragma once
// CUDA twins of ops/cpu/reduce_cpu.h (defined in ops/cuda/reduce.cu, built with ATEBM_WITH_CUDA).
// Same contracts: x viewed [outer, r, inner] after the same permutation as the CPU kernel; sums
// accumulate in double in a fixed order (no float atomics), so a result does not depend on the
// launch; max/min return the first position of the extreme and a NaN wins.
#include <vector>

#include "engine/tensor.h"

namespace atebm::cuda {

/// out (contiguous CUDA tensor, x's dtype and device, x's shape with reduced dims set to 1) = sum
/// of x over the dims where reduce[d] is true. x may have any strides.
void reduce_sum(const Tensor& out, const Tensor& x, const std::vector<bool>& reduce);
/// values (x's dtype) and indices (int64), both contiguous on x's device, of shape x.shape with
/// dim set to 1: the max (is_max) or min along `dim` and the first position where it occurs.
/// The first NaN along `dim` wins. x.shape[dim] must be > 0.
void reduce_max_min(bool is_max, const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim);

}  // namespace atebm::cuda
