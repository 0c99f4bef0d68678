// cuda_emu: cuBLAS's GEMMs emulated on the CPU (the contract is in include/cublas_v2.h).
//
// Each call validates its arguments as cuBLAS does (plus the device-range checks described in
// the header), captures the problem by value (pointers, sizes, scalars, TF32 or not) and hands a
// naive triple loop to cuda_emu::enqueue on the handle's stream. No blocking, no vectorisation:
// correctness only. Products are accumulated in k order, in the accumulation type.
#include <cublas_v2.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <type_traits>
#include <unordered_set>
#include <vector>

struct cublasContext {
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;  // checked and stored; the emulation needs none
  size_t workspace_bytes = 0;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace {

// ---- handles ------------------------------------------------------------------------------------

// Live handles, so that a destroyed or made-up handle is reported instead of dereferenced.
std::mutex& handles_mutex() {
  static std::mutex mu;
  return mu;
}
std::unordered_set<const cublasContext*>& live_handles() {
  static auto* set = new std::unordered_set<const cublasContext*>();  // never destroyed: handles outlive statics
  return *set;
}
bool is_live(cublasHandle_t h) {
  if (h == nullptr) return false;
  std::lock_guard<std::mutex> lock(handles_mutex());
  return live_handles().count(h) != 0;
}

// ---- problem ------------------------------------------------------------------------------------

// One (batched) GEMM in cuBLAS's column-major terms: for each b < batch,
// C_b[m, n] = alpha * op(A_b)[m, k] * op(B_b)[k, n] + beta * C_b, with X_b = X + b * stride_x.
template <class T>
struct Gemm {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0, batch = 1;
  T alpha{}, beta{};
  const T* a = nullptr;
  int64_t lda = 0, stride_a = 0;
  const T* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  T* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  bool tf32 = false;  // float only: round A and B to TF32 before multiplying
};

template <class T>
T input(T v, bool tf32) {
  if constexpr (std::is_same_v<T, float>) return tf32 ? cuda_emu::round_to_tf32(v) : v;
  return v;
}

template <class T>
void run_gemm(const Gemm<T>& g) {
  const bool reads_inputs = g.k > 0 && g.alpha != T(0);
  for (int64_t bi = 0; bi < g.batch; ++bi) {
    const T* a = g.a + bi * g.stride_a;
    const T* b = g.b + bi * g.stride_b;
    T* c = g.c + bi * g.stride_c;
    for (int64_t j = 0; j < g.n; ++j)
      for (int64_t i = 0; i < g.m; ++i) {
        T acc = 0;
        if (reads_inputs)
          for (int64_t l = 0; l < g.k; ++l) {
            const T av = g.trans_a ? a[i * g.lda + l] : a[l * g.lda + i];
            const T bv = g.trans_b ? b[l * g.ldb + j] : b[j * g.ldb + l];
            acc += input(av, g.tf32) * input(bv, g.tf32);
          }
        T& out = c[j * g.ldc + i];
        out = g.beta == T(0) ? g.alpha * acc : g.alpha * acc + g.beta * out;
      }
  }
}

// ---- validation ---------------------------------------------------------------------------------

bool valid_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

// True when the `batch` column-major matrices [rows, cols] (leading dimension ld, `stride`
// elements apart, from p) all lie inside one live device allocation.
bool in_device(const void* p, size_t elem, int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
  if (p == nullptr) return false;
  const int64_t one = (cols - 1) * ld + rows;  // elements spanned by one matrix
  const int64_t last = (batch - 1) * stride;
  const int64_t lo = std::min<int64_t>(0, last), hi = std::max<int64_t>(0, last) + one;
  const char* base = static_cast<const char*>(p) + lo * static_cast<int64_t>(elem);
  return cuda_emu::is_device_range(base, static_cast<size_t>(hi - lo) * elem);
}

// True when two of the batch's output matrices share an element (a race on a GPU).
bool outputs_overlap(int64_t m, int64_t n, int64_t ldc, int64_t stride_c, int64_t batch) {
  if (batch <= 1) return false;
  const int64_t s = stride_c < 0 ? -stride_c : stride_c;
  if (s >= (n - 1) * ldc + m) return false;  // consecutive matrices do not even interleave
  if (s == 0) return true;
  const int64_t span = (batch - 1) * s + (n - 1) * ldc + m;
  std::vector<bool> used(static_cast<size_t>(span), false);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < m; ++i) {
        const auto at = static_cast<size_t>(b * s + j * ldc + i);
        if (used[at]) return true;
        used[at] = true;
      }
  return false;
}

// A host-pointer-mode scalar must be host memory: on a GPU, a device pointer here faults.
bool host_scalar(const void* p, size_t bytes) { return p != nullptr && !cuda_emu::is_device_range(p, bytes); }

// Validates `g` (sizes, leading dimensions, extents) as cublas<t>gemm / GemmStridedBatched do
// and queues it; `alpha`/`beta` are the caller's host pointers.
template <class T>
cublasStatus_t gemm_call(const char* what, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const T* alpha, const T* a, int lda, long long sa, const T* b, int ldb, long long sb,
                         const T* beta, T* c, int ldc, long long sc, int batch, bool tf32) {
  if (!is_live(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(ta) || !valid_op(tb) || m < 0 || n < 0 || k < 0 || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const int64_t a_rows = ta == CUBLAS_OP_N ? m : k, a_cols = ta == CUBLAS_OP_N ? k : m;
  const int64_t b_rows = tb == CUBLAS_OP_N ? k : n, b_cols = tb == CUBLAS_OP_N ? n : k;
  if (lda < std::max<int64_t>(1, a_rows) || ldb < std::max<int64_t>(1, b_rows) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (!host_scalar(alpha, sizeof(T)) || !host_scalar(beta, sizeof(T))) return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;

  Gemm<T> g;
  g.trans_a = ta != CUBLAS_OP_N;
  g.trans_b = tb != CUBLAS_OP_N;
  g.m = m, g.n = n, g.k = k, g.batch = batch;
  g.alpha = *alpha, g.beta = *beta;  // host scalars: read now, captured by value
  g.a = a, g.lda = lda, g.stride_a = sa;
  g.b = b, g.ldb = ldb, g.stride_b = sb;
  g.c = c, g.ldc = ldc, g.stride_c = sc;
  g.tf32 = tf32;
  if ((g.k == 0 || g.alpha == T(0)) && g.beta == T(1)) return CUBLAS_STATUS_SUCCESS;  // C unchanged (BLAS)

  const bool reads_inputs = g.k > 0 && g.alpha != T(0);
  if (reads_inputs && (!in_device(a, sizeof(T), a_rows, a_cols, lda, sa, batch) ||
                       !in_device(b, sizeof(T), b_rows, b_cols, ldb, sb, batch)))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (!in_device(c, sizeof(T), m, n, ldc, sc, batch) || outputs_overlap(m, n, ldc, sc, batch))
    return CUBLAS_STATUS_INVALID_VALUE;

  const cudaError_t e = cuda_emu::enqueue(h->stream, what, [g] { run_gemm(g); });
  return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

// What an Ex call computes in: float or double data, and whether TF32 applies. NOT_SUPPORTED
// for any other combination of data and compute types (as cuBLAS, for the types declared here).
cublasStatus_t resolve_types(cublasHandle_t h, cudaDataType at, cudaDataType bt, cudaDataType ct,
                             cublasComputeType_t compute, bool* is_double, bool* tf32) {
  if (at != bt || at != ct) return CUBLAS_STATUS_NOT_SUPPORTED;
  switch (compute) {
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
    case CUBLAS_COMPUTE_32F_FAST_TF32:
      if (at != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
      *is_double = false;
      *tf32 = compute == CUBLAS_COMPUTE_32F_FAST_TF32 ||
              (compute == CUBLAS_COMPUTE_32F && h->math == CUBLAS_TF32_TENSOR_OP_MATH);
      return CUBLAS_STATUS_SUCCESS;
    case CUBLAS_COMPUTE_64F:
    case CUBLAS_COMPUTE_64F_PEDANTIC:
      if (at != CUDA_R_64F) return CUBLAS_STATUS_NOT_SUPPORTED;
      *is_double = true;
      *tf32 = false;
      return CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

// The typed GEMM an Ex call asks for.
cublasStatus_t gemm_ex(const char* what, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                       int k, const void* alpha, const void* a, cudaDataType at, int lda, long long sa, const void* b,
                       cudaDataType bt, int ldb, long long sb, const void* beta, void* c, cudaDataType ct, int ldc,
                       long long sc, int batch, cublasComputeType_t compute) {
  if (!is_live(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
  bool is_double = false, tf32 = false;
  const cublasStatus_t st = resolve_types(h, at, bt, ct, compute, &is_double, &tf32);
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  if (is_double)
    return gemm_call(what, h, ta, tb, m, n, k, static_cast<const double*>(alpha), static_cast<const double*>(a), lda,
                     sa, static_cast<const double*>(b), ldb, sb, static_cast<const double*>(beta),
                     static_cast<double*>(c), ldc, sc, batch, false);
  return gemm_call(what, h, ta, tb, m, n, k, static_cast<const float*>(alpha), static_cast<const float*>(a), lda, sa,
                   static_cast<const float*>(b), ldb, sb, static_cast<const float*>(beta), static_cast<float*>(c), ldc,
                   sc, batch, tf32);
}

}  // namespace

// ---- handles --------------------------------------------------------------------------------------

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  auto* h = new cublasContext();
  std::lock_guard<std::mutex> lock(handles_mutex());
  live_handles().insert(h);
  *handle = h;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  {
    std::lock_guard<std::mutex> lock(handles_mutex());
    if (handle == nullptr || live_handles().erase(handle) == 0) return CUBLAS_STATUS_NOT_INITIALIZED;
  }
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) {
  if (!is_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = streamId;
  handle->workspace = nullptr;  // cuBLAS falls back to its own pool: set the workspace after the stream
  handle->workspace_bytes = 0;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes) {
  if (!is_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (workspace == nullptr && workspaceSizeInBytes > 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (reinterpret_cast<uintptr_t>(workspace) % 256 != 0) return CUBLAS_STATUS_INVALID_VALUE;  // cuBLAS's rule
  if (workspaceSizeInBytes > 0 && !cuda_emu::is_device_range(workspace, workspaceSizeInBytes))
    return CUBLAS_STATUS_INVALID_VALUE;
  handle->workspace = workspace;
  handle->workspace_bytes = workspaceSizeInBytes;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!is_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_PEDANTIC_MATH && mode != CUBLAS_TF32_TENSOR_OP_MATH)
    return CUBLAS_STATUS_INVALID_VALUE;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

// ---- status strings ---------------------------------------------------------------------------------

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized (null or destroyed handle)";
    case CUBLAS_STATUS_ALLOC_FAILED: return "a resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid value was passed as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "the device lacks a required architectural feature";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the requested functionality is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "the requested functionality requires a license";
  }
  return "unknown cuBLAS status";
}

// ---- GEMMs ---------------------------------------------------------------------------------------

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t /*algo: ignored, as on sm_80+*/) {
  return gemm_ex("cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C,
                 Ctype, ldc, 0, 1, computeType);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long int strideA, const void* B, cudaDataType Btype, int ldb,
                                          long long int strideB, const void* beta, void* C, cudaDataType Ctype,
                                          int ldc, long long int strideC, int batchCount,
                                          cublasComputeType_t computeType, cublasGemmAlgo_t /*algo*/) {
  return gemm_ex("cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B,
                 Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType);
}

cublasStatus_t cublasDgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                              int k, const double* alpha, const double* A, int lda, const double* B, int ldb,
                              const double* beta, double* C, int ldc) {
  return gemm_call("cublasDgemm", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1,
                   false);
}

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const double* alpha, const double* A, int lda,
                                         long long int strideA, const double* B, int ldb, long long int strideB,
                                         const double* beta, double* C, int ldc, long long int strideC,
                                         int batchCount) {
  return gemm_call("cublasDgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb,
                   strideB, beta, C, ldc, strideC, batchCount, false);
}
