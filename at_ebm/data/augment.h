#pragma once
// The augmentation a loader applies to every sample, in this order: random resized crop, random
// crop with zero padding, horizontal flip. The paper's CIFAR-10 recipe is crop (pad 4) + flip on
// both the real and the p0 stream.
//
// Text form (for command lines), comma-separated, "" or "none" for nothing:
//   crop=P            random crop with P pixels of zero padding
//   flip              horizontal flip with probability 0.5
//   rrc[=S0:S1[:R0:R1]]  random resized crop, area scale in [S0, S1] (default 0.08:1) and
//                     aspect ratio in [R0, R1] (default 0.75:1.3333)
// e.g. "crop=4,flip".
#include <cstdint>
#include <optional>
#include <string>

#include "at_ebm/data/dataset.h"
#include "at_ebm/data/transforms.h"
#include "engine/generator.h"

namespace atebm::data {

struct Augment {
  int64_t crop_pad = 0;                           // > 0: random crop with this zero padding
  bool hflip = false;
  std::optional<ResizedCropParams> resized_crop;  // output size = input size

  bool any() const { return crop_pad > 0 || hflip || resized_crop.has_value(); }
};

/// Parses the text form above; throws atebm::Error quoting the text and the expected form.
Augment parse_augment(const std::string& text);
/// The text form of `a` (round-trips through parse_augment).
std::string augment_str(const Augment& a);

/// Augments `img` (shape s) in place; `scratch` holds at least s.numel() floats.
void apply_augment(const Augment& a, float* img, float* scratch, const ImageShape& s, Generator& g);

}  // namespace atebm::data
