#include "at_ebm/fid/fid_stats.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "at_ebm/data/npy.h"
#include "at_ebm/data/random_draw.h"
#include "at_ebm/method/sampler.h"
#include "engine/error.h"
#include "engine/factories.h"
#include "ops/cpu/gemm_cpu.h"

// LAPACK's symmetric eigensolver (divide and conquer), exported by Debian's libopenblas. The two
// trailing arguments are the hidden lengths of the character arguments (gfortran's convention).
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info, size_t jobz_len,
                        size_t uplo_len);

namespace atebm::at_ebm {

namespace {

// ---- feature matrices ----------------------------------------------------------------------

// A [rows, cols] float32 or float64 matrix as a contiguous CPU tensor (copied only when needed),
// read a block of rows at a time as float64.
struct Matrix {
  Tensor t;
  int64_t rows = 0, cols = 0;

  void rows_f64(int64_t first, int64_t count, double* out) const {
    const int64_t n = count * cols;
    if (t.dtype() == DType::Float64) {
      std::memcpy(out, t.data<double>() + first * cols, static_cast<size_t>(n) * sizeof(double));
    } else {
      const float* src = t.data<float>() + first * cols;
      for (int64_t k = 0; k < n; ++k) out[k] = src[k];
    }
  }
  void row_f64(int64_t i, double* out) const { rows_f64(i, 1, out); }
};

Matrix matrix_of(const Tensor& x, const std::string& what) {
  ATEBM_CHECK(x.defined(), "{}: the tensor is undefined", what);
  ATEBM_CHECK(x.dim() == 2, "{}: expected a [N, D] matrix, got shape [{}]", what, fmt::join(x.shape(), ", "));
  ATEBM_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, "{}: expected float32 or float64, got {}",
              what, dtype_name(x.dtype()));
  Matrix m{x, x.size(0), x.size(1)};
  if (!(x.device() == Device::cpu() && x.is_contiguous())) m.t = copy_to(x, Device::cpu(), x.dtype());
  return m;
}

// ---- symmetric eigendecomposition -----------------------------------------------------------

// Eigenvalues (ascending) of the symmetric n×n matrix `a` (row-major; only one triangle is read,
// and a symmetric matrix reads the same in either order). With vectors, `a` is overwritten so
// that its row k (row-major) is the unit eigenvector of eigenvalue k; without, it is destroyed.
std::vector<double> symmetric_eigen(std::vector<double>& a, int64_t n, bool vectors) {
  ATEBM_CHECK(n <= 46340, "symmetric_eigen: dimension {} is too large for 32-bit LAPACK", n);
  const int ni = static_cast<int>(n);
  const char jobz = vectors ? 'V' : 'N', uplo = 'L';
  std::vector<double> w(static_cast<size_t>(n));
  int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
  double work_query = 0.0;
  dsyevd_(&jobz, &uplo, &ni, a.data(), &ni, w.data(), &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1);
  ATEBM_CHECK(info == 0, "symmetric_eigen: LAPACK dsyevd workspace query failed (info {})", info);
  lwork = static_cast<int>(work_query) + 1;
  liwork = std::max(iwork_query, 1);
  std::vector<double> work(static_cast<size_t>(lwork));
  std::vector<int> iwork(static_cast<size_t>(liwork));
  dsyevd_(&jobz, &uplo, &ni, a.data(), &ni, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
  ATEBM_CHECK(info == 0, "symmetric_eigen: LAPACK dsyevd did not converge on a {}x{} matrix (info {})", n, n, info);
  return w;
}

// ---- FID ------------------------------------------------------------------------------------

void check_stats(const FeatureStats& s, const std::string& which) {
  const auto d = static_cast<size_t>(s.dim);
  ATEBM_CHECK(s.dim >= 1 && s.mu.size() == d && s.sigma.size() == d * d,
              "frechet_distance: {} holds mu of {} and sigma of {} values for dimension {}", which, s.mu.size(),
              s.sigma.size(), s.dim);
  double scale = 0.0;
  for (const double v : s.mu) ATEBM_CHECK(std::isfinite(v), "frechet_distance: {} mu holds {}", which, v);
  for (const double v : s.sigma) {
    ATEBM_CHECK(std::isfinite(v), "frechet_distance: {} sigma holds {}", which, v);
    scale = std::max(scale, std::abs(v));
  }
  for (int64_t i = 0; i < s.dim; ++i)
    for (int64_t j = 0; j < i; ++j) {
      const double a = s.sigma[static_cast<size_t>(i * s.dim + j)], b = s.sigma[static_cast<size_t>(j * s.dim + i)];
      ATEBM_CHECK(std::abs(a - b) <= 1e-8 * scale, "frechet_distance: {} sigma is not symmetric ([{}, {}] = {} vs {})",
                  which, i, j, a, b);
    }
}

double largest_magnitude(const std::vector<double>& ascending) {
  return std::max(std::abs(ascending.front()), std::abs(ascending.back()));
}

// A covariance has no eigenvalue below 0 beyond round-off; a clearly negative one means the
// file or the caller's matrix is not a covariance (pytorch-fid fails on it too, later).
void check_psd(const std::vector<double>& w, const char* which) {
  const double top = largest_magnitude(w);
  ATEBM_CHECK(w.front() >= -1e-8 * top,
              "frechet_distance: {} is not positive semi-definite (eigenvalue {}, largest "
              "magnitude {})",
              which, w.front(), top);
}

// numpy.linalg.matrix_rank's tolerance: an eigenvalue at or below D·ε·λmax counts as zero.
bool numerically_singular(const std::vector<double>& w) {
  return w.front() <= static_cast<double>(w.size()) * DBL_EPSILON * largest_magnitude(w);
}

// Tr(sqrt(S1'·S2')) for S1' = S1 + offset·I and S2' = S2 + offset·I, given S1 = Eᵀ·diag(w1)·E
// (`e` row-major, row k the eigenvector of w1[k]; it is consumed). With A = diag(sqrt(w1 + offset))·E,
// AᵀA = S1', so S1'·S2' = Aᵀ(A·S2') has the eigenvalues of the symmetric M = A·S2'·Aᵀ.
double trace_sqrt_product(std::vector<double> e, const std::vector<double>& w1, const FeatureStats& s2, double offset) {
  const int64_t d = s2.dim;
  const auto dd = static_cast<size_t>(d * d);
  for (int64_t k = 0; k < d; ++k) {
    const double r = std::sqrt(std::max(w1[static_cast<size_t>(k)] + offset, 0.0));
    for (int64_t j = 0; j < d; ++j) e[static_cast<size_t>(k * d + j)] *= r;
  }
  std::vector<double> s2o = s2.sigma, as2(dd), m(dd);
  for (int64_t i = 0; i < d; ++i) s2o[static_cast<size_t>(i * d + i)] += offset;
  cpu::gemm(false, false, d, d, d, 1.0, e.data(), d, s2o.data(), d, 0.0, as2.data(), d);
  cpu::gemm(false, true, d, d, d, 1.0, as2.data(), d, e.data(), d, 0.0, m.data(), d);
  double trace = 0.0;
  for (const double v : symmetric_eigen(m, d, /*vectors=*/false)) trace += std::sqrt(std::max(v, 0.0));
  return trace;
}

// ---- KID and IS -----------------------------------------------------------------------------

MeanStd mean_std(const std::vector<double>& v) {
  MeanStd r;
  for (const double x : v) r.mean += x;
  r.mean /= static_cast<double>(v.size());
  for (const double x : v) r.std += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(r.std / static_cast<double>(v.size()));
  return r;
}

}  // namespace

FeatureStats feature_stats(const Tensor& features) {
  const Matrix x = matrix_of(features, "feature_stats");
  const int64_t n = x.rows, d = x.cols;
  ATEBM_CHECK(n >= 2, "feature_stats: the covariance needs at least 2 feature vectors, got {}", n);
  ATEBM_CHECK(d >= 1, "feature_stats: features have dimension 0");
  FeatureStats s{d, std::vector<double>(static_cast<size_t>(d), 0.0),
                 std::vector<double>(static_cast<size_t>(d * d), 0.0)};
  // Rows are converted to float64 a block at a time: 50 000 × 2048 features never exist in float64.
  constexpr int64_t kBlock = 256;
  std::vector<double> blk(static_cast<size_t>(std::min(kBlock, n) * d));
  for (int64_t r = 0; r < n; r += kBlock) {
    const int64_t b = std::min(kBlock, n - r);
    x.rows_f64(r, b, blk.data());
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < d; ++j) s.mu[static_cast<size_t>(j)] += blk[static_cast<size_t>(i * d + j)];
  }
  for (double& m : s.mu) m /= static_cast<double>(n);
  // Covariance from centred rows (numpy.cov's way; the one-pass E[xxᵀ] − μμᵀ loses digits).
  for (int64_t r = 0; r < n; r += kBlock) {
    const int64_t b = std::min(kBlock, n - r);
    x.rows_f64(r, b, blk.data());
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < d; ++j) blk[static_cast<size_t>(i * d + j)] -= s.mu[static_cast<size_t>(j)];
    cpu::gemm(true, false, d, d, b, 1.0, blk.data(), d, blk.data(), d, 1.0, s.sigma.data(), d);
  }
  // Blocked GEMM may round (i, j) and (j, i) differently; store the exactly symmetric average.
  const double inv = 1.0 / static_cast<double>(n - 1);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      const double v = 0.5 * (s.sigma[static_cast<size_t>(i * d + j)] + s.sigma[static_cast<size_t>(j * d + i)]) * inv;
      s.sigma[static_cast<size_t>(i * d + j)] = s.sigma[static_cast<size_t>(j * d + i)] = v;
    }
  return s;
}

