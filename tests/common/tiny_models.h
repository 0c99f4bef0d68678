#pragma once
// The small model the method's tests share: a ResNet for 1×8×8 grey images (8 → 8 → 4 → 2 → 1,
// basic blocks of width 4, one output, a 1×1 pool), fast enough for every command and test.
#include <cstdint>
#include <memory>

#include <nlohmann/json.hpp>

#include "engine/generator.h"
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

}  // namespace atebm::test
