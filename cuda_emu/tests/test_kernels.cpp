// The kernel executor: indices, shared memory and barriers, warp shuffles, WMMA, launch limits and
// faults behave as CUDA specifies.
#include <gtest/gtest.h>
#include <cuda_pipeline_primitives.h>
#include <mma.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "copies.h"
#include "cuda_runtime.h"

namespace {

using cuda_emu::test::to_device;
using cuda_emu::test::to_host;

// ---- kernels ----------------------------------------------------------------------------------------
__global__ void write_global_index(unsigned* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  out[block * blockDim.x * blockDim.y * blockDim.z + thread] = block * 1000 + thread;
}

// Tree sum in shared memory: wrong without every barrier, because thread t reads what thread
// t + w wrote in the previous round, and the executor runs t before t + w.
__global__ void block_tree_sum(const int* in, int* out) {
  __shared__ int s[128];
  s[threadIdx.x] = in[blockIdx.x * 128 + threadIdx.x];
  __syncthreads();
  for (unsigned w = 64; w > 0; w >>= 1) {
    if (threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}

__global__ void warp_shuffle_sums(const double* in, double* down, double* xor_sum, int* up_src) {
  const unsigned t = threadIdx.x;
  double v = in[t];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  if (t % 32 == 0) down[t / 32] = v;
  double x = in[t];
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  xor_sum[t] = x;
  up_src[t] = __shfl_up_sync(0xffffffffu, static_cast<int>(t), 3);
}

__global__ void barrier_in_divergent_code(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void trapping_kernel(int* out) {
  if (threadIdx.x == 7) __trap();
  out[threadIdx.x] = 1;
}

__global__ void wmma_tf32_16x16x8(const float* a, const float* b, float* c) {
  namespace wmma = nvcuda::wmma;
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> fc;
  wmma::fill_fragment(fc, 0.5f);
  wmma::load_matrix_sync(fa, a, 8);   // A [16 x 8] row-major
  wmma::load_matrix_sync(fb, b, 8);   // B [8 x 16] column-major: (k, n) at b[n * 8 + k]
  for (int e = 0; e < fa.num_elements; ++e) fa.x[e] = wmma::__float_to_tf32(fa.x[e]);
  for (int e = 0; e < fb.num_elements; ++e) fb.x[e] = wmma::__float_to_tf32(fb.x[e]);
  wmma::mma_sync(fc, fa, fb, fc);
  wmma::store_matrix_sync(c, fc, 16, wmma::mem_row_major);
}

// Lane 5 changes its copy of A: the lanes no longer agree on the operand of a warp-wide MMA.
__global__ void wmma_lanes_disagree(const float* a, const float* b, float* c) {
  namespace wmma = nvcuda::wmma;
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> fc;
  wmma::fill_fragment(fc, 0.0f);
  wmma::load_matrix_sync(fa, a, 8);
  wmma::load_matrix_sync(fb, b, 8);
  if (threadIdx.x == 5) fa.x[0] += 1.0f;
  wmma::mma_sync(fc, fa, fb, fc);
  wmma::store_matrix_sync(c, fc, 16, wmma::mem_row_major);
}

// Block 0 never synchronises, later blocks do: the first block decides that the kernel needs no
// fibers, so the barrier in block 1 cannot be honoured and must be reported, not skipped.
__global__ void barrier_only_after_block_zero(int* out) {
  if (blockIdx.x > 0) __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}

template <class T>
__global__ void scale(T* p, T factor, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) p[i] *= factor;
}

// Two stages of cp.async: thread t copies in[t] (16 bytes) into stage 0 and, zero-filling its
// last `zfill` bytes, in[64 + t] into stage 1; after waiting for both groups and a barrier it
// writes its neighbour's words, so the copies of other threads must be visible.
__global__ void cp_async_two_stages(const float* in, float* out, int zfill) {
  __shared__ __align__(16) float stage[2][64][4];
  const int t = threadIdx.x, next = (t + 1) % 64;
  __pipeline_memcpy_async(&stage[0][t][0], in + 4 * t, 16);
  __pipeline_commit();
  __pipeline_memcpy_async(&stage[1][t][0], in + 4 * (64 + t), 16, zfill);
  __pipeline_commit();
  __pipeline_wait_prior(0);
  __syncthreads();
  for (int k = 0; k < 4; ++k) {
    out[4 * t + k] = stage[0][next][k];
    out[4 * (64 + t) + k] = stage[1][next][k];
  }
}

// Reads its own tile after waiting for the older group only: stage 1 may not have landed.
__global__ void cp_async_reads_too_early(const float* in, float* out) {
  __shared__ __align__(16) float stage[2][4];
  for (int k = 0; k < 4; ++k) stage[1][k] = -1.0f;
  __pipeline_memcpy_async(&stage[0][0], in, 16);
  __pipeline_commit();
  __pipeline_memcpy_async(&stage[1][0], in + 4, 16);
  __pipeline_commit();
  __pipeline_wait_prior(1);  // the first group only
  for (int k = 0; k < 4; ++k) out[k] = stage[0][k] + stage[1][k];
  __pipeline_wait_prior(0);
}

__global__ void cp_async_bad(const float* in, int which) {
  __shared__ __align__(16) float s[8];
  if (which == 0) __pipeline_memcpy_async(&s[1], in, 16);      // destination not 16-byte aligned
  if (which == 1) __pipeline_memcpy_async(&s[0], in, 12);      // no 12-byte cp.async
  if (which == 2) __pipeline_memcpy_async(&s[0], in + 4, 16);  // past the end of a 4-float buffer
  __pipeline_commit();
  __pipeline_wait_prior(0);
}

// Each lane marks itself, then reads the other warp's mark with only a warp barrier between: a
// race. Round robin (warps in step) sees every mark; a warp at a time, warp 0 sees none.
__global__ void warps_drift_apart(int* out) {
  __shared__ int marks[64];
  marks[threadIdx.x] = 0;
  __syncthreads();
  marks[threadIdx.x] = 1;
  __syncwarp();
  out[threadIdx.x] = marks[(threadIdx.x + 32) % 64];
}

// 64 threads; 64 KB of dynamic shared memory. out[2b] = what block b reads before anything is
// written (the emulator's fill: NaN), out[2b + 1] = a sum through shared memory.
constexpr size_t kBigShared = 64 * 1024;
void big_shared_kernel(float* out) {
  float* smem = reinterpret_cast<float*>(cuda_emu::dynamic_shared_memory());
  const unsigned t = threadIdx.x, last = kBigShared / sizeof(float) - 1;
  if (t == 0) out[2 * blockIdx.x] = smem[last];
  __syncthreads();
  smem[t * 250] = static_cast<float>(t);
  __syncthreads();
  if (t == 0) {
    float sum = 0;
    for (unsigned i = 0; i < 64; ++i) sum += smem[i * 250];
    out[2 * blockIdx.x + 1] = sum;
    smem[last] = 1.0f;  // the next block must not see it
  }
}
void never_allowed_kernel(float* out) { big_shared_kernel(out); }

class Kernels : public ::testing::Test {
 protected:
  void TearDown() override { cuda_emu::reset_for_tests(); }
};

// Runs `launch`, which must fault: checks that it reports cudaErrorLaunchFailure and returns what
// the emulator printed about it.
template <class F>
std::string fault_of(F launch) {
  testing::internal::CaptureStderr();
  launch();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure) << err;
  return err;
}

TEST_F(Kernels, EveryThreadOfA3dGridRunsOnceWithItsIndices) {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  const unsigned n = 12 * 24;
  unsigned* out = to_device(std::vector<unsigned>(n, 0xdead));
  CUDA_EMU_LAUNCH(grid, block, 0, nullptr, write_global_index)(out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const auto host = to_host(out, n);
  for (unsigned b = 0; b < 12; ++b)
    for (unsigned t = 0; t < 24; ++t) EXPECT_EQ(host[b * 24 + t], b * 1000 + t);
  cudaFree(out);
}

TEST_F(Kernels, SharedMemoryAndSyncthreadsGiveATreeSum) {
  std::vector<int> in(3 * 128);
  std::iota(in.begin(), in.end(), 1);
  int* d_in = to_device(in);
  int* d_out = to_device(std::vector<int>(3, 0));
  CUDA_EMU_LAUNCH(3, 128, 0, nullptr, block_tree_sum)(d_in, d_out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const auto out = to_host(d_out, 3);
  for (int b = 0; b < 3; ++b) EXPECT_EQ(out[b], std::accumulate(in.begin() + 128 * b, in.begin() + 128 * (b + 1), 0));
  cudaFree(d_in);
  cudaFree(d_out);
}

TEST_F(Kernels, WarpShufflesFollowCudaSemantics) {
  std::vector<double> in(64);
  for (int i = 0; i < 64; ++i) in[i] = i * 0.5 + 1;
  double* d_in = to_device(in);
  double* down = to_device(std::vector<double>(2, 0));
  double* xs = to_device(std::vector<double>(64, 0));
  int* up = to_device(std::vector<int>(64, 0));
  CUDA_EMU_LAUNCH(1, 64, 0, nullptr, warp_shuffle_sums)(d_in, down, xs, up);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const auto hd = to_host(down, 2);
  const auto hx = to_host(xs, 64);
  const auto hu = to_host(up, 64);
  for (int w = 0; w < 2; ++w) {
    const double want = std::accumulate(in.begin() + 32 * w, in.begin() + 32 * (w + 1), 0.0);
    EXPECT_EQ(hd[w], want);
    for (int l = 0; l < 32; ++l) EXPECT_EQ(hx[32 * w + l], want) << "xor butterfly gives every lane the sum";
    for (int l = 0; l < 32; ++l) EXPECT_EQ(hu[32 * w + l], l < 3 ? 32 * w + l : 32 * w + l - 3);
  }
  cudaFree(d_in);
  cudaFree(down);
  cudaFree(xs);
  cudaFree(up);
}

TEST_F(Kernels, ABarrierInDivergentCodeIsAStickyFault) {
  int* out = to_device(std::vector<int>(32, 0));
  const std::string err = fault_of([&] { CUDA_EMU_LAUNCH(1, 32, 0, nullptr, barrier_in_divergent_code)(out); });
  EXPECT_NE(err.find("__syncthreads() reached by 16 of 32 threads"), std::string::npos) << err;
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure) << "sticky: reported again";
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 16), cudaErrorLaunchFailure) << "every later call reports it";
}

TEST_F(Kernels, TrapStopsTheGridWithALaunchFailure) {
  int* out = to_device(std::vector<int>(32, 0));
  const std::string err = fault_of([&] { CUDA_EMU_LAUNCH(2, 32, 0, nullptr, trapping_kernel)(out); });
  EXPECT_NE(err.find("trapping_kernel"), std::string::npos) << err;
  EXPECT_NE(err.find("thread (7,0,0) called __trap()"), std::string::npos) << err;
}

TEST_F(Kernels, InvalidConfigurationsAreRefusedWithoutRunning) {
  float* p = to_device(std::vector<float>(4, 2.0f));
  CUDA_EMU_LAUNCH(0, 256, 0, nullptr, scale<float>)(p, 3.0f, 4);  // grid_for(0) on a GPU: an error
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  CUDA_EMU_LAUNCH(1, 2048, 0, nullptr, scale<float>)(p, 3.0f, 4);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  CUDA_EMU_LAUNCH(dim3(1, 70000), 32, 0, nullptr, scale<float>)(p, 3.0f, 4);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(to_host(p, 4), std::vector<float>(4, 2.0f));
  CUDA_EMU_LAUNCH(1, 32, 0, nullptr, scale<float>)(p, 3.0f, 4);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(to_host(p, 4), std::vector<float>(4, 6.0f));
  cudaFree(p);
}

TEST_F(Kernels, WmmaTf32MatchesAReferenceOnTf32RoundedInputs) {
  std::vector<float> a(16 * 8), b(8 * 16);
  for (int i = 0; i < 128; ++i) {
    a[i] = 1.0f + i * 0.0001234f;  // needs more than TF32's 10 mantissa bits
    b[i] = 0.5f - i * 0.0004321f;
  }
  float* da = to_device(a);
  float* db = to_device(b);
  float* dc = to_device(std::vector<float>(256, 0));
  CUDA_EMU_LAUNCH(1, 32, 0, nullptr, wmma_tf32_16x16x8)(da, db, dc);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const auto c = to_host(dc, 256);
  double worst_exact = 0;
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      float want = 0.5f;
      double exact = 0.5;
      for (int k = 0; k < 8; ++k) {
        want += cuda_emu::round_to_tf32(a[m * 8 + k]) * cuda_emu::round_to_tf32(b[n * 8 + k]);
        exact += double{a[m * 8 + k]} * b[n * 8 + k];
      }
      EXPECT_EQ(c[m * 16 + n], want) << m << "," << n;
      worst_exact = std::max(worst_exact, std::abs(c[m * 16 + n] - exact));
    }
  EXPECT_GT(worst_exact, 1e-5) << "TF32 rounding must be visible against the exact product";
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
}

