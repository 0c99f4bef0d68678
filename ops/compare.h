#pragma once
// Comparisons (bool results, no gradient) and selection by a mask. A mask is a bool tensor or a
// 0/1 tensor of the data's dtype; it broadcasts like any operand and is never differentiated.
#include "engine/tensor.h"

namespace atebm {

Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double s);
Tensor ne(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);
Tensor le(const Tensor& a, double s);
Tensor gt(const Tensor& a, double s);
Tensor ge(const Tensor& a, double s);

/// mask ? a : b, broadcasting all three; differentiable in a and b.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);
/// mask ? a : s
Tensor where(const Tensor& mask, const Tensor& a, double s);
/// The elements of x where mask is set, as a 1-D tensor in row-major order (mask broadcast to
/// x's shape); differentiable in x.
Tensor masked_select(const Tensor& x, const Tensor& mask);
/// Row-major flat positions (int64, shape [k]) of the non-zero elements of t.
Tensor nonzero_flat(const Tensor& t);

}  // namespace atebm
