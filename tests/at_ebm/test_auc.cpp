// roc_auc: hand-made cases (separation, reversal, all ties, a mixed case with ties), errors, and
// agreement with the O(n·m) pairwise definition on random scores with many ties.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "at_ebm/metrics/auc.h"
#include "engine/factories.h"

using namespace atebm;
using namespace atebm::at_ebm;

namespace {

double auc(const std::vector<double>& p, const std::vector<double>& n) {
  return roc_auc(std::span<const double>(p), std::span<const double>(n));
}

// The definition: P(positive > negative) + ½ P(positive = negative), over all pairs.
double pairwise_auc(const std::vector<double>& p, const std::vector<double>& n) {
  double wins = 0;
  for (double a : p)
    for (double b : n) wins += a > b ? 1.0 : (a == b ? 0.5 : 0.0);
  return wins / (static_cast<double>(p.size()) * static_cast<double>(n.size()));
}

}  // namespace

TEST(RocAuc, HandMadeCases) {
  EXPECT_EQ(auc({3, 4, 5}, {0, 1, 2}), 1.0);
  EXPECT_EQ(auc({0, 1}, {2, 3, 4}), 0.0);
  EXPECT_EQ(auc({1, 1, 1}, {1, 1}), 0.5);
  // p = {0.2, 0.5, 0.9}, n = {0.1, 0.5, 0.7, 0.9}:
  //   0.2 beats 0.1                      → 1
  //   0.5 beats 0.1, ties 0.5            → 1.5
  //   0.9 beats 0.1 0.5 0.7, ties 0.9    → 3.5      total 6 of 12 pairs
  EXPECT_DOUBLE_EQ(auc({0.2, 0.5, 0.9}, {0.1, 0.5, 0.7, 0.9}), 6.0 / 12.0);
  // One pair only, and infinities are ordinary scores.
  EXPECT_EQ(auc({-std::numeric_limits<double>::infinity()}, {-1e300}), 0.0);
  EXPECT_EQ(auc({std::numeric_limits<double>::infinity()}, {1e300}), 1.0);
  // Unequal set sizes: {2} vs {1, 3, 3, 0} → 2 wins of 4.
  EXPECT_DOUBLE_EQ(auc({2}, {1, 3, 3, 0}), 0.5);
  EXPECT_DOUBLE_EQ(auc({3}, {1, 3, 3, 0}), 3.0 / 4.0);
}

TEST(RocAuc, Errors) {
  auto expect_msg = [](const std::vector<double>& p, const std::vector<double>& n, const std::string& part) {
    try {
      auc(p, n);
      ADD_FAILURE() << "expected an error containing '" << part << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_msg({}, {1}, "positive score set is empty");
  expect_msg({1}, {}, "negative score set is empty");
  expect_msg({1, std::nan("")}, {0}, "positive score 1 is NaN");
  expect_msg({1}, {0, 0, std::nan("")}, "negative score 2 is NaN");
  EXPECT_THROW(roc_auc(zeros({2, 2}), zeros({2})), Error);                            // not 1-D
  EXPECT_THROW(roc_auc(zeros({2}, {.dtype = DType::Int64}), zeros({2})), Error);       // not floating
}

TEST(RocAuc, AgreesWithPairwiseCountOnRandomScoresWithTies) {
  Generator gen(21);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t np = 1 + trial * 7, nn = 3 + trial * 5;
    // Scores rounded to a coarse grid, so ties are frequent; the positives shifted a little.
    const Tensor p = uniform({np}, 0.0, 10.0, {.dtype = DType::Float64}, &gen);
    const Tensor n = uniform({nn}, -2.0, 8.0, {.dtype = DType::Float64}, &gen);
    std::vector<double> pv = p.to_vector<double>(), nv = n.to_vector<double>();
    for (double& v : pv) v = std::floor(v);
    for (double& v : nv) v = std::floor(v);
    EXPECT_DOUBLE_EQ(auc(pv, nv), pairwise_auc(pv, nv)) << "trial " << trial;
    // The tensor overload (float32 copies: the grid values are exact in float32 too).
    const Tensor p32 = from_vector<double>(pv, {np}), n32 = from_vector<double>(nv, {nn});
    EXPECT_DOUBLE_EQ(roc_auc(p32, n32), pairwise_auc(pv, nv)) << "trial " << trial;
  }
}
