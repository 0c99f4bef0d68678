#include "at_ebm/data/array_dataset.h"

#include <cstring>

#include "engine/error.h"

namespace atebm::data {

void stored_to_chw(const uint8_t* src, PixelType type, PixelLayout layout, const ImageShape& s,
                   float* dst) {
  const int64_t C = s.c, H = s.h, W = s.w;
  // Source element index of (c, y, x) for each layout; see the header.
  auto at = [&](int64_t c, int64_t y, int64_t x) -> int64_t {
    switch (layout) {
      case PixelLayout::CHW: return (c * H + y) * W + x;
      case PixelLayout::HWC: return (y * W + x) * C + c;
      case PixelLayout::CWH: return (c * W + x) * H + y;
    }
    return 0;
  };
  constexpr float kInv255 = 1.0f / 255.0f;
  if (type == PixelType::U8 && layout == PixelLayout::CHW) {
    for (int64_t k = 0; k < C * H * W; ++k) dst[k] = static_cast<float>(src[k]) * kInv255;
    return;
  }
  if (type == PixelType::F32 && layout == PixelLayout::CHW) {
    std::memcpy(dst, src, static_cast<size_t>(C * H * W) * sizeof(float));
    return;
  }
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const int64_t k = at(c, y, x);
        float v;
        if (type == PixelType::U8) {
          v = static_cast<float>(src[k]) * kInv255;
        } else {
          std::memcpy(&v, src + k * 4, 4);
        }
        dst[(c * H + y) * W + x] = v;
      }
}

ArrayDataset::ArrayDataset(ArrayDesc desc) : d_(std::move(desc)) {
  ATEBM_CHECK(d_.count > 0, "{}: contains no images", d_.name);
  ATEBM_CHECK(d_.shape.c > 0 && d_.shape.h > 0 && d_.shape.w > 0, "{}: bad image shape {}", d_.name,
              shape_str(d_.shape));
  const size_t item = d_.type == PixelType::U8 ? 1 : 4;
  ATEBM_CHECK(d_.stride >= static_cast<size_t>(d_.shape.numel()) * item,
              "{}: internal error: image stride {} smaller than an image", d_.name, d_.stride);
  ATEBM_CHECK(d_.labels.empty() || static_cast<int64_t>(d_.labels.size()) == d_.count,
              "{}: {} labels for {} images", d_.name, d_.labels.size(), d_.count);
  for (size_t i = 0; i < d_.labels.size(); ++i)
    ATEBM_CHECK(d_.labels[i] >= 0 && d_.labels[i] < d_.num_classes,
                "{}: label {} of image {} is outside [0, {})", d_.name, d_.labels[i], i, d_.num_classes);
  if (d_.labels.empty()) d_.num_classes = 0;
}

int64_t ArrayDataset::get_into(int64_t i, float* out) const {
  check_index(i);
  stored_to_chw(d_.base + static_cast<size_t>(i) * d_.stride, d_.type, d_.layout, d_.shape, out);
  return d_.labels.empty() ? -1 : d_.labels[static_cast<size_t>(i)];
}

std::shared_ptr<const void> own_bytes(std::vector<uint8_t>&& bytes, const uint8_t** base) {
  auto owner = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  *base = owner->data();
  return owner;
}

}  // namespace atebm::data
