#include "nn/layers/basic.h"

#include <algorithm>
#include <iterator>

#include "ops/ops.h"

namespace atebm::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, slope_); }

Tensor Flatten::forward(const Tensor& x) {
  ATEBM_CHECK(x.dim() >= 1, "Flatten: expected [N, ...], got a 0-dim tensor");
  return flatten(x, 1);
}

Sequential::Sequential(std::vector<std::shared_ptr<Module>> layers) {
  for (auto& l : layers) push_back(std::move(l));
}

void Sequential::push_back(std::shared_ptr<Module> layer) {
  ATEBM_CHECK(layer != nullptr, "Sequential: null layer at position {}", layers_.size());
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& l : layers_) h = l->forward(h);
  return h;
}

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
  ATEBM_CHECK(!mean_.empty() && mean_.size() == std_.size(), "Normalize: {} means but {} stds", mean_.size(),
              std_.size());
  for (double s : std_) ATEBM_CHECK(s > 0, "Normalize: std values must be positive, got {}", s);
}

Tensor Normalize::forward(const Tensor& x) {
  const auto c = static_cast<int64_t>(mean_.size());
  ATEBM_CHECK(x.dim() == 4 && x.size(1) == c, "Normalize: expected [N, {}, H, W], got {}", c, shape_str(x.shape()));
  auto it = std::find_if(constants_.begin(), constants_.end(),
                         [&](const Constants& k) { return k.device == x.device() && k.dtype == x.dtype(); });
  if (it == constants_.end()) {
    const TensorOptions opt{.dtype = x.dtype(), .device = x.device()};
    constants_.push_back({x.device(), x.dtype(), from_vector<double>(mean_, {1, c, 1, 1}, opt),
                          from_vector<double>(std_, {1, c, 1, 1}, opt)});
    it = std::prev(constants_.end());
  }
  return div(sub(x, it->mean), it->std);
}

}  // namespace atebm::nn
