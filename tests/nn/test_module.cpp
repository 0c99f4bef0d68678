// Module bookkeeping: dotted names, state-dict order, strict loading that reports every
// problem at once and changes nothing on error, dtype moves that keep handles valid.
#include <gtest/gtest.h>

#include "nn/layers/basic.h"
#include "ops/ops.h"

using namespace atebm;
using namespace atebm::nn;

namespace {

class Affine final : public Module {
 public:
  explicit Affine(int64_t n) {
    w = register_parameter("weight", ones({n}, {.dtype = DType::Float64}));
    b = register_parameter("bias", zeros({n}, {.dtype = DType::Float64}));
    count = register_buffer("count", zeros({}, {.dtype = DType::Int64}));
  }
  Tensor forward(const Tensor& x) override { return add(mul(x, w), b); }
  std::string type_name() const override { return "Affine"; }
  Tensor w, b, count;
};

class Net final : public Module {
 public:
  Net() {
    first = register_module("first", std::make_shared<Affine>(3));
    body = register_module("body", std::make_shared<Sequential>());
    body->push_back(std::make_shared<Affine>(3));
    body->push_back(std::make_shared<LeakyReLU>(0.2));
    body->push_back(std::make_shared<Affine>(3));
  }
  Tensor forward(const Tensor& x) override { return body->forward(first->forward(x)); }
  std::string type_name() const override { return "Net"; }
  std::shared_ptr<Affine> first;
  std::shared_ptr<Sequential> body;
};

std::vector<std::string> names(const NamedTensors& ts) {
  std::vector<std::string> out;
  for (const auto& [n, t] : ts) out.push_back(n);
  return out;
}

}  // namespace

TEST(Module, DottedNamesInPyTorchOrder) {
  Net net;
  EXPECT_EQ(names(net.named_parameters()),
            (std::vector<std::string>{"first.weight", "first.bias", "body.0.weight", "body.0.bias", "body.2.weight",
                                      "body.2.bias"}));
  EXPECT_EQ(names(net.state_dict()),
            (std::vector<std::string>{"first.weight", "first.bias", "first.count", "body.0.weight", "body.0.bias",
                                      "body.0.count", "body.2.weight", "body.2.bias", "body.2.count"}));
  EXPECT_EQ(net.num_parameters(), 18);
  for (const auto& [n, p] : net.named_parameters()) EXPECT_TRUE(p.requires_grad()) << n;
  EXPECT_NE(net.summary().find("total parameters: 18"), std::string::npos);
}

TEST(Module, LoadStateDictListsEveryProblemAndChangesNothing) {
  Net net;
  NamedTensors sd;
  for (const auto& [n, t] : net.state_dict()) sd.emplace_back(n, t);
  sd.erase(sd.begin());                                                              // missing first.weight
  sd[0].second = zeros({4}, {.dtype = DType::Float64});                              // wrong shape first.bias
  sd.emplace_back("extra.weight", zeros({1}));                                       // unexpected
  sd[1].second = zeros({}, {.dtype = DType::Float32});                               // wrong dtype first.count
  try {
    net.load_state_dict(sd);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("4 problem"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing key 'first.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'first.bias': shape [4]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'first.count': dtype float32"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected key 'extra.weight'"), std::string::npos) << msg;
  }
  EXPECT_EQ(net.first->w.to_vector<double>(), (std::vector<double>{1, 1, 1}));
}

TEST(Module, LoadStateDictCopiesValues) {
  Net a, b;
  NamedTensors sd;
  for (const auto& [n, t] : a.state_dict()) sd.emplace_back(n, full_like(t, 7.0));
  b.load_state_dict(sd);
  EXPECT_EQ(b.body->operator[](2).named_parameters()[0].second.to_vector<double>(), (std::vector<double>{7, 7, 7}));
  // Non-strict: missing keys are fine.
  sd.resize(2);
  EXPECT_NO_THROW(b.load_state_dict(sd, false));
}

TEST(Module, DtypeMoveKeepsHandlesAndGradFlows) {
  Net net;
  const Tensor w = net.first->w;
  net.to(DType::Float32);
  EXPECT_EQ(w.dtype(), DType::Float32);  // the same handle sees the new data
  EXPECT_EQ(net.first->count.dtype(), DType::Int64);
  EXPECT_TRUE(w.requires_grad());
  Tensor y = sum(net.forward(ones({2, 3})));
  backward(y);
  EXPECT_TRUE(w.grad().defined());
  net.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

TEST(Module, TrainEvalPropagates) {
  Net net;
  net.eval();
  for (const auto& [n, m] : net.named_modules()) EXPECT_FALSE(m->is_training()) << n;
  net.train();
  EXPECT_TRUE(net.body->is_training());
}

TEST(Module, NormalizeMatchesFormulaAndChecksChannels) {
  Normalize norm({0.5, 0.25}, {2.0, 0.5});
  Tensor x = reshape(arange(8, {.dtype = DType::Float64}), {1, 2, 2, 2});
  const auto y = norm(x).to_vector<double>();
  EXPECT_DOUBLE_EQ(y[0], (0 - 0.5) / 2.0);
  EXPECT_DOUBLE_EQ(y[5], (5 - 0.25) / 0.5);
  EXPECT_THROW(norm(zeros({1, 3, 2, 2})), Error);
  EXPECT_TRUE(norm.state_dict().empty());
  // Inputs alternating between dtypes use one set of constants each (float32, then float64
  // again), with the same results.
  const auto y32 = norm(to(x, DType::Float32)).to_vector<float>();
  EXPECT_FLOAT_EQ(y32[5], static_cast<float>((5 - 0.25) / 0.5));
  EXPECT_EQ(norm(x).to_vector<double>(), y);
}
