#pragma once
// The fused PGD update (Eq. 8 of the paper, and the L∞ variant of the robustness library), in
// place on a batch x with per-sample gradient g, start x0 and optional mask:
//
//   L2:   x ← x + λ · (m⊙g) / (||m⊙g||₂ + 1e-10)        norm per sample i over all its elements
//   L∞:   x ← x + λ · sign(m⊙g)
//   then, when ε is finite, project onto the ball of radius ε around x0:
//   L2:   δ = x − x0;  δ ← δ · min(1, ε / ||δ||₂)         (per sample)
//   L∞:   δ ← clamp(δ, −ε, ε)
//   and clamp: x ← clamp(x0 + δ, lo, hi)
//
// Shapes: x, g, x0 are [N, ...] of one shape, dtype and device; mask (optional) broadcasts to
// x (e.g. [N or 1, 1, H, W]) with values 0/1 (bool or x's floating dtypes): where it is 0 the
// pixel is never written (not even clamped). The step is taken along the masked gradient, so
// its norm is that of the pixels that may move, and the L2 projection norm ||δ|| is taken over
// those pixels too (the same thing whenever the fixed pixels sit at x0, as in pgd()).
// x0 may be x itself (the ball is then around the current point); g and x0 may otherwise share
// memory with x only as the very same view. The norm floor 1e-10 makes a zero gradient a zero
// step (no NaN); it shortens every L2 step by the relative amount 1e-10 / ||m⊙g||.
// Not recorded by autograd (it is an update rule, like an optimiser step): call it under
// NoGradGuard or on tensors that do not require grad. Bumps x's version.
// CPU: one pass for the gradient norms, one for the update (and one more for the projection
// norms when ε is finite). The CUDA twin computes the same values.
#include <limits>

#include "engine/tensor.h"

namespace atebm {

enum class PgdNorm { L2, Linf };

struct PgdStep {
  double step_size = 0.1;                                  // λ
  double eps = std::numeric_limits<double>::infinity();   // radius around x0; ∞: no projection
  PgdNorm norm = PgdNorm::L2;
  double lo = 0.0, hi = 1.0;                               // clamp bounds
};

/// Throws atebm::Error for mismatched shapes, dtypes or devices, a non-floating dtype, a
/// negative or NaN step size or ε, lo > hi, or an x that requires grad while grad mode is on.
void pgd_update_(const Tensor& x, const Tensor& g, const Tensor& x0, const PgdStep& step,
                 const Tensor& mask = Tensor());

}  // namespace atebm
