#pragma once
// Image resizing on NCHW tensors (float32 / float64, CPU): x [N, C, H, W] → [N, C, out_h, out_w],
// out_h, out_w ≥ 1.
//
// Derivatives:
//   upsample_nearest2d is index_select on the flattened planes, so it has derivatives of any
//   order (index_select ↔ index_add).
//   resize_bilinear2d ↔ resize_bilinear2d_grad form a closed pair like avg_pool2d: both are
//   linear maps and each is the other's adjoint, so each one's backward is the other and every
//   order works. (Image pipelines need only the first order; the pair costs nothing extra.)
#include "engine/tensor.h"

namespace atebm {

/// PyTorch's mode 'nearest': out[.., oy, ox] = x[.., floor(oy·H/out_h), floor(ox·W/out_w)].
/// The index is computed exactly in integers (PyTorch rounds in/out to float first, which can
/// pick the neighbouring pixel in rare ratios).
Tensor upsample_nearest2d(const Tensor& x, int64_t out_h, int64_t out_w);

/// Bilinear resize, PyTorch's F.interpolate(mode='bilinear') conventions: with
/// align_corners = false sample points sit at half-pixel centres, src = (dst + 0.5)·in/out − 0.5
/// (clamped at the border); with align_corners = true, src = dst·(in − 1)/(out − 1).
/// antialias = true (torchvision / PIL style): when shrinking an axis, a triangle filter whose
/// width grows with the scale factor averages every input pixel the output pixel covers
/// (plain bilinear would alias); enlarging is unchanged.
Tensor resize_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners = false,
                         bool antialias = false);

/// The gradient of resize_bilinear2d with respect to its input: g [N, C, out_h, out_w] →
/// [input_shape] (= [N, C, H, W]), for the same align_corners / antialias.
Tensor resize_bilinear2d_grad(const Tensor& g, const Shape& input_shape, bool align_corners = false,
                              bool antialias = false);

}  // namespace atebm
