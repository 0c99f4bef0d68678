#include "at_ebm/fid/inception_blocks.h"

#include "ops/ops.h"

namespace atebm::at_ebm::inception {
namespace {

// TensorFlow's 3×3 "SAME" average pool: the mean over the in-bounds elements of each window
// (PyTorch's count_include_pad=False), which pytorch-fid patches into blocks A, C and E_1.
Tensor avg_pool_3x3_without_padding(const Tensor& x) { return avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, false); }

Tensor max_pool_3x3(const Tensor& x, int64_t stride, int64_t padding) {
  return max_pool2d(x, {3, 3}, {stride, stride}, {padding, padding}).values;
}

}  // namespace

int64_t InceptionWidths::operator()(int64_t channels) const {
  ATEBM_CHECK(divisor >= 1 && channels % divisor == 0,
              "Inception: the width divisor {} does not divide the channel count {}", divisor, channels);
  return channels / divisor;
}

// ---- layers ----------------------------------------------------------------------------------

KernelConv2d::KernelConv2d(int64_t in, int64_t out, Pair kernel, Pair stride, Pair padding, Generator& gen,
                           DType dtype)
    : stride_(stride), padding_(padding) {
  ATEBM_CHECK(in > 0 && out > 0 && kernel[0] > 0 && kernel[1] > 0, "Conv2d: invalid sizes in={} out={} kernel={}",
              in, out, kernel);
  weight = register_parameter(
      "weight", nn::default_weight_init({out, in, kernel[0], kernel[1]}, in * kernel[0] * kernel[1], dtype, gen));
}

Tensor KernelConv2d::forward(const Tensor& x) {
  Conv2dParams p;
  p.stride = stride_;
  p.padding = padding_;
  return conv2d(x, weight, Tensor(), p);
}

BasicConv2d::BasicConv2d(int64_t in, int64_t out, Pair kernel, Generator& gen, DType dtype, Pair stride,
                         Pair padding) {
  conv_ = register_module("conv", std::make_shared<KernelConv2d>(in, out, kernel, stride, padding, gen, dtype));
  bn_ = register_module("bn", std::make_shared<nn::BatchNorm2d>(out, dtype, 0.1, kBatchNormEps));
}

Tensor BasicConv2d::forward(const Tensor& x) { return relu((*bn_)((*conv_)(x))); }

// ---- blocks ----------------------------------------------------------------------------------

FIDInceptionA::FIDInceptionA(int64_t in, int64_t pool_features, const InceptionWidths& w, Generator& gen,
                             DType dtype) {
  auto conv = [&](const char* name, int64_t cin, int64_t cout, Pair k, Pair pad = {0, 0}) {
    return register_module(name, std::make_shared<BasicConv2d>(cin, cout, k, gen, dtype, Pair{1, 1}, pad));
  };
  b1x1_ = conv("branch1x1", in, w(64), {1, 1});
  b5x5_1_ = conv("branch5x5_1", in, w(48), {1, 1});
  b5x5_2_ = conv("branch5x5_2", w(48), w(64), {5, 5}, {2, 2});
  b3dbl_1_ = conv("branch3x3dbl_1", in, w(64), {1, 1});
  b3dbl_2_ = conv("branch3x3dbl_2", w(64), w(96), {3, 3}, {1, 1});
  b3dbl_3_ = conv("branch3x3dbl_3", w(96), w(96), {3, 3}, {1, 1});
  pool_ = conv("branch_pool", in, w(pool_features), {1, 1});
}

Tensor FIDInceptionA::forward(const Tensor& x) {
  Tensor b1 = (*b1x1_)(x);
  Tensor b5 = (*b5x5_2_)((*b5x5_1_)(x));
  Tensor b3 = (*b3dbl_3_)((*b3dbl_2_)((*b3dbl_1_)(x)));
  Tensor bp = (*pool_)(avg_pool_3x3_without_padding(x));
  return cat({b1, b5, b3, bp}, 1);
}

InceptionB::InceptionB(int64_t in, const InceptionWidths& w, Generator& gen, DType dtype) {
  b3x3_ = register_module("branch3x3", std::make_shared<BasicConv2d>(in, w(384), Pair{3, 3}, gen, dtype, Pair{2, 2}));
  b3dbl_1_ = register_module("branch3x3dbl_1", std::make_shared<BasicConv2d>(in, w(64), Pair{1, 1}, gen, dtype));
  b3dbl_2_ = register_module("branch3x3dbl_2", std::make_shared<BasicConv2d>(w(64), w(96), Pair{3, 3}, gen, dtype,
                                                                             Pair{1, 1}, Pair{1, 1}));
  b3dbl_3_ = register_module("branch3x3dbl_3",
                             std::make_shared<BasicConv2d>(w(96), w(96), Pair{3, 3}, gen, dtype, Pair{2, 2}));
}

