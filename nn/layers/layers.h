#pragma once
// Layers with parameters or fixed hyper-parameters: Conv2d, Linear, BatchNorm2d, AvgPool2d.
// Parameter names, shapes and default initialisation are PyTorch's, so state dicts move both
// ways and a freshly built model is distributed like torch's.
#include <array>

#include "nn/module.h"

namespace atebm::nn {

struct Conv2dOptions {
  int64_t in_channels = 0, out_channels = 0;
  int64_t kernel = 3;
  int64_t stride = 1;
  int64_t padding = 0;
  bool bias = true;
};

/// weight [out, in, k, k] (OIHW), bias [out]
class Conv2d final : public Module {
 public:
  Conv2d(const Conv2dOptions& opt, Generator& gen, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  const Conv2dOptions& options() const { return opt_; }
  Tensor weight, bias;

 private:
  Conv2dOptions opt_;
};

/// y = x · weightᵀ + bias; weight [out, in], bias [out]
class Linear final : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  Tensor weight, bias;
};

/// BatchNorm over NCHW with weight/bias [C] and buffers running_mean, running_var [C] and
/// num_batches_tracked (int64, 0-dim), as torch.nn.BatchNorm2d. In training it uses batch
/// statistics and updates the running ones, unless `freeze_stats` is set: then it behaves as in
/// evaluation even while the model trains (what the paper does with its energy models).
class BatchNorm2d final : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, DType dtype = DType::Float32, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }
  void set_freeze_stats(bool on) { freeze_stats_ = on; }
  bool freeze_stats() const { return freeze_stats_; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  double momentum_, eps_;
  bool freeze_stats_ = false;
};

class AvgPool2d final : public Module {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0 /* = kernel */, int64_t padding = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }

 private:
  int64_t kernel_, stride_, padding_;
};

/// Sets freeze_stats on every BatchNorm2d of a model (the paper's "BN in eval mode throughout").
void freeze_batchnorm_stats(Module& model, bool on = true);

}  // namespace atebm::nn
