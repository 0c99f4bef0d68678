// The cuBLAS and cuDNN emulations (include/cublas_v2.h, include/cudnn.h): results against
// references written here from the definitions (not from the emulation's loops), the scalar
// and precision rules (beta == 0, TF32 by compute type / math mode), the algorithm and workspace
// protocol the engine relies on, stream capture, and the errors that catch a wrong pointer,
// extent, workspace or descriptor. Every problem is tiny.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "copies.h"
#include "cublas_v2.h"
#include "cuda_runtime.h"
#include "cudnn.h"

namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- device buffers -------------------------------------------------------------------------------

// n elements of T in device memory, freed at scope exit.
template <class T>
class Device {
 public:
  explicit Device(size_t n) : n_(n) { EXPECT_EQ(cudaMalloc(&p_, n * sizeof(T)), cudaSuccess); }
  explicit Device(const std::vector<T>& host) : Device(host.size()) { upload(host); }
  ~Device() { EXPECT_EQ(cudaFree(p_), cudaSuccess); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  T* get() const { return p_; }
  void upload(const std::vector<T>& host) {
    ASSERT_EQ(host.size(), n_);
    ASSERT_EQ(cudaMemcpy(p_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  std::vector<T> download() const { return cuda_emu::test::to_host(p_, n_); }

 private:
  T* p_ = nullptr;
  size_t n_;
};

template <class T>
std::vector<T> random_values(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(gen));
  return v;
}

// ---- cuBLAS ---------------------------------------------------------------------------------------

class Cublas : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS); }
  void TearDown() override { EXPECT_EQ(cublasDestroy(handle_), CUBLAS_STATUS_SUCCESS); }
  cublasHandle_t handle_ = nullptr;
};

// A logical matrix M [rows, cols] (row-major here) stored as cuBLAS reads op(X): column-major,
// transposed when `trans`, leading dimension ld, NaN in the padding rows (never to be read).
template <class T>
std::vector<T> store_operand(const std::vector<double>& m, int rows, int cols, bool trans, int ld) {
  const int stored_cols = trans ? rows : cols;
  std::vector<T> out(static_cast<size_t>(ld) * stored_cols, std::numeric_limits<T>::quiet_NaN());
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      const size_t at = trans ? static_cast<size_t>(i) * ld + j : static_cast<size_t>(j) * ld + i;
      out[at] = static_cast<T>(m[static_cast<size_t>(i) * cols + j]);
    }
  return out;
}

// [rows, cols] row-major product of logical matrices, in double.
std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, int m, int k, int n) {
  std::vector<double> c(static_cast<size_t>(m) * n, 0.0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j)
      for (int l = 0; l < k; ++l)
        c[static_cast<size_t>(i) * n + j] += a[static_cast<size_t>(i) * k + l] * b[static_cast<size_t>(l) * n + j];
  return c;
}

// Logical values that are exact in float: small integers, or multiples of 1/8 when `fraction`.
std::vector<double> logical(int rows, int cols, unsigned seed, bool fraction) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(-4, 4);
  std::vector<double> v(static_cast<size_t>(rows) * cols);
  for (double& x : v) x = fraction ? dist(gen) / 8.0 + dist(gen) / 64.0 : dist(gen);
  return v;
}

TEST_F(Cublas, GemmExMatchesTheReferenceForEveryTransposeCombination) {
  const int m = 3, n = 4, k = 5;
  const float alpha = 1.5f, beta = -0.5f;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(testing::Message() << "trans_a " << ta << " trans_b " << tb);
      const auto am = logical(m, k, 1, true), bm = logical(k, n, 2, true), c0 = logical(m, n, 3, true);
      const int lda = (ta ? k : m) + 2, ldb = (tb ? n : k) + 1, ldc = m + 3;  // leading dims above the rows
      Device<float> a(store_operand<float>(am, m, k, ta, lda)), b(store_operand<float>(bm, k, n, tb, ldb));
      Device<float> c(store_operand<float>(c0, m, n, false, ldc));
      ASSERT_EQ(cublasGemmEx(handle_, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha,
                             a.get(), CUDA_R_32F, lda, b.get(), CUDA_R_32F, ldb, &beta, c.get(), CUDA_R_32F, ldc,
                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                CUBLAS_STATUS_SUCCESS);
      const auto ab = matmul(am, bm, m, k, n);
      const auto out = c.download();
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          const double want = alpha * ab[i * n + j] + beta * c0[i * n + j];
          EXPECT_NEAR(out[j * ldc + i], want, 1e-5) << "C(" << i << ", " << j << ")";
        }
      for (int j = 0; j < n; ++j)
        for (int i = m; i < ldc; ++i) EXPECT_TRUE(std::isnan(out[j * ldc + i])) << "padding of C was written";
    }
}

TEST_F(Cublas, DgemmIsExactInDouble) {
  const int m = 4, n = 2, k = 3;
  const double alpha = 2.0, beta = 3.0;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(testing::Message() << "trans_a " << ta << " trans_b " << tb);
      // 1 + 2^-40 keeps bits that float would drop: the sums are exact only in double.
      auto am = logical(m, k, 4, false), bm = logical(k, n, 5, false);
      am[0] += std::ldexp(1.0, -40);
      const auto c0 = logical(m, n, 6, false);
      const int lda = ta ? k : m, ldb = tb ? n : k, ldc = m;
      Device<double> a(store_operand<double>(am, m, k, ta, lda)), b(store_operand<double>(bm, k, n, tb, ldb));
      Device<double> c(store_operand<double>(c0, m, n, false, ldc));
      ASSERT_EQ(cublasDgemm(handle_, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha,
                            a.get(), lda, b.get(), ldb, &beta, c.get(), ldc),
                CUBLAS_STATUS_SUCCESS);
      const auto ab = matmul(am, bm, m, k, n);
      const auto out = c.download();
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) EXPECT_EQ(out[j * ldc + i], alpha * ab[i * n + j] + beta * c0[i * n + j]);
    }
}

