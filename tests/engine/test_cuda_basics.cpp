// CUDA basics against the CPU: factories, strided copies, the Philox streams and the caching
// allocator. Without the CUDA backend or without a visible GPU every CudaBasics test skips; the
// checks that compare with the CPU also run with the CPU in the GPU's place in every build
// (CudaBasicsHarnessOnCpu).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "common/gpu_test.h"
#include "engine/device.h"
#include "engine/factories.h"
#include "engine/generator.h"
#include "engine/tensor.h"
#ifdef ATEBM_WITH_CUDA
#include "engine/cuda/cuda_allocator.h"
#endif

namespace atebm {
namespace {

class CudaBasics : public ::testing::Test {
 protected:
  void SetUp() override {
    ATEBM_SKIP_WITHOUT_GPU();
  }
};

TensorOptions on(const Device& device, DType dt) { return {.dtype = dt, .device = device}; }
TensorOptions on_cpu(DType dt) { return {.dtype = dt}; }

// Each check below runs on `dev` = cuda:0 (CudaBasics) and, in every build, on the CPU in its
// place (CudaBasicsHarnessOnCpu), which proves the expected values before a GPU session.

void check_constant_factories(const Device& dev) {
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::Bool}) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor z = zeros({3, 5}, on(dev, dt));
    EXPECT_EQ(z.device(), dev);
    EXPECT_EQ(z.to_vector<double>(), std::vector<double>(15, 0.0));
    EXPECT_EQ(ones({4, 1, 3}, on(dev, dt)).to_vector<double>(), std::vector<double>(12, 1.0));
    const double v = dt == DType::Bool ? 1.0 : dt == DType::Int64 ? -7.0 : 2.5;
    EXPECT_EQ(full({7}, v, on(dev, dt)).to_vector<double>(), std::vector<double>(7, v));
    EXPECT_EQ(full({}, v, on(dev, dt)).item(), v);
    EXPECT_TRUE(zeros({0, 3}, on(dev, dt)).to_vector<double>().empty());
  }
}

void check_arange(const Device& dev) {
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
    SCOPED_TRACE(dtype_name(dt));
    EXPECT_EQ(arange(-3.0, 1000.0, 1.0, on(dev, dt)).to_vector<double>(),
              arange(-3.0, 1000.0, 1.0, on_cpu(dt)).to_vector<double>());
  }
  // Fractional steps: equal up to the rounding of start + i·step (fused or not on the host).
  const std::vector<double> g = arange(0.5, 30.0, 0.1, on(dev, DType::Float64)).to_vector<double>();
  const std::vector<double> c = arange(0.5, 30.0, 0.1, on_cpu(DType::Float64)).to_vector<double>();
  ASSERT_EQ(g.size(), c.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_DOUBLE_EQ(g[i], c[i]) << "i=" << i;
}

void check_strided_views_copy_to_cpu(const Device& dev) {
  // a = 0..11 as a [3, 4] matrix on the device; t = its transpose [4, 3] (strides [1, 4]).
  const Tensor a = arange(12.0, on(dev, DType::Float32));
  const Tensor t = make_view(a, {4, 3}, {1, 4}, 0);
  const std::vector<float> want = {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11};
  EXPECT_EQ(copy_to(t, Device::cpu(), DType::Float32).to_vector<float>(), want);
  EXPECT_EQ(t.to_vector<float>(), want);
  // Device → same device with conversion, then to the host.
  const Tensor t64 = copy_to(t, dev, DType::Float64);
  EXPECT_TRUE(t64.is_contiguous());
  EXPECT_EQ(t64.to_vector<double>(), std::vector<double>(want.begin(), want.end()));
  EXPECT_EQ(copy_to(t, dev, DType::Int64).to_vector<int64_t>(), std::vector<int64_t>(want.begin(), want.end()));
  // A window with an offset: rows 1..2, columns 1..2 → 5, 6, 9, 10.
  EXPECT_EQ(make_view(a, {2, 2}, {4, 1}, 5).to_vector<float>(), (std::vector<float>{5, 6, 9, 10}));
  // Broadcast view (stride 0) of one row.
  EXPECT_EQ(make_view(a, {2, 3}, {0, 1}, 1).to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
}

void check_strided_writes(const Device& dev) {
  // CPU → non-contiguous destination on the device (on a GPU: staged through a contiguous
  // GPU buffer).
  const Tensor b = zeros({3, 4}, on(dev, DType::Float64));
  const Tensor bt = make_view(b, {4, 3}, {1, 4}, 0);
  const Tensor src = make_view(arange(12.0, on_cpu(DType::Float32)), {4, 3}, {3, 1}, 0);
  copy_into(bt, src);
  // bt[i][j] = 3i + j, so b[j][i] = 3i + j.
  std::vector<double> want(12);
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 4; ++i) want[j * 4 + i] = 3 * i + j;
  EXPECT_EQ(b.to_vector<double>(), want);
  // Fill every other element of row 1.
  fill_into(make_view(b, {2}, {2}, 4), -1.0);
  want[4] = want[6] = -1.0;
  EXPECT_EQ(b.to_vector<double>(), want);
  // Bool from float on the device: non-zero → true.
  const std::vector<double> mask = copy_to(b, dev, DType::Bool).to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(mask[i], want[i] != 0.0 ? 1.0 : 0.0) << "i=" << i;
}

