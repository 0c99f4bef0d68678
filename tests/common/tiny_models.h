#pragma once
// The small model the method's tests share: a ResNet for 1×8×8 grey images (8 → 8 → 4 → 2 → 1,
// basic blocks of width 4, one output, a 1×1 pool), fast enough for every command and test.
#include <cstdint>
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "engine/device.h"
#include "engine/generator.h"
#include "engine/tensor.h"
#include "nn/models/model_config.h"

namespace atebm::test {

inline nlohmann::json tiny_resnet_config() {
  return {{"arch", "resnet"},     {"block", "basic"},  {"layers", {1, 1, 1, 1}}, {"widths", {4, 4, 4, 4}},
          {"in_channels", 1},     {"num_classes", 1},  {"pool", 1}};
}

/// The tiny ResNet with weights from Generator(seed), in evaluation mode (as the method runs).
inline std::shared_ptr<nn::Module> tiny_resnet(uint64_t seed = 0) {
  Generator gen(seed);
  auto m = nn::build_model(tiny_resnet_config(), gen);
  m->eval();
  return m;
}

/// A small conv net with its energy score f(x) = energy_logit(net, x), in `device`: the CUDA-graph
/// tests' model (conv, BN, ReLU, pool, linear through the ResNet builder; widths 4, 4, 8, 8 and an
/// (x − 0.5) / 0.5 input normalisation), with weights from Generator(5), in evaluation mode.
struct ScoredModel {
  std::shared_ptr<nn::Module> net;
  std::function<Tensor(const Tensor&)> f;
};

inline ScoredModel scored_tiny_resnet(const Device& device) {
  Generator gen(5);
  ScoredModel m;
  m.net = nn::build_model({{"arch", "resnet"}, {"block", "basic"}, {"layers", {1, 1, 1, 1}}, {"widths", {4, 4, 8, 8}},
                           {"in_channels", 1}, {"num_classes", 1}, {"pool", 1}, {"mean", {0.5}}, {"std", {0.5}}},
                          gen);
  m.net->eval();
  m.net->to(device);
  nn::Module* raw = m.net.get();
  m.f = [raw](const Tensor& x) { return nn::energy_logit(*raw, x); };
  return m;
}

}  // namespace atebm::test