// Batch b reads A + b * stride_a etc.; the gaps between the batch's C matrices stay untouched.
template <class T, class Call>
void check_strided_batched(Call call) {
  const int m = 2, n = 3, k = 4, batch = 3, lda = m, ldb = k + 1, ldc = m;
  const long long sa = m * k + 5, sb = ldb * n + 2, sc = m * n + 4;
  std::vector<std::vector<double>> am, bm;
  std::vector<T> a(sa * batch, std::numeric_limits<T>::quiet_NaN()), b(sb * batch, std::numeric_limits<T>::quiet_NaN());
  std::vector<T> c(sc * batch, T(7));  // 7 = sentinel in the gaps (and the initial C: beta != 0 below)
  for (int i = 0; i < batch; ++i) {
    am.push_back(logical(m, k, 10 + i, true));
    bm.push_back(logical(k, n, 20 + i, true));
    const auto sa_i = store_operand<T>(am.back(), m, k, false, lda);
    const auto sb_i = store_operand<T>(bm.back(), k, n, false, ldb);
    std::copy(sa_i.begin(), sa_i.end(), a.begin() + i * sa);
    std::copy(sb_i.begin(), sb_i.end(), b.begin() + i * sb);
  }
  Device<T> da(a), db(b), dc(c);
  const T alpha = 2, beta = 0.5;
  ASSERT_EQ(call(m, n, k, &alpha, da.get(), lda, sa, db.get(), ldb, sb, &beta, dc.get(), ldc, sc, batch),
            CUBLAS_STATUS_SUCCESS);
  const auto out = dc.download();
  for (int bi = 0; bi < batch; ++bi) {
    const auto ab = matmul(am[bi], bm[bi], m, k, n);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        EXPECT_NEAR(out[bi * sc + j * ldc + i], alpha * ab[i * n + j] + beta * 7.0, 1e-5) << "batch " << bi;
    for (long long g = m * n; g < sc; ++g) EXPECT_EQ(out[bi * sc + g], T(7)) << "gap of batch " << bi << " written";
  }
}

TEST_F(Cublas, StridedBatchedReadsEachMatrixAtItsStride) {
  check_strided_batched<float>([&](int m, int n, int k, const float* al, const float* a, int lda, long long sa,
                                   const float* b, int ldb, long long sb, const float* be, float* c, int ldc,
                                   long long sc, int batch) {
    return cublasGemmStridedBatchedEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, al, a, CUDA_R_32F, lda, sa, b,
                                      CUDA_R_32F, ldb, sb, be, c, CUDA_R_32F, ldc, sc, batch, CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT);
  });
  check_strided_batched<double>([&](int m, int n, int k, const double* al, const double* a, int lda, long long sa,
                                    const double* b, int ldb, long long sb, const double* be, double* c, int ldc,
                                    long long sc, int batch) {
    return cublasDgemmStridedBatched(handle_, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, al, a, lda, sa, b, ldb, sb, be, c,
                                     ldc, sc, batch);
  });
}

TEST_F(Cublas, BetaZeroOverwritesNaNInC) {
  Device<float> a(std::vector<float>{1, 2}), b(std::vector<float>{3, 4}), c(std::vector<float>{kNaNf});
  const float alpha = 1, beta = 0;
  ASSERT_EQ(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, 1, 1, 2, &alpha, a.get(), CUDA_R_32F, 2, b.get(),
                         CUDA_R_32F, 2, &beta, c.get(), CUDA_R_32F, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c.download()[0], 11.0f);
}

TEST_F(Cublas, KZeroScalesCAndEmptyOutputsAreNoOps) {
  Device<double> c(std::vector<double>{1, 2, 3, 4});
  const double alpha = 5, beta = -2;
  // k == 0: C = beta * C, A and B never read (null is fine).
  ASSERT_EQ(cublasDgemm(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 0, &alpha, nullptr, 2, nullptr, 1, &beta, c.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c.download(), (std::vector<double>{-2, -4, -6, -8}));
  // m == 0: nothing is touched.
  EXPECT_EQ(cublasDgemm(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 0, 2, 3, &alpha, nullptr, 1, nullptr, 3, &beta, nullptr, 1),
            CUBLAS_STATUS_SUCCESS);
}

// 1 + 2^-12 needs 12 mantissa bits: TF32 (10 bits, nearest) rounds it to 1.
TEST_F(Cublas, Tf32FollowsTheComputeTypeAndTheMathMode) {
  const float x = 1.0f + std::ldexp(1.0f, -12);
  ASSERT_EQ(cuda_emu::round_to_tf32(x), 1.0f);
  Device<float> a(std::vector<float>{x}), b(std::vector<float>{x}), c(1);
  auto product = [&](cublasComputeType_t compute) {
    const float alpha = 1, beta = 0;
    EXPECT_EQ(cublasGemmEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &alpha, a.get(), CUDA_R_32F, 1, b.get(),
                           CUDA_R_32F, 1, &beta, c.get(), CUDA_R_32F, 1, compute, CUBLAS_GEMM_DEFAULT),
              CUBLAS_STATUS_SUCCESS);
    return c.download()[0];
  };
  const float exact = x * x;
  ASSERT_NE(exact, 1.0f);
  ASSERT_EQ(cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(product(CUBLAS_COMPUTE_32F), exact);
  EXPECT_EQ(product(CUBLAS_COMPUTE_32F_FAST_TF32), 1.0f);
  ASSERT_EQ(cublasSetMathMode(handle_, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(product(CUBLAS_COMPUTE_32F), 1.0f);
  EXPECT_EQ(product(CUBLAS_COMPUTE_32F_PEDANTIC), exact);
  ASSERT_EQ(cublasSetMathMode(handle_, CUBLAS_PEDANTIC_MATH), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(product(CUBLAS_COMPUTE_32F), exact);
}

TEST_F(Cublas, RejectsHostPointersAndExtentsOutsideTheAllocation) {
  Device<float> a(6), b(6), c(4);
  std::vector<float> host(6, 1.0f);
  const float alpha = 1, beta = 0;
  auto gemm = [&](const float* pa, int lda, const float* pb, float* pc) {
    return cublasGemmEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &alpha, pa, CUDA_R_32F, lda, pb, CUDA_R_32F, 3,
                        &beta, pc, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  };
  EXPECT_EQ(gemm(a.get(), 2, b.get(), c.get()), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(gemm(host.data(), 2, b.get(), c.get()), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(a.get(), 2, b.get(), host.data()), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(a.get(), 3, b.get(), c.get()), CUBLAS_STATUS_INVALID_VALUE);  // A spans 2 * 3 + 2 = 8 > 6
  EXPECT_EQ(gemm(a.get() + 1, 2, b.get(), c.get()), CUBLAS_STATUS_INVALID_VALUE);
  // A device pointer as a host-mode scalar would fault on a GPU.
  EXPECT_EQ(cublasGemmEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, a.get(), a.get(), CUDA_R_32F, 2, b.get(),
                         CUDA_R_32F, 3, &beta, c.get(), CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_INVALID_VALUE);
  // Batched: the last matrix must fit too, and output matrices must not overlap.
  const float* a0 = a.get();
  EXPECT_EQ(cublasGemmStridedBatchedEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 3, &alpha, a0, CUDA_R_32F, 1, 3,
                                       b.get(), CUDA_R_32F, 3, 3, &beta, c.get(), CUDA_R_32F, 1, 1, 2,
                                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasGemmStridedBatchedEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 3, &alpha, a0, CUDA_R_32F, 1, 4,
                                       b.get(), CUDA_R_32F, 3, 3, &beta, c.get(), CUDA_R_32F, 1, 1, 2,
                                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasGemmStridedBatchedEx(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 3, &alpha, a0, CUDA_R_32F, 1, 3,
                                       b.get(), CUDA_R_32F, 3, 3, &beta, c.get(), CUDA_R_32F, 1, 0, 2,
                                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(Cublas, ValidatesArgumentsWithCublasStatuses) {
  Device<float> a(16), b(16), c(16);
  Device<double> d(16);
  const float alpha = 1, beta = 0;
  auto gemm = [&](cublasHandle_t h, cublasOperation_t ta, int m, int n, int k, int lda, int ldb, int ldc,
                  const float* al, cudaDataType ct, cublasComputeType_t compute) {
    void* pc = ct == CUDA_R_64F ? static_cast<void*>(d.get()) : static_cast<void*>(c.get());
    return cublasGemmEx(h, ta, CUBLAS_OP_N, m, n, k, al, a.get(), CUDA_R_32F, lda, b.get(), CUDA_R_32F, ldb, &beta, pc,
                        ct, ldc, compute, CUBLAS_GEMM_DEFAULT);
  };
  const auto f32 = CUDA_R_32F;
  const auto c32 = CUBLAS_COMPUTE_32F;
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 2, 2, 2, 2, 2, 2, &alpha, f32, c32), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(gemm(nullptr, CUBLAS_OP_N, 2, 2, 2, 2, 2, 2, &alpha, f32, c32), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, -1, 2, 2, 2, 2, 2, &alpha, f32, c32), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 2, 2, -2, 2, 2, 2, &alpha, f32, c32), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 3, 2, 2, 2, 2, 3, &alpha, f32, c32), CUBLAS_STATUS_INVALID_VALUE);  // lda < m
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_T, 2, 2, 3, 2, 3, 2, &alpha, f32, c32), CUBLAS_STATUS_INVALID_VALUE);  // lda < k
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 2, 2, 3, 2, 2, 2, &alpha, f32, c32), CUBLAS_STATUS_INVALID_VALUE);  // ldb < k
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 2, 2, 2, 2, 2, 1, &alpha, f32, c32), CUBLAS_STATUS_INVALID_VALUE);  // ldc < m
  EXPECT_EQ(gemm(handle_, static_cast<cublasOperation_t>(7), 2, 2, 2, 2, 2, 2, &alpha, f32, c32),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 2, 2, 2, 2, 2, 2, nullptr, f32, c32), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 2, 2, 2, 2, 2, 2, &alpha, CUDA_R_64F, c32), CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 2, 2, 2, 2, 2, 2, &alpha, f32, CUBLAS_COMPUTE_64F), CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cublasSetMathMode(handle_, static_cast<cublasMath_t>(99)), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasCreate(nullptr), CUBLAS_STATUS_INVALID_VALUE);

  // The workspace: 256-byte aligned device memory (cuBLAS's rule), or nothing.
  Device<char> ws(1024);
  EXPECT_EQ(cublasSetWorkspace(handle_, ws.get(), 1024), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSetWorkspace(handle_, ws.get() + 16, 512), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasSetWorkspace(handle_, ws.get(), 2048), CUBLAS_STATUS_INVALID_VALUE);
  alignas(256) static char host_ws[256];
  EXPECT_EQ(cublasSetWorkspace(handle_, host_ws, sizeof(host_ws)), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasSetWorkspace(handle_, nullptr, 0), CUBLAS_STATUS_SUCCESS);

  cublasHandle_t gone = nullptr;
  ASSERT_EQ(cublasCreate(&gone), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasDestroy(gone), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSetStream(gone, nullptr), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasDestroy(gone), CUBLAS_STATUS_NOT_INITIALIZED);
}

