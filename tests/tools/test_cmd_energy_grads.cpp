// `atebm energy` and `atebm grads` as a user runs them, on tiny model files and .npy inputs
// written here: their outputs are compared with the same quantities computed by the library
// (nn::energy_logit and its input gradient; at_ebm::adversarial_loss and its parameter
// gradients), and their usage and runtime errors give the documented exit codes and messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "at_ebm/data/file_bytes.h"
#include "at_ebm/data/npy.h"
#include "at_ebm/data/zip_archive.h"
#include "at_ebm/method/losses.h"
#include "nn/io/model_file.h"
#include "nn/io/safetensors.h"
#include "nn/models/model_config.h"
#include "ops/ops.h"
#include "tools/tool_test_util.h"

using namespace atebm;
using namespace atebm::cli::testing;

namespace {

// A grey 8×8 ResNet with 3 outputs (so "outputs" differs from "logit"); pool 1 on the 1×1 map.
const nlohmann::json kResNet = {{"arch", "resnet"},      {"block", "basic"},  {"layers", {1, 1, 1, 1}},
                                {"widths", {4, 4, 4, 4}}, {"in_channels", 1}, {"num_classes", 3},
                                {"pool", 1},             {"mean", {0.4}},    {"std", {0.3}}};
const nlohmann::json kMlp = {{"arch", "mlp"}, {"dims", {2, 8, 8, 1}}};

struct Array {
  std::vector<int64_t> shape;
  std::vector<double> values;
};

// The float arrays of a .npz written by the tool (little-endian float32/float64 entries).
std::map<std::string, Array> read_npz(const std::string& path) {
  const std::vector<uint8_t> zip = data::read_file_bytes(path);
  std::map<std::string, Array> out;
  for (const data::ZipEntry& e : data::zip_entries(zip.data(), zip.size(), path)) {
    const std::vector<uint8_t> npy = data::zip_read(zip.data(), zip.size(), e, path);
    const data::NpyArray a = data::parse_npy(npy.data(), npy.size(), e.name);
    EXPECT_FALSE(a.big_endian);
    Array arr{a.shape, {}};
    const size_t n = (npy.size() - a.data_offset) / a.item_size;
    for (size_t k = 0; k < n; ++k) {
      const uint8_t* p = npy.data() + a.data_offset + k * a.item_size;
      if (a.type == data::NpyType::F32) {
        float v;
        std::memcpy(&v, p, 4);
        arr.values.push_back(v);
      } else {
        EXPECT_EQ(a.type, data::NpyType::F64) << e.name;
        double v;
        std::memcpy(&v, p, 8);
        arr.values.push_back(v);
      }
    }
    out[e.name.substr(0, e.name.size() - 4)] = arr;  // "logit.npy" → "logit"
  }
  return out;
}

// max|a − b| ≤ rtol · max|b| (the tensor's scale) + atol.
void expect_close(const std::vector<double>& a, const std::vector<double>& b, double rtol, const std::string& what,
                  double atol = 0.0) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double scale = 0, err = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(b[i]));
    err = std::max(err, std::abs(a[i] - b[i]));
  }
  EXPECT_LE(err, rtol * scale + atol) << what << " (scale " << scale << ")";
}

class CmdEnergyGrads : public ToolTest {
 protected:
  // A freshly initialised model of `config`, saved as NAME.safetensors (float32).
  std::string save_model(const nlohmann::json& config, const std::string& name, uint64_t seed) const {
    return write_model(path(name + ".safetensors"), config, seed);
  }

  // Random float32 values in [lo, hi) of `shape`, saved as NAME.npy; returns the tensor.
  Tensor save_input(const std::string& name, const Shape& shape, uint64_t seed, double lo = 0.0, double hi = 1.0) const {
    Generator gen(seed);
    const Tensor x = uniform(shape, lo, hi, {}, &gen);
    data::save_npy(path(name + ".npy"), x);
    return x;
  }
};

// What `energy --grad --r1` must write, computed with the library: f, all outputs, ∇x f, r1.
struct Expected {
  std::vector<double> logit, outputs, grad, r1;
};

Expected library_energy(const std::string& model_file, const Tensor& x32, DType dtype) {
  nn::LoadedModel m = nn::load_model(model_file);
  m.model->to(dtype);
  m.model->eval();
  const Tensor x = detach(to(x32, dtype)).set_requires_grad(true);
  const Tensor f = nn::energy_logit(*m.model, x);
  const Tensor g = grad({sum(f)}, {x})[0];
  const Tensor r1 = mul(sum(square(reshape(g, {g.size(0), -1})), {1}), 0.5);
  NoGradGuard no_grad;
  return {f.to_vector<double>(), m.model->forward(x).to_vector<double>(), g.to_vector<double>(),
          r1.to_vector<double>()};
}

