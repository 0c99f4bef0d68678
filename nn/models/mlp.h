#pragma once
// The MLP of the 2-D experiments: net = Sequential(Linear, act, Linear, act, ..., Linear), so
// parameters are named net.0, net.2, ... like the nn.Sequential it mirrors.
#include <vector>

#include "nn/layers/basic.h"

namespace atebm::nn {

struct MlpConfig {
  std::vector<int64_t> dims{2, 128, 128, 1};
  std::string activation = "leaky_relu";  // "leaky_relu" | "relu"
  double slope = 0.2;
};

class Mlp final : public Module {
 public:
  Mlp(const MlpConfig& cfg, Generator& gen, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MLP"; }

 private:
  MlpConfig cfg_;
  std::shared_ptr<Sequential> net_;
};

}  // namespace atebm::nn
