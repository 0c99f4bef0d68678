#pragma once
// The StarGAN-v2-style discriminator the paper uses for 256×256 sets. main = Sequential of:
//   0: conv 3×3, 3 → dim_in (= 2^14 / img_size)
//   1..R: ResBlk(dim_in → dim_out = min(2·dim_in, max_conv_dim)), R = log2(img_size) − 2,
//         each halving the resolution
//   R+1: LeakyReLU(0.2), R+2: conv 4×4 (no padding), R+3: LeakyReLU(0.2), R+4: conv 1×1 → outputs
// ResBlk(x) = (shortcut(x) + residual(x)) / √2 with
//   shortcut = avg_pool2(conv1x1(x))  (conv1x1 1×1 without bias, only when dim_in ≠ dim_out)
//   residual = conv2(lrelu(avg_pool2(conv1(lrelu(x))))).
// The input is normalised per channel by (x − mean)/std when the config gives mean and std
// (the paper's 256×256 models see ImageNet-normalised images; empty lists: the input as given),
// output [N, num_outputs].
#include "nn/layers/basic.h"
#include "nn/layers/layers.h"

namespace atebm::nn {

struct DiscriminatorConfig {
  int64_t img_size = 256;
  int64_t max_conv_dim = 512;
  int64_t num_outputs = 1;
  std::vector<double> mean, std;  // both empty, or 3 entries each
};

class ResBlk final : public Module {
 public:
  ResBlk(int64_t dim_in, int64_t dim_out, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResBlk"; }

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_, conv1x1_;
};

class StarGANDiscriminator final : public Module {
 public:
  StarGANDiscriminator(const DiscriminatorConfig& cfg, Generator& gen, DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "StarGANDiscriminator"; }

 private:
  DiscriminatorConfig cfg_;
  std::shared_ptr<Sequential> main_;
  std::shared_ptr<Normalize> normalize_;  // null without mean/std; not a child: no state-dict entries
};

}  // namespace atebm::nn
