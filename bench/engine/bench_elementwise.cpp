// Memory-bound CPU ops on 16M float32 elements (64 MiB per array), in GB/s, next to the
// ceiling measured in the same run: std::memcpy of the same array (reads 1, writes 1).
// The ops are timed the way users call them, so each call allocates its own output; with the
// caching CPU allocator that block is reused from the previous iteration. One untimed call
// before the loop puts such a block in the cache: otherwise a run short enough to stop after
// one iteration (a busy machine) would time the system allocation and its first-touch page
// faults instead of the op.
//
//   OMP_NUM_THREADS=2 build/bench/atebm_bench_engine --benchmark_min_time=0.5
//
// Bytes counted = bytes an ideal kernel must move: add/mul read 2 arrays and write 1,
// leaky_relu reads 1 and writes 1, sum reads 1.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/parallel.h"
#include "ops/ops.h"

namespace {

constexpr int64_t kN = int64_t{1} << 24;
constexpr int64_t kBytes = kN * static_cast<int64_t>(sizeof(float));

void report(benchmark::State& state, int arrays_moved) {
  state.SetBytesProcessed(state.iterations() * kBytes * arrays_moved);
}

void BM_memcpy(benchmark::State& state) {
  // Both buffers written once before timing, so neither pays first-touch page faults.
  std::vector<float> src(kN, 1.0f), dst(kN, 0.0f);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), kBytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  report(state, 2);
}

void BM_add(benchmark::State& state) {
  const atebm::Tensor a = atebm::randn({kN}), b = atebm::randn({kN});
  atebm::add(a, b);  // warm-up: see the top of the file
  for (auto _ : state) benchmark::DoNotOptimize(atebm::add(a, b).raw_data());
  report(state, 3);
}

void BM_mul(benchmark::State& state) {
  const atebm::Tensor a = atebm::randn({kN}), b = atebm::randn({kN});
  atebm::mul(a, b);  // warm-up: see the top of the file
  for (auto _ : state) benchmark::DoNotOptimize(atebm::mul(a, b).raw_data());
  report(state, 3);
}

void BM_leaky_relu(benchmark::State& state) {
  const atebm::Tensor x = atebm::randn({kN});
  atebm::leaky_relu(x, 0.2);  // warm-up: see the top of the file
  for (auto _ : state) benchmark::DoNotOptimize(atebm::leaky_relu(x, 0.2).raw_data());
  report(state, 2);
}

void BM_sum(benchmark::State& state) {
  const atebm::Tensor x = atebm::randn({kN});
  for (auto _ : state) benchmark::DoNotOptimize(atebm::sum(x).item());
  report(state, 1);
}

// Real time: the work runs on OpenMP threads, so the main thread's CPU time would overstate
// the rate.
BENCHMARK(BM_memcpy)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_add)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_mul)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_leaky_relu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sum)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

// The one main of atebm_bench_engine (every file in bench/engine/ links into it): the
// BENCHMARK_MAIN steps plus the thread count in the context header, since every rate depends
// on it.
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("threads", std::to_string(atebm::num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
