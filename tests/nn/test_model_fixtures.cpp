// Golden checks of the model families against an independent PyTorch implementation
// (tools/torch_reference_models.py). tests/nn/fixtures/make_model_fixtures.py wrote one
// safetensors file per model: the weights under their PyTorch state-dict names, an input, and
// PyTorch's float64 results (all logits, the input gradient of Σ logit 0, R1 and dR1/dθ). Here
// each model is built from the config in the file's metadata, loaded strictly, switched to eval
// mode and float64, and every result is recomputed with our engine and compared.
#include <gtest/gtest.h>

#include "tests/common/expect.h"

#include <cmath>
#include <map>
#include <string>

#include "nn/io/model_file.h"
#include "nn/io/safetensors.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::nn;

namespace {

const std::string kPrefix = "__fixture__.";

struct Fixture {
  NamedTensors state;                     // the model's tensors
  std::map<std::string, Tensor> results;  // the "__fixture__." tensors, prefix removed
  nlohmann::json config;
  int64_t upsample = 1;
};

Fixture load_fixture(const std::string& name) {
  const std::string path = std::string(ATEBM_SOURCE_DIR) + "/tests/nn/fixtures/" + name + ".safetensors";
  SafetensorsFile file = load_safetensors(path);
  Fixture f;
  for (auto& [n, t] : file.tensors) {
    if (n.rfind(kPrefix, 0) == 0) {
      f.results.emplace(n.substr(kPrefix.size()), t);
    } else {
      f.state.emplace_back(n, t);
    }
  }
  f.config = parse_json(file.metadata.at(kModelMetadataKey), path);
  f.upsample = std::stoll(file.metadata.at("fixture.upsample"));
  return f;
}

// Nearest-neighbour upsampling by u of [N, C, h, w] (the identity for u = 1 or 2-D points).
Tensor upsample_nearest(const Tensor& low, int64_t u) {
  if (u == 1 || low.dim() != 4) return low;
  const int64_t n = low.size(0), c = low.size(1), h = low.size(2), w = low.size(3);
  return reshape(expand(reshape(low, {n, c, h, 1, w, 1}), {n, c, h, u, w, u}), {n, c, h * u, w * u});
}

// Sums of g over u×u blocks: [N, C, H, W] → [N, C, H/u, W/u] (the fixture's compact form).
Tensor block_sum(const Tensor& g, int64_t u) {
  if (u == 1 || g.dim() != 4) return g;
  const int64_t n = g.size(0), c = g.size(1), h = g.size(2), w = g.size(3);
  return sum(reshape(g, {n, c, h / u, u, w / u, u}), {3, 5});
}

using atebm::test::expect_close;

void check_fixture(const std::string& name) {
  SCOPED_TRACE(name);
  const Fixture fx = load_fixture(name);
  Generator gen(0);
  // The weights are stored as float32 like a real checkpoint; the comparison runs in float64.
  auto model = build_model(fx.config, gen, DType::Float32);
  model->load_state_dict(fx.state, /*strict=*/true);
  model->to(DType::Float64);
  model->eval();

  const Tensor x = upsample_nearest(fx.results.at("input_lowres"), fx.upsample).set_requires_grad(true);
  const Tensor logits = model->forward(x);
  expect_close(logits, fx.results.at("logits"), 1e-10, "logits");

  const Tensor gx = grad({sum(select(logits, 1, 0))}, {x}, {}, {.create_graph = true})[0];
  expect_close(block_sum(gx, fx.upsample), fx.results.at("grad_input_blocksum"), 1e-9, "input gradient");

  const Tensor r1 = mul(mean(sum(square(reshape(gx, {gx.size(0), -1})), {1})), 0.5);
  expect_close(r1, fx.results.at("r1"), 1e-9, "R1");

  // dR1/dθ for the parameters the fixture holds (the small ones: this keeps the file small and
  // skips the weight gradients of the widest convolutions, the bulk of the double backward).
  NamedTensors params;
  for (const auto& [n, p] : model->named_parameters())
    if (fx.results.count("r1_grad." + n)) params.emplace_back(n, p);
  Tensors leaves;
  for (const auto& [n, p] : params) leaves.push_back(p);
  const Tensors dr1 = grad({r1}, leaves, {}, {.allow_unused = true});
  int checked = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor ours = dr1[i].defined() ? dr1[i] : zeros(params[i].second.shape(), {.dtype = DType::Float64});
    expect_close(ours, fx.results.at("r1_grad." + params[i].first), 1e-8, "dR1/d" + params[i].first);
    ++checked;
  }
  EXPECT_GE(checked, 6) << "the fixture should hold R1 gradients for several parameters";
}

}  // namespace

TEST(ModelFixtures, ResNetBasicBlocksMatchPyTorch) { check_fixture("resnet_basic"); }
TEST(ModelFixtures, ResNetBottleneckBlocksMatchPyTorch) { check_fixture("resnet_bottleneck"); }
TEST(ModelFixtures, StarGANDiscriminatorMatchesPyTorch) { check_fixture("stargan_discriminator"); }
TEST(ModelFixtures, MlpMatchesPyTorch) { check_fixture("mlp"); }

// The fixture files are ordinary model files apart from their extra "__fixture__." tensors:
// the strict loader refuses them as they are, naming an unexpected key.
TEST(ModelFixtures, StrictLoadingRefusesTheExtraTensors) {
  const std::string path = std::string(ATEBM_SOURCE_DIR) + "/tests/nn/fixtures/mlp.safetensors";
  try {
    (void)load_model(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected key '__fixture__."), std::string::npos) << e.what();
  }
}
