#pragma once
// Differentiable 2-D pooling on NCHW tensors (float32 / float64, CPU). Every op here has
// derivatives of any order:
//   avg_pool2d ↔ avg_pool2d_grad   a closed pair: both are linear and each one's backward is the
//                                  other (the adjoint), like sum_to ↔ expand;
//   max_pool2d                     finds the indices with a raw kernel (a constant of the graph)
//                                  and routes gradients with scatter_add ↔ gather;
//   global_avg_pool2d              mean over H and W.
//
// Shapes: x [N, C, H, W] → [N, C, OH, OW] with (floor mode, no ceil_mode)
//   OH = floor((H + 2·padding[0] − dilation[0]·(kernel[0] − 1) − 1) / stride[0]) + 1,  OW likewise.
// Parameters are {height, width} pairs: kernel ≥ 1, stride ≥ 1, 0 ≤ padding ≤ kernel / 2 (as in
// PyTorch, so no window lies entirely in the padding), dilation ≥ 1, and OH, OW ≥ 1; anything else
// throws an atebm::Error naming the op, the input shape and the parameters.
#include <array>
#include <cstdint>

#include "engine/tensor.h"
#include "ops/reduce.h"

namespace atebm {

/// Mean over each kernel window. With count_include_pad the padding counts as zeros in the mean
/// (divide by kernel[0]·kernel[1]); without it only in-bounds elements are averaged.
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding, bool count_include_pad = true);

/// The gradient of avg_pool2d with respect to its input: g [N, C, OH, OW] → [input_shape]
/// (= [N, C, H, W]). g's shape must be the avg_pool2d output shape of input_shape.
Tensor avg_pool2d_grad(const Tensor& g, const Shape& input_shape, std::array<int64_t, 2> kernel,
                       std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                       bool count_include_pad = true);

/// x [N, C, H, W] → [N, C]: the mean over each channel plane.
Tensor global_avg_pool2d(const Tensor& x);

/// Max over each (dilated) window; padding acts as −inf. Returns the values (differentiable in
/// x) and int64 indices of the same shape: the flat position ih·W + iw of the maximum inside its
/// channel plane (PyTorch's convention). Ties pick the first position in window order; the
/// gradient goes to that position only.
ValuesIndices max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                         std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation = {1, 1});

}  // namespace atebm
