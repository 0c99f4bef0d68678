#pragma once
// Bilinear resizing of float CHW images, antialiased when shrinking (the triangle filter widened
// by the scale factor, as PIL's BILINEAR and torchvision's antialias=True do), so that CIFAR's
// 32×32 images become clean 28×28 inputs instead of aliased ones.
//
// Pixel centres sit at half-integers (align_corners = false). Output pixel o along an axis maps
// to source coordinate x0 + (o + 0.5)·scale with scale = source length / output length; source
// pixel j gets weight tri((j + 0.5 − centre) / s), s = max(scale, 1) with antialias (else 1),
// tri(t) = max(0, 1 − |t|), over the pixels inside the source box, normalised to sum 1. So a
// constant image stays exactly constant and upsampling is plain bilinear with edge clamping.
#include <cstdint>

#include "at_ebm/data/dataset.h"

namespace atebm::data {

/// Resizes the whole image `src` (shape `in`) to out_h × out_w into `dst` (in.c channels).
void resize_bilinear(const float* src, const ImageShape& in, float* dst, int64_t out_h, int64_t out_w,
                     bool antialias = true);

/// Resizes the box rows [y0, y0 + h) × cols [x0, x0 + w) of `src` to out_h × out_w (crop + resize,
/// without reading pixels outside the box). The box must lie inside the image.
void resize_region(const float* src, const ImageShape& in, int64_t y0, int64_t x0, int64_t h, int64_t w,
                   float* dst, int64_t out_h, int64_t out_w, bool antialias = true);

}  // namespace atebm::data
