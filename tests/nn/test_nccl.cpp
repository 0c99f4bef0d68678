// The NCCL communicator on one GPU, without MPI: one rank (NCCL refuses two ranks on one device,
// so a single-GPU machine can run no more), which still runs ncclCommInitRank, the synchronous
// all-reduce and broadcast on the compute stream, and the asynchronous all-reduce on the
// communication stream with its events. With one rank a sum is the identity, so what is checked
// is that every call runs, leaves the values and their device intact, and that the async path
// is ordered after the kernels that wrote the buffer and before those that read it. Several
// ranks run under mpirun in tools/gpu_check.sh when a machine has several GPUs.
// Skips without a GPU or without NCCL; the CPU-only error is checked everywhere.
#include <gtest/gtest.h>

#include "common/expect.h"
#include "common/gpu_test.h"
#include "engine/factories.h"
#include "nn/dist/nccl_communicator.h"
#include "ops/inplace.h"
#include "ops/ops.h"

namespace atebm::nn {
namespace {

std::unique_ptr<NcclCommunicator> one_rank() {
  // One rank: nothing to send, rank 0's id stays where it is.
  return make_nccl_communicator(0, 1, 0, [](void*, size_t) {});
}

#ifdef ATEBM_WITH_NCCL
class Nccl : public ::testing::Test {
 protected:
  void SetUp() override { ATEBM_SKIP_WITHOUT_GPU(); }
};

TEST_F(Nccl, OneRankCollectivesAreTheIdentityOnTheDevice) {
  auto comm = one_rank();
  const std::vector<float> v = {1.5f, -2.0f, 3.25f, 0.0f};
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Tensor t = copy_to(from_vector(v, {4}), Device::cuda(), dt);
    comm->allreduce_sum(t);
    comm->broadcast(t, 0);
    EXPECT_TRUE(t.device().is_cuda());
    EXPECT_EQ(copy_to(t, Device::cpu(), DType::Float32).to_vector<float>(), v) << dtype_name(dt);
  }
}

TEST_F(Nccl, AsyncAllReduceIsOrderedWithTheComputeStream) {
  auto comm = one_rank();
  // A large buffer written by a kernel just before the call: the comm stream must wait for it.
  const int64_t n = 1 << 22;
  const Tensor t = full({n}, 0.0, {.device = Device::cuda()});
  add_(t, ones_like(t), 2.0);  // queued on the compute stream
  auto req = comm->allreduce_sum_async(t);
  req->wait();  // the compute stream now waits for the all-reduce
  mul_(t, 3.0);  // runs after it
  const double total = sum(t).item();
  EXPECT_EQ(total, 6.0 * static_cast<double>(n));
  EXPECT_TRUE(req->test());  // done, and test() after wait() is harmless
}

TEST_F(Nccl, RequestDroppedWithoutWaitStillOrdersLaterWork) {
  auto comm = one_rank();
  const Tensor t = full({1 << 20}, 1.0, {.device = Device::cuda()});
  { auto req = comm->allreduce_sum_async(t); }  // destructor: the compute stream waits for it
  mul_(t, 2.0);
  EXPECT_EQ(sum(t).item(), 2.0 * (1 << 20));
}

TEST_F(Nccl, CpuTensorIsRefused) {
  auto comm = one_rank();
  test::expect_error([&] { comm->allreduce_sum(ones({3})); }, {"allreduce_sum (nccl)", "the tensor on cpu"});
}
#else
TEST(Nccl, BuiltWithoutNcclSaysWhatItNeeds) {
  test::expect_error([] { one_rank(); }, {"needs NCCL", "built without it"});
}
#endif

}  // namespace
}  // namespace atebm::nn
