#pragma once
// The statistics of generative-model evaluation on Inception features: FID (Heusel et al. 2017),
// KID (Bińkowski et al. 2018) and the Inception Score (Salimans et al. 2016), computed in float64
// on the CPU.
//
// FID statistics are the mean and covariance of the 2048-d pool features, kept in .npz files
// with the arrays "mu" (float64 [D]) and "sigma" (float64 [D, D]), as pytorch-fid writes and
// reads them (its precomputed reference files load here, float32 ones too).
//
// FID = ||mu1 − mu2||² + Tr(S1) + Tr(S2) − 2·Tr(sqrt(S1·S2)). Tr(sqrt(S1·S2)) is the sum of the
// square roots of the eigenvalues of S1·S2, which are those of the symmetric positive
// semi-definite M = sqrt(S1)·S2·sqrt(S1); both eigendecompositions are symmetric (LAPACK dsyevd),
// so no complex arithmetic and no general matrix square root is needed, and round-off can only
// make an eigenvalue slightly negative (clamped to 0).
// When S1·S2 is numerically singular (S1 or S2 has rank below D by numpy.linalg.matrix_rank's
// rule, e.g. fewer samples than dimensions) eps·I is added to both covariances, as pytorch-fid
// does when its sqrtm fails; here the offset enters the trace terms too, so the value is the FID of the
// two regularised Gaussians (pytorch-fid's differs by exactly 2·D·eps) and stays ≥ 0.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace atebm::at_ebm {

/// Mean and covariance of a feature matrix, in float64.
struct FeatureStats {
  int64_t dim = 0;
  std::vector<double> mu;     // [dim]
  std::vector<double> sigma;  // [dim, dim], row-major, symmetric
};

/// Statistics of `features` ([N, D], float32 or float64, any device; N ≥ 2): the mean and the
/// unbiased covariance (divided by N − 1, as numpy.cov).
FeatureStats feature_stats(const Tensor& features);

/// Writes `path` as a .npz with "mu" and "sigma" (float64), readable by numpy and pytorch-fid.
void save_stats(const std::string& path, const FeatureStats& s);
/// Reads "mu" and "sigma" (float32 or float64, stored or deflated entries) from a .npz. Throws
/// atebm::Error naming the file when an array is missing or the shapes are not [D] and [D, D].
FeatureStats load_stats(const std::string& path);

struct FrechetResult {
  double fid = 0.0;
  double trace_sqrt = 0.0;  // Tr(sqrt(S1·S2)) (of the regularised covariances when offset)
  bool offset = false;      // eps·I was added because S1·S2 is numerically singular
  double eps = 0.0;         // the offset used (0 when none)
};

/// The Fréchet distance between N(mu1, S1) and N(mu2, S2) (see the header comment). Throws
/// atebm::Error when the dimensions differ or a value is not finite.
FrechetResult frechet_distance(const FeatureStats& s1, const FeatureStats& s2, double eps = 1e-6);

struct MeanStd {
  double mean = 0.0, std = 0.0;  // std: population (ddof 0), as numpy.std
};

struct KidOptions {
  int64_t subsets = 100;
  int64_t subset_size = 1000;  // capped at the smaller set's size
  uint64_t seed = 0;
};

/// Kernel Inception Distance: the unbiased estimate of MMD² with the polynomial kernel
/// k(x, y) = (x·y / D + 1)³, on `subsets` pairs of subsets of m = min(subset_size, Na, Nb)
/// features drawn without replacement from each set; mean and std over the subsets.
/// `a` [Na, D] and `b` [Nb, D] (float32 or float64); needs m ≥ 2.
MeanStd kernel_inception_distance(const Tensor& a, const Tensor& b, const KidOptions& opt = {});

/// Inception Score from the classifier's logits [N, K] (K = 1008 for pytorch-fid's network):
/// p(y|x) = softmax(logits); the features are cut into `splits` consecutive parts of N / splits
/// (the remainder is left out, as in the original code) and each part scores
/// exp(mean_x KL(p(y|x) || p(y))) with p(y) the part's mean prediction; mean and std over parts.
MeanStd inception_score(const Tensor& logits, int64_t splits = 10);

}  // namespace atebm::at_ebm
