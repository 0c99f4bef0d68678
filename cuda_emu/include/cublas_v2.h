#pragma once
// cuda_emu: cuBLAS (the v2 API of CUDA 13) emulated on the CPU, for the engine's ops/cuda/gemm.cu.
//
// Contract: the declarations below have the names, types, enum values and signatures of NVIDIA's
// cublas_api.h / cublas_v2.h / library_types.h, so code written for cuBLAS compiles unchanged.
// Only what the engine uses is declared, plus cublasDestroy, CUBLAS_OP_C and the compute types and
// math modes whose precision the emulation distinguishes. The calls behave as cuBLAS's:
//   - GEMMs are column-major, C = alpha * op(A) * op(B) + beta * C, op = N or T (C means T for
//     real types); beta == 0 overwrites C without reading it (NaNs in C vanish); alpha == 0 or
//     k == 0 does not read A or B. m == 0 or n == 0 (or batchCount == 0) returns at once.
//   - A call is queued on the handle's stream through cuda_emu::enqueue: it runs at once, or is
//     recorded into the graph the stream captures. alpha and beta (host pointers) are read when
//     the call is made.
//   - Precision: float GEMMs accumulate in float, double in double. TF32 (inputs rounded with
//     cuda_emu::round_to_tf32, products accumulated in float) applies to float data when the
//     compute type is CUBLAS_COMPUTE_32F_FAST_TF32, or CUBLAS_COMPUTE_32F on a handle whose math
//     mode is CUBLAS_TF32_TENSOR_OP_MATH; never with a _PEDANTIC compute type.
//   - Status codes are cuBLAS's: CUBLAS_STATUS_NOT_INITIALIZED for a null or destroyed handle,
//     CUBLAS_STATUS_INVALID_VALUE for negative sizes, leading dimensions below max(1, rows), null
//     scalars, a misaligned workspace, CUBLAS_STATUS_NOT_SUPPORTED for type combinations it lacks.
//     Stricter than cuBLAS, to catch bugs that a GPU reports late or never: every matrix extent
//     the call touches must lie inside one live cudaMalloc allocation, the output matrices of a
//     batch must not overlap, and alpha/beta must not point into device memory (host pointer
//     mode); each of these returns CUBLAS_STATUS_INVALID_VALUE.
//   - CUBLAS_STATUS_EXECUTION_FAILED when the stream rejects the work (cuda_emu::enqueue).
// Not emulated: speed, the algorithm choice (`algo` is accepted and ignored, as cuBLAS does on
// sm_80 and newer), the workspace's use (it is checked and stored, never written), half and
// bfloat16 types, pointer mode device.
//
// Like cuda_runtime.h here, the functions are C++ (not extern "C"), so they never clash with
// the real libcublas symbols.
#include <cstddef>
#include <cstdint>

#include "cuda_runtime.h"

// ---- library_types.h (shared with any other library header that needs the data types) -------------
#ifndef CUDA_EMU_LIBRARY_TYPES_H
#define CUDA_EMU_LIBRARY_TYPES_H
enum cudaDataType_t {
  CUDA_R_32F = 0,  // float
  CUDA_R_64F = 1,  // double
};
typedef cudaDataType_t cudaDataType;
#endif

// ---- types ------------------------------------------------------------------------------------------
enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
  CUBLAS_STATUS_LICENSE_ERROR = 16,
};

enum cublasOperation_t {
  CUBLAS_OP_N = 0,
  CUBLAS_OP_T = 1,
  CUBLAS_OP_C = 2,  // conjugate transpose: the same as T for real types
};

enum cublasGemmAlgo_t {
  CUBLAS_GEMM_DEFAULT = -1,
};

enum cublasMath_t {
  CUBLAS_DEFAULT_MATH = 0,
  CUBLAS_PEDANTIC_MATH = 2,
  CUBLAS_TF32_TENSOR_OP_MATH = 3,
};

enum cublasComputeType_t {
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_PEDANTIC = 69,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
  CUBLAS_COMPUTE_64F = 70,
  CUBLAS_COMPUTE_64F_PEDANTIC = 71,
};

struct cublasContext;
typedef cublasContext* cublasHandle_t;

// ---- API (cublas_v2.h maps the plain names onto the _v2 entry points, as here) ---------------------
cublasStatus_t cublasCreate_v2(cublasHandle_t* handle);
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle);
// Also resets the workspace to the library's own (none here), as cuBLAS does.
cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId);
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);

const char* cublasGetStatusName(cublasStatus_t status);
const char* cublasGetStatusString(cublasStatus_t status);

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo);

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long int strideA, const void* B, cudaDataType Btype, int ldb,
                                          long long int strideB, const void* beta, void* C, cudaDataType Ctype,
                                          int ldc, long long int strideC, int batchCount,
                                          cublasComputeType_t computeType, cublasGemmAlgo_t algo);

cublasStatus_t cublasDgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                              int k, const double* alpha, const double* A, int lda, const double* B, int ldb,
                              const double* beta, double* C, int ldc);

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const double* alpha, const double* A, int lda,
                                         long long int strideA, const double* B, int ldb, long long int strideB,
                                         const double* beta, double* C, int ldc, long long int strideC,
                                         int batchCount);

#define cublasCreate cublasCreate_v2
#define cublasDestroy cublasDestroy_v2
#define cublasSetStream cublasSetStream_v2
#define cublasSetWorkspace cublasSetWorkspace_v2
#define cublasDgemm cublasDgemm_v2