void save_stats(const std::string& path, const FeatureStats& s) {
  ATEBM_CHECK(
      s.dim >= 1 && s.mu.size() == static_cast<size_t>(s.dim) && s.sigma.size() == static_cast<size_t>(s.dim * s.dim),
      "save_stats: {}: mu of {} and sigma of {} values do not fit dimension {}", path, s.mu.size(), s.sigma.size(),
      s.dim);
  const TensorOptions f64{.dtype = DType::Float64};
  data::save_npz(path, {{"mu", from_vector<double>(s.mu, {s.dim}, f64)},
                        {"sigma", from_vector<double>(s.sigma, {s.dim, s.dim}, f64)}});
}

FeatureStats load_stats(const std::string& path) {
  const std::string hint = "FID statistics files hold 'mu' and 'sigma'";
  data::NpzFloatArray mu = data::load_npz_array(path, "mu", hint);
  data::NpzFloatArray sigma = data::load_npz_array(path, "sigma", hint);
  ATEBM_CHECK(mu.shape.size() == 1 && mu.shape[0] >= 1, "{}: 'mu' has shape ({}), expected (D,)", path,
              fmt::join(mu.shape, ", "));
  const int64_t d = mu.shape[0];
  ATEBM_CHECK(sigma.shape == std::vector<int64_t>({d, d}), "{}: 'sigma' has shape ({}), expected ({}, {}) for mu of {}",
              path, fmt::join(sigma.shape, ", "), d, d, d);
  return {d, std::move(mu.values), std::move(sigma.values)};
}

