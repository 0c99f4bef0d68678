// Pinned (page-locked) CPU tensors: one clear error where pinning is impossible (a CPU-only build
// or no visible GPU); with a GPU, is_pinned, exact round trips through the asynchronous upload
// path, the caching allocator's reuse and statistics, and that freeing or refilling a pinned
// tensor right after queuing its upload cannot change what the GPU received.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "common/gpu_test.h"
#include "engine/device.h"
#include "engine/factories.h"
#include "engine/pinned.h"
#include "engine/tensor.h"
#include "tests/common/expect.h"
#ifdef ATEBM_WITH_CUDA
#include "engine/cuda/pinned_allocator.h"
#endif

namespace atebm {
namespace {

using test::expect_error;

bool gpu_visible() { return cuda_built() && cuda_device_count() > 0; }

// A 2-D float64 tensor whose transpose view is not contiguous: values 0.5·k + (k % 3).
Tensor ramp(int64_t rows, int64_t cols) {
  std::vector<double> v(static_cast<size_t>(rows * cols));
  for (size_t k = 0; k < v.size(); ++k) v[k] = 0.5 * static_cast<double>(k) + static_cast<double>(k % 3);
  return from_vector<double>(v, {rows, cols}, {.dtype = DType::Float64});
}

Tensor transposed(const Tensor& t) { return make_view(t, {t.size(1), t.size(0)}, {t.stride(1), t.stride(0)}, 0); }

TEST(Pinned, NeedsTheCudaBackendAndAGpu) {
  const Tensor cpu = ramp(3, 4);
  EXPECT_FALSE(is_pinned(cpu));
  EXPECT_EQ(pinned_memory_available(), gpu_visible());
  if (!gpu_visible()) {
    const std::string why = cuda_built() ? "no CUDA device is visible" : "this build has no CUDA backend";
    expect_error([&] { pin_memory(cpu); }, {"pin_memory needs the CUDA backend and a visible GPU", why});
    expect_error([] { empty({2, 3}, {.pinned = true}); }, {"needs the CUDA backend and a visible GPU", why});
    expect_error([] { zeros({4}, {.dtype = DType::Int64, .pinned = true}); }, {"visible GPU", why});
    return;
  }
  // With a GPU: a pinned copy holding the same values, and the values survive a trip to the GPU.
  const Tensor p = pin_memory(cpu);
  EXPECT_TRUE(is_pinned(p));
  EXPECT_FALSE(p.is_same(cpu));
  EXPECT_EQ(p.to_vector<double>(), cpu.to_vector<double>());
  const Tensor g = copy_to(p, Device::cuda(), DType::Float64);
  EXPECT_FALSE(is_pinned(g));
  EXPECT_EQ(g.to_vector<double>(), cpu.to_vector<double>());
#ifdef ATEBM_WITH_CUDA
  const cuda::PinnedStats s = cuda::pinned_allocator().stats();
  EXPECT_GE(s.allocated_bytes, static_cast<int64_t>(cuda::PinnedAllocator::round_size(12 * sizeof(double))));
  EXPECT_GE(s.reserved_bytes, s.allocated_bytes);
  EXPECT_GE(s.num_host_allocs, 1);
#endif
}

// Pinned memory needs the CUDA backend and a visible GPU. The shared skip, whose message
// tools/gpu_check.sh looks for to catch tests that skip on a machine that has a GPU.
class PinnedGpu : public ::testing::Test {
 protected:
  void SetUp() override { ATEBM_SKIP_WITHOUT_GPU(); }
};

TEST_F(PinnedGpu, PinMemoryCopiesOnlyWhatIsNotPinnedAndContiguous) {
  const Tensor cpu = ramp(5, 7);
  const Tensor p = pin_memory(cpu);
  EXPECT_TRUE(pin_memory(p).is_same(p));  // already pinned and contiguous: the same tensor

  // A view of pinned memory is pinned; a non-contiguous one is copied into a contiguous block.
  const Tensor view = transposed(p);
  EXPECT_TRUE(is_pinned(view));
  const Tensor packed = pin_memory(view);
  EXPECT_FALSE(packed.is_same(view));
  EXPECT_TRUE(is_pinned(packed));
  EXPECT_TRUE(packed.is_contiguous());
  EXPECT_EQ(packed.to_vector<double>(), transposed(cpu).to_vector<double>());

  // Every dtype, any shape, including empty ones; no autograd history is carried over.
  const Tensor ints = pin_memory(arange(10.0, {.dtype = DType::Int64}));
  EXPECT_EQ(ints.dtype(), DType::Int64);
  EXPECT_EQ(ints.to_vector<int64_t>(), arange(10.0, {.dtype = DType::Int64}).to_vector<int64_t>());
  EXPECT_EQ(pin_memory(empty({0, 3})).numel(), 0);
  const Tensor leaf = ones({3}, {.requires_grad = true});
  EXPECT_FALSE(pin_memory(leaf).requires_grad());

  expect_error([] { pin_memory(zeros({2}, {.device = Device::cuda()})); }, {"pin_memory", "expected a CPU tensor"});
}

TEST_F(PinnedGpu, FactoriesAllocatePinnedOnRequest) {
  const Tensor z = zeros({4, 5}, {.dtype = DType::Float32, .pinned = true});
  EXPECT_TRUE(is_pinned(z));
  EXPECT_EQ(z.to_vector<double>(), std::vector<double>(20, 0.0));
  const Tensor f = from_vector<float>({1.5f, -2.0f, 3.25f}, {3}, {.pinned = true});
  EXPECT_TRUE(is_pinned(f));
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_FALSE(is_pinned(zeros({4, 5})));
  EXPECT_FALSE(is_pinned(zeros({4, 5}, {.device = Device::cuda()})));
  expect_error([] { empty({2}, {.device = Device::cuda(), .pinned = true}); },
               {"pinned memory is host memory", "cuda:0"});
}

TEST_F(PinnedGpu, UploadsRoundTripExactly) {
  const Tensor cpu = ramp(33, 17);
  const Tensor p = pin_memory(cpu);
  const std::vector<double> want = cpu.to_vector<double>();
  // Same dtype, contiguous: a direct DMA from the pinned block.
  EXPECT_EQ(copy_to(p, Device::cuda(), DType::Float64).to_vector<double>(), want);
  // Another dtype, and a non-contiguous pinned source: staged through a pinned temporary.
  const std::vector<float> want32(want.begin(), want.end());
  EXPECT_EQ(copy_to(p, Device::cuda(), DType::Float32).to_vector<float>(), want32);
  EXPECT_EQ(copy_to(transposed(p), Device::cuda(), DType::Float64).to_vector<double>(),
            transposed(cpu).to_vector<double>());
  // Into a non-contiguous GPU destination.
  const Tensor dst = zeros({17, 33}, {.dtype = DType::Float64, .device = Device::cuda()});
  copy_into(transposed(dst), p);
  EXPECT_EQ(transposed(dst).to_vector<double>(), want);
  // And back from the GPU into pinned memory.
  const Tensor back = empty({33, 17}, {.dtype = DType::Float64, .pinned = true});
  copy_into(back, copy_to(p, Device::cuda(), DType::Float64));
  EXPECT_EQ(back.to_vector<double>(), want);
}

// Elements of `t` that differ from v (a count, so a failure does not print millions of values).
int64_t count_not_equal(const Tensor& t, float v) {
  int64_t bad = 0;
  for (float x : t.to_vector<float>()) bad += x != v ? 1 : 0;
  return bad;
}

// The upload returns before the copy has run. Freeing the source and at once filling pinned
// blocks of the same size class (which, were the freed block handed out again too early, would
// overwrite it), or refilling the live source through fill_into, must not change what arrives.
// Slow GPU work queued first keeps each upload waiting on the stream while the host goes on:
// 100 fills of 512 MiB are ~15 ms on an H200 (~4 TB/s), several times what the host needs to
// fill a 16 MiB block, so a block handed out too early would be overwritten before its copy.
TEST_F(PinnedGpu, SourceMayBeFreedOrRefilledRightAfterTheUpload) {
  const Shape shape = {4096, 1024};  // 16 MiB of float32
  const Tensor busy = empty({test::kGpuEmulated ? 1 : 128, 1024, 1024}, {.device = Device::cuda()});  // 512 MiB
  auto keep_gpu_busy = [&] {
    for (int i = 0; i < (test::kGpuEmulated ? 2 : 100); ++i) fill_into(busy, static_cast<double>(i));
  };
  std::vector<Tensor> on_gpu;
  for (int round = 0; round < 4; ++round) {
    Tensor src = full(shape, static_cast<double>(round + 1), {.pinned = true});
    keep_gpu_busy();
    on_gpu.push_back(copy_to(src, Device::cuda(), DType::Float32));
    src = Tensor();  // freed while its upload is still queued
    const Tensor scribble = full(shape, -7.0, {.pinned = true});
    EXPECT_TRUE(is_pinned(scribble));
  }
  const Tensor live = full(shape, 11.0, {.pinned = true});
  keep_gpu_busy();
  const Tensor uploaded = copy_to(live, Device::cuda(), DType::Float32);
  fill_into(live, -1.0);  // waits for the upload first
  for (int round = 0; round < 4; ++round)
    EXPECT_EQ(count_not_equal(on_gpu[round], static_cast<float>(round + 1)), 0) << "round " << round;
  EXPECT_EQ(count_not_equal(uploaded, 11.0f), 0);
  EXPECT_EQ(count_not_equal(live, -1.0f), 0);
}

#ifdef ATEBM_WITH_CUDA
TEST_F(PinnedGpu, AllocatorSizeClasses) {
  using cuda::PinnedAllocator;
  EXPECT_EQ(PinnedAllocator::round_size(1), 4096u);
  EXPECT_EQ(PinnedAllocator::round_size(4096), 4096u);
  EXPECT_EQ(PinnedAllocator::round_size(4097), 8192u);
  EXPECT_EQ(PinnedAllocator::round_size(size_t{1} << 20), size_t{1} << 20);
  EXPECT_EQ(PinnedAllocator::round_size((size_t{1} << 20) + 1), size_t{2} << 20);
  EXPECT_EQ(PinnedAllocator::round_size((size_t{2} << 20) + 1), size_t{4} << 20);
}

TEST_F(PinnedGpu, AllocatorReusesFreedBlocksAndReleasesTheCache) {
  cuda::PinnedAllocator& alloc = cuda::pinned_allocator();
  const Shape shape = {777, 1031};  // 3.2 MB of float32: a 4 MiB class no other test uses
  const auto block = static_cast<int64_t>(cuda::PinnedAllocator::round_size(777 * 1031 * 4));
  { const Tensor warm = empty(shape, {.pinned = true}); }  // may cudaHostAlloc; then cached
  const cuda::PinnedStats before = alloc.stats();
  for (int it = 0; it < 5; ++it) {
    const Tensor t = empty(shape, {.pinned = true});
    const cuda::PinnedStats s = alloc.stats();
    EXPECT_EQ(s.num_host_allocs, before.num_host_allocs);
    EXPECT_EQ(s.allocated_bytes, before.allocated_bytes + block);
    EXPECT_GE(s.peak_allocated_bytes, s.allocated_bytes);
  }
  EXPECT_EQ(alloc.stats().allocated_bytes, before.allocated_bytes);
  EXPECT_EQ(alloc.stats().reserved_bytes, before.reserved_bytes);

  // A block freed with its upload still queued drains back into the cache once the copy ran.
  {
    const Tensor t = full(shape, 2.0, {.pinned = true});
    const Tensor g = copy_to(t, Device::cuda(), DType::Float32);
    EXPECT_EQ(g.to_vector<float>()[12345], 2.0f);  // the read waits for the stream
  }
  // Releasing the cache leaves only blocks in use; the next request goes back to cudaHostAlloc.
  alloc.release_cached();
  const cuda::PinnedStats released = alloc.stats();
  EXPECT_EQ(released.reserved_bytes, released.allocated_bytes);
  EXPECT_EQ(released.draining_blocks, 0);
  { const Tensor t = empty(shape, {.pinned = true}); }
  EXPECT_EQ(alloc.stats().num_host_allocs, released.num_host_allocs + 1);
}

TEST_F(PinnedGpu, AllocatorOwnsOnlyItsLiveBlocks) {
  cuda::PinnedAllocator& alloc = cuda::pinned_allocator();
  const Tensor t = empty({1000}, {.pinned = true});
  const char* base = static_cast<const char*>(t.raw_data());
  EXPECT_TRUE(alloc.owns(base, 4000));
  EXPECT_TRUE(alloc.owns(base + 100, 3900));
  EXPECT_FALSE(alloc.owns(base + 100, cuda::PinnedAllocator::round_size(4000)));  // runs past the block
  const Tensor pageable = empty({1000});
  EXPECT_FALSE(alloc.owns(pageable.raw_data(), 4000));
  EXPECT_FALSE(alloc.record_use(pageable.raw_data(), 4000, nullptr));
}
#endif

}  // namespace
}  // namespace atebm
