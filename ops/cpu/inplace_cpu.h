#pragma once
// CPU kernels of the in-place updates optimisers use (tier 1 of DESIGN.md: no autograd, no
// checks beyond the shape contract, no version bumps; ops/inplace.h does those).
//
// Shape contract: `t` is the written tensor (any strides, no two elements at one address);
// every other tensor operand broadcasts to t.shape() and has t's dtype (float32 or float64).
// Scalars arrive as double and are rounded to t's dtype once, before the loop.
#include "engine/tensor.h"

namespace atebm::cpu {

/// t += alpha · other
void add_scaled_inplace(const Tensor& t, const Tensor& other, double alpha);
/// t *= s
void mul_scalar_inplace(const Tensor& t, double s);
/// t += w · (other − t), evaluated as PyTorch's lerp does so that w = 1 gives `other` exactly:
///   w < 0.5 ? t + w·(other − t) : other − (other − t)·(1 − w)
void lerp_inplace(const Tensor& t, const Tensor& other, double w);
/// t += value · a · b
void addcmul_inplace(const Tensor& t, const Tensor& a, const Tensor& b, double value);
/// t += value · a / b
void addcdiv_inplace(const Tensor& t, const Tensor& a, const Tensor& b, double value);

/// The scalars of one Adam step (computed once per parameter by the optimiser).
struct AdamScalars {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double step_size = 1e-3;           // lr / (1 − β1^t)
  double bias_correction2_sqrt = 1;  // sqrt(1 − β2^t)
  double weight_decay = 0;           // L2: g ← g + wd·p   (Adam)
  double param_scale = 1;            // decoupled: p ← p·(1 − lr·wd) first  (AdamW; 1 = off)
};

/// One fused Adam step over n contiguous elements, one pass over p, g, m, v:
///   p ← p·param_scale;  g ← g + wd·p
///   m ← lerp(m, g, 1 − β1)                 (β1 = 0 ⇒ m = g exactly)
///   v ← β2·v + (1 − β2)·g·g
///   p ← p − step_size · m / (sqrt(v)/bias_correction2_sqrt + eps)
/// The order of operations is torch.optim.Adam's single-tensor path.
template <typename T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamScalars& s);

}  // namespace atebm::cpu
