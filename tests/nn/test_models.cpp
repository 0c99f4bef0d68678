// The paper's models: parameter counts and names as the PyTorch modules have them, config
// validation, output shapes.
#include <gtest/gtest.h>

#include "nn/models/model_config.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::nn;
using nlohmann::json;

namespace {

std::shared_ptr<Module> build(const json& cfg, DType dtype = DType::Float32) {
  Generator gen(0);
  return build_model(cfg, gen, dtype);
}

bool has_name(const Module& m, const std::string& name) {
  for (const auto& [n, t] : m.state_dict())
    if (n == name) return true;
  return false;
}

}  // namespace

TEST(Models, ResNet50AndResNet18ParameterCounts) {
  EXPECT_EQ(build({{"arch", "resnet"}, {"block", "bottleneck"}, {"layers", {3, 4, 6, 3}}})->num_parameters(), 23520842);
  EXPECT_EQ(build({{"arch", "resnet"}, {"block", "basic"}, {"layers", {2, 2, 2, 2}}})->num_parameters(), 11173962);
}

TEST(Models, ResNetNamesMatchTheRobustnessLibrary) {
  auto m = build({{"arch", "resnet"}, {"block", "bottleneck"}, {"layers", {1, 1, 1, 1}}, {"widths", {4, 4, 8, 8}}});
  for (const char* n : {"conv1.weight", "bn1.weight", "bn1.running_mean", "bn1.num_batches_tracked",
                        "layer1.0.conv1.weight", "layer1.0.conv3.weight", "layer1.0.bn3.running_var",
                        "layer1.0.shortcut.0.weight", "layer1.0.shortcut.1.bias", "layer2.0.shortcut.0.weight",
                        "linear.weight", "linear.bias"})
    EXPECT_TRUE(has_name(*m, n)) << n;
  EXPECT_FALSE(has_name(*m, "conv1.bias"));
  auto basic = build({{"arch", "resnet"}, {"block", "basic"}, {"layers", {1, 1, 1, 1}}, {"widths", {4, 4, 8, 8}}});
  EXPECT_FALSE(has_name(*basic, "layer1.0.shortcut.0.weight"));  // stride 1, same width: empty shortcut
  EXPECT_TRUE(has_name(*basic, "layer3.0.shortcut.0.weight"));
}

TEST(Models, SmallGreyResNetOn28x28) {
  auto m = build({{"arch", "resnet"}, {"block", "basic"}, {"layers", {1, 1, 1, 1}}, {"widths", {8, 16, 32, 64}},
                  {"in_channels", 1}, {"mean", {0.5}}, {"std", {0.5}}});
  m->eval();
  const Tensor out = m->forward(rand({2, 1, 28, 28}));
  EXPECT_EQ(out.shape(), (Shape{2, 10}));
  EXPECT_EQ(energy_logit(*m, rand({3, 1, 28, 28})).shape(), (Shape{3}));
}

TEST(Models, StarGANDiscriminatorLayout) {
  auto d = build({{"arch", "stargan_discriminator"}, {"img_size", 32}, {"max_conv_dim", 64}});
  // dim_in = 2^14/32 = 512 → min(1024, 64) ... blocks: log2(32) − 2 = 3 ResBlks in main.1..main.3
  for (const char* n : {"main.0.weight", "main.0.bias", "main.1.conv1.weight", "main.1.conv2.weight",
                        "main.1.conv1x1.weight", "main.3.conv2.bias", "main.5.weight", "main.7.weight", "main.7.bias"})
    EXPECT_TRUE(has_name(*d, n)) << n;
  EXPECT_FALSE(has_name(*d, "main.1.conv1x1.bias"));
  d->eval();
  EXPECT_EQ(d->forward(rand({2, 3, 32, 32})).shape(), (Shape{2, 1}));
}

TEST(Models, StarGANDiscriminatorNormalisesWithItsMeanAndStd) {
  const json plain = {{"arch", "stargan_discriminator"}, {"img_size", 8}, {"max_conv_dim", 8}};
  json normed = plain;
  normed["mean"] = {0.485, 0.456, 0.406};
  normed["std"] = {0.229, 0.224, 0.225};
  auto a = build(plain), b = build(normed);  // same seed: same weights, no extra state entries
  EXPECT_EQ(a->state_dict().size(), b->state_dict().size());
  const Tensor x = rand({2, 3, 8, 8});
  const Tensor mean = reshape(from_vector(std::vector<double>{0.485, 0.456, 0.406}), {1, 3, 1, 1});
  const Tensor stdv = reshape(from_vector(std::vector<double>{0.229, 0.224, 0.225}), {1, 3, 1, 1});
  const Tensor expected = a->forward(div(sub(x, mean), stdv));
  EXPECT_LT(sum(abs(sub(b->forward(x), expected))).item(), 1e-5);
  EXPECT_EQ(complete_config(normed).at("std"), normed.at("std"));
  EXPECT_FALSE(complete_config(plain).contains("mean"));
  json bad = plain;
  bad["mean"] = {0.5};
  bad["std"] = {0.5};
  EXPECT_THROW(build(bad), Error);
}

TEST(Models, MlpNamesLikeSequential) {
  auto m = build({{"arch", "mlp"}, {"dims", {2, 16, 16, 1}}});
  for (const char* n : {"net.0.weight", "net.0.bias", "net.2.weight", "net.4.weight", "net.4.bias"})
    EXPECT_TRUE(has_name(*m, n)) << n;
  EXPECT_EQ(m->num_parameters(), 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1);
  EXPECT_EQ(m->forward(rand({5, 2})).shape(), (Shape{5, 1}));
}

TEST(Models, BadConfigsNameTheField) {
  auto expect_error = [](const json& cfg, const std::string& needle) {
    try {
      (void)build(cfg);
      ADD_FAILURE() << "expected an error for " << cfg.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({{"arch", "resnet"}, {"blocks", "basic"}}, "unknown field 'blocks'");
  expect_error({{"arch", "resnet"}, {"block", "wide"}}, "block");
  expect_error({{"arch", "resnet"}, {"layers", {2, 2, 2}}}, "layers");
  expect_error({{"arch", "resnet"}, {"layers", "two"}}, "'layers'");
  expect_error({{"arch", "resnet"}, {"in_channels", 1}, {"mean", {0.1, 0.2}}}, "mean");
  expect_error({{"arch", "stargan_discriminator"}, {"img_size", 100}}, "img_size");
  expect_error({{"arch", "mlp"}, {"dims", {2}}}, "dims");
  expect_error({{"arch", "mlp"}, {"activation", "gelu"}}, "activation");
  expect_error({{"arch", "transformer"}}, "unknown arch");
  expect_error({{"block", "basic"}}, "arch");
}

TEST(Models, CompleteConfigFillsDefaults) {
  const json c = complete_config({{"arch", "resnet"}, {"block", "basic"}});
  EXPECT_EQ(c.at("layers"), json({3, 4, 6, 3}));
  EXPECT_EQ(c.at("num_classes"), 10);
  EXPECT_EQ(c.at("mean").size(), 3u);
}
