// nn/dist without MPI: the single-process communicator, the gradient averager's bucket layout
// (reverse registration order, one dtype per bucket, split at the byte budget), its no-op with
// one rank, its overlap with backward (against a simulated second rank), and init_distributed's
// environment detection. The multi-rank behaviour runs under
// mpirun in tests/tools/test_mpi_train.cpp.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/expect.h"
#include "common/gpu_test.h"
#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"
#include "engine/generator.h"
#include "ops/inplace.h"
#include "ops/ops.h"
#include "nn/dist/communicator.h"
#include "nn/dist/distributed.h"
#include "nn/dist/grad_sync.h"

namespace atebm::nn {
namespace {

Tensor param(Shape shape, DType dt = DType::Float32, Device device = Device::cpu()) {
  Tensor p = zeros(shape, {.dtype = dt, .device = device});
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

// Rank 0 of a pretend 2-rank job whose other rank always contributes a gradient of ones, so
// the average is (g + 1) / 2. It records every all-reduce it is asked to start: the bucket's
// size, and whether backward was still running at that moment.
class TwinCommunicator final : public Communicator {
 public:
  struct Start {
    int64_t numel;
    bool during_backward;
  };
  bool in_backward = false;
  std::vector<Start> starts;
  int64_t waits = 0;

  int rank() const override { return 0; }
  int size() const override { return 2; }
  int local_rank() const override { return 0; }
  std::string backend() const override { return "twin"; }
  void allreduce_sum(const Tensor& t) override { add_(t, ones_like(t)); }
  std::unique_ptr<CollectiveRequest> allreduce_sum_async(const Tensor& t) override {
    starts.push_back({t.numel(), in_backward});
    struct Req final : CollectiveRequest {
      TwinCommunicator* c;
      Tensor t;
      Req(TwinCommunicator* c, Tensor t) : c(c), t(std::move(t)) {}
      void wait() override {
        c->allreduce_sum(t);
        ++c->waits;
      }
    };
    return std::make_unique<Req>(this, t);
  }
  std::vector<double> allgather(const std::vector<double>& v) override { return v; }
  void broadcast(const Tensor&, int) override {}
  std::string broadcast(const std::string& s, int) override { return s; }
  void barrier() override {}
  void abort(int) override {}
};

// A three-layer chain plus a parameter this step does not use; returns its loss.
struct Chain {
  NamedTensors params;
  explicit Chain(uint64_t seed, Device device = Device::cpu()) {
    const DType f32 = DType::Float32;
    params = {{"w1", param({4}, f32, device)}, {"w2", param({4}, f32, device)}, {"w3", param({4}, f32, device)},
              {"idle", param({2}, f32, device)}};
    Generator gen(seed);
    NoGradGuard ng;
    for (auto& [name, p] : params) copy_(p, copy_to(randn(p.shape(), {}, &gen), device, f32));
  }
  Tensor loss(const Tensor& x) const {
    const Tensor h = tanh(mul(params[1].second, tanh(mul(params[0].second, x))));
    return sum(mul(params[2].second, h));
  }
};

TEST(GradientAverager, HookStartsBucketsInOrderDuringBackwardAndAveragesLikeAfterIt) {
  Generator gen(3);
  const Tensor x = randn({4}, {}, &gen);
  Chain a(5), b(5);  // the same weights
  // Every parameter its own bucket: 16 bytes each, 8 for idle.
  auto twin_a = std::make_shared<TwinCommunicator>();
  auto twin_b = std::make_shared<TwinCommunicator>();
  GradientAverager avg_a(twin_a, a.params, {.bucket_bytes = 16});
  GradientAverager avg_b(twin_b, b.params, {.bucket_bytes = 16});
  ASSERT_EQ(avg_a.bucket_layout(), (std::vector<std::vector<std::string>>{{"idle"}, {"w3"}, {"w2"}, {"w1"}}));

  twin_a->in_backward = true;
  backward(a.loss(x), {}, {.on_leaf_grad = avg_a.leaf_hook()});
  twin_a->in_backward = false;
  avg_a.finish();

  backward(b.loss(x));
  avg_b.average();

  // "idle" (bucket 0) never gets a gradient, so no bucket can start before finish(): the hook
  // must not skip ahead of it (every rank has to start the same buckets in the same order).
  ASSERT_EQ(twin_a->starts.size(), 4u);
  const std::vector<int64_t> sizes = {2, 4, 4, 4};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(twin_a->starts[i].numel, sizes[i]) << "bucket " << i << " started out of order";
    EXPECT_FALSE(twin_a->starts[i].during_backward);
  }
  EXPECT_EQ(twin_a->waits, 4);
  // Both paths give (g + 1) / 2, idle (0 + 1) / 2.
  for (size_t i = 0; i < a.params.size(); ++i) {
    SCOPED_TRACE(a.params[i].first);
    EXPECT_LT(test::max_abs_diff(a.params[i].second.grad(), b.params[i].second.grad()), 1e-7);
  }
  EXPECT_EQ(a.params[3].second.grad().to_vector<float>(), (std::vector<float>{0.5f, 0.5f}));
}

TEST(GradientAverager, HookOverlapsWhenEveryParameterHasAGradient) {
  Chain c(5);
  NamedTensors used(c.params.begin(), c.params.begin() + 3);  // w1, w2, w3
  auto twin = std::make_shared<TwinCommunicator>();
  GradientAverager avg(twin, used, {.bucket_bytes = 16});
  const Tensor x = full({4}, 0.5);
  for (int step = 0; step < 2; ++step) {  // the hook state resets between steps
    for (auto& [n, p] : used) p.set_grad(Tensor());
    twin->starts.clear();
    twin->in_backward = true;
    backward(c.loss(x), {}, {.on_leaf_grad = avg.leaf_hook()});
    twin->in_backward = false;
    // w3 and w2 finish while w1's gradient is still being computed.
    ASSERT_EQ(twin->starts.size(), 3u);
    EXPECT_TRUE(twin->starts[0].during_backward);
    EXPECT_TRUE(twin->starts[1].during_backward);
    const std::vector<double> g1 = used[0].second.grad().to_vector<double>();
    avg.finish();
    const std::vector<double> m1 = used[0].second.grad().to_vector<double>();
    for (size_t i = 0; i < g1.size(); ++i) EXPECT_NEAR(m1[i], (g1[i] + 1) / 2, 1e-6);
  }
  EXPECT_EQ(avg.stats().calls, 2);
  EXPECT_EQ(avg.stats().buckets_overlapped, 6);  // all three buckets, both steps
}

// The same overlap on CUDA tensors (packing, unpacking and the simulated rank's sum run as GPU
// kernels on the engine's stream): the averages equal the CPU's.
TEST(GradientAverager, HookOnCudaParametersAveragesLikeTheCpu) {
  ATEBM_SKIP_WITHOUT_GPU();
  Chain cpu(5), gpu(5, Device::cuda());
  auto twin_cpu = std::make_shared<TwinCommunicator>(), twin_gpu = std::make_shared<TwinCommunicator>();
  GradientAverager avg_cpu(twin_cpu, cpu.params, {.bucket_bytes = 16});
  GradientAverager avg_gpu(twin_gpu, gpu.params, {.bucket_bytes = 16});
  const Tensor x = full({4}, 0.5);
  backward(cpu.loss(x), {}, {.on_leaf_grad = avg_cpu.leaf_hook()});
  avg_cpu.finish();
  backward(gpu.loss(copy_to(x, Device::cuda(), x.dtype())), {}, {.on_leaf_grad = avg_gpu.leaf_hook()});
  avg_gpu.finish();
  for (size_t i = 0; i < cpu.params.size(); ++i) {
    SCOPED_TRACE(cpu.params[i].first);
    const Tensor g = gpu.params[i].second.grad();
    ASSERT_TRUE(g.defined());
    EXPECT_TRUE(g.device().is_cuda());
    EXPECT_LT(test::max_abs_diff(copy_to(g, Device::cpu(), g.dtype()), cpu.params[i].second.grad()), 1e-6);
  }
}

TEST(GradientAverager, HookRefusesTwoBackwardsInOneStepAndAMissingFinish) {
  Chain c(5);
  auto twin = std::make_shared<TwinCommunicator>();
  GradientAverager avg(twin, c.params, {.bucket_bytes = 16});
  const Tensor x = full({4}, 0.5);
  const auto hook = avg.leaf_hook();
  backward(c.loss(x), {}, {.on_leaf_grad = hook});
  test::expect_error([&] { backward(c.loss(x), {}, {.on_leaf_grad = hook}); },
                     {"gradient of w3 was completed twice in one step", "one backward per step"});
  avg.finish();
  NamedTensors used(c.params.begin(), c.params.begin() + 3);
  GradientAverager avg2(twin, used, {.bucket_bytes = 16});
  backward(c.loss(x), {}, {.on_leaf_grad = avg2.leaf_hook()});  // starts buckets during backward
  test::expect_error([&] { avg2.leaf_hook(); }, {"still in flight", "call finish() after every backward"});
  avg2.finish();
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
