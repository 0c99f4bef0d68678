#pragma once
// CUDA twins of ops/cpu/elementwise_cpu.h (defined in ops/cuda/elementwise.cu, built with
// ATEBM_WITH_CUDA). Same contracts and the same math as the CPU kernels (NaN rules of sign,
// maximum/minimum, clamp and the masks included): outputs are allocated by the caller
// (contiguous, on the inputs' device); inputs may have any strides, and binary inputs broadcast
// to out's shape. When every operand is contiguous, of out's shape and aligned to its vector
// width, the kernels move 16 bytes per load and store (float4 / double2).
#include "engine/tensor.h"
#include "ops/cpu/elementwise_cpu.h"

namespace atebm::cuda {

/// out = op(x) (same shape; out contiguous, same dtype as x).
void unary(cpu::UnaryOp op, const Tensor& out, const Tensor& x, double a = 0.0, double b = 0.0);
/// out = op(a, b) with a, b broadcast to out.shape(); all three of one float dtype.
void binary(cpu::BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b);
/// out (bool) = a op b with broadcasting (a, b of one dtype: float, int64 or bool).
void compare(cpu::CompareOp op, const Tensor& out, const Tensor& a, const Tensor& b);
/// out (bool) = x op scalar (the scalar rounded to x's dtype first, as on the CPU).
void compare_scalar(cpu::CompareOp op, const Tensor& out, const Tensor& x, double s);
/// out = mask ? a : b, with mask (bool or 0/1 of a's dtype) broadcast to out.
void where(const Tensor& out, const Tensor& mask, const Tensor& a, const Tensor& b);
/// out = g * mask(x) in one pass (LeakyMask with slope a, ReluMask, ClampMask(a, b)).
void masked_grad(cpu::UnaryOp mask_op, const Tensor& out, const Tensor& g, const Tensor& x, double a, double b);

}  // namespace atebm::cuda
