#pragma once
// PGD on the input of a score function f: [N, ...] → [N] (the model's logit 0, f = −E).
//
//   x_0 = start (optionally a random point of the ε-ball around it, clamped)
//   x_{k+1} = pgd_update_(x_k, ±∇x Σ_i f(x_k)_i, start, {λ, ε, norm, lo, hi}, mask)
//
// Ascent (the default) maximises f: generation, translation, denoising, inpainting, and the
// attack on p0 samples during training. Descent minimises f (the in-distribution attack of the
// official recipe). Only input gradients are computed: the score function's parameters are
// frozen for the duration (requires_grad off, restored on exit, even on error), so no
// parameter gradient is computed or accumulated and no graph survives a step.
#include <functional>
#include <limits>

#include "engine/generator.h"
#include "engine/tensor.h"
#include "nn/module.h"
#include "ops/pgd_update.h"

namespace atebm::at_ebm {

/// f(x): [N, ...] → [N]. For a model: [&](const Tensor& x) { return nn::energy_logit(model, x); }
using ScoreFn = std::function<Tensor(const Tensor&)>;

struct PgdOptions {
  int64_t steps = 0;
  double step_size = 0.1;                                 // λ
  double eps = std::numeric_limits<double>::infinity();  // radius around the start
  PgdNorm norm = PgdNorm::L2;
  bool descent = false;      // minimise f instead of maximising it
  bool random_start = false; // start from a uniform random point of the ε-ball (needs finite ε):
                             // L∞ U[−ε, ε] per element; L2 a uniform direction times ε·u^(1/k),
                             // k = movable elements per sample; then clamped to [lo, hi]
  double lo = 0.0, hi = 1.0; // clamp bounds of every iterate
  Tensor mask;               // optional, broadcast to x: 1 where pixels may move, 0 where fixed
};

/// Called after every step k = 1..steps with the current iterate (do not modify it; the next
/// step updates it in place, so clone() it to keep it).
using PgdObserver = std::function<void(int64_t step, const Tensor& x)>;

/// Runs PGD from `start` ([N, ...], not modified) and returns the last iterate (a new tensor
/// without history). `params` are frozen during the run (pass model.named_parameters(); may be
/// empty when f has none). `gen` draws the random start. Throws atebm::Error on bad options
/// (negative steps, step size or ε; random start with ε = ∞; a mask that does not broadcast).
Tensor pgd(const ScoreFn& f, const Tensor& start, const PgdOptions& opt, const nn::NamedTensors& params,
           Generator& gen, const PgdObserver& observer = {});

/// What pgd_scored() returns: the last iterate, and f at the first one ([N], no history): the
/// start's scores (or the random start's), which step 1 computes anyway, so a caller that needs
/// f(start) (the trainer's clean AUC) gets it without another forward. Undefined for 0 steps.
struct PgdResult {
  Tensor x;
  Tensor first_scores;
};

/// pgd() with f at the first iterate.
PgdResult pgd_scored(const ScoreFn& f, const Tensor& start, const PgdOptions& opt, const nn::NamedTensors& params,
                     Generator& gen, const PgdObserver& observer = {});

/// One step of pgd()'s loop, in place on x (contiguous, no history): x moves along ∇x Σ f(x)
/// (or against it with opt.descent), then is projected onto the ball around x0 and clamped.
/// Returns f(x) at the iterate the step started from ([N], no history). `mask`: undefined, or
/// expanded to x's shape and dtype. No checks and no parameter freezing: the caller (pgd(), or a
/// loop captured in a CUDA graph, pgd_graph.h) does both.
Tensor pgd_step_(const ScoreFn& f, const Tensor& x, const Tensor& x0, const PgdOptions& opt, const Tensor& mask = {});

/// Sets requires_grad = false on every tensor for the guard's lifetime and restores each one's
/// flag afterwards: input-gradient-only passes through a model skip all weight gradients.
class FreezeParameters {
 public:
  explicit FreezeParameters(const nn::NamedTensors& params);
  ~FreezeParameters();
  FreezeParameters(const FreezeParameters&) = delete;
  FreezeParameters& operator=(const FreezeParameters&) = delete;

 private:
  std::vector<std::pair<Tensor, bool>> saved_;
};

}  // namespace atebm::at_ebm
