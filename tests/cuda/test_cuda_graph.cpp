// CUDA graphs (engine/cuda/cuda_graph.h) and the caching allocator's graph pools:
//   - a captured elementwise computation replays on new input values, at the same addresses,
//     without a cudaMalloc;
//   - blocks used by a capture (allocated in it, or allocated before and freed in it) are never
//     handed to eager tensors while the graph lives, and go back to the shared cache after it;
//   - K = 3 PGD steps (forward of a tiny model, input gradient via grad(), pgd_update_) captured
//     once and replayed equal the eager at_ebm::pgd() from the same starts, also after the
//     parameters changed in place (what an optimiser step does between replays); for a small
//     conv/BN/ReLU/pool/linear stack and for a tiny CIFAR ResNet (which adds nn::Normalize);
//   - a host synchronisation inside a capture makes capture_end() throw, and eager work goes on;
//   - the allocator's out-of-memory message names the request, the bytes in use and the cache.
// Replay vs eager: the same kernels in the same order, so they agree to round-off at most
// (|diff| ≤ 1e-5 on images in [0, 1]; a missing or stale kernel moves pixels by ~λ = 0.5).
// Without the CUDA backend or without a visible GPU every CudaGraphs test skips; the eager half
// of the PGD checks (the explicit loop equals pgd(), and every "must differ" threshold that keeps
// the replay comparisons from being vacuous) also runs on the CPU in every build
// (GraphHarnessOnCpu), with the same seeds, so the thresholds are proven before a GPU session.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/expect.h"
#include "common/gpu_test.h"
#include "at_ebm/method/pgd.h"
#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/device.h"
#include "engine/factories.h"
#include "nn/layers/basic.h"
#include "nn/layers/layers.h"
#include "nn/models/model_config.h"
#include "nn/models/resnet.h"
#include "ops/inplace.h"
#include "ops/math_mode.h"
#include "ops/ops.h"
#include "ops/pgd_update.h"
#ifdef ATEBM_WITH_CUDA
#include "engine/cuda/cuda_allocator.h"
#include "engine/cuda/cuda_graph.h"
#include "engine/cuda/stream.h"
#endif

namespace atebm {
namespace {

// These tests check what the caching allocator does under capture (pools, no cudaMalloc in the
// steady state), so they run with its cache whether or not the process asked for exact mode
// (ATEBM_CUDA_NO_CACHE=1, engine/cuda/cuda_allocator.h), which has none.
class CudaGraphs : public ::testing::Test {
 protected:
  void SetUp() override { ATEBM_SKIP_WITHOUT_GPU(); }
#ifdef ATEBM_WITH_CUDA