void check_random_streams(const Device& dev) {
  const Shape shape = {37, 27};  // 999 values: the last Philox block is only partly used
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    Generator gc(1234), gg(1234);
    // uniform [0, 1): the same bits on both devices.
    EXPECT_EQ(rand(shape, on_cpu(dt), &gc).to_vector<double>(), rand(shape, on(dev, dt), &gg).to_vector<double>());
    EXPECT_EQ(gc.state(), gg.state());
    // uniform [lo, hi): one rounding of lo + (hi - lo)·u either way.
    const std::vector<double> uc = uniform(shape, -2.0, 3.0, on_cpu(dt), &gc).to_vector<double>();
    const std::vector<double> ug = uniform(shape, -2.0, 3.0, on(dev, dt), &gg).to_vector<double>();
    ASSERT_EQ(uc.size(), ug.size());
    const double ulp = dt == DType::Float32 ? 1e-6 : 1e-15;
    for (size_t i = 0; i < uc.size(); ++i) EXPECT_NEAR(ug[i], uc[i], 4 * ulp) << "i=" << i;
    // normal: the GPU's log/sin/cos differ from libm by a few ulp.
    const double rel = dt == DType::Float32 ? 1e-5 : 1e-12;
    const std::vector<double> nc = normal(shape, 0.5, 2.0, on_cpu(dt), &gc).to_vector<double>();
    const std::vector<double> ng = normal(shape, 0.5, 2.0, on(dev, dt), &gg).to_vector<double>();
    ASSERT_EQ(nc.size(), ng.size());
    for (size_t i = 0; i < nc.size(); ++i)
      EXPECT_NEAR(ng[i], nc[i], rel * std::max(1.0, std::abs(nc[i]))) << "i=" << i;
    EXPECT_EQ(gc.state(), gg.state());
  }
}

TEST_F(CudaBasics, ConstantFactoriesRoundTrip) { check_constant_factories(Device::cuda()); }
TEST_F(CudaBasics, ArangeMatchesCpu) { check_arange(Device::cuda()); }
TEST_F(CudaBasics, StridedViewsCopyToCpu) { check_strided_views_copy_to_cpu(Device::cuda()); }
TEST_F(CudaBasics, StridedWritesOnGpu) { check_strided_writes(Device::cuda()); }
TEST_F(CudaBasics, RandomStreamsMatchCpu) { check_random_streams(Device::cuda()); }

TEST(CudaBasicsHarnessOnCpu, ConstantFactoriesRoundTrip) { check_constant_factories(Device::cpu()); }
TEST(CudaBasicsHarnessOnCpu, ArangeMatchesCpu) { check_arange(Device::cpu()); }
TEST(CudaBasicsHarnessOnCpu, StridedViewsCopyToCpu) { check_strided_views_copy_to_cpu(Device::cpu()); }
TEST(CudaBasicsHarnessOnCpu, StridedWrites) { check_strided_writes(Device::cpu()); }
TEST(CudaBasicsHarnessOnCpu, RandomStreamsMatchCpu) { check_random_streams(Device::cpu()); }

#ifdef ATEBM_WITH_CUDA
// The allocator tests set its mode themselves (cuda::ExactModeScope), so they hold whether or
// not the process started with ATEBM_CUDA_NO_CACHE=1.
using ExactMode = cuda::ExactModeScope;

