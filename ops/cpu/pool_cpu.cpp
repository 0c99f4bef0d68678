#include "ops/cpu/pool_cpu.h"

#include <algorithm>
#include <vector>

#include "engine/parallel.h"
#include "ops/kernels/pool_math.h"

namespace atebm::cpu {
namespace {

// The window arithmetic is ops/kernels/pool_math.h (shared with CUDA); the loops, the row
// parallelism and the 1/count table are this file's.
using kernels::pool::covering;
using kernels::pool::Range;
using kernels::pool::Span;
using kernels::pool::window_span;

// 1 / count of every output window [oh, ow], shared by all planes (forward and gradient agree).
std::vector<double> inverse_counts(const Pool2dGeometry& g, bool count_include_pad) {
  std::vector<double> inv(static_cast<size_t>(g.oh * g.ow));
  for (int64_t oh = 0; oh < g.oh; ++oh)
    for (int64_t ow = 0; ow < g.ow; ++ow)
      inv[oh * g.ow + ow] = kernels::pool::inverse_count(g, oh, ow, count_include_pad);
  return inv;
}

// inv(oh, ow) of kernels::pool::gather_grad, read from the inverse_counts table.
struct TabledInverse {
  const double* inv;  // [oh, out_w]
  int64_t out_w;
  double operator()(int64_t oh, int64_t ow) const { return inv[oh * out_w + ow]; }
};

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
        const Span rows = window_span(oh, g.kh, g.sh, g.ph, g.h);
        const scalar_t* plane = px + p * g.h * g.w;
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const Span cols = window_span(ow, g.kw, g.sw, g.pw, g.w);
          const double acc = kernels::pool::window_sum(plane, g.w, rows, cols);
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
    const TabledInverse inv_of{inv.data(), g.ow};
    const int64_t taps = ((g.kh + g.sh - 1) / g.sh) * ((g.kw + g.sw - 1) / g.sw);
    parallel_for(0, g.planes * g.h, row_grain(g.w * taps), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t p = r / g.h, ih = r % g.h;
        const Range rows = covering(ih, g.kh, g.sh, g.ph, g.oh);
        const scalar_t* gp = pg + p * g.oh * g.ow;
        for (int64_t iw = 0; iw < g.w; ++iw)
          pd[r * g.w + iw] = static_cast<scalar_t>(kernels::pool::gather_grad(gp, g.ow, rows, cols[iw], inv_of));
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
          const kernels::pool::ArgMax<scalar_t> best = kernels::pool::max_window(plane, g, oh, ow);
          pv[r * g.ow + ow] = best.value;
          pi[r * g.ow + ow] = best.at;
        }
      }
    });
  });
}

}  // namespace atebm::cpu