Tensor InceptionB::forward(const Tensor& x) {
  Tensor b3 = (*b3x3_)(x);
  Tensor bd = (*b3dbl_3_)((*b3dbl_2_)((*b3dbl_1_)(x)));
  return cat({b3, bd, max_pool_3x3(x, 2, 0)}, 1);
}

FIDInceptionC::FIDInceptionC(int64_t in, int64_t channels_7x7, const InceptionWidths& w, Generator& gen,
                             DType dtype) {
  const int64_t c7 = w(channels_7x7);
  auto conv = [&](const char* name, int64_t cin, int64_t cout, Pair k, Pair pad) {
    return register_module(name, std::make_shared<BasicConv2d>(cin, cout, k, gen, dtype, Pair{1, 1}, pad));
  };
  const Pair k1x7{1, 7}, pad1x7{0, 3}, k7x1{7, 1}, pad7x1{3, 0};
  b1x1_ = conv("branch1x1", in, w(192), {1, 1}, {0, 0});
  b7_1_ = conv("branch7x7_1", in, c7, {1, 1}, {0, 0});
  b7_2_ = conv("branch7x7_2", c7, c7, k1x7, pad1x7);
  b7_3_ = conv("branch7x7_3", c7, w(192), k7x1, pad7x1);
  b7dbl_1_ = conv("branch7x7dbl_1", in, c7, {1, 1}, {0, 0});
  b7dbl_2_ = conv("branch7x7dbl_2", c7, c7, k7x1, pad7x1);
  b7dbl_3_ = conv("branch7x7dbl_3", c7, c7, k1x7, pad1x7);
  b7dbl_4_ = conv("branch7x7dbl_4", c7, c7, k7x1, pad7x1);
  b7dbl_5_ = conv("branch7x7dbl_5", c7, w(192), k1x7, pad1x7);
  pool_ = conv("branch_pool", in, w(192), {1, 1}, {0, 0});
}

Tensor FIDInceptionC::forward(const Tensor& x) {
  Tensor b1 = (*b1x1_)(x);
  Tensor b7 = (*b7_3_)((*b7_2_)((*b7_1_)(x)));
  Tensor bd = (*b7dbl_5_)((*b7dbl_4_)((*b7dbl_3_)((*b7dbl_2_)((*b7dbl_1_)(x)))));
  Tensor bp = (*pool_)(avg_pool_3x3_without_padding(x));
  return cat({b1, b7, bd, bp}, 1);
}

InceptionD::InceptionD(int64_t in, const InceptionWidths& w, Generator& gen, DType dtype) {
  auto conv = [&](const char* name, int64_t cin, int64_t cout, Pair k, Pair stride, Pair pad) {
    return register_module(name, std::make_shared<BasicConv2d>(cin, cout, k, gen, dtype, stride, pad));
  };
  b3_1_ = conv("branch3x3_1", in, w(192), {1, 1}, {1, 1}, {0, 0});
  b3_2_ = conv("branch3x3_2", w(192), w(320), {3, 3}, {2, 2}, {0, 0});
  b7_1_ = conv("branch7x7x3_1", in, w(192), {1, 1}, {1, 1}, {0, 0});
  b7_2_ = conv("branch7x7x3_2", w(192), w(192), {1, 7}, {1, 1}, {0, 3});
  b7_3_ = conv("branch7x7x3_3", w(192), w(192), {7, 1}, {1, 1}, {3, 0});
  b7_4_ = conv("branch7x7x3_4", w(192), w(192), {3, 3}, {2, 2}, {0, 0});
}

Tensor InceptionD::forward(const Tensor& x) {
  Tensor b3 = (*b3_2_)((*b3_1_)(x));
  Tensor b7 = (*b7_4_)((*b7_3_)((*b7_2_)((*b7_1_)(x))));
  return cat({b3, b7, max_pool_3x3(x, 2, 0)}, 1);
}

FIDInceptionE::FIDInceptionE(int64_t in, Pool pool, const InceptionWidths& w, Generator& gen, DType dtype)
    : pool_kind_(pool) {
  auto conv = [&](const char* name, int64_t cin, int64_t cout, Pair k, Pair pad) {
    return register_module(name, std::make_shared<BasicConv2d>(cin, cout, k, gen, dtype, Pair{1, 1}, pad));
  };
  b1x1_ = conv("branch1x1", in, w(320), {1, 1}, {0, 0});
  b3_1_ = conv("branch3x3_1", in, w(384), {1, 1}, {0, 0});
  b3_2a_ = conv("branch3x3_2a", w(384), w(384), {1, 3}, {0, 1});
  b3_2b_ = conv("branch3x3_2b", w(384), w(384), {3, 1}, {1, 0});
  b3dbl_1_ = conv("branch3x3dbl_1", in, w(448), {1, 1}, {0, 0});
  b3dbl_2_ = conv("branch3x3dbl_2", w(448), w(384), {3, 3}, {1, 1});
  b3dbl_3a_ = conv("branch3x3dbl_3a", w(384), w(384), {1, 3}, {0, 1});
  b3dbl_3b_ = conv("branch3x3dbl_3b", w(384), w(384), {3, 1}, {1, 0});
  pool_ = conv("branch_pool", in, w(192), {1, 1}, {0, 0});
}

