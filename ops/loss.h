#pragma once
// Losses and log-softmax (float32 / float64), composed from differentiable ops, so every one has
// derivatives of any order in every floating argument (targets included).
#include "engine/tensor.h"

namespace atebm {

/// mean over all elements of softplus(z) − z·t: binary cross-entropy of sigmoid(z) against t,
/// stable for any z (±1000 included: softplus never exponentiates a positive number).
/// target: z's shape or broadcastable to it (it may not enlarge z); it may require grad.
Tensor binary_cross_entropy_with_logits(const Tensor& z, const Tensor& target);

/// x − logsumexp(x) along dim, stable: the max along dim is subtracted first. The max is
/// detached; that changes neither the value nor any derivative (log-softmax is invariant to a
/// shift along dim).
Tensor log_softmax(const Tensor& x, int64_t dim);

/// −mean_i log_softmax(logits)[i, labels[i]]. logits [N, C] floating, labels int64 [N] with values
/// in [0, C) (an out-of-range label throws, naming the label, its position and C).
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

/// mean((a − b)²); a and b must have the same shape.
Tensor mse_loss(const Tensor& a, const Tensor& b);

}  // namespace atebm
