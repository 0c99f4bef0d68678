#include "at_ebm/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "at_ebm/data/random_draw.h"
#include "at_ebm/data/resize.h"
#include "engine/error.h"

namespace atebm::data {

void u8_to_float(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]) * (1.0f / 255.0f);
}

void grey_to_rgb(const float* src, int64_t h, int64_t w, float* dst) {
  for (int c = 0; c < 3; ++c) std::memcpy(dst + c * h * w, src, static_cast<size_t>(h * w) * sizeof(float));
}

void rgb_to_grey(const float* src, int64_t h, int64_t w, float* dst) {
  const int64_t n = h * w;
  for (int64_t k = 0; k < n; ++k) dst[k] = 0.299f * src[k] + 0.587f * src[n + k] + 0.114f * src[2 * n + k];
}

void pad_crop(const float* src, const ImageShape& s, int64_t pad, int64_t dy, int64_t dx, float* dst) {
  ATEBM_CHECK(pad >= 0 && dy >= 0 && dx >= 0 && dy <= 2 * pad && dx <= 2 * pad,
              "pad_crop: offsets ({}, {}) must lie in [0, {}]", dy, dx, 2 * pad);
  const int64_t sy = dy - pad, sx = dx - pad;  // source offset of dst(0, 0)
  for (int64_t c = 0; c < s.c; ++c)
    for (int64_t y = 0; y < s.h; ++y) {
      float* drow = dst + (c * s.h + y) * s.w;
      const int64_t yy = y + sy;
      if (yy < 0 || yy >= s.h) {
        std::fill(drow, drow + s.w, 0.0f);
        continue;
      }
      const float* srow = src + (c * s.h + yy) * s.w;
      for (int64_t x = 0; x < s.w; ++x) {
        const int64_t xx = x + sx;
        drow[x] = (xx >= 0 && xx < s.w) ? srow[xx] : 0.0f;
      }
    }
}

void hflip(float* img, const ImageShape& s) {
  for (int64_t r = 0; r < s.c * s.h; ++r) std::reverse(img + r * s.w, img + (r + 1) * s.w);
}

void random_pad_crop(const float* src, const ImageShape& s, int64_t pad, float* dst, Generator& g) {
  const int64_t dy = draw_int(g, 0, 2 * pad), dx = draw_int(g, 0, 2 * pad);
  pad_crop(src, s, pad, dy, dx, dst);
}

void random_hflip(float* img, const ImageShape& s, Generator& g, double p) {
  if (draw_uniform(g) < p) hflip(img, s);
}

CropBox sample_resized_crop(int64_t h, int64_t w, const ResizedCropParams& p, Generator& g) {
  ATEBM_CHECK(p.scale_lo > 0 && p.scale_lo <= p.scale_hi && p.ratio_lo > 0 && p.ratio_lo <= p.ratio_hi,
              "random resized crop: bad ranges scale [{}, {}] ratio [{}, {}]", p.scale_lo, p.scale_hi, p.ratio_lo,
              p.ratio_hi);
  const double area = static_cast<double>(h) * static_cast<double>(w);
  const double lr0 = std::log(p.ratio_lo), lr1 = std::log(p.ratio_hi);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (p.scale_lo + (p.scale_hi - p.scale_lo) * draw_uniform(g));
    const double ratio = std::exp(lr0 + (lr1 - lr0) * draw_uniform(g));
    const auto cw = static_cast<int64_t>(std::llround(std::sqrt(target * ratio)));
    const auto ch = static_cast<int64_t>(std::llround(std::sqrt(target / ratio)));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      const int64_t y = draw_int(g, 0, h - ch), x = draw_int(g, 0, w - cw);
      return {y, x, ch, cw};
    }
  }
  const double in_ratio = static_cast<double>(w) / static_cast<double>(h);
  int64_t cw = w, ch = h;
  if (in_ratio < p.ratio_lo) {
    ch = std::clamp<int64_t>(std::llround(static_cast<double>(w) / p.ratio_lo), 1, h);
  } else if (in_ratio > p.ratio_hi) {
    cw = std::clamp<int64_t>(std::llround(static_cast<double>(h) * p.ratio_hi), 1, w);
  }
  return {(h - ch) / 2, (w - cw) / 2, ch, cw};
}

void random_resized_crop(const float* src, const ImageShape& s, const ResizedCropParams& p, float* dst,
                         Generator& g) {
  const CropBox b = sample_resized_crop(s.h, s.w, p, g);
  resize_region(src, s, b.y, b.x, b.h, b.w, dst, s.h, s.w);
}

}  // namespace atebm::data
