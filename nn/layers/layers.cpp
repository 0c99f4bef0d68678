#include "nn/layers/layers.h"

#include "engine/autograd/grad_mode.h"
#include "ops/ops.h"

namespace atebm::nn {

Conv2d::Conv2d(const Conv2dOptions& opt, Generator& gen, DType dtype) : opt_(opt) {
  ATEBM_CHECK(opt.in_channels > 0 && opt.out_channels > 0 && opt.kernel > 0 && opt.stride > 0 && opt.padding >= 0,
              "Conv2d: invalid options in={} out={} kernel={} stride={} padding={}", opt.in_channels,
              opt.out_channels, opt.kernel, opt.stride, opt.padding);
  const int64_t fan_in = opt.in_channels * opt.kernel * opt.kernel;
  weight = register_parameter(
      "weight", default_weight_init({opt.out_channels, opt.in_channels, opt.kernel, opt.kernel}, fan_in, dtype, gen));
  if (opt.bias) bias = register_parameter("bias", default_bias_init(opt.out_channels, fan_in, dtype, gen));
}

Tensor Conv2d::forward(const Tensor& x) {
  Conv2dParams p;
  p.stride = {opt_.stride, opt_.stride};
  p.padding = {opt_.padding, opt_.padding};
  return conv2d(x, weight, bias, p);
}

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool with_bias, DType dtype) {
  ATEBM_CHECK(in_features > 0 && out_features > 0, "Linear: invalid sizes in={} out={}", in_features, out_features);
  weight = register_parameter("weight", default_weight_init({out_features, in_features}, in_features, dtype, gen));
  if (with_bias) bias = register_parameter("bias", default_bias_init(out_features, in_features, dtype, gen));
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

BatchNorm2d::BatchNorm2d(int64_t channels, DType dtype, double momentum, double eps) : momentum_(momentum), eps_(eps) {
  ATEBM_CHECK(channels > 0, "BatchNorm2d: channels must be positive, got {}", channels);
  weight = register_parameter("weight", ones({channels}, {.dtype = dtype}));
  bias = register_parameter("bias", zeros({channels}, {.dtype = dtype}));
  running_mean = register_buffer("running_mean", zeros({channels}, {.dtype = dtype}));
  running_var = register_buffer("running_var", ones({channels}, {.dtype = dtype}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = DType::Int64}));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  const bool batch_stats = is_training() && !freeze_stats_;
  if (batch_stats) {
    NoGradGuard no_grad;
    fill_into(num_batches_tracked, num_batches_tracked.item() + 1);
  }
  return batch_norm(x, weight, bias, running_mean, running_var, batch_stats, momentum_, eps_);
}

AvgPool2d::AvgPool2d(int64_t kernel, int64_t stride, int64_t padding)
    : kernel_(kernel), stride_(stride == 0 ? kernel : stride), padding_(padding) {
  ATEBM_CHECK(kernel_ > 0 && stride_ > 0 && padding_ >= 0, "AvgPool2d: invalid kernel={} stride={} padding={}",
              kernel, stride, padding);
}

Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, {kernel_, kernel_}, {stride_, stride_}, {padding_, padding_});
}

void freeze_batchnorm_stats(Module& model, bool on) {
  for (const auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) bn->set_freeze_stats(on);
}

}  // namespace atebm::nn