TEST_F(Cublas, StatusNamesAndStrings) {
  EXPECT_STREQ(cublasGetStatusName(CUBLAS_STATUS_SUCCESS), "CUBLAS_STATUS_SUCCESS");
  EXPECT_STREQ(cublasGetStatusName(CUBLAS_STATUS_INVALID_VALUE), "CUBLAS_STATUS_INVALID_VALUE");
  EXPECT_STREQ(cublasGetStatusName(CUBLAS_STATUS_EXECUTION_FAILED), "CUBLAS_STATUS_EXECUTION_FAILED");
  EXPECT_GT(std::strlen(cublasGetStatusString(CUBLAS_STATUS_NOT_SUPPORTED)), 0u);
  EXPECT_STRNE(cublasGetStatusString(CUBLAS_STATUS_NOT_SUPPORTED), cublasGetStatusString(CUBLAS_STATUS_SUCCESS));
}

// Under capture the GEMM is recorded (C untouched) with the scalars of the call, and runs when
// the graph is launched.
TEST_F(Cublas, CapturedGemmRunsAtGraphLaunchWithTheScalarsOfTheCall) {
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cublasSetStream(handle_, s), CUBLAS_STATUS_SUCCESS);
  Device<double> a(std::vector<double>{2}), b(std::vector<double>{3}), c(std::vector<double>{1});
  double alpha = 10, beta = 1;
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(cublasDgemm(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &alpha, a.get(), 1, b.get(), 1, &beta, c.get(), 1),
            CUBLAS_STATUS_SUCCESS);
  alpha = 1000;  // read at the call: the graph keeps 10
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  EXPECT_EQ(c.download()[0], 1.0);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(c.download()[0], 121.0);  // 1 + 60, then + 60
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

// ---- cuDNN ----------------------------------------------------------------------------------------

// A 2-d convolution problem: x [n, c, h, w], w [k, c, r, s].
struct Geometry {
  int n, c, h, w, k, r, s;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  int ho() const { return (h + 2 * pad_h - ((r - 1) * dil_h + 1)) / stride_h + 1; }
  int wo() const { return (w + 2 * pad_w - ((s - 1) * dil_w + 1)) / stride_w + 1; }
  size_t x_size() const { return static_cast<size_t>(n) * c * h * w; }
  size_t w_size() const { return static_cast<size_t>(k) * c * r * s; }
  size_t y_size() const { return static_cast<size_t>(n) * k * ho() * wo(); }
};

// Geometries with padding, stride and dilation in each direction, and a flipped kernel.
std::vector<Geometry> geometries() {
  std::vector<Geometry> gs;
  gs.push_back({1, 1, 4, 4, 1, 3, 3});
  Geometry g{2, 3, 7, 6, 4, 3, 2};
  g.pad_h = 1, g.pad_w = 2, g.stride_h = 2, g.stride_w = 1, g.dil_h = 1, g.dil_w = 2;
  gs.push_back(g);
  Geometry f{1, 2, 5, 5, 3, 2, 3};
  f.pad_h = 2, f.pad_w = 0, f.stride_h = 1, f.stride_w = 2, f.dil_h = 2, f.dil_w = 1;
  f.mode = CUDNN_CONVOLUTION;
  gs.push_back(f);
  return gs;
}

