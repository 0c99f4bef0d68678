#include "engine/cpu/basic_kernels.h"

#include <cmath>

#include "engine/cpu/strided_loop.h"
#include "engine/philox.h"

namespace atebm::cpu {

void fill(const Tensor& dst, double value) {
  ATEBM_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    scalar_t* d = dst.data<scalar_t>();
    const auto v = static_cast<scalar_t>(value);
    strided_loop<1>(dst.shape(), {dst.strides().data()},
                    [&](int64_t n, const std::array<int64_t, 1>& o, const std::array<int64_t, 1>& s) {
                      scalar_t* p = d + o[0];
                      if (s[0] == 1) {
                        for (int64_t i = 0; i < n; ++i) p[i] = v;
                      } else {
                        for (int64_t i = 0; i < n; ++i) p[i * s[0]] = v;
                      }
                    });
  });
}

void copy(const Tensor& dst, const Tensor& src) {
  ATEBM_CHECK(dst.shape() == src.shape(), "copy: shape mismatch, destination {} vs source {}",
              shape_str(dst.shape()), shape_str(src.shape()));
  ATEBM_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using dst_t = scalar_t;
    dst_t* d = dst.data<dst_t>();
    ATEBM_DISPATCH_ALL(src.dtype(), "copy", [&] {
      const scalar_t* s = src.data<scalar_t>();
      strided_loop<2>(dst.shape(), {dst.strides().data(), src.strides().data()},
                      [&](int64_t n, const std::array<int64_t, 2>& o, const std::array<int64_t, 2>& st) {
                        dst_t* pd = d + o[0];
                        const scalar_t* ps = s + o[1];
                        if (st[0] == 1 && st[1] == 1) {
                          for (int64_t i = 0; i < n; ++i) pd[i] = static_cast<dst_t>(ps[i]);
                        } else {
                          for (int64_t i = 0; i < n; ++i) pd[i * st[0]] = static_cast<dst_t>(ps[i * st[1]]);
                        }
                      });
    });
  });
}

void arange(const Tensor& dst, double start, double step) {
  ATEBM_DISPATCH_ALL(dst.dtype(), "arange", [&] {
    scalar_t* d = dst.data<scalar_t>();
    const int64_t n = dst.numel();
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<scalar_t>(std::fma(static_cast<double>(i), step, start));
  });
}

void uniform(const Tensor& dst, uint64_t seed, uint64_t offset, double lo, double hi) {
  const int64_t n = dst.numel();
  if (dst.dtype() == DType::Float32) {
    float* d = dst.data<float>();
    const float a = static_cast<float>(lo), w = static_cast<float>(hi - lo);
    parallel_for(0, (n + 3) / 4, 4096, [&](int64_t b, int64_t e) {
      for (int64_t blk = b; blk < e; ++blk) {
        const philox::Block r = philox::philox4x32_10(offset + blk, seed);
        for (int j = 0; j < 4 && blk * 4 + j < n; ++j) d[blk * 4 + j] = std::fma(w, philox::u24(r.w[j]), a);  // fma: same rounding as the CUDA twin
      }
    });
  } else {
    ATEBM_CHECK(dst.dtype() == DType::Float64, "rand: expected a float dtype, got {}", dst.dtype());
    double* d = dst.data<double>();
    parallel_for(0, (n + 1) / 2, 4096, [&](int64_t b, int64_t e) {
      for (int64_t blk = b; blk < e; ++blk) {
        const philox::Block r = philox::philox4x32_10(offset + blk, seed);
        for (int j = 0; j < 2 && blk * 2 + j < n; ++j)
          d[blk * 2 + j] = std::fma(hi - lo, philox::u53(r.w[2 * j], r.w[2 * j + 1]), lo);
      }
    });
  }
}

void normal(const Tensor& dst, uint64_t seed, uint64_t offset, double mean, double std) {
  const int64_t n = dst.numel();
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  if (dst.dtype() == DType::Float32) {
    float* d = dst.data<float>();
    parallel_for(0, (n + 3) / 4, 4096, [&](int64_t b, int64_t e) {
      for (int64_t blk = b; blk < e; ++blk) {
        const philox::Block r = philox::philox4x32_10(offset + blk, seed);
        float v[4];
        for (int p = 0; p < 2; ++p) {
          // 1 - u keeps the log argument in (0, 1].
          const float u1 = 1.0f - philox::u24(r.w[2 * p]), u2 = philox::u24(r.w[2 * p + 1]);
          const float rad = std::sqrt(-2.0f * std::log(u1));
          v[2 * p] = rad * std::cos(static_cast<float>(kTwoPi) * u2);
          v[2 * p + 1] = rad * std::sin(static_cast<float>(kTwoPi) * u2);
        }
        for (int j = 0; j < 4 && blk * 4 + j < n; ++j)
          d[blk * 4 + j] = std::fma(static_cast<float>(std), v[j], static_cast<float>(mean));
      }
    });
  } else {
    ATEBM_CHECK(dst.dtype() == DType::Float64, "randn: expected a float dtype, got {}", dst.dtype());
    double* d = dst.data<double>();
    parallel_for(0, (n + 1) / 2, 4096, [&](int64_t b, int64_t e) {
      for (int64_t blk = b; blk < e; ++blk) {
        const philox::Block r = philox::philox4x32_10(offset + blk, seed);
        const double u1 = 1.0 - philox::u53(r.w[0], r.w[1]), u2 = philox::u53(r.w[2], r.w[3]);
        const double rad = std::sqrt(-2.0 * std::log(u1));
        const double v[2] = {rad * std::cos(kTwoPi * u2), rad * std::sin(kTwoPi * u2)};
        for (int j = 0; j < 2 && blk * 2 + j < n; ++j) d[blk * 2 + j] = std::fma(std, v[j], mean);
      }
    });
  }
}

}  // namespace atebm::cpu
