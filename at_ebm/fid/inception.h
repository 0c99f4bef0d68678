#pragma once
// Inception-v3 as used for FID: the `pt_inception-2015-12-05` network of pytorch-fid (the
// TensorFlow FID Inception ported to PyTorch), built from the engine's ops. Its FID-specific
// blocks differ from torchvision's Inception-v3: FIDInceptionA/C/E_1 average-pool with
// count_include_pad = False, and FIDInceptionE_2 max-pools in its pool branch; every
// BasicConv2d is conv (no bias) → BatchNorm (eps 0.001, eval) → ReLU.
//
// Input: [N, 3, H, W] images in [0, 1] (any size); they are resized to 299×299 (bilinear, see
// inception.cpp for the convention) and scaled to [−1, 1] inside features().
// Output: the 2048-d pool features (after the global average pool) and the 1008-way logits of
// the final fc layer (for the Inception Score).
//
// Parameter names follow pytorch-fid's FIDInceptionV3 state dict (Conv2d_1a_3x3.conv.weight,
// Conv2d_1a_3x3.bn.running_mean, Mixed_5b.branch1x1.conv.weight, ..., fc.weight, fc.bias), so
// the weights come from a safetensors conversion of pytorch-fid's weight file
// (tools/convert_inception.py).
#include <memory>
#include <string>

#include "engine/tensor.h"
#include "nn/module.h"

namespace atebm::at_ebm {

struct InceptionOutputs {
  Tensor pool;    // [N, 2048]
  Tensor logits;  // [N, 1008]
};

class InceptionV3 {
 public:
  /// Loads the weights strictly from a safetensors file (names as above); throws atebm::Error
  /// naming the file when it is missing or does not hold exactly the expected tensors.
  static std::unique_ptr<InceptionV3> load(const std::string& path, DType dtype = DType::Float32);
  /// The network with PyTorch-default random weights (tests).
  static std::unique_ptr<InceptionV3> random(uint64_t seed, DType dtype = DType::Float32);
  virtual ~InceptionV3() = default;

  /// Features of a batch of images in [0, 1] (no autograd graph is recorded).
  virtual InceptionOutputs features(const Tensor& images) = 0;
  /// The underlying module (state dict, device moves).
  virtual nn::Module& module() = 0;
};

}  // namespace atebm::at_ebm
