// The small 28×28 grey ResNet's two hot steps, in images/s:
//   pgd_step — forward + gradient of sum f(x) w.r.t. the input (one PGD step, parameters frozen);
//   r1_step  — forward, input gradient with create_graph, R1 = 0.5·mean ||∇x f||², BCE on the
//              logits, backward to every parameter (the double backward of the training step).
// Beside them: one OpenBLAS sgemm 1024³ (GFLOP/s), the CPU ceiling measured in the same run.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include "engine/parallel.h"
#include "nn/layers/layers.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"

using namespace atebm;

namespace {

std::shared_ptr<nn::Module> small_resnet() {
  Generator gen(0);
  auto m = nn::build_model({{"arch", "resnet"}, {"block", "basic"}, {"layers", {1, 1, 1, 1}},
                            {"widths", {32, 64, 128, 256}}, {"in_channels", 1}, {"mean", {0.5}}, {"std", {0.5}}},
                           gen);
  nn::freeze_batchnorm_stats(*m, true);  // BN in evaluation mode throughout, as the paper trains
  return m;
}

void BM_pgd_step(benchmark::State& state) {
  const int64_t batch = state.range(0);
  auto model = small_resnet();
  Tensor x = rand({batch, 1, 28, 28});
  for (auto _ : state) {
    Tensor xi = detach(x).set_requires_grad(true);
    Tensor g = grad({sum(nn::energy_logit(*model, xi))}, {xi})[0];
    benchmark::DoNotOptimize(g.raw_data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetLabel("images");
}

void BM_r1_step(benchmark::State& state) {
  const int64_t batch = state.range(0);
  auto model = small_resnet();
  Tensor real = rand({batch, 1, 28, 28});
  Tensor fake = rand({batch, 1, 28, 28});
  const Tensor target = cat({ones({batch}), zeros({batch})});
  for (auto _ : state) {
    Tensor xr = detach(real).set_requires_grad(true);
    Tensor fr = nn::energy_logit(*model, xr);
    Tensor ff = nn::energy_logit(*model, fake);
    Tensor gx = grad({sum(fr)}, {xr}, {}, {.create_graph = true})[0];
    Tensor r1 = mul(mean(sum(square(gx), {1, 2, 3})), 0.5);
    Tensor loss = add(binary_cross_entropy_with_logits(cat({fr, ff}), target), mul(r1, 0.01));
    model->zero_grad();
    backward(loss);
    benchmark::DoNotOptimize(loss.raw_data());
  }
  state.SetItemsProcessed(state.iterations() * 2 * batch);  // real + p0 images
  state.SetLabel("images (real + p0)");
}

void BM_sgemm_ceiling(benchmark::State& state) {
  const int n = 1024;
  std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n);
  openblas_set_num_threads(num_threads());
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  openblas_set_num_threads(1);
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * n * n * n * state.iterations(), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_sgemm_ceiling)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_pgd_step)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_r1_step)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("threads", std::to_string(num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
