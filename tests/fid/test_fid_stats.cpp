// FID, KID and IS statistics (at_ebm/fid/fid_stats.h) against hand-computed values, closed forms
// and a numpy reference (tests/fid/fixtures/fid_stats_make.py); .npz statistics files written here
// and by numpy.savez_compressed; the errors bad inputs give.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/expect.h"
#include "at_ebm/data/npy.h"
#include "at_ebm/fid/fid_stats.h"
#include "engine/error.h"
#include "engine/factories.h"
#include "engine/generator.h"
#include "ops/arith.h"

using namespace atebm;
using namespace atebm::at_ebm;

namespace {

using atebm::test::expect_error;

namespace fs = std::filesystem;

const std::string kFixtures = ATEBM_SOURCE_DIR "/tests/fid/fixtures/";

Tensor matrix(const std::vector<double>& v, int64_t rows, int64_t cols, DType dtype = DType::Float64) {
  return from_vector<double>(v, {rows, cols}, {.dtype = dtype});
}

// Diagonal statistics with mean `mu` and variances `var`.
FeatureStats diagonal_stats(const std::vector<double>& mu, const std::vector<double>& var) {
  const auto d = static_cast<int64_t>(mu.size());
  FeatureStats s{d, mu, std::vector<double>(static_cast<size_t>(d * d), 0.0)};
  for (int64_t i = 0; i < d; ++i) s.sigma[static_cast<size_t>(i * d + i)] = var[static_cast<size_t>(i)];
  return s;
}

// ||mu1 − mu2||² + Σ a + Σ b − 2 Σ sqrt(a b): the FID of covariances diagonal in one basis.
double commuting_fid(const std::vector<double>& mu1, const std::vector<double>& mu2, const std::vector<double>& a,
                     const std::vector<double>& b) {
  double f = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    f += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + a[i] + b[i] - 2.0 * std::sqrt(a[i] * b[i]);
  }
  return f;
}

// Rotates diagonal statistics by the orthogonal Householder matrix Q = I − 2vvᵀ/(vᵀv):
// sigma → Q·diag·Qᵀ (non-diagonal), mu → Q·mu. FID is invariant under a common rotation.
FeatureStats rotated(const FeatureStats& s, const std::vector<double>& v) {
  const int64_t d = s.dim;
  double vv = 0.0;
  for (const double x : v) vv += x * x;
  std::vector<double> q(static_cast<size_t>(d * d));
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      q[static_cast<size_t>(i * d + j)] =
          (i == j ? 1.0 : 0.0) - 2.0 * v[static_cast<size_t>(i)] * v[static_cast<size_t>(j)] / vv;
  FeatureStats r{d, std::vector<double>(static_cast<size_t>(d), 0.0),
                 std::vector<double>(static_cast<size_t>(d * d), 0.0)};
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k)
      r.mu[static_cast<size_t>(i)] += q[static_cast<size_t>(i * d + k)] * s.mu[static_cast<size_t>(k)];
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      for (int64_t k = 0; k < d; ++k)
        r.sigma[static_cast<size_t>(i * d + j)] += q[static_cast<size_t>(i * d + k)] *
                                                   s.sigma[static_cast<size_t>(k * d + k)] *
                                                   q[static_cast<size_t>(j * d + k)];
  return r;
}

// The unbiased MMD² with k(x, y) = (x·y/D + 1)³ between all rows of x and all rows of y, by loops.
double direct_mmd2(const std::vector<double>& x, const std::vector<double>& y, int64_t m, int64_t d) {
  const auto k = [d](const double* u, const double* v) {
    double dot = 0.0;
    for (int64_t j = 0; j < d; ++j) dot += u[j] * v[j];
    return std::pow(dot / static_cast<double>(d) + 1.0, 3.0);
  };
  double xx = 0.0, yy = 0.0, xy = 0.0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      if (i != j) {
        xx += k(&x[static_cast<size_t>(i * d)], &x[static_cast<size_t>(j * d)]);
        yy += k(&y[static_cast<size_t>(i * d)], &y[static_cast<size_t>(j * d)]);
      }
      xy += k(&x[static_cast<size_t>(i * d)], &y[static_cast<size_t>(j * d)]);
    }
  const double md = static_cast<double>(m);
  return (xx + yy) / (md * (md - 1.0)) - 2.0 * xy / (md * md);
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("atebm_fid_stats_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};


}  // namespace

// ---- statistics ------------------------------------------------------------------------------

