#include "at_ebm/data/synthetic.h"

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "engine/factories.h"

namespace atebm::data {

namespace {

enum class Kind { Uniform, Gaussian, Smooth, Constant };

class SyntheticDataset : public Dataset {
 public:
  SyntheticDataset(Kind kind, int64_t n, ImageShape shape, GaussianMode mode, double a, double b, uint64_t seed,
                   int64_t cells = 0)
      : kind_(kind), n_(n), shape_(shape), mode_(mode), a_(a), b_(b), seed_(seed), cells_(cells) {
    ATEBM_CHECK(n > 0, "{}: the number of images must be positive, got {}", name(), n);
    ATEBM_CHECK(shape.c > 0 && shape.h > 0 && shape.w > 0, "{}: bad image shape {}", name(), shape_str(shape));
  }
  int64_t size() const override { return n_; }
  ImageShape shape() const override { return shape_; }
  std::string name() const override {
    switch (kind_) {
      case Kind::Uniform: return fmt::format("uniform:{} ({}, seed {})", n_, shape_str(shape_), seed_);
      case Kind::Gaussian:
        return fmt::format("gaussian:{}:{}:mean={}:std={} ({}, seed {})", n_, mode_ == GaussianMode::Clip ? "clip" : "rescale",
                           a_, b_, shape_str(shape_), seed_);
      case Kind::Smooth: return fmt::format("smooth:{}:cells={} ({}, seed {})", n_, cells_, shape_str(shape_), seed_);
      case Kind::Constant: return fmt::format("constant:{}:{} ({})", n_, a_, shape_str(shape_));
    }
    return "synthetic";
  }

  int64_t get_into(int64_t i, float* out) const override {
    check_index(i);
    const int64_t numel = shape_.numel();
    if (kind_ == Kind::Constant) {
      std::fill(out, out + numel, static_cast<float>(a_));
      return -1;
    }
    if (kind_ == Kind::Smooth) {
      smooth_into(i, out);
      return -1;
    }
    Generator g(seed_);
    g.set_state({seed_, static_cast<uint64_t>(i) * static_cast<uint64_t>((numel + 3) / 4 + 1)});
    const Tensor t = kind_ == Kind::Uniform ? rand({numel}, {}, &g) : randn({numel}, {}, &g);
    std::memcpy(out, t.data<float>(), static_cast<size_t>(numel) * sizeof(float));
    if (kind_ == Kind::Gaussian) {
      for (int64_t k = 0; k < numel; ++k) out[k] = static_cast<float>(a_ + b_ * out[k]);
      if (mode_ == GaussianMode::Clip) {
        for (int64_t k = 0; k < numel; ++k) out[k] = std::clamp(out[k], 0.0f, 1.0f);
      } else {
        const auto [lo, hi] = std::minmax_element(out, out + numel);
        const float l = *lo, span = *hi - *lo;
        for (int64_t k = 0; k < numel; ++k) out[k] = span > 0 ? (out[k] - l) / span : 0.5f;
      }
    }
    return -1;
  }

 private:
  // Draws for image i: 1 cell count + 2 range ends + c·cells² grid values, from their own
  // Philox range (so any image is computed alone, in any order).
  void smooth_into(int64_t i, float* out) const {
    const int64_t c = shape_.c, h = shape_.h, w = shape_.w;
    const int64_t draws = 3 + c * cells_ * cells_;
    Generator g(seed_);
    g.set_state({seed_, static_cast<uint64_t>(i) * static_cast<uint64_t>((draws + 3) / 4 + 1)});
    const std::vector<float> r = rand({draws}, {}, &g).to_vector<float>();
    const int64_t cells = 2 + std::min<int64_t>(cells_ - 2, static_cast<int64_t>(r[0] * static_cast<float>(cells_ - 1)));
    const float lo = std::min(r[1], r[2]), hi = std::max(r[1], r[2]);
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* grid = r.data() + 3 + ch * cells_ * cells_;  // cells × cells used of the slot
      for (int64_t y = 0; y < h; ++y) {
        // Grid coordinates with the corners on the image corners.
        const float gy = h > 1 ? static_cast<float>(y) * static_cast<float>(cells - 1) / static_cast<float>(h - 1) : 0.f;
        const int64_t y0 = std::min<int64_t>(static_cast<int64_t>(gy), cells - 2);
        const float fy = gy - static_cast<float>(y0);
        for (int64_t x = 0; x < w; ++x) {
          const float gx = w > 1 ? static_cast<float>(x) * static_cast<float>(cells - 1) / static_cast<float>(w - 1) : 0.f;
          const int64_t x0 = std::min<int64_t>(static_cast<int64_t>(gx), cells - 2);
          const float fx = gx - static_cast<float>(x0);
          const float* g0 = grid + y0 * cells;
          const float* g1 = g0 + cells;
          const float v = (1 - fy) * ((1 - fx) * g0[x0] + fx * g0[x0 + 1]) + fy * ((1 - fx) * g1[x0] + fx * g1[x0 + 1]);
          out[(ch * h + y) * w + x] = lo + (hi - lo) * v;
        }
      }
    }
  }

  Kind kind_;
  int64_t n_;
  ImageShape shape_;
  GaussianMode mode_;
  double a_, b_;
  uint64_t seed_;
  int64_t cells_;  // smooth: the largest grid size
};

}  // namespace

DatasetPtr make_uniform(int64_t n, const ImageShape& shape, uint64_t seed) {
  return std::make_shared<SyntheticDataset>(Kind::Uniform, n, shape, GaussianMode::Clip, 0, 0, seed);
}

DatasetPtr make_gaussian(int64_t n, const ImageShape& shape, GaussianMode mode, double mean, double std, uint64_t seed) {
  ATEBM_CHECK(std > 0, "gaussian:{}: std must be positive, got {}", n, std);
  return std::make_shared<SyntheticDataset>(Kind::Gaussian, n, shape, mode, mean, std, seed);
}

DatasetPtr make_smooth(int64_t n, const ImageShape& shape, int64_t max_cells, uint64_t seed) {
  ATEBM_CHECK(max_cells >= 2 && max_cells <= 64, "smooth:{}: cells must lie in [2, 64], got {}", n, max_cells);
  return std::make_shared<SyntheticDataset>(Kind::Smooth, n, shape, GaussianMode::Clip, 0, 0, seed, max_cells);
}

DatasetPtr make_constant(int64_t n, const ImageShape& shape, double value) {
  ATEBM_CHECK(value >= 0 && value <= 1, "constant:{}:{}: the value must lie in [0, 1]", n, value);
  return std::make_shared<SyntheticDataset>(Kind::Constant, n, shape, GaussianMode::Clip, value, 0, 0);
}

}  // namespace atebm::data