// y[n, k, oh, ow] = sum x[n, c, ih, iw] * w[k, c, r, s] over the taps in range, in double,
// straight from the definition (CUDNN_CONVOLUTION reads the filter flipped).
std::vector<double> reference_forward(const Geometry& g, const std::vector<double>& x, const std::vector<double>& w) {
  std::vector<double> y(g.y_size(), 0.0);
  const int ho = g.ho(), wo = g.wo();
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int oh = 0; oh < ho; ++oh)
        for (int ow = 0; ow < wo; ++ow) {
          double sum = 0;
          for (int c = 0; c < g.c; ++c)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                const int ih = oh * g.stride_h - g.pad_h + r * g.dil_h, iw = ow * g.stride_w - g.pad_w + s * g.dil_w;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                const int fr = g.mode == CUDNN_CONVOLUTION ? g.r - 1 - r : r;
                const int fs = g.mode == CUDNN_CONVOLUTION ? g.s - 1 - s : s;
                sum += x[((n * g.c + c) * g.h + ih) * g.w + iw] * w[((k * g.c + c) * g.r + fr) * g.s + fs];
              }
          y[((n * g.k + k) * ho + oh) * wo + ow] = sum;
        }
  return y;
}

template <class T>
constexpr cudnnDataType_t data_type() {
  return std::is_same_v<T, double> ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
}

// The descriptors of one problem, as the engine makes them (NCHW, packed).
class Conv {
 public:
  Conv(const Geometry& g, cudnnDataType_t type, cudnnMathType_t math) {
    EXPECT_EQ(cudnnCreateTensorDescriptor(&x), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnCreateTensorDescriptor(&y), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnCreateFilterDescriptor(&w), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnCreateConvolutionDescriptor(&conv), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, type, g.n, g.c, g.h, g.w), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetFilter4dDescriptor(w, type, CUDNN_TENSOR_NCHW, g.k, g.c, g.r, g.s), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolution2dDescriptor(conv, g.pad_h, g.pad_w, g.stride_h, g.stride_w, g.dil_h, g.dil_w, g.mode,
                                              type),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolutionMathType(conv, math), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, type, g.n, g.k, g.ho(), g.wo()), CUDNN_STATUS_SUCCESS);
  }
  ~Conv() {
    EXPECT_EQ(cudnnDestroyConvolutionDescriptor(conv), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnDestroyFilterDescriptor(w), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnDestroyTensorDescriptor(y), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnDestroyTensorDescriptor(x), CUDNN_STATUS_SUCCESS);
  }
  Conv(const Conv&) = delete;
  Conv& operator=(const Conv&) = delete;

  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
};

class Cudnn : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(cudnnCreate(&handle_), CUDNN_STATUS_SUCCESS); }
  void TearDown() override { EXPECT_EQ(cudnnDestroy(handle_), CUDNN_STATUS_SUCCESS); }

  // The three passes with algorithm 0 (no workspace), alpha and beta of type T.
  template <class T>
  cudnnStatus_t forward(const Conv& cv, const T* x, const T* w, T* y, T alpha = 1, T beta = 0) {
    return cudnnConvolutionForward(handle_, &alpha, cv.x, x, cv.w, w, cv.conv, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                                   nullptr, 0, &beta, cv.y, y);
  }
  template <class T>
  cudnnStatus_t backward_data(const Conv& cv, const T* dy, const T* w, T* dx, T alpha = 1, T beta = 0) {
    return cudnnConvolutionBackwardData(handle_, &alpha, cv.w, w, cv.y, dy, cv.conv, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,
                                        nullptr, 0, &beta, cv.x, dx);
  }
  template <class T>
  cudnnStatus_t backward_filter(const Conv& cv, const T* x, const T* dy, T* dw, T alpha = 1, T beta = 0) {
    return cudnnConvolutionBackwardFilter(handle_, &alpha, cv.x, x, cv.y, dy, cv.conv,
                                          CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, nullptr, 0, &beta, cv.w, dw);
  }

  cudnnHandle_t handle_ = nullptr;
};

std::string last_error() {
  char msg[512] = "";
  cudnnGetLastErrorString(msg, sizeof(msg));
  return msg;
}

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

TEST_F(Cudnn, OutputDimFollowsCudnnFormula) {
  for (const Geometry& g : geometries()) {
    Conv cv(g, CUDNN_DATA_FLOAT, CUDNN_DEFAULT_MATH);
    int n = 0, c = 0, h = 0, w = 0;
    ASSERT_EQ(cudnnGetConvolution2dForwardOutputDim(cv.conv, cv.x, cv.w, &n, &c, &h, &w), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(n, g.n);
    EXPECT_EQ(c, g.k);
    EXPECT_EQ(h, g.ho());
    EXPECT_EQ(w, g.wo());
  }
  // 7 + 2*1 - ((3 - 1) * 2 + 1) = 4 -> 1 + 4 / 2 = 3 rows; 5 + 0 - 5 = 0 -> 1 column.
  Geometry g{1, 2, 7, 5, 3, 3, 5};
  g.pad_h = 1, g.stride_h = 2, g.dil_h = 2;
  Conv cv(g, CUDNN_DATA_FLOAT, CUDNN_DEFAULT_MATH);
  int n = 0, c = 0, h = 0, w = 0;
  ASSERT_EQ(cudnnGetConvolution2dForwardOutputDim(cv.conv, cv.x, cv.w, &n, &c, &h, &w), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(h, 3);
  EXPECT_EQ(w, 1);
  // A dilated filter wider than the padded input, and a channel mismatch, are rejected.
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(cv.conv, 0, 0, 1, 1, 1, 2, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnGetConvolution2dForwardOutputDim(cv.conv, cv.x, cv.w, &n, &c, &h, &w), CUDNN_STATUS_BAD_PARAM);
  EXPECT_NE(last_error(), "");
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(cv.conv, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetFilter4dDescriptor(cv.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 3, 4, 3, 5), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnGetConvolution2dForwardOutputDim(cv.conv, cv.x, cv.w, &n, &c, &h, &w), CUDNN_STATUS_BAD_PARAM);
}

TEST_F(Cudnn, ForwardMatchesTheDirectReference) {
  for (const Geometry& g : geometries()) {
    SCOPED_TRACE(testing::Message() << "geometry x [" << g.n << ", " << g.c << ", " << g.h << ", " << g.w << "] mode "
                                    << g.mode);
    const auto x = random_values<double>(g.x_size(), 1), w = random_values<double>(g.w_size(), 2);
    const auto y0 = random_values<double>(g.y_size(), 3);
    const auto ref = reference_forward(g, x, w);
    {  // double: alpha and beta
      Conv cv(g, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH);
      Device<double> dx(x), dw(w), dy(y0);
      ASSERT_EQ(forward<double>(cv, dx.get(), dw.get(), dy.get(), 1.5, -0.5), CUDNN_STATUS_SUCCESS);
      const auto y = dy.download();
      for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], 1.5 * ref[i] - 0.5 * y0[i], 1e-12) << i;
    }
    {  // float, plain FP32: beta == 0 over NaN
      Conv cv(g, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH);
      Device<float> dx(cast<float>(x)), dw(cast<float>(w)), dy(std::vector<float>(g.y_size(), kNaNf));
      ASSERT_EQ(forward<float>(cv, dx.get(), dw.get(), dy.get()), CUDNN_STATUS_SUCCESS);
      const auto y = dy.download();
      for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ref[i], 1e-5) << i;
    }
  }
}

