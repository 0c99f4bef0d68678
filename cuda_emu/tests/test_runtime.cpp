// The emulated runtime: memory, copies, streams, events, and the stream-capture rules the engine
// must obey on a real GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "copies.h"
#include "cuda_runtime.h"

namespace {

__global__ void add_one(float* p, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) p[i] += 1.0f;
}

class Runtime : public ::testing::Test {
 protected:
  void TearDown() override {
    cuda_emu::reset_for_tests();
    (void)cudaGetLastError();
  }
};

using cuda_emu::test::to_host;

TEST_F(Runtime, FreshDeviceMemoryIsNaNNotZero) {
  float* p = nullptr;
  ASSERT_EQ(cudaMalloc(&p, 8 * sizeof(float)), cudaSuccess);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 256, 0u);
  for (float v : to_host(p, 8)) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(cudaFree(p), cudaSuccess);
}

TEST_F(Runtime, AllocationAccountingAndOutOfMemory) {
  const size_t before = cuda_emu::device_bytes_in_use();
  void* p = nullptr;
  ASSERT_EQ(cudaMalloc(&p, 1000), cudaSuccess);
  EXPECT_EQ(cuda_emu::device_bytes_in_use(), before + 1000);
  EXPECT_EQ(cudaFree(p), cudaSuccess);
  EXPECT_EQ(cuda_emu::device_bytes_in_use(), before);
  EXPECT_EQ(cudaFree(p), cudaErrorInvalidValue) << "double free";
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  void* huge = nullptr;
  EXPECT_EQ(cudaMalloc(&huge, size_t{1} << 50), cudaErrorMemoryAllocation);
  EXPECT_EQ(huge, nullptr);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "not sticky";
}

TEST_F(Runtime, CopiesMustStayInsideAllocationsAndMatchTheirKind) {
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 4 * sizeof(float)), cudaSuccess);
  std::vector<float> h(8, 1.0f);
  EXPECT_EQ(cudaMemcpy(d, h.data(), 4 * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(d, h.data(), 5 * sizeof(float), cudaMemcpyHostToDevice), cudaErrorInvalidValue)
      << "one float past the end";
  EXPECT_EQ(cudaMemcpy(h.data(), d, 4 * sizeof(float), cudaMemcpyHostToDevice), cudaErrorInvalidValue)
      << "direction swapped";
  EXPECT_EQ(cudaMemcpyAsync(d + 1, h.data(), 4 * sizeof(float), cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemsetAsync(d, 0, 4 * sizeof(float)), cudaSuccess);
  EXPECT_EQ(to_host(d, 4), std::vector<float>(4, 0.0f));
  cudaPointerAttributes attr{};
  ASSERT_EQ(cudaPointerGetAttributes(&attr, d + 2), cudaSuccess);
  EXPECT_EQ(attr.type, cudaMemoryTypeDevice);
  ASSERT_EQ(cudaPointerGetAttributes(&attr, h.data()), cudaSuccess);
  EXPECT_EQ(attr.type, cudaMemoryTypeUnregistered);
  cudaFree(d);
}

TEST_F(Runtime, CapturedWorkRunsOnlyWhenTheGraphIsLaunched) {
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 4 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(d, 0, 4 * sizeof(float), s), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  CUDA_EMU_LAUNCH(1, 32, 0, s, add_one)(d, 4);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  cudaStreamCaptureStatus status{};
  ASSERT_EQ(cudaStreamIsCapturing(s, &status), cudaSuccess);
  EXPECT_EQ(status, cudaStreamCaptureStatusActive);
  cudaGraph_t g = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &g), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);  // the memset before the capture
  EXPECT_EQ(to_host(d, 4), std::vector<float>(4, 0.0f)) << "capturing does not execute";
  size_t nodes = 0;
  ASSERT_EQ(cudaGraphGetNodes(g, nullptr, &nodes), cudaSuccess);
  EXPECT_EQ(nodes, 1u);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, g, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);  // s is non-blocking: cudaMemcpy does not wait for it
  EXPECT_EQ(to_host(d, 4), std::vector<float>(4, 2.0f)) << "each launch replays the kernel";
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(g);
  cudaFree(d);
  cudaStreamDestroy(s);
}

TEST_F(Runtime, UnsafeCallsDuringCaptureFailAndInvalidateItUnlessRelaxed) {
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  void* p = nullptr;
  // cudaMalloc while this thread captures: refused, and the capture is broken.
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  EXPECT_EQ(cudaMalloc(&p, 64), cudaErrorStreamCaptureUnsupported);
  cudaGraph_t g = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(g, nullptr);
  // The same call in relaxed mode (what a caching allocator does) is allowed.
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  ASSERT_EQ(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
  EXPECT_EQ(cudaMalloc(&p, 64), cudaSuccess);
  ASSERT_EQ(cudaThreadExchangeStreamCaptureMode(&mode), cudaSuccess);
  EXPECT_EQ(mode, cudaStreamCaptureModeRelaxed) << "the exchange hands back the previous mode";
  EXPECT_EQ(cudaStreamEndCapture(s, &g), cudaSuccess);
  cudaGraphDestroy(g);
  // Synchronising a capturing stream is always illegal.
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(s), cudaErrorStreamCaptureUnsupported);
  EXPECT_EQ(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);
  cudaFree(p);
  cudaStreamDestroy(s);
}