FrechetResult frechet_distance(const FeatureStats& s1, const FeatureStats& s2, double eps) {
  ATEBM_CHECK(s1.dim == s2.dim, "frechet_distance: the statistics have dimensions {} and {}", s1.dim, s2.dim);
  ATEBM_CHECK(eps > 0.0 && std::isfinite(eps), "frechet_distance: eps must be > 0, got {}", eps);
  check_stats(s1, "the first statistics'");
  check_stats(s2, "the second statistics'");
  const int64_t d = s1.dim;
  FrechetResult r;
  std::vector<double> e = s1.sigma, scratch = s2.sigma;
  const std::vector<double> w1 = symmetric_eigen(e, d, /*vectors=*/true);
  const std::vector<double> w2 = symmetric_eigen(scratch, d, /*vectors=*/false);
  check_psd(w1, "sigma1");
  check_psd(w2, "sigma2");
  // S1·S2 is singular exactly when S1 or S2 is; the offset shifts S1's eigenvalues, not its vectors.
  if (numerically_singular(w1) || numerically_singular(w2)) {
    r.offset = true;
    r.eps = eps;
  }
  r.trace_sqrt = trace_sqrt_product(std::move(e), w1, s2, r.eps);
  double diff2 = 0.0, tr1 = 0.0, tr2 = 0.0;
  for (int64_t i = 0; i < d; ++i) {
    const double m = s1.mu[static_cast<size_t>(i)] - s2.mu[static_cast<size_t>(i)];
    diff2 += m * m;
    tr1 += s1.sigma[static_cast<size_t>(i * d + i)] + r.eps;
    tr2 += s2.sigma[static_cast<size_t>(i * d + i)] + r.eps;
  }
  r.fid = diff2 + tr1 + tr2 - 2.0 * r.trace_sqrt;
  return r;
}

