#pragma once
// Per-image CPU transforms on raw float CHW buffers (values in [0, 1]). Deterministic pieces take
// their parameters; random ones draw them from the Generator they are given (see random_draw.h).
// None of them uses OpenMP: they run on the loader's worker threads, one image per call.
#include <cstdint>

#include "at_ebm/data/dataset.h"
#include "engine/generator.h"

namespace atebm::data {

/// 8-bit values → float in [0, 1] (v / 255).
void u8_to_float(const uint8_t* src, float* dst, int64_t n);

/// Replicates the single channel of `src` (shape 1×H×W) into 3 channels.
void grey_to_rgb(const float* src, int64_t h, int64_t w, float* dst);
/// ITU-R 601 luma, 0.299 R + 0.587 G + 0.114 B (PIL's convert("L")), of a 3×H×W image.
void rgb_to_grey(const float* src, int64_t h, int64_t w, float* dst);

/// Crop with zero padding: the image padded by `pad` zeros on every side, cut back to H × W at
/// offset (dy, dx) ∈ [0, 2·pad]², i.e. dst(y, x) = src(y + dy − pad, x + dx − pad) or 0 outside.
void pad_crop(const float* src, const ImageShape& s, int64_t pad, int64_t dy, int64_t dx, float* dst);
/// Mirrors every row in place (x → W − 1 − x).
void hflip(float* img, const ImageShape& s);

/// Random crop with zero padding: dy, dx uniform in [0, 2·pad] (two draws).
void random_pad_crop(const float* src, const ImageShape& s, int64_t pad, float* dst, Generator& g);
/// Mirrors with probability p (one draw).
void random_hflip(float* img, const ImageShape& s, Generator& g, double p = 0.5);

struct ResizedCropParams {
  double scale_lo = 0.08, scale_hi = 1.0;           // fraction of the image area
  double ratio_lo = 3.0 / 4.0, ratio_hi = 4.0 / 3.0; // width / height, drawn log-uniformly
};
struct CropBox {
  int64_t y = 0, x = 0, h = 0, w = 0;
};
/// torchvision's RandomResizedCrop box: up to 10 tries of (area, log-ratio), 2 draws each, and 2 more
/// for the position of a box that fits; else a centre crop with the ratio clamped into range.
CropBox sample_resized_crop(int64_t h, int64_t w, const ResizedCropParams& p, Generator& g);
/// The sampled box resized (bilinear, antialiased) back to the image's own size.
void random_resized_crop(const float* src, const ImageShape& s, const ResizedCropParams& p, float* dst,
                         Generator& g);

}  // namespace atebm::data
