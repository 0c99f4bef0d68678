#include "at_ebm/io/image_grid.h"

#include <algorithm>
#include <cmath>

#include "at_ebm/io/png_write.h"
#include "engine/error.h"
#include "ops/ops.h"

namespace atebm::at_ebm {
namespace {

// A contiguous float32 CPU copy without history, after checking the [N, C, H, W] contract.
Tensor checked_images(const Tensor& images, const char* what) {
  ATEBM_CHECK(images.defined(), "{}: images are undefined", what);
  ATEBM_CHECK(images.dim() == 4, "{}: expected images [N, C, H, W], got shape {}", what, shape_str(images.shape()));
  ATEBM_CHECK(images.size(0) >= 1, "{}: no images (shape {})", what, shape_str(images.shape()));
  ATEBM_CHECK(images.size(1) == 1 || images.size(1) == 3, "{}: expected 1 or 3 channels, got shape {}", what,
              shape_str(images.shape()));
  ATEBM_CHECK(is_floating(images.dtype()), "{}: expected floating images, got dtype {}", what, images.dtype());
  return copy_to(detach(images), Device::cpu(), DType::Float32);
}

}  // namespace

uint8_t to_byte(double v) {
  if (std::isnan(v)) return 0;
  return static_cast<uint8_t>(std::clamp(v * 255.0 + 0.5, 0.0, 255.0));
}

GridImage make_grid(const Tensor& images, int64_t nrow, int64_t padding, double pad_value) {
  ATEBM_CHECK(nrow >= 1, "make_grid: nrow must be >= 1, got {}", nrow);
  ATEBM_CHECK(padding >= 0, "make_grid: padding must be >= 0, got {}", padding);
  const Tensor x = checked_images(images, "make_grid");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t cols = std::min(nrow, n), rows = (n + cols - 1) / cols;

  GridImage g;
  g.channels = c;
  g.height = rows * (h + padding) + padding;
  g.width = cols * (w + padding) + padding;
  g.pixels.assign(static_cast<size_t>(g.height * g.width * c), to_byte(pad_value));
  const float* src = x.data<float>();
  for (int64_t k = 0; k < n; ++k) {
    const int64_t top = (k / cols) * (h + padding) + padding, left = (k % cols) * (w + padding) + padding;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx)
          g.pixels[static_cast<size_t>(((top + y) * g.width + left + xx) * c + ch)] =
              to_byte(src[((k * c + ch) * h + y) * w + xx]);
  }
  return g;
}

void save_grid(const std::string& path, const Tensor& images, int64_t nrow, int64_t padding, double pad_value) {
  const GridImage g = make_grid(images, nrow, padding, pad_value);
  write_png(path, g.pixels.data(), g.width, g.height, g.channels);
}

Tensor comparison_rows(const std::vector<Tensor>& batches, int64_t ncol, double fill) {
  ATEBM_CHECK(!batches.empty(), "comparison_rows: no batches");
  ATEBM_CHECK(ncol >= 1, "comparison_rows: ncol must be >= 1, got {}", ncol);
  std::vector<Tensor> xs;
  for (const Tensor& b : batches) xs.push_back(checked_images(b, "comparison_rows"));
  for (size_t k = 1; k < xs.size(); ++k)
    ATEBM_CHECK(xs[k].shape() == xs[0].shape(), "comparison_rows: batch {} has shape {}, batch 0 has {}", k,
                shape_str(xs[k].shape()), shape_str(xs[0].shape()));

  const int64_t n = xs[0].size(0);
  Shape blank_shape = xs[0].shape();
  std::vector<Tensor> rows;
  for (int64_t first = 0; first < n; first += ncol) {
    const int64_t len = std::min(ncol, n - first);
    blank_shape[0] = ncol - len;
    for (const Tensor& x : xs) {
      rows.push_back(narrow(x, 0, first, len));
      if (len < ncol) rows.push_back(full(blank_shape, fill));
    }
  }
  return contiguous(cat(rows, 0));
}

void save_comparison_grid(const std::string& path, const std::vector<Tensor>& batches, int64_t ncol, int64_t padding,
                          double pad_value) {
  ATEBM_CHECK(!batches.empty() && batches[0].defined() && batches[0].dim() >= 1,
              "save_comparison_grid: expected at least one batch [N, C, H, W]");
  const int64_t cols = std::min(ncol, batches[0].size(0));
  save_grid(path, comparison_rows(batches, std::max<int64_t>(cols, 1), pad_value), std::max<int64_t>(cols, 1), padding,
            pad_value);
}

}  // namespace atebm::at_ebm
