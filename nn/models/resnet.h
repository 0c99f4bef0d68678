#pragma once
// The CIFAR ResNet of the robustness library, which the paper's energy models use:
//   conv1 (3×3, stride 1, no bias) → bn1 → ReLU → layer1..layer4 (first strides 1, 2, 2, 2)
//   → AvgPool2d(pool) → flatten → linear.
// BasicBlock: conv1 3×3/s → bn1 → ReLU → conv2 3×3 → bn2, + shortcut, ReLU (expansion 1).
// Bottleneck: conv1 1×1 → bn1 → ReLU → conv2 3×3/s → bn2 → ReLU → conv3 1×1 (4× width) → bn3,
//   + shortcut, ReLU (expansion 4).
// shortcut: empty, or shortcut.0 (1×1 conv, stride s, no bias) + shortcut.1 (BN) when the
// stride or the channel count changes. Names match the PyTorch module exactly.
#include <vector>

#include "nn/layers/basic.h"
#include "nn/layers/layers.h"

namespace atebm::nn {

struct ResNetConfig {
  std::string block = "bottleneck";  // "basic" | "bottleneck"
  std::vector<int64_t> layers{3, 4, 6, 3};
  std::vector<int64_t> widths{64, 128, 256, 512};
  int64_t in_channels = 3;
  int64_t num_classes = 10;
  int64_t pool = 4;
  std::vector<double> mean{0.4914, 0.4822, 0.4465};
  std::vector<double> std{0.2023, 0.1994, 0.2010};
};

class ResidualBlock final : public Module {
 public:
  ResidualBlock(bool bottleneck, int64_t in_planes, int64_t planes, int64_t stride, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return bottleneck_ ? "Bottleneck" : "BasicBlock"; }
  static int64_t expansion(bool bottleneck) { return bottleneck ? 4 : 1; }

 private:
  bool bottleneck_;
  std::shared_ptr<Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_, bn3_;
  std::shared_ptr<Sequential> shortcut_;
};

class ResNet final : public Module {
 public:
  ResNet(const ResNetConfig& cfg, Generator& gen, DType dtype = DType::Float32);
  /// Normalises x ∈ [0, 1] with the config's mean/std, then the network: [N, C, H, W] → [N, classes].
  Tensor forward(const Tensor& x) override;
  /// The penultimate features, the input of `linear`: [N, C, H, W] → [N, widths[3]·expansion]
  /// (after the average pool and flatten); forward(x) = linear(features(x)). A domain classifier's
  /// features for FID/KID (at_ebm/fid/classifier.h).
  Tensor features(const Tensor& x);
  std::string type_name() const override { return "ResNet"; }
  const ResNetConfig& config() const { return cfg_; }

 private:
  ResNetConfig cfg_;
  std::shared_ptr<Normalize> normalize_;
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::vector<std::shared_ptr<Sequential>> stages_;
  std::shared_ptr<Linear> linear_;
};

}  // namespace atebm::nn
