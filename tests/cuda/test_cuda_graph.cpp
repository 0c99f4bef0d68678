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
// Without the CUDA backend or without a visible GPU every test skips.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "common/expect.h"
#include "common/gpu_test.h"
#include "engine/device.h"
#include "engine/factories.h"
#ifdef ATEBM_WITH_CUDA
#include "at_ebm/method/pgd.h"
#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/cuda/cuda_allocator.h"
#include "engine/cuda/cuda_graph.h"
#include "engine/cuda/stream.h"
#include "nn/layers/basic.h"
#include "nn/layers/layers.h"
#include "nn/models/model_config.h"
#include "nn/models/resnet.h"
#include "ops/inplace.h"
#include "ops/math_mode.h"
#include "ops/ops.h"
#include "ops/pgd_update.h"
#include "tests/common/expect.h"
#endif

namespace atebm {
namespace {

class CudaGraphs : public ::testing::Test {
 protected:
  void SetUp() override {
    ATEBM_SKIP_WITHOUT_GPU();
  }
};

#ifndef ATEBM_WITH_CUDA
// One test body so the suite exists (and reports its skip) in every build.
TEST_F(CudaGraphs, SkippedWithoutCudaBackend) {}
#else

using cuda::CudaGraph;

TensorOptions on_cuda() { return {.dtype = DType::Float32, .device = Device::cuda()}; }

using atebm::test::max_abs_diff;

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
    EXPECT_THROW((void)y.item(), Error) << "a device-to-host read cannot be captured";
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

// ---- K PGD steps captured ----

// The CIFAR ResNet family (basic blocks, one per stage), 16×16 RGB input.
std::shared_ptr<nn::Module> tiny_resnet() {
  nn::ResNetConfig cfg;
  cfg.block = "basic";
  cfg.layers = {1, 1, 1, 1};
  cfg.widths = {4, 8, 8, 8};
  cfg.pool = 2;  // 16×16 input
  Generator gen(3);
  auto m = std::make_shared<nn::ResNet>(cfg, gen);
  nn::freeze_batchnorm_stats(*m, true);
  m->to(Device::cuda());
  return m;
}

// conv → BN → ReLU → conv/2 → BN → ReLU → avg pool → linear: the same layer kinds without the
// ResNet's input normalisation, so the graph machinery is checked on its own.
std::shared_ptr<nn::Module> small_cnn() {
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
  m->to(Device::cuda());
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

// TF32 off for the scope (the library default is on).
struct Tf32Off {
  Tf32Off() { set_allow_tf32(false); }
  ~Tf32Off() { set_allow_tf32(true); }
};

// Captures K = 3 PGD steps of `model` on 4 images 3×16×16 and compares replays with eager runs.
void expect_captured_pgd_matches_eager(nn::Module& model) {
  const Tf32Off tf32_off;  // eager and replay run the same kernels anyway; keeps the numbers tight
  const nn::NamedTensors params = model.named_parameters();
  const at_ebm::ScoreFn f = [&](const Tensor& x) { return nn::energy_logit(model, x); };
  constexpr int64_t kSteps = 3;
  const at_ebm::PgdOptions opt{.steps = kSteps, .step_size = 0.5};
  const PgdStep step{.step_size = opt.step_size};
  Generator data(17), unused(0);
  const Tensor start1 = rand({4, 3, 16, 16}, on_cuda(), &data);
  const Tensor start2 = rand({4, 3, 16, 16}, on_cuda(), &data);

  // Fixed input/output tensors of the captured loop.
  const Tensor x = empty(start1.shape(), on_cuda());
  const Tensor x0 = empty(start1.shape(), on_cuda());
  auto run_from = [&](const Tensor& s, CudaGraph* graph) {
    copy_into(x, s);
    copy_into(x0, s);
    if (graph) graph->replay();
    else pgd_steps(f, x, x0, kSteps, step, params);
    return clone(x);
  };

  // Warm-up, eagerly: cuDNN/cuBLAS handles, workspaces and algorithms, cached blocks. It is
  // also the explicit loop checked against pgd() itself.
  const Tensor eager1 = at_ebm::pgd(f, start1, opt, params, unused);
  EXPECT_LE(max_abs_diff(run_from(start1, nullptr), eager1), 1e-5);
  EXPECT_GT(max_abs_diff(eager1, start1), 1e-2) << "PGD did not move the images: the comparison is vacuous";

  CudaGraph graph;
  copy_into(x, start1);
  copy_into(x0, start1);
  graph.capture_begin();
  pgd_steps(f, x, x0, kSteps, step, params);
  graph.capture_end();
  EXPECT_GT(graph.num_nodes(), 3 * 10) << "three forward + backward passes are more than 30 kernels";

  // The capture took the warm-up's cached blocks into its pool: one eager run refills the
  // shared cache, after which neither replays nor eager runs allocate.
  EXPECT_LE(max_abs_diff(at_ebm::pgd(f, start1, opt, params, unused), eager1), 1e-5);
  const int64_t mallocs = cuda::caching_allocator().stats().num_cuda_mallocs;

  EXPECT_LE(max_abs_diff(run_from(start1, &graph), eager1), 1e-5);
  const Tensor eager2 = at_ebm::pgd(f, start2, opt, params, unused);
  EXPECT_LE(max_abs_diff(run_from(start2, &graph), eager2), 1e-5);
  EXPECT_GT(max_abs_diff(eager2, eager1), 0.1);
  EXPECT_EQ(cuda::caching_allocator().stats().num_cuda_mallocs, mallocs)
      << "replays (and eager runs after a warm-up) must not allocate";

  // Parameters changed in place (as an optimiser step does) are read by the next replay. Noise,
  // not a scale: a ReLU network without biases is positively homogeneous, and PGD's normalised
  // step would not see a scale.
  {
    NoGradGuard no_grad;
    Generator noise(23);
    for (const auto& [name, p] : params)
      if (p.dim() == 4) add_(p, randn(p.shape(), on_cuda(), &noise), 0.1);
  }
  const Tensor eager3 = at_ebm::pgd(f, start2, opt, params, unused);
  EXPECT_GT(max_abs_diff(eager3, eager2), 1e-3) << "changing the weights did not change PGD";
  EXPECT_LE(max_abs_diff(run_from(start2, &graph), eager3), 1e-5);
}

TEST_F(CudaGraphs, CapturedPgdLoopOfSmallCnnMatchesEager) { expect_captured_pgd_matches_eager(*small_cnn()); }

// The model family of the method. Its forward starts with nn::Normalize, whose mean/std must
// not be uploaded from the host inside the capture.
TEST_F(CudaGraphs, CapturedPgdLoopOfResNetMatchesEager) { expect_captured_pgd_matches_eager(*tiny_resnet()); }

#endif  // ATEBM_WITH_CUDA

}  // namespace
}  // namespace atebm