 private:
  const cuda::ExactModeScope caching_{false};  // for the fixture's lifetime, the test's
#endif
};

using atebm::test::max_abs_diff;

#ifdef ATEBM_WITH_CUDA

using cuda::CudaGraph;

TensorOptions on_cuda() { return {.dtype = DType::Float32, .device = Device::cuda()}; }

TEST_F(CudaGraphs, ReplaysElementwiseWorkOnNewInputs) {
  const Tensor x = empty({1000}, on_cuda());
  auto compute = [&] { return add(mul(x, 2.0), 1.0); };
  fill_into(x, 0.0);
  (void)compute();  // warm-up: the sizes are cached before the capture

  CudaGraph graph;
  graph.capture_begin();
  const Tensor y = compute();  // allocated from the graph's pool; its address is baked in
  graph.capture_end();
  EXPECT_FALSE(graph.is_capturing());
  EXPECT_TRUE(graph.is_captured());
  EXPECT_GE(graph.num_nodes(), 2);  // mul and add, at least
  EXPECT_EQ(cuda::current_stream(), cuda::default_stream(0)) << "capture_end must restore the engine's stream";

  const int64_t mallocs = cuda::caching_allocator().stats().num_cuda_mallocs;
  const void* y_addr = y.raw_data();
  for (double v : {3.0, -0.5, 10.0}) {
    fill_into(x, v);
    graph.replay();
    EXPECT_EQ(y.to_vector<float>(), std::vector<float>(1000, static_cast<float>(2 * v + 1))) << "x = " << v;
  }
  EXPECT_EQ(y.raw_data(), y_addr);
  EXPECT_EQ(cuda::caching_allocator().stats().num_cuda_mallocs, mallocs) << "replays must not allocate";
}

TEST_F(CudaGraphs, PoolBlocksStayAwayFromEagerTensors) {
  cuda::CachingAllocator& alloc = cuda::caching_allocator();
  const Shape shape = {333, 1025};  // 1.3 MB: a 2 MiB class
  const cuda::AllocatorStats start = alloc.stats();
  const void* freed_in_capture = nullptr;
  const void* allocated_in_capture = nullptr;
  {
    Tensor before = empty(shape, on_cuda());  // eager, then freed inside the capture
    freed_in_capture = before.raw_data();
    CudaGraph graph;
    graph.capture_begin();
    {
      const Tensor t = empty(shape, on_cuda());
      allocated_in_capture = t.raw_data();
      fill_into(t, 1.0);
      before = Tensor();  // the graph may read it at every replay: its pool takes the block over
    }
    graph.capture_end();
    EXPECT_NE(allocated_in_capture, freed_in_capture) << "the capture took a block that was still in use";
    EXPECT_GT(alloc.stats().graph_pool_bytes, start.graph_pool_bytes);

    // While the graph lives, eager tensors of the same size never get either block.
    std::vector<Tensor> eager;
    for (int i = 0; i < 4; ++i) {
      eager.push_back(empty(shape, on_cuda()));
      EXPECT_NE(eager.back().raw_data(), allocated_in_capture);
      EXPECT_NE(eager.back().raw_data(), freed_in_capture);
    }
    graph.replay();
    cuda::synchronize();
  }
  // Graph gone: its pool is back in the shared cache (nothing was freed to the device).
  const cuda::AllocatorStats end = alloc.stats();
  EXPECT_EQ(end.graph_pool_bytes, start.graph_pool_bytes);
  EXPECT_EQ(end.allocated_bytes, start.allocated_bytes);
  EXPECT_GE(end.reserved_bytes, start.reserved_bytes);
  bool reused = false;
  std::vector<Tensor> again;
  for (int i = 0; i < 8 && !reused; ++i) {
    again.push_back(empty(shape, on_cuda()));
    reused = again.back().raw_data() == allocated_in_capture || again.back().raw_data() == freed_in_capture;
  }
  EXPECT_TRUE(reused) << "the graph's blocks did not return to the shared cache";
}

TEST_F(CudaGraphs, MisuseIsReported) {
  CudaGraph graph;
  EXPECT_THROW(graph.replay(), Error);
  EXPECT_THROW(graph.capture_end(), Error);
  const Tensor x = full({16}, 2.0, on_cuda());
  graph.capture_begin();
  EXPECT_THROW(graph.capture_begin(), Error);
  CudaGraph other;
  EXPECT_THROW(other.capture_begin(), Error) << "nested captures on one thread";
  const Tensor y = mul(x, 3.0);
  graph.capture_end();
  EXPECT_THROW(graph.capture_begin(), Error) << "a graph is captured once";
  graph.replay();
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>(16, 6.0f));
}

TEST_F(CudaGraphs, HostSyncInsideCaptureFailsLoudly) {
  const Tensor x = full({8}, 1.5, on_cuda());
  {
    CudaGraph graph;
    graph.capture_begin();
    const Tensor y = mul(x, 2.0);
    // (to_vector, not item(): item() of 8 elements would throw for its shape before any copy.)
    test::expect_error([&] { (void)y.to_vector<float>(); }, {"StreamCapture"});
    test::expect_error([&] { graph.capture_end(); }, {"capture failed"});
    EXPECT_FALSE(graph.is_captured());
  }
  // The engine is usable afterwards: stream and allocator are back to eager mode.
  EXPECT_EQ(cuda::caching_allocator().capturing_pool(), 0u);
  EXPECT_EQ(add(x, 1.0).to_vector<float>(), std::vector<float>(8, 2.5f));
}

// The out-of-memory error says what was asked for, what is in use and what is cached.
TEST_F(CudaGraphs, OutOfMemoryMessageGivesRequestInUseAndCached) {
  cuda::CachingAllocator& alloc = cuda::caching_allocator();
  const Tensor held = empty({1 << 20}, on_cuda());  // 4 MiB in use
  const int64_t mallocs = alloc.stats().num_cuda_mallocs;
  test::expect_error([&] { (void)alloc.allocate(size_t{1} << 50); },  // 1 PiB: more than any GPU has
                     {"CUDA out of memory", "requested 1048576.00 GiB", "allocated (in use by tensors)",
                      "cached (reserved - allocated)", "released and the cudaMalloc retried"});
  EXPECT_EQ(alloc.stats().num_cuda_mallocs, mallocs);
  EXPECT_EQ(add(held, 1.0).numel(), 1 << 20) << "the device works after the failed allocation";
}

#endif  // ATEBM_WITH_CUDA

// ---- K PGD steps captured ----

// The CIFAR ResNet family (basic blocks, one per stage), 16×16 RGB input.
std::shared_ptr<nn::Module> tiny_resnet(const Device& device) {
  nn::ResNetConfig cfg;
  cfg.block = "basic";
  cfg.layers = {1, 1, 1, 1};
  cfg.widths = {4, 8, 8, 8};
  cfg.pool = 2;  // 16×16 input
  Generator gen(3);
  auto m = std::make_shared<nn::ResNet>(cfg, gen);
  nn::freeze_batchnorm_stats(*m, true);
  m->to(device);
  return m;
}

// conv → BN → ReLU → conv/2 → BN → ReLU → avg pool → linear: the same layer kinds without the
// ResNet's input normalisation, so the graph machinery is checked on its own.
std::shared_ptr<nn::Module> small_cnn(const Device& device) {
  Generator gen(4);
  auto m = std::make_shared<nn::Sequential>();
  m->push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{3, 8, 3, 1, 1, false}, gen));
  m->push_back(std::make_shared<nn::BatchNorm2d>(8));
  m->push_back(std::make_shared<nn::ReLU>());
  m->push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{8, 8, 3, 2, 1, true}, gen));
  m->push_back(std::make_shared<nn::BatchNorm2d>(8));
  m->push_back(std::make_shared<nn::ReLU>());
  m->push_back(std::make_shared<nn::AvgPool2d>(8));
  m->push_back(std::make_shared<nn::Flatten>());
  m->push_back(std::make_shared<nn::Linear>(8, 2, gen));
  nn::freeze_batchnorm_stats(*m, true);
  m->to(device);
  return m;
}

