// Generation (sampler.h): which p0 images are drawn (distinct, seeded, O(n) memory), the batched
// PGD (shape, range, determinism, independence of the batch size, steps = 0 is the identity, f
// rises), the frame observer, and opening run folders / model files for the commands.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/expect.h"
#include "common/tiny_models.h"
#include "at_ebm/data/synthetic.h"
#include "at_ebm/method/sampler.h"
#include "nn/io/model_file.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::at_ebm;
namespace fs = std::filesystem;

namespace {

using atebm::test::tiny_resnet_config;
std::shared_ptr<nn::Module> tiny_model(uint64_t seed = 0) { return atebm::test::tiny_resnet(seed); }

using atebm::test::max_abs_diff;

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("atebm_test_sampler_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

TEST(Sampler, DrawIndicesAreDistinctSeededAndInRange) {
  const std::vector<int64_t> a = draw_indices(1000, 50, 7), b = draw_indices(1000, 50, 7);
  const std::vector<int64_t> c = draw_indices(1000, 50, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 50u);
  for (int64_t i : a) EXPECT_TRUE(i >= 0 && i < 1000) << i;
  // Not simply the first indices: a random subset.
  EXPECT_GT(*std::max_element(a.begin(), a.end()), 100);
}

TEST(Sampler, DrawIndicesBeyondTheSetAreWholePermutations) {
  const std::vector<int64_t> a = draw_indices(5, 12, 3);
  ASSERT_EQ(a.size(), 12u);
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.begin() + 5), (std::set<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(std::set<int64_t>(a.begin() + 5, a.begin() + 10), (std::set<int64_t>{0, 1, 2, 3, 4}));
  // The first n of a longer draw are the draw of n: n only decides where to stop.
  const std::vector<int64_t> b = draw_indices(5, 3, 3);
  EXPECT_TRUE(std::equal(b.begin(), b.end(), a.begin()));
  EXPECT_THROW(draw_indices(0, 1, 0), Error);
}

TEST(Sampler, DrawImagesLoadsThoseIndices) {
  const data::DatasetPtr ds = data::make_uniform(20, {1, 8, 8}, 4);
  const Tensor x = draw_images(*ds, 3, 9);
  ASSERT_EQ(x.shape(), (Shape{3, 1, 8, 8}));
  const std::vector<int64_t> idx = draw_indices(20, 3, 9);
  const std::vector<float> v = x.to_vector<float>();
  for (int64_t k = 0; k < 3; ++k) {
    const data::Sample s = ds->get(idx[static_cast<size_t>(k)]);
    for (int64_t j = 0; j < 64; ++j) EXPECT_EQ(v[static_cast<size_t>(k * 64 + j)], s.image[static_cast<size_t>(j)]);
  }
}

TEST(Sampler, GenerateShapeRangeAndDeterminism) {
  auto model = tiny_model();
  const data::DatasetPtr p0 = data::make_uniform(32, {1, 8, 8}, 1);
  const SampleOptions opt{.n = 6, .batch_size = 4, .steps = 3, .step_size = 0.3, .seed = 5};
  const Tensor a = generate(*model, *p0, opt);
  ASSERT_EQ(a.shape(), (Shape{6, 1, 8, 8}));
  EXPECT_EQ(a.dtype(), DType::Float32);
  EXPECT_FALSE(a.requires_grad());
  for (float v : a.to_vector<float>()) EXPECT_TRUE(v >= 0.0f && v <= 1.0f) << v;
  EXPECT_EQ(max_abs_diff(a, generate(*model, *p0, opt)), 0.0);

  SampleOptions other = opt;
  other.seed = 6;
  EXPECT_GT(max_abs_diff(a, generate(*model, *p0, other)), 0.01);
  // BatchNorm in eval mode: each sample's path does not depend on its batch companions.
  SampleOptions one_batch = opt;
  one_batch.batch_size = 64;
  EXPECT_LT(max_abs_diff(a, generate(*model, *p0, one_batch)), 1e-5);
  // The parameters are left as they were: trainable, no gradient written.
  for (const auto& [name, p] : model->named_parameters()) {
    EXPECT_TRUE(p.requires_grad()) << name;
    EXPECT_FALSE(p.grad().defined()) << name;
  }
}

TEST(Sampler, ZeroStepsReturnsTheP0Images) {
  auto model = tiny_model();
  const data::DatasetPtr p0 = data::make_uniform(32, {1, 8, 8}, 2);
  const SampleOptions opt{.n = 5, .batch_size = 2, .steps = 0, .seed = 3};
  EXPECT_EQ(max_abs_diff(generate(*model, *p0, opt), draw_images(*p0, 5, 3)), 0.0);
}

TEST(Sampler, GenerationRaisesTheScore) {
  auto model = tiny_model(11);
  const data::DatasetPtr p0 = data::make_uniform(32, {1, 8, 8}, 3);
  const SampleOptions opt{.n = 16, .batch_size = 8, .steps = 4, .step_size = 0.05, .seed = 1};
  const Tensor start = draw_images(*p0, opt.n, opt.seed);
  const Tensor samples = generate(*model, *p0, opt);
  NoGradGuard no_grad;
  const std::vector<float> f0 = nn::energy_logit(*model, start).to_vector<float>();
  const std::vector<float> f1 = nn::energy_logit(*model, samples).to_vector<float>();
  double gain = 0;
  int rose = 0;
  for (size_t i = 0; i < f0.size(); ++i) {
    gain += f1[i] - f0[i];
    rose += f1[i] > f0[i];
  }
  EXPECT_GT(gain / static_cast<double>(f0.size()), 0.0);
  EXPECT_GE(rose, 12) << "of 16 samples";
}

TEST(Sampler, PgdBatchedClimbsAKnownScore) {
  // f(x) = −Σ (x − 0.25)²: ascent walks every sample straight toward 0.25 by λ per step.
  const ScoreFn f = [](const Tensor& x) { return neg(sum(square(sub(x, 0.25)), {1, 2, 3})); };
  const Tensor start = full({3, 1, 2, 2}, 0.75);
  const Tensor x = pgd_batched(f, {}, start, {.batch_size = 2, .steps = 2, .step_size = 0.1});
  // Each step moves each sample by 0.1 in L2 along (−1, −1, −1, −1)/2: 0.05 per pixel.
  for (float v : x.to_vector<float>()) EXPECT_NEAR(v, 0.65f, 1e-6);
}

TEST(Sampler, FrameObserverSeesEveryStepOfEveryBatch) {
  auto model = tiny_model();
  const data::DatasetPtr p0 = data::make_uniform(16, {1, 8, 8}, 2);
  const SampleOptions opt{.n = 5, .batch_size = 2, .steps = 2, .step_size = 0.2, .seed = 0};
  std::vector<std::pair<int64_t, int64_t>> calls;  // (step, first)
  Tensor last = zeros({5, 1, 8, 8});
  const Tensor samples = generate(*model, *p0, opt, [&](int64_t step, int64_t first, const Tensor& x) {
    calls.emplace_back(step, first);
    if (step == opt.steps) copy_into(narrow(last, 0, first, x.size(0)), x);
  });
  const std::vector<std::pair<int64_t, int64_t>> want = {{0, 0}, {1, 0}, {2, 0}, {0, 2}, {1, 2},
                                                         {2, 2}, {0, 4}, {1, 4}, {2, 4}};
  EXPECT_EQ(calls, want);
  EXPECT_EQ(max_abs_diff(samples, last), 0.0);
}

TEST(Sampler, BadOptionsAndMasksAreErrors) {
  const ScoreFn f = [](const Tensor& x) { return sum(x, {1, 2, 3}); };
  const Tensor start = full({2, 1, 4, 4}, 0.5);
  EXPECT_THROW(pgd_batched(f, {}, start, {.batch_size = 0}), Error);
  EXPECT_THROW(pgd_batched(f, {}, start, {.steps = -1}), Error);
  EXPECT_THROW(pgd_batched(f, {}, start, {.step_size = -0.1}), Error);
  EXPECT_THROW(pgd_batched(f, {}, full({2, 4, 4}, 0.5), {}), Error);
  EXPECT_THROW(pgd_batched(f, {}, start, {}, ones({3, 1, 4, 4})), Error);
  EXPECT_THROW(pgd_batched(f, {}, start, {}, ones({1, 1, 4, 5})), Error);
  const data::DatasetPtr p0 = data::make_uniform(4, {1, 4, 4}, 0);
  EXPECT_THROW(generate(f, {}, *p0, {.n = 0}), Error);
}

TEST(Sampler, ModelInputShape) {
  EXPECT_EQ(model_input_shape(tiny_resnet_config(), {3, 8, 12}), (data::ImageShape{1, 8, 12}));
  EXPECT_EQ(model_input_shape({{"arch", "stargan_discriminator"}, {"img_size", 64}}, {1, 8, 8}),
            (data::ImageShape{3, 64, 64}));
  EXPECT_THROW(model_input_shape({{"arch", "mlp"}, {"dims", {2, 4, 1}}}, {1, 8, 8}), Error);
}

TEST(Sampler, OpenRunReadsModelShapeP0AndSampleSettings) {
  const fs::path dir = temp_dir("run");
  auto model = tiny_model(3);
  nn::save_model((dir / "model.safetensors").string(), *model, tiny_resnet_config());
  write_text(dir / "config.json", R"({"model": {"arch": "resnet"},
    "data": {"train": "uniform:10@size=8", "p0": ["uniform:5", "constant:3:0.5"], "shape": [1, 8, 8]},
    "sample": {"steps": 3, "step_size": 0.5, "n": 7, "batch_size": 2, "seed": 9, "p0": null}})");
  const SamplingSetup s = open_run(dir.string());
  EXPECT_EQ(s.shape, (data::ImageShape{1, 8, 8}));
  EXPECT_EQ(s.p0, nlohmann::json({"uniform:5", "constant:3:0.5"}));
  EXPECT_EQ(s.sample.steps, 3);
  EXPECT_EQ(s.sample.step_size, 0.5);
  EXPECT_EQ(s.sample.n, 7);
  EXPECT_EQ(s.sample.batch_size, 2);
  EXPECT_EQ(s.sample.seed, 9u);
  EXPECT_FALSE(s.model->is_training());
  EXPECT_EQ(s.run_dir, dir.string());

  // sample.p0 replaces data.p0; without data.shape the model and the train spec decide it.
  write_text(dir / "config.json", R"({"data": {"train": "uniform:10@size=6", "p0": "uniform:5"},
    "sample": {"p0": "constant:4:0.25"}})");
  const SamplingSetup t = open_run(dir.string());
  EXPECT_EQ(t.shape, (data::ImageShape{1, 6, 6}));
  EXPECT_EQ(t.p0, nlohmann::json("constant:4:0.25"));
  EXPECT_EQ(t.sample.steps, 32);  // the defaults
  EXPECT_EQ(t.sample.step_size, 0.2);

