#pragma once
// In-place updates for optimisers, EMA and other code that owns its tensors' memory. They are
// NOT recorded by autograd, so they follow PyTorch's rules to keep gradients honest:
//   - with grad mode on, writing into a tensor that requires grad (a leaf that requires grad,
//     or any tensor with a grad_fn) throws; optimisers run under NoGradGuard;
//   - every call bumps the written tensor's storage version, so a graph that saved it (or any
//     view of its storage) refuses to backward through the stale value ("modified in place");
//   - the written tensor must not overlap itself (an expanded view) nor partially overlap an
//     operand (the result would depend on the loop order).
// Other operands broadcast to the written tensor's shape and share its dtype and device.
//
//   NoGradGuard ng;
//   add_(p, p.grad(), -lr);            // p ← p − lr·g
//   lerp_(shadow, p, 1 - decay);       // shadow ← decay·shadow + (1 − decay)·p
#include "engine/tensor.h"
#include "ops/cpu/inplace_cpu.h"

namespace atebm {

/// t ← t + alpha·other
Tensor add_(const Tensor& t, const Tensor& other, double alpha = 1.0);
/// t ← t·s
Tensor mul_(const Tensor& t, double s);
/// t ← 0 (any dtype, any device)
Tensor zero_(const Tensor& t);
/// dst ← src (same shape; dtype and device may differ and are converted)
Tensor copy_(const Tensor& dst, const Tensor& src);
/// t ← t + w·(other − t); exact at w = 0 and w = 1 (PyTorch's two-sided formula)
Tensor lerp_(const Tensor& t, const Tensor& other, double w);
/// t ← t + value·a·b
Tensor addcmul_(const Tensor& t, const Tensor& a, const Tensor& b, double value = 1.0);
/// t ← t + value·a/b
Tensor addcdiv_(const Tensor& t, const Tensor& a, const Tensor& b, double value = 1.0);

/// One fused Adam step on a parameter p with gradient g and moments m (exp_avg), v (exp_avg_sq),
/// all of one shape, dtype and device; see cpu::adam_update for the formula. Writes p, m and v
/// (bumping their versions); non-contiguous operands go through contiguous copies.
void adam_update_(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v,
                  const cpu::AdamScalars& s);

}  // namespace atebm
