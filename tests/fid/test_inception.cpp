// The FID Inception-v3 against an independent PyTorch definition (tools/torch_reference_inception.py).
//
// tests/fid/fixtures/make_inception_fixture.py wrote inception_thin.safetensors: a thin copy of
// the network (channels / 16, fc → 63; the real wiring, kernels, strides, paddings, pooling kinds
// and spatial sizes), random float32 weights, two image batches (32×32, upsampled to 299, and
// 336×320, downsampled and non-square) and PyTorch's float64 results: the resized and scaled
// input (subsampled), the pool features and the logits. The script also checked that changing any
// one convention (count_include_pad, E_2's max pool, align_corners, antialiasing, the [−1, 1]
// scaling) moves these results by more than 1e-3 relative, so a match here pins them down.
//
// The full-width network is checked for pytorch-fid's state-dict names and shapes (from the same
// reference, stored in the fixture's metadata), output shapes, loading, and its error messages.
#include <gtest/gtest.h>

#include "tests/common/expect.h"
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "at_ebm/fid/inception.h"
#include "at_ebm/fid/inception_blocks.h"
#include "nn/io/safetensors.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::at_ebm;

namespace {

const std::string kPrefix = "__fixture__.";

std::string fixture_path() { return std::string(ATEBM_SOURCE_DIR) + "/tests/fid/fixtures/inception_thin.safetensors"; }

struct Fixture {
  nn::NamedTensors state;                 // the thin network's tensors
  std::map<std::string, Tensor> results;  // the "__fixture__." tensors, prefix removed
  std::map<std::string, std::string> metadata;
  int64_t meta_int(const std::string& key) const { return std::stoll(metadata.at(key)); }
};

const Fixture& fixture() {
  static const Fixture f = [] {
    nn::SafetensorsFile file = nn::load_safetensors(fixture_path());
    Fixture fx;
    for (auto& [n, t] : file.tensors) {
      if (n.rfind(kPrefix, 0) == 0)
        fx.results.emplace(n.substr(kPrefix.size()), t);
      else
        fx.state.emplace_back(n, t);
    }
    fx.metadata = file.metadata;
    return fx;
  }();
  return f;
}

// The fixture's references are never all zero (its script checks that each convention moves
// them), so a zero scale here means a broken fixture, not an exact match.
void expect_close(const Tensor& ours, const Tensor& ref, double rtol, const std::string& what) {
  ASSERT_GT(sum(abs(ref)).item(), 0.0) << what << ": an all-zero reference checks nothing";
  atebm::test::expect_close(ours, ref, rtol, what);
}

// [N, C, h, w] → [N, C, h·u, w·u], each pixel repeated u×u times (how the fixture stores images_b).
Tensor upsample_nearest(const Tensor& low, int64_t u) {
  const int64_t n = low.size(0), c = low.size(1), h = low.size(2), w = low.size(3);
  return reshape(expand(reshape(low, {n, c, h, 1, w, 1}), {n, c, h, u, w, u}), {n, c, h * u, w * u});
}

// x[:, :, ::s, ::s]
Tensor subsample(const Tensor& x, int64_t s) {
  return contiguous(slice(slice(x, 2, 0, x.size(2), s), 3, 0, x.size(3), s));
}

// The thin network of the fixture with its weights, in `dtype`.
std::shared_ptr<inception::InceptionNet> thin_network(DType dtype) {
  const Fixture& fx = fixture();
  Generator gen(0);
  const inception::InceptionWidths widths{.divisor = fx.meta_int("fixture.divisor"),
                                          .num_classes = fx.meta_int("fixture.num_classes")};
  auto net = std::make_shared<inception::InceptionNet>(widths, gen, DType::Float32);
  net->load_state_dict(fx.state, /*strict=*/true);
  net->to(dtype);
  return net;
}

void check_thin_network(DType dtype, double rtol_pre, double rtol_out) {
  const Fixture& fx = fixture();
  auto net = thin_network(dtype);
  NoGradGuard no_grad;
  const Tensor images_a = copy_to(fx.results.at("images_a"), Device::cpu(), dtype);
  const Tensor images_b =
      copy_to(upsample_nearest(fx.results.at("images_b_lowres"), fx.meta_int("fixture.upsample_b")), Device::cpu(),
              dtype);
  ASSERT_EQ(images_b.shape(), (Shape{1, 3, 336, 320}));
  const int64_t stride = fx.meta_int("fixture.pre_stride");
  for (const auto& [name, images] : {std::pair{std::string("a"), images_a}, std::pair{std::string("b"), images_b}}) {
    SCOPED_TRACE("images_" + name);
    const Tensor x = inception::preprocess(images);
    ASSERT_EQ(x.shape(), (Shape{images.size(0), 3, 299, 299}));
    expect_close(subsample(x, stride), fx.results.at("pre_" + name), rtol_pre, "preprocessed input");
    const InceptionOutputs out = net->outputs(x);
    expect_close(out.pool, fx.results.at("pool_" + name), rtol_out, "pool features");
    expect_close(out.logits, fx.results.at("logits_" + name), rtol_out, "logits");
  }
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("atebm_inception_" + std::to_string(getpid()) + "_" + name))
      .string();
}

using atebm::test::expect_error;

// One full-width random network for the tests that need it (building it draws 24M numbers).
InceptionV3& full_network() {
  static std::unique_ptr<InceptionV3> net = InceptionV3::random(7);
  return *net;
}

}  // namespace

TEST(Inception, ThinNetworkMatchesPyTorchInFloat64) { check_thin_network(DType::Float64, 1e-12, 1e-9); }

