#include "at_ebm/data/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

namespace atebm::data {

namespace {

// Per output pixel: the first source pixel and its normalised weights (taps of them).
struct Taps {
  std::vector<int64_t> first, count;
  std::vector<float> w;  // out × max_taps
  int64_t max_taps = 0;
};

Taps make_taps(int64_t box_start, int64_t box_len, int64_t out, bool antialias) {
  const double scale = static_cast<double>(box_len) / static_cast<double>(out);
  const double fs = antialias ? std::max(scale, 1.0) : 1.0;  // filter stretch
  Taps t;
  t.max_taps = static_cast<int64_t>(std::ceil(fs)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  t.w.assign(static_cast<size_t>(out * t.max_taps), 0.0f);
  for (int64_t o = 0; o < out; ++o) {
    const double centre = (static_cast<double>(o) + 0.5) * scale;  // relative to the box
    int64_t lo = static_cast<int64_t>(std::floor(centre - fs)), hi = static_cast<int64_t>(std::ceil(centre + fs));
    lo = std::max<int64_t>(lo, 0);
    hi = std::min<int64_t>(hi, box_len);  // exclusive
    double sum = 0;
    std::vector<double> ws;
    for (int64_t j = lo; j < hi; ++j) {
      const double v = std::max(0.0, 1.0 - std::abs((static_cast<double>(j) + 0.5 - centre) / fs));
      ws.push_back(v);
      sum += v;
    }
    // Trim zero weights at both ends so the inner loops are short.
    int64_t a = 0, b = static_cast<int64_t>(ws.size());
    while (a < b && ws[a] == 0.0) ++a;
    while (b > a && ws[b - 1] == 0.0) --b;
    if (a == b) {  // cannot happen for a box of length ≥ 1, kept as a guard: nearest pixel
      a = 0;
      b = 1;
      ws.assign(1, 1.0);
      sum = 1.0;
      lo = std::clamp<int64_t>(static_cast<int64_t>(centre), 0, box_len - 1);
    }
    t.first[o] = box_start + lo + a;
    t.count[o] = b - a;
    for (int64_t k = a; k < b; ++k) t.w[o * t.max_taps + (k - a)] = static_cast<float>(ws[k] / sum);
  }
  return t;
}

}  // namespace

void resize_region(const float* src, const ImageShape& in, int64_t y0, int64_t x0, int64_t h, int64_t w,
                   float* dst, int64_t out_h, int64_t out_w, bool antialias) {
  ATEBM_CHECK(h >= 1 && w >= 1 && y0 >= 0 && x0 >= 0 && y0 + h <= in.h && x0 + w <= in.w,
              "resize_region: box rows [{}, {}) cols [{}, {}) is not inside a {} image", y0, y0 + h, x0, x0 + w,
              shape_str(in));
  ATEBM_CHECK(out_h >= 1 && out_w >= 1, "resize: output size {}x{} must be positive", out_h, out_w);
  const Taps tx = make_taps(x0, w, out_w, antialias), ty = make_taps(y0, h, out_h, antialias);
  // Horizontal pass over the rows of the box into tmp [C, h, out_w], then vertical into dst.
  std::vector<float> tmp(static_cast<size_t>(in.c * h * out_w));
  for (int64_t c = 0; c < in.c; ++c)
    for (int64_t y = 0; y < h; ++y) {
      const float* row = src + (c * in.h + y0 + y) * in.w;
      float* trow = tmp.data() + (c * h + y) * out_w;
      for (int64_t o = 0; o < out_w; ++o) {
        const float* wt = tx.w.data() + o * tx.max_taps;
        const float* s = row + tx.first[o];
        float acc = 0;
        for (int64_t k = 0; k < tx.count[o]; ++k) acc += wt[k] * s[k];
        trow[o] = acc;
      }
    }
  for (int64_t c = 0; c < in.c; ++c)
    for (int64_t o = 0; o < out_h; ++o) {
      const float* wt = ty.w.data() + o * ty.max_taps;
      float* drow = dst + (c * out_h + o) * out_w;
      std::fill(drow, drow + out_w, 0.0f);
      for (int64_t k = 0; k < ty.count[o]; ++k) {
        const float* trow = tmp.data() + (c * h + (ty.first[o] - y0) + k) * out_w;
        for (int64_t x = 0; x < out_w; ++x) drow[x] += wt[k] * trow[x];
      }
    }
}

void resize_bilinear(const float* src, const ImageShape& in, float* dst, int64_t out_h, int64_t out_w,
                     bool antialias) {
  resize_region(src, in, 0, 0, in.h, in.w, dst, out_h, out_w, antialias);
}

}  // namespace atebm::data
