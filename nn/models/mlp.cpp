#include "nn/models/mlp.h"

#include "nn/layers/layers.h"

namespace atebm::nn {

Mlp::Mlp(const MlpConfig& cfg, Generator& gen, DType dtype) : cfg_(cfg) {
  ATEBM_CHECK(cfg.dims.size() >= 2, "mlp config: 'dims' needs at least 2 entries, got {}", cfg.dims.size());
  for (int64_t d : cfg.dims) ATEBM_CHECK(d >= 1, "mlp config: every entry of 'dims' must be >= 1, got {}", d);
  ATEBM_CHECK(cfg.activation == "leaky_relu" || cfg.activation == "relu",
              "mlp config: 'activation' must be 'leaky_relu' or 'relu', got '{}'", cfg.activation);
  net_ = register_module("net", std::make_shared<Sequential>());
  for (size_t i = 0; i + 1 < cfg.dims.size(); ++i) {
    net_->push_back(std::make_shared<Linear>(cfg.dims[i], cfg.dims[i + 1], gen, true, dtype));
    if (i + 2 < cfg.dims.size()) {
      if (cfg.activation == "relu") {
        net_->push_back(std::make_shared<ReLU>());
      } else {
        net_->push_back(std::make_shared<LeakyReLU>(cfg.slope));
      }
    }
  }
}

Tensor Mlp::forward(const Tensor& x) {
  ATEBM_CHECK(x.dim() == 2 && x.size(1) == cfg_.dims.front(), "MLP: expected input [N, {}], got {}", cfg_.dims.front(),
              shape_str(x.shape()));
  return net_->forward(x);
}

}  // namespace atebm::nn
