#include "ops/cpu/pool_cpu.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/parallel.h"

namespace atebm::cpu {
namespace {

// 1 / count of every output window, shared by all planes (forward and gradient must agree).
std::vector<double> inverse_counts(const Pool2dGeometry& g, bool count_include_pad) {
  std::vector<double> inv(static_cast<size_t>(g.oh * g.ow));
  for (int64_t oh = 0; oh < g.oh; ++oh) {
    const int64_t hs = oh * g.sh - g.ph, he = std::min(hs + g.kh, g.h + g.ph);
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      const int64_t ws = ow * g.sw - g.pw, we = std::min(ws + g.kw, g.w + g.pw);
      int64_t count = (he - hs) * (we - ws);
      if (!count_include_pad)
        count = (std::min(he, g.h) - std::max<int64_t>(hs, 0)) * (std::min(we, g.w) - std::max<int64_t>(ws, 0));
      inv[oh * g.ow + ow] = 1.0 / static_cast<double>(count);
    }
  }
  return inv;
}

// The output positions [lo, hi] whose window (no dilation) covers input position i.
struct Range {
  int64_t lo, hi;
};
Range covering(int64_t i, int64_t k, int64_t s, int64_t p, int64_t out) {
  const int64_t first = i + p - k + 1;  // smallest window start that still reaches i
  const int64_t lo = first <= 0 ? 0 : (first + s - 1) / s;
  const int64_t hi = std::min((i + p) / s, out - 1);
  return {lo, hi};
}

// Rows per parallel chunk: aim at ~16k window taps per chunk.
int64_t row_grain(int64_t row_work) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(row_work, 1)); }

}  // namespace

void avg_pool2d(const Tensor& out, const Tensor& x, const Pool2dGeometry& g, bool count_include_pad) {
  const std::vector<double> inv = inverse_counts(g, count_include_pad);
  ATEBM_DISPATCH_FLOATING(x.dtype(), "avg_pool2d", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    parallel_for(0, g.planes * g.oh, row_grain(g.ow * g.kh * g.kw), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t p = r / g.oh, oh = r % g.oh;
        const int64_t hs = std::max<int64_t>(oh * g.sh - g.ph, 0), he = std::min(oh * g.sh - g.ph + g.kh, g.h);
        const scalar_t* plane = px + p * g.h * g.w;
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const int64_t ws = std::max<int64_t>(ow * g.sw - g.pw, 0), we = std::min(ow * g.sw - g.pw + g.kw, g.w);
          double acc = 0.0;
          for (int64_t ih = hs; ih < he; ++ih)
            for (int64_t iw = ws; iw < we; ++iw) acc += static_cast<double>(plane[ih * g.w + iw]);
          po[r * g.ow + ow] = static_cast<scalar_t>(acc * inv[oh * g.ow + ow]);
        }
      }
    });
  });
}

void avg_pool2d_grad(const Tensor& dx, const Tensor& g_out, const Pool2dGeometry& g, bool count_include_pad) {
  const std::vector<double> inv = inverse_counts(g, count_include_pad);
  std::vector<Range> cols(static_cast<size_t>(g.w));
  for (int64_t iw = 0; iw < g.w; ++iw) cols[iw] = covering(iw, g.kw, g.sw, g.pw, g.ow);
  ATEBM_DISPATCH_FLOATING(dx.dtype(), "avg_pool2d_grad", [&] {
    const scalar_t* pg = g_out.data<scalar_t>();
    scalar_t* pd = dx.data<scalar_t>();
    const int64_t taps = ((g.kh + g.sh - 1) / g.sh) * ((g.kw + g.sw - 1) / g.sw);
    parallel_for(0, g.planes * g.h, row_grain(g.w * taps), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t p = r / g.h, ih = r % g.h;
        const Range rows = covering(ih, g.kh, g.sh, g.ph, g.oh);
        const scalar_t* gp = pg + p * g.oh * g.ow;
        for (int64_t iw = 0; iw < g.w; ++iw) {
          double acc = 0.0;
          for (int64_t oh = rows.lo; oh <= rows.hi; ++oh)
            for (int64_t ow = cols[iw].lo; ow <= cols[iw].hi; ++ow)
              acc += static_cast<double>(gp[oh * g.ow + ow]) * inv[oh * g.ow + ow];
          pd[r * g.w + iw] = static_cast<scalar_t>(acc);
        }
      }
    });
  });
}

void max_pool2d(const Tensor& values, const Tensor& indices, const Tensor& x, const Pool2dGeometry& g) {
  ATEBM_DISPATCH_FLOATING(x.dtype(), "max_pool2d", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* pv = values.data<scalar_t>();
    int64_t* pi = indices.data<int64_t>();
    parallel_for(0, g.planes * g.oh, row_grain(g.ow * g.kh * g.kw), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t p = r / g.oh, oh = r % g.oh;
        const scalar_t* plane = px + p * g.h * g.w;
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          scalar_t best = -std::numeric_limits<scalar_t>::infinity();
          int64_t best_at = -1;
          for (int64_t th = 0; th < g.kh; ++th) {
            const int64_t ih = oh * g.sh - g.ph + th * g.dh;
            if (ih < 0 || ih >= g.h) continue;
            for (int64_t tw = 0; tw < g.kw; ++tw) {
              const int64_t iw = ow * g.sw - g.pw + tw * g.dw;
              if (iw < 0 || iw >= g.w) continue;
              const scalar_t v = plane[ih * g.w + iw];
              if (best_at < 0 || v > best || std::isnan(v)) {
                best = v;
                best_at = ih * g.w + iw;
              }
            }
          }
          pv[r * g.ow + ow] = best;
          pi[r * g.ow + ow] = best_at;
        }
      }
    });
  });
}

}  // namespace atebm::cpu
