#pragma once
// Image grids: a batch of images laid out in rows and columns, as torchvision's make_grid and
// save_image do, for sample pictures and before/after comparisons.
//
// Layout of make_grid(images [N, C, H, W], nrow, padding p, pad value v):
//   columns = min(nrow, N), rows = ceil(N / columns)
//   picture = (rows · (H + p) + p) × (columns · (W + p) + p), filled with v
//   image k goes to row k / columns, column k % columns, its top-left pixel at
//   (row · (H + p) + p, column · (W + p) + p)
// Values are clamped to [0, 1] and stored as bytes like save_image: ⌊clamp(x · 255 + 0.5, 0, 255)⌋
// (NaN → 0). C = 1 gives a grey picture, C = 3 an RGB one (torchvision turns grey into RGB;
// the grey PNG looks the same and is smaller).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace atebm::at_ebm {

/// An 8-bit picture, row-major with interleaved channels (HWC), ready for write_png.
struct GridImage {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // height · width · channels bytes
  uint8_t at(int64_t y, int64_t x, int64_t c = 0) const {
    return pixels[static_cast<size_t>((y * width + x) * channels + c)];
  }
};

/// The byte save_image stores for the value v ∈ [0, 1] (clamped; NaN → 0).
uint8_t to_byte(double v);

/// The grid picture of `images` ([N, C, H, W], N ≥ 1, C ∈ {1, 3}, any float dtype and device).
GridImage make_grid(const Tensor& images, int64_t nrow = 8, int64_t padding = 2, double pad_value = 0.0);

/// make_grid written as a PNG (atomically, see write_png).
void save_grid(const std::string& path, const Tensor& images, int64_t nrow = 8, int64_t padding = 2,
               double pad_value = 0.0);

/// Comparison rows: K batches of the same shape [N, C, H, W] (e.g. before / after) arranged so
/// that each block of `ncol` columns shows batch 0's images in one row, batch 1's in the row below,
/// and so on; then the next `ncol` images in the next block of K rows. Slots past N in the last
/// block hold images of value `fill`. Returns [blocks · K · ncol, C, H, W] for make_grid(·, ncol)
/// with blocks = ceil(N / ncol).
Tensor comparison_rows(const std::vector<Tensor>& batches, int64_t ncol, double fill = 0.0);

/// save_grid(path, comparison_rows(batches, ncol, pad_value), ncol, padding, pad_value), with
/// ncol = min(ncol, N).
void save_comparison_grid(const std::string& path, const std::vector<Tensor>& batches, int64_t ncol = 8,
                          int64_t padding = 2, double pad_value = 0.0);

}  // namespace atebm::at_ebm