void expect_energy_file(const std::string& npz, const Expected& want, const Shape& input_shape, double rtol) {
  const auto got = read_npz(npz);
  for (const char* key : {"logit", "energy", "outputs", "grad", "r1"}) ASSERT_TRUE(got.count(key)) << key;
  const int64_t n = input_shape[0];
  EXPECT_EQ(got.at("logit").shape, (std::vector<int64_t>{n}));
  EXPECT_EQ(got.at("grad").shape, std::vector<int64_t>(input_shape.begin(), input_shape.end()));
  EXPECT_EQ(got.at("r1").shape, (std::vector<int64_t>{n}));
  EXPECT_EQ(got.at("outputs").shape[0], n);
  expect_close(got.at("logit").values, want.logit, rtol, "logit");
  expect_close(got.at("outputs").values, want.outputs, rtol, "outputs");
  expect_close(got.at("grad").values, want.grad, rtol, "grad");
  expect_close(got.at("r1").values, want.r1, rtol, "r1");
  for (size_t i = 0; i < want.logit.size(); ++i)
    EXPECT_EQ(got.at("energy").values[i], -got.at("logit").values[i]) << "E = -f at " << i;
}

}  // namespace

TEST_F(CmdEnergyGrads, EnergyMatchesTheLibraryInBothDtypes) {
  const std::string model = save_model(kResNet, "resnet", 3);
  const Tensor x = save_input("x", {5, 1, 8, 8}, 4);

  Result r = atebm("energy --model " + model + " --input " + path("x.npy") + " --grad --r1 --out " + path("e32.npz"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + path("e32.npz")), std::string::npos) << r.out;
  expect_energy_file(path("e32.npz"), library_energy(model, x, DType::Float32), {5, 1, 8, 8}, 1e-5);

  // float64, in batches of 2: the same numbers as the library's single float64 pass.
  r = atebm("energy --model " + model + " --input " + path("x.npy") + " --grad --r1 --dtype float64 --batch-size 2" +
            " --out " + path("e64.npz"));
  ASSERT_EQ(r.code, 0) << r.err;
  expect_energy_file(path("e64.npz"), library_energy(model, x, DType::Float64), {5, 1, 8, 8}, 1e-12);

  // Without --grad / --r1 only the scores are written.
  r = atebm("energy --model " + model + " --input " + path("x.npy") + " --out " + path("plain.npz"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto plain = read_npz(path("plain.npz"));
  EXPECT_EQ(plain.size(), 3u);
  EXPECT_FALSE(plain.count("grad"));
  EXPECT_FALSE(plain.count("r1"));
}

TEST_F(CmdEnergyGrads, EnergyOfAnMlpTakesPointsOfAnyValue) {
  const std::string model = save_model(kMlp, "mlp", 5);
  Generator gen(6);
  const Tensor x = mul(randn({7, 2}, {.dtype = DType::Float64}, &gen), 3.0);  // far outside [0, 1]
  data::save_npy(path("points.npy"), x);
  const Result r = atebm("energy --model " + model + " --input " + path("points.npy") +
                         " --grad --r1 --dtype float64 --out " + path("e.npz"));
  ASSERT_EQ(r.code, 0) << r.err;
  // The tool reads inputs as float32: the library gets the same rounded points.
  expect_energy_file(path("e.npz"), library_energy(model, to(x, DType::Float32), DType::Float64), {7, 2}, 1e-12);
}

TEST_F(CmdEnergyGrads, GradsMatchTheLibrarysAdversarialLoss) {
  const std::string model = save_model(kResNet, "resnet", 7);
  const Tensor real = save_input("real", {3, 1, 8, 8}, 8);
  const Tensor fake = save_input("fake", {4, 1, 8, 8}, 9);
  const Result r = atebm("grads --model " + model + " --real " + path("real.npy") + " --fake " + path("fake.npy") +
                         " --r1 0.5 --dtype float64 --out " + path("g.safetensors"));
  ASSERT_EQ(r.code, 0) << r.err;

  nn::LoadedModel m = nn::load_model(model);
  m.model->to(DType::Float64);
  m.model->eval();
  nn::Module& net = *m.model;
  const at_ebm::ScoreFn f = [&net](const Tensor& x) { return nn::energy_logit(net, x); };
  const at_ebm::LossTerms want =
      at_ebm::adversarial_loss(f, to(real, DType::Float64), to(fake, DType::Float64), 0.5, true);
  const nn::NamedTensors params = net.named_parameters();
  Tensors leaves;
  for (const auto& [n, p] : params) leaves.push_back(p);
  const Tensors want_grads = grad({want.loss}, leaves, {}, {.allow_unused = true});

  const nn::SafetensorsFile got = nn::load_safetensors(path("g.safetensors"));
  std::map<std::string, Tensor> by_name(got.tensors.begin(), got.tensors.end());
  EXPECT_EQ(by_name.size(), params.size() + 3);
  for (const auto& [key, term] : {std::pair<std::string, Tensor>{"loss", want.loss}, {"bce", want.bce}, {"r1", want.r1}}) {
    ASSERT_TRUE(by_name.count(key)) << key;
    EXPECT_EQ(by_name.at(key).dim(), 0) << key;
    EXPECT_NEAR(by_name.at(key).item(), term.item(), 1e-12 * std::abs(term.item())) << key;
    EXPECT_NEAR(std::stod(got.metadata.at(key)), term.item(), 1e-12 * std::abs(term.item())) << key;
  }
  EXPECT_GT(want.r1.item(), 0.0);
  EXPECT_EQ(got.metadata.at("r1_weight"), "0.5");
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& name = params[i].first;
    ASSERT_TRUE(by_name.count(name)) << name;
    const Tensor& g = by_name.at(name);
    EXPECT_EQ(g.shape(), params[i].second.shape()) << name;
    EXPECT_EQ(g.dtype(), DType::Float64) << name;
    const std::vector<double> w = want_grads[i].defined() ? want_grads[i].to_vector<double>()
                                                          : std::vector<double>(g.numel(), 0.0);
    expect_close(g.to_vector<double>(), w, 1e-10, "d loss / d " + name, 1e-15);
  }
}

TEST_F(CmdEnergyGrads, UsageErrorsExitWith2) {
  const std::string model = save_model(kResNet, "resnet", 3);
  save_input("x", {2, 1, 8, 8}, 4);
  Result r = atebm("energy --input " + path("x.npy") + " --out " + path("e.npz"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
  r = atebm("energy --model " + model + " --input " + path("x.npy") + " --dtype float16 --out " + path("e.npz"));
  EXPECT_EQ(r.code, 2) << r.err;
  r = atebm("grads --model " + model + " --fake " + path("x.npy") + " --out " + path("g.safetensors"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--real"), std::string::npos) << r.err;
  r = atebm("grads --model " + model + " --real " + path("x.npy") + " --fake " + path("x.npy") + " --r1 -1 --out " +
            path("g.safetensors"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_FALSE(fs::exists(path("e.npz")));
  EXPECT_FALSE(fs::exists(path("g.safetensors")));
}

TEST_F(CmdEnergyGrads, InputsOfTheWrongShapeExitWith1NamingTheShape) {
  const std::string model = save_model(kResNet, "resnet", 3);
  save_input("rgb", {2, 3, 8, 8}, 4);  // the model takes grey images
  Result r = atebm("energy --model " + model + " --input " + path("rgb.npy") + " --out " + path("e.npz"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("3x8x8"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1x8x8"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  // Right channels, but too large for the model's pooling (the head needs a 1×1 feature map).
  save_input("large", {2, 1, 32, 32}, 5);
  r = atebm("energy --model " + model + " --input " + path("large.npy") + " --out " + path("e.npz"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("1x32x32"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("e.g. 8x8"), std::string::npos) << r.err;

  save_input("grey", {2, 1, 8, 8}, 5);
  r = atebm("grads --model " + model + " --real " + path("grey.npy") + " --fake " + path("rgb.npy") + " --out " +
            path("g.safetensors"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("rgb.npy"), std::string::npos) << r.err;

  const std::string mlp = save_model(kMlp, "mlp", 5);
  save_input("points3", {4, 3}, 6);
  r = atebm("energy --model " + mlp + " --input " + path("points3.npy") + " --out " + path("e.npz"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("(4, 3)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(N, 2)"), std::string::npos) << r.err;

  r = atebm("energy --model " + path("missing.safetensors") + " --input " + path("grey.npy") + " --out " +
            path("e.npz"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("missing.safetensors"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("e.npz")));
}
