// Data pipeline throughput, in images/s (items_per_second):
//   BM_LoaderFashionMnist/pad   the training loader on Fashion-MNIST train (60,000 28×28), random
//                               crop with `pad` pixels of zero padding + flip, shuffled, batch 64,
//                               2 worker threads: what the trainer's p_data stream delivers
//   BM_JpegDecode               stb_image decoding of the CIFAR-10 JPEG archive's training images
//                               (kept compressed in memory), one thread
//   BM_LoaderCifarJpeg          the loader over those JPEGs (decode + crop 4 + flip), batch 64, 2 threads
//   BM_BatchCopyCeiling         the ceiling for the loader: memcpy of one [64, 1, 28, 28] float batch
//                               into a fresh tensor, the least any loader must do per batch
//   BM_TrainingStep/K           the consumer: one training iteration of the fashion-mnist preset's
//                               model (PGD with K steps on 32 p0 images, BCE + R1 on 32 + 32,
//                               Adam step), in real images/s — the loader must be ≥ 10× faster
// Data that is missing (no dataset-fashion-mnist, no ../shared/data) skips its benchmark.
//
//   OMP_NUM_THREADS=2 build/bench/atebm_bench_data --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "at_ebm/data/loader.h"
#include "at_ebm/method/losses.h"
#include "at_ebm/method/pgd.h"
#include "at_ebm/train/presets.h"
#include "engine/autograd/engine.h"
#include "nn/models/model_config.h"
#include "nn/optim/adam.h"
#include "at_ebm/data/spec.h"
#include "engine/factories.h"

namespace {

using namespace atebm;
using namespace atebm::data;

// bench/ has no ATEBM_SOURCE_DIR; the shared data lies beside the repository root, found from
// this file's (absolute, under CMake) path.
const std::string kCifarTar =
    (std::filesystem::path(__FILE__).parent_path() / "../../../shared/data/cifar10-jpeg/cifar10-jpeg.tar.gz").string();

DatasetPtr fashion_train() {
  static DatasetPtr ds = std::filesystem::exists(default_fashion_mnist_dir() + "/train-images-idx3-ubyte.gz")
                             ? open_dataset("fashion-mnist:train")
                             : nullptr;
  return ds;
}

DatasetPtr cifar_jpeg_train(double* open_seconds = nullptr) {
  static double seconds = 0;
  static DatasetPtr ds = [] {
    if (!std::filesystem::exists(kCifarTar)) return DatasetPtr();
    const auto t0 = std::chrono::steady_clock::now();
    DatasetPtr d = open_dataset("folder:" + kCifarTar + ":train");
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return d;
  }();
  if (open_seconds) *open_seconds = seconds;
  return ds;
}

void run_loader(benchmark::State& state, const DatasetPtr& ds, const std::string& augment) {
  LoaderOptions o;
  o.batch_size = 64;
  o.num_workers = 2;
  o.prefetch = 8;
  o.seed = 7;
  o.augment = parse_augment(augment);
  Loader loader(ds, o);
  for (int i = 0; i < 4; ++i) loader.next();  // threads started, queue warm
  int64_t images = 0;
  for (auto _ : state) {
    const Batch b = loader.next();
    benchmark::DoNotOptimize(b.images.data<float>());
    images += b.images.size(0);
  }
  state.SetItemsProcessed(images);
}

void BM_LoaderFashionMnist(benchmark::State& state) {
  const DatasetPtr ds = fashion_train();
  if (!ds) return state.SkipWithError("dataset-fashion-mnist is not installed");
  run_loader(state, ds, "crop=" + std::to_string(state.range(0)) + ",flip");
}
BENCHMARK(BM_LoaderFashionMnist)->Arg(2)->Arg(4)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_JpegDecode(benchmark::State& state) {
  double open_s = 0;
  const DatasetPtr ds = cifar_jpeg_train(&open_s);
  if (!ds) return state.SkipWithError("no CIFAR-10 JPEG archive under ../shared/data");
  std::vector<float> img(static_cast<size_t>(ds->shape().numel()));
  int64_t i = 0;
  for (auto _ : state) {
    ds->get_into(i, img.data());
    benchmark::DoNotOptimize(img.data());
    i = (i + 7919) % ds->size();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["open_s"] = open_s;  // reading + indexing the whole .tar.gz once
}
BENCHMARK(BM_JpegDecode)->Unit(benchmark::kMicrosecond);

void BM_LoaderCifarJpeg(benchmark::State& state) {
  const DatasetPtr ds = cifar_jpeg_train();
  if (!ds) return state.SkipWithError("no CIFAR-10 JPEG archive under ../shared/data");
  run_loader(state, ds, "crop=4,flip");
}
BENCHMARK(BM_LoaderCifarJpeg)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_BatchCopyCeiling(benchmark::State& state) {
  const Tensor src = rand({64, 1, 28, 28});
  for (auto _ : state) {
    Tensor dst = empty({64, 1, 28, 28});
    std::memcpy(dst.data<float>(), src.data<float>(), 64 * 784 * sizeof(float));
    benchmark::DoNotOptimize(dst.data<float>());
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_BatchCopyCeiling)->Unit(benchmark::kMicrosecond);

void BM_TrainingStep(benchmark::State& state) {
  const int64_t k = state.range(0), m = 32;
  Generator gen(0);
  auto model = nn::build_model(at_ebm::find_preset("fashion-mnist").config.at("model"), gen);
  model->eval();
  const nn::NamedTensors params = model->named_parameters();
  nn::Adam opt(params, {.lr = 5e-4, .beta1 = 0.0, .beta2 = 0.99});
  const at_ebm::ScoreFn f = [&](const Tensor& x) { return nn::energy_logit(*model, x); };
  const Tensor real = rand({m, 1, 28, 28}), p0 = rand({m, 1, 28, 28});
  for (auto _ : state) {
    const Tensor fake = at_ebm::pgd(f, p0, {.steps = k, .step_size = 1.0}, params, gen);
    const at_ebm::LossTerms t = at_ebm::adversarial_loss(f, real, fake, 0.01, true);
    opt.zero_grad();
    backward(t.loss);
    opt.step();
  }
  state.SetItemsProcessed(state.iterations() * m);  // p_data images consumed per iteration
}
BENCHMARK(BM_TrainingStep)->Arg(0)->Arg(10)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
