#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
// cuBLAS behind the contract of ops/cuda/gemm_cuda.h (the row-major ↔ column-major mapping is
// explained there).
//
// Handles: one cublasHandle_t per device, created on first use and never destroyed (destroying
// it during static destruction would race the CUDA runtime's teardown, like the allocator's
// blocks). A handle holds ONE current stream and workspace, so binding it and issuing a call
// happen under the handle's mutex: two threads never interleave their bindings.
// Before every call the handle is bound to current_stream() (cublasSetStream), and then to the
// device's workspace (cublasSetWorkspace; cublasSetStream resets the workspace to cuBLAS's own
// pool, so the order matters). The workspace is an engine Tensor from the caching allocator,
// one per device, allocated on first use and kept: cuBLAS then never allocates behind the
// engine's back, which keeps its calls capturable into CUDA graphs (engine/cuda/cuda_graph.h;
// a captured GEMM bakes in the workspace address, which stays valid forever). Like the caching
// allocator's blocks, the workspace is ordered only within one stream: code that runs GEMMs on
// two streams at the same time must synchronise them (engine/cuda/stream.h).
#include <cublas_v2.h>

#include <algorithm>
#include <array>
#include <climits>
#include <mutex>

#include "engine/cuda/basic_kernels_cuda.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/stream.h"
#include "engine/factories.h"
#include "ops/cuda/gemm_cuda.h"
#include "ops/math_mode.h"

// Throws atebm::Error naming the cuBLAS call, its status and the source location.
#define ATEBM_CUBLAS_CHECK(call)                                                                        \
  do {                                                                                                  \
    const cublasStatus_t atebm_cublas_st_ = (call);                                                     \
    if (atebm_cublas_st_ != CUBLAS_STATUS_SUCCESS) {                                                    \
      throw ::atebm::Error(::fmt::format("cuBLAS error: {} failed with {} ({}) at {}:{}", #call,        \
                                         cublasGetStatusName(atebm_cublas_st_),                         \
                                         cublasGetStatusString(atebm_cublas_st_), __FILE__, __LINE__)); \
    }                                                                                                   \
  } while (0)

namespace atebm::cuda {
namespace {

constexpr int kMaxDevices = 64;

struct BlasContext {
  cublasHandle_t handle = nullptr;
  size_t workspace_bytes = 0;
  std::mutex mu;     // guards the binding + call, and `workspace`
  Tensor workspace;  // allocated by the first call
};

// cuda::current_device(), within this file's per-device tables.
int table_device() {
  const int device = current_device();
  ATEBM_CHECK(device >= 0 && device < kMaxDevices, "gemm (cuda): device ordinal {} out of range [0, {})", device,
              kMaxDevices);
  return device;
}

// The device's context, created on first use on that (current) device. Workspace size: what
// the cuBLAS documentation recommends, 32 MiB on Hopper and newer, 4 MiB before.
BlasContext& context(int device) {
  static std::array<BlasContext*, kMaxDevices> contexts{};
  static std::array<std::once_flag, kMaxDevices> once;
  std::call_once(once[device], [device] {
    auto* ctx = new BlasContext();  // never destroyed: see the note on top
    ATEBM_CUBLAS_CHECK(cublasCreate(&ctx->handle));
    // Full FP32 unless a call asks for TF32 through its compute type.
    ATEBM_CUBLAS_CHECK(cublasSetMathMode(ctx->handle, CUBLAS_DEFAULT_MATH));
    int major = 0;
    ATEBM_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    ctx->workspace_bytes = static_cast<size_t>(major >= 9 ? 32 : 4) << 20;
    contexts[device] = ctx;
  });
  return *contexts[device];
}

// The current device's handle, locked and bound to current_stream() and the workspace for the
// lifetime of this object.
class BoundHandle {
 public:
  BoundHandle() : device_(table_device()), ctx_(context(device_)), lock_(ctx_.mu) {
    ATEBM_CUBLAS_CHECK(cublasSetStream(ctx_.handle, current_stream()));
    if (!ctx_.workspace.defined())
      ctx_.workspace = empty({static_cast<int64_t>(ctx_.workspace_bytes / sizeof(int64_t))},
                             {.dtype = DType::Int64, .device = Device::cuda(device_)});
    ATEBM_CUBLAS_CHECK(cublasSetWorkspace(ctx_.handle, ctx_.workspace.raw_data(), ctx_.workspace_bytes));
  }
  cublasHandle_t get() const { return ctx_.handle; }