TEST_F(Runtime, ThreadLocalCaptureIgnoresOtherThreadsButGlobalDoesNot) {
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  cudaGraph_t g = nullptr;
  for (cudaStreamCaptureMode m : {cudaStreamCaptureModeThreadLocal, cudaStreamCaptureModeGlobal}) {
    ASSERT_EQ(cudaStreamBeginCapture(s, m), cudaSuccess);
    cudaError_t other = cudaSuccess;
    std::thread([&] {
      void* p = nullptr;
      other = cudaMalloc(&p, 64);
      if (other == cudaSuccess) cudaFree(p);
    }).join();
    if (m == cudaStreamCaptureModeThreadLocal) {
      EXPECT_EQ(other, cudaSuccess);
      EXPECT_EQ(cudaStreamEndCapture(s, &g), cudaSuccess);
      cudaGraphDestroy(g);
    } else {
      EXPECT_EQ(other, cudaErrorStreamCaptureUnsupported);
      EXPECT_EQ(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);
    }
  }
  cudaStreamDestroy(s);
}

TEST_F(Runtime, LegacyStreamWorkBreaksACaptureOfABlockingStream) {
  cudaStream_t blocking = nullptr;
  ASSERT_EQ(cudaStreamCreate(&blocking), cudaSuccess);
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 4 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(blocking, cudaStreamCaptureModeRelaxed), cudaSuccess);
  CUDA_EMU_LAUNCH(1, 32, 0, nullptr, add_one)(d, 4);
  EXPECT_EQ(cudaGetLastError(), cudaErrorStreamCaptureImplicit);
  cudaGraph_t g = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(blocking, &g), cudaErrorStreamCaptureInvalidated);
  cudaFree(d);
  cudaStreamDestroy(blocking);
}

TEST_F(Runtime, AStreamThatWaitsOnACapturedEventJoinsTheCapture) {
  cudaStream_t a = nullptr, b = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&a, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking), cudaSuccess);
  cudaEvent_t e = nullptr;
  ASSERT_EQ(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), cudaSuccess);
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 4 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemset(d, 0, 4 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(a, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, a), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(e), cudaErrorStreamCaptureUnsupported) << "querying a captured event";
  cudaGraph_t g = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(a, &g), cudaErrorStreamCaptureInvalidated);
  ASSERT_EQ(cudaStreamBeginCapture(a, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(e, a), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(b, e, 0), cudaSuccess);
  CUDA_EMU_LAUNCH(1, 32, 0, b, add_one)(d, 4);
  ASSERT_EQ(cudaStreamEndCapture(a, &g), cudaSuccess);
  EXPECT_EQ(to_host(d, 4), std::vector<float>(4, 0.0f)) << "the joined stream's kernel was recorded";
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, g, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, a), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(a), cudaSuccess);
  EXPECT_EQ(to_host(d, 4), std::vector<float>(4, 1.0f));
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(g);
  cudaEventDestroy(e);
  cudaFree(d);
  cudaStreamDestroy(a);
  cudaStreamDestroy(b);
}

TEST_F(Runtime, EventsTimeAndRefuseTimingWhenDisabled) {
  cudaEvent_t t0 = nullptr, t1 = nullptr, quiet = nullptr;
  ASSERT_EQ(cudaEventCreate(&t0), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&t1), cudaSuccess);
  ASSERT_EQ(cudaEventCreateWithFlags(&quiet, cudaEventDisableTiming), cudaSuccess);
  float ms = -1;
  EXPECT_EQ(cudaEventElapsedTime(&ms, t0, t1), cudaErrorInvalidResourceHandle) << "never recorded";
  ASSERT_EQ(cudaEventRecord(t0), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(t1), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(quiet), cudaSuccess);
  EXPECT_EQ(cudaEventElapsedTime(&ms, t0, t1), cudaSuccess);
  EXPECT_GE(ms, 0.0f);
  EXPECT_EQ(cudaEventElapsedTime(&ms, t0, quiet), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaEventQuery(t1), cudaSuccess);
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  cudaEventDestroy(quiet);
}

TEST_F(Runtime, DevicesAndTheirAttributes) {
  int n = 0, dev = -1, major = 0;
  ASSERT_EQ(cudaGetDeviceCount(&n), cudaSuccess);
  EXPECT_GE(n, 1);
  EXPECT_EQ(cudaSetDevice(n), cudaErrorInvalidDevice);
  ASSERT_EQ(cudaGetDevice(&dev), cudaSuccess);
  EXPECT_EQ(dev, 0);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0), cudaSuccess);
  EXPECT_EQ(major, 9);
  EXPECT_STREQ(cudaGetErrorName(cudaErrorStreamCaptureImplicit), "cudaErrorStreamCaptureImplicit");
}

