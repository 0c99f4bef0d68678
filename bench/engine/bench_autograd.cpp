// The R1 pattern of the method (DESIGN.md) without a network, to time the engine's double
// backward on its own: on x [256, 1024] float32 and w [1024],
//   y  = sum(leaky_relu(x * w, 0.2))
//   g  = dy/dx, recorded (create_graph)
//   r1 = sum(g²), differentiated w.r.t. w
// Reported as samples/s (256 rows per iteration). The first-order pass alone is timed beside
// it, so the cost of recording the backward graph and running it again shows as a ratio.
#include <benchmark/benchmark.h>

#include "ops/ops.h"

namespace {

constexpr int64_t kRows = 256, kCols = 1024;

struct Leaves {
  atebm::Tensor x = atebm::randn({kRows, kCols}, {.requires_grad = true});
  atebm::Tensor w = atebm::randn({kCols}, {.requires_grad = true});
};

void BM_first_order(benchmark::State& state) {
  Leaves l;
  auto step = [&] {
    atebm::Tensor y = atebm::sum(atebm::leaky_relu(l.x * l.w, 0.2));
    atebm::Tensors g = atebm::grad({y}, {l.x, l.w});
    benchmark::DoNotOptimize(g[0].raw_data());
  };
  step();  // warm-up: fills the CPU allocator's cache with this step's block sizes
  for (auto _ : state) step();
  state.SetItemsProcessed(state.iterations() * kRows);
}

void BM_r1_double_backward(benchmark::State& state) {
  Leaves l;
  auto step = [&] {
    atebm::Tensor y = atebm::sum(atebm::leaky_relu(l.x * l.w, 0.2));
    atebm::Tensor g = atebm::grad({y}, {l.x}, {}, {.create_graph = true})[0];
    atebm::Tensor r1 = atebm::sum(atebm::square(g));
    atebm::Tensor gw = atebm::grad({r1}, {l.w})[0];
    benchmark::DoNotOptimize(gw.raw_data());
  };
  step();  // warm-up, as above
  for (auto _ : state) step();
  state.SetItemsProcessed(state.iterations() * kRows);
}

BENCHMARK(BM_first_order)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_r1_double_backward)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
