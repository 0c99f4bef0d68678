#pragma once
// The per-element and per-sample formulas of the fused PGD update (ops/pgd_update.h states the
// update), written once for both backends: the loops of ops/cpu/pgd_cpu.cpp and the kernels of
// ops/cuda/pgd.cu call these same functions, so the CPU tests run the arithmetic the GPU runs.
// What stays in the backends is the structure: the loops, the per-sample reductions (the CPU
// sums serially, CUDA in fixed chunks) and the threads.
//
// Everything is in double, whatever the element type T: x, x0 and m⊙g are widened, the update
// is computed and clamped in double, and the result is rounded to T once. Plain C++ that also
// compiles under nvcc (ATEBM_HD: engine/host_device.h); ::sqrt is the C library's double sqrt on
// the host (what std::sqrt(double) calls) and CUDA's correctly rounded sqrt on the device.
//
// x and x0 are taken by reference so that x0 is read only where a formula needs it (x0 may be
// x itself: both name element j, read before the caller writes it).
#include <cmath>
#include <cstdint>

#include "engine/host_device.h"
#include "ops/pgd_update.h"

namespace atebm::kernels::pgd {

// Added to the gradient norm so a zero gradient gives a zero step (the reference code's 1e-10).
constexpr double kNormFloor = 1e-10;

// sign(v) ∈ {−1, 0, 1}; NaN → 0.
ATEBM_HD double sign_of(double v) { return static_cast<double>((v > 0.0) - (v < 0.0)); }

// std::clamp(v, lo, hi) exactly, as std::min(std::max(v, lo), hi): a NaN v stays NaN. (The
// nested form v < lo ? lo : (hi < v ? hi : v) is equal for lo ≤ hi, but the compiler cannot
// prove lo ≤ hi, so it would not vectorise it as the max/min pair.)
ATEBM_HD double clamp_of(double v, double lo, double hi) {
  const double up = v < lo ? lo : v;  // std::max(v, lo)
  return hi < up ? hi : up;           // std::min(up, hi)
}

// True when element j is held fixed: the mask is there and is 0 there. Such an element is never
// written (not even clamped) and is left out of the projection norm. A NaN mask value is not 0.
template <typename T>
ATEBM_HD bool fixed(const T* m, int64_t j) {
  return m && m[j] == T(0);
}

// The masked gradient m⊙g of element j in double (m = 1 without a mask).
template <typename T>
ATEBM_HD double masked(const T* g, const T* m, int64_t j) {
  return m ? static_cast<double>(m[j]) * static_cast<double>(g[j]) : static_cast<double>(g[j]);
}

// Whether the update projects onto the ball around x0 (host side, once per call).
inline bool projects(const PgdStep& s) { return std::isfinite(s.eps); }

// ---- L2 ----------------------------------------------------------------------------------------
// The per-sample step scale λ / (||m⊙g||₂ + floor), from gg = Σ (m⊙g)² of the sample.
ATEBM_HD double step_scale(double gg, double step_size) { return step_size / (::sqrt(gg) + kNormFloor); }

// The per-sample projection factor min(1, ε / ||δ||₂), from dd = Σ δ² over the sample's movable
// elements (call it only when projects(s); without projection the factor is 1).
ATEBM_HD double projection_factor(double dd, double eps) {
  const double dn = ::sqrt(dd);
  return dn > eps ? eps / dn : 1.0;
}

// x + scale·(m⊙g) of one element, before projection and clamp; mg = masked(g, m, j).
template <typename T>
ATEBM_HD double l2_stepped(const T& x, double mg, double scale) {
  return static_cast<double>(x) + scale * mg;
}

// δ = stepped − x0 of one movable element: the term (squared) of the projection norm.
template <typename T>
ATEBM_HD double l2_delta(const T& x, const T& x0, double mg, double scale) {
  return l2_stepped(x, mg, scale) - static_cast<double>(x0);
}

// The new value of one movable element: x0 + (stepped − x0)·factor, clamped to [lo, hi]
// (factor 1 leaves the stepped value untouched, so x0 is not even read).
template <typename T>
ATEBM_HD T l2_element(const T& x, const T& x0, double mg, double scale, double factor, const PgdStep& s) {
  double v = l2_stepped(x, mg, scale);
  if (factor != 1.0) {
    const double base = static_cast<double>(x0);
    v = base + (v - base) * factor;
  }
  return static_cast<T>(clamp_of(v, s.lo, s.hi));
}

// ---- L∞ ----------------------------------------------------------------------------------------
// The new value of one movable element: x + λ·sign(m⊙g), its offset from x0 clamped to [−ε, ε]
// when projecting (project = projects(s)), then clamped to [lo, hi].
template <typename T>
ATEBM_HD T linf_element(const T& x, const T& x0, double mg, bool project, const PgdStep& s) {
  double v = static_cast<double>(x) + s.step_size * sign_of(mg);
  if (project) {
    const double base = static_cast<double>(x0);
    v = base + clamp_of(v - base, -s.eps, s.eps);
  }
  return static_cast<T>(clamp_of(v, s.lo, s.hi));
}

}  // namespace atebm::kernels::pgd