 private:
  int device_;
  BlasContext& ctx_;
  std::lock_guard<std::mutex> lock_;
};

// cblas rejects a leading dimension below the stored row length even for a single stored row,
// where it is never used; the CPU wrapper fixes that case, and so does this one (cuBLAS has the
// same rule in column-major terms). Same message as the CPU.
int checked_ld(const char* what, int64_t ld, int64_t rows, int64_t cols) {
  if (rows <= 1) ld = std::max<int64_t>({ld, cols, 1});
  ATEBM_CHECK(ld >= std::max<int64_t>(cols, 1) && ld <= INT_MAX,
              "gemm: leading dimension {} = {} is invalid for a stored {}x{} matrix", what, ld, rows, cols);
  return static_cast<int>(ld);
}

// k == 0: C = beta · C for each of the batch's matrices; beta == 0 writes zeros (drops NaNs).
template <typename T>
__global__ void scale_kernel(T* c, int64_t m, int64_t n, int64_t ldc, int64_t stride_c, int64_t total, T beta) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t col = i % n, row = (i / n) % m, mat = i / (m * n);
    T* p = c + mat * stride_c + row * ldc + col;
    *p = beta == T(0) ? T(0) : beta * *p;
  }
}

// The cuBLAS calls in column-major terms (see gemm_cuda.h): C'[mm, nn] = op(A') · op(B') with
// A' = the row-major B and B' = the row-major A.
void blas_call(cublasHandle_t h, cublasOperation_t op_a, cublasOperation_t op_b, int mm, int nn, int k, float alpha,
               const float* a, int lda, int64_t sa, const float* b, int ldb, int64_t sb, float beta, float* c,
               int ldc, int64_t sc, int batch) {
  const cublasComputeType_t compute = allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  if (batch == 1)
    ATEBM_CUBLAS_CHECK(cublasGemmEx(h, op_a, op_b, mm, nn, k, &alpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &beta,
                                    c, CUDA_R_32F, ldc, compute, CUBLAS_GEMM_DEFAULT));
  else
    ATEBM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, op_a, op_b, mm, nn, k, &alpha, a, CUDA_R_32F, lda, sa, b,
                                                  CUDA_R_32F, ldb, sb, &beta, c, CUDA_R_32F, ldc, sc, batch, compute,
                                                  CUBLAS_GEMM_DEFAULT));
}

void blas_call(cublasHandle_t h, cublasOperation_t op_a, cublasOperation_t op_b, int mm, int nn, int k, double alpha,
               const double* a, int lda, int64_t sa, const double* b, int ldb, int64_t sb, double beta, double* c,
               int ldc, int64_t sc, int batch) {
  if (batch == 1)
    ATEBM_CUBLAS_CHECK(cublasDgemm(h, op_a, op_b, mm, nn, k, &alpha, a, lda, b, ldb, &beta, c, ldc));
  else
    ATEBM_CUBLAS_CHECK(cublasDgemmStridedBatched(h, op_a, op_b, mm, nn, k, &alpha, a, lda, sa, b, ldb, sb, &beta, c,
                                                 ldc, sc, batch));
}

template <typename T>
void gemm_impl(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, int64_t sa,
               const T* b, int64_t ldb, int64_t sb, T beta, T* c, int64_t ldc, int64_t sc, int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  ATEBM_CHECK(m > 0 && n > 0 && k >= 0 && batch > 0 && m <= INT_MAX && n <= INT_MAX && k <= INT_MAX &&
                  batch <= INT_MAX,
              "gemm (cuda): sizes m={} n={} k={} batch={} out of range (32-bit cuBLAS)", m, n, k, batch);
  const int ldc_ = checked_ld("ldc", ldc, m, n);
  ATEBM_CHECK(sa >= 0 && sb >= 0 && (batch == 1 || sc >= (m - 1) * ldc_ + n),
              "gemm (cuda): batch strides A {}, B {}, C {} invalid: they must be >= 0 and the {} output matrices "
              "[{}, {}] (ldc {}) must not overlap",
              sa, sb, sc, batch, m, n, ldc_);
  if (k == 0) {
    const int64_t total = batch * m * n;
    ATEBM_LAUNCH(grid_for(total), kThreads, 0, current_stream(), scale_kernel<T>)(c, m, n, ldc_, sc, total, beta);
    ATEBM_CUDA_CHECK_LAUNCH();
    return;
  }
  const int lda_ = ta ? checked_ld("lda", lda, k, m) : checked_ld("lda", lda, m, k);
  const int ldb_ = tb ? checked_ld("ldb", ldb, n, k) : checked_ld("ldb", ldb, k, n);
  const cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  BoundHandle h;
  // Cᵀ[n, m] = op(B)ᵀ · op(A)ᵀ: B first, then A, same flags and leading dimensions.
  blas_call(h.get(), op_b, op_a, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), alpha, b, ldb_, sb, a,
            lda_, sa, beta, c, ldc_, sc, static_cast<int>(batch));
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_impl<float>(trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm_impl<double>(trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                          int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta,
                          float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  gemm_impl<float>(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, batch);
}

void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                          int64_t lda, int64_t stride_a, const double* b, int64_t ldb, int64_t stride_b, double beta,
                          double* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  gemm_impl<double>(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c,
                    batch);
}

}  // namespace atebm::cuda
