#pragma once
// Differentiable matrix products on top of GEMM (ops/cpu/gemm_cpu.h).
//
//   matmul(a, b):   [m, k] × [k, n] → [m, n], or batched [B, m, k] × [B, k, n] → [B, m, n]
//                   (same B on both sides; no broadcasting of batch dims).
//   linear(x, w, b) = x · wᵀ + b, PyTorch's layout: x [..., in], w [out, in], b [out] or undefined
//                   → [..., out].
// Operands may be transposed or otherwise strided views: when a matrix is row- or column-major
// in memory the GEMM reads it in place with a transpose flag (transpose(w) costs nothing);
// only other layouts are copied. Backward: dA = G·Bᵀ, dB = Aᵀ·G, written with matmul and
// transpose, so every order of derivative works.
#include "engine/tensor.h"

namespace atebm {

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = {});

}  // namespace atebm