TEST_F(Kernels, WmmaOperandsThatDifferBetweenLanesAreAFault) {
  float* da = to_device(std::vector<float>(128, 1.0f));
  float* db = to_device(std::vector<float>(128, 2.0f));
  float* dc = to_device(std::vector<float>(256, 0.0f));
  const std::string err = fault_of([&] { CUDA_EMU_LAUNCH(1, 32, 0, nullptr, wmma_lanes_disagree)(da, db, dc); });
  EXPECT_NE(err.find("hold different operands"), std::string::npos) << err;
  cuda_emu::reset_for_tests();
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
}

TEST_F(Kernels, ABarrierAKernelsFirstBlockNeverReachedIsReportedNotSkipped) {
  if (cuda_emu::env_is("CUDA_EMU_ORDER", "reverse")) GTEST_SKIP() << "block 1 runs first in reverse order";
  int* out = to_device(std::vector<int>(64, 0));
  const std::string err = fault_of([&] { CUDA_EMU_LAUNCH(2, 32, 0, nullptr, barrier_only_after_block_zero)(out); });
  EXPECT_NE(err.find("block (1,0,0)"), std::string::npos) << err;
  EXPECT_NE(err.find("CUDA_EMU_FIBERS=1"), std::string::npos) << err;
}

TEST_F(Kernels, WarpAtATimeScheduleLetsWarpsDriftUpToTheBlockBarrier) {
  const bool warp = cuda_emu::env_is("CUDA_EMU_SCHEDULE", "warp");
  const bool reverse = cuda_emu::env_is("CUDA_EMU_ORDER", "reverse");
  int* out = to_device(std::vector<int>(64, -1));
  CUDA_EMU_LAUNCH(1, 64, 0, nullptr, warps_drift_apart)(out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const auto got = to_host(out, 64);
  for (int t = 0; t < 64; ++t) {
    const bool first_warp_to_run = reverse ? t >= 32 : t < 32;
    EXPECT_EQ(got[t], warp && first_warp_to_run ? 0 : 1) << "thread " << t;
  }
  cudaFree(out);
}

TEST_F(Kernels, CpAsyncCopiesLandAtTheWaitWithZeroFill) {
  std::vector<float> in(4 * 128);
  std::iota(in.begin(), in.end(), 1.0f);
  float* d_in = to_device(in);
  for (int zfill : {0, 4, 12, 16}) {
    SCOPED_TRACE("zfill " + std::to_string(zfill));
    float* d_out = to_device(std::vector<float>(4 * 128, -7.0f));
    CUDA_EMU_LAUNCH(1, 64, 0, nullptr, cp_async_two_stages)(d_in, d_out, zfill);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    const auto out = to_host(d_out, 4 * 128);
    for (int t = 0; t < 64; ++t)
      for (int k = 0; k < 4; ++k) {
        const int next = (t + 1) % 64;
        EXPECT_EQ(out[4 * t + k], in[4 * next + k]);
        EXPECT_EQ(out[4 * (64 + t) + k], k < 4 - zfill / 4 ? in[4 * (64 + next) + k] : 0.0f) << t << "," << k;
      }
    cudaFree(d_out);
  }
  cudaFree(d_in);
}

TEST_F(Kernels, CpAsyncReadBeforeItsWaitSeesTheOldContents) {
  float* d_in = to_device(std::vector<float>{1, 2, 3, 4, 10, 20, 30, 40});
  float* d_out = to_device(std::vector<float>(4, 0.0f));
  CUDA_EMU_LAUNCH(1, 1, 0, nullptr, cp_async_reads_too_early)(d_in, d_out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  // Deferred (default): stage 1 still holds -1. Eager: every copy landed at its call.
  const std::vector<float> want = cuda_emu::env_is("CUDA_EMU_CP_ASYNC", "eager") ? std::vector<float>{11, 22, 33, 44}
                                                                                : std::vector<float>{0, 1, 2, 3};
  EXPECT_EQ(to_host(d_out, 4), want);
  cudaFree(d_in);
  cudaFree(d_out);
}

TEST_F(Kernels, CpAsyncMisuseIsAStickyFault) {
  const char* want[] = {"not aligned to the size 16", "size 12 (expected 4, 8 or 16)",
                        "a source outside live device memory"};
  for (int which = 0; which < 3; ++which) {
    SCOPED_TRACE(want[which]);
    float* d_in = to_device(std::vector<float>(4, 1.0f));
    const std::string err = fault_of([&] { CUDA_EMU_LAUNCH(1, 1, 0, nullptr, cp_async_bad)(d_in, which); });
    EXPECT_NE(err.find(want[which]), std::string::npos) << err;
    cuda_emu::reset_for_tests();
    cudaFree(d_in);
  }
}

TEST_F(Kernels, DynamicSharedMemoryOver48KbNeedsTheAttributeAndStartsAsNan) {
  float* out = to_device(std::vector<float>(4, 0.0f));
  CUDA_EMU_LAUNCH_FN(2, 64, kBigShared, nullptr, never_allowed_kernel)(out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue) << "64 KB without cudaFuncSetAttribute";
  CUDA_EMU_LAUNCH(2, 64, kBigShared, nullptr, big_shared_kernel)(out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue) << "a launch that does not name its function: 48 KB at most";
  EXPECT_EQ(cudaFuncSetAttribute(big_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 228 * 1024),
            cudaErrorInvalidValue)
      << "over the device's opt-in limit";
  int optin = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0), cudaSuccess);
  EXPECT_EQ(optin, 227 * 1024);
  ASSERT_EQ(cudaFuncSetAttribute(big_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int{kBigShared}),
            cudaSuccess);
  CUDA_EMU_LAUNCH_FN(2, 64, kBigShared + 4, nullptr, big_shared_kernel)(out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue) << "more than it was allowed";
  CUDA_EMU_LAUNCH_FN(2, 64, kBigShared, nullptr, big_shared_kernel)(out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<float> got = to_host(out, 4);
  EXPECT_TRUE(std::isnan(got[0]) && std::isnan(got[2])) << got[0] << " " << got[2] << ": every block starts with NaN";
  EXPECT_EQ(got[1], 2016.0f);
  EXPECT_EQ(got[3], 2016.0f);
  cudaFree(out);
}

TEST_F(Kernels, TemplatesAndDeducedKernelsLaunchThroughTheMacro) {
  double* p = to_device(std::vector<double>(1000, 1.0));
  CUDA_EMU_LAUNCH(2, 128, 0, nullptr, scale<double>)(p, 2.0, 1000);  // grid-stride: 256 threads, 1000 items
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(to_host(p, 1000), std::vector<double>(1000, 2.0));
  cudaFree(p);
}

}  // namespace