// The loop of at_ebm::pgd (no mask, no random start), in place on the fixed tensors x and x0:
// what a captured PGD loop holds.
void pgd_steps(const at_ebm::ScoreFn& f, const Tensor& x, const Tensor& x0, int64_t steps, const PgdStep& step,
               const nn::NamedTensors& params) {
  at_ebm::FreezeParameters frozen(params);
  for (int64_t k = 0; k < steps; ++k) {
    Tensor g;
    {
      GradModeGuard grad_on(true);
      const Tensor xg = detach(x).set_requires_grad(true);
      g = grad({sum(f(xg))}, {xg})[0];
    }
    NoGradGuard no_grad;
    pgd_update_(x, g, x0, step);
  }
}

// TF32 off for the scope, then back to what it was (a process-wide switch: other tests of the
// binary must not inherit this scope's value, nor this one theirs).
class Tf32Off {
 public:
  Tf32Off() : was_(allow_tf32()) { set_allow_tf32(false); }
  ~Tf32Off() { set_allow_tf32(was_); }
  Tf32Off(const Tf32Off&) = delete;
  Tf32Off& operator=(const Tf32Off&) = delete;

 private:
  bool was_;
};

// K = 3 PGD steps of `model` (on `device`) on 4 images 3×16×16. On every device: the explicit
// loop pgd_steps equals at_ebm::pgd, and the differences the replay checks rely on are large
// (PGD moves the images, two starts end apart, the weight noise changes the result), or a stale
// or empty replay would pass. On CUDA besides: the loop captured once replays equal to eager
// runs from new starts and after the weights changed in place, without allocating.
void expect_captured_pgd_matches_eager(nn::Module& model, const Device& device) {
  const Tf32Off tf32_off;  // eager and replay run the same kernels anyway; keeps the numbers tight
  const nn::NamedTensors params = model.named_parameters();
  const at_ebm::ScoreFn f = [&](const Tensor& x) { return nn::energy_logit(model, x); };
  constexpr int64_t kSteps = 3;
  const at_ebm::PgdOptions opt{.steps = kSteps, .step_size = 0.5};
  const PgdStep step{.step_size = opt.step_size};
  const TensorOptions on{.dtype = DType::Float32, .device = device};
  Generator data(17), unused(0);
  const Tensor start1 = rand({4, 3, 16, 16}, on, &data);
  const Tensor start2 = rand({4, 3, 16, 16}, on, &data);

  // Fixed input/output tensors of the captured loop.
  const Tensor x = empty(start1.shape(), on);
  const Tensor x0 = empty(start1.shape(), on);
  auto load = [&](const Tensor& s) {
    copy_into(x, s);
    copy_into(x0, s);
  };

  // Warm-up, eagerly: cuDNN/cuBLAS handles, workspaces and algorithms, cached blocks. It is
  // also the explicit loop checked against pgd() itself.
  const Tensor eager1 = at_ebm::pgd(f, start1, opt, params, unused);
  load(start1);
  pgd_steps(f, x, x0, kSteps, step, params);
  EXPECT_LE(max_abs_diff(clone(x), eager1), 1e-5);
  EXPECT_GT(max_abs_diff(eager1, start1), 1e-2) << "PGD did not move the images: the comparison is vacuous";

  // CUDA only: the loop from start s replayed from the graph, and the count of cudaMallocs.
  std::function<Tensor(const Tensor&)> replay;
  std::function<int64_t()> cuda_mallocs;
#ifdef ATEBM_WITH_CUDA
  std::optional<CudaGraph> graph;
  if (device.is_cuda()) {
    graph.emplace();
    load(start1);
    graph->capture_begin();
    pgd_steps(f, x, x0, kSteps, step, params);
    graph->capture_end();
    EXPECT_GT(graph->num_nodes(), 3 * 10) << "three forward + backward passes are more than 30 kernels";
    replay = [&](const Tensor& s) {
      load(s);
      graph->replay();
      return clone(x);
    };
    cuda_mallocs = [] { return cuda::caching_allocator().stats().num_cuda_mallocs; };
    // The capture took the warm-up's cached blocks into its pool: one eager run refills the
    // shared cache, after which neither replays nor eager runs allocate.
    EXPECT_LE(max_abs_diff(at_ebm::pgd(f, start1, opt, params, unused), eager1), 1e-5);
  }
#endif
  const int64_t mallocs = cuda_mallocs ? cuda_mallocs() : 0;

  if (replay) {
    EXPECT_LE(max_abs_diff(replay(start1), eager1), 1e-5);
  }
  const Tensor eager2 = at_ebm::pgd(f, start2, opt, params, unused);
  if (replay) {
    EXPECT_LE(max_abs_diff(replay(start2), eager2), 1e-5);
  }
  EXPECT_GT(max_abs_diff(eager2, eager1), 0.1) << "two starts end alike: a replay of the old start would pass";
  if (cuda_mallocs) {
    EXPECT_EQ(cuda_mallocs(), mallocs) << "replays (and eager runs after a warm-up) must not allocate";
  }

  // Parameters changed in place (as an optimiser step does) are read by the next replay. Noise,
  // not a scale: a ReLU network without biases is positively homogeneous, and PGD's normalised
  // step would not see a scale.
  {
    NoGradGuard no_grad;
    Generator noise(23);
    for (const auto& [name, p] : params)
      if (p.dim() == 4) add_(p, randn(p.shape(), on, &noise), 0.1);
  }
  const Tensor eager3 = at_ebm::pgd(f, start2, opt, params, unused);
  EXPECT_GT(max_abs_diff(eager3, eager2), 1e-3) << "changing the weights did not change PGD";
  if (replay) {
    EXPECT_LE(max_abs_diff(replay(start2), eager3), 1e-5);
  }
}

TEST_F(CudaGraphs, CapturedPgdLoopOfSmallCnnMatchesEager) {
  expect_captured_pgd_matches_eager(*small_cnn(Device::cuda()), Device::cuda());
}

// The model family of the method. Its forward starts with nn::Normalize, whose mean/std must
// not be uploaded from the host inside the capture.
TEST_F(CudaGraphs, CapturedPgdLoopOfResNetMatchesEager) {
  expect_captured_pgd_matches_eager(*tiny_resnet(Device::cuda()), Device::cuda());
}

// The same checks with nothing captured, on the CPU, in every build.
TEST(GraphHarnessOnCpu, PgdLoopOfSmallCnn) { expect_captured_pgd_matches_eager(*small_cnn(Device::cpu()), Device::cpu()); }
TEST(GraphHarnessOnCpu, PgdLoopOfResNet) { expect_captured_pgd_matches_eager(*tiny_resnet(Device::cpu()), Device::cpu()); }

}  // namespace
}  // namespace atebm
