#pragma once
// APGD (Auto-PGD, Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble
// of diverse parameter-free attacks", ICML 2020, Algorithm 1) maximising a score f: [N, ...] → [N]
// per sample inside the ε-ball around each start point, clamped to [lo, hi]. The worst-case OOD
// AUC attacks every OOD image this way (f = the model's logit 0; higher = in-distribution).
//
// One restart, for every sample independently (η, checkpoints and conditions are per sample):
//   x⁰ = a random point on the ε-sphere around the start (L2: ε·z/||z||, z ~ N(0, I); L∞:
//        ε·t/max|t|, t ~ U[−1, 1]), clamped; η = 2ε
//   z^{k+1} = P(x^k + η · d(∇f(x^k)))           d: g/||g||₂ (L2) or sign(g) (L∞)
//   x^{k+1} = P(x^k + α(z^{k+1} − x^k) + (1 − α)(x^k − x^{k−1}))    α = 0.75 (1 at k = 0)
//   P = projection onto the ε-ball around the start, then clamp to [lo, hi]
// At each checkpoint w_j (apgd_checkpoints) η is halved and the iterate (and its gradient)
// reset to the best point found so far when
//   condition 1: #{k in [w_{j−1}, w_j): f(x^{k+1}) > f(x^k)} ≤ ρ · (w_j − w_{j−1})   (ρ = 0.75), or
//   condition 2: η was not halved at w_{j−1} and the best value has not grown since w_{j−1}.
// Each restart costs iterations + 1 evaluations of f and ∇f (the start and every iterate).
//
// Reference: fra31/auto-attack, autoattack/autopgd_base.py (APGDAttack.attack_single_run,
// check_oscillation; the paper's authors ran it with the loss 'first_logit' = f). We follow it
// where it refines the paper: "≤ ρ·h" in condition 1 (the paper writes "<"; different only
// when ρ·h is an integer, e.g. h = 16 at N = 100), condition 2 cannot fire at w_1 (the code
// treats the start as "just halved"), and after a reset the next step is compared with the
// value of the iterate before the reset. We differ where it indexes past its buffer: at w_1 its
// first comparison is f(x¹) > 0 (the wrapped-around slot loss_steps[−1]); here it is
// f(x¹) > f(x⁰), as the paper defines.
//
// The result of every sample is the best point over the start itself (the centre of the ball:
// ε = 0 returns the start and its score exactly) and every iterate of every restart, so more
// restarts never give a lower score for the same seed.
#include <cstdint>
#include <vector>

#include "at_ebm/method/pgd.h"

namespace atebm::at_ebm {

struct ApgdOptions {
  int64_t iterations = 100;  // N_iter per restart
  int64_t restarts = 5;
  double eps = 1.0;          // radius of the ball around each start (finite, >= 0)
  PgdNorm norm = PgdNorm::L2;
  double rho = 0.75;         // condition 1's threshold on the fraction of successful steps
  double momentum = 0.75;    // α
  double lo = 0.0, hi = 1.0; // clamp bounds
};

/// Throws atebm::Error naming the field: iterations < 1, restarts < 1, ε negative or not finite,
/// ρ or α outside [0, 1], lo > hi.
void check_apgd_options(const ApgdOptions& opt);

/// Checkpoints w_0 = 0 < w_1 < ... ≤ iterations (iteration counts after which η may be halved).
/// As the reference code computes them: the first interval is h_1 = max(⌊0.22 N⌋, 1), each next
/// one h_{j+1} = max(h_j − max(⌊0.03 N⌋, 1), max(⌊0.06 N⌋, 1)). N = 100: 0, 22, 41, 57, 70, 80,
/// 87, 93, 99 — the paper's p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), w_j = ⌈p_j N⌉.
/// (For small N the two differ; e.g. N = 10: code 0, 2, 3, ..., 10; paper 0, 3, 5, 6, ...)
std::vector<int64_t> apgd_checkpoints(int64_t iterations);

/// Best points of an attack that maximises f.
struct AttackResult {
  Tensor x;                   // [N, ...] like the start, no history
  std::vector<double> score;  // f(x) per sample
};

/// APGD from every sample of `start` ([N, ...], not modified; any device and floating dtype).
/// `params` (the model's) are frozen during the run; `gen` draws the random starts (restarts
/// use it in order, so the first r restarts are the same whatever the total).
AttackResult apgd(const ScoreFn& f, const Tensor& start, const ApgdOptions& opt, const nn::NamedTensors& params,
                  Generator& gen);

}  // namespace atebm::at_ebm