  write_text(dir / "config.json", R"({"data": {"train": "uniform:10", "shape": [1, 8, 8]}})");
  EXPECT_THROW(open_run(dir.string()), Error);  // no p0
  write_text(dir / "config.json", R"({"data": {"p0": "uniform:5", "shape": [1, 8, 8]}, "sample": {"steps": "x"}})");
  EXPECT_THROW(open_run(dir.string()), Error);
  write_text(dir / "config.json", R"({"data": {"p0": "uniform:5", "shape": [1, 8, 8]}, "sample": {"steps": -2}})");
  EXPECT_THROW(open_run(dir.string()), Error);
  fs::remove(dir / "model.safetensors");
  write_text(dir / "config.json", R"({"data": {"p0": "uniform:5", "shape": [1, 8, 8]}})");
  EXPECT_THROW(open_run(dir.string()), Error);
  EXPECT_THROW(open_run((dir / "missing").string()), Error);
  fs::remove_all(dir);
}

// A run samples with the CUDA math it was trained with (train.tf32, conv_algo, cudnn_algo_search).
TEST(Sampler, OpenRunReadsTheRunsCudaMathSettings) {
  const fs::path dir = temp_dir("run_math");
  auto model = tiny_model(3);
  nn::save_model((dir / "model.safetensors").string(), *model, tiny_resnet_config());
  const std::string data = R"("data": {"p0": "uniform:5", "shape": [1, 8, 8]})";
  write_text(dir / "config.json", "{" + data + "}");
  const MathMode defaults = open_run(dir.string()).math;
  EXPECT_TRUE(defaults.tf32);
  EXPECT_EQ(defaults.conv_algo, ConvAlgo::Cudnn);
  EXPECT_EQ(defaults.cudnn_algo_search, CudnnAlgoSearch::Heuristic);

  write_text(dir / "config.json", "{" + data + R"(, "train": {"tf32": false, "conv_algo": "implicit_gemm_pipelined",
    "cudnn_algo_search": "measured", "max_iters": 3}})");
  const MathMode m = open_run(dir.string()).math;
  EXPECT_FALSE(m.tf32);
  EXPECT_EQ(m.conv_algo, ConvAlgo::ImplicitGemmPipelined);
  EXPECT_EQ(m.cudnn_algo_search, CudnnAlgoSearch::Measured);
  EXPECT_TRUE(allow_tf32());  // reading a run changes no process-wide switch

  write_text(dir / "config.json", "{" + data + R"(, "train": {"conv_algo": "winograd"}})");
  test::expect_error([&] { open_run(dir.string()); }, {"config.json: train", "winograd", "implicit_gemm"});
  write_text(dir / "config.json", "{" + data + R"(, "train": {"tf32": "yes"}})");
  test::expect_error([&] { open_run(dir.string()); }, {"train.tf32", "wrong type"});
  fs::remove_all(dir);
}

TEST(Sampler, OpenModelFileLeavesTheShapeToTheData) {
  const fs::path dir = temp_dir("model");
  auto model = tiny_model(4);
  const std::string path = (dir / "m.safetensors").string();
  nn::save_model(path, *model, tiny_resnet_config());
  SamplingSetup s = open_model_file(path);
  EXPECT_EQ(s.shape.c, 0);
  EXPECT_TRUE(s.p0.is_null());
  resolve_shape(s, "uniform:3@size=10");
  EXPECT_EQ(s.shape, (data::ImageShape{1, 10, 10}));
  // The loaded model computes what the saved one does.
  const Tensor x = rand({2, 1, 8, 8});
  NoGradGuard no_grad;
  EXPECT_EQ(max_abs_diff(nn::energy_logit(*model, x), nn::energy_logit(*s.model, x)), 0.0);
  fs::remove_all(dir);
}
