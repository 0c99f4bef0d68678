#pragma once
// Parameter-free layers and containers: ReLU, LeakyReLU, Flatten, Sequential, and the fixed
// per-channel input normalisation (x − mean) / std that belongs to a model. Its mean and std
// are part of the model's config (stored in the checkpoint's metadata), not tensors of the
// state dict, so the state dict has exactly the names of the plain PyTorch network.
#include <vector>

#include "nn/module.h"

namespace atebm::nn {

class ReLU final : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

class LeakyReLU final : public Module {
 public:
  explicit LeakyReLU(double slope = 0.01) : slope_(slope) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LeakyReLU"; }
  double slope() const { return slope_; }

 private:
  double slope_;
};

/// [N, ...] → [N, prod(...)]
class Flatten final : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }
};

/// Children named "0", "1", ... applied in order (torch.nn.Sequential's names).
class Sequential final : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> layers);
  void push_back(std::shared_ptr<Module> layer);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return layers_.size(); }
  Module& operator[](size_t i) { return *layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

/// (x − mean[c]) / std[c] on NCHW input.
class Normalize final : public Module {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Normalize"; }

 private:
  std::vector<double> mean_, std_;
  // [1, C, 1, 1] constants, made once per (device, dtype) of the inputs seen: an upload per
  // forward would synchronise the GPU stream twice a forward and make a forward impossible to
  // capture in a CUDA graph. Kept for the module's lifetime (never replaced), because a captured
  // graph keeps reading the ones it was recorded with.
  struct Constants {
    Device device;
    DType dtype;
    Tensor mean, std;
  };
  std::vector<Constants> constants_;
};

}  // namespace atebm::nn
