#pragma once
// Differentiable pointwise functions. Each backward is written with differentiable ops, so
// every one of them has derivatives of any order. Piecewise functions (relu, leaky_relu, abs,
// clamp) multiply the incoming gradient by a mask that is a constant of the graph: their
// second derivative is zero almost everywhere, exactly as in PyTorch.
#include "engine/tensor.h"

namespace atebm {

Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
/// -1, 0 or 1 (no gradient: the result is a constant of the graph).
Tensor sign(const Tensor& x);
/// min(max(x, lo), hi); gradient 1 where lo <= x <= hi, else 0.
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double slope = 0.01);
Tensor sigmoid(const Tensor& x);
/// log(1 + e^x), stable for any x.
Tensor softplus(const Tensor& x);
Tensor tanh(const Tensor& x);
/// x · sigmoid(x)
Tensor silu(const Tensor& x);

}  // namespace atebm
