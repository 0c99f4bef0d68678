#include "at_ebm/io/mask.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "at_ebm/data/file_bytes.h"
#include "at_ebm/data/image_decode.h"
#include "at_ebm/data/parse_util.h"
#include "at_ebm/data/random_draw.h"
#include "engine/error.h"
#include "engine/factories.h"

namespace atebm::at_ebm {
namespace {

constexpr const char* kMaskForm = "centre[:FRACTION], random[:FRACTION] or a PNG/JPEG/BMP file, FRACTION in (0, 1]";

void check_size(int64_t height, int64_t width, const char* what) {
  ATEBM_CHECK(height >= 1 && width >= 1, "{}: image size must be at least 1x1, got {}x{}", what, height, width);
}

void check_fraction(double fraction, const char* what) {
  ATEBM_CHECK(fraction > 0.0 && fraction <= 1.0, "{}: the box fraction must be in (0, 1], got {}", what, fraction);
}

// Side of the box along an image side of `side` pixels.
int64_t box_side(int64_t side, double fraction) {
  return std::clamp<int64_t>(std::llround(fraction * static_cast<double>(side)), 1, side);
}

void fill_box(float* mask, int64_t width, int64_t top, int64_t left, int64_t bh, int64_t bw) {
  for (int64_t y = top; y < top + bh; ++y) std::fill(mask + y * width + left, mask + y * width + left + bw, 1.0f);
}

double parse_fraction(const std::string& text, const std::string& value) {
  const double f = data::parse_double(value, fmt::format("mask \"{}\" (expected {})", text, kMaskForm));
  ATEBM_CHECK(f > 0.0 && f <= 1.0, "mask \"{}\": fraction {} is outside (0, 1]; expected {}", text, f, kMaskForm);
  return f;
}

}  // namespace

MaskSpec parse_mask_spec(const std::string& text) {
  ATEBM_CHECK(!text.empty(), "mask: empty; expected {}", kMaskForm);
  const size_t colon = text.find(':');
  const std::string head = text.substr(0, colon);
  MaskSpec spec;
  if (head == "centre" || head == "center" || head == "random") {
    spec.kind = head == "random" ? MaskSpec::Kind::Random : MaskSpec::Kind::Centre;
    if (colon != std::string::npos) spec.fraction = parse_fraction(text, text.substr(colon + 1));
    return spec;
  }
  ATEBM_CHECK(data::has_image_extension(text), "mask \"{}\": not a box kind nor an image file name; expected {}", text,
              kMaskForm);
  spec.kind = MaskSpec::Kind::File;
  spec.path = text;
  return spec;
}

Tensor centre_box_mask(int64_t height, int64_t width, double fraction) {
  check_size(height, width, "centre_box_mask");
  check_fraction(fraction, "centre_box_mask");
  Tensor mask = zeros({1, 1, height, width});
  const int64_t bh = box_side(height, fraction), bw = box_side(width, fraction);
  fill_box(mask.data<float>(), width, (height - bh) / 2, (width - bw) / 2, bh, bw);
  return mask;
}

Tensor random_box_masks(int64_t n, int64_t height, int64_t width, double fraction, Generator& gen) {
  ATEBM_CHECK(n >= 1, "random_box_masks: need at least one image, got n = {}", n);
  check_size(height, width, "random_box_masks");
  check_fraction(fraction, "random_box_masks");
  Tensor mask = zeros({n, 1, height, width});
  const int64_t bh = box_side(height, fraction), bw = box_side(width, fraction);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = data::draw_int(gen, 0, height - bh);
    const int64_t left = data::draw_int(gen, 0, width - bw);
    fill_box(mask.data<float>() + i * height * width, width, top, left, bh, bw);
  }
  return mask;
}

Tensor mask_from_image(const std::string& path, int64_t height, int64_t width) {
  check_size(height, width, "mask_from_image");
  const std::vector<uint8_t> bytes = data::read_file_bytes(path);
  data::ImageInfo info;
  const std::vector<uint8_t> rgb = data::decode_image(bytes.data(), bytes.size(), 3, "mask " + path, &info);
  Tensor mask = zeros({1, 1, height, width});
  float* m = mask.data<float>();
  for (int64_t y = 0; y < height; ++y) {
    const int64_t sy = y * info.height / height;
    for (int64_t x = 0; x < width; ++x) {
      const int64_t sx = x * info.width / width;
      const uint8_t* px = rgb.data() + (sy * info.width + sx) * 3;
      m[y * width + x] = (px[0] | px[1] | px[2]) != 0 ? 1.0f : 0.0f;
    }
  }
  return mask;
}

Tensor make_mask(const MaskSpec& spec, int64_t n, int64_t height, int64_t width, Generator& gen) {
  switch (spec.kind) {
    case MaskSpec::Kind::Centre: return centre_box_mask(height, width, spec.fraction);
    case MaskSpec::Kind::Random: return random_box_masks(n, height, width, spec.fraction, gen);
    case MaskSpec::Kind::File: return mask_from_image(spec.path, height, width);
  }
  ATEBM_FAIL("make_mask: unknown mask kind");
}

}  // namespace atebm::at_ebm