TEST(FeatureStats, MeanAndUnbiasedCovarianceOfAHandComputedCase) {
  // rows (1, 2), (3, 4), (5, 0): mean (3, 2); centred (−2, 0), (0, 2), (2, −2);
  // covariance (1 / (N − 1)) Σ x xᵀ = [[8, −4], [−4, 8]] / 2.
  for (const DType dt : {DType::Float32, DType::Float64}) {
    const FeatureStats s = feature_stats(matrix({1, 2, 3, 4, 5, 0}, 3, 2, dt));
    ASSERT_EQ(s.dim, 2);
    EXPECT_DOUBLE_EQ(s.mu[0], 3.0);
    EXPECT_DOUBLE_EQ(s.mu[1], 2.0);
    EXPECT_DOUBLE_EQ(s.sigma[0], 4.0);
    EXPECT_DOUBLE_EQ(s.sigma[1], -2.0);
    EXPECT_DOUBLE_EQ(s.sigma[2], -2.0);
    EXPECT_DOUBLE_EQ(s.sigma[3], 4.0);
  }
}

TEST(FeatureStats, BlocksOfRowsAddUpLikeOnePass) {
  // 600 rows cross the 256-row blocks; compare with a direct two-pass sum in long double.
  Generator gen(3);
  const int64_t n = 600, d = 7;
  const Tensor x = randn({n, d}, {.dtype = DType::Float64}, &gen);
  const std::vector<double> v = x.to_vector<double>();
  const FeatureStats s = feature_stats(x);
  for (int64_t i = 0; i < d; ++i) {
    long double mi = 0;
    for (int64_t r = 0; r < n; ++r) mi += v[static_cast<size_t>(r * d + i)];
    mi /= n;
    EXPECT_NEAR(s.mu[static_cast<size_t>(i)], static_cast<double>(mi), 1e-14);
    for (int64_t j = 0; j < d; ++j) {
      long double mj = 0, c = 0;
      for (int64_t r = 0; r < n; ++r) mj += v[static_cast<size_t>(r * d + j)];
      mj /= n;
      for (int64_t r = 0; r < n; ++r)
        c += (v[static_cast<size_t>(r * d + i)] - mi) * (v[static_cast<size_t>(r * d + j)] - mj);
      EXPECT_NEAR(s.sigma[static_cast<size_t>(i * d + j)], static_cast<double>(c / (n - 1)), 1e-13);
    }
  }
}

TEST(FeatureStats, BadInputsSayWhatIsWrong) {
  expect_error([] { feature_stats(matrix({1, 2}, 1, 2)); }, {"at least 2 feature vectors, got 1"});
  expect_error([] { feature_stats(from_vector({1.0, 2.0, 3.0})); }, {"expected a [N, D] matrix, got shape [3]"});
  expect_error([] { feature_stats(zeros({4, 2}, {.dtype = DType::Int64})); }, {"expected float32 or float64"});
}

// ---- Fréchet distance --------------------------------------------------------------------

TEST(Frechet, IdenticalStatisticsGiveZero) {
  Generator gen(1);
  const FeatureStats s = feature_stats(randn({200, 16}, {}, &gen));
  const FrechetResult r = frechet_distance(s, s);
  EXPECT_FALSE(r.offset);
  EXPECT_NEAR(r.fid, 0.0, 1e-8);
}

TEST(Frechet, DiagonalCovariancesMatchTheClosedForm) {
  const std::vector<double> mu1 = {0.5, -1.0, 2.0, 0.0, 3.0}, mu2 = {0.0, 1.0, 2.5, -0.5, 3.0};
  const std::vector<double> a = {1.0, 0.25, 4.0, 2.0, 0.01}, b = {2.0, 1.0, 0.5, 2.0, 9.0};
  const FrechetResult r = frechet_distance(diagonal_stats(mu1, a), diagonal_stats(mu2, b));
  EXPECT_FALSE(r.offset);
  EXPECT_NEAR(r.fid, commuting_fid(mu1, mu2, a, b), 1e-10);
}

TEST(Frechet, CommutingNonDiagonalCovariancesMatchTheClosedForm) {
  // Q·diag(a)·Qᵀ and Q·diag(b)·Qᵀ commute, so Tr(sqrt(S1 S2)) = Σ sqrt(a_i b_i) still.
  const std::vector<double> mu1 = {1.0, 2.0, 3.0, 4.0}, mu2 = {0.0, 2.5, 2.0, 4.0};
  const std::vector<double> a = {3.0, 0.5, 1.5, 0.2}, b = {0.7, 2.0, 1.5, 5.0};
  const std::vector<double> v = {1.0, -2.0, 0.5, 3.0};
  const FeatureStats s1 = rotated(diagonal_stats(mu1, a), v), s2 = rotated(diagonal_stats(mu2, b), v);
  ASSERT_GT(std::abs(s1.sigma[1]), 0.1);  // really non-diagonal
  const FrechetResult r = frechet_distance(s1, s2);
  EXPECT_NEAR(r.fid, commuting_fid(mu1, mu2, a, b), 1e-10);
  EXPECT_NEAR(frechet_distance(s2, s1).fid, r.fid, 1e-10);  // symmetric in its arguments
}

