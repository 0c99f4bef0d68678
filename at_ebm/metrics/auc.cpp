#include "at_ebm/metrics/auc.h"

#include <algorithm>
#include <cmath>

#include "engine/factories.h"

namespace atebm::at_ebm {
namespace {

void check_scores(std::span<const double> s, const char* what) {
  ATEBM_CHECK(!s.empty(), "roc_auc: the {} score set is empty", what);
  for (size_t i = 0; i < s.size(); ++i) {
    ATEBM_CHECK(!std::isnan(s[i]), "roc_auc: {} score {} is NaN", what, i);
  }
}

std::vector<double> to_host(const Tensor& t, const char* what) {
  ATEBM_CHECK(t.defined(), "roc_auc: the {} scores are an undefined tensor", what);
  ATEBM_CHECK(is_floating(t.dtype()), "roc_auc: the {} scores must be float32 or float64, got {}", what, t.dtype());
  ATEBM_CHECK(t.dim() == 1, "roc_auc: the {} scores must be 1-D, got shape {}", what, shape_str(t.shape()));
  return copy_to(t, Device::cpu(), DType::Float64).to_vector<double>();
}

}  // namespace

double roc_auc(std::span<const double> positive, std::span<const double> negative) {
  check_scores(positive, "positive");
  check_scores(negative, "negative");
  std::vector<double> neg(negative.begin(), negative.end());
  std::sort(neg.begin(), neg.end());
  // For each positive: 2·(negatives below it) + (negatives equal to it), an exact integer, so
  // the sum is exact up to 2^63 and ties count one half.
  int64_t twice_wins = 0;
  for (const double p : positive) {
    const auto [lo, hi] = std::equal_range(neg.begin(), neg.end(), p);
    twice_wins += 2 * (lo - neg.begin()) + (hi - lo);
  }
  const double pairs = static_cast<double>(positive.size()) * static_cast<double>(negative.size());
  return static_cast<double>(twice_wins) / (2.0 * pairs);
}

double roc_auc(const Tensor& positive, const Tensor& negative) {
  const std::vector<double> p = to_host(positive, "positive"), n = to_host(negative, "negative");
  return roc_auc(std::span<const double>(p), std::span<const double>(n));
}

}  // namespace atebm::at_ebm
