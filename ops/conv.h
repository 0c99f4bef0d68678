#pragma once
// The conv trio: 2-D convolution and its two gradients, each a differentiable op whose
// backward is written with the other two (PyTorch's _convolution_double_backward reasoning),
// so derivatives of every order exist — R1 needs d/dθ of ∂f/∂x through every conv.
//
//   conv2d(x, w, b, p)                        x [N, C, H, W], w [K, C, kh, kw], b [K] or undefined
//                                             → y [N, K, Ho, Wo]
//   conv2d_grad_input(g, w, input_shape, p)   g [N, K, Ho, Wo] → dx [N, C, H, W] = ∂<y, g>/∂x
//   conv2d_grad_weight(x, g, weight_shape, p) → dw [K, C, kh, kw]            = ∂<y, g>/∂w
// with Ho = floor((H + 2·pad − dil·(kh − 1) − 1) / stride) + 1 (likewise Wo). With stride > 1
// several H give the same Ho, so the gradient ops take the shape they must return; input
// rows/cols no output reads get a zero gradient.
//
// Derivatives, from the adjoint identities <conv(x, w), g> = <x, grad_input(g, w)>
// = <w, grad_weight(x, g)> (all three are bilinear):
//   conv2d:             dx = grad_input(gy, w)   dw = grad_weight(x, gy)   db = Σ_{N,H,W} gy
//   grad_input(g, w):   dg = conv2d(gg, w)       dw = grad_weight(gg, g)     (gg: grad of dx)
//   grad_weight(x, g):  dx = grad_input(g, gg)   dg = conv2d(x, gg)          (gg: grad of dw)
//
// Only groups = 1 is implemented; the field is there so grouped convs have a place to go.
// CPU kernels: ops/cpu/conv_cpu.h (im2col + GEMM in tiles).
#include <array>
#include <cstdint>

#include "engine/tensor.h"

namespace atebm {

struct Conv2dParams {
  std::array<int64_t, 2> stride{1, 1};    // (h, w), >= 1
  std::array<int64_t, 2> padding{0, 0};   // zero padding on both sides, >= 0
  std::array<int64_t, 2> dilation{1, 1};  // >= 1
  int64_t groups = 1;                     // must be 1
};

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = {}, const Conv2dParams& p = {});
Tensor conv2d_grad_input(const Tensor& g, const Tensor& w, const Shape& input_shape, const Conv2dParams& p = {});
Tensor conv2d_grad_weight(const Tensor& x, const Tensor& g, const Shape& weight_shape, const Conv2dParams& p = {});

/// Output spatial size of one dim (the formula above); throws when it would be < 1.
int64_t conv2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dil);

}  // namespace atebm