// CUDNN_CONVOLUTION is cross-correlation with the filter flipped in both spatial dimensions.
TEST_F(Cudnn, ConvolutionModeFlipsTheFilter) {
  Geometry g{1, 2, 5, 4, 2, 3, 2};
  g.pad_h = 1, g.pad_w = 1;
  const auto x = random_values<double>(g.x_size(), 4), w = random_values<double>(g.w_size(), 5);
  std::vector<double> flipped(w.size());
  for (int k = 0; k < g.k; ++k)
    for (int c = 0; c < g.c; ++c)
      for (int r = 0; r < g.r; ++r)
        for (int s = 0; s < g.s; ++s)
          flipped[((k * g.c + c) * g.r + r) * g.s + s] = w[((k * g.c + c) * g.r + (g.r - 1 - r)) * g.s + (g.s - 1 - s)];
  Device<double> dx(x), dw(w), dflip(flipped), y1(g.y_size()), y2(g.y_size());
  Geometry conv_mode = g;
  conv_mode.mode = CUDNN_CONVOLUTION;
  Conv cross(g, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH), convolution(conv_mode, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH);
  ASSERT_EQ(forward<double>(convolution, dx.get(), dw.get(), y1.get()), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(forward<double>(cross, dx.get(), dflip.get(), y2.get()), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(y1.download(), y2.download());
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// <conv(x, w), dy> = <x, backward_data(dy, w)> = <w, backward_filter(x, dy)>.
TEST_F(Cudnn, BackwardPassesAreTheAdjointsOfTheForward) {
  for (const Geometry& g : geometries()) {
    SCOPED_TRACE(testing::Message() << "geometry x [" << g.n << ", " << g.c << ", " << g.h << ", " << g.w << "] mode "
                                    << g.mode);
    Conv cv(g, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH);
    const auto x = random_values<double>(g.x_size(), 6), w = random_values<double>(g.w_size(), 7);
    const auto gy = random_values<double>(g.y_size(), 8);
    Device<double> dx(x), dw(w), dgy(gy), y(g.y_size()), gx(g.x_size()), gw(g.w_size());
    ASSERT_EQ(forward<double>(cv, dx.get(), dw.get(), y.get()), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(backward_data<double>(cv, dgy.get(), dw.get(), gx.get()), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(backward_filter<double>(cv, dx.get(), dgy.get(), gw.get()), CUDNN_STATUS_SUCCESS);
    const double yy = dot(y.download(), gy), xx = dot(x, gx.download()), ww = dot(w, gw.download());
    ASSERT_GT(std::abs(yy), 1e-3);
    EXPECT_NEAR(xx, yy, 1e-12 * std::abs(yy));
    EXPECT_NEAR(ww, yy, 1e-12 * std::abs(yy));
  }
}

TEST_F(Cudnn, BackwardPassesApplyAlphaAndBeta) {
  Geometry g{2, 2, 5, 5, 3, 3, 3};
  g.pad_h = g.pad_w = 1, g.stride_h = 2;
  Conv cv(g, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH);
  const auto x = random_values<double>(g.x_size(), 9), w = random_values<double>(g.w_size(), 10);
  const auto gy = random_values<double>(g.y_size(), 11);
  const auto gx0 = random_values<double>(g.x_size(), 12), gw0 = random_values<double>(g.w_size(), 13);
  Device<double> dx(x), dw(w), dgy(gy);
  Device<double> gx(std::vector<double>(g.x_size(), kNaN)), gw(std::vector<double>(g.w_size(), kNaN));
  ASSERT_EQ(backward_data<double>(cv, dgy.get(), dw.get(), gx.get()), CUDNN_STATUS_SUCCESS);  // beta 0 over NaN
  ASSERT_EQ(backward_filter<double>(cv, dx.get(), dgy.get(), gw.get()), CUDNN_STATUS_SUCCESS);
  const auto gx1 = gx.download(), gw1 = gw.download();
  for (double v : gx1) ASSERT_TRUE(std::isfinite(v));
  for (double v : gw1) ASSERT_TRUE(std::isfinite(v));
  gx.upload(gx0);
  gw.upload(gw0);
  ASSERT_EQ(backward_data<double>(cv, dgy.get(), dw.get(), gx.get(), 2.0, 0.5), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(backward_filter<double>(cv, dx.get(), dgy.get(), gw.get(), -1.0, 1.0), CUDNN_STATUS_SUCCESS);
  const auto gx2 = gx.download(), gw2 = gw.download();
  for (size_t i = 0; i < gx2.size(); ++i) EXPECT_NEAR(gx2[i], 2.0 * gx1[i] + 0.5 * gx0[i], 1e-12);
  for (size_t i = 0; i < gw2.size(); ++i) EXPECT_NEAR(gw2[i], -gw1[i] + gw0[i], 1e-12);
}

TEST_F(Cudnn, StridedTensorsOfSetTensor4dDescriptorExAreHonoured) {
  Geometry g{2, 2, 4, 3, 2, 2, 2};
  const auto x = random_values<double>(g.x_size(), 14), w = random_values<double>(g.w_size(), 15);
  const auto ref = reference_forward(g, x, w);
  // x stored with one padding element after each row and two after each (n, c) plane.
  const int ws = 1, hs = g.w + 1, cs = g.h * hs + 2, ns = g.c * cs;
  std::vector<double> padded(static_cast<size_t>(g.n) * ns, kNaN);
  for (int n = 0; n < g.n; ++n)
    for (int c = 0; c < g.c; ++c)
      for (int h = 0; h < g.h; ++h)
        for (int w_ = 0; w_ < g.w; ++w_)
          padded[n * ns + c * cs + h * hs + w_ * ws] = x[((n * g.c + c) * g.h + h) * g.w + w_];
  Conv cv(g, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH);
  ASSERT_EQ(cudnnSetTensor4dDescriptorEx(cv.x, CUDNN_DATA_DOUBLE, g.n, g.c, g.h, g.w, ns, cs, hs, ws),
            CUDNN_STATUS_SUCCESS);
  Device<double> dx(padded), dw(w), dy(g.y_size());
  ASSERT_EQ(forward<double>(cv, dx.get(), dw.get(), dy.get()), CUDNN_STATUS_SUCCESS);
  const auto y = dy.download();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ref[i], 1e-12);
  EXPECT_EQ(cudnnSetTensor4dDescriptorEx(cv.x, CUDNN_DATA_DOUBLE, g.n, g.c, g.h, g.w, ns, cs, hs, 0),
            CUDNN_STATUS_BAD_PARAM);
}

TEST_F(Cudnn, AddTensorBroadcastsABias) {
  const int n = 2, c = 3, h = 2, w = 2;
  cudnnTensorDescriptor_t bias = nullptr, out = nullptr, full = nullptr;
  ASSERT_EQ(cudnnCreateTensorDescriptor(&bias), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnCreateTensorDescriptor(&out), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnCreateTensorDescriptor(&full), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, c, 1, 1), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(out, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(full, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w), CUDNN_STATUS_SUCCESS);
  std::vector<float> y0(n * c * h * w);
  for (size_t i = 0; i < y0.size(); ++i) y0[i] = static_cast<float>(i);
  Device<float> b(std::vector<float>{1, 2, 3}), y(y0), a_full(y0);
  const float alpha = 2, beta = 1;
  ASSERT_EQ(cudnnAddTensor(handle_, &alpha, bias, b.get(), &beta, out, y.get()), CUDNN_STATUS_SUCCESS);
  auto got = y.download();
  for (int i = 0; i < n * c * h * w; ++i) EXPECT_EQ(got[i], y0[i] + 2.0f * (1 + (i / (h * w)) % c)) << i;
  // Same shape, beta 0 over NaN.
  y.upload(std::vector<float>(y0.size(), kNaNf));
  const float zero = 0;
  ASSERT_EQ(cudnnAddTensor(handle_, &alpha, full, a_full.get(), &zero, out, y.get()), CUDNN_STATUS_SUCCESS);
  got = y.download();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], 2.0f * y0[i]);
  // A dimension neither 1 nor C's is rejected.
  ASSERT_EQ(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, c, 1, 2 * w),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnAddTensor(handle_, &alpha, bias, b.get(), &beta, out, y.get()), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(bias), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(out), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(full), CUDNN_STATUS_SUCCESS);
}

// The protocol of conv_cudnn.cu: MaxCount, *_v7, then the workspace of the chosen algorithm.
template <class Perf, class MaxCount, class Query, class Workspace>
void check_algorithm_list(MaxCount max_count, Query query, Workspace workspace, int expected_count) {
  int count = 0, returned = 0;
  ASSERT_EQ(max_count(&count), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(count, expected_count);
  std::vector<Perf> perfs(count);
  ASSERT_EQ(query(count, &returned, perfs.data()), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(returned, count);
  std::set<int> ids, supported;
  bool some_without_workspace = false, some_with_workspace = false, some_deterministic = false;
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perfs[i];
    EXPECT_TRUE(ids.insert(static_cast<int>(p.algo)).second) << "algorithm " << p.algo << " listed twice";
    if (p.status != CUDNN_STATUS_SUCCESS) {
      EXPECT_EQ(p.status, CUDNN_STATUS_NOT_SUPPORTED);
      size_t bytes = 0;
      EXPECT_EQ(workspace(p.algo, &bytes), CUDNN_STATUS_NOT_SUPPORTED);
      continue;
    }
    EXPECT_EQ(supported.size(), static_cast<size_t>(i)) << "supported algorithms come first";
    supported.insert(static_cast<int>(p.algo));
    size_t bytes = 1234567;
    ASSERT_EQ(workspace(p.algo, &bytes), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(bytes, p.memory) << "algorithm " << p.algo;
    some_without_workspace |= p.memory == 0;
    some_with_workspace |= p.memory > 0;
    some_deterministic |= p.determinism == CUDNN_DETERMINISTIC;
  }
  EXPECT_GE(supported.size(), 3u);
  EXPECT_TRUE(some_without_workspace);
  EXPECT_TRUE(some_with_workspace);
  EXPECT_TRUE(some_deterministic);
  std::vector<Perf> one(1);
  ASSERT_EQ(query(1, &returned, one.data()), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(returned, 1);
  EXPECT_EQ(one[0].algo, perfs[0].algo);
  EXPECT_EQ(query(0, &returned, one.data()), CUDNN_STATUS_BAD_PARAM);
}

TEST_F(Cudnn, AlgorithmQueriesAgreeWithWorkspaceQueries) {
  Geometry g{1, 2, 6, 6, 3, 3, 3};
  g.pad_h = g.pad_w = 1;
  for (cudnnDataType_t type : {CUDNN_DATA_FLOAT, CUDNN_DATA_DOUBLE}) {
    Conv cv(g, type, CUDNN_DEFAULT_MATH);
    check_algorithm_list<cudnnConvolutionFwdAlgoPerf_t>(
        [&](int* c) { return cudnnGetConvolutionForwardAlgorithmMaxCount(handle_, c); },
        [&](int n, int* r, cudnnConvolutionFwdAlgoPerf_t* p) {
          return cudnnGetConvolutionForwardAlgorithm_v7(handle_, cv.x, cv.w, cv.conv, cv.y, n, r, p);
        },
        [&](cudnnConvolutionFwdAlgo_t a, size_t* b) {
          return cudnnGetConvolutionForwardWorkspaceSize(handle_, cv.x, cv.w, cv.conv, cv.y, a, b);
        },
        CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    check_algorithm_list<cudnnConvolutionBwdDataAlgoPerf_t>(
        [&](int* c) { return cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle_, c); },
        [&](int n, int* r, cudnnConvolutionBwdDataAlgoPerf_t* p) {
          return cudnnGetConvolutionBackwardDataAlgorithm_v7(handle_, cv.w, cv.y, cv.conv, cv.x, n, r, p);
        },
        [&](cudnnConvolutionBwdDataAlgo_t a, size_t* b) {
          return cudnnGetConvolutionBackwardDataWorkspaceSize(handle_, cv.w, cv.y, cv.conv, cv.x, a, b);
        },
        CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    check_algorithm_list<cudnnConvolutionBwdFilterAlgoPerf_t>(
        [&](int* c) { return cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle_, c); },
        [&](int n, int* r, cudnnConvolutionBwdFilterAlgoPerf_t* p) {
          return cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle_, cv.x, cv.y, cv.conv, cv.w, n, r, p);
        },
        [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* b) {
          return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle_, cv.x, cv.y, cv.conv, cv.w, a, b);
        },
        CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
  }
}

// Every algorithm gives the same result; the workspace must be large enough, on the device, and
// is clobbered by the call.
TEST_F(Cudnn, WorkspaceIsCheckedAndClobbered) {
  Geometry g{1, 2, 5, 5, 2, 3, 3};
  Conv cv(g, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH);
  const auto x = random_values<double>(g.x_size(), 16), w = random_values<double>(g.w_size(), 17);
  Device<double> dx(x), dw(w), y(g.y_size()), y_ref(g.y_size());
  ASSERT_EQ(forward<double>(cv, dx.get(), dw.get(), y_ref.get()), CUDNN_STATUS_SUCCESS);
  size_t need = 0;
  ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle_, cv.x, cv.w, cv.conv, cv.y,
                                                    CUDNN_CONVOLUTION_FWD_ALGO_GEMM, &need),
            CUDNN_STATUS_SUCCESS);
  ASSERT_GT(need, 0u);
  Device<unsigned char> ws(std::vector<unsigned char>(need + 8, 0));
  std::vector<unsigned char> host_ws(need);
  const double one = 1, zero = 0;
  auto run = [&](cudnnConvolutionFwdAlgo_t algo, void* workspace, size_t bytes) {
    return cudnnConvolutionForward(handle_, &one, cv.x, dx.get(), cv.w, dw.get(), cv.conv, algo, workspace, bytes,
                                   &zero, cv.y, y.get());
  };
  y.upload(std::vector<double>(g.y_size(), 42.0));
  EXPECT_EQ(run(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, ws.get(), need - 1), CUDNN_STATUS_BAD_PARAM);
  EXPECT_NE(last_error().find("workspace"), std::string::npos);
  EXPECT_EQ(run(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, nullptr, 0), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(run(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, host_ws.data(), need), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(run(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, ws.get() + 16, need), CUDNN_STATUS_BAD_PARAM);  // runs past the end
  EXPECT_EQ(run(CUDNN_CONVOLUTION_FWD_ALGO_FFT, ws.get(), need), CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(run(static_cast<cudnnConvolutionFwdAlgo_t>(42), ws.get(), need), CUDNN_STATUS_BAD_PARAM);
  for (double v : y.download()) EXPECT_EQ(v, 42.0) << "a rejected call wrote y";
  ASSERT_EQ(run(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, ws.get(), need), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(y.download(), y_ref.download());
  const auto clobbered = ws.download();
  for (size_t i = 0; i < need; ++i) ASSERT_EQ(clobbered[i], 0xff) << "workspace byte " << i;
  ASSERT_EQ(run(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, ws.get(), need), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(y.download(), y_ref.download());
}

// Find*Ex (the engine's measured algorithm search): every supported algorithm whose workspace
// fits really runs (the output is the convolution afterwards), the list comes back in the
// modeled order 0, 2, 1 with increasing times, then the rest with NOT_SUPPORTED and time -1; an
// algorithm whose workspace does not fit is not run; during a capture the call fails and ends
// the capture.
TEST_F(Cudnn, FindExRunsWhatFitsAndRanksByModeledTime) {
  Geometry g{2, 3, 6, 5, 4, 3, 3};
  g.pad_h = g.pad_w = 1;
  Conv cv(g, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH);
  const auto xv = random_values<double>(g.x_size(), 31), wv = random_values<double>(g.w_size(), 32);
  Device<double> x(xv), w(wv), y(std::vector<double>(g.y_size(), 42.0));
  size_t ws1 = 0, ws2 = 0;
  ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle_, cv.x, cv.w, cv.conv, cv.y,
                                                    static_cast<cudnnConvolutionFwdAlgo_t>(1), &ws1),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle_, cv.x, cv.w, cv.conv, cv.y,
                                                    static_cast<cudnnConvolutionFwdAlgo_t>(2), &ws2),
            CUDNN_STATUS_SUCCESS);
  ASSERT_LT(ws1, ws2);
  Device<unsigned char> ws(std::vector<unsigned char>(ws2, 0));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perfs(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  int returned = 0;
  auto find = [&](size_t bytes) {
    return cudnnFindConvolutionForwardAlgorithmEx(handle_, cv.x, x.get(), cv.w, w.get(), cv.conv, cv.y, y.get(),
                                                  CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perfs.data(),
                                                  ws.get(), bytes);
  };
  ASSERT_EQ(find(ws2), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(returned, CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  const int order[3] = {0, 2, 1};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(static_cast<int>(perfs[i].algo), order[i]);
    EXPECT_EQ(perfs[i].status, CUDNN_STATUS_SUCCESS);
    EXPECT_GT(perfs[i].time, i > 0 ? perfs[i - 1].time : 0.0f);
  }
  for (int i = 3; i < returned; ++i) {
    EXPECT_EQ(perfs[i].status, CUDNN_STATUS_NOT_SUPPORTED) << "algorithm " << perfs[i].algo;
    EXPECT_EQ(perfs[i].time, -1.0f);
  }
  const std::vector<double> ref = reference_forward(g, xv, wv), got = y.download();
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(got[i], ref[i], 1e-12 * (1 + std::abs(ref[i]))) << i;

  // Room for algorithm 1's workspace but not 2's: 2 is listed after the ones that ran.
  ASSERT_EQ(find(ws1), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(static_cast<int>(perfs[0].algo), 0);
  EXPECT_EQ(static_cast<int>(perfs[1].algo), 1);
  EXPECT_EQ(perfs[1].status, CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(static_cast<int>(perfs[2].algo), 2);
  EXPECT_EQ(perfs[2].status, CUDNN_STATUS_NOT_SUPPORTED);

  // The backward passes report cuDNN's determinism: their algorithm 0 uses atomics.
  Device<double> dy(random_values<double>(g.y_size(), 33)), dx(g.x_size()), dw(g.w_size());
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> data(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
  ASSERT_EQ(cudnnFindConvolutionBackwardDataAlgorithmEx(handle_, cv.w, w.get(), cv.y, dy.get(), cv.conv, cv.x,
                                                        dx.get(), CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned,
                                                        data.data(), ws.get(), ws2),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(static_cast<int>(data[0].algo), 0);
  EXPECT_EQ(data[0].determinism, CUDNN_NON_DETERMINISTIC);
  EXPECT_EQ(data[1].determinism, CUDNN_DETERMINISTIC);
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> filter(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
  ASSERT_EQ(cudnnFindConvolutionBackwardFilterAlgorithmEx(handle_, cv.x, x.get(), cv.y, dy.get(), cv.conv, cv.w,
                                                          dw.get(), 2, &returned, filter.data(), ws.get(), ws2),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(returned, 2);
  EXPECT_EQ(static_cast<int>(filter[0].algo), 0);
  EXPECT_EQ(static_cast<int>(filter[1].algo), 2);

  // Host pointers are rejected as by the compute calls; a capture ends with an error.
  std::vector<double> host_x(g.x_size());
  EXPECT_EQ(cudnnFindConvolutionForwardAlgorithmEx(handle_, cv.x, host_x.data(), cv.w, w.get(), cv.conv, cv.y,
                                                   y.get(), 1, &returned, perfs.data(), ws.get(), ws2),
            CUDNN_STATUS_BAD_PARAM);
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudnnSetStream(handle_, s), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(find(ws2), CUDNN_STATUS_EXECUTION_FAILED);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
  (void)cudaGetLastError();
  ASSERT_EQ(cudnnSetStream(handle_, nullptr), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(Cudnn, RejectsHostPointersAndMismatchedDescriptors) {
  Geometry g{1, 2, 4, 4, 2, 3, 3};
  Conv cv(g, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH);
  Device<float> x(g.x_size()), w(g.w_size()), y(g.y_size()), small_y(g.y_size() - 1);
  std::vector<float> host_x(g.x_size());
  EXPECT_EQ(forward<float>(cv, x.get(), w.get(), y.get()), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward<float>(cv, host_x.data(), w.get(), y.get()), CUDNN_STATUS_BAD_PARAM);
  EXPECT_NE(last_error().find("x"), std::string::npos);
  EXPECT_EQ(last_error(), "") << "reading the message clears it";
  EXPECT_EQ(forward<float>(cv, x.get(), w.get(), small_y.get()), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(backward_data<float>(cv, y.get(), w.get(), host_x.data()), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(backward_filter<float>(cv, x.get(), y.get(), nullptr), CUDNN_STATUS_BAD_PARAM);
  const float one = 1, zero = 0;
  EXPECT_EQ(cudnnConvolutionForward(handle_, x.get(), cv.x, x.get(), cv.w, w.get(), cv.conv,
                                    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero, cv.y, y.get()),
            CUDNN_STATUS_BAD_PARAM)
      << "alpha in device memory";
  EXPECT_EQ(cudnnConvolutionForward(nullptr, &one, cv.x, x.get(), cv.w, w.get(), cv.conv,
                                    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero, cv.y, y.get()),
            CUDNN_STATUS_BAD_PARAM);

  // y described with the wrong size, then the wrong type; then a compute type unlike the data.
  ASSERT_EQ(cudnnSetTensor4dDescriptor(cv.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g.n, g.k, g.ho() + 1, g.wo()),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward<float>(cv, x.get(), w.get(), y.get()), CUDNN_STATUS_BAD_PARAM);
  EXPECT_NE(last_error().find("yDesc"), std::string::npos);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(cv.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_DOUBLE, g.n, g.k, g.ho(), g.wo()),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward<float>(cv, x.get(), w.get(), y.get()), CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(cv.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g.n, g.k, g.ho(), g.wo()),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(cv.conv, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_DOUBLE),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(forward<float>(cv, x.get(), w.get(), y.get()), CUDNN_STATUS_NOT_SUPPORTED);

  // Descriptors: never set, destroyed, bad sizes and parameters.
  cudnnTensorDescriptor_t unset = nullptr;
  ASSERT_EQ(cudnnCreateTensorDescriptor(&unset), CUDNN_STATUS_SUCCESS);
  int n = 0, c = 0, h = 0, w_ = 0;
  EXPECT_EQ(cudnnGetConvolution2dForwardOutputDim(cv.conv, unset, cv.w, &n, &c, &h, &w_), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(unset, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 0, 2, 2), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetFilter4dDescriptor(cv.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 2, -2, 3, 3), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(cv.conv, -1, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(cv.conv, 0, 0, 0, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolutionMathType(cv.conv, static_cast<cudnnMathType_t>(9)), CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnDestroyTensorDescriptor(unset), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(unset, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 1, 1), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(unset), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(nullptr), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnCreate(nullptr), CUDNN_STATUS_BAD_PARAM);
}

// 1 + 2^-12 needs 12 mantissa bits: TF32 rounds it to 1. A 1x1 convolution multiplies it by 1.
TEST_F(Cudnn, Tf32FollowsTheMathTypeAndNeverAppliesToDoubleOrFma) {
  const Geometry g{1, 1, 1, 1, 1, 1, 1};
  const float xf = 1.0f + std::ldexp(1.0f, -12);
  Device<float> x(std::vector<float>{xf}), w(std::vector<float>{1.0f}), y(1);
  for (cudnnMathType_t math : {CUDNN_DEFAULT_MATH, CUDNN_TENSOR_OP_MATH, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION,
                               CUDNN_FMA_MATH}) {
    Conv cv(g, CUDNN_DATA_FLOAT, math);
    const float want = math == CUDNN_FMA_MATH ? xf : 1.0f;
    ASSERT_EQ(forward<float>(cv, x.get(), w.get(), y.get()), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(y.download()[0], want) << "forward, math type " << math;
    ASSERT_EQ(backward_data<float>(cv, x.get(), w.get(), y.get()), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(y.download()[0], want) << "backward data, math type " << math;
    ASSERT_EQ(backward_filter<float>(cv, x.get(), w.get(), y.get()), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(y.download()[0], want) << "backward filter, math type " << math;
  }
  const double xd = 1.0 + std::ldexp(1.0, -40);
  Device<double> dx(std::vector<double>{xd}), dw(std::vector<double>{1.0}), dy(1);
  Conv cv(g, CUDNN_DATA_DOUBLE, CUDNN_TENSOR_OP_MATH);
  ASSERT_EQ(forward<double>(cv, dx.get(), dw.get(), dy.get()), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(dy.download()[0], xd);
}

TEST_F(Cudnn, CapturedConvolutionRunsAtGraphLaunch) {
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudnnSetStream(handle_, s), CUDNN_STATUS_SUCCESS);
  const Geometry g{1, 1, 2, 2, 1, 1, 1};
  Conv cv(g, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH);
  Device<double> x(std::vector<double>{1, 2, 3, 4}), w(std::vector<double>{3}), y(std::vector<double>{0, 0, 0, 0});
  Device<double> b(std::vector<double>{1});
  cudnnTensorDescriptor_t bias = nullptr;
  ASSERT_EQ(cudnnCreateTensorDescriptor(&bias), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_DOUBLE, 1, 1, 1, 1), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  double alpha = 2, one = 1;
  ASSERT_EQ(forward<double>(cv, x.get(), w.get(), y.get(), alpha, 0.0), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnAddTensor(handle_, &one, bias, b.get(), &one, cv.y, y.get()), CUDNN_STATUS_SUCCESS);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  EXPECT_EQ(y.download(), (std::vector<double>{0, 0, 0, 0}));
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(y.download(), (std::vector<double>{7, 13, 19, 25}));
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(bias), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(Cudnn, ErrorStringsAndVersion) {
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_SUCCESS), "CUDNN_STATUS_SUCCESS");
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM), "CUDNN_STATUS_BAD_PARAM");
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_NOT_SUPPORTED), "CUDNN_STATUS_NOT_SUPPORTED");
  EXPECT_EQ(cudnnGetVersion(), static_cast<size_t>(CUDNN_VERSION));
  EXPECT_EQ(cudnnGetVersion() / 10000, 9u);
  // The message is cut to the buffer.
  EXPECT_EQ(cudnnSetStream(nullptr, nullptr), CUDNN_STATUS_BAD_PARAM);
  char small[5] = "xxxx";
  cudnnGetLastErrorString(small, sizeof(small));
  EXPECT_EQ(std::strlen(small), 4u);
}

}  // namespace
