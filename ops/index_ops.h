#pragma once
// Joining and indexing. Closed pairs keep every order differentiable:
// cat ↔ slice, index_select ↔ index_add, gather ↔ scatter_add.
#include "engine/tensor.h"

namespace atebm {

/// Concatenates along `dim`; all other sizes, dtypes and devices must match.
Tensor cat(const Tensors& xs, int64_t dim = 0);
/// Stacks along a new dim.
Tensor stack(const Tensors& xs, int64_t dim = 0);
/// Rows `index` (int64, 1-D) of x along `dim` (0 for batches of samples).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
/// A zero tensor of `shape` with src's slices added at `index` along dim (repeats accumulate).
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
/// out[i][j][k] = x[i][index[i][j][k]][k] for dim 1 (index has x's rank; torch.gather).
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
/// A zero tensor of `shape` with out[i][index[i][j][k]][k] += src[i][j][k] for dim 1.
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);

}  // namespace atebm
