#include "ops/cpu/gemm_cpu.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "engine/error.h"
#include "engine/parallel.h"

namespace atebm::cpu {
namespace {

std::atomic<int> g_blas_threads{0};  // what we last passed to openblas_set_num_threads (0: never)
std::atomic<int> g_single_depth{0};  // live SingleThreadedBlas guards
std::atomic<GemmThreading> g_policy{GemmThreading::OpenMP};

// Below this many multiply-adds a GEMM is not worth splitting (OpenBLAS's own threshold for
// threading is similar: 4·65536).
constexpr int64_t kSplitMinWork = int64_t{1} << 18;
// Block edges of split GEMMs fall on multiples of this (full micro-tiles of the kernels).
constexpr int64_t kSplitAlign = 32;

void set_blas_threads(int n) {
  if (g_blas_threads.load() != n) {
    openblas_set_num_threads(n);
    g_blas_threads.store(n);
  }
}

// OpenBLAS starts with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS threads; the default policy wants
// one, before any GEMM can run inside a parallel region.
const bool g_initialised = [] {
  set_blas_threads(1);
  return true;
}();

// cblas takes 32-bit ints and rejects a leading dimension below the stored row length even
// for a single stored row, where it is never used; fix that case instead of failing.
int checked_ld(const char* what, int64_t ld, int64_t rows, int64_t cols) {
  if (rows <= 1) ld = std::max<int64_t>({ld, cols, 1});
  ATEBM_CHECK(ld >= std::max<int64_t>(cols, 1) && ld <= INT_MAX,
              "gemm: leading dimension {} = {} is invalid for a stored {}x{} matrix", what, ld, rows, cols);
  return static_cast<int>(ld);
}

template <typename T, typename Blas>
void gemm_impl(Blas blas, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  ATEBM_CHECK(m > 0 && n > 0 && k >= 0 && m <= INT_MAX && n <= INT_MAX && k <= INT_MAX,
              "gemm: sizes m={} n={} k={} out of range (32-bit BLAS)", m, n, k);
  const int ldc_ = checked_ld("ldc", ldc, m, n);
  if (k == 0) {  // C = beta · C; BLAS would also do it, but beta == 0 must not keep NaNs
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc_ + j] = beta == T(0) ? T(0) : beta * c[i * ldc_ + j];
    return;
  }
  const int lda_ = ta ? checked_ld("lda", lda, k, m) : checked_ld("lda", lda, m, k);
  const int ldb_ = tb ? checked_ld("ldb", ldb, n, k) : checked_ld("ldb", ldb, k, n);
  auto call = [&](int64_t m_, int64_t n_, const T* a_, const T* b_, T* c_) {
    blas(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m_),
         static_cast<int>(n_), static_cast<int>(k), alpha, a_, lda_, b_, ldb_, beta, c_, ldc_);
  };
  if (omp_in_parallel()) {
    if (g_blas_threads.load() != 1) {
      std::fputs(
          "atebm gemm: called from a parallel region while OpenBLAS is multi-threaded; hold a "
          "cpu::SingleThreadedBlas guard around the parallel_for (see ops/cpu/gemm_cpu.h)\n",
          stderr);
      std::abort();
    }
    call(m, n, a, b, c);
    return;
  }
  sync_blas_threads();
  const int64_t len = std::max(m, n);
  const int64_t parts = std::min<int64_t>(num_threads(), len / kSplitAlign);
  if (g_policy.load() == GemmThreading::OpenBLAS || parts <= 1 || m * n * k < kSplitMinWork) {
    call(m, n, a, b, c);
    return;
  }
  // OpenMP policy: split C into `parts` blocks along its longer side, one single-threaded GEMM
  // per thread. Each C element is still one full dot product over k, so the bits do not depend
  // on the thread count.
  const bool by_cols = n >= m;
  auto edge = [&](int64_t p) { return p == parts ? len : len * p / parts / kSplitAlign * kSplitAlign; };
  parallel_for(0, parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t lo = edge(p), hi = edge(p + 1);
      if (by_cols)  // columns lo..hi of op(B) and C
        call(m, hi - lo, a, tb ? b + lo * ldb_ : b + lo, c + lo);
      else  // rows lo..hi of op(A) and C
        call(hi - lo, n, ta ? a + lo : a + lo * lda_, b, c + lo * ldc_);
    }
  });
}

}  // namespace

void sync_blas_threads() {
  if (omp_in_parallel()) return;
  const bool single = g_single_depth.load() > 0 || g_policy.load() == GemmThreading::OpenMP;
  set_blas_threads(single ? 1 : num_threads());
}

void set_gemm_threading(GemmThreading policy) {
  ATEBM_CHECK(!omp_in_parallel(), "set_gemm_threading: call it outside parallel regions");
  g_policy.store(policy);
  sync_blas_threads();
}

GemmThreading gemm_threading() { return g_policy.load(); }

int blas_threads() { return g_blas_threads.load(); }

SingleThreadedBlas::SingleThreadedBlas() {
  ATEBM_CHECK(!omp_in_parallel(), "SingleThreadedBlas: construct it outside the parallel region");
  g_single_depth.fetch_add(1);
  set_blas_threads(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
  // The next gemm() outside a region restores num_threads() through sync_blas_threads().
  g_single_depth.fetch_sub(1);
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_impl<float>(cblas_sgemm, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm_impl<double>(cblas_dgemm, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace atebm::cpu