// ---- asynchronous mode (ctest runs this binary a second time with CUDA_EMU_ASYNC=1) -------------------
bool asynchronous_mode() { return cuda_emu::env_is("CUDA_EMU_ASYNC", "1"); }

class Async : public Runtime {
 protected:
  void SetUp() override {
    if (!asynchronous_mode()) GTEST_SKIP() << "runs with CUDA_EMU_ASYNC=1 (ctest: cuda_emu tests *.async)";
    ASSERT_EQ(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&d_, 4 * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMemset(d_, 0, 4 * sizeof(float)), cudaSuccess);
  }
  void TearDown() override {
    if (s_ != nullptr) cudaStreamDestroy(s_);
    if (d_ != nullptr) cudaFree(d_);
    Runtime::TearDown();
  }
  cudaStream_t s_ = nullptr;
  float* d_ = nullptr;
};

TEST_F(Async, WorkRunsWhenTheHostWaitsForIt) {
  cudaEvent_t e = nullptr;
  ASSERT_EQ(cudaEventCreate(&e), cudaSuccess);
  CUDA_EMU_LAUNCH(1, 32, 0, s_, add_one)(d_, 4);
  ASSERT_EQ(cudaEventRecord(e, s_), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(e), cudaErrorNotReady);
  EXPECT_EQ(cudaGetLastError(), cudaErrorNotReady);
  EXPECT_EQ(to_host(d_, 4), std::vector<float>(4, 0.0f)) << "cudaMemcpy waits for blocking streams only";
  ASSERT_EQ(cudaEventSynchronize(e), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(e), cudaSuccess);
  EXPECT_EQ(to_host(d_, 4), std::vector<float>(4, 1.0f));
  cudaEventDestroy(e);
}

TEST_F(Async, PinnedSourcesAreReadWhenTheCopyRunsPageableOnesAtTheCall) {
  float* pinned = nullptr;
  ASSERT_EQ(cudaHostAlloc(reinterpret_cast<void**>(&pinned), 4 * sizeof(float), cudaHostAllocDefault), cudaSuccess);
  std::vector<float> pageable(4, 5.0f);
  float* d2 = nullptr;
  ASSERT_EQ(cudaMalloc(&d2, 4 * sizeof(float)), cudaSuccess);
  std::fill(pinned, pinned + 4, 3.0f);
  ASSERT_EQ(cudaMemcpyAsync(d_, pinned, 4 * sizeof(float), cudaMemcpyHostToDevice, s_), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(d2, pageable.data(), 4 * sizeof(float), cudaMemcpyHostToDevice, s_), cudaSuccess);
  std::fill(pinned, pinned + 4, -1.0f);  // too early: the upload has not run
  std::fill(pageable.begin(), pageable.end(), -1.0f);  // fine: it was staged
  ASSERT_EQ(cudaStreamSynchronize(s_), cudaSuccess);
  EXPECT_EQ(to_host(d_, 4), std::vector<float>(4, -1.0f)) << "the race CUDA allows with pinned memory";
  EXPECT_EQ(to_host(d2, 4), std::vector<float>(4, 5.0f));
  // A copy to pageable memory returns only when done; to pinned memory, when queued.
  CUDA_EMU_LAUNCH(1, 32, 0, s_, add_one)(d_, 4);
  std::vector<float> out(4, 0.0f);
  ASSERT_EQ(cudaMemcpyAsync(out.data(), d_, 4 * sizeof(float), cudaMemcpyDeviceToHost, s_), cudaSuccess);
  EXPECT_EQ(out, std::vector<float>(4, 0.0f));
  CUDA_EMU_LAUNCH(1, 32, 0, s_, add_one)(d_, 4);
  ASSERT_EQ(cudaMemcpyAsync(pinned, d_, 4 * sizeof(float), cudaMemcpyDeviceToHost, s_), cudaSuccess);
  EXPECT_EQ(pinned[0], -1.0f) << "not yet copied";
  ASSERT_EQ(cudaStreamSynchronize(s_), cudaSuccess);
  EXPECT_EQ(pinned[0], 1.0f);
  cudaFree(d2);
  cudaFreeHost(pinned);
}

TEST_F(Async, StreamWaitEventOrdersAStreamBehindAnother) {
  cudaStream_t b = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking), cudaSuccess);
  cudaEvent_t e = nullptr;
  ASSERT_EQ(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), cudaSuccess);
  float* d2 = nullptr;
  ASSERT_EQ(cudaMalloc(&d2, 4 * sizeof(float)), cudaSuccess);
  CUDA_EMU_LAUNCH(1, 32, 0, s_, add_one)(d_, 4);
  ASSERT_EQ(cudaEventRecord(e, s_), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(b, e, 0), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(d2, d_, 4 * sizeof(float), cudaMemcpyDeviceToDevice, b), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(b), cudaSuccess);  // runs s_ up to the event first
  EXPECT_EQ(to_host(d2, 4), std::vector<float>(4, 1.0f));
  cudaFree(d2);
  cudaEventDestroy(e);
  cudaStreamDestroy(b);
}

}  // namespace