TEST_F(CudaBasics, AllocatorSizeClasses) {
  using cuda::CachingAllocator;
  const ExactMode caching(false);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(size_t{1} << 20), size_t{1} << 20);
  EXPECT_EQ(CachingAllocator::round_size((size_t{1} << 20) + 1), size_t{2} << 20);
  EXPECT_EQ(CachingAllocator::round_size((size_t{2} << 20) + 1), size_t{4} << 20);
}

TEST_F(CudaBasics, AllocatorReusesFreedBlocks) {
  const ExactMode caching(false);
  cuda::CachingAllocator& alloc = cuda::caching_allocator();
  const Shape shape = {777, 1031};  // 3.2 MB of float32: a 4 MiB class unlikely to be used elsewhere
  const auto block = static_cast<int64_t>(cuda::CachingAllocator::round_size(777 * 1031 * 4));
  { const Tensor warm = empty(shape, on(Device::cuda(), DType::Float32)); }  // may cudaMalloc; then cached
  const cuda::AllocatorStats before = alloc.stats();
  for (int it = 0; it < 5; ++it) {
    const Tensor t = empty(shape, on(Device::cuda(), DType::Float32));
    const cuda::AllocatorStats s = alloc.stats();
    EXPECT_EQ(s.num_cuda_mallocs, before.num_cuda_mallocs);
    EXPECT_EQ(s.allocated_bytes, before.allocated_bytes + block);
    EXPECT_GE(s.peak_allocated_bytes, s.allocated_bytes);
  }
  EXPECT_EQ(alloc.stats().allocated_bytes, before.allocated_bytes);
  EXPECT_EQ(alloc.stats().reserved_bytes, before.reserved_bytes);
  // Releasing the cache leaves only blocks in use; the next request goes back to cudaMalloc.
  alloc.release_cached();
  const cuda::AllocatorStats released = alloc.stats();
  EXPECT_EQ(released.reserved_bytes, released.allocated_bytes);
  { const Tensor t = empty(shape, on(Device::cuda(), DType::Float32)); }
  EXPECT_EQ(alloc.stats().num_cuda_mallocs, released.num_cuda_mallocs + 1);
}

TEST_F(CudaBasics, AllocatorIsThreadSafe) {
  cuda::CachingAllocator& alloc = cuda::caching_allocator();
  for (bool exact : {false, true}) {
    const ExactMode mode(exact);
    const cuda::AllocatorStats start = alloc.stats();
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k) {
      threads.emplace_back([&alloc, k] {
        for (int i = 0; i < 200; ++i) {
          void* p = alloc.allocate(static_cast<size_t>(1000 * (k + 1) + i));
          alloc.deallocate(p, static_cast<size_t>(1000 * (k + 1) + i));
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(alloc.stats().allocated_bytes, start.allocated_bytes) << "exact " << exact;
    if (exact) {
      EXPECT_EQ(alloc.stats().reserved_bytes, start.reserved_bytes) << "every block went back to the device";
    }
  }
}

// Exact mode (for memory checkers): blocks of exactly the requested bytes, a cudaMalloc for every
// allocation and a cudaFree for every free, so a checker sees each tensor's true end and every
// use after free.
TEST_F(CudaBasics, AllocatorExactModeMallocsAndFreesEveryBlock) {
  const ExactMode exact(true);
  cuda::CachingAllocator& alloc = cuda::caching_allocator();
  EXPECT_EQ(cuda::CachingAllocator::round_size(1), 1u);
  EXPECT_EQ(cuda::CachingAllocator::round_size(4000), 4000u);
  const cuda::AllocatorStats before = alloc.stats();
  for (int it = 1; it <= 3; ++it) {
    {
      const Tensor t = full({1000}, 2.5, on(Device::cuda(), DType::Float32));  // 4000 bytes
      const cuda::AllocatorStats s = alloc.stats();
      EXPECT_EQ(s.allocated_bytes, before.allocated_bytes + 4000);
      EXPECT_EQ(s.reserved_bytes, before.reserved_bytes + 4000);
      EXPECT_EQ(s.num_cuda_mallocs, before.num_cuda_mallocs + it) << "a freed block was reused";
      EXPECT_EQ(copy_to(t, Device::cpu(), DType::Float32).to_vector<float>(), std::vector<float>(1000, 2.5f));
    }
    EXPECT_EQ(alloc.stats().reserved_bytes, before.reserved_bytes) << "the block was cached, not freed";
  }
  EXPECT_EQ(alloc.stats().allocated_bytes, before.allocated_bytes);
}
#endif

}  // namespace
}  // namespace atebm
