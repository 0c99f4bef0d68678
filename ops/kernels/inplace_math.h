#pragma once
// The per-element math of the optimiser's in-place updates, written once for both backends:
// ops/cpu/inplace_cpu.cpp and ops/cuda/inplace.cu run these same functors (t = f(t, operands...))
// and the same Adam element, so the CPU tests run the code the GPU runs. Plain C++ that also
// compiles under nvcc (see ops/kernels/elementwise_math.h for ATEBM_HD and the math by type).
//
// Scalars arrive already rounded to T, once, by the caller.
#include "ops/cpu/inplace_cpu.h"
#include "ops/kernels/elementwise_math.h"

namespace atebm::kernels {

// ---- t = f(t, operands...) ----------------------------------------------------------------------
template <typename T>
struct AddFn {  // alpha = 1
  ATEBM_HD T operator()(T x, T o) const { return x + o; }
};
template <typename T>
struct AddScaledFn {
  T a;
  ATEBM_HD T operator()(T x, T o) const { return x + a * o; }
};
template <typename T>
struct MulScalarFn {
  T k;
  ATEBM_HD T operator()(T x) const { return x * k; }
};
// lerp as PyTorch evaluates it, the branch chosen once per call (in double, w < 0.5):
// LerpLowFn is exact at w = 0, LerpHighFn (one_minus = 1 − w in T) at w = 1.
template <typename T>
struct LerpLowFn {
  T w;
  ATEBM_HD T operator()(T x, T o) const { return x + w * (o - x); }
};
template <typename T>
struct LerpHighFn {
  T one_minus;
  ATEBM_HD T operator()(T x, T o) const { return o - (o - x) * one_minus; }
};
template <typename T>
struct AddcmulFn {
  T k;
  ATEBM_HD T operator()(T x, T u, T v) const { return x + k * u * v; }
};
template <typename T>
struct AddcdivFn {
  T k;
  ATEBM_HD T operator()(T x, T u, T v) const { return x + k * u / v; }
};

// ---- Adam ---------------------------------------------------------------------------------------
// The step's scalars in T (see cpu::AdamScalars), converted once on the host.
template <typename T>
struct AdamConsts {
  T beta2, one_minus_beta2, w1, one_minus_w1, eps, neg_step, bc2, wd, scale;
  bool w1_low, has_wd, has_scale;
};

template <typename T>
AdamConsts<T> adam_consts(const cpu::AdamScalars& s) {
  AdamConsts<T> c;
  c.beta2 = static_cast<T>(s.beta2);
  c.one_minus_beta2 = static_cast<T>(1.0 - s.beta2);
  c.w1 = static_cast<T>(1.0 - s.beta1);  // lerp weight of m toward g
  c.one_minus_w1 = T(1) - c.w1;
  c.w1_low = 1.0 - s.beta1 < 0.5;
  c.eps = static_cast<T>(s.eps);
  c.neg_step = static_cast<T>(-s.step_size);
  c.bc2 = static_cast<T>(s.bias_correction2_sqrt);
  c.wd = static_cast<T>(s.weight_decay);
  c.scale = static_cast<T>(s.param_scale);
  c.has_wd = s.weight_decay != 0.0;
  c.has_scale = s.param_scale != 1.0;
  return c;
}

// One element of the fused step (the formula is at cpu::adam_update); p, m, v updated in place.
template <typename T>
ATEBM_HD void adam_element(const AdamConsts<T>& c, T& p, T g, T& m, T& v) {
  T pi = p;
  if (c.has_scale) pi = pi * c.scale;
  T gi = g;
  if (c.has_wd) gi = gi + c.wd * pi;
  const T mi = c.w1_low ? m + c.w1 * (gi - m) : gi - (gi - m) * c.one_minus_w1;
  const T vi = v * c.beta2 + c.one_minus_beta2 * gi * gi;
  const T denom = sqrt_of(vi) / c.bc2 + c.eps;
  m = mi;
  v = vi;
  p = pi + c.neg_step * mi / denom;
}

}  // namespace atebm::kernels