Tensor FIDInceptionE::forward(const Tensor& x) {
  Tensor b1 = (*b1x1_)(x);
  Tensor t = (*b3_1_)(x);
  Tensor b3 = cat({(*b3_2a_)(t), (*b3_2b_)(t)}, 1);
  Tensor u = (*b3dbl_2_)((*b3dbl_1_)(x));
  Tensor bd = cat({(*b3dbl_3a_)(u), (*b3dbl_3b_)(u)}, 1);
  Tensor pooled = pool_kind_ == Pool::Max ? max_pool_3x3(x, 1, 1) : avg_pool_3x3_without_padding(x);
  return cat({b1, b3, bd, (*pool_)(pooled)}, 1);
}

// ---- the network -----------------------------------------------------------------------------

InceptionNet::InceptionNet(const InceptionWidths& w, Generator& gen, DType dtype) {
  ATEBM_CHECK(w.num_classes >= 1, "Inception: num_classes must be >= 1; got {}", w.num_classes);
  auto stem = [&](const char* name, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t pad) {
    return register_module(name, std::make_shared<BasicConv2d>(cin, cout, Pair{k, k}, gen, dtype,
                                                               Pair{stride, stride}, Pair{pad, pad}));
  };
  c1a_ = stem("Conv2d_1a_3x3", 3, w(32), 3, 2, 0);
  c2a_ = stem("Conv2d_2a_3x3", w(32), w(32), 3, 1, 0);
  c2b_ = stem("Conv2d_2b_3x3", w(32), w(64), 3, 1, 1);
  c3b_ = stem("Conv2d_3b_1x1", w(64), w(80), 1, 1, 0);
  c4a_ = stem("Conv2d_4a_3x3", w(80), w(192), 3, 1, 0);
  using E = FIDInceptionE::Pool;
  m5b_ = register_module("Mixed_5b", std::make_shared<FIDInceptionA>(w(192), 32, w, gen, dtype));
  m5c_ = register_module("Mixed_5c", std::make_shared<FIDInceptionA>(w(256), 64, w, gen, dtype));
  m5d_ = register_module("Mixed_5d", std::make_shared<FIDInceptionA>(w(288), 64, w, gen, dtype));
  m6a_ = register_module("Mixed_6a", std::make_shared<InceptionB>(w(288), w, gen, dtype));
  m6b_ = register_module("Mixed_6b", std::make_shared<FIDInceptionC>(w(768), 128, w, gen, dtype));
  m6c_ = register_module("Mixed_6c", std::make_shared<FIDInceptionC>(w(768), 160, w, gen, dtype));
  m6d_ = register_module("Mixed_6d", std::make_shared<FIDInceptionC>(w(768), 160, w, gen, dtype));
  m6e_ = register_module("Mixed_6e", std::make_shared<FIDInceptionC>(w(768), 192, w, gen, dtype));
  m7a_ = register_module("Mixed_7a", std::make_shared<InceptionD>(w(768), w, gen, dtype));
  m7b_ = register_module("Mixed_7b", std::make_shared<FIDInceptionE>(w(1280), E::AvgWithoutPadding, w, gen, dtype));
  m7c_ = register_module("Mixed_7c", std::make_shared<FIDInceptionE>(w(2048), E::Max, w, gen, dtype));
  fc_ = register_module("fc", std::make_shared<nn::Linear>(w(kPoolFeatures), w.num_classes, gen, true, dtype));
  eval();  // BatchNorm always uses its running statistics here
}

Tensor InceptionNet::forward(const Tensor& x) {
  Tensor h = (*c2b_)((*c2a_)((*c1a_)(x)));
  h = max_pool_3x3(h, 2, 0);
  h = (*c4a_)((*c3b_)(h));
  h = max_pool_3x3(h, 2, 0);
  for (const auto& block : {m5b_, m5c_, m5d_, m6a_, m6b_, m6c_, m6d_, m6e_, m7a_, m7b_, m7c_}) h = (*block)(h);
  return global_avg_pool2d(h);
}

InceptionOutputs InceptionNet::outputs(const Tensor& x) {
  Tensor pool = forward(x);
  return {pool, (*fc_)(pool)};
}

Tensor preprocess(const Tensor& images) {
  ATEBM_CHECK(images.dim() == 4 && images.size(1) == 3,
              "Inception: expected images [N, 3, H, W]; got shape {}", shape_str(images.shape()));
  Tensor x = images;
  if (x.size(2) != kInputSize || x.size(3) != kInputSize)
    x = resize_bilinear2d(x, kInputSize, kInputSize, /*align_corners=*/false, /*antialias=*/false);
  return x * 2.0 - 1.0;
}

}  // namespace atebm::at_ebm::inception
