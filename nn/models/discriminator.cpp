#include "nn/models/discriminator.h"

#include <cmath>

#include "ops/ops.h"

namespace atebm::nn {

ResBlk::ResBlk(int64_t dim_in, int64_t dim_out, Generator& gen, DType dtype) {
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(Conv2dOptions{dim_in, dim_in, 3, 1, 1, true}, gen, dtype));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(Conv2dOptions{dim_in, dim_out, 3, 1, 1, true}, gen, dtype));
  if (dim_in != dim_out)
    conv1x1_ = register_module("conv1x1", std::make_shared<Conv2d>(Conv2dOptions{dim_in, dim_out, 1, 1, 0, false}, gen, dtype));
}

Tensor ResBlk::forward(const Tensor& x) {
  const std::array<int64_t, 2> two{2, 2}, zero{0, 0};
  Tensor sc = conv1x1_ ? conv1x1_->forward(x) : x;
  sc = avg_pool2d(sc, two, two, zero);
  Tensor r = conv1_->forward(leaky_relu(x, 0.2));
  r = conv2_->forward(leaky_relu(avg_pool2d(r, two, two, zero), 0.2));
  return mul(add(sc, r), 1.0 / std::sqrt(2.0));
}

StarGANDiscriminator::StarGANDiscriminator(const DiscriminatorConfig& cfg, Generator& gen, DType dtype) : cfg_(cfg) {
  ATEBM_CHECK(cfg.img_size >= 8 && (cfg.img_size & (cfg.img_size - 1)) == 0 && cfg.img_size <= 16384,
              "stargan_discriminator config: img_size must be a power of two in [8, 16384], got {}", cfg.img_size);
  ATEBM_CHECK(cfg.max_conv_dim >= 1 && cfg.num_outputs >= 1,
              "stargan_discriminator config: max_conv_dim={} and num_outputs={} must be >= 1", cfg.max_conv_dim,
              cfg.num_outputs);
  ATEBM_CHECK(cfg.mean.size() == cfg.std.size() && (cfg.mean.empty() || cfg.mean.size() == 3),
              "stargan_discriminator config: 'mean' and 'std' need 3 entries each (or none); got {} and {}",
              cfg.mean.size(), cfg.std.size());
  if (!cfg.mean.empty()) normalize_ = std::make_shared<Normalize>(cfg.mean, cfg.std);
  int64_t dim_in = (int64_t{1} << 14) / cfg.img_size;
  main_ = register_module("main", std::make_shared<Sequential>());
  main_->push_back(std::make_shared<Conv2d>(Conv2dOptions{3, dim_in, 3, 1, 1, true}, gen, dtype));
  const auto repeat = static_cast<int64_t>(std::lround(std::log2(static_cast<double>(cfg.img_size)))) - 2;
  int64_t dim_out = dim_in;
  for (int64_t i = 0; i < repeat; ++i) {
    dim_out = std::min(dim_in * 2, cfg.max_conv_dim);
    main_->push_back(std::make_shared<ResBlk>(dim_in, dim_out, gen, dtype));
    dim_in = dim_out;
  }
  main_->push_back(std::make_shared<LeakyReLU>(0.2));
  main_->push_back(std::make_shared<Conv2d>(Conv2dOptions{dim_out, dim_out, 4, 1, 0, true}, gen, dtype));
  main_->push_back(std::make_shared<LeakyReLU>(0.2));
  main_->push_back(std::make_shared<Conv2d>(Conv2dOptions{dim_out, cfg.num_outputs, 1, 1, 0, true}, gen, dtype));
}

Tensor StarGANDiscriminator::forward(const Tensor& x) {
  ATEBM_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == cfg_.img_size && x.size(3) == cfg_.img_size,
              "StarGANDiscriminator: expected input [N, 3, {}, {}], got {}", cfg_.img_size, cfg_.img_size,
              shape_str(x.shape()));
  return reshape(main_->forward(normalize_ ? normalize_->forward(x) : x), {x.size(0), -1});
}

}  // namespace atebm::nn
