#pragma once
// Reductions. Sums are deterministic: the split into chunks does not depend on the thread count,
// so the same inputs give the same bits on 1 or 16 threads.
#include <vector>

#include "engine/tensor.h"

namespace atebm {

/// Sum of all elements (0-dim result).
Tensor sum(const Tensor& x);
/// Sum over `dims` (negative dims count from the end); keepdim keeps them with size 1.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

struct ValuesIndices {
  Tensor values;   // differentiable
  Tensor indices;  // int64, position along `dim` of the first extreme value
};
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);

/// Per-sample L2 norm over all dims but the first: x [N, ...] → [N]. The gradient at a zero
/// sample is 0 (the subgradient PyTorch's norm picks).
Tensor l2_norm_per_sample(const Tensor& x);

/// Reduces a broadcast gradient back to `shape`: sums over leading dims and over dims where
/// shape has 1. The inverse of expand; its backward is expand.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace atebm