// Float32 (the product's dtype): round-off through ~20 layers, nothing else.
TEST(Inception, ThinNetworkMatchesPyTorchInFloat32) { check_thin_network(DType::Float32, 1e-6, 2e-4); }

TEST(Inception, FullNetworkHasPytorchFidStateDictNamesAndShapes) {
  const auto expected = nlohmann::json::parse(fixture().metadata.at("fixture.full_state"));
  std::map<std::string, Shape> ours;
  for (const auto& [n, t] : full_network().module().state_dict()) ours.emplace(n, t.shape());
  EXPECT_EQ(ours.size(), expected.size());
  for (const auto& [name, shape] : expected.items()) {
    const auto it = ours.find(name);
    if (it == ours.end()) {
      ADD_FAILURE() << "missing " << name;
      continue;
    }
    EXPECT_EQ(it->second, shape.get<Shape>()) << name;
  }
  EXPECT_EQ(full_network().module().num_parameters(), 23850960);  // pytorch-fid's network with fc
}

TEST(Inception, FullNetworkOutputShapes) {
  Generator gen(3);
  const Tensor images = rand({2, 3, 32, 32}, {}, &gen);
  const auto start = std::chrono::steady_clock::now();
  const InceptionOutputs out = full_network().features(images);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(out.pool.shape(), (Shape{2, 2048}));
  EXPECT_EQ(out.logits.shape(), (Shape{2, 1008}));
  EXPECT_EQ(out.pool.dtype(), DType::Float32);
  EXPECT_FALSE(out.pool.requires_grad());
  for (double v : out.pool.to_vector<double>()) ASSERT_TRUE(std::isfinite(v) && v >= 0) << v;  // mean of ReLUs
  for (double v : out.logits.to_vector<double>()) ASSERT_TRUE(std::isfinite(v)) << v;
  // The two images differ, so their features do.
  const Tensor diff = sub(select(out.pool, 0, 0), select(out.pool, 0, 1));
  EXPECT_GT(max(abs(diff), 0).values.item(), 0.0);
  std::cout << "[ info ] full Inception-v3, 2 images of 32x32 -> 299: " << seconds << " s\n";
}

TEST(Inception, FeaturesRejectBadImages) {
  InceptionV3& net = full_network();
  expect_error([&] { net.features(zeros({2, 1, 32, 32})); }, {"InceptionV3", "[N, 3, H, W]", "[2, 1, 32, 32]"});
  expect_error([&] { net.features(zeros({3, 32, 32})); }, {"[N, 3, H, W]"});
  expect_error([&] { net.features(full({1, 3, 8, 8}, 255.0)); }, {"values in [0, 1]", "255"});
  expect_error([&] { net.features(full({1, 3, 8, 8}, -0.5)); }, {"values in [0, 1]", "-0.5"});
}

TEST(Inception, LoadRoundTripsAFullWeightFile) {
  // A weight file as tools/convert_inception.py writes it (float32, pytorch-fid's names), here
  // without num_batches_tracked (files saved before PyTorch 0.4.1 lack it; it is not used).
  nn::NamedTensors tensors;
  for (const auto& [n, t] : full_network().module().state_dict())
    if (n.find("num_batches_tracked") == std::string::npos) tensors.emplace_back(n, t);
  const std::string path = temp_path("weights.safetensors");
  nn::save_safetensors(path, tensors);
  std::unique_ptr<InceptionV3> loaded;
  try {
    loaded = InceptionV3::load(path, DType::Float64);
  } catch (...) {
    std::filesystem::remove(path);
    throw;
  }
  std::filesystem::remove(path);
  const nn::NamedTensors state = loaded->module().state_dict();
  ASSERT_EQ(state.size(), tensors.size() + 94);  // + num_batches_tracked of the 94 BatchNorms
  std::map<std::string, Tensor> by_name(state.begin(), state.end());
  for (const auto& name : {"Conv2d_1a_3x3.conv.weight", "Mixed_6b.branch7x7_2.conv.weight",
                           "Mixed_7c.branch3x3dbl_3b.bn.running_var", "fc.bias"}) {
    SCOPED_TRACE(name);
    const Tensor& t = by_name.at(name);
    EXPECT_EQ(t.dtype(), DType::Float64);
    for (const auto& [n, src] : tensors)
      if (n == name) expect_close(t, src, 0.0, name);
  }
}

TEST(Inception, LoadErrorsNameTheFileAndWhatIsNeeded) {
  const std::string missing = temp_path("no_such_file.safetensors");
  expect_error([&] { (void)InceptionV3::load(missing); },
               {missing, "does not exist", "pt_inception-2015-12-05-6726825d.pth", "tools/convert_inception.py"});
  expect_error([&] { (void)InceptionV3::load(std::filesystem::temp_directory_path().string()); },
               {"is not a regular file"});
  // The thin fixture: the right names with the wrong shapes, plus the "__fixture__." extras.
  expect_error([&] { (void)InceptionV3::load(fixture_path()); },
               {fixture_path(), "does not hold the FID Inception-v3 weights", "Mixed_7c.branch_pool.conv.weight",
                "__fixture__."});
  // Another model's file: no name in common, a short message naming what the file holds.
  const std::string other = temp_path("other.safetensors");
  nn::save_safetensors(other, {{"conv1.weight", zeros({4, 3, 3, 3})}});
  expect_error([&] { (void)InceptionV3::load(other); },
               {other, "holds none of the FID Inception-v3 tensors", "1 tensors: conv1.weight",
                "Conv2d_1a_3x3.conv.weight", "tools/convert_inception.py"});
  std::filesystem::remove(other);
}
