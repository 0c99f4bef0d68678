// Tensor geometry, views without copies, factories and the CPU allocator.
#include <gtest/gtest.h>

#include "common/expect.h"
#include "engine/cpu/cpu_allocator.h"
#include "engine/device.h"
#include "ops/ops.h"

using namespace atebm;

TEST(Tensor, FactoriesShapeDtypeValues) {
  Tensor z = zeros({2, 3}, {.dtype = DType::Float64});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Shape{3, 1}));
  EXPECT_EQ(z.dtype(), DType::Float64);
  EXPECT_TRUE(z.device().is_cpu());
  EXPECT_EQ(z.to_vector<double>(), std::vector<double>(6, 0.0));
  EXPECT_EQ(ones({4}).to_vector<float>(), std::vector<float>(4, 1.0f));
  EXPECT_EQ(full({2}, 2.5).to_vector<float>(), (std::vector<float>{2.5f, 2.5f}));
  EXPECT_EQ(arange(0, 5, 2).to_vector<float>(), (std::vector<float>{0, 2, 4}));
  EXPECT_EQ(arange(3, {.dtype = DType::Int64}).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_DOUBLE_EQ(scalar_tensor(3.25).item(), 3.25);
  EXPECT_EQ(scalar_tensor(1.0).dim(), 0);
  Tensor e = empty({0, 3});
  EXPECT_EQ(e.numel(), 0);
  Tensor l = zeros_like(z);
  EXPECT_EQ(l.shape(), z.shape());
  EXPECT_EQ(l.dtype(), DType::Float64);
  EXPECT_TRUE(ones({2}, {.requires_grad = true}).requires_grad());
}

TEST(Tensor, FromVectorChecksSize) {
  EXPECT_THROW(from_vector<float>({1, 2, 3}, {2, 2}), Error);
  Tensor t = from_vector<int64_t>({1, 2, 3, 4}, {2, 2}, {.dtype = DType::Float32});
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_THROW(empty({-1}), Error);
  EXPECT_THROW(ones({2}, {.dtype = DType::Int64, .requires_grad = true}), Error);
}

TEST(Tensor, ViewsShareStorageWithoutCopy) {
  Tensor x = arange(24).set_requires_grad(false);
  Tensor r = reshape(x, {2, 3, 4});
  EXPECT_EQ(r.storage(), x.storage());
  Tensor p = permute(r, {2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.storage(), x.storage());
  Tensor s = slice(r, 2, 1, 4, 2);
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(s.offset(), 1);
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23}));
  Tensor n = narrow(r, 1, 1, 2);
  EXPECT_EQ(n.offset(), 4);
  Tensor e = expand(reshape(arange(3), {3, 1}), {3, 4});
  EXPECT_EQ(e.strides(), (Shape{1, 0}));
  EXPECT_EQ(e.to_vector<float>(), (std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
  EXPECT_EQ(unsqueeze(x, 0).shape(), (Shape{1, 24}));
  EXPECT_EQ(squeeze(unsqueeze(x, 1)).shape(), (Shape{24}));
  EXPECT_EQ(flatten(r, 1).shape(), (Shape{2, 12}));
  EXPECT_EQ(select(r, 1, -1).to_vector<float>(), (std::vector<float>{8, 9, 10, 11, 20, 21, 22, 23}));
}

TEST(Tensor, ContiguousCopiesOnlyWhenNeeded) {
  Tensor x = reshape(arange(6), {2, 3});
  EXPECT_TRUE(contiguous(x).is_same(x));
  Tensor t = transpose(x, 0, 1);
  Tensor c = contiguous(t);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  // reshape of a non-contiguous tensor whose strides do not allow a view copies
  Tensor r = reshape(t, {6});
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_THROW(view(t, {6}), Error);
}

TEST(Tensor, ItemAndDtypeConversion) {
  EXPECT_THROW(zeros({2}).item(), Error);
  Tensor x = from_vector({1.5, -2.5});
  EXPECT_EQ(to(x, DType::Float32).dtype(), DType::Float32);
  EXPECT_EQ(to(x, DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2}));
  EXPECT_EQ(gt(x, 0.0).to_vector<bool>(), (std::vector<bool>{true, false}));
}

TEST(Tensor, MakeViewChecksBounds) {
  Tensor x = zeros({4});
  EXPECT_THROW(make_view(x, {3}, {2}, 0), Error);
  EXPECT_NO_THROW(make_view(x, {2}, {2}, 1));
}

TEST(Tensor, OutOfRangeDimsNameTheOp) {
  Tensor x = zeros({2, 3});
  try {
    (void)transpose(x, 0, 5);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("transpose"), std::string::npos) << e.what();
  }
  EXPECT_THROW(x.size(2), Error);
  EXPECT_EQ(x.size(-1), 3);
}

TEST(Tensor, DevicesWithoutBackendGiveClearErrors) {
  if (cuda_built()) GTEST_SKIP() << "this build has the CUDA backend";
  try {
    (void)zeros({2}, {.device = Device::cuda()});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
  EXPECT_THROW(Device::parse("tpu"), Error);
}

TEST(CpuAllocator, LargeBlocksAreReused) {
  const int64_t before = cpu::allocator_stats().system_allocations;
  for (int i = 0; i < 10; ++i) {
    Tensor t = empty({1 << 20});  // 4 MiB
    fill_into(t, 1.0);
  }
  // The first iteration may allocate; the other nine reuse the cached block.
  EXPECT_LE(cpu::allocator_stats().system_allocations - before, 1);
  const int64_t live = Storage::live_count();
  { Tensor t = empty({1 << 20}); }
  EXPECT_EQ(Storage::live_count(), live);
  cpu::release_cached();
  EXPECT_EQ(cpu::allocator_stats().cached_bytes, 0);
}

TEST(Tensor, SettingACudaDeviceThatIsNotThereSaysWhy) {
  if (atebm::cuda_built() && atebm::cuda_device_count() > 0) GTEST_SKIP() << "a GPU is visible";
  atebm::test::expect_error([] { atebm::set_current_cuda_device(0); },
                            {"set_current_cuda_device: cuda:0 is not visible (0 CUDA device(s)"});
}
