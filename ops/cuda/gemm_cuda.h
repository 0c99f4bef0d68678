#pragma once
// GEMM on raw device pointers (tier 1), the CUDA twin of ops/cpu/gemm_cpu.h, through cuBLAS.
// Plain C++ header (no CUDA includes): ops/linalg.cpp includes it in every build.
//
// Shape contract: exactly cpu::gemm's (row-major):
//   C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C[m, n]
//   op(A) = A  stored [m, k], row stride lda >= k   (trans_a = false)
//         = Aᵀ A stored [k, m], row stride lda >= m (trans_a = true); B likewise with ldb;
//   C [m, n] with row stride ldc >= n. beta == 0 overwrites C (NaNs in C are not propagated);
//   k == 0 gives C = beta · C. A leading dimension of a matrix stored as one row is not used and
//   is fixed up like the CPU wrapper does.
// The pointers live on the CURRENT CUDA device (where the engine allocates; see
// engine/cuda/cuda_allocator.h), the call is queued on cuda::current_stream() and returns
// without waiting.
//
// Row-major → cuBLAS (column-major): a row-major [r, c] matrix with row stride ld is, read
// column-major, its transpose [c, r] with leading dimension ld. So cuBLAS computes
//   Cᵀ[n, m] = op(B)ᵀ · op(A)ᵀ
// with the operands swapped (B first), the same transpose flags and the same leading dimensions;
// nothing is copied.
//
// float32: cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_TF32 when allow_tf32() (ops/math_mode.h),
// else CUBLAS_COMPUTE_32F (full FP32); float64: cublasDgemm. Results are deterministic for a
// given GPU, cuBLAS version and stream (cuBLAS's split-K reductions are not atomic by default).
#include <cstdint>

namespace atebm::cuda {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

/// `batch` independent GEMMs of the contract above: matrix i of A starts at a + i·stride_a
/// (likewise B, C; strides in elements, 0 for an operand shared by every product). One
/// cublas*StridedBatched call; batch == 1 is a plain gemm.
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                          int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta,
                          float* c, int64_t ldc, int64_t stride_c, int64_t batch);
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                          int64_t lda, int64_t stride_a, const double* b, int64_t ldb, int64_t stride_b, double beta,
                          double* c, int64_t ldc, int64_t stride_c, int64_t batch);

}  // namespace atebm::cuda
