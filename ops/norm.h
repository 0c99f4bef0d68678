#pragma once
// Batch normalisation (float32 / float64, CPU), differentiable to any order in x, weight and bias.
//
// Shapes: x [N, C, H, W] or [N, C]; weight, bias, running_mean, running_var [C] (x's dtype and
// device). weight / bias may be undefined (then 1 / 0); the running buffers are both defined or
// both undefined.
//
// Evaluation mode (training = false; the paper keeps BN here during training, so it is the hot
// path): y = x · scale + shift per channel with scale = weight / √(running_var + eps) and
// shift = bias − running_mean · scale. The forward is one fused kernel pass; the backward is
// written with broadcasting mul / sum, so R1's double backward works through it. The running
// buffers are constants (never differentiated) and must be defined.
//
// Training mode: normalises with the batch statistics over every dim but C (biased variance),
// composed from mean / sub / mul / rsqrt so all derivatives flow through the statistics. When
// the running buffers are defined they are updated in place, outside autograd, with PyTorch's
// rule: running_mean = (1 − momentum)·running_mean + momentum·mean and
// running_var = (1 − momentum)·running_var + momentum·var·n/(n − 1) (unbiased, n = N·H·W); their
// version is bumped. Training needs n > 1.
#include "engine/tensor.h"

namespace atebm {

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace atebm
