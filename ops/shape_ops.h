#pragma once
// Differentiable views and copies. Views share storage with their input (no copy) and record
// how to map the gradient back: reshape ↔ reshape, permute ↔ inverse permute,
// expand ↔ sum_to, slice ↔ slice_backward (a zero tensor with the slice filled in).
#include <vector>

#include "engine/tensor.h"

namespace atebm {

/// A view with the new shape when the strides allow it, else a contiguous copy. One dim may be -1.
Tensor reshape(const Tensor& x, Shape shape);
/// Like reshape but never copies: throws when x's strides do not allow the view.
Tensor view(const Tensor& x, Shape shape);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
/// Elements start, start + step, ... < end along dim (end clamped to the size).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
/// Index `index` of dim, removing the dim.
Tensor select(const Tensor& x, int64_t dim, int64_t index);
/// Broadcasts size-1 dims (and new leading dims) to `shape` with stride 0; -1 keeps a size.
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);

/// x itself when already contiguous, else a contiguous copy (differentiable).
Tensor contiguous(const Tensor& x);
/// Always a new contiguous copy (differentiable).
Tensor clone(const Tensor& x);
/// Converts dtype (differentiable between float dtypes).
Tensor to(const Tensor& x, DType dtype);
/// Copies to another device (differentiable: the gradient goes back to x's device).
Tensor to(const Tensor& x, Device device);

/// The gradient of slice(): a zero tensor of `shape` holding g at the sliced positions.
Tensor slice_backward(const Tensor& g, const Shape& shape, int64_t dim, int64_t start, int64_t end, int64_t step);

}  // namespace atebm
