// The domain classifier (at_ebm/fid/classifier.h) on a tiny labelled set that is trivially
// separable (dark vs bright 8×8 grey images): training reaches a high test accuracy and writes a
// model file that loads back to the same accuracy; features have the penultimate shape and feed
// the final linear layer exactly; the FID of a feature set with itself is 0; bad inputs throw.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <unistd.h>
#include <vector>

#include "at_ebm/data/array_dataset.h"
#include "at_ebm/fid/classifier.h"
#include "at_ebm/fid/fid_stats.h"
#include "at_ebm/method/sampler.h"
#include "engine/error.h"
#include "engine/factories.h"
#include "engine/generator.h"
#include "nn/models/model_config.h"

namespace atebm::at_ebm {
namespace {

// n grey 8×8 images: label 0 dark (values in [0.05, 0.35]), label 1 bright ([0.65, 0.95]),
// alternating; labelled unless `labelled` is false.
data::DatasetPtr dark_bright(int64_t n, uint32_t seed, bool labelled = true) {
  const data::ImageShape shape{1, 8, 8};
  std::vector<float> pixels(static_cast<size_t>(n * shape.numel()));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.05f, 0.35f);
  for (int64_t i = 0; i < n; ++i) {
    labels[static_cast<size_t>(i)] = i % 2;
    for (int64_t k = 0; k < shape.numel(); ++k)
      pixels[static_cast<size_t>(i * shape.numel() + k)] = u(rng) + (i % 2 == 1 ? 0.6f : 0.0f);
  }
  std::vector<uint8_t> bytes(pixels.size() * sizeof(float));
  std::memcpy(bytes.data(), pixels.data(), bytes.size());
  data::ArrayDesc d;
  d.name = "dark_bright";
  d.owner = data::own_bytes(std::move(bytes), &d.base);
  d.stride = static_cast<size_t>(shape.numel()) * sizeof(float);
  d.count = n;
  d.shape = shape;
  d.type = data::PixelType::F32;
  if (labelled) {
    d.labels = labels;
    d.num_classes = 2;
  }
  return std::make_shared<data::ArrayDataset>(std::move(d));
}

const nlohmann::json kTiny = {{"widths", {4, 4, 4, 4}}};

std::shared_ptr<nn::ResNet> tiny_resnet(const nlohmann::json& extra, uint64_t seed) {
  nlohmann::json cfg = default_classifier_config(*dark_bright(2, 0));
  for (const auto& [k, v] : extra.items()) cfg[k] = v;
  Generator gen(seed);
  auto net = std::dynamic_pointer_cast<nn::ResNet>(nn::build_model(cfg, gen));
  net->eval();
  return net;
}

TEST(Classifier, DefaultConfigFollowsTheData) {
  const nlohmann::json cfg = default_classifier_config(*dark_bright(4, 1));
  EXPECT_EQ(cfg["in_channels"], 1);
  EXPECT_EQ(cfg["num_classes"], 2);
  EXPECT_EQ(cfg["pool"], 1);  // 8 → 8, 4, 2, 1: a global average
  EXPECT_EQ(cfg["widths"], nlohmann::json({32, 64, 128, 256}));
  EXPECT_EQ(cfg["mean"].size(), 1u);
}

TEST(Classifier, TrainsToHighAccuracyAndWritesTheModel) {
  const std::string out =
      (std::filesystem::temp_directory_path() / ("atebm_clf_" + std::to_string(::getpid()) + ".safetensors")).string();
  std::vector<ClassifierEpoch> epochs;
  ClassifierOptions opt{.train = dark_bright(64, 1),
                        .test = dark_bright(32, 2),
                        .model_config = kTiny,
                        .epochs = 8,  // 4 steps each: 32 iterations
                        .batch_size = 16,
                        .lr = 1e-2,
                        .augment = "flip",
                        .seed = 3,
                        .out = out,
                        .on_epoch = [&](const ClassifierEpoch& e) { epochs.push_back(e); }};
  const ClassifierResult r = train_classifier(opt);
  ASSERT_EQ(epochs.size(), 8u);
  EXPECT_EQ(epochs.back().epoch, 8);
  EXPECT_LT(epochs.back().train_loss, epochs.front().train_loss);
  EXPECT_GE(r.test_accuracy, 0.95);
  EXPECT_DOUBLE_EQ(r.test_accuracy, epochs.back().test_accuracy);
  EXPECT_GT(r.seconds, 0.0);
  EXPECT_EQ(r.config["widths"], nlohmann::json({4, 4, 4, 4}));

  const std::shared_ptr<nn::ResNet> loaded = load_classifier(out);
  EXPECT_FALSE(loaded->is_training());
  EXPECT_DOUBLE_EQ(evaluate_accuracy(*loaded, *opt.test), r.test_accuracy);
  std::filesystem::remove(out);
}

TEST(Classifier, FeaturesArePenultimateAndFeedTheLinearLayer) {
  auto basic = tiny_resnet(kTiny, 5);
  auto bottleneck = tiny_resnet({{"block", "bottleneck"}, {"widths", {2, 2, 2, 3}}}, 5);
  const data::DatasetPtr ds = dark_bright(6, 4);
  const Tensor images = load_images(*ds, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(classifier_features(*basic, images).shape(), (Shape{6, 4}));
  EXPECT_EQ(classifier_features(*bottleneck, images).shape(), (Shape{6, 12}));  // widths[3]·4

  // forward(x) = features(x) · linear.weightᵀ + linear.bias
  const Tensor f = classifier_features(*basic, images);
  const Tensor logits = copy_to(basic->forward(images), Device::cpu(), DType::Float32);
  Tensor w, b;
  for (const auto& [name, t] : basic->named_parameters()) {
    if (name == "linear.weight") w = t;
    if (name == "linear.bias") b = t;
  }
  ASSERT_TRUE(w.defined() && b.defined());
  ASSERT_EQ(w.shape(), (Shape{2, 4}));
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t c = 0; c < 2; ++c) {
      double z = b.data<float>()[c];
      for (int64_t k = 0; k < 4; ++k) z += double(f.data<float>()[i * 4 + k]) * w.data<float>()[c * 4 + k];
      EXPECT_NEAR(logits.data<float>()[i * 2 + c], z, 1e-5) << i << "," << c;
    }
}

TEST(Classifier, DatasetFeaturesMatchBatchesAndGiveZeroFidWithThemselves) {
  auto net = tiny_resnet(kTiny, 6);
  const data::DatasetPtr ds = dark_bright(40, 7);
  const Tensor all = classifier_features(*net, *ds, {.batch_size = 7});
  ASSERT_EQ(all.shape(), (Shape{40, 4}));
  const Tensor direct = classifier_features(*net, load_images(*ds, {0, 13, 39}));
  const int64_t rows[] = {0, 13, 39};
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t k = 0; k < 4; ++k)
      EXPECT_NEAR(direct.data<float>()[r * 4 + k], all.data<float>()[rows[r] * 4 + k], 1e-5);

