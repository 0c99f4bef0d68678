#pragma once
// GEMM on raw pointers (tier 1): a thin wrapper over OpenBLAS's cblas_sgemm / cblas_dgemm, plus
// the rule that decides who owns the cores during a call.
//
// Shape contract (row-major, like cblas with CblasRowMajor):
//   C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C[m, n]
//   op(A) = A      stored [m, k] with row stride lda >= k   (trans_a = false)
//         = Aᵀ     A stored [k, m] with row stride lda >= m (trans_a = true)
//   op(B) likewise with ldb; C is [m, n] with row stride ldc >= n.
// A transposed operand is read in place through the flag: callers never copy to transpose.
// beta == 0 overwrites C (NaNs already in C are not propagated). k == 0 gives C = beta · C.
//
// Thread ownership: ONE pool owns the cores, never two fighting over them.
//   Default policy (GemmThreading::OpenMP): OpenBLAS is kept single-threaded (set once at
//   start-up) and gemm() itself splits C into num_threads() blocks along its longer side, one
//   single-threaded GEMM per block, on parallel_for. Every kernel of the engine (elementwise,
//   im2col, GEMM) then runs on the same OpenMP threads. Why: this OpenBLAS is the pthreads
//   build; its idle workers spin-wait ~0.1 s after each call, and libgomp's idle workers spin
//   after each region, so alternating BLAS-threaded GEMMs with parallel_for passes puts four
//   busy threads on two cores. Measured on the 2-core target (bench_conv): the conv ops run
//   6–12× slower with OpenBLAS's threads than with the split (OpenBLAS issue #3187 reports the
//   same effect), while sgemm 1024³ alone is equally fast either way (~200 GFLOP/s). Each C
//   element is still one full dot product over k, so the bits do not depend on the thread count.
//   GemmThreading::OpenBLAS: OpenBLAS's own threads, num_threads() of them (gemm() calls
//   sync_blas_threads(), so the count follows set_num_threads() without engine/parallel.cpp
//   knowing about BLAS). Kept for comparison and for programs that do no OpenMP work.
//   Inside a parallel region (a parallel_for body) the region already owns every core, so GEMM
//   must run serially there: always true under the default policy; under the OpenBLAS policy a
//   caller that runs GEMMs from parallel_for bodies holds a SingleThreadedBlas guard across the
//   parallel_for. gemm() aborts in a region while OpenBLAS is multi-threaded (an exception cannot
//   leave an OpenMP region, and it is a bug of the caller, not of the data): a multi-threaded
//   GEMM there would start num_threads² threads, and on 2 cores that oversubscription halves
//   throughput at best.
// The OpenBLAS thread count is process-wide state, so it is only ever changed outside regions
// from the thread that owns the call (the engine runs ops from one thread). Code elsewhere that
// calls cblas_* directly gets a single-threaded OpenBLAS under the default policy.
#include <cstdint>

namespace atebm::cpu {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

/// Who runs a GEMM's threads (outside parallel regions; inside one, GEMM is always serial).
///   OpenMP:   OpenBLAS stays single-threaded; gemm() splits C into num_threads() blocks on
///             parallel_for. One thread pool for every kernel of the engine. (default)
///   OpenBLAS: OpenBLAS's own pthreads, num_threads() of them.
enum class GemmThreading { OpenMP, OpenBLAS };
void set_gemm_threading(GemmThreading policy);
GemmThreading gemm_threading();

/// Gives OpenBLAS the thread count the policy wants: 1 under the default policy or while a
/// SingleThreadedBlas guard lives, else atebm::num_threads(). Cheap when nothing changed; a
/// no-op inside a parallel region.
void sync_blas_threads();
/// The thread count this wrapper last gave OpenBLAS (after sync_blas_threads()).
int blas_threads();

/// While alive, every GEMM runs single-threaded on its calling thread, so parallel_for bodies
/// may call gemm(). Construct it outside any parallel region. Nests.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;
};

}  // namespace atebm::cpu
