#include "nn/models/resnet.h"

#include "ops/ops.h"

namespace atebm::nn {

ResidualBlock::ResidualBlock(bool bottleneck, int64_t in_planes, int64_t planes, int64_t stride, Generator& gen,
                             DType dtype)
    : bottleneck_(bottleneck) {
  const int64_t out_planes = planes * expansion(bottleneck);
  if (bottleneck) {
    conv1_ = register_module("conv1", std::make_shared<Conv2d>(Conv2dOptions{in_planes, planes, 1, 1, 0, false}, gen, dtype));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes, dtype));
    conv2_ = register_module("conv2", std::make_shared<Conv2d>(Conv2dOptions{planes, planes, 3, stride, 1, false}, gen, dtype));
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes, dtype));
    conv3_ = register_module("conv3", std::make_shared<Conv2d>(Conv2dOptions{planes, out_planes, 1, 1, 0, false}, gen, dtype));
    bn3_ = register_module("bn3", std::make_shared<BatchNorm2d>(out_planes, dtype));
  } else {
    conv1_ = register_module("conv1", std::make_shared<Conv2d>(Conv2dOptions{in_planes, planes, 3, stride, 1, false}, gen, dtype));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes, dtype));
    conv2_ = register_module("conv2", std::make_shared<Conv2d>(Conv2dOptions{planes, planes, 3, 1, 1, false}, gen, dtype));
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes, dtype));
  }
  shortcut_ = register_module("shortcut", std::make_shared<Sequential>());
  if (stride != 1 || in_planes != out_planes) {
    shortcut_->push_back(std::make_shared<Conv2d>(Conv2dOptions{in_planes, out_planes, 1, stride, 0, false}, gen, dtype));
    shortcut_->push_back(std::make_shared<BatchNorm2d>(out_planes, dtype));
  }
}

Tensor ResidualBlock::forward(const Tensor& x) {
  Tensor out = relu(bn1_->forward(conv1_->forward(x)));
  if (bottleneck_) {
    out = relu(bn2_->forward(conv2_->forward(out)));
    out = bn3_->forward(conv3_->forward(out));
  } else {
    out = bn2_->forward(conv2_->forward(out));
  }
  return relu(add(out, shortcut_->forward(x)));
}

ResNet::ResNet(const ResNetConfig& cfg, Generator& gen, DType dtype) : cfg_(cfg) {
  ATEBM_CHECK(cfg.block == "basic" || cfg.block == "bottleneck", "resnet config: block must be 'basic' or 'bottleneck', got '{}'",
              cfg.block);
  ATEBM_CHECK(cfg.layers.size() == 4 && cfg.widths.size() == 4,
              "resnet config: 'layers' and 'widths' need 4 entries each, got {} and {}", cfg.layers.size(), cfg.widths.size());
  for (size_t i = 0; i < 4; ++i)
    ATEBM_CHECK(cfg.layers[i] >= 1 && cfg.widths[i] >= 1, "resnet config: layers[{}]={} and widths[{}]={} must be >= 1", i,
                cfg.layers[i], i, cfg.widths[i]);
  ATEBM_CHECK(cfg.in_channels >= 1 && cfg.num_classes >= 1 && cfg.pool >= 1,
              "resnet config: in_channels={}, num_classes={}, pool={} must be >= 1", cfg.in_channels, cfg.num_classes,
              cfg.pool);
  ATEBM_CHECK(static_cast<int64_t>(cfg.mean.size()) == cfg.in_channels && cfg.std.size() == cfg.mean.size(),
              "resnet config: 'mean' and 'std' need in_channels = {} entries, got {} and {}", cfg.in_channels,
              cfg.mean.size(), cfg.std.size());
  const bool bottleneck = cfg.block == "bottleneck";
  normalize_ = std::make_shared<Normalize>(cfg.mean, cfg.std);  // not a child: no state-dict entries
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(Conv2dOptions{cfg.in_channels, cfg.widths[0], 3, 1, 1, false}, gen, dtype));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(cfg.widths[0], dtype));
  int64_t in_planes = cfg.widths[0];
  for (size_t s = 0; s < 4; ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < cfg.layers[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      stage->push_back(std::make_shared<ResidualBlock>(bottleneck, in_planes, cfg.widths[s], stride, gen, dtype));
      in_planes = cfg.widths[s] * ResidualBlock::expansion(bottleneck);
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  linear_ = register_module("linear", std::make_shared<Linear>(in_planes, cfg.num_classes, gen, true, dtype));
}

Tensor ResNet::forward(const Tensor& x) { return linear_->forward(features(x)); }

Tensor ResNet::features(const Tensor& x) {
  ATEBM_CHECK(x.dim() == 4 && x.size(1) == cfg_.in_channels, "ResNet: expected input [N, {}, H, W], got {}",
              cfg_.in_channels, shape_str(x.shape()));
  Tensor h = relu(bn1_->forward(conv1_->forward(normalize_->forward(x))));
  for (auto& stage : stages_) h = stage->forward(h);
  ATEBM_CHECK(h.size(2) >= cfg_.pool && h.size(3) >= cfg_.pool,
              "ResNet: final feature map {}x{} is smaller than the pooling window {} (input {} too small)", h.size(2),
              h.size(3), cfg_.pool, shape_str(x.shape()));
  h = avg_pool2d(h, {cfg_.pool, cfg_.pool}, {cfg_.pool, cfg_.pool}, {0, 0});
  return flatten(h, 1);
}

}  // namespace atebm::nn