TEST(Frechet, RandomFullCovariancesMatchNumpy) {
  // fid_stats_make.py: eigenvalues of the non-symmetric product with numpy.linalg.eigvals.
  std::ifstream in(kFixtures + "fid_stats_reference.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json ref = nlohmann::json::parse(in);
  const FeatureStats a = load_stats(kFixtures + "fid_stats_a.npz");  // float64, deflated
  const FeatureStats b = load_stats(kFixtures + "fid_stats_b.npz");  // float32, deflated
  ASSERT_EQ(a.dim, 6);
  ASSERT_EQ(b.dim, 6);
  EXPECT_EQ(a.mu[0], ref.at("mu_a0").get<double>());
  EXPECT_EQ(a.sigma[1], ref.at("sigma_a01").get<double>());
  EXPECT_EQ(b.mu[0], ref.at("mu_b0").get<double>());
  EXPECT_EQ(b.sigma[1], ref.at("sigma_b01").get<double>());
  const FrechetResult r = frechet_distance(a, b);
  EXPECT_FALSE(r.offset);
  EXPECT_NEAR(r.trace_sqrt, ref.at("trace_sqrt").get<double>(), 1e-10);
  EXPECT_NEAR(r.fid, ref.at("fid").get<double>(), 1e-9);
}

TEST(Frechet, SingularProductGetsTheOffsetOnBothCovariances) {
  // A zero variance makes S1·S2 singular: eps·I is added to both, traces included.
  const double eps = 1e-6;
  const std::vector<double> mu = {0.0, 1.0, 0.0}, a = {1.0, 0.0, 2.0}, b = {0.0, 3.0, 1.0};
  const FrechetResult r = frechet_distance(diagonal_stats(mu, a), diagonal_stats(mu, b), eps);
  EXPECT_TRUE(r.offset);
  EXPECT_EQ(r.eps, eps);
  std::vector<double> ae = a, be = b;
  for (double& x : ae) x += eps;
  for (double& x : be) x += eps;
  EXPECT_NEAR(r.fid, commuting_fid(mu, mu, ae, be), 1e-12);

  // Fewer samples than dimensions: rank-deficient covariances; identical ones still give 0.
  Generator gen(2);
  const FeatureStats few = feature_stats(randn({5, 12}, {.dtype = DType::Float64}, &gen));
  const FrechetResult same = frechet_distance(few, few);
  EXPECT_TRUE(same.offset);
  EXPECT_NEAR(same.fid, 0.0, 1e-8);
}

TEST(Frechet, BadStatisticsSayWhatIsWrong) {
  const FeatureStats s2 = diagonal_stats({0, 0}, {1, 1}), s3 = diagonal_stats({0, 0, 0}, {1, 1, 1});
  expect_error([&] { frechet_distance(s2, s3); }, {"dimensions 2 and 3"});
  FeatureStats asym = s2;
  asym.sigma[1] = 0.5;
  expect_error([&] { frechet_distance(asym, s2); }, {"not symmetric"});
  FeatureStats indefinite = diagonal_stats({0, 0}, {1, -1});
  expect_error([&] { frechet_distance(s2, indefinite); }, {"sigma2 is not positive semi-definite"});
  FeatureStats nan_mu = s2;
  nan_mu.mu[0] = std::nan("");
  expect_error([&] { frechet_distance(nan_mu, s2); }, {"mu holds nan"});
  FeatureStats short_sigma = s2;
  short_sigma.sigma.pop_back();
  expect_error([&] { frechet_distance(short_sigma, s2); }, {"sigma of 3 values for dimension 2"});
}

// ---- .npz files ------------------------------------------------------------------------------

using StatsFile = TempDir;

TEST_F(StatsFile, SaveThenLoadGivesTheSameBits) {
  Generator gen(4);
  const FeatureStats s = feature_stats(randn({30, 9}, {}, &gen));
  save_stats(path("s.npz"), s);
  const FeatureStats t = load_stats(path("s.npz"));
  EXPECT_EQ(t.dim, s.dim);
  EXPECT_EQ(t.mu, s.mu);
  EXPECT_EQ(t.sigma, s.sigma);
}

TEST_F(StatsFile, MissingArraysAndWrongShapesAreNamed) {
  data::save_npz(path("only_mu.npz"), {{"mu", zeros({3}, {.dtype = DType::Float64})}});
  expect_error([&] { load_stats(path("only_mu.npz")); }, {"no array 'sigma' (entries: mu.npy)"});
  data::save_npz(path("shape.npz"),
                 {{"mu", zeros({3}, {.dtype = DType::Float64})}, {"sigma", zeros({3, 4}, {.dtype = DType::Float64})}});
  expect_error([&] { load_stats(path("shape.npz")); }, {"'sigma' has shape (3, 4), expected (3, 3)"});
  data::save_npz(path("int.npz"),
                 {{"mu", zeros({3}, {.dtype = DType::Int64})}, {"sigma", zeros({3, 3}, {.dtype = DType::Float64})}});
  expect_error([&] { load_stats(path("int.npz")); }, {"expected a float64 or float32 array"});
  expect_error([&] { load_stats(path("absent.npz")); }, {"absent.npz"});
}

// ---- KID -------------------------------------------------------------------------------------

TEST(Kid, WholeSetSubsetsEqualTheDirectEstimate) {
  // subset_size ≥ n: every subset is the whole set (in another order), so each value is the
  // direct unbiased MMD² and the spread is round-off.
  Generator gen(5);
  const int64_t m = 12, d = 5;
  const Tensor x = randn({m, d}, {.dtype = DType::Float64}, &gen);
  const Tensor y = add(randn({m, d}, {.dtype = DType::Float64}, &gen), 0.3);
  const MeanStd kid = kernel_inception_distance(x, y, {.subsets = 5, .subset_size = 1000, .seed = 7});
  EXPECT_NEAR(kid.mean, direct_mmd2(x.to_vector<double>(), y.to_vector<double>(), m, d), 1e-12);
  EXPECT_LT(kid.std, 1e-12);
}

TEST(Kid, SameDistributionNearZeroShiftedClearlyPositive) {
  Generator gen(6);
  const int64_t n = 400, d = 16;
  const Tensor a = randn({n, d}, {}, &gen), b = randn({n, d}, {}, &gen);
  const Tensor shifted = add(randn({n, d}, {}, &gen), 0.5);
  const KidOptions opt{.subsets = 20, .subset_size = 200, .seed = 1};
  const MeanStd same = kernel_inception_distance(a, b, opt);
  const MeanStd apart = kernel_inception_distance(a, shifted, opt);
  EXPECT_GT(apart.mean, 0.05);
  EXPECT_GT(apart.mean, 10.0 * std::abs(same.mean));
  EXPECT_GT(apart.std, 0.0);
  // Seeded: the same draws again.
  EXPECT_EQ(kernel_inception_distance(a, shifted, opt).mean, apart.mean);
}

TEST(Kid, BadInputsSayWhatIsWrong) {
  const Tensor a = zeros({4, 3}), b = zeros({4, 2});
  expect_error([&] { kernel_inception_distance(a, b); }, {"feature dimensions differ (3 vs 2)"});
  expect_error([&] { kernel_inception_distance(a, zeros({1, 3})); }, {"at least 2 features in each set, got 4 and 1"});
  expect_error([&] { kernel_inception_distance(a, a, {.subsets = 0}); }, {"subsets >= 1"});
}

// ---- Inception Score ---------------------------------------------------------------------------

TEST(InceptionScore, UniformPredictionsScoreOne) {
  const MeanStd is = inception_score(zeros({20, 1008}), 10);
  EXPECT_NEAR(is.mean, 1.0, 1e-12);
  EXPECT_NEAR(is.std, 0.0, 1e-12);
}

TEST(InceptionScore, ConfidentDistinctClassesScoreTheirNumberPerSplit) {
  // 23 images, 2 splits of 11 (the last image is left out): each split's images are sure of 11
  // different classes, so p(y) is uniform over 11 classes and the score is 11.
  const int64_t n = 23, k = 1008;
  std::vector<double> logits(static_cast<size_t>(n * k), 0.0);
  for (int64_t i = 0; i < n; ++i) logits[static_cast<size_t>(i * k + (i < 22 ? i : 0))] = 60.0;
  const MeanStd is = inception_score(matrix(logits, n, k, DType::Float32), 2);
  EXPECT_NEAR(is.mean, 11.0, 1e-9);
  EXPECT_NEAR(is.std, 0.0, 1e-9);
  // One split of images sure of only 2 classes: a score of 2.
  std::vector<double> two(static_cast<size_t>(4 * k), 0.0);
  for (int64_t i = 0; i < 4; ++i) two[static_cast<size_t>(i * k + i % 2)] = 60.0;
  EXPECT_NEAR(inception_score(matrix(two, 4, k), 1).mean, 2.0, 1e-9);
}

TEST(InceptionScore, BadInputsSayWhatIsWrong) {
  expect_error([] { inception_score(zeros({5, 1008}), 10); }, {"5 images cannot fill 10 splits"});
  expect_error([] { inception_score(zeros({5, 1008}), 0); }, {"splits must be >= 1"});
  expect_error([] { inception_score(zeros({1008}), 1); }, {"expected a [N, D] matrix"});
}