MeanStd kernel_inception_distance(const Tensor& a, const Tensor& b, const KidOptions& opt) {
  const Matrix x = matrix_of(a, "kernel_inception_distance (first set)");
  const Matrix y = matrix_of(b, "kernel_inception_distance (second set)");
  ATEBM_CHECK(x.cols == y.cols, "kernel_inception_distance: feature dimensions differ ({} vs {})", x.cols, y.cols);
  ATEBM_CHECK(x.cols >= 1, "kernel_inception_distance: features have dimension 0");
  ATEBM_CHECK(opt.subsets >= 1 && opt.subset_size >= 2,
              "kernel_inception_distance: need subsets >= 1 and subset_size >= 2, got {} and {}", opt.subsets,
              opt.subset_size);
  const int64_t m = std::min({opt.subset_size, x.rows, y.rows}), d = x.cols;
  ATEBM_CHECK(m >= 2, "kernel_inception_distance: needs at least 2 features in each set, got {} and {}", x.rows,
              y.rows);
  const auto mm = static_cast<size_t>(m * m);
  std::vector<double> xs(static_cast<size_t>(m * d)), ys(xs.size()), k(mm);
  // Sum of k(u, v) = (u·v / D + 1)³ over all pairs of rows of u and v, leaving out the diagonal
  // when u and v are the same subset.
  const auto kernel_sum = [&](const std::vector<double>& u, const std::vector<double>& v, bool same) {
    cpu::gemm(false, true, m, m, d, 1.0 / static_cast<double>(d), u.data(), d, v.data(), d, 0.0, k.data(), m);
    double s = 0.0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j) {
        if (same && i == j) continue;
        const double t = k[static_cast<size_t>(i * m + j)] + 1.0;
        s += t * t * t;
      }
    return s;
  };
  std::vector<double> values;
  for (int64_t s = 0; s < opt.subsets; ++s) {
    // Each subset pair has its own seeds, so subset s does not depend on how many came before.
    const auto su = static_cast<uint64_t>(s);
    const std::vector<int64_t> ix = draw_indices(x.rows, m, data::mix64(opt.seed ^ data::mix64(2 * su)));
    const std::vector<int64_t> iy = draw_indices(y.rows, m, data::mix64(opt.seed ^ data::mix64(2 * su + 1)));
    for (int64_t i = 0; i < m; ++i) {
      x.row_f64(ix[static_cast<size_t>(i)], xs.data() + i * d);
      y.row_f64(iy[static_cast<size_t>(i)], ys.data() + i * d);
    }
    const double md = static_cast<double>(m);
    const double kxx = kernel_sum(xs, xs, true), kyy = kernel_sum(ys, ys, true), kxy = kernel_sum(xs, ys, false);
    values.push_back((kxx + kyy) / (md * (md - 1.0)) - 2.0 * kxy / (md * md));
  }
  return mean_std(values);
}

MeanStd inception_score(const Tensor& logits, int64_t splits) {
  const Matrix l = matrix_of(logits, "inception_score");
  const int64_t n = l.rows, c = l.cols;
  ATEBM_CHECK(splits >= 1, "inception_score: splits must be >= 1, got {}", splits);
  ATEBM_CHECK(c >= 2, "inception_score: needs at least 2 classes, got {}", c);
  ATEBM_CHECK(n >= splits, "inception_score: {} images cannot fill {} splits (needs at least one per split)", n,
              splits);
  const int64_t part = n / splits;
  const auto cs = static_cast<size_t>(c);
  std::vector<double> logp(static_cast<size_t>(part) * cs), py(cs), row(cs);
  std::vector<double> scores;
  for (int64_t k = 0; k < splits; ++k) {
    std::fill(py.begin(), py.end(), 0.0);
    for (int64_t i = 0; i < part; ++i) {
      l.row_f64(k * part + i, row.data());
      const double top = *std::max_element(row.begin(), row.end());
      ATEBM_CHECK(std::isfinite(top), "inception_score: logits of image {} are not finite", k * part + i);
      double z = 0.0;
      for (const double v : row) z += std::exp(v - top);
      const double log_z = top + std::log(z);
      double* lp = logp.data() + static_cast<size_t>(i) * cs;
      for (size_t j = 0; j < cs; ++j) {
        lp[j] = row[j] - log_z;
        py[j] += std::exp(lp[j]);
      }
    }
    for (double& p : py) p /= static_cast<double>(part);
    // mean over the part of KL(p(y|x) || p(y)) = Σ_y p(y|x) (log p(y|x) − log p(y))
    double kl = 0.0;
    for (int64_t i = 0; i < part; ++i) {
      const double* lp = logp.data() + static_cast<size_t>(i) * cs;
      for (size_t j = 0; j < cs; ++j) {
        const double p = std::exp(lp[j]);
        if (p > 0.0 && py[j] > 0.0) kl += p * (lp[j] - std::log(py[j]));
      }
    }
    scores.push_back(std::exp(kl / static_cast<double>(part)));
  }
  return mean_std(scores);
}

}  // namespace atebm::at_ebm
