#include "at_ebm/data/augment.h"

#include <cstring>
#include <vector>

#include "at_ebm/data/parse_util.h"
#include "engine/error.h"

namespace atebm::data {

namespace {
constexpr const char* kAugmentForm =
    "comma-separated items among crop=PAD, flip, rrc[=S0:S1[:R0:R1]] (e.g. \"crop=4,flip\"), or \"none\"";
}

Augment parse_augment(const std::string& text) {
  Augment a;
  if (text.empty() || text == "none") return a;
  for (const std::string& item : split(text, ',')) {
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq), val = eq == std::string::npos ? "" : item.substr(eq + 1);
    const std::string ctx = fmt::format("augmentation \"{}\"", text);
    if (key == "crop") {
      ATEBM_CHECK(eq != std::string::npos, "{}: crop needs its padding, e.g. crop=4 (expected {})", ctx, kAugmentForm);
      a.crop_pad = parse_int(val, ctx + " crop padding", 0, 1 << 20);
    } else if (key == "flip" && eq == std::string::npos) {
      a.hflip = true;
    } else if (key == "rrc") {
      ResizedCropParams p;
      if (eq != std::string::npos) {
        const auto v = split(val, ':');
        ATEBM_CHECK(v.size() == 2 || v.size() == 4, "{}: rrc takes S0:S1 or S0:S1:R0:R1, got \"{}\"", ctx, val);
        p.scale_lo = parse_double(v[0], ctx + " rrc scale");
        p.scale_hi = parse_double(v[1], ctx + " rrc scale");
        if (v.size() == 4) {
          p.ratio_lo = parse_double(v[2], ctx + " rrc ratio");
          p.ratio_hi = parse_double(v[3], ctx + " rrc ratio");
        }
      }
      ATEBM_CHECK(p.scale_lo > 0 && p.scale_lo <= p.scale_hi && p.scale_hi <= 1 && p.ratio_lo > 0 &&
                      p.ratio_lo <= p.ratio_hi,
                  "{}: rrc needs 0 < S0 <= S1 <= 1 and 0 < R0 <= R1", ctx);
      a.resized_crop = p;
    } else {
      ATEBM_FAIL("{}: unknown item \"{}\" (expected {})", ctx, item, kAugmentForm);
    }
  }
  return a;
}

std::string augment_str(const Augment& a) {
  std::vector<std::string> items;
  if (a.resized_crop) {
    const auto& p = *a.resized_crop;
    items.push_back(fmt::format("rrc={}:{}:{}:{}", p.scale_lo, p.scale_hi, p.ratio_lo, p.ratio_hi));
  }
  if (a.crop_pad > 0) items.push_back(fmt::format("crop={}", a.crop_pad));
  if (a.hflip) items.push_back("flip");
  return items.empty() ? "none" : fmt::format("{}", fmt::join(items, ","));
}

void apply_augment(const Augment& a, float* img, float* scratch, const ImageShape& s, Generator& g) {
  const size_t bytes = static_cast<size_t>(s.numel()) * sizeof(float);
  if (a.resized_crop) {
    random_resized_crop(img, s, *a.resized_crop, scratch, g);
    std::memcpy(img, scratch, bytes);
  }
  if (a.crop_pad > 0) {
    random_pad_crop(img, s, a.crop_pad, scratch, g);
    std::memcpy(img, scratch, bytes);
  }
  if (a.hflip) random_hflip(img, s, g);
}

}  // namespace atebm::data
