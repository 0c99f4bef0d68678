#pragma once
// Exact area under the ROC curve of two score sets: the probability that a random positive
// scores higher than a random negative, ties counted one half (the Mann–Whitney U statistic
// divided by n_pos · n_neg; what sklearn.metrics.roc_auc_score computes). O((n+m) log(n+m)).
#include <span>
#include <vector>

#include "engine/tensor.h"

namespace atebm::at_ebm {

/// Throws atebm::Error when either set is empty or a score is NaN.
double roc_auc(std::span<const double> positive, std::span<const double> negative);
/// The same for 1-D tensors of any floating dtype and device (copied to the CPU).
double roc_auc(const Tensor& positive, const Tensor& negative);

}  // namespace atebm::at_ebm