  int64_t calls = 0;
  const Tensor drawn = classifier_features(*net, *ds, {.n = 10, .seed = 2, .batch_size = 4,
                                                       .progress = [&](int64_t, int64_t) { ++calls; }});
  EXPECT_EQ(drawn.shape(), (Shape{10, 4}));
  EXPECT_EQ(calls, 3);

  // Identical sets: FID 0 (up to the matrix square root's rounding), far below that of a
  // different set (only the bright images).
  const FeatureStats s = feature_stats(all);
  const double self = frechet_distance(s, feature_stats(classifier_features(*net, *ds, {.batch_size = 40}))).fid;
  const FeatureStats bright = feature_stats(classifier_features(*net, load_images(*ds, {1, 3, 5, 7, 9, 11, 13, 15})));
  const double other = frechet_distance(s, bright).fid;
  EXPECT_GT(other, 0.0);
  EXPECT_LT(std::abs(self), 1e-3 * other) << self << " vs " << other;
}

TEST(Classifier, BadInputsThrow) {
  ClassifierOptions opt{.train = dark_bright(8, 1, false), .test = dark_bright(8, 2), .model_config = kTiny, .batch_size = 4};
  EXPECT_THROW(train_classifier(opt), Error);  // unlabelled training set
  opt.train = dark_bright(8, 1);
  opt.batch_size = 9;
  EXPECT_THROW(train_classifier(opt), Error);  // batch larger than the set
  opt.batch_size = 4;
  opt.model_config = {{"arch", "mlp"}};
  EXPECT_THROW(train_classifier(opt), Error);
  opt.model_config = {{"in_channels", 3}};
  EXPECT_THROW(train_classifier(opt), Error);
  auto net = tiny_resnet(kTiny, 1);
  EXPECT_THROW(classifier_features(*net, Tensor(empty({2, 3, 8, 8}))), Error);
  EXPECT_THROW(evaluate_accuracy(*net, *dark_bright(4, 1, false)), Error);
}

}  // namespace
}  // namespace atebm::at_ebm
