#pragma once
// The training objective of the method (Algorithm 1):
//
//   loss = BCE(cat(f(x_real), f(x_fake)), cat(1, 0))  +  γ · R1
//   BCE  = mean over the 2m logits of binary cross-entropy with logits (BCEWithLogitsLoss)
//   R1   = 0.5 · mean_i ||∇x f(x_real_i)||²          (per-sample squared L2 norm of the input
//                                                     gradient; needs double backward)
//
// The input gradient for R1 is taken with grad(create_graph = true), so loss.backward() (or
// grad(loss, params)) differentiates through it. Real and fake batches may differ in size.
#include "at_ebm/method/pgd.h"

namespace atebm::at_ebm {

struct LossTerms {
  Tensor loss;         // 0-dim: bce + r1_weight · r1 (r1 term omitted when not computed)
  Tensor bce;          // 0-dim
  Tensor r1;           // 0-dim, undefined when R1 was not computed (lazy R1 off-iteration)
  Tensor logits_real;  // [m]   (with history)
  Tensor logits_fake;  // [m']  (with history)
};

/// R1 = 0.5 · mean_i ||∇x f(x_i)||², differentiable w.r.t. f's parameters. `x` must not require
/// grad (a detached copy is made that does). Also returns f(x) in `logits` when non-null, so the
/// caller can reuse the forward pass.
Tensor r1_penalty(const ScoreFn& f, const Tensor& x, Tensor* logits = nullptr);

/// The loss above. r1_weight = γ (already multiplied by the lazy interval when lazy);
/// compute_r1 = false skips R1 entirely (the lazy off-iterations, or γ = 0).
LossTerms adversarial_loss(const ScoreFn& f, const Tensor& x_real, const Tensor& x_fake, double r1_weight,
                           bool compute_r1);

}  // namespace atebm::at_ebm
