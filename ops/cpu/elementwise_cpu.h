#pragma once
// CPU elementwise kernels (tier 1 of DESIGN.md: no autograd). Outputs are allocated by the
// caller (contiguous); inputs may have any strides, and binary inputs broadcast to out's shape.
#include "engine/tensor.h"

namespace atebm::cpu {

enum class UnaryOp {
  Neg, Exp, Log, Log1p, Sqrt, Rsqrt, Abs, Sign, Relu, LeakyRelu /*a = slope*/, Sigmoid, Softplus, Tanh, Silu,
  Clamp /*a = lo, b = hi*/, PowScalar /*a = exponent*/, AddScalar /*a*/, MulScalar /*a*/, RsubScalar /*a - x*/,
  Reciprocal, Square,
  // masks (no gradient): values in x's dtype
  ReluMask /*x > 0*/, LeakyMask /*x > 0 ? 1 : a*/, ClampMask /*a <= x <= b*/,
};

enum class BinaryOp { Add, Sub, Mul, Div, Maximum, Minimum };
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge };

/// out = op(x) (same shape; out contiguous, same dtype as x).
void unary(UnaryOp op, const Tensor& out, const Tensor& x, double a = 0.0, double b = 0.0);
/// out = op(a, b) with a, b broadcast to out.shape(); all three of one float dtype.
void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b);
/// out (bool) = a op b with broadcasting.
void compare(CompareOp op, const Tensor& out, const Tensor& a, const Tensor& b);
/// out (bool) = x op scalar.
void compare_scalar(CompareOp op, const Tensor& out, const Tensor& x, double s);
/// out = mask ? a : b, with mask (bool or 0/1 of a's dtype) broadcast to out.
void where(const Tensor& out, const Tensor& mask, const Tensor& a, const Tensor& b);
/// out = g * mask(x) in one pass for the hot activations' backward (no create_graph):
/// LeakyMask with slope a, ReluMask, ClampMask(a, b).
void masked_grad(UnaryOp mask_op, const Tensor& out, const Tensor& g, const Tensor& x, double a, double b);

/// Strides of `t` viewed with broadcasting as shape `out` (0 on broadcast dims).
Shape broadcast_strides(const Tensor& t, const Shape& out);

}  // namespace atebm::cpu
