// nn/dist without MPI: the single-process communicator, the gradient averager's bucket layout
// (reverse registration order, one dtype per bucket, split at the byte budget), its no-op with
// one rank, and init_distributed's environment detection. The multi-rank behaviour runs under
// mpirun in tests/tools/test_mpi_train.cpp.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/expect.h"
#include "engine/factories.h"
#include "nn/dist/communicator.h"
#include "nn/dist/distributed.h"
#include "nn/dist/grad_sync.h"

namespace atebm::nn {
namespace {

Tensor param(Shape shape, DType dt = DType::Float32) {
  Tensor p = zeros(shape, {.dtype = dt});
  p.set_requires_grad(true);
  return p;
}

TEST(LocalCommunicator, IsOneRankWhoseCollectivesAreTheIdentity) {
  auto c = local_communicator();
  EXPECT_EQ(c->rank(), 0);
  EXPECT_EQ(c->size(), 1);
  EXPECT_EQ(c->local_rank(), 0);
  EXPECT_EQ(c->backend(), "local");
  const Tensor t = from_vector(std::vector<float>{1, 2, 3}, {3});
  c->allreduce_sum(t);
  c->allreduce_sum_async(t)->wait();
  c->broadcast(t, 0);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(c->allgather({1.5, 2.5}), (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(c->allreduce_sum(std::vector<double>{4, 5}), (std::vector<double>{4, 5}));
  EXPECT_EQ(c->broadcast(std::string("runs/x"), 0), "runs/x");
  test::expect_error([&] { c->broadcast(t, 1); }, {"root 1 out of range for 1 rank"});
}

TEST(GradientAverager, BucketsFollowBackwardOrderAndTheByteBudget) {
  // 4 params of 100 floats (400 bytes) with a 1000-byte budget: two per bucket, last first; a
  // float64 param starts its own bucket; a frozen one takes no part.
  NamedTensors params = {{"a", param({100})}, {"b", param({10, 10})}, {"c", param({100})},
                         {"d", param({100})}, {"e", param({50}, DType::Float64)}, {"frozen", zeros({7})}};
  GradientAverager avg(local_communicator(), params, {.bucket_bytes = 1000});
  const std::vector<std::vector<std::string>> expected = {{"e"}, {"d", "c"}, {"b", "a"}};
  EXPECT_EQ(avg.bucket_layout(), expected);
  EXPECT_EQ(avg.stats().buckets, 3);
  EXPECT_EQ(avg.stats().bytes, 4 * 400 + 400);
}

TEST(GradientAverager, OneRankLeavesGradientsUntouched) {
  NamedTensors params = {{"w", param({3})}};
  params[0].second.set_grad(from_vector(std::vector<float>{1, -2, 3}, {3}));
  GradientAverager avg(local_communicator(), params);
  avg.average();
  EXPECT_EQ(params[0].second.grad().to_vector<float>(), (std::vector<float>{1, -2, 3}));
  EXPECT_EQ(avg.stats().calls, 0);
}

TEST(GradientAverager, RejectsBadOptions) {
  test::expect_error([] { GradientAverager(local_communicator(), {}, {.bucket_bytes = 0}); },
                     {"bucket_bytes must be positive, got 0"});
  test::expect_error([] { GradientAverager(nullptr, {}); }, {"no communicator"});
}

TEST(Distributed, PlainProcessIsOneLocalRank) {
  // ctest does not run under mpirun, so unless someone exported an MPI rank environment this is
  // the single-process path; a forced "0" also means local.
  ::setenv("ATEBM_DISTRIBUTED", "0", 1);
  EXPECT_FALSE(launched_as_mpi_rank());
  auto c = init_distributed();
  EXPECT_EQ(c->size(), 1);
  EXPECT_EQ(init_distributed(), c);  // one communicator per process
  ::unsetenv("ATEBM_DISTRIBUTED");
}

TEST(Distributed, DetectsTheLaunchersEnvironment) {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    SCOPED_TRACE(var);
    const char* old = std::getenv(var);
    const std::string saved = old ? old : "";
    ::setenv(var, "1", 1);
    EXPECT_TRUE(launched_as_mpi_rank());
    if (old) ::setenv(var, saved.c_str(), 1);
    else ::unsetenv(var);
  }
}

}  // namespace
}  // namespace atebm::nn
