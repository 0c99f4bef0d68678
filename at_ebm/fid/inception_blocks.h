#pragma once
// The building blocks of the FID Inception-v3 (see inception.h) and the network itself, as
// nn::Modules whose children carry pytorch-fid's state-dict names. Every block maps NCHW to NCHW
// and concatenates its branches along C in pytorch-fid's order.
//
// InceptionWidths::divisor divides every channel count but the 3 input channels (1 = the real
// network). The tests build a thin copy (divisor 16) with the real wiring, kernels, strides,
// paddings and spatial sizes, so that the whole network can be checked against PyTorch with a
// fixture small enough to commit.
//
// Spatial sizes of the real network (299 input): stem 299 → 149 → 147 → 147 → pool 73 → 73 → 71
// → pool 35; Mixed_5b..5d 35 (256, 288, 288 channels); Mixed_6a 35 → 17 (768); Mixed_6b..6e 17;
// Mixed_7a 17 → 8 (1280); Mixed_7b, 7c 8 (2048); global average pool → [N, 2048]; fc → 1008.
#include <array>
#include <memory>

#include "at_ebm/fid/inception.h"
#include "engine/generator.h"
#include "nn/layers/layers.h"
#include "nn/module.h"

namespace atebm::at_ebm::inception {

inline constexpr int64_t kInputSize = 299;
inline constexpr int64_t kPoolFeatures = 2048;
inline constexpr int64_t kNumClasses = 1008;
inline constexpr double kBatchNormEps = 1e-3;

struct InceptionWidths {
  int64_t divisor = 1;               // must divide every channel count (16 does)
  int64_t num_classes = kNumClasses;  // fc outputs

  /// A channel count of the real network, divided (throws when `divisor` does not divide it).
  int64_t operator()(int64_t channels) const;
};

using Pair = std::array<int64_t, 2>;  // (height, width)

/// A bias-free convolution with a kh×kw kernel: weight [out, in, kh, kw]. (nn::Conv2d has square
/// kernels only; the 1×7 / 7×1 and 1×3 / 3×1 factorised kernels need pairs.) Default PyTorch
/// initialisation: U(±1/√fan_in), fan_in = in·kh·kw.
class KernelConv2d final : public nn::Module {
 public:
  KernelConv2d(int64_t in, int64_t out, Pair kernel, Pair stride, Pair padding, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  Tensor weight;

 private:
  Pair stride_, padding_;
};

/// conv (no bias) → BatchNorm (eps 0.001, running statistics) → ReLU; children "conv" and "bn".
class BasicConv2d final : public nn::Module {
 public:
  BasicConv2d(int64_t in, int64_t out, Pair kernel, Generator& gen, DType dtype, Pair stride = {1, 1},
              Pair padding = {0, 0});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicConv2d"; }

 private:
  std::shared_ptr<KernelConv2d> conv_;
  std::shared_ptr<nn::BatchNorm2d> bn_;
};

/// Mixed_5b..5d: [N, in, H, W] → [N, 64 + 64 + 96 + pool_features (divided), H, W]. The pool
/// branch averages 3×3 windows without counting the zero padding (TensorFlow's average pool).
class FIDInceptionA final : public nn::Module {
 public:
  FIDInceptionA(int64_t in, int64_t pool_features, const InceptionWidths& w, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "FIDInceptionA"; }

 private:
  std::shared_ptr<BasicConv2d> b1x1_, b5x5_1_, b5x5_2_, b3dbl_1_, b3dbl_2_, b3dbl_3_, pool_;
};

/// Mixed_6a, grid reduction: [N, in, H, W] → [N, 384 + 96 (divided) + in, (H−3)/2 + 1, ...]; the
/// pool branch is a 3×3 stride-2 max pool of the input.
class InceptionB final : public nn::Module {
 public:
  InceptionB(int64_t in, const InceptionWidths& w, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "InceptionB"; }

 private:
  std::shared_ptr<BasicConv2d> b3x3_, b3dbl_1_, b3dbl_2_, b3dbl_3_;
};

/// Mixed_6b..6e: factorised 7×7 convolutions (1×7 pad (0, 3), 7×1 pad (3, 0)); [N, in, H, W] →
/// [N, 4·192 (divided), H, W]; the pool branch as in FIDInceptionA.
class FIDInceptionC final : public nn::Module {
 public:
  FIDInceptionC(int64_t in, int64_t channels_7x7, const InceptionWidths& w, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "FIDInceptionC"; }

 private:
  std::shared_ptr<BasicConv2d> b1x1_, b7_1_, b7_2_, b7_3_, b7dbl_1_, b7dbl_2_, b7dbl_3_, b7dbl_4_, b7dbl_5_, pool_;
};

/// Mixed_7a, grid reduction: [N, in, H, W] → [N, 320 + 192 (divided) + in, (H−3)/2 + 1, ...].
class InceptionD final : public nn::Module {
 public:
  InceptionD(int64_t in, const InceptionWidths& w, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "InceptionD"; }

 private:
  std::shared_ptr<BasicConv2d> b3_1_, b3_2_, b7_1_, b7_2_, b7_3_, b7_4_;
};

/// Mixed_7b (FIDInceptionE_1: pool = AvgWithoutPadding) and Mixed_7c (FIDInceptionE_2: pool =
/// Max, a 3×3 stride-1 pad-1 max pool, as in the TensorFlow graph pytorch-fid ported):
/// [N, in, H, W] → [N, 320 + 2·384 + 2·384 + 192 (divided), H, W].
class FIDInceptionE final : public nn::Module {
 public:
  enum class Pool { AvgWithoutPadding, Max };
  FIDInceptionE(int64_t in, Pool pool, const InceptionWidths& w, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return pool_kind_ == Pool::Max ? "FIDInceptionE_2" : "FIDInceptionE_1"; }

 private:
  Pool pool_kind_;
  std::shared_ptr<BasicConv2d> b1x1_, b3_1_, b3_2a_, b3_2b_, b3dbl_1_, b3dbl_2_, b3dbl_3a_, b3dbl_3b_, pool_;
};

/// The network after preprocessing: [N, 3, H, W] in [−1, 1] (299×299 for the real thing) →
/// pool [N, 2048/divisor] and logits [N, num_classes]. forward() returns the pool features.
class InceptionNet final : public nn::Module {
 public:
  InceptionNet(const InceptionWidths& w, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x) override;
  InceptionOutputs outputs(const Tensor& x);
  std::string type_name() const override { return "FIDInceptionV3"; }

 private:
  std::shared_ptr<BasicConv2d> c1a_, c2a_, c2b_, c3b_, c4a_;
  std::shared_ptr<nn::Module> m5b_, m5c_, m5d_, m6a_, m6b_, m6c_, m6d_, m6e_, m7a_, m7b_, m7c_;
  std::shared_ptr<nn::Linear> fc_;
};

/// pytorch-fid's input pipeline: [N, 3, H, W] in [0, 1] → [N, 3, 299, 299] in [−1, 1], i.e.
/// F.interpolate(x, (299, 299), mode='bilinear', align_corners=False) (no antialiasing), then
/// 2x − 1. A 299×299 input is not resampled (that resize is the identity).
Tensor preprocess(const Tensor& images);

}  // namespace atebm::at_ebm::inception
